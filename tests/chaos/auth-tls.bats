#!/usr/bin/env bats
# Fault: credentials that stop working under the running balancer.
# (a) etcd with auth and simple tokens that live 2 s; the balancer runs
# as a user that may only read /services/: its tokens expire mid-watch,
# and an etcd restart invalidates every token.  (b) etcd over TLS with a
# CA and client certificates, restarted under the balancer.  Invariant:
# changes keep reaching haproxy, requests to the services that stay never
# fail, and haproxy runs what etcd holds.

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

# restart NAME [etcd flags...]: stop etcd NAME and start it again on its
# store and ports, waiting until it serves (etcd_start's own check would
# find the first start's line in the log).
restart() {
	local name=$1
	shift
	etcd_stop "$name"
	etcd_start "$name" "$@"
	wait_until 20 member_ready "$(url_of "$name")"
}

@test "auth: a read-only user's tokens expire mid-watch and etcd restarts: changes still reach haproxy, no failed request" {
	local wpid
	lb_settings
	etcd_start auth --auth-token simple --auth-token-ttl 2 \
		--experimental-watch-progress-notify-interval=1s
	export ETCDCTL_ENDPOINTS=$ETCD_URL_auth
	etcdctl user add root:rootpw >/dev/null
	etcdctl role add root >/dev/null
	etcdctl user grant-role root root >/dev/null
	etcdctl user add lb:lbpw >/dev/null
	etcdctl role add lb >/dev/null
	etcdctl role grant-permission lb --prefix=true read /services/ >/dev/null
	etcdctl role grant-permission lb --prefix=true read /tls/ >/dev/null
	# (its fleet key, easy-lb-status(1))
	etcdctl role grant-permission lb --prefix=true readwrite /easy-lb/balancers/ >/dev/null
	etcdctl user grant-role lb lb >/dev/null
	etcdctl auth enable >/dev/null
	# the test writes and checks as root; the balancer only reads
	export ETCDCTL_USER=root:rootpw
	ETCDCTL_USER=lb:lbpw lb_start >>"$TESTTMP/lb.out"
	stable_start 2
	client_start s1 /stable1/
	client_start s2 /stable2/
	wait_until 10 state_is healthy
	status_watch_start
	# past the token's life, with the watch idle
	sleep 3
	reaches 15 after_ttl
	echo "a change after the token expired served in $REACHED_MS ms" >&3
	# a restart forgets every simple token: etcd-watch's is refused when
	# it comes back, and it must authenticate again
	wpid=$(watch_pid)
	restart auth --auth-token simple --auth-token-ttl 2 \
		--experimental-watch-progress-notify-interval=1s
	reaches 15 after_restart
	echo "a change after the restart served in $REACHED_MS ms" >&3
	[ "$(watch_pid)" = "$wpid" ]
	churn_converged 12 30
	refute grep -q "permission denied\|authentication failed\|user name is empty" "$TESTTMP/lb.err"
	clients_ok
	# the status never said healthy out of step, and ends healthy
	wait_until 10 state_is healthy
	status_watch_stop 12
}

@test "TLS: CA and client certificates; the balancer converges, follows changes and rides out an etcd restart" {
	local p="$TESTTMP/pki"
	lb_settings
	make_certs "$p"
	local tlsflags=(--cert-file "$p/server.crt" --key-file "$p/server.key"
		--client-cert-auth --trusted-ca-file "$p/ca.crt")
	ETCD_SCHEME=https etcd_start tls "${tlsflags[@]}"
	[[ "$ETCD_URL_tls" == https://* ]]
	# the balancer, etcdctl (the oracle) and the test all use these
	export ETCDCTL_ENDPOINTS=$ETCD_URL_tls ETCDCTL_CACERT="$p/ca.crt" \
		ETCDCTL_CERT="$p/client.crt" ETCDCTL_KEY="$p/client.key"
	# without a client certificate etcd refuses: TLS is really on
	refute env -u ETCDCTL_CERT -u ETCDCTL_KEY etcd-get --revision 2>/dev/null
	lb_start >>"$TESTTMP/lb.out"
	stable_start 2
	converged 10
	client_start s1 /stable1/
	client_start s2 /stable2/
	wait_until 10 state_is healthy
	status_watch_start
	reaches 15 before_restart
	echo "a change served in $REACHED_MS ms" >&3
	[ "$(easy-lb-status -d "$EASY_LB_RUN" --json | jq .watch.reconnects)" -eq 0 ]
	ETCD_SCHEME=https restart tls "${tlsflags[@]}"
	reaches 15 after_restart
	echo "a change after the restart served in $REACHED_MS ms" >&3
	churn_converged 12 30
	grep -q "etcd-watch: .*retrying" "$TESTTMP/lb.err"
	refute grep -q "TLS failure" "$TESTTMP/lb.err"
	clients_ok
	# the status counted the watch lost and taken up again, over TLS
	wait_until 10 state_is healthy
	[ "$(easy-lb-status -d "$EASY_LB_RUN" --json | jq .watch.reconnects)" -ge 1 ]
	status_watch_stop 12
}
