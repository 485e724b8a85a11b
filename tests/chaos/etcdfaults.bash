# The fault suite's etcd side: clusters of members (on the loopback, or
# each in a network namespace of its own, linked by a bridge in another,
# so that one can be cut off), TCP forwarders that can be taken down, a
# churn writer, and the questions a scenario asks etcd (who leads, where
# the balancer's watch is).  Loaded after chaos.bash.

load ../pki

# faults_setup_file: the file's temp dir and the balancer's settings, with
# no etcd yet (the scenario starts the etcd it needs).
faults_setup_file() {
	TESTTMP=$(mktemp -d "${TMPDIR:-/tmp}/easylb-test.XXXXXX")
	export TESTTMP EASYLB_HARNESS=1
	# (every member sends progress notifications every second: easy-lb
	# status, told 2 s, calls the watch stale after 4 s of silence)
	export LB_BIND=127.0.0.1 DEBOUNCE_MS=50 PROGRESS_INTERVAL=2
	lb_settings
}

# lb_settings: a new port, run directory and log for the next balancer
# (tests of one file each start their own).
lb_settings() {
	# (the previous balancer's log is kept beside its run dir)
	[ ! -s "$TESTTMP/lb.err" ] || mv "$TESTTMP/lb.err" "${EASY_LB_RUN:-$TESTTMP/run}.lb.err"
	: >"$TESTTMP/lb.err"
	export LB_PORT EASY_LB_RUN
	LB_PORT=$(free_port)
	EASY_LB_RUN=$(mktemp -d "$TESTTMP/run.XXXX")
}

# keep_testtmp: with KEEP_TESTTMP=DIR in the environment, a copy of the
# file's temp dir (etcd, balancer and client logs) is left in DIR for a
# post-mortem.
keep_testtmp() {
	[ -z "${KEEP_TESTTMP:-}" ] || cp -a "$TESTTMP" "$KEEP_TESTTMP" 2>/dev/null || true
}

# faults_teardown: what a test started, stopped even when it failed.
faults_teardown() {
	status_watch_end
	clients_stop
	churn_stop 2>/dev/null || true
	lb_stop
	backends_stop
	fwds_stop
}

# fwd_setup_file: chaos_setup_file's etcd, and the balancer started with
# a forwarder ("etcd", see fwd_start) as its only way there (the test's
# own etcdctl and etcd-put go direct); two stable services.
fwd_setup_file() {
	chaos_setup_file
	fwd_start etcd "${ETCD_URL_main#http://}"
	ETCDCTL_ENDPOINTS="http://127.0.0.1:$(cat "$TESTTMP/fwd-etcd.port")" \
		lb_start >>"$TESTTMP/lb.out"
	stable_start 2
}

fwd_teardown_file() {
	keep_testtmp
	fwds_stop
	chaos_teardown_file
}

faults_teardown_file() {
	keep_testtmp
	faults_teardown
	netns_down
	etcd_teardown_file
}

# --- members and clusters ---

# $TESTTMP/etcd-NAME/member holds "NETNS HOST CPORT PPORT" (NETNS "-" on
# the host), $TESTTMP/cluster the --initial-cluster of every member; the
# pid and log files are those of etcd_start, so etcd_stop and
# etcd_teardown_file work on members too.

# member_start NAME [etcd flags...]: start member NAME in the background
# (ready or not: a member of a cluster waits for its peers).  ETCD_SCHEME
# as for etcd_start.
member_start() {
	local name=$1 dir="$TESTTMP/etcd-$1" ns host cport pport scheme cmd
	shift
	read -r ns host cport pport <"$dir/member"
	scheme=${ETCD_SCHEME:-http}
	cmd=(etcd)
	[ "$ns" = - ] || cmd=(ip netns exec "$ns" etcd)
	(
		exec "${cmd[@]}" --name "$name" --data-dir "$dir/data" \
			--listen-client-urls "$scheme://$host:$cport" \
			--advertise-client-urls "$scheme://$host:$cport" \
			--listen-peer-urls "http://$host:$pport" \
			--initial-advertise-peer-urls "http://$host:$pport" \
			--initial-cluster "$(cat "$TESTTMP/cluster")" \
			--initial-cluster-state new --initial-cluster-token "${TESTTMP##*/}" \
			--logger zap --log-outputs stderr \
			--experimental-watch-progress-notify-interval=1s "$@" \
			>>"$dir/log" 2>&1 </dev/null &
		echo $! >"$dir/pid"
	)
}

# member_ready URL: the member at URL answers a linearizable read (so it
# has a leader); ETCDCTL_* give the credentials.
member_ready() {
	etcd-get -e "$1" --dial-timeout 1s --command-timeout 2s --revision >/dev/null 2>&1
}

# ports N: N distinct free ports.
ports() {
	local -A seen=()
	local p n=0
	while [ "$n" -lt "$1" ]; do
		p=$(free_port)
		[ -z "${seen[$p]:-}" ] || continue
		seen[$p]=1
		echo "$p"
		n=$((n + 1))
	done
}

# cluster_start NAME...: a cluster of the named members on 127.0.0.1,
# each on its own free client and peer ports; sets ETCD_URL_NAME and
# ETCD_PID_NAME for each and CLUSTER_URLS (all, comma-separated); waits
# until every member serves.
cluster_start() {
	local n init="" p i=0 dir
	mapfile -t p < <(ports $(($# * 2)))
	for n in "$@"; do
		dir="$TESTTMP/etcd-$n"
		mkdir -p "$dir"
		echo "- 127.0.0.1 ${p[i]} ${p[i + 1]}" >"$dir/member"
		echo "${p[i]} ${p[i + 1]}" >"$dir/ports"
		init="${init:+$init,}$n=http://127.0.0.1:${p[i + 1]}"
		printf -v "ETCD_URL_$n" '%s' "${ETCD_SCHEME:-http}://127.0.0.1:${p[i]}"
		export "ETCD_URL_$n"
		i=$((i + 2))
	done
	echo "$init" >"$TESTTMP/cluster"
	cluster_run "$@"
}

# cluster_run NAME...: start the members laid out (member files and
# $TESTTMP/cluster written), all at once since each waits for the others;
# sets ETCD_PID_NAME and CLUSTER_URLS; waits until every member serves.
cluster_run() {
	local n
	CLUSTER_URLS=
	for n in "$@"; do
		member_start "$n"
		printf -v "ETCD_PID_$n" '%s' "$(cat "$TESTTMP/etcd-$n/pid")"
		export "ETCD_PID_$n"
		CLUSTER_URLS="${CLUSTER_URLS:+$CLUSTER_URLS,}$(url_of "$n")"
	done
	export CLUSTER_URLS
	for n in "$@"; do
		wait_until 30 member_ready "$(url_of "$n")" ||
			{ tail -n 20 "$TESTTMP/etcd-$n/log" >&2; return 1; }
	done
}

# url_of NAME: the client URL of member NAME (as the balancer reaches it).
url_of() {
	local v="ETCD_URL_$1"
	echo "${!v}"
}

# leader_of URL...: the URL, of those given, of the member that leads.
leader_of() {
	local IFS=,
	# (etcdctl refuses --endpoints when ETCDCTL_ENDPOINTS is set)
	ETCDCTL_ENDPOINTS="$*" etcdctl --command-timeout 3s endpoint status -w json 2>/dev/null |
		python3 -c 'import json, sys
for s in json.load(sys.stdin):
    if s["Status"]["header"]["member_id"] == s["Status"]["leader"]:
        print(s["Endpoint"])'
}

# led URL...: one of the members at URL... leads.
led() {
	[ -n "$(leader_of "$@")" ]
}

# leaderless URL: the member at URL answers, and knows no leader (a
# status is served locally, leader or not).
leaderless() {
	local l
	l=$(ETCDCTL_ENDPOINTS=$1 etcdctl --command-timeout 2s endpoint status -w json 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["Status"].get("leader", 0))') &&
		[ "$l" = 0 ]
}

# --- network namespaces ---

# netns_cluster NAME...: like cluster_start, but member I runs in network
# namespace $NETNS-I at 10.77.0.I, its peers reached through a bridge in
# $NETNS-sw, its client port (2379 on its own loopback) reached from the
# host through a forwarder on a free 127.0.0.1 port.  Nothing is routed
# between the namespaces and the host: the forwarders are the only way
# in.  netns_down removes it all.
netns_cluster() {
	local n i=0 init="" dir ns
	NETNS="elb-${TESTTMP##*.}"
	export NETNS
	echo "$NETNS-sw" >>"$TESTTMP/netns.list"
	ip netns add "$NETNS-sw"
	ip -n "$NETNS-sw" link set lo up
	ip -n "$NETNS-sw" link add br0 type bridge
	ip -n "$NETNS-sw" link set br0 up
	for n in "$@"; do
		i=$((i + 1))
		ns="$NETNS-$i"
		echo "$ns" >>"$TESTTMP/netns.list"
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		# both ends made inside the namespaces: the host sees neither
		ip link add eth0 netns "$ns" type veth peer name "p$i" netns "$NETNS-sw"
		ip -n "$NETNS-sw" link set "p$i" master br0 up
		ip -n "$ns" addr add "10.77.0.$i/24" dev eth0
		ip -n "$ns" link set eth0 up
		dir="$TESTTMP/etcd-$n"
		mkdir -p "$dir"
		echo "$ns 10.77.0.$i 2379 2380" >"$dir/member"
		init="${init:+$init,}$n=http://10.77.0.$i:2380"
		fwd_start "$n" "10.77.0.$i:2379" "$ns"
		printf -v "ETCD_URL_$n" '%s' "http://127.0.0.1:$(cat "$TESTTMP/fwd-$n.port")"
		export "ETCD_URL_$n"
	done
	echo "$init" >"$TESTTMP/cluster"
	cluster_run "$@"
}

# partition I / heal I: cut member I's link from the bridge (its frames
# go nowhere, as in a real partition; its namespace and the forwarder to
# it stay), or put it back.
partition() {
	ip -n "$NETNS-sw" link set "p$1" nomaster
}

heal() {
	ip -n "$NETNS-sw" link set "p$1" master br0
}

# netns_down: the members in namespaces first, then the namespaces
# (removing one removes its end of every link).
netns_down() {
	local ns d
	[ -f "$TESTTMP/netns.list" ] || return 0
	for d in "$TESTTMP"/etcd-*; do
		[ -f "$d/member" ] && [ "$(cut -d' ' -f1 "$d/member")" != - ] &&
			etcd_stop "${d##*/etcd-}" KILL
	done
	while read -r ns; do
		ip netns del "$ns" 2>/dev/null || true
	done <"$TESTTMP/netns.list"
	rm -f "$TESTTMP/netns.list"
}

# --- forwarders ---

# fwd_start NAME HOST:PORT [NETNS [PORT]]: tests/chaos/tcpfwd.py from a
# free 127.0.0.1 port (or PORT) to HOST:PORT (inside NETNS, "-" for the
# host's); its port goes to $TESTTMP/fwd-NAME.port.
fwd_start() {
	local ns=${3:--}
	rm -f "$TESTTMP/fwd-$1.port"
	python3 "$CHAOS/tcpfwd.py" "$TESTTMP/fwd-$1.port" "${4:-0}" "$2" \
		${ns#-} 2>>"$TESTTMP/fwd-$1.err" & # (no word at all for "-")
	echo "$!" >"$TESTTMP/fwd-$1.pid"
	wait_until 10 test -s "$TESTTMP/fwd-$1.port"
}

# fwd_down NAME / fwd_up NAME: reset every connection through it, and
# every new one, until fwd_up.
fwd_down() {
	kill -USR1 "$(cat "$TESTTMP/fwd-$1.pid")"
}

fwd_up() {
	kill -USR2 "$(cat "$TESTTMP/fwd-$1.pid")"
}

fwds_stop() {
	local f
	for f in "$TESTTMP"/fwd-*.pid; do
		[ -f "$f" ] || continue
		kill "$(cat "$f")" 2>/dev/null || true
		rm -f "$f"
	done
}

# --- the balancer's side ---

# watch_pid: the running balancer's etcd-watch.
watch_pid() {
	lb_proc etcd-watch
}

# watchers URL: how many watchers the member at URL serves, as its own
# metrics say (the balancer's etcd-watch is the only watcher in these
# clusters, so this is where its watch really is).
watchers() {
	curl -s --max-time 2 "$1/metrics" |
		awk '$1 == "etcd_debugging_mvcc_watcher_total" { print $2 }'
}

# watching_on URL...: one of the members at URL... serves the watch.
watching_on() {
	local u n
	for u; do
		n=$(watchers "$u")
		[ "${n:-0}" -ge 1 ] && return 0
	done
	return 1
}


# --- changes ---

# churn_start [ETCD-PUT OPTIONS...]: keeps changing the upstreams of
# churn0..4 (puts and deletes, to a backend that answers "churn"; a
# change every CHURN_PAUSE, default 0.2 s, plus the write's time) until
# churn_stop or CHURN_MAX changes (default 3000), riding out failures (a
# failed write is just counted).  Options go to every etcd-put
# (endpoints, say).
churn_start() {
	[ -n "${BACKEND_PORT_churn:-}" ] || backend_start churn
	rm -f "$TESTTMP/churn.stop" "$TESTTMP/churn.out"
	(
		i=0 fail=0
		while [ "$i" -lt "${CHURN_MAX:-3000}" ] && [ ! -f "$TESTTMP/churn.stop" ]; do
			k="/services/churn$((i % 5))/upstream/u$((i % 3))"
			# (deleting a key that is not there is exit 1: no failure)
			rc=0
			if [ $((i % 4)) -eq 3 ]; then
				etcd-put "$@" --command-timeout 2s -d "$k" >/dev/null 2>&1 || rc=$?
			else
				etcd-put "$@" --command-timeout 2s "$k" "127.0.0.1:$BACKEND_PORT_churn" 2>/dev/null || rc=$?
			fi
			[ "$rc" -le 1 ] || fail=$((fail + 1))
			i=$((i + 1))
			sleep "${CHURN_PAUSE:-0.2}"
		done
		echo "$i $fail" >"$TESTTMP/churn.out"
	) &
	echo "$!" >"$TESTTMP/churn.pid"
}

# churn_stop: stop it; CHURN_WRITES and CHURN_FAILED say how it went.
churn_stop() {
	local pid
	[ -f "$TESTTMP/churn.pid" ] || return 0
	pid=$(cat "$TESTTMP/churn.pid")
	touch "$TESTTMP/churn.stop"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	rm -f "$TESTTMP/churn.pid"
	read -r CHURN_WRITES CHURN_FAILED <"$TESTTMP/churn.out"
	echo "churn: $CHURN_WRITES writes, $CHURN_FAILED failed" >&3
}

# churn_wait SECONDS: wait (that long at most) until churn_start has
# made its CHURN_MAX changes, then churn_stop.
churn_wait() {
	wait_until "$1" test -f "$TESTTMP/churn.out"
	churn_stop
}

# churn_converged COUNT BOUND [ETCD-PUT OPTIONS...]: COUNT changes (a
# number, not a time: a loaded machine writes slower) with no failed
# write, then haproxy must run what etcd holds within BOUND seconds.
churn_converged() {
	local t0 n=$1 bound=$2
	shift 2
	CHURN_MAX=$n churn_start "$@"
	churn_wait 60
	[ "$CHURN_WRITES" = "$n" ]
	[ "$CHURN_FAILED" = 0 ] || return 1
	t0=$(ms)
	converged "$bound"
	echo "converged $(($(ms) - t0)) ms after the last write" >&3
}

# clients_ok: clients s1 and s2 (on stable1 and stable2) never failed,
# and the balancer never had to restart its watcher.
clients_ok() {
	client_stop s1
	client_stop s2
	run_split grep -c "watcher exited" "$TESTTMP/lb.err"
	[ "$output" = 0 ]
}

# reaches SECONDS SVC: register service SVC (one upstream on a backend
# answering SVC) and wait until the balancer routes to it; REACHED_MS
# is how long it took from the write.
reaches() {
	local t0 port="BACKEND_PORT_$2"
	[ -n "${!port:-}" ] || backend_start "$2"
	t0=$(ms)
	wait_until 20 etcd-put --command-timeout 2s "/services/$2/upstream/s1" \
		"127.0.0.1:${!port}" 2>/dev/null || return 1
	wait_until "$1" answers "/$2/" "$2" || return 1
	REACHED_MS=$(($(ms) - t0))
}
