#!/usr/bin/env bash
# lb-bench.sh: the balancer end to end (issue 6): boot.sh + watcher.sh +
# the shipped template with a real etcd, a real haproxy and two tiny
# backends ("old" and "new"), all on 127.0.0.1 at ports picked free, in a
# temp dir that is always removed.  bench/lb-scenarios.py does the measuring:
#
#   1. convergence, put -> first request served by the new server, for a
#      new upstream (runtime path) and a new service (reload path), at 10,
#      100, 1,000 and 10,000 services of 10 upstreams, against etcdctl
#      watch's put -> event latency measured at the same moment and (new
#      upstream) the same server added through haproxy's runtime API;
#      each change counted by how it was applied (reload or runtime); a
#      new location; and the new upstream again once a service added at
#      run time is kept (the installed file binds a spare from then on)
#   2. churn under wrk load (at 100 services), changes applied by reload
#      counted
#   3. render cost, etcd-get -p then tmpl, at each size
#   4. footprint while idle (at 1,000 services)
#   5. a burst of 1,000 puts in one second (at 1,000 services)
#
# Figures are reported, never enforced.  The table goes to stdout and,
# with the plot data, to bench/out/ (summary.tsv, conv.tsv, render.tsv,
# floor.tsv), from which bench/report.sh writes bench/results.md.
# Knobs: see bench/lb-scenarios.py (SCALES, NCONV, DEBOUNCE_MS, ...).
set -u

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUTDIR=$REPO/bench/out
unset ETCDCTL_ENDPOINTS ETCD_PEERS ETCDCTL_USER ETCDCTL_PASSWORD \
	ETCDCTL_CACERT ETCDCTL_CERT ETCDCTL_KEY ETCDCTL_INSECURE_SKIP_TLS_VERIFY
export ETCDCTL_API=3

say() { printf 'lb-bench: %s\n' "$*" >&2; }

for t in etcd-get etcd-put etcd-watch tmpl hap-reload; do
	[ -x "$REPO/bin/$t" ] || { say "$REPO/bin/$t missing: run make first"; exit 111; }
done
for t in etcd etcdctl haproxy curl python3; do
	command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] ||
		{ say "$t not installed (contrib/deps.sh)"; exit 111; }
done
command -v wrk >/dev/null || say "wrk not installed: the churn measure is left out"
PATH=$PATH:/usr/sbin

# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
bench_lb_tmp lb-bench
start_etcd

mkdir -p "$OUTDIR"
start=$(date +%s)
uptime >"$OUTDIR/load-before.txt"
# In the background, so that a signal runs the trap at once.
python3 "$REPO/bench/lb-scenarios.py" "$TMP" "$URL" "$OUTDIR" &
PY_PID=$!
wait "$PY_PID"
rc=$?
PY_PID=
uptime >"$OUTDIR/load-after.txt"
echo "$(($(date +%s) - start))" >"$OUTDIR/lb-seconds.txt"
if [ "$rc" -ne 0 ]; then
	say "lb-scenarios.py failed (exit $rc); the balancer's log:"
	tail -n 30 "$TMP/lb.log" >&2
fi
exit 0
