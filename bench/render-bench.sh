#!/usr/bin/env bash
# render-bench.sh: the cost of rendering the shipped template (issue 13),
# each figure against a baseline measured in the same run.
#
#   6. one-shot: etcd-get -p /services/ | tmpl haproxy.cfg.tmpl, as boot,
#      cron users and ad hoc pipelines run it, at 1,000 and 10,000
#      services x 10 upstreams on a private etcd: wall time (median of
#      RUNS) and peak RSS of each process; tmpl alone on the same data;
#      and confd -onetime rendering the same services from the same etcd
#      when CONFD names a confd binary (it is not built here).
#   7. per change: tmpl --follow fed a snapshot of N services x 10
#      upstreams, then 20 single-upstream puts, each closed by a progress
#      record, 250 ms apart (bench/follow-driver.py): the CPU time of
#      each render, median, at 100, 1,000 and 10,000 services.  OUT is on
#      a tmpfs (/dev/shm) where there is one, as the balancer's is (in its
#      EASY_LB_RUN, /run/easy-lb); beside each figure, the CPU time of
#      writing that OUT alone (an atomic replace of the same bytes), which
#      no renderer that writes the file goes below.
#   8. memory of tmpl --follow at 10,000 services over 10,000 changes,
#      each a new address for an existing upstream (the state keeps its
#      size), after 1,000 changes and after all.
#
# (numbered after bench/lb-bench.sh's rows, which they join in
# bench/results.md.)  Figures are reported, never enforced.  Knobs: RUNS (3), SIZES (1000
# 10000), SCALES (100 1000 10000), CHANGES (20), MEM_CHANGES (10000).
set -u

REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=$REPO/bin
RUNS=${RUNS:-3}
SIZES=${SIZES:-1000 10000}
SCALES=${SCALES:-100 1000 10000}
CHANGES=${CHANGES:-20}
MEM_CHANGES=${MEM_CHANGES:-10000}
TEMPLATE=$REPO/share/easy-lb/haproxy.cfg.tmpl
unset ETCDCTL_ENDPOINTS ETCD_PEERS ETCDCTL_USER ETCDCTL_PASSWORD \
	ETCDCTL_CACERT ETCDCTL_CERT ETCDCTL_KEY ETCDCTL_INSECURE_SKIP_TLS_VERIFY
export ETCD_PREFIX=/services LB_PORT=80 LB_BIND=127.0.0.1

say() { printf 'render-bench: %s\n' "$*" >&2; }

for t in etcd-get tmpl; do
	[ -x "$BIN/$t" ] || { say "$BIN/$t missing: run make first"; exit 111; }
done
for t in etcd curl python3; do
	command -v "$t" >/dev/null || { say "$t not installed"; exit 111; }
done
[ -x /usr/bin/time ] || { say "needs /usr/bin/time (GNU time)"; exit 111; }

# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
bench_tmp render-bench
export EASY_LB_RUN=$TMP

start_etcd

# row MEASURE VALUE BASELINE RATIO GOAL: a line of the table, and of
# bench/out/summary.tsv when lb-bench.sh wrote one in this run (make
# bench), so that the README's generated table has it too.
SUMMARY=$REPO/bench/out/summary.tsv
if [ -f "$SUMMARY" ]; then
	# (this script's rows of an earlier run go)
	grep -v '^[678]\. ' "$SUMMARY" >"$TMP/summary" && cat "$TMP/summary" >"$SUMMARY"
fi
row() {
	printf '%-58s %10s %10s %8s  %s\n' "$@"
	if [ -f "$SUMMARY" ] && [ "$1" != measure ] && [ "$1" != ------- ]; then
		printf '%s\t%s\t\t%s\t%s\t%s\t\n' "$1" "$2" "$3" "$4" "$5" >>"$SUMMARY"
	fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
verdict() { awk -v v="$1" -v l="$2" 'BEGIN { if (v == "-") print "n/a"; else print (v + 0 <= l + 0 ? "met" : "MISSED") }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "-" }'; }

# load N: services svc00000 .. up to N, 10 upstreams and one backend
# option each (11 keys a service), as bench/lb-scenarios.py loads them.
loaded=0
load() {
	python3 - "$URL" "$loaded" "$1" <<'PY'
import base64, http.client, json, sys, urllib.parse
url, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
u = urllib.parse.urlsplit(url)
c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
b = lambda s: base64.b64encode(s.encode()).decode()
ops = []
def flush():
    c.request("POST", "/v3/kv/txn", json.dumps({"success": ops}))
    r = c.getresponse(); r.read()
    if r.status != 200:
        sys.exit("txn: HTTP %d" % r.status)
    del ops[:]
for s in range(first, last):
    d = "/services/svc%05d" % s
    for i in range(10):
        ops.append({"request_put": {"key": b("%s/upstream/i%d" % (d, i)),
                                    "value": b("127.0.0.1:%d inter 1h" % (10000 + i))}})
    ops.append({"request_put": {"key": b(d + "/backend/balance"), "value": b("roundrobin")}})
    if len(ops) > 100:
        flush()
if ops:
    flush()
PY
	loaded=$1
}

# timed LABEL CMD...: run CMD (a shell line) RUNS times; "wall_s rss_mb"
# of the median run (rss: the largest of its processes).
timed() {
	local i=0 label=$1
	shift
	: >"$TMP/times"
	while [ "$i" -lt "$RUNS" ]; do
		/usr/bin/time -f '%e %M' -o "$TMP/t" sh -c "$1" >/dev/null 2>"$TMP/err.$label" ||
			say "$label failed: $(tail -n 1 "$TMP/err.$label")"
		tail -n 1 "$TMP/t" >>"$TMP/times"
		i=$((i + 1))
	done
	sort -n "$TMP/times" | awk '{ a[NR] = $0 } END { split(a[int((NR + 1) / 2)], f, " "); printf "%s %.1f\n", f[1], f[2] / 1024 }'
}

# The confd equivalent of the shipped template's output (routes and
# backends, no checks), for confd -onetime -backend etcdv3.
mkdir -p "$TMP/confd/conf.d" "$TMP/confd/templates"
cat >"$TMP/confd/conf.d/haproxy.toml" <<EOF2
[template]
src = "haproxy.cfg.tmpl"
dest = "$TMP/confd.cfg"
keys = ["/services"]
EOF2
cat >"$TMP/confd/templates/haproxy.cfg.tmpl" <<'EOF2'
frontend easy-lb
    bind *:80
{{range $s := lsdir "/services"}}    use_backend {{$s}} if { path_beg {{if exists (printf "/services/%s/location" $s)}}{{getv (printf "/services/%s/location" $s)}}{{else}}/{{$s}}{{end}} }
{{end}}{{range $s := lsdir "/services"}}
backend {{$s}}
{{range $o := ls (printf "/services/%s/backend" $s)}}    {{$o}} {{getv (printf "/services/%s/backend/%s" $s $o)}}
{{end}}{{range $u := ls (printf "/services/%s/upstream" $s)}}    server {{$u}} {{getv (printf "/services/%s/upstream/%s" $s $u)}} check
{{end}}{{end}}
EOF2

jqv=$(dpkg-query -W -f '${Version}\n' libjq1 2>/dev/null | head -n 1)
printf 'easy-lb render benchmarks, %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
printf 'etcd %s, libjq %s, %s, %s CPUs, %s; load before: %s\n\n' \
	"$(etcd --version | sed -n 's/^etcd Version: //p')" "$jqv" "$(uname -sm)" \
	"$(nproc 2>/dev/null || echo ?)" "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')" \
	"$(sed 's/.*load average: //' /proc/loadavg 2>/dev/null || uptime)"
row measure easy-lb baseline ratio goal
row ------- ------- -------- ----- ----
for n in $SIZES; do
	load "$n"
	"$BIN/etcd-get" -e "$URL" -p /services/ >"$TMP/data.json"
	read -r w rss <<<"$(timed pipe "$BIN/etcd-get -e $URL -p /services/ | $BIN/tmpl $TEMPLATE")"
	read -r wg rssg <<<"$(timed get "$BIN/etcd-get -e $URL -p /services/")"
	read -r wt rsst <<<"$(timed tmpl "$BIN/tmpl -d $TMP/data.json $TEMPLATE")"
	read -r wc _ <<<"$(timed curl "curl -s -XPOST $URL/v3/kv/range -d '{\"key\":\"L3NlcnZpY2VzLw==\",\"range_end\":\"L3NlcnZpY2VzMA==\"}'")"
	goal=""
	[ "$n" = 1000 ] && goal="<= 0.2 s: $(verdict "$w" 0.2)"
	[ "$n" = 10000 ] && goal="<= 2.5 s: $(verdict "$w" 2.5)"
	c=-
	if [ -n "${CONFD:-}" ] && [ -x "$CONFD" ] && [ "$n" -le 1000 ]; then
		read -r c _ <<<"$(timed confd "$CONFD -onetime -backend etcdv3 -node $URL -confdir $TMP/confd -log-level error")"
	fi
	row "6. etcd-get -p | tmpl, $n x 10, s (vs confd -onetime)" "$w" "$c" "$(ratio "$c" "$w")" "$goal; confd/easy-lb >= 64: $(awk -v r="$(ratio "$c" "$w")" 'BEGIN { print r == "-" ? "n/a" : (r + 0 >= 64 ? "met" : "MISSED") }')"
	row "6. the same, peak RSS of a process, MB" "$rss" "" "" "<= 200 MB: $(verdict "$rss" 200)"
	row "6. etcd-get -p alone, $n x 10, s (vs curl of the range)" "$wg" "$wc" "$(ratio "$wg" "$wc")" "peak RSS ${rssg} MB"
	row "6. tmpl alone (-d file), $n x 10, s" "$wt" "" "" "peak RSS ${rsst} MB"
done
if [ -z "${CONFD:-}" ] || [ ! -x "${CONFD:-}" ]; then
	row "6. confd not measured: CONFD names no confd binary" "" "" "" ""
fi
# floor FILE: "ms MB": the median CPU time of replacing FILE with its own
# bytes as tmpl does (a temporary file, write, fsync, rename), of 20, and
# its size.
floor() {
	python3 - "$1" <<'PY'
import os, sys, time
p = sys.argv[1]
data = open(p, "rb").read()
ts = []
for i in range(20):
    t = time.process_time()
    fd = os.open(p + ".floor", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    v = memoryview(data)
    while v:
        v = v[os.write(fd, v):]
    os.fsync(fd)
    os.close(fd)
    os.rename(p + ".floor", p + ".floored")
    ts.append((time.process_time() - t) * 1000)
os.unlink(p + ".floored")
ts.sort()
print("%.2f %.1f" % (ts[len(ts) // 2], len(data) / 1e6))
PY
}
# OUT on a tmpfs, as the balancer's is.
FOUT=$TMP
if [ -d /dev/shm ] && FOUT=$(mktemp -d /dev/shm/render-bench.XXXXXX 2>/dev/null); then
	trap 'rm -rf "$FOUT"; bench_cleanup' EXIT
else
	FOUT=$TMP
fi
first=""
for n in $SCALES; do
	python3 "$REPO/bench/follow-driver.py" --gap 250 "$BIN/tmpl" "$TEMPLATE" \
		"$FOUT/follow.cfg" "$n" 10 "$CHANGES" >"$TMP/follow.$n" 2>"$TMP/follow.err" ||
		say "follow-driver failed at $n: $(tail -n 1 "$TMP/follow.err")"
	snap=$(awk '$4 == "snapshot" { print $2 }' "$TMP/follow.$n")
	cpu=$(awk 'NF == 3 { print $2 }' "$TMP/follow.$n" | median)
	read -r fl mb <<<"$(floor "$FOUT/follow.cfg")"
	[ -n "$first" ] || first=$cpu
	goal="writing the $mb MB OUT alone: $fl ms"
	[ "$n" = 10000 ] && goal="$goal; <= 5 ms: $(verdict "$cpu" 5); <= 2x the $(echo "$SCALES" | cut -d' ' -f1)-service figure: $(verdict "$(ratio "$cpu" "$first")" 2)"
	row "7. tmpl --follow CPU per change, $n svc x 10, ms (vs first render)" "$cpu" "$snap" "$(ratio "$cpu" "$snap")" "$goal"
done
python3 "$REPO/bench/follow-driver.py" --mode modify --rss-every "$((MEM_CHANGES / 10))" "$BIN/tmpl" "$TEMPLATE" \
	"$FOUT/follow.cfg" 10000 10 "$MEM_CHANGES" >"$TMP/mem" 2>"$TMP/mem.err" ||
	say "follow-driver failed: $(tail -n 1 "$TMP/mem.err")"
m0=$(awk '/after snapshot/ { printf "%.1f", $2 / 1024 }' "$TMP/mem")
m1=$(awk -v k="$((MEM_CHANGES / 10)) changes" '$0 ~ "after " k "$" { printf "%.1f", $2 / 1024 }' "$TMP/mem")
mn=$(awk '/after [0-9]+ changes/ { v = $2 } END { printf "%.1f", v / 1024 }' "$TMP/mem")
hwm=$(awk '/after [0-9]+ changes/ { v = $4 } END { printf "%.1f", v / 1024 }' "$TMP/mem")
row "8. tmpl --follow RSS at 10000 svc x 10: after the snapshot, MB" "$m0" "" "" "peak $hwm MB"
row "8. RSS after $MEM_CHANGES changes, MB (vs after $((MEM_CHANGES / 10)))" "$mn" "$m1" "$(ratio "$mn" "$m1")" "no growth with changes: $(awk -v a="$mn" -v b="$m1" 'BEGIN { print (a <= b * 1.05 ? "met" : "MISSED") }')"
