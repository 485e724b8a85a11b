#!/bin/sh
# watcher.sh: keep haproxy in step with etcd, as the pipeline it is.
# etcd-watch prints the state under the prefix, then every change in
# whole batches; tmpl --follow keeps that state, renders the template
# after each batch (debounced) and prints a revision whenever the
# configuration changed; hap-reload validates each and applies it at run
# time or by a hitless reload, trying again while haproxy's sockets or
# the disk are away.  With HTTPS (LB_TLS_PORT), hap-certs sits between
# etcd-watch and tmpl: it keeps the certificates under TLS_PREFIX, which
# a second etcd-watch gives it on descriptor 3, in DIR and in haproxy,
# and tells tmpl when HTTPS turns on or off.  A failure is logged and
# the last good config keeps serving.  boot.sh runs it in a process group
# of its own: one TERM to the group stops it all, a hap-reload under way
# first finishing what it does.
set -u
# shellcheck source-path=SCRIPTDIR source=env.sh
. "$(dirname "$0")/env.sh"

# services: the records of the services.
services() {
	etcd-watch --snapshot --progress -p "$ETCD_PREFIX/" </dev/null
}

# follow: records on stdin into haproxy.
follow() {
	trap 'exit 0' TERM INT HUP
	tmpl --follow --debounce "$DEBOUNCE_MS" -o "$CFG.new" "$TEMPLATE" |
		{
			trap 'exit 0' TERM INT HUP
			while read -r rev; do
				out=$(hap-reload --retry -f "$CFG" -S "$MASTER_SOCK" \
					-s "$RUNTIME_SOCK" -p "$PIDFILE" "$CFG.new")
				rc=$?
				log "revision $rev: ${out:-hap-reload failed (exit $rc)}"
			done
		}
}

# On TERM every shell of the pipeline waits for its part to end, so that
# the watcher, the group's leader, ends last, after a hap-reload under
# way; and the watcher passes the signal on to the whole group, should it
# have come to the watcher alone (boot.sh signals the group, but that may
# come before the group was made).  (A handler, not an ignore: the
# pipeline's programs keep the default.)  A signal that comes before the
# pipeline is started, or as it is, stops it too.
# shellcheck disable=SC2317,SC2329 # (run by the trap)
stop() {
	[ -z "$stopping" ] || return 0
	stopping=1
	kill -TERM 0
}
stopping=''
trap stop TERM INT HUP
[ -z "$stopping" ] || exit 0
if [ -n "$LB_TLS_PORT" ]; then
	etcd-watch --snapshot --progress -p "$TLS_PREFIX/" | {
		trap 'exit 0' TERM INT HUP
		exec 3<&0 </dev/null
		services 3<&- |
			hap-certs --from 3 -d "$EASY_LB_RUN/tls" -s "$RUNTIME_SOCK" \
				--prefix "$TLS_PREFIX" --default "$TLS_DEFAULT" |
			follow 3<&-
	} &
else
	services | follow &
fi
[ -z "$stopping" ] || kill -TERM 0
# (wait returns when a signal is trapped: wait again until it is done)
while kill -0 "$!" 2>/dev/null; do
	wait "$!"
done
log "the watcher's pipeline ended"
exit 1
