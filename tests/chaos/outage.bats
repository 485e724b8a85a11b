#!/usr/bin/env bats
# Fault: etcd out of the balancer's reach for 30 s (its only way there,
# a forwarder, resets every connection), while services are added,
# changed and deleted in etcd meanwhile.  Invariant: the balancer's own
# processes idle (backoff, no busy loop), the last good config keeps
# serving unchanged with no failed request, and once etcd is reachable
# again haproxy runs what etcd holds within 20 s (etcd-watch's backoff is
# at most 5 s plus half of it as jitter, then one apply).  And a balancer
# started while etcd is out of reach waits idle, then starts serving.

load chaos
load etcdfaults

OUTAGE_S=30
CPU_BOUND_MS=300

setup_file() {
	fwd_setup_file
}

teardown_file() {
	fwd_teardown_file
}

@test "etcd unreachable for ${OUTAGE_S} s: under ${CPU_BOUND_MS} ms of CPU, the config unchanged, no failed request; converged 20 s after" {
	local c0 c1 lines0 lines1 t0
	backend_start gone
	etcd-put /services/gone/upstream/s1 "127.0.0.1:$BACKEND_PORT"
	backend_start moving1
	backend_start moving2
	etcd-put /services/moving/upstream/s1 "127.0.0.1:$BACKEND_PORT_moving1"
	backend_start new
	wait_until 20 answers /gone/ gone
	wait_until 20 answers /moving/ moving1
	converged 10
	client_start s1 /stable1/
	client_start s2 /stable2/
	cp "$EASY_LB_RUN/haproxy.cfg" "$TESTTMP/cfg.before"
	wait_until 10 state_is healthy
	status_watch_start

	c0=$(tree_cpu_ms)
	lines0=$(wc -l <"$TESTTMP/lb.err")
	t0=$(ms)
	fwd_down etcd
	# changes the balancer cannot see yet, early in the outage
	etcd-put /services/new/upstream/s1 "127.0.0.1:$BACKEND_PORT_new"
	etcd-put -d /services/gone/upstream/s1
	etcd-put /services/moving/upstream/s1 "127.0.0.1:$BACKEND_PORT_moving2"
	# the status says so at once: etcd-watch says the watch is lost
	wait_until 5 state_is degraded
	wait_until 10 status_watch_saw degraded
	# the outage itself: a fixed time, which is what is measured
	sleep $((OUTAGE_S - ($(ms) - t0) / 1000))
	c1=$(tree_cpu_ms)
	lines1=$(wc -l <"$TESTTMP/lb.err")
	echo "outage $(($(ms) - t0)) ms: balancer CPU $((c1 - c0)) ms, $((lines1 - lines0)) log lines" >&3
	sed -n "$((lines0 + 1)),${lines1}p" "$TESTTMP/lb.err" >&3
	[ $((c1 - c0)) -lt "$CPU_BOUND_MS" ]
	# etcd-watch saw the outage, and said so once, not once per retry
	sed -n "$((lines0 + 1)),${lines1}p" "$TESTTMP/lb.err" | grep -q "etcd-watch: .*retrying"
	[ $((lines1 - lines0)) -le 3 ]
	cmp "$TESTTMP/cfg.before" "$EASY_LB_RUN/haproxy.cfg"
	answers /gone/ gone

	t0=$(ms)
	fwd_up etcd
	converged 20
	echo "converged $(($(ms) - t0)) ms after etcd came back" >&3
	answers /new/ new
	answers /moving/ moving2
	clients_ok
	wait_until 10 state_is healthy
	status_watch_stop 12
	[[ "$SAID" == *degraded* ]]
}

@test "a balancer started while etcd is unreachable waits idle (under 200 ms of CPU in 20 s) and serves within 25 s of etcd's return" {
	local c0 c1 t0 fwd
	clients_stop
	lb_stop
	fwd="http://127.0.0.1:$(cat "$TESTTMP/fwd-etcd.port")"
	lb_settings
	fwd_down etcd
	ETCDCTL_ENDPOINTS=$fwd "$REPO/share/easy-lb/boot.sh" 2>>"$TESTTMP/lb.err" >>"$TESTTMP/lb.out" &
	echo "$!" >"$TESTTMP/lb.pid"
	c0=$(tree_cpu_ms)
	sleep 20
	c1=$(tree_cpu_ms)
	echo "waiting 20 s for etcd: balancer CPU $((c1 - c0)) ms" >&3
	[ $((c1 - c0)) -lt 200 ]
	# one message per change of reason (a reset connection fails in more
	# than one way), and at most one try per backoff step (1, 2, 4, 8 s)
	run_split grep -c "waiting for etcd" "$TESTTMP/lb.err"
	[ "$output" -ge 1 ]
	[ "$output" -le 5 ]
	refute curl -s -o /dev/null "$(LB)/"
	# the status says why nothing serves, and since when
	run_split easy-lb-status -d "$EASY_LB_RUN"
	[ "$status" -eq 2 ]
	[ "$stderr" = "" ]
	[[ "$output" =~ $'\n'"  the balancer waits for etcd ("([0-9]+)" s): $fwd: "[^$'\n']+$'\n'"  haproxy is not running"$'\n' ]]
	[ "${BASH_REMATCH[1]}" -ge 19 ]
	t0=$(ms)
	fwd_up etcd
	wait_until 25 answers /stable1/ stable1
	echo "serving $(($(ms) - t0)) ms after etcd came back" >&3
	converged 10
	grep -q "etcd is up" "$TESTTMP/lb.err"
	wait_until 10 state_is healthy
}
