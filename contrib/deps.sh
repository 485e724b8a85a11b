#!/bin/sh
# Install the Debian packages easy-lb needs to build, test and demo itself.
# As root it installs what is missing; otherwise it prints the exact command.
# usage: contrib/deps.sh [check]
set -u

pkgs="gcc make libc6-dev libcurl4-openssl-dev libjq-dev jq curl openssl \
bats parallel etcd-server etcd-client haproxy python3 socat clang shellcheck \
wrk gnuplot-nox hyperfine valgrind iproute2"

missing=""
for p in $pkgs; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
	case "$st" in
	*"ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "easy-lb: missing Debian packages:$missing" >&2
	echo "easy-lb: run: sudo apt-get install -y --no-install-recommends$missing" >&2
	exit 1
fi
echo "easy-lb: installing missing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# A failed index (say a foreign architecture's mirror mid-sync) must not
# stop the install of what the other indexes have.
apt-get update -q >/dev/null ||
	echo "easy-lb: apt-get update failed; installing from the lists there are" >&2
# shellcheck disable=SC2086 # one word per package
apt-get install -y -q --no-install-recommends $missing >/dev/null ||
	{ echo "easy-lb: apt-get install$missing failed" >&2; exit 1; }
