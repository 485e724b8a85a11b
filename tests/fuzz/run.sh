#!/bin/sh
# Build the libFuzzer targets and run each for SECONDS (default 60) on a
# copy of its checked-in seed corpus (tests/fuzz/corpus/TARGET).  Exit 0
# when none found anything, 1 when one crashed (the reproducer is kept
# under tests/fuzz/build/), 77 when clang cannot build libFuzzer programs.
# usage: tests/fuzz/run.sh [SECONDS [TARGET...]]
# Targets: tmpl_parse (template parser), watch_stream (etcd watch stream
# splitting and parsing), hapcfg_diff (hap-reload's config differ), b64,
# records (the record stream between etcd-watch and tmpl --follow),
# range_scan (etcd-get's reader of range replies), hapmap (hap-reload's map
# blocks, map diff and spare backends).
set -u
cd "$(dirname "$0")/../.." || exit 111
secs=${1:-60}
[ $# -gt 0 ] && shift
[ $# -eq 0 ] && set -- tmpl_parse watch_stream hapcfg_diff b64 records range_scan hapmap
cc=${FUZZ_CC:-clang}
b=tests/fuzz/build
mkdir -p "$b" || exit 111

# The library sources each target needs.
srcs() {
	case $1 in
	tmpl_parse) echo lib/tmpl/*.c lib/easylb/*.c lib/util/jsonw.c lib/util/util.c ;;
	watch_stream) echo lib/etcd/kv.c lib/etcd/reply.c lib/etcd/scan.c lib/etcd/client.c lib/util/b64.c lib/util/util.c ;;
	range_scan) echo lib/etcd/scan.c lib/etcd/reply.c lib/etcd/kv.c lib/etcd/client.c lib/util/b64.c lib/util/util.c ;;
	hapcfg_diff) echo lib/haproxy/cfg.c lib/util/util.c ;;
	hapmap) echo lib/haproxy/map.c lib/haproxy/bind.c lib/haproxy/cfg.c lib/util/util.c ;;
	b64) echo lib/util/b64.c ;;
	records) echo lib/etcd/records.c lib/util/jsonw.c lib/util/b64.c lib/util/util.c ;;
	*) return 1 ;;
	esac
}

probe=$(mktemp "$b/probe.XXXXXX") || exit 111
printf 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }\n' \
	>"$probe.c"
if ! "$cc" -fsanitize=fuzzer -o "$probe" "$probe.c" >/dev/null 2>&1; then
	rm -f "$probe" "$probe.c"
	echo "fuzz: $cc cannot build libFuzzer programs" >&2
	exit 77
fi
rm -f "$probe" "$probe.c"
# The symbolizer beside this clang (llvm-N's), should none be on PATH: the
# leak suppressions match function names, which bare addresses are not.
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && ! command -v llvm-symbolizer >/dev/null; then
	sym=$("$cc" -print-prog-name=llvm-symbolizer)
	if [ "${sym#/}" != "$sym" ] && [ -x "$sym" ]; then
		export ASAN_SYMBOLIZER_PATH="$sym"
	else
		echo "fuzz: no llvm-symbolizer (Debian package llvm): stacks will be addresses, and lsan.supp cannot match" >&2
	fi
fi

work=$(mktemp -d "$b/run.XXXXXX") || exit 111
trap 'rm -rf "$work"' EXIT INT TERM
rc=0
for t in "$@"; do
	s=$(srcs "$t") || { echo "fuzz: no such target: $t" >&2; exit 100; }
	# Build under a temporary name: two runs at once must not clobber
	# each other's binary.
	bin=$b/$t
	tmp=$(mktemp "$b/$t.XXXXXX") || exit 111
	# shellcheck disable=SC2086 # $s is a list of files
	if ! "$cc" -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -Ilib -D_GNU_SOURCE \
		-o "$tmp" "tests/fuzz/$t.c" $s -ljq -lcurl -lm; then
		rm -f "$tmp"
		echo "fuzz: $t: build failed" >&2
		exit 111
	fi
	mv -f "$tmp" "$bin" || exit 111
	mkdir "$work/$t"
	ASAN_OPTIONS=fast_unwind_on_malloc=0${ASAN_OPTIONS:+:$ASAN_OPTIONS} \
	LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS} \
	"./$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 \
		-max_len=4096 -artifact_prefix="$b/$t-" -print_final_stats=1 \
		"$work/$t" "tests/fuzz/corpus/$t" >"$work/$t.log" 2>&1
	r=$?
	echo "fuzz: $t: ${secs}s, exit $r" >&2
	if [ "$r" -ne 0 ]; then
		# the sanitizer's whole report: its stacks say where
		sed -n '/^==[0-9]*==ERROR\|^==[0-9]*== ERROR\|^INFO: libFuzzer: /,$p' "$work/$t.log" |
			head -n 150 >&2
		echo "fuzz: $t: failure, reproducer in $b/ ($t-crash-*, $t-leak-*, $t-timeout-*)" >&2
		rc=1
	else
		tail -n 12 "$work/$t.log" >&2
	fi
done
exit "$rc"
