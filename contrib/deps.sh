#!/bin/sh
# Install the Debian packages one purpose of easy-lb needs, and only
# those.  As root it installs what is missing; otherwise it prints the
# exact command.
# usage: contrib/deps.sh [PURPOSE]
#   build  compiler and libraries: make all
#   demo   build, plus what the balancer and the demo run (make demo)
#   check  demo, plus what the test suites use (make check, make chaos)
#   fuzz   clang and its libFuzzer runtime (make fuzz)
#   bench  demo, plus the baselines and tools of make bench; one that
#          the release does not carry is reported and left out, and the
#          benchmarks that need it say so
# Default: check.
set -u

# (the names of Debian's packages, from bookworm to forky)
build="gcc make libc6-dev libcurl4-openssl-dev libjq-dev libssl-dev"
demo="$build etcd-server haproxy python3 curl"
# clang's libFuzzer runtime is a package of its own since trixie
# (libclang-rt-N-dev); libclang-rt-dev follows the default clang.  llvm
# brings llvm-symbolizer: without it a sanitizer's stacks are bare
# addresses, and tests/fuzz/lsan.supp (which names jq's function) matches
# nothing.
fuzz="clang libclang-rt-dev llvm"
# bats, parallel: the runner; etcd-client, jq, openssl, socat: the
# tests' own tools and certificates; groff-base, bsdextrautils: nroff
# and col (a usage line against its man page); iproute2: network
# namespaces; file: what a cross build made; procps: pgrep;
# clang-format, shellcheck: make lint.
check="$demo bats parallel etcd-client jq openssl socat $fuzz shellcheck \
clang-format valgrind groff-base bsdextrautils iproute2 file procps"
# jq and time (GNU time: peak RSS): tmpl-bench.sh and render-bench.sh.
# Optional: wrk (HTTP/1.1 rates), nghttp2-client (h2load: tls-bench.sh's
# HTTP/2 rate), gnuplot-nox (the plots), hyperfine.
bench="$demo etcd-client openssl jq time"
benchopt="wrk nghttp2-client gnuplot-nox hyperfine"

purpose=${1:-check}
case $purpose in
build) pkgs=$build ;;
demo) pkgs=$demo ;;
check) pkgs=$check ;;
fuzz) pkgs=$fuzz ;;
bench) pkgs="$bench $benchopt" ;;
*) echo "easy-lb: deps.sh: unknown purpose '$purpose' (build, demo, check, fuzz, bench)" >&2; exit 100 ;;
esac

missing=""
for p in $pkgs; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
	case "$st" in
	*"ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

# available PKG: the release has PKG (apt knows a candidate version).
available() {
	case $(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p') in
	"" | "(none)") return 1 ;;
	esac
}

if [ "$(id -u)" -ne 0 ]; then
	echo "easy-lb: missing Debian packages for make $purpose:$missing" >&2
	echo "easy-lb: run: sudo apt-get install -y --no-install-recommends$missing" >&2
	exit 1
fi
echo "easy-lb: installing missing Debian packages for make $purpose:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# A failed index (say a foreign architecture's mirror mid-sync) must not
# stop the install of what the other indexes have.
apt-get update -q >/dev/null ||
	echo "easy-lb: apt-get update failed; installing from the lists there are" >&2
# A bench tool this release lacks is left out, and said so: the others
# and every benchmark that does not need it still run.
if [ "$purpose" = bench ]; then
	want=""
	for p in $missing; do
		case " $benchopt " in
		*" $p "*) available "$p" || {
			echo "easy-lb: $p is not packaged for this release: the benchmarks that use it will say so" >&2
			continue
		} ;;
		esac
		want="$want $p"
	done
	missing=$want
	[ -n "$missing" ] || exit 0
fi
# shellcheck disable=SC2086 # one word per package
apt-get install -y -q --no-install-recommends $missing >/dev/null ||
	{ echo "easy-lb: apt-get install$missing failed" >&2; exit 1; }
