#!/bin/sh
# watcher.sh: keep haproxy in step with etcd.  etcd-watch prints one
# revision per settled batch of changes into a pipe; for each, the prefix
# is read at that revision, rendered, and handed to hap-reload, which
# validates it and applies it at run time or by a hitless reload.  A
# failure is logged and the last good config keeps serving.
set -u
# shellcheck source-path=SCRIPTDIR source=env.sh
. "$(dirname "$0")/env.sh"

fifo=$EASY_LB_RUN/revisions
rm -f "$fifo"
mkfifo -m 600 "$fifo" || exit 111
etcd-watch --revisions --debounce "$DEBOUNCE_MS" -p "$ETCD_PREFIX/" >"$fifo" &
wpid=$!
# boot.sh ends it, should this shell die without doing so.
echo "$wpid" >"$EASY_LB_RUN/etcd-watch.pid"
trap 'kill "$wpid" 2>/dev/null; wait "$wpid"; rm -f "$fifo"; exit 0' TERM INT HUP

# apply REV: render and install; 111 means worth retrying.
apply() {
	render "$1" || return $?
	_out=$(hap-reload -f "$CFG" -S "$MASTER_SOCK" -s "$RUNTIME_SOCK" \
		"$CFG.new")
	_rc=$?
	log "revision $1: ${_out:-hap-reload failed (exit $_rc)}"
	return "$_rc"
}

# Only this shell may hold the pipe's read end: were it killed, etcd-watch
# must see a closed pipe and end, not linger behind a child.
exec 3<"$fifo"
while read -r rev <&3; do
	# A temporary failure (etcd, haproxy's sockets or the disk away) is
	# retried until it passes, every 8 s at most: giving up would leave
	# haproxy behind etcd until the next change.  Newer revisions queue
	# in the pipe meanwhile.
	delay=1
	until apply "$rev" 3<&-; do
		[ "$?" -eq 111 ] || break
		sleep "$delay"
		[ "$delay" -ge 8 ] || delay=$((delay * 2))
	done
done
wait "$wpid"
rc=$?
rm -f "$fifo"
log "etcd-watch ended (exit $rc)"
exit 1
