#!/usr/bin/env bats
# Fault: etcd compacts its history past the revision the balancer's watch
# would resume from.  The balancer reaches etcd through a forwarder; its
# etcd-watch is stopped (SIGSTOP) and its connection reset while services
# are added, changed and deleted, then etcd is compacted past all of it.
# Resumed, the watch finds its start compacted: only a full re-read (a
# resync) can see the deletions.  Invariant: no failed request on the
# services that stay, and haproxy runs what etcd holds.

load chaos
load etcdfaults

setup_file() {
	fwd_setup_file
}

teardown() {
	# never leave the watch stopped: teardown could not end it
	local w
	w=$(watch_pid) && kill -CONT "$w" 2>/dev/null
	[ -f "$TESTTMP/fwd-etcd.pid" ] && fwd_up etcd
	:
}

teardown_file() {
	fwd_teardown_file
}

@test "compaction past the watch's resume point: etcd-watch resyncs, deletions included; converged in 15 s, no failed request" {
	local rev0 rev1 wpid t0
	backend_start gone
	etcd-put /services/gone/upstream/s1 "127.0.0.1:$BACKEND_PORT"
	backend_start moving1
	backend_start moving2
	etcd-put /services/moving/upstream/s1 "127.0.0.1:$BACKEND_PORT_moving1"
	wait_until 20 answers /gone/ gone
	wait_until 20 answers /moving/ moving1
	converged 10
	client_start s1 /stable1/
	client_start s2 /stable2/
	rev0=$(etcd-get --revision)
	cp "$EASY_LB_RUN/haproxy.cfg" "$TESTTMP/cfg.before"
	wait_until 10 state_is healthy
	status_watch_start

	# the watch stops, and loses its connection while it cannot see it
	wpid=$(watch_pid)
	kill -STOP "$wpid"
	fwd_down etcd
	backend_start new
	etcd-put /services/new/upstream/s1 "127.0.0.1:$BACKEND_PORT"
	etcd-put -d /services/gone/upstream/s1
	etcd-put /services/moving/upstream/s1 "127.0.0.1:$BACKEND_PORT_moving2"
	for i in 1 2 3 4 5; do
		etcd-put "/services/extra$i/upstream/s1" "127.0.0.1:$BACKEND_PORT_new"
		etcd-put -d "/services/extra$i/upstream/s1"
	done
	rev1=$(etcd-get --revision)
	etcdctl compact "$rev1" >/dev/null
	# really compacted: the watch's resume point cannot be read any more
	run_split etcd-get -p --rev $((rev0 + 1)) /services/
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"required revision has been compacted"* ]]
	# nothing changed meanwhile on the balancer's side, and the status
	# says the watch is stale (frozen, it reads nothing)
	cmp "$TESTTMP/cfg.before" "$EASY_LB_RUN/haproxy.cfg"
	wait_until 8 state_is degraded
	wait_until 10 status_watch_saw degraded

	t0=$(ms)
	fwd_up etcd
	kill -CONT "$wpid"
	converged 15
	echo "converged $(($(ms) - t0)) ms after the watch resumed" >&3
	answers /new/ new
	answers /moving/ moving2
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$(LB)/gone/")" = 503 ]
	# etcd-watch said why, once, and it was the same process all along
	# (the resume point: rev0 + 1, or later when progress notifications
	# came after the fleet key was written)
	run_split grep -c "etcd-watch: /services/: revision [0-9]* was compacted (compact revision $rev1); resyncing" "$TESTTMP/lb.err"
	[ "$output" = 1 ]
	[ "$(watch_pid)" = "$wpid" ]
	clients_ok
	# a resync counted; healthy again, never healthy out of step
	wait_until 10 state_is healthy
	[ "$(easy-lb-status -d "$EASY_LB_RUN" --json | jq .watch.resyncs)" -eq 1 ]
	status_watch_stop 12
	[[ "$SAID" == *degraded* ]]
}
