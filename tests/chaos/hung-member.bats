#!/usr/bin/env bats
# Fault: the cluster member the balancer's watch is on hangs (SIGSTOP: a
# frozen process, as a stalled disk leaves it).  Its connections stay
# open and it sends nothing, not even the no-leader cancel, so only
# etcd-watch's own check of a silent stream can move the watch.
# Invariant: changes made through the other members reach haproxy within
# a stated time, requests to the services that stay never fail, and a
# healthy stream that is merely quiet is left alone.

load chaos
load etcdfaults

setup_file() {
	faults_setup_file
}

teardown() {
	faults_teardown
}

teardown_file() {
	faults_teardown_file
}

@test "a hung member under the watch: a quiet stream is kept, a hung one left within 30 s; converged, no failed request" {
	local lines t0 rest
	cluster_start c1 c2 c3
	rest="$ETCD_URL_c2,$ETCD_URL_c3"
	export ETCDCTL_ENDPOINTS="$ETCD_URL_c1,$ETCD_URL_c2,$ETCD_URL_c3"
	lb_start >>"$TESTTMP/lb.out"
	stable_start 2
	wait_until 10 watching_on "$ETCD_URL_c1"
	client_start s1 /stable1/
	client_start s2 /stable2/
	wait_until 10 state_is healthy
	status_watch_start
	# quiet for longer than etcd-watch's 15 s of silence: it asks, c1
	# answers, the stream stays
	lines=$(wc -l <"$TESTTMP/lb.err")
	sleep 17
	watching_on "$ETCD_URL_c1"
	run_split sed -n "$((lines + 1)),\$p" "$TESTTMP/lb.err"
	refute grep -q "etcd-watch" <<<"$output"

	t0=$(ms)
	kill -STOP "$ETCD_PID_c1"
	export ETCDCTL_ENDPOINTS=$rest
	wait_until 15 led "$ETCD_URL_c2" "$ETCD_URL_c3"
	# 15 s of silence, 5 s for the status request to time out, then a
	# render whose first read waits its 5 s on c1 too
	reaches 30 moved
	echo "a change served $REACHED_MS ms after its write, $(($(ms) - t0)) ms after c1 hung" >&3
	watching_on "$ETCD_URL_c2" "$ETCD_URL_c3"
	grep -q "etcd-watch: /services/: $ETCD_URL_c1: timed out: .*(after 15 s of silence on the watch stream); retrying" "$TESTTMP/lb.err"
	# a burst of changes (not a long churn: while c1 hangs, every read of
	# watcher.sh's pipeline waits its 5 s on c1 before it tries c2, and
	# revisions are applied one by one: up to 3 x (5 s + an apply))
	etcd-put /services/moved/upstream/s2 "127.0.0.1:$BACKEND_PORT_moved"
	etcd-put -d /services/moved/upstream/s1
	etcd-put /services/stable1/upstream/s2 "127.0.0.1:$BACKEND_PORT_stable1"
	t0=$(ms)
	converged 40
	echo "a burst of 3 changes converged in $(($(ms) - t0)) ms" >&3
	# c1 wakes up and catches up; haproxy still runs what etcd holds
	kill -CONT "$ETCD_PID_c1"
	wait_until 20 member_ready "$ETCD_URL_c1"
	ETCDCTL_ENDPOINTS=$ETCD_URL_c1 converged 10
	clients_ok
	# the status never said healthy out of step, and ends healthy
	wait_until 10 state_is healthy
	status_watch_stop 12
}
