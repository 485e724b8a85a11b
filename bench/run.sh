#!/bin/sh
# Run every bench/*-bench.sh present, one after the other, keeping each
# one's output in bench/out/NAME.txt; then write bench/results.md and the
# plots (bench/report.sh) and the README's performance section
# (bench/readme.sh).  A benchmark that cannot run is reported and the
# others still run; this script always exits 0 (figures are reported, not
# enforced).
cd "$(dirname "$0")" || exit 0
mkdir -p out
start=$(date +%s)
rm -f out/seconds.new
for b in ./*-bench.sh; do
	[ -f "$b" ] || continue
	n=${b#./}
	n=${n%-bench.sh}
	echo "== ${b#./}"
	t=$(date +%s)
	{ bash "$b" || echo "run.sh: ${b#./} exited $?" >&2; } | tee "out/$n.txt"
	echo "$n $(($(date +%s) - t))" >>out/seconds.new
done
echo "total $(($(date +%s) - start))" >>out/seconds.new
mv -f out/seconds.new out/seconds.txt
sh ./report.sh || echo "run.sh: report.sh exited $?" >&2
sh ./readme.sh || echo "run.sh: readme.sh exited $?" >&2
exit 0
