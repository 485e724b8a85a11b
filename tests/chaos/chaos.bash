# The fault suite's helpers (make chaos): the real balancer against a real
# etcd and haproxy, a bounded client on the services that stay, and the
# invariant every scenario ends with: haproxy's running servers equal what
# etcd holds (tests/chaos/converged.py), within a stated time.

load ../helper

CHAOS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# chaos_setup_file [etcd flags...]: the file's etcd and the balancer's
# settings (lb_start starts it).
# (etcd's progress notifications every second, and the balancer told:
# easy-lb status, told 2 s, calls the watch stale after 4 s of silence:
# room for a loaded machine)
chaos_setup_file() {
	etcd_setup_file --experimental-watch-progress-notify-interval=1s "$@"
	export LB_PORT LB_BIND=127.0.0.1 DEBOUNCE_MS=50 EASY_LB_RUN="$TESTTMP/run" \
		PROGRESS_INTERVAL=2
	LB_PORT=$(free_port)
}

chaos_teardown_file() {
	status_watch_end
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
		wait_until 20 answers "/stable$i/" "stable$i" || {
			# (what the balancer said, for whoever reads the failure)
			echo "stable$i not served within 20 s; the balancer's log ends:" >&2
			tail -n 30 "$TESTTMP/lb.err" >&2
			easy-lb-status -d "$EASY_LB_RUN" >&2 || true
			return 1
		}
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

# status_watch_start: from now on, twice a second, what easy-lb status
# says and whether haproxy runs what etcd holds (statuswatch.py).
status_watch_start() {
	status_watch_end
	rm -f "$TESTTMP/status-watch.stop"
	python3 "$CHAOS/statuswatch.py" "$EASY_LB_RUN" "$TESTTMP/status-watch.stop" \
		>"$TESTTMP/status-watch.log" 2>"$TESTTMP/status-watch.err" &
	echo "$!" >"$TESTTMP/status-watch.pid"
}

# status_watch_end: stop it, whatever became of the test (teardown).
status_watch_end() {
	[ -f "$TESTTMP/status-watch.pid" ] || return 0
	touch "$TESTTMP/status-watch.stop"
	kill "$(cat "$TESTTMP/status-watch.pid")" 2>/dev/null || true
	rm -f "$TESTTMP/status-watch.pid"
}

# status_watch_stop BOUND: stop it.  It fails when easy-lb status said
# healthy while haproxy ran something else than etcd held for more than
# BOUND seconds in a row (the status lied: it says degraded once a change
# it has seen is not live after 10 s, so 12 s is the bound, two samples
# and a read of the status more), and sets SAID to the states
# it said, in order, each run of one state once ("healthy degraded
# healthy").
status_watch_stop() {
	local verdict
	touch "$TESTTMP/status-watch.stop"
	wait "$(cat "$TESTTMP/status-watch.pid")" 2>/dev/null || true
	rm -f "$TESTTMP/status-watch.pid"
	SAID=$(awk '$2 != last { printf "%s%s", (n++ ? " " : ""), $2; last = $2 }' "$TESTTMP/status-watch.log")
	verdict=$(awk -v bound="$1" '
		$2 == "healthy" && $3 == "0" { if (!from) from = $1; if ($1 - from > worst) worst = $1 - from; next }
		{ from = 0 }
		END { printf "%.1f", worst }' "$TESTTMP/status-watch.log")
	echo "status said: $SAID; healthy while not in step at most $verdict s in a row (bound $1 s)" >&3
	# (why it last said what it said, each state once)
	awk '{ s = $2; $1 = $2 = $3 = ""; why[s] = $0 } END { for (s in why) if (why[s] ~ /[^ ]/) print "  " s ":" why[s] }' \
		"$TESTTMP/status-watch.log" >&3
	awk -v v="$verdict" -v b="$1" 'BEGIN { exit !(v <= b) }' || {
		cat "$TESTTMP/status-watch.log" >&2
		return 1
	}
}

# status_watch_saw STATE: the watcher of the status has logged STATE at
# least once since it started.  A fault is held until it did: a state
# that lasts less than the watcher's sampling (half a second, and more on
# a busy machine) would otherwise be missed by chance.
status_watch_saw() {
	awk -v s="$1" '$2 == s { found = 1 } END { exit !found }' "$TESTTMP/status-watch.log"
}

# state_is STATE: easy-lb status says STATE.
state_is() {
	[ "$(easy-lb-status -d "$EASY_LB_RUN" --json | jq -r .state)" = "$1" ]
}

# status_says STATE TEXT: easy-lb status says STATE, for a reason that
# has TEXT in it.
status_says() {
	local j
	j=$(easy-lb-status -d "$EASY_LB_RUN" --json) || :
	[ "$(jq -r .state <<<"$j")" = "$1" ] &&
		jq -e --arg t "$2" 'any(.reasons[]; contains($t))' <<<"$j" >/dev/null
}
