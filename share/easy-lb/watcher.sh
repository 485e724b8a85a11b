#!/bin/sh
# watcher.sh: keep haproxy in step with etcd.  etcd-watch prints the state
# under the prefix, then every change in whole batches; tmpl --follow
# keeps that state, renders the template after each batch (debounced)
# and prints a revision whenever the configuration changed; hap-reload
# validates each and applies it at run time or by a hitless reload.  A
# failure is logged and the last good config keeps serving.
set -u
# shellcheck source-path=SCRIPTDIR source=env.sh
. "$(dirname "$0")/env.sh"

events=$EASY_LB_RUN/events
revs=$EASY_LB_RUN/revisions
rm -f "$events" "$revs"
mkfifo -m 600 "$events" "$revs" || exit 111
etcd-watch --snapshot --progress -p "$ETCD_PREFIX/" >"$events" &
wpid=$!
# boot.sh ends it, should this shell die without doing so.
echo "$wpid" >"$EASY_LB_RUN/etcd-watch.pid"
tmpl --follow --debounce "$DEBOUNCE_MS" -d "$events" -o "$CFG.new" \
	"$TEMPLATE" >"$revs" &
tpid=$!
trap 'kill "$wpid" "$tpid" 2>/dev/null; wait; rm -f "$events" "$revs"; exit 0' \
	TERM INT HUP

# apply REV: install what tmpl rendered; 111 means worth retrying.
apply() {
	# (-p: the master's pid for its working directory, without asking)
	_out=$(hap-reload -f "$CFG" -S "$MASTER_SOCK" -s "$RUNTIME_SOCK" \
		-p "$PIDFILE" "$CFG.new")
	_rc=$?
	log "revision $1: ${_out:-hap-reload failed (exit $_rc)}"
	return "$_rc"
}

# Only this shell may hold the read end of the revisions: were it killed,
# tmpl (then etcd-watch) must see a closed pipe and end, not linger
# behind a child.
exec 3<"$revs"
while read -r rev <&3; do
	# A temporary failure (haproxy's sockets or the disk away) is
	# retried until it passes, every 8 s at most: giving up would leave
	# haproxy behind etcd until the next change.  The revisions of newer
	# renders queue in the pipe meanwhile (each applies the newest one).
	delay=1
	until apply "$rev" 3<&-; do
		[ "$?" -eq 111 ] || break
		sleep "$delay"
		[ "$delay" -ge 8 ] || delay=$((delay * 2))
	done
done
wait "$wpid"
rc=$?
wait "$tpid"
log "etcd-watch ended (exit $rc), tmpl ended (exit $?)"
rm -f "$events" "$revs"
exit 1
