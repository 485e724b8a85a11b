#!/usr/bin/env bats
# Fault: the balancer on a three-member etcd cluster, given every member.
# (a) The member its watch is on, the leader, is killed while keys keep
# changing.  (b) The member its watch is on is cut off from its peers
# (network namespaces) but stays reachable: a member without a leader,
# which must make etcd-watch move to the majority.  Invariant: requests
# to the services that stay never fail, and haproxy ends up running
# exactly what the cluster holds, within a stated time.

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

@test "cluster: the leader the watch is on is killed while keys change: the watch fails over, converged, no failed request" {
	local leader rest n t0
	lb_settings
	cluster_start c1 c2 c3
	leader=$(leader_of "$ETCD_URL_c1" "$ETCD_URL_c2" "$ETCD_URL_c3")
	[ -n "$leader" ]
	# the leader first: the balancer's watch goes there
	rest=
	for n in c1 c2 c3; do
		[ "$(url_of $n)" = "$leader" ] || rest="$rest,$(url_of $n)"
		[ "$(url_of $n)" = "$leader" ] && LEADER=$n
	done
	export ETCDCTL_ENDPOINTS="$leader$rest"
	lb_start >>"$TESTTMP/lb.out"
	stable_start 2
	wait_until 10 watching_on "$leader"
	client_start s1 /stable1/
	client_start s2 /stable2/
	wait_until 10 state_is healthy
	status_watch_start
	CHURN_MAX=25 churn_start
	sleep 1
	t0=$(ms)
	etcd_stop "$LEADER" KILL
	# a new leader among the other two, and the watch on one of them
	wait_until 15 led ${rest//,/ }
	echo "new leader after $(($(ms) - t0)) ms" >&3
	wait_until 15 watching_on ${rest//,/ }
	echo "watch moved after $(($(ms) - t0)) ms" >&3
	churn_wait 60
	[ "$CHURN_WRITES" = 25 ]
	t0=$(ms)
	converged 30
	echo "converged $(($(ms) - t0)) ms after the last write" >&3
	# and one more change, on its own, through the new leader
	reaches 15 moved
	echo "a new service served $REACHED_MS ms after its write" >&3
	# the killed member comes back and catches up; still converged
	member_start "$LEADER"
	wait_until 30 member_ready "$leader"
	ETCDCTL_ENDPOINTS=$leader converged 10
	grep -q "retrying from revision" "$TESTTMP/lb.err"
	clients_ok
	# the status never said healthy out of step, and ends healthy
	wait_until 10 state_is healthy
	status_watch_stop 12
}

@test "cluster: the member the watch is on is cut off from its peers: etcd-watch moves to the majority, changes made there reach haproxy within 15 s" {
	local majority t0 before
	lb_settings
	netns_cluster n1 n2 n3
	majority="$ETCD_URL_n2,$ETCD_URL_n3"
	# n1 first: the balancer's watch goes there
	export ETCDCTL_ENDPOINTS="$ETCD_URL_n1,$majority"
	lb_start >>"$TESTTMP/lb.out"
	stable_start 2
	wait_until 10 watching_on "$ETCD_URL_n1"
	client_start s1 /stable1/
	client_start s2 /stable2/
	wait_until 10 state_is healthy
	status_watch_start
	before=$(grep -c "watching again" "$TESTTMP/lb.err" || :)
	t0=$(ms)
	partition 1
	# n1 still answers the balancer, but soon knows no leader
	wait_until 15 leaderless "$ETCD_URL_n1"
	echo "n1 without a leader after $(($(ms) - t0)) ms" >&3
	export ETCDCTL_ENDPOINTS=$majority
	wait_until 15 led "$ETCD_URL_n2" "$ETCD_URL_n3"
	reaches 15 moved
	echo "a service written to the majority served $REACHED_MS ms after its write, $(($(ms) - t0)) ms after the partition" >&3
	watching_on "$ETCD_URL_n2" "$ETCD_URL_n3"
	[ "$(watchers "$ETCD_URL_n1")" = 0 ]
	[ "$(grep -c "watching again" "$TESTTMP/lb.err")" -gt "$before" ]
	churn_converged 12 30 -e "$majority"
	# n1 is healed and catches up; haproxy still runs what etcd holds
	heal 1
	wait_until 30 member_ready "$ETCD_URL_n1"
	ETCDCTL_ENDPOINTS=$ETCD_URL_n1 converged 10
	clients_ok
	# the status never said healthy out of step, and ends healthy
	wait_until 10 state_is healthy
	status_watch_stop 12
}
