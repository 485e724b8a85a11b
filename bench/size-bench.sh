#!/usr/bin/env bash
# size-bench.sh: haproxy itself at 10,000 services x 10 upstreams
# (issue 19): its RSS (master and worker) once serving, and the time a
# reload through the master CLI takes until the new worker is the only
# current one, for the configuration the shipped template renders now
# (routes in one map) and, as the same run's baseline, the one the
# template of 957618c rendered (one use_backend rule a service).  Both
# get MAXCONN's "maxconn"/"no strict-limits", without which neither
# starts under a hard limit of 20,000 descriptors.  Servers are
# 127.0.0.1 ports nothing listens on, checked every hour.  Nothing beyond
# loopback; the temp dir is always removed.
# Knobs: SIZE_SERVICES (10000), SIZE_UPSTREAMS (10), SIZE_RELOADS (3).
# Only this one: bash bench/size-bench.sh
set -u

REPO=$(cd "$(dirname "$0")/.." && pwd)
PATH=$REPO/bin:$PATH:/usr/sbin
NSVC=${SIZE_SERVICES:-10000}
NUP=${SIZE_UPSTREAMS:-10}
NREL=${SIZE_RELOADS:-3}
say() { printf 'size-bench: %s\n' "$*" >&2; }
for t in tmpl hap-reload haproxy socat python3 git; do
	command -v "$t" >/dev/null || { say "$t not installed"; exit 111; }
done
TMP=$(mktemp -d "${TMPDIR:-/tmp}/size-bench.XXXXXX") || exit 111
HPID=''
# shellcheck disable=SC2317,SC2329 # run by the EXIT trap
cleanup() {
	[ -z "$HPID" ] || { kill "$HPID" 2>/dev/null; wait "$HPID" 2>/dev/null; }
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

python3 - "$NSVC" "$NUP" >"$TMP/data.json" <<'PY'
import json, sys
ns, nu = int(sys.argv[1]), int(sys.argv[2])
d = {}
for s in range(ns):
    p = "/services/svc%05d" % s
    d[p + "/location"] = "/svc%05d" % s
    for u in range(nu):
        d[p + "/upstream/inst%02d" % u] = "127.0.0.1:%d inter 1h" % (20000 + u)
json.dump(d, sys.stdout)
PY
git -C "$REPO" show 957618c:share/easy-lb/haproxy.cfg.tmpl >"$TMP/old.tmpl" || exit 111

ms() { date +%s%3N; }
rss() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
proc() { echo "show proc" | socat -t 5 - "unix:$1/master.sock" 2>/dev/null; }
# current: the pid of the newest worker, once it is the only current one
current() { proc "$1" | awk '$2 == "worker" { n++; if ($3 == 0) w = $1 } END { if (n == 1) print w }'; }

# one NAME TEMPLATE: render, install, start, measure, stop.
one() {
	local name=$1 tmpl=$2 run=$TMP/$1 port t0 w w0 i times=''
	mkdir -p "$run"
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	export EASY_LB_RUN=$run LB_PORT=$port LB_BIND=127.0.0.1 HAPROXY_USER= HAPROXY_CHROOT= \
		MAXCONN=${MAXCONN:-8000}
	tmpl -d "$TMP/data.json" -o "$run/new.cfg" "$tmpl" 2>/dev/null || { say "$name: render failed"; return 1; }
	if [ "$name" = old ]; then
		# (the old template had no maxconn: the one the new one sets)
		sed "s/^    mworker-max-reloads 50$/&\n    maxconn $MAXCONN\n    no strict-limits/" "$run/new.cfg" >"$run/haproxy.cfg"
	else
		hap-reload --install -f "$run/haproxy.cfg" "$run/new.cfg" >/dev/null || { say "$name: install failed"; return 1; }
	fi
	t0=$(ms)
	haproxy -W -db -f "$run/haproxy.cfg" -S "$run/master.sock" -p "$run/pid" >"$run/log" 2>&1 &
	HPID=$!
	for i in $(seq 600); do
		w=$(current "$run")
		[ -n "$w" ] && curl -s -o /dev/null "http://127.0.0.1:$port/" && break
		sleep 0.1
	done
	[ -n "$w" ] || { say "$name: haproxy did not start: $(tail -n 3 "$run/log")"; return 1; }
	start=$(($(ms) - t0))
	rssw=$(rss "$w")
	rssm=$(rss "$HPID")
	for i in $(seq "$NREL"); do
		w0=$(current "$run")
		t0=$(ms)
		echo reload | socat -t 60 - "unix:$run/master.sock" >/dev/null
		for _ in $(seq 1200); do
			w=$(current "$run")
			[ -n "$w" ] && [ "$w" != "$w0" ] && break
			sleep 0.05
		done
		times="$times $(($(ms) - t0))"
	done
	kill "$HPID" 2>/dev/null
	wait "$HPID" 2>/dev/null
	HPID=''
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$(wc -c <"$run/haproxy.cfg")" "$start" "$rssm" "$rssw" "$times"
}

printf 'haproxy %s, %s services x %s upstreams, maxconn %s\n' \
	"$(haproxy -v | awk 'NR == 1 { print $3 }')" "$NSVC" "$NUP" "${MAXCONN:-8000}"
printf 'template\tbytes\tstart_ms\tmaster_rss_mb\tworker_rss_mb\treload_ms\n'
one old "$TMP/old.tmpl"
one new "$REPO/share/easy-lb/haproxy.cfg.tmpl"
