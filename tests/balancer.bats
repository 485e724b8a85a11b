#!/usr/bin/env bats
# The balancer end to end: boot.sh + watcher.sh + the shipped template
# with a real etcd, a real haproxy and tiny backends, all on loopback.

load helper

setup_file() {
	etcd_setup_file
	export LB_PORT LB_BIND=127.0.0.1 DEBOUNCE_MS=50 EASY_LB_RUN="$TESTTMP/run"
	LB_PORT=$(free_port)
	export HAPROXY_STATS=1 HAPROXY_STATS_AUTH=admin:secret
}

teardown_file() {
	lb_stop
	backends_stop
	etcd_teardown_file
}

teardown() {
	[ -z "${BGPID:-}" ] || { kill "$BGPID" 2>/dev/null; wait "$BGPID" 2>/dev/null; } || true
}

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

@test "with no services the balancer starts and answers 503" {
	lb_start
	[ "$(code "$(LB)/")" = 503 ]
	grep -q "easy-lb: haproxy started (master pid [0-9]*) on port $LB_PORT" "$TESTTMP/lb.err"
}

# uid_of PID, root_of PID: whom a process runs as, and in which root.
uid_of() { awk '$1 == "Uid:" { print $2 }' "/proc/$1/status"; }
root_of() { readlink "/proc/$1/root"; }

@test "started as root, haproxy's workers run as user haproxy in an empty chroot" {
	[ "$(id -u)" -eq 0 ] || skip "needs root, to start the balancer as root: run make check as root"
	local master worker
	master=$(cat "$EASY_LB_RUN/haproxy.pid")
	worker=$(worker_pid)
	[ -n "$worker" ]
	[ "$(uid_of "$worker")" = "$(id -u haproxy)" ]
	[ "$(root_of "$worker")" = "$EASY_LB_RUN/empty" ]
	[ -z "$(ls -A "$EASY_LB_RUN/empty")" ]
	# the master, which re-reads the config at each reload, stays root
	[ "$(uid_of "$master")" = 0 ]
	[ "$(root_of "$master")" = / ]
	grep -qx "    user haproxy" "$EASY_LB_RUN/haproxy.cfg"
	grep -qx "    chroot $EASY_LB_RUN/empty" "$EASY_LB_RUN/haproxy.cfg"
	# so haproxy (3.4 warns of a root worker, chroot or not) has nothing
	# to warn about at start
	refute grep -q WARNING "$TESTTMP/lb.err"
}

@test "HAPROXY_USER and HAPROXY_CHROOT set empty keep the workers as root, unchrooted" {
	[ "$(id -u)" -eq 0 ] || skip "needs root, to start the balancer as root: run make check as root"
	local run=$TESTTMP/run-root port worker
	port=$(free_port)
	mkdir -p "$run"
	EASY_LB_RUN=$run LB_PORT=$port HAPROXY_USER= HAPROXY_CHROOT= \
		"$REPO/share/easy-lb/boot.sh" 2>"$TESTTMP/lb-root.err" &
	BGPID=$!
	wait_until 20 curl -s -o /dev/null "http://127.0.0.1:$port/"
	worker=$(EASY_LB_RUN=$run worker_pid)
	[ "$(uid_of "$worker")" = 0 ]
	[ "$(root_of "$worker")" = / ]
	[ ! -e "$run/empty" ]
	refute grep -q "^    user \|^    chroot " "$run/haproxy.cfg"
	grep -qx "easy-lb: haproxy's workers run as root (HAPROXY_USER is empty, or there is no user haproxy)" "$TESTTMP/lb-root.err"
}

@test "the README scenario: locations, the default service, longest prefix first" {
	backend_start ui
	etcd-put /services/ui/upstream/ui1 "127.0.0.1:$BACKEND_PORT"
	etcd-put /services/ui/location /
	backend_start users
	etcd-put /services/users/upstream/u1 "127.0.0.1:$BACKEND_PORT weight 10"
	etcd-put /services/users/location /api/users
	backend_start api
	etcd-put /services/api/upstream/a1 "127.0.0.1:$BACKEND_PORT"
	etcd-put /services/api/location /api
	etcd-put /services/api/backend/balance source
	backend_start plain
	etcd-put /services/plain/upstream/p1 "127.0.0.1:$BACKEND_PORT"
	wait_until 10 answers /plain/x plain
	answers /api/users/42 users
	answers /api/other api
	answers /plain/x plain
	answers / ui
	answers /anything/else ui
	grep -q "^    balance source$" "$EASY_LB_RUN/haproxy.cfg"
}

@test "the stats page needs its credentials" {
	[ "$(code "$(LB)/stats")" = 401 ]
	[ "$(code -u admin:secret "$(LB)/stats")" = 200 ]
	[ "$(code -u admin:wrong "$(LB)/stats")" = 401 ]
}

@test "a new upstream is added at run time, without a new worker" {
	local before
	before=$(grep -c . "$TESTTMP/lb.err")
	backend_start plain2
	etcd-put /services/plain/upstream/p2 "127.0.0.1:$BACKEND_PORT"
	wait_until 10 answers /plain/ plain2
	wait_until 5 grep -q "easy-lb: revision [0-9]*: runtime: +1 -0 ~0 servers" "$TESTTMP/lb.err"
}

@test "a keep-alive connection left idle across a reload gets its next answer, then is closed" {
	local out=$TESTTMP/ka.out old
	python3 - "$LB_PORT" "$TESTTMP/ka-go" >"$out" 2>&1 <<'PY' &
import http.client, os, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
c.request("GET", "/plain/")
r = c.getresponse()
r.read()
print("first", r.status, flush=True)
end = time.time() + 30
while not os.path.exists(sys.argv[2]) and time.time() < end:
    time.sleep(0.05)
c.request("GET", "/plain/")
r = c.getresponse()
r.read()
print("second", r.status, r.getheader("Connection"))
PY
	BGPID=$!
	wait_until 10 grep -q '^first 200$' "$out"
	old=$(show_proc "$EASY_LB_RUN/master.sock" | awk '$2 == "worker" { print $1; exit }')
	# a new service whose backend options no spare backend has: a reload
	backend_start ka
	etcd-put /services/ka/backend/balance leastconn
	etcd-put /services/ka/upstream/a "127.0.0.1:$BACKEND_PORT"
	wait_until 20 answers /ka/ ka
	# the old worker stopping (or gone: it closed the connection)
	wait_until 10 sh -c "! echo '@!$old show info' | socat -t 2 - 'unix:$EASY_LB_RUN/master.sock' | grep -q '^Stopping: 0'"
	touch "$TESTTMP/ka-go"
	wait "$BGPID" || true
	BGPID=
	cat "$out" >&2
	[ "$(cat "$out")" = "$(printf 'first 200\nsecond 200 close')" ]
	etcd-put -d -p /services/ka/ >/dev/null
}

@test "a service registered with --ttl --keepalive vanishes when it dies" {
	backend_start ephemeral
	etcd-put --ttl 2 --keepalive /services/eph/upstream/e1 "127.0.0.1:$BACKEND_PORT" &
	BGPID=$!
	wait_until 10 answers /eph/ ephemeral
	kill -KILL "$BGPID"
	wait "$BGPID" 2>/dev/null || true
	BGPID=
	# the lease expires, the service goes, its path falls to the default
	wait_until 10 answers /eph/ ui
}

@test "bad registrations are skipped with a warning and never stop the others" {
	etcd-put /services/bad/upstream/b1 '127.0.0.1:1
    server evil 10.6.6.6:80'
	etcd-put '/services/bad name/upstream/x' 127.0.0.1:1
	etcd-put /services/bad2/upstream/b1 'not-an-address'
	etcd-put /services/bad3/upstream/b1 '127.0.0.1:80 weight lots'
	etcd-put /services/plain/backend/frobnicate yes
	backend_start late
	etcd-put /services/late/upstream/l1 "127.0.0.1:$BACKEND_PORT"
	wait_until 10 answers /late/ late
	refute grep -q "evil\|frobnicate\|bad name\|bad2\|bad3" "$EASY_LB_RUN/haproxy.cfg"
	grep -q "/services/bad2/upstream/b1: \"not-an-address\" is not host:port" "$TESTTMP/lb.err"
	grep -q "/services/bad3/upstream/b1: server options \"weight lots\" are not ones easy-lb accepts; skipped" "$TESTTMP/lb.err"
	grep -q "/services/bad name: service name is not a valid haproxy name; skipped" "$TESTTMP/lb.err"
	grep -q "/services/plain/backend/frobnicate: backend option frobnicate" "$TESTTMP/lb.err"
	etcd-put -d -p /services/bad/ >/dev/null
	etcd-put -d -p '/services/bad name/' >/dev/null
	etcd-put -d /services/plain/backend/frobnicate >/dev/null
}

@test "50 services come and go while the services that stay never fail" {
	local i client=$TESTTMP/client.out
	# a bounded client on the services that stay
	(
		end=$(( $(date +%s) + 60 ))
		n=0 fail=0
		while [ "$n" -lt 3000 ] && [ "$(date +%s)" -lt "$end" ] && [ ! -f "$TESTTMP/stop-client" ]; do
			for p in /api/users/1 /plain/ /; do
				c=$(curl -s -o /dev/null -w '%{http_code}' "$(LB)$p")
				[ "$c" = 200 ] || fail=$((fail + 1))
				n=$((n + 1))
			done
		done
		echo "$n $fail" >"$client"
	) &
	local cpid=$!
	backend_start churn
	for i in $(seq 1 50); do
		etcd-put "/services/churn$i/upstream/c" "127.0.0.1:$BACKEND_PORT"
	done
	wait_until 20 answers /churn50/ churn
	for i in $(seq 1 50); do
		etcd-put -d -p "/services/churn$i/" >/dev/null
	done
	wait_until 20 answers /churn50/ ui
	touch "$TESTTMP/stop-client"
	wait "$cpid"
	read -r n fail <"$client"
	echo "requests: $n failed: $fail" >&3
	[ "$n" -gt 50 ]
	[ "$fail" -eq 0 ]
}

@test "etcd restarted under the running balancer: it keeps serving and catches up" {
	etcd_stop main
	answers /plain/ plain
	sleep 1
	answers /api/users/1 users
	etcd_start main
	backend_start after
	etcd-put /services/after/upstream/a1 "127.0.0.1:$BACKEND_PORT"
	wait_until 20 answers /after/ after
}

@test "a dead watcher is restarted; SIGTERM stops everything cleanly" {
	local wpid
	# (this balancer's watcher: the demo's may run beside it)
	wpid=$(pgrep -P "$(cat "$TESTTMP/lb.pid")" -f "$REPO/share/easy-lb/watcher.sh")
	[ -n "$wpid" ]
	kill -KILL "$wpid"
	wait_until 10 grep -q "easy-lb: watcher exited; restarting it" "$TESTTMP/lb.err"
	backend_start again
	etcd-put /services/again/upstream/a1 "127.0.0.1:$BACKEND_PORT"
	wait_until 20 answers /again/ again
	local pid
	pid=$(cat "$TESTTMP/lb.pid")
	kill -TERM "$pid"
	wait_until 10 bash -c "! kill -0 $pid 2>/dev/null"
	rm -f "$TESTTMP/lb.pid"
	grep -q "easy-lb: stopped" "$TESTTMP/lb.err"
	wait_until 5 lb_gone
}

@test "when haproxy's master dies, boot.sh exits non-zero" {
	lb_start
	local pid rc=0
	pid=$(cat "$TESTTMP/lb.pid")
	kill -KILL "$(cat "$EASY_LB_RUN/haproxy.pid")"
	wait_until 10 bash -c "! kill -0 $pid 2>/dev/null"
	rm -f "$TESTTMP/lb.pid"
	grep -q "easy-lb: haproxy exited (status [0-9]*); stopping" "$TESTTMP/lb.err"
	wait_until 5 lb_gone
}

@test "a haproxy that dies as it starts ends boot.sh non-zero at once" {
	printf '#!/bin/sh\ncase " $* " in *" -c "*) exec "$(command -v haproxy || echo /usr/sbin/haproxy)" "$@" ;; esac\nexit 3\n' >"$TESTTMP/dying-haproxy"
	chmod +x "$TESTTMP/dying-haproxy"
	local rc=0
	HAPROXY="$TESTTMP/dying-haproxy" timeout 20 "$REPO/share/easy-lb/boot.sh" 2>"$TESTTMP/dying.err" || rc=$?
	cat "$TESTTMP/dying.err" >&2
	[ "$rc" -eq 3 ]
	grep -q "^easy-lb: haproxy exited (status 3); stopping$" "$TESTTMP/dying.err"
	wait_until 5 lb_gone
}

@test "a user's own template through TEMPLATE" {
	printf 'global\n    stats socket {{ getenv("EASY_LB_RUN") }}/haproxy.sock mode 600 level admin\ndefaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\nfrontend f\n    bind 127.0.0.1:{{ getenv("LB_PORT") }}\n    http-request return status 200 content-type text/plain string mine{{ [lsdir("/services")] | length }}\n' >"$TESTTMP/mine.tmpl"
	TEMPLATE="$TESTTMP/mine.tmpl" lb_start
	[ "$(curl -s "$(LB)/")" = "mine$(etcd-get -p /services/ | jq '[keys[] | split("/")[2]] | unique | length')" ]
	lb_stop
}

@test "HAPROXY_STATS_URI moves the stats page; HAPROXY_PROMETHEUS serves /metrics" {
	HAPROXY_STATS_URI=/admin/lb HAPROXY_PROMETHEUS=1 lb_start
	[ "$(code -u admin:secret "$(LB)/admin/lb")" = 200 ]
	[ "$(code "$(LB)/admin/lb")" = 401 ]
	curl -s "$(LB)/metrics" | grep -q '^haproxy_process_nbthread '
	lb_stop
}

@test "boot.sh, watcher.sh and env.sh are shellcheck-clean" {
	run_split shellcheck -x -s sh "$REPO/share/easy-lb/boot.sh" "$REPO/share/easy-lb/watcher.sh" "$REPO/share/easy-lb/demo.sh"
	printf '%s\n' "$output" "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
}
