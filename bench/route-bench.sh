#!/usr/bin/env bash
# route-bench.sh: requests per second through the whole balancer at any
# number of services (issue 19): boot.sh + watcher.sh + the shipped
# template with a real etcd, services of one upstream each, every upstream
# the same local haproxy answering "200 ok" by itself, all on 127.0.0.1 at
# ports picked free, in a temp dir that is always removed.  wrk on the
# first route, the last route and a path no route matches (the balancer's
# 503), at 1, 1,000 and 10,000 services, each rate as a ratio to the
# 1-service first-route rate of the same run (goal: each >= 0.8); then a
# haproxy alone with the largest size's routes in one map_beg map, routing
# straight to the same server, as a baseline.  bench/route-scenarios.py
# does the measuring.
#
# Figures are reported, never enforced.  The table goes to stdout; the
# data to bench/out/route.tsv and the README summary's rows to
# bench/out/route-summary.tsv, from which bench/report.sh writes
# bench/results.md.  Knobs: ROUTE_SCALES, ROUTE_WRK_SECS, ROUTE_WRK_THREADS,
# ROUTE_WRK_CONNS, ROUTE_BASELINE, DEBOUNCE_MS (see route-scenarios.py).
# Only this one: bash bench/route-bench.sh
set -u

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUTDIR=$REPO/bench/out
unset ETCDCTL_ENDPOINTS ETCD_PEERS ETCDCTL_USER ETCDCTL_PASSWORD \
	ETCDCTL_CACERT ETCDCTL_CERT ETCDCTL_KEY ETCDCTL_INSECURE_SKIP_TLS_VERIFY

say() { printf 'route-bench: %s\n' "$*" >&2; }

for t in etcd-get etcd-put etcd-watch tmpl hap-reload; do
	[ -x "$REPO/bin/$t" ] || { say "$REPO/bin/$t missing: run make first"; exit 111; }
done
PATH=$PATH:/usr/sbin
for t in etcd haproxy curl python3 wrk; do
	command -v "$t" >/dev/null || { say "$t not installed (contrib/deps.sh bench)"; exit 111; }
done

# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
bench_lb_tmp route-bench
start_etcd

mkdir -p "$OUTDIR"
# In the background, so that a signal runs the trap at once.
python3 "$REPO/bench/route-scenarios.py" "$TMP" "$URL" "$OUTDIR" &
PY_PID=$!
wait "$PY_PID"
rc=$?
PY_PID=
if [ "$rc" -ne 0 ]; then
	say "route-scenarios.py failed (exit $rc); the balancer's log:"
	tail -n 30 "$TMP/lb.log" >&2 2>/dev/null
fi
exit 0
