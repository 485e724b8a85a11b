#!/bin/sh
# Benchmark tmpl on the shipped-style haproxy template (bench/tmpl-bench/paths.cfg.tmpl)
# for growing numbers of services of 10 upstreams each, keys as
# "etcd-get -p" prints them.  For each size it prints the best of RUNS runs:
# tmpl's own compile, data-parse and render times, wall time, peak RSS,
# microseconds per key (flat or slowly growing means O(n) to O(n log n)),
# and, measured in the same run, two baselines: jq parsing the data only
# ("jq length") and the jq CLI doing the equivalent transformation in one
# program.  It reports against the targets but never fails on timings.
# usage: bench/tmpl-bench.sh [SERVICES...]   (default: 100 1000 3000 10000)
set -eu
cd "$(dirname "$0")/.."
tmpl=${TMPL:-bin/tmpl}
runs=${RUNS:-3}
[ $# -gt 0 ] || set -- 100 1000 3000 10000
[ -x "$tmpl" ] || { echo "tmpl-bench: build first: make TOOLS=tmpl" >&2; exit 100; }
[ -x /usr/bin/time ] || { echo "tmpl-bench: needs /usr/bin/time (GNU time)" >&2; exit 100; }

work=$(mktemp -d "${TMPDIR:-/tmp}/tmpl-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# The jq CLI baseline: the same haproxy.cfg from the flat object.
cat >"$work/baseline.jq" <<'EOF'
reduce (to_entries[] | select(.key | startswith("/services/"))) as $e ({};
	setpath($e.key | ltrimstr("/services/") | split("/"); $e.value))
| . as $s
| "global\n    maxconn 4096\n\ndefaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\nfrontend http-in\n    bind *:80",
  ($s | keys[] as $k | select($s[$k].location)
   | "    acl is_\($k) path_beg \($s[$k].location)\n    use_backend \($k) if is_\($k)"),
  "",
  ($s | keys[] as $k
   | "backend \($k)\n    balance \($s[$k].balance // "roundrobin")",
     (if ($s[$k].upstream // {}) == {} then "    http-request deny deny_status 503"
      else $s[$k].upstream | keys[] as $u | "    server \($u) \(.[$u]) check" end),
     "")
EOF

# best CMD...: run CMD $runs times; print "wall_s rss_kb" of the fastest
# run, and keep that run's stderr in $work/err.
best() {
	bw="" brss=""
	i=0
	while [ "$i" -lt "$runs" ]; do
		/usr/bin/time -f '%e %M' -o "$work/time" "$@" \
			>"$work/out" 2>"$work/err.$i"
		read -r w r <"$work/time"
		if [ -z "$bw" ] || awk "BEGIN{exit !($w < $bw)}"; then
			bw=$w brss=$r
			cp "$work/err.$i" "$work/err"
		fi
		i=$((i + 1))
	done
	echo "$bw $brss"
}

field() { # field NAME: a figure from tmpl --timings in $work/err
	sed -n "s/.* $1 \([0-9.]*\) ms.*/\1/p" "$work/err"
}

printf 'tmpl benchmark: %s, best of %s runs, %s cores\n' \
	"$(uname -m)" "$runs" "$(nproc 2>/dev/null || echo '?')"
printf '%8s %8s %9s %9s %9s %9s %8s %9s %10s %10s %7s\n' services keys \
	compile_ms data_ms render_ms wall_s rss_MB us/key jq_parse_s \
	jq_equiv_s ratio
for n in "$@"; do
	sh bench/gen-data.sh "$n" 10 >"$work/data.json"
	keys=$(jq length "$work/data.json")
	r=$(best "$tmpl" --timings -d "$work/data.json" bench/tmpl-bench/paths.cfg.tmpl)
	wall=${r% *} rss=${r#* }
	compile=$(field compile) data=$(field data) render=$(field render)
	lines=$(wc -l <"$work/out")
	r=$(best jq length "$work/data.json")
	jqparse=${r% *}
	r=$(best jq -r -f "$work/baseline.jq" "$work/data.json")
	jqequiv=${r% *}
	awk -v n="$n" -v k="$keys" -v c="$compile" -v d="$data" -v r="$render" \
		-v w="$wall" -v m="$rss" -v p="$jqparse" -v e="$jqequiv" 'BEGIN {
		printf "%8d %8d %9.1f %9.1f %9.1f %9.2f %8.1f %9.2f %10.2f %10.2f %6.2fx\n",
			n, k, c, d, r, w, m / 1024, (d + r) * 1000 / k, p, e,
			(e > 0 ? w / e : 0)
	}'
	echo "$n $keys $wall $rss $lines" >>"$work/summary"
done

echo
echo "us/key = (data + render) time per key; ratio = tmpl wall / jq CLI wall."

# The same document through the other idioms, at the largest size: gets()
# per service (binary search, O(log keys + matches) per call) and tree
# (built once).  Each must print exactly what paths.cfg.tmpl printed.
echo
printf '%-22s %8s %9s %9s %9s %8s %s\n' template keys compile_ms render_ms \
	wall_s rss_MB same_output
for v in paths gets tree; do
	r=$(best "$tmpl" --timings -d "$work/data.json" "bench/tmpl-bench/$v.cfg.tmpl")
	wall=${r% *} rss=${r#* }
	[ "$v" = paths ] && cp "$work/out" "$work/want"
	same=no
	cmp -s "$work/out" "$work/want" && same=yes
	awk -v v="$v.cfg.tmpl" -v k="$keys" -v c="$(field compile)" \
		-v r="$(field render)" -v w="$wall" -v m="$rss" -v s="$same" \
		'BEGIN { printf "%-22s %8d %9.1f %9.1f %9.2f %8.1f %s\n",
			v, k, c, r, w, m / 1024, s }'
done

echo
awk '
	$1 == 1000 { printf "target 1,000 x 10 services:  %.2f s (<= 0.2 s): %s\n", $3, ($3 <= 0.2 ? "met" : "MISSED") }
	$1 == 10000 { printf "target 10,000 x 10 services: %.2f s (<= 1.5 s), %.0f MB (<= 200 MB): %s\n", $3, $4 / 1024, ($3 <= 1.5 && $4 / 1024 <= 200 ? "met" : "MISSED") }
' "$work/summary"
