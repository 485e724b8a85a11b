#!/bin/sh
# Install the Debian packages `make cross ARCH=...` and tests/arm64.bats
# need: the cross gcc, the target's libc, libcurl and libjq through Debian
# multiarch, and qemu-user to run the result. As root it installs what is
# missing; otherwise it prints the exact commands.
# usage: contrib/deps-cross.sh [ARCH]       (default aarch64)
#        contrib/deps-cross.sh -t ARCH      print "DEBARCH TRIPLET QEMU"
# ARCH is a CPU name as uname -m or GNU prints it (aarch64, armv7l,
# x86_64, riscv64, ...) or a Debian architecture name (arm64, armhf, ...).
set -u

# arch_info ARCH: set deb (Debian arch), triplet (GNU triplet of the cross
# gcc) and qemu (qemu-user binary), or fail for an unknown ARCH.
arch_info() {
	case $1 in
	aarch64 | arm64) deb=arm64 triplet=aarch64-linux-gnu qemu=qemu-aarch64 ;;
	armhf | armv7l | armv7 | arm) deb=armhf triplet=arm-linux-gnueabihf qemu=qemu-arm ;;
	armel) deb=armel triplet=arm-linux-gnueabi qemu=qemu-arm ;;
	x86_64 | amd64) deb=amd64 triplet=x86_64-linux-gnu qemu=qemu-x86_64 ;;
	i386 | i486 | i586 | i686) deb=i386 triplet=i686-linux-gnu qemu=qemu-i386 ;;
	ppc64le | ppc64el | powerpc64le) deb=ppc64el triplet=powerpc64le-linux-gnu qemu=qemu-ppc64le ;;
	riscv64) deb=riscv64 triplet=riscv64-linux-gnu qemu=qemu-riscv64 ;;
	s390x) deb=s390x triplet=s390x-linux-gnu qemu=qemu-s390x ;;
	mips64el) deb=mips64el triplet=mips64el-linux-gnuabi64 qemu=qemu-mips64el ;;
	*) return 1 ;;
	esac
}

if [ "${1:-}" = -t ]; then
	arch_info "${2:-}" || {
		echo "easy-lb: unknown ARCH '${2:-}'" >&2
		exit 100
	}
	echo "$deb $triplet $qemu"
	exit 0
fi
arch=${1:-aarch64}
arch_info "$arch" || {
	echo "easy-lb: unknown ARCH '$arch' (try aarch64, armhf, x86_64, i686, ppc64le, riscv64, s390x, mips64el)" >&2
	exit 100
}

# qemu-user is the package on bookworm and later; qemu-user-static (the
# same emulators, statically linked) serves as well when it is there.
pkgs="gcc-$(echo "$triplet" | tr _ -) libc6-dev-$deb-cross libcurl4-openssl-dev:$deb libjq-dev:$deb libssl-dev:$deb file"
command -v "$qemu" >/dev/null 2>&1 || command -v "$qemu-static" >/dev/null 2>&1 ||
	pkgs="$pkgs qemu-user"

missing=""
for p in $pkgs; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
	case "$st" in
	*"ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0
addarch=""
if [ "$deb" != "$(dpkg --print-architecture)" ] &&
	! dpkg --print-foreign-architectures | grep -qx "$deb"; then
	addarch=$deb
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "easy-lb: missing Debian packages for ARCH=$arch:$missing" >&2
	echo "easy-lb: run:" >&2
	[ -n "$addarch" ] && echo "  sudo dpkg --add-architecture $deb" >&2
	echo "  sudo apt-get update" >&2
	echo "  sudo apt-get install -y --no-install-recommends -o Dpkg::Options::=--path-exclude=/usr/share/man/*$missing" >&2
	exit 1
fi
# heal: after a failed install, leave dpkg as it was found, healthy:
# remove the :$deb packages it left unpacked or half-configured, then
# let apt settle the rest, so that no later install on this machine
# fails because of this one.
heal() {
	_broken=$(dpkg-query -W -f='${binary:Package} ${Status}\n' 2>/dev/null |
		awk -v a=":$deb" '$NF != "installed" && $NF != "not-installed" &&
			$NF != "config-files" && index($1, a) { print $1 }')
	# shellcheck disable=SC2086
	[ -z "$_broken" ] || dpkg --purge --force-depends $_broken >/dev/null 2>&1
	apt-get install -f -y -q >/dev/null 2>&1
	if [ -n "$(dpkg --audit 2>/dev/null)" ] || ! apt-get check -q >/dev/null 2>&1; then
		echo "easy-lb: dpkg is not healthy after the failed install: run dpkg --audit" >&2
	else
		echo "easy-lb: the failed install was undone; dpkg is healthy" >&2
	fi
}

echo "easy-lb: installing Debian packages for ARCH=$arch:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
if [ -n "$addarch" ]; then
	dpkg --add-architecture "$deb" ||
		{ echo "easy-lb: dpkg --add-architecture $deb failed" >&2; exit 1; }
fi
# The :$deb libraries are Multi-Arch: same, so they sit next to the native
# ones (nothing is removed), but apt moves a native library to the exact
# version of its :$deb twin when the two differ: a point upgrade at most.
# A mirror caught mid-sync fails one index of many: say so and let the
# install decide whether the lists it has are enough.
apt-get update -q >/dev/null ||
	echo "easy-lb: apt-get update failed; trying the install anyway" >&2
# The :$deb -dev packages may ship a man page that differs from its
# native twin's (trixie's libpsl-dev: libpsl.3.gz), which dpkg refuses
# to overwrite: leave the man pages out of this install, and nothing
# else (a cross toolchain has no use for them).
# shellcheck disable=SC2086
if ! apt-get install -y -q --no-install-recommends \
	-o Dpkg::Options::=--path-exclude=/usr/share/man/* $missing >/dev/null; then
	echo "easy-lb: apt-get install$missing failed" >&2
	heal
	exit 1
fi
