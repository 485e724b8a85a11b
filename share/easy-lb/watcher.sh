#!/bin/sh
# watcher.sh: keep haproxy in step with etcd, as the pipeline it is.
# etcd-watch prints the state under the prefix, then every change in
# whole batches; tmpl --follow keeps that state, renders the template
# after each batch (debounced) and prints a revision whenever the
# configuration changed; hap-reload validates each and applies it at run
# time or by a hitless reload, trying again while haproxy's sockets or
# the disk are away.  A failure is logged and the last good config keeps
# serving.  boot.sh runs it in a process group of its own: one TERM to
# the group stops it all, a hap-reload under way first finishing what it
# does.
set -u
# shellcheck source-path=SCRIPTDIR source=env.sh
. "$(dirname "$0")/env.sh"

# (a handler, not an ignore: the pipeline's processes keep the default)
trap 'exit 0' TERM INT HUP
etcd-watch --snapshot --progress -p "$ETCD_PREFIX/" |
	tmpl --follow --debounce "$DEBOUNCE_MS" -o "$CFG.new" "$TEMPLATE" | {
	trap 'exit 0' TERM INT HUP
	while read -r rev; do
		out=$(hap-reload --retry -f "$CFG" -S "$MASTER_SOCK" \
			-s "$RUNTIME_SOCK" -p "$PIDFILE" "$CFG.new")
		rc=$?
		log "revision $rev: ${out:-hap-reload failed (exit $rc)}"
	done
}
log "the watcher's pipeline ended"
exit 1
