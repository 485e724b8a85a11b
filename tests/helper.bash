# Shared bats helpers: a private etcd per test file on 127.0.0.1 at free
# ports in a temp dir, always stopped; free ports; waits with deadlines.

# (the helper's own place, so that files in subdirectories load it too)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$REPO/bin:$PATH"
# Tests must never reach a real cluster through the caller's environment
# (once per file: the fixture's own settings are exported after this).
[ -n "${EASYLB_HARNESS:-}" ] || unset ETCDCTL_ENDPOINTS ETCD_PEERS ETCDCTL_USER ETCDCTL_PASSWORD \
	ETCDCTL_CACERT ETCDCTL_CERT ETCDCTL_KEY ETCDCTL_INSECURE_SKIP_TLS_VERIFY

# free_port: print a TCP port on 127.0.0.1 that nobody listens on now.
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# ms: the time now, in milliseconds.
ms() {
	echo $(($(date +%s%N) / 1000000))
}

# wait_until SECONDS CMD...: run CMD until it succeeds or time runs out.
wait_until() {
	local deadline=$(( $(ms) + $1 * 1000 ))
	shift
	until "$@"; do
		if [ "$(ms)" -ge "$deadline" ]; then
			echo "wait_until: timed out: $*" >&2
			return 1
		fi
		sleep 0.02
	done
}

# etcd_start NAME [extra etcd flags...]: start an etcd named NAME under
# $TESTTMP, set ETCD_URL_NAME and ETCD_PID_NAME, wait until it is healthy.
# Data dir is kept across restarts (etcd_stop + etcd_start of the same
# name resume the same store on the same ports).
etcd_start() {
	local name=$1 cport pport dir
	shift
	dir="$TESTTMP/etcd-$name"
	if [ -f "$dir/ports" ]; then
		read -r cport pport <"$dir/ports"
	else
		mkdir -p "$dir"
		cport=$(free_port)
		pport=$(free_port)
		while [ "$pport" = "$cport" ]; do pport=$(free_port); done
		echo "$cport $pport" >"$dir/ports"
	fi
	local scheme=${ETCD_SCHEME:-http} since=0
	# (a restart appends to the log: only what this start writes counts)
	[ -f "$dir/log" ] && since=$(wc -c <"$dir/log")
	# Started from a subshell, so it is no job of the test's shell (no
	# "Killed" noise in the TAP stream when a test kills it).
	(
		exec etcd --name "$name" --data-dir "$dir/data" \
			--listen-client-urls "$scheme://127.0.0.1:$cport" \
			--advertise-client-urls "$scheme://127.0.0.1:$cport" \
			--listen-peer-urls "http://127.0.0.1:$pport" \
			--initial-advertise-peer-urls "http://127.0.0.1:$pport" \
			--initial-cluster "$name=http://127.0.0.1:$pport" \
			--logger zap --log-outputs stderr "$@" \
			>>"$dir/log" 2>&1 </dev/null &
		echo $! >"$dir/pid"
	)
	local pid
	pid=$(cat "$dir/pid")
	printf -v "ETCD_URL_$name" '%s' "$scheme://127.0.0.1:$cport"
	printf -v "ETCD_PID_$name" '%s' "$pid"
	export "ETCD_URL_$name" "ETCD_PID_$name"
	if ! wait_until 20 etcd_healthy "$dir" "$since"; then
		tail -n 20 "$dir/log" >&2
		return 1
	fi
}

# etcd_healthy DIR SINCE: the etcd of DIR runs and has said, in its log
# after byte SINCE, that it serves clients.
etcd_healthy() {
	kill -0 "$(cat "$1/pid")" 2>/dev/null || return 1
	tail -c +"$(($2 + 1))" "$1/log" 2>/dev/null |
		grep -q '"ready to serve client requests"\|serving.*client'
}

# etcd_stop NAME [SIGNAL]: stop one etcd and wait for it to be gone.
etcd_stop() {
	local dir="$TESTTMP/etcd-$1" pid
	[ -f "$dir/pid" ] || return 0
	pid=$(cat "$dir/pid")
	kill "-${2:-TERM}" "$pid" 2>/dev/null
	while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
	rm -f "$dir/pid"
}

# The standard file-level fixture: one etcd, "main", for every test.
etcd_setup_file() {
	TESTTMP=$(mktemp -d "${TMPDIR:-/tmp}/easylb-test.XXXXXX")
	export TESTTMP EASYLB_HARNESS=1
	etcd_start main "$@"
	export ETCDCTL_ENDPOINTS=$ETCD_URL_main
}

etcd_teardown_file() {
	local d
	for d in "$TESTTMP"/etcd-*; do
		[ -d "$d" ] && etcd_stop "${d##*/etcd-}" KILL
	done
	rm -rf "$TESTTMP"
}

# Keys of each test live under their own prefix so tests never interfere.
K() {
	printf '/t%s/%s' "$BATS_TEST_NUMBER" "$1"
}

# run_split CMD...: like bats' run, but keeps stdout in $output (and its
# lines in $lines) and stderr in $stderr separately (bats 1.8's
# --separate-stderr is not portable).
run_split() {
	local errf="$BATS_TEST_TMPDIR/.stderr.$$"
	# (the || keeps bats' ERR trap from counting a non-zero status)
	output=$("$@" 2>"$errf") && status=0 || status=$?
	stderr=$(cat "$errf")
	rm -f "$errf"
	mapfile -t lines <<<"$output"
}

# bulk_put PREFIX N: write N keys PREFIXk00000.. with values value-00000..
# in transactions of 128 puts (fast, unlike one process per key).
bulk_put() {
	python3 - "$ETCDCTL_ENDPOINTS" "$1" "$2" <<'PY'
import base64, http.client, json, sys
url, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
host = url.split("://", 1)[-1]
conn = http.client.HTTPConnection(host)
b = lambda s: base64.b64encode(s.encode()).decode()
for start in range(0, n, 128):
    ops = [{"requestPut": {"key": b("%sk%05d" % (prefix, i)),
                           "value": b("value-%05d" % i)}}
           for i in range(start, min(n, start + 128))]
    conn.request("POST", "/v3/kv/txn", json.dumps({"success": ops}))
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit("bulk_put: %s" % body)
PY
}

# backend_start NAME: a tiny HTTP server on 127.0.0.1 answering "NAME PATH";
# sets BACKEND_PORT (and BACKEND_PORT_NAME); stopped by backends_stop.
backend_start() {
	local p
	p=$(free_port)
	python3 "$REPO/share/easy-lb/demo-backend.py" "$1" "$p" >/dev/null 2>&1 &
	echo "$!" >>"$TESTTMP/backend.pids"
	wait_until 10 curl -sf -o /dev/null "http://127.0.0.1:$p/"
	BACKEND_PORT=$p
	printf -v "BACKEND_PORT_$1" '%s' "$p"
}

backends_stop() {
	[ -f "$TESTTMP/backend.pids" ] || return 0
	xargs kill <"$TESTTMP/backend.pids" 2>/dev/null || true
	rm -f "$TESTTMP/backend.pids"
}

# The balancer (share/easy-lb/boot.sh) of a test file, configured by the
# caller's LB_PORT, LB_BIND, EASY_LB_RUN, DEBOUNCE_MS... and ETCDCTL_*.
LB() { echo "http://127.0.0.1:$LB_PORT"; }

# names_start DIR NAME...: tests/hap/backend.py answering NAME on a free
# port PORT_<NAME> (exported) for each NAME, its pid in DIR/backends.pid,
# once every one answers.
names_start() {
	local dir=$1 n spec=()
	shift
	for n in "$@"; do
		printf -v "PORT_$n" '%s' "$(free_port)"
		export "PORT_$n"
		spec+=("$n:$(eval echo "\$PORT_$n")")
	done
	python3 "$REPO/tests/hap/backend.py" "${spec[@]}" \
		>"$dir/backends.log" 2>&1 &
	echo $! >"$dir/backends.pid"
	for n in "$@"; do
		wait_until 10 curl -fs -o /dev/null \
			"http://127.0.0.1:$(eval echo "\$PORT_$n")/"
	done
}

# lb_start: boot.sh in the background, its stderr in $TESTTMP/lb.err;
# waits until haproxy answers.
lb_start() {
	mkdir -p "$EASY_LB_RUN"
	"$REPO/share/easy-lb/boot.sh" 2>>"$TESTTMP/lb.err" &
	echo "$!" >"$TESTTMP/lb.pid"
	wait_until 20 curl -s -o /dev/null "$(LB)/"
}

lb_stop() {
	[ -f "$TESTTMP/lb.pid" ] || return 0
	local pid
	pid=$(cat "$TESTTMP/lb.pid")
	kill -TERM "$pid" 2>/dev/null
	wait_until 10 bash -c "! kill -0 $pid 2>/dev/null" || true
	rm -f "$TESTTMP/lb.pid"
}

# answers PATH NAME: a request for PATH reaches backend NAME.
answers() {
	local i
	for i in 1 2 3 4 5 6 7 8; do
		[[ "$(curl -s "$(LB)$1")" == "$2 "* ]] && return 0
	done
	return 1
}

# answers_host HOST PATH NAME: a request for PATH with Host: HOST reaches
# backend NAME.
answers_host() {
	local i
	for i in 1 2 3 4 5 6 7 8; do
		[[ "$(curl -s -H "Host: $1" "$(LB)$2")" == "$3 "* ]] && return 0
	done
	return 1
}

# refute CMD...: fail when CMD succeeds.  Unlike "! CMD", which set -e
# ignores anywhere but at the end of a test, it fails the test wherever
# it stands.
refute() {
	if "$@"; then
		echo "refute: it succeeded: $*" >&2
		return 1
	fi
}

# lb_procs: the pids of this balancer's processes still running (boot.sh,
# its haproxy, the watcher's etcd-watch, tmpl and hap-reload), known by
# their files in $EASY_LB_RUN or by the EASY_LB_BALANCER boot.sh gives
# them, whatever other balancer runs on the machine.
lb_procs() {
	{
		grep -laF -- "$EASY_LB_RUN/" /proc/[0-9]*/cmdline
		grep -lzxF -- "EASY_LB_BALANCER=$EASY_LB_RUN" /proc/[0-9]*/environ
	} 2>/dev/null | sed -n 's|^/proc/\([0-9]*\)/.*|\1|p' | sort -un
}

# lb_proc NAME: the pid of this balancer's process whose program is NAME
# (etcd-watch, tmpl): one of lb_procs.
lb_proc() {
	local p
	for p in $(lb_procs); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$1" ] && echo "$p" && return 0
	done
	return 1
}

# lb_gone: none of them is left (those that are, on stderr).
lb_gone() {
	local left
	left=$(lb_procs | tr '\n' ',')
	[ -z "$left" ] && return 0
	ps -o pid,ppid,stat,args -p "${left%,}" >&2
	return 1
}

# show_proc SOCKET: "show proc" on the haproxy master CLI at SOCKET.
# While it re-executes itself, or under load, the master now and then
# refuses or drops a connection: ask again, for up to 2 s, as hap-reload
# itself does.
show_proc() {
	local i out
	for i in $(seq 20); do
		out=$(echo "show proc" | socat -t 2 - "unix:$1" 2>/dev/null) &&
			[[ $out == *worker* ]] && {
			printf '%s\n' "$out"
			return 0
		}
		sleep 0.1
	done
	return 1
}

# worker_pid: the pid of the balancer's current haproxy worker, from the
# master CLI in $EASY_LB_RUN.
worker_pid() {
	show_proc "$EASY_LB_RUN/master.sock" | awk '/^# workers/ { w = 1; next } /^#/ { w = 0 } w && $2 == "worker" { print $1; exit }'
}
