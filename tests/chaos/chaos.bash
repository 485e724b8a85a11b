# The fault suite's helpers (make chaos): the real balancer against a real
# etcd and haproxy, a bounded client on the services that stay, and the
# invariant every scenario ends with: haproxy's running servers equal what
# etcd holds (tests/chaos/converged.py), within a stated time.

load ../helper

CHAOS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# chaos_setup_file [etcd flags...]: the file's etcd and the balancer's
# settings (lb_start starts it).
chaos_setup_file() {
	etcd_setup_file "$@"
	export LB_PORT LB_BIND=127.0.0.1 DEBOUNCE_MS=50 EASY_LB_RUN="$TESTTMP/run"
	LB_PORT=$(free_port)
}

chaos_teardown_file() {
	clients_stop
	lb_stop
	backends_stop
	etcd_teardown_file
}

# stable_start N: N services stable1..N, each one upstream on its own
# backend that answers "stableI", registered under the running balancer
# for the whole file.
stable_start() {
	local i
	for i in $(seq 1 "$1"); do
		backend_start "stable$i"
		etcd-put "/services/stable$i/upstream/s1" "127.0.0.1:$BACKEND_PORT"
	done
	for i in $(seq 1 "$1"); do
		wait_until 20 answers "/stable$i/" "stable$i"
	done
}

# client_start NAME PATH [SECONDS]: a client that keeps requesting PATH
# through the balancer, one new connection per request, until
# client_stop or SECONDS (default 300) have passed.
client_start() {
	rm -f "$TESTTMP/client-$1.stop" "$TESTTMP/client-$1.out"
	python3 "$REPO/tests/hap/client.py" "$(LB)$2" "$TESTTMP/client-$1.stop" \
		"${3:-300}" >"$TESTTMP/client-$1.out" 2>&1 &
	echo "$!" >"$TESTTMP/client-$1.pid"
}

# client_stop NAME: stop it and check it saw no failure; CLIENT_OK holds
# the number of requests served.
client_stop() {
	local pid ok failed
	pid=$(cat "$TESTTMP/client-$1.pid")
	touch "$TESTTMP/client-$1.stop"
	wait "$pid" 2>/dev/null || true
	rm -f "$TESTTMP/client-$1.pid"
	read -r _ ok _ failed <"$TESTTMP/client-$1.out"
	echo "client $1: $ok served, $failed failed" >&3
	CLIENT_OK=$ok
	if [ "$failed" != 0 ] || [ "$ok" -lt 1 ]; then
		cat "$TESTTMP/client-$1.out" >&2
		return 1
	fi
}

clients_stop() {
	local f
	for f in "$TESTTMP"/client-*.pid; do
		[ -f "$f" ] || continue
		touch "${f%.pid}.stop"
		kill "$(cat "$f")" 2>/dev/null || true
		rm -f "$f"
	done
}

# converged SECONDS: wait until haproxy runs exactly what etcd holds; the
# last difference goes to stderr when it never happens.
converged() {
	if ! wait_until "$1" python3 "$CHAOS/converged.py" \
		"$EASY_LB_RUN/haproxy.sock" /services 2>"$TESTTMP/converged.err"; then
		cat "$TESTTMP/converged.err" >&2
		return 1
	fi
}

# tree_cpu_ms: user+system CPU time, in ms, that the balancer's own
# processes (lb_pids) and every child they have reaped used so far: a
# loop that keeps starting short-lived processes is counted too.
tree_cpu_ms() {
	local p t=0 s
	for p in $(lb_pids); do
		s=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$p/stat" 2>/dev/null) || continue
		t=$((t + ${s:-0}))
	done
	echo $((t * 1000 / $(getconf CLK_TCK)))
}

# lb_pids: boot.sh and every descendant of it but haproxy's.
lb_pids() {
	local root todo p
	root=$(cat "$TESTTMP/lb.pid")
	todo=$root
	while [ -n "$todo" ]; do
		set -- $todo
		todo=
		for p in "$@"; do
			case $(cat "/proc/$p/comm" 2>/dev/null) in
			haproxy) continue ;;
			esac
			echo "$p"
			todo="$todo $(pgrep -P "$p" | tr '\n' ' ')"
		done
	done
}
