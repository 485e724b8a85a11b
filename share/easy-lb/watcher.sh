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
# the last good config keeps serving.
#
# boot.sh runs it in a process group of its own, with two locks taken
# for it: descriptor 9 (watcher.lock), which every process of the
# pipeline inherits, and descriptor 8 (watcher.leader), which this shell
# alone keeps.  It sets no trap: one TERM to the group ends every shell
# and program at once, but hap-reload, which finishes an apply under way
# first.  When any part of the pipeline ends, the others follow: a
# program whose input ends or whose reader goes away leaves, and so does
# this shell, whose end boot.sh sees as the leader's lock coming free.
set -u
# shellcheck source-path=SCRIPTDIR source=env.sh
. "$(dirname "$0")/env.sh"

# apply: each revision tmpl prints, into haproxy.  An apply cut short
# by a signal (hap-reload killed) is run again, at most three times: the
# next run sees that the last one did not finish and reloads.
apply() {
	# (a redirection on a function or a group would leave the shell a
	# saved copy of the descriptor, and of its lock)
	exec 3<&- 8>&-
	while read -r rev; do
		n=0
		while :; do
			out=$(hap-reload --retry -f "$CFG" -S "$MASTER_SOCK" \
				-s "$RUNTIME_SOCK" -p "$PIDFILE" \
				--status "$STATUS_DIR/hap-reload" --revision "$rev" \
				"$CFG.new")
			rc=$?
			n=$((n + 1))
			if [ "$rc" -le 128 ] || [ "$n" -ge 3 ]; then
				break
			fi
			log "revision $rev: hap-reload ended by signal $((rc - 128)); applying again"
		done
		log "revision $rev: ${out:-hap-reload failed (exit $rc)}"
		# (the fleet key's value; its writer gone, this loop ends too)
		if [ -n "$STATUS_PREFIX" ]; then
			line=$(easy-lb-status -d "$EASY_LB_RUN" --fleet)
			printf '%s\n' "$line" || exit 1
		fi
	done
}

# fleet: what apply says of each apply, into etcd under this balancer's
# own lease, when it changed, at most once a second (easy-lb-status(1),
# THE FLEET IN ETCD); the lease revoked when the pipeline ends.  Without
# STATUS_PREFIX, nowhere.  Its writer killed, the pipeline ends (the next
# has one again); refused (no right to write there), it is said and the
# balancer goes on without the key.
fleet() {
	exec 8>&-
	[ -n "$STATUS_PREFIX" ] || exec cat >/dev/null
	etcd-put --ttl "$STATUS_TTL" --keepalive --follow "$STATUS_PREFIX/$LB_ID" -
	rc=$?
	[ "$rc" -eq 0 ] || [ "$rc" -gt 128 ] && exit "$rc"
	log "the fleet key $STATUS_PREFIX/$LB_ID is not kept (etcd-put exit $rc); going on without it"
	exec cat >/dev/null
}

# HEALTH_URI and /metrics/easy-lb, which haproxy passes to this server
# (easy-lb-status(1)): in the watcher's group, so that while no watcher
# runs the health check fails.  It reads what the others write, on
# request only.  (Should it end alone, HEALTH_URI fails and easy-lb
# status says why.)
if [ -n "$STATUS_SOCKET" ]; then
	easy-lb-status -d "$EASY_LB_RUN" --serve "$STATUS_SOCKET" \
		--health-uri "$HEALTH_URI" --metrics-uri /metrics/easy-lb \
		</dev/null >/dev/null 8>&- &
fi

if [ -n "$LB_TLS_PORT" ]; then
	# (the certificates' records ending turns HTTPS off: right when TLS_PREFIX
	# cannot be read, not when their etcd-watch was killed; then the
	# pipeline is not whole any more, and ends, before hap-certs sees an
	# end, since this shell keeps the pipe open until then)
	{
		exec 8>&-
		etcd-watch --snapshot --progress -p "$TLS_PREFIX/" </dev/null
		[ "$?" -le 128 ] || kill -TERM 0
	} | {
		exec 3<&0 </dev/null 8>&-
		etcd-watch --snapshot --progress -p "$ETCD_PREFIX/" 3<&- |
			hap-certs --from 3 -d "$EASY_LB_RUN/tls" -s "$RUNTIME_SOCK" \
				--prefix "$TLS_PREFIX" --default "$TLS_DEFAULT" \
				--status "$STATUS_DIR/certs" |
			tmpl --follow --debounce "$DEBOUNCE_MS" --no-sync -o "$CFG.new" \
				--status "$STATUS_DIR/tmpl" "$TEMPLATE" 3<&- |
			apply | fleet
	}
else
	etcd-watch --snapshot --progress -p "$ETCD_PREFIX/" </dev/null 8>&- |
		tmpl --follow --debounce "$DEBOUNCE_MS" --no-sync -o "$CFG.new" \
			--status "$STATUS_DIR/tmpl" "$TEMPLATE" 8>&- |
		apply | fleet
fi
log "the watcher's pipeline ended"
exit 1
