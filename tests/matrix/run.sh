#!/bin/sh
# tests/matrix/run.sh (make matrix): easy-lb on every Debian release it
# supports, met as a newcomer meets it.  For each release, a minimal
# chroot (debootstrap minbase with git, make and ca-certificates, built
# once and kept in MATRIX_CACHE) is copied afresh, the tree's HEAD is
# cloned into it, and the README's `make check` runs there as root: it
# installs what it needs from Debian's registry, builds, and runs every
# test.  The "experimental" row runs the haproxy-facing suites once more
# in forky with haproxy from Debian experimental.  It prints one table
# (versions, counts, wall time) and a final "N passed, N failed" line,
# and records the run in tests/matrix/results.md, from which the
# README's "Tested on" section is generated.
#
# usage: tests/matrix/run.sh [ROW...]
#   ROW: bookworm, trixie, forky, experimental (default: all four)
# environment:
#   MATRIX_CACHE   the base chroots, apt's downloads and the logs
#                  (default /var/cache/easy-lb-matrix)
#   MATRIX_MIRROR  Debian's registry (default: the one this machine's own
#                  apt sources name, /etc/apt/sources.list.d/*.sources or
#                  /etc/apt/sources.list)
#   MATRIX_SECURITY  its security archive (default: the apt sources'
#                  security one, else MATRIX_MIRROR's sibling
#                  debian-security)
#   MATRIX_FRESH=1 build the base chroots again
#   MATRIX_KEEP=1  keep each row's chroot (run-ROW) for a look afterwards
# Needs root (debootstrap, chroot, mount); installs debootstrap if missing.
set -u
cd "$(dirname "$0")/../.." || exit 111
REPO=$(pwd)
cache=${MATRIX_CACHE:-/var/cache/easy-lb-matrix}
# apt_uris: "main URI" and "security URI" lines, from the machine's apt
# sources (deb822 stanzas, then one-line entries), in their order.
apt_uris() {
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		awk 'BEGIN { RS = ""; FS = "\n" }
		{
			uri = ""; suites = ""; deb = 0; on = 1
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^Types:/ && $i ~ /[ \t]deb([ \t]|$)/) deb = 1
				if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); uri = a[2] }
				if ($i ~ /^Suites:/) suites = $i
				if ($i ~ /^Enabled:[ \t]*no/) on = 0
			}
			if (deb && on && uri != "")
				print (suites ~ /-security/ ? "security " : "main ") uri
		}' "$f"
	done
	[ -r /etc/apt/sources.list ] &&
		awk '$1 == "deb" { sub(/\[[^]]*\][ \t]*/, ""); $0 = $0
			print ($3 ~ /-security/ ? "security " : "main ") $2 }' /etc/apt/sources.list
}
uris=$(apt_uris)
mirror=${MATRIX_MIRROR:-$(echo "$uris" | awk '$1 == "main" { print $2; exit }')}
mirror=${mirror%/}
[ -n "$mirror" ] || {
	echo "matrix: no Debian mirror in this machine's apt sources: set MATRIX_MIRROR" >&2
	exit 100
}
security=${MATRIX_SECURITY:-$(echo "$uris" | awk '$1 == "security" { print $2; exit }')}
security=${security:-${mirror%/debian}/debian-security}
rows=${*:-bookworm trixie forky experimental}
# The suites that face haproxy, run again on haproxy from experimental.
hapsuites="tests/hap-reload.bats tests/balancer.bats tests/supervision.bats tests/demo.bats \
tests/hostile.bats tests/https.bats tests/hap-certs.bats tests/keys.bats tests/routes.bats tests/routes-runtime.bats tests/recipes.bats tests/status.bats tests/chaos/haproxy.bats \
tests/chaos/disk.bats"
# The release whose haproxy is the container image's (contrib/Dockerfile).
imagerow=trixie

say() { echo "matrix: $*" >&2; }

[ "$(id -u)" -eq 0 ] || {
	say "needs root (debootstrap, chroot and mount): run sudo make matrix"
	exit 100
}
for r in $rows; do
	case $r in
	bookworm | trixie | forky | experimental) ;;
	*) say "unknown row '$r' (bookworm, trixie, forky, experimental)"; exit 100 ;;
	esac
done
if ! command -v debootstrap >/dev/null 2>&1; then
	say "installing debootstrap"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		debootstrap >/dev/null || { say "apt-get install debootstrap failed"; exit 111; }
fi
mkdir -p "$cache/logs" || exit 111
exec 9>"$cache/lock"
flock -n 9 || { say "another matrix run holds $cache/lock"; exit 111; }
[ -z "$(git status --porcelain --untracked-files=no)" ] ||
	say "the tree has uncommitted changes: the matrix tests HEAD ($(git rev-parse --short HEAD)) only"

# base REL: the cached minimal chroot of REL, built when missing.
base() {
	_b=$cache/base-$1
	[ -z "${MATRIX_FRESH:-}" ] && [ -f "$_b/.easy-lb-base" ] && return 0
	rm -rf "$_b" "$_b.new"
	_script=""
	# bookworm's debootstrap has no script for forky: sid's serves.
	[ -f "/usr/share/debootstrap/scripts/$1" ] || _script=/usr/share/debootstrap/scripts/sid
	say "debootstrap $1"
	# shellcheck disable=SC2086 # no script: no word
	debootstrap --variant=minbase --include=git,make,ca-certificates \
		"$1" "$_b.new" "$mirror" $_script >"$cache/logs/debootstrap-$1.log" 2>&1 || {
		say "debootstrap $1 failed: $(tail -n 3 "$cache/logs/debootstrap-$1.log")"
		return 1
	}
	# What a Debian installer gives every machine and debootstrap does
	# not: the hosts file (localhost on both families), and the
	# release's updates and security fixes, installed.
	printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n' \
		>"$_b.new/etc/hosts"
	{
		echo "deb $mirror $1 main"
		echo "deb $mirror $1-updates main"
		echo "deb $security $1-security main"
	} >"$_b.new/etc/apt/sources.list"
	# A testing release's Release file can outlive its Valid-Until on a
	# mirror that lags; a stale index is not what is tested here.
	echo 'Acquire::Check-Valid-Until "false";' >"$_b.new/etc/apt/apt.conf.d/99matrix"
	# Packages must not start their services (etcd on 2379, haproxy on
	# 80) on the host's network: a chroot has no init of its own.
	printf '#!/bin/sh\nexit 101\n' >"$_b.new/usr/sbin/policy-rc.d"
	chmod 755 "$_b.new/usr/sbin/policy-rc.d"
	cp -L /etc/resolv.conf "$_b.new/etc/resolv.conf" 2>/dev/null
	for _m in proc dev; do mount --bind "/$_m" "$_b.new/$_m"; done
	chroot "$_b.new" sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get -y -q upgrade' \
		>>"$cache/logs/debootstrap-$1.log" 2>&1
	_rc=$?
	umount "$_b.new/dev" "$_b.new/proc"
	[ "$_rc" -eq 0 ] || {
		say "apt-get upgrade in $1 failed: $(tail -n 3 "$cache/logs/debootstrap-$1.log")"
		return 1
	}
	touch "$_b.new/.easy-lb-base"
	mv "$_b.new" "$_b"
}

# The chroot of the row being run, and the mounts made in it.
root=""
mounted=""

# enter REL ROW: a fresh copy of REL's base as ROW's chroot, mounted, with
# a clone of HEAD in /root/easy-lb.
enter() {
	base "$1" || return 1
	root=$cache/run-$2
	leave || return 1
	root=$cache/run-$2
	rm -rf --one-file-system "$root"
	cp -a "$cache/base-$1" "$root" || return 1
	cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
	# apt's downloads are kept between runs (each run still installs).
	mkdir -p "$cache/apt-$1"
	for _m in proc sys dev dev/pts dev/shm run tmp var/cache/apt/archives; do
		mkdir -p "$root/$_m"
		case $_m in
		proc) mount -t proc proc "$root/proc" ;;
		sys) mount -t sysfs sysfs "$root/sys" ;;
		dev | dev/pts) mount --bind "/$_m" "$root/$_m" ;;
		dev/shm | run | tmp) mount -t tmpfs -o mode=1777 tmpfs "$root/$_m" ;;
		var/cache/apt/archives) mount --bind "$cache/apt-$1" "$root/$_m" ;;
		esac || { say "mount $root/$_m failed"; return 1; }
		mounted="$root/$_m $mounted"
	done
	chmod 755 "$root/run"
	git clone -q --no-hardlinks "$REPO" "$root/root/easy-lb" || return 1
}

# leave: end what still runs in the chroot, unmount it, remove it.
leave() {
	[ -n "$root" ] && [ -d "$root" ] || return 0
	for _p in /proc/[0-9]*; do
		case $(readlink "$_p/root" 2>/dev/null) in
		"$root" | "$root"/*) kill -KILL "${_p#/proc/}" 2>/dev/null ;;
		esac
	done
	# (whatever a test mounted inside, innermost first, then ours)
	for _m in $(awk -v r="$root/" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r) $mounted; do
		umount "$_m" 2>/dev/null || umount -l "$_m" 2>/dev/null
	done
	mounted=""
	if awk -v r="$root/" 'index($2, r) == 1 { f = 1 } END { exit !f }' /proc/mounts; then
		say "mounts left under $root: not removed"
		root=""
		return 1
	fi
	[ -n "${MATRIX_KEEP:-}" ] || rm -rf --one-file-system "$root"
	root=""
}
trap 'leave' EXIT
trap 'exit 130' INT TERM

# inside CMD: run the shell command CMD in the chroot's clone, as root,
# with nothing of the caller's environment and no terminal.  Nothing may
# skip; the image's test installs into the chroot's /usr/local.
inside() {
	chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		EASYLB_NO_SKIP=1 EASYLB_IMAGE_PREFIX=/usr/local \
		sh -c "cd /root/easy-lb && $1" </dev/null
}

# versions: "haproxy etcd jq curl" as the chroot's programs print them.
versions() {
	# shellcheck disable=SC2016 # expanded in the chroot
	inside 'printf "%s %s %s %s\n" \
		"$(haproxy -v 2>/dev/null | sed -n "1s/^HA-*Proxy version \([^ ]*\).*/\1/p")" \
		"$(etcd --version 2>/dev/null | sed -n "s/^etcd Version: //p")" \
		"$(jq --version 2>/dev/null | sed "s/^jq-//")" \
		"$(curl --version 2>/dev/null | sed -n "1s/^curl \([^ ]*\).*/\1/p")"'
}

# count LOG: "PASSED FAILED SKIPPED" from the summary of tests/run.sh;
# a run that never got to its summary (the install or the build
# failed) counts as one failure.
count() {
	_s=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n 1)
	_k=$(sed -n 's/^\([0-9]*\) skipped$/\1/p' "$1" | tail -n 1)
	if [ -z "$_s" ]; then
		echo "0 1 ${_k:-0}"
	else
		# shellcheck disable=SC2086 # "N passed, N failed" as words
		set -- $_s
		echo "$1 $3 ${_k:-0}"
	fi
}

table=$(mktemp) || exit 111
trap 'leave; rm -f "$table"' EXIT
total_p=0 total_f=0 t_all=$(date +%s)
head=$(git rev-parse --short HEAD)
for row in $rows; do
	log=$cache/logs/$row.log
	t0=$(date +%s)
	say "$row: started, log in $log"
	case $row in
	experimental)
		# haproxy from experimental first, then the suites through the
		# README's command (which finds its haproxy installed).
		if enter forky experimental >"$log" 2>&1; then
			{
				echo "deb $mirror experimental main" >"$root/etc/apt/sources.list.d/experimental.list"
				inside 'apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -t experimental haproxy >/dev/null' &&
					inside "make check TESTS='$hapsuites'"
			} >>"$log" 2>&1
		fi
		rel="forky + experimental haproxy (its suites)" ;;
	*)
		enter "$row" "$row" >"$log" 2>&1 && inside 'make check' >>"$log" 2>&1
		rel=$row ;;
	esac
	v=$(versions 2>/dev/null) || v=""
	# (a fuzzer's findings outlive the chroot)
	for _a in "$root"/root/easy-lb/tests/fuzz/build/*-crash-* \
		"$root"/root/easy-lb/tests/fuzz/build/*-leak-* \
		"$root"/root/easy-lb/tests/fuzz/build/*-timeout-*; do
		[ -f "$_a" ] || continue
		mkdir -p "$cache/logs/$row-fuzz" && cp "$_a" "$cache/logs/$row-fuzz/"
		say "$row: a fuzzer's reproducer kept: $cache/logs/$row-fuzz/${_a##*/}"
	done
	# shellcheck disable=SC2046,SC2086 # seven words
	set -- $(count "$log") $v
	p=$1 f=$2 k=$3 hv=${4:--} ev=${5:--} jv=${6:--} cv=${7:--}
	# The image's haproxy (contrib/Dockerfile) is the one tested here.
	if [ "$row" = "$imagerow" ]; then
		tag=$(sed -n 's/^FROM haproxy:\([0-9]*\.[0-9]*\).*/\1/p' contrib/Dockerfile)
		case $hv in
		"$tag" | "$tag".*) ;;
		*)
			echo "matrix: contrib/Dockerfile runs haproxy $tag; $row, its twin, has $hv" | tee -a "$log" >&2
			f=$((f + 1)) ;;
		esac
	fi
	leave
	# (skips count as failures in the total: nothing may skip here)
	total_p=$((total_p + p)) total_f=$((total_f + f + k))
	dt=$(($(date +%s) - t0))
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %d min %02d s |\n' \
		"$rel" "$hv" "$ev" "$jv" "$cv" "$p" "$f" "$k" $((dt / 60)) $((dt % 60)) >>"$table"
	say "$row: $p passed, $f failed, $k skipped in $dt s"
	if [ "$f" -ne 0 ] || [ "$k" -ne 0 ]; then
		say "$row: what failed (the whole log: $log):"
		grep -E -A 8 '^not ok |# skip|^E: |failed' "$log" | head -n 200 >&2
	fi
done

res=tests/matrix/results.md
dt=$(($(date +%s) - t_all))
{
	echo "# easy-lb: the last platform matrix run"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $head, $(uname -m), ${dt} s in all"
	echo "- command: \`make matrix\` (tests/matrix/run.sh); each row is a fresh chroot and a fresh clone running \`make check\` as root"
	echo
	echo "<!-- summary:begin -->"
	echo "| release | haproxy | etcd | jq | curl | passed | failed | skipped | wall time |"
	echo "| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: |"
	cat "$table"
	echo "<!-- summary:end -->"
} >"$res.new" && mv -f "$res.new" "$res"
sed -n '/^| release/,/^<!-- summary:end/p' "$res" | sed '$d'
sh tests/matrix/readme.sh || say "tests/matrix/readme.sh exited $?"
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ] && [ "$total_p" -gt 0 ]
