#!/bin/sh
# Build the libFuzzer target for the tmpl parser and run it for SECONDS
# (default 60) on a copy of the checked-in seed corpus.  Exit 0 when it
# found nothing, 1 when it crashed (the reproducer is kept under
# tests/fuzz/build/), 77 when clang cannot build libFuzzer programs.
# usage: tests/fuzz/run.sh [SECONDS]
set -u
cd "$(dirname "$0")/../.." || exit 111
secs=${1:-60}
cc=${FUZZ_CC:-clang}
b=tests/fuzz/build
mkdir -p "$b" || exit 111

probe=$(mktemp "$b/probe.XXXXXX") || exit 111
printf 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }\n' \
	>"$probe.c"
if ! "$cc" -fsanitize=fuzzer -o "$probe" "$probe.c" >/dev/null 2>&1; then
	rm -f "$probe" "$probe.c"
	echo "fuzz: $cc cannot build libFuzzer programs" >&2
	exit 77
fi
rm -f "$probe" "$probe.c"

# Build under a temporary name: two runs at once must not clobber each
# other's binary.
bin=$b/tmpl_parse
tmp=$(mktemp "$b/tmpl_parse.XXXXXX") || exit 111
if ! "$cc" -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -Ilib -D_GNU_SOURCE \
	-o "$tmp" tests/fuzz/tmpl_parse.c lib/tmpl.c lib/util.c -ljq -lm; then
	rm -f "$tmp"
	echo "fuzz: build failed" >&2
	exit 111
fi
mv -f "$tmp" "$bin" || exit 111

work=$(mktemp -d "$b/run.XXXXXX") || exit 111
trap 'rm -rf "$work"' EXIT INT TERM
mkdir "$work/corpus"
"./$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 \
	-max_len=4096 -artifact_prefix="$b/" -print_final_stats=1 \
	"$work/corpus" tests/fuzz/corpus/tmpl >"$work/log" 2>&1
rc=$?
tail -n 12 "$work/log" >&2
[ "$rc" -eq 0 ] || { echo "fuzz: failure, reproducer in $b/ (crash-*, leak-*, timeout-*)" >&2; exit 1; }
exit 0
