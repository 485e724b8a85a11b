#!/usr/bin/env bash
# etcd-bench.sh: benchmarks of etcd-get and etcd-watch (issue 2), each
# against a baseline measured in the same run on the same private etcd.
#
#   a. event latency, put -> line on stdout: etcd-watch vs etcdctl watch
#   b. etcd-get -p of a 100k-key prefix vs a raw curl of the same range,
#      peak RSS, and a sweep of --page sizes
#   c. a single-key etcd-get, process start to exit, vs etcdctl get
#
# Everything runs on 127.0.0.1, on ports picked free, in a temp dir that is
# always removed.  Goals are reported, never enforced: a slow figure does
# not make this script fail.  The table goes to stdout and to
# bench/out/etcd.txt.  Knobs: LAT_N (puts, default 300), NSVC x NINST
# (keys, default 10000 x 10), RUNS (hyperfine runs, default 10).
set -u

REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=$REPO/bin
OUTDIR=$REPO/bench/out
LAT_N=${LAT_N:-300}
NSVC=${NSVC:-10000}
NINST=${NINST:-10}
RUNS=${RUNS:-10}
# Never reach a real cluster through the caller's environment.
unset ETCDCTL_ENDPOINTS ETCD_PEERS ETCDCTL_USER ETCDCTL_PASSWORD \
	ETCDCTL_CACERT ETCDCTL_CERT ETCDCTL_KEY ETCDCTL_INSECURE_SKIP_TLS_VERIFY
export ETCDCTL_API=3

say() { printf 'etcd-bench: %s\n' "$*" >&2; }

for t in etcd-get etcd-put etcd-watch; do
	if [ ! -x "$BIN/$t" ]; then
		say "$BIN/$t missing: run make first"
		exit 111
	fi
done
for t in etcd etcdctl curl python3; do
	if ! command -v "$t" >/dev/null; then
		say "$t not installed"
		exit 111
	fi
done
# hyperfine times parts b and c; a release without it (forky) still
# gets part a, and those rows say "-".
HF=1
if ! command -v hyperfine >/dev/null; then
	HF=""
	say "hyperfine not installed: the timings of parts b and c are left out"
fi
hyperfine() {
	[ -n "$HF" ] || return 1
	command hyperfine "$@"
}

# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
bench_tmp etcd-bench

start_etcd

TABLE=$TMP/table
: >"$TABLE"
row() { printf '%-44s %12s %12s %9s  %s\n' "$@" >>"$TABLE"; }
# ratio A B: A/B with two decimals; "-" when either is missing.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0 || a == "-" || b == "-") print "-"; else printf "%.2f", a / b }'; }
# goal VALUE OP LIMIT: "ok" or "MISSED" (never an exit status).
goal() { awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { if (v == "-" || v == "") { print "n/a"; exit } ok = op == "<=" ? v + 0 <= l + 0 : 0; print ok ? "ok" : "MISSED" }'; }
# hyperfine_median JSON INDEX: the median of one command in ms.
hf_median() { python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]
print("%.2f" % (r["median"] * 1000))' "$1" "$2" 2>/dev/null || echo -; }

{
	printf 'easy-lb etcd benchmarks, %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
	printf 'etcd %s, %s, %s CPUs, %s\n' \
		"$(etcd --version | sed -n 's/^etcd Version: //p')" \
		"$(uname -sm)" "$(nproc 2>/dev/null || echo ?)" \
		"$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
	echo
} >>"$TABLE"
row "measure" "easy-lb" "baseline" "ratio" "goal"
row "-------" "-------" "--------" "-----" "----"
[ -n "$HF" ] || row "b., c. not measured: no hyperfine" "-" "-" "-" ""

# a. Event latency.  The watchers take turns, in 5 rounds.  A raw curl of
# the gateway's /v3/watch stream is a third reference: it shows how much
# of the difference to etcdctl (native gRPC) is the HTTP/JSON gateway
# itself rather than etcd-watch.
say "a. event latency over $LAT_N puts"
WATCH_REQ='{"create_request":{"key":"L2xhdC8=","range_end":"L2xhdDA="}}'
lat=$(python3 "$REPO/bench/etcd-latency.py" "$URL" "$LAT_N" 5 /lat/ \
	-- 1 "$BIN/etcd-watch" -e "$URL" -p /lat/ \
	-- 3 etcdctl --endpoints="$URL" watch --prefix /lat/ \
	-- 1 curl -sN -XPOST "$URL/v3/watch" -d "$WATCH_REQ") || lat=
{ read -r o50 o99 omean on; read -r b50 b99 bmean bn; read -r c50 c99 _ _; } <<<"$lat"
row "a. put->event p50, ms (vs etcdctl watch)" "${o50:--}" "${b50:--}" "$(ratio "${o50:-}" "${b50:-}")" \
	"<= 2 ms: $(goal "${o50:--}" "<=" 2); not slower: $(goal "$(ratio "${o50:-}" "${b50:-}")" "<=" 1)"
row "a. put->event p99, ms (vs etcdctl watch)" "${o99:--}" "${b99:--}" "$(ratio "${o99:-}" "${b99:-}")" \
	"not slower: $(goal "$(ratio "${o99:-}" "${b99:-}")" "<=" 1)"
row "a. put->event mean, ms, n=${on:-0}/${bn:-0}" "${omean:--}" "${bmean:--}" "$(ratio "${omean:-}" "${bmean:-}")" ""
row "a. p50, ms, vs raw curl of /v3/watch" "${o50:--}" "${c50:--}" "$(ratio "${o50:-}" "${c50:-}")" "(reference)"
row "a. p99, ms, vs raw curl of /v3/watch" "${o99:--}" "${c99:--}" "$(ratio "${o99:-}" "${c99:-}")" "(reference)"

# b. A 100k-key prefix.
nkeys=$((NSVC * NINST))
say "b. loading $nkeys keys"
if ! python3 "$REPO/bench/etcd-load.py" "$URL" "$NSVC" "$NINST"; then
	say "loading failed"
	exit 111
fi
# /services .. /servicet: the prefix's range, as etcd-get -p asks for it.
RANGE='{"key":"L3NlcnZpY2Vz","range_end":"L3NlcnZpY2V0"}'
curl -s -XPOST "$URL/v3/kv/range" -d "$RANGE" >"$TMP/raw.json"
"$BIN/etcd-get" -e "$URL" -p /services >"$TMP/get.json"
check=$(python3 -c 'import json, sys
raw = json.load(open(sys.argv[1]))
got = json.load(open(sys.argv[2]))
print(len(raw.get("kvs", [])), len(got))' "$TMP/raw.json" "$TMP/get.json")
read -r nraw nget <<<"$check"
rawmb=$(awk -v n="$(wc -c <"$TMP/raw.json")" 'BEGIN { printf "%.1f", n / 1048576 }')
getmb=$(awk -v n="$(wc -c <"$TMP/get.json")" 'BEGIN { printf "%.1f", n / 1048576 }')
say "b. curl got $nraw keys ($rawmb MB), etcd-get -p got $nget ($getmb MB)"
hyperfine -N --style none --warmup 1 --runs "$RUNS" \
	--export-json "$TMP/prefix.json" \
	"$BIN/etcd-get -e $URL -p /services" \
	"curl -s -XPOST $URL/v3/kv/range -d '$RANGE'" >&2
p_ours=$(hf_median "$TMP/prefix.json" 0)
p_base=$(hf_median "$TMP/prefix.json" 1)
row "b. get -p $nget keys, median ms (vs curl)" "$p_ours" "$p_base" "$(ratio "$p_ours" "$p_base")" \
	"<= 1.5x: $(goal "$(ratio "$p_ours" "$p_base")" "<=" 1.5)"
if [ -x /usr/bin/time ]; then
	/usr/bin/time -f %M -o "$TMP/rss" "$BIN/etcd-get" -e "$URL" -p /services >/dev/null
	/usr/bin/time -f %M -o "$TMP/rss.curl" curl -s -XPOST "$URL/v3/kv/range" -d "$RANGE" >/dev/null
	rss=$(tail -n 1 "$TMP/rss")
	rss_curl=$(tail -n 1 "$TMP/rss.curl")
else
	rss=$(python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' \
		"$BIN/etcd-get" -e "$URL" -p /services)
	rss_curl=-
fi
rss_mb=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')
rss_curl_mb=$(awk -v k="$rss_curl" 'BEGIN { if (k == "-") print "-"; else printf "%.1f", k / 1024 }')
row "b. get -p peak RSS, MB (vs curl)" "$rss_mb" "$rss_curl_mb" "$(ratio "$rss_mb" "$rss_curl_mb")" \
	"<= 64 MB: $(goal "$rss_mb" "<=" 64)"
row "b. JSON size, MB (etcd-get out / etcd reply)" "$getmb" "$rawmb" "$(ratio "$getmb" "$rawmb")" ""

say "b. --page sweep"
pages="500 1000 5000 10000"
cmds=()
for p in $pages; do cmds+=("$BIN/etcd-get -e $URL --page $p -p /services"); done
hyperfine -N --style none --warmup 1 --runs "$RUNS" \
	--export-json "$TMP/pages.json" "${cmds[@]}" >&2
best='' bestms=''
i=0
for p in $pages; do
	ms=$(hf_median "$TMP/pages.json" $i)
	row "b. get -p --page $p, median ms (vs curl)" "$ms" "$p_base" "$(ratio "$ms" "$p_base")" ""
	if [ "$ms" != - ] && { [ -z "$bestms" ] || awk -v a="$ms" -v b="$bestms" 'BEGIN { exit !(a < b) }'; }; then
		best=$p bestms=$ms
	fi
	i=$((i + 1))
done
row "b. fastest --page" "${best:--}" "" "" "(default 10000)"

# c. A single key, process start to exit.
say "c. single-key get"
KEY=/services/svc0001/upstream/i1
# The floor: a program that does nothing but is linked as etcd-get is
# (libcurl pulls some 30 shared libraries in, and the dynamic loader
# binds them all before main).
printf 'int curl_global_init(long);\nint main(int c, char **v) { (void)v; return c > 9 ? curl_global_init(3) : 0; }\n' >"$TMP/empty.c"
cc -O2 -o "$TMP/empty-curl" "$TMP/empty.c" -lcurl -ljq -lm
hyperfine -N --style none --warmup 10 --runs 200 \
	--export-json "$TMP/one.json" \
	"$BIN/etcd-get -e $URL $KEY" \
	"etcdctl --endpoints=$URL get $KEY" \
	"$TMP/empty-curl" >&2
g_ours=$(hf_median "$TMP/one.json" 0)
g_base=$(hf_median "$TMP/one.json" 1)
g_floor=$(hf_median "$TMP/one.json" 2)
row "c. get KEY start->exit, median ms (vs etcdctl)" "$g_ours" "$g_base" "$(ratio "$g_ours" "$g_base")" \
	"<= 5 ms: $(goal "$g_ours" "<=" 5)"
row "c. the same vs an empty program linked alike" "$g_ours" "$g_floor" "$(ratio "$g_ours" "$g_floor")" \
	"(floor: loading libcurl's libraries)"

mkdir -p "$OUTDIR"
cp "$TABLE" "$OUTDIR/etcd.txt"
cat "$TABLE"
exit 0
