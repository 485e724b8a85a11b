#!/usr/bin/env bats
# The arm64 build (make cross ARCH=aarch64), run under qemu-user against a
# real etcd on loopback, answers byte for byte as the native build does.

load helper

# setup_file installs the cross toolchain when missing (as root, as on CI)
# and cross-builds every tool there is a source for. bats 1.8 cannot skip
# from setup_file, so a missing toolchain is passed on as the reason every
# test skips with.
setup_file() {
	etcd_setup_file
	export A="$REPO/build-aarch64" CROSS_SKIP=""
	local t0 t1 t2 log tools="" f
	log="$TESTTMP/cross.log"
	t0=$(date +%s%N)
	if ! sh "$REPO/contrib/deps-cross.sh" aarch64 >"$log" 2>&1; then
		CROSS_SKIP="cross toolchain unavailable: $(tr -s '\n ' '  ' <"$log")"
		return 0
	fi
	t1=$(date +%s%N)
	for f in "$REPO"/tools/*.c; do
		f=${f##*/}
		tools="$tools ${f%.c}"
	done
	# A make of its own: none of the caller's flags or jobserver.
	if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$REPO" --no-print-directory \
		cross ARCH=aarch64 TOOLS="${tools# }" >"$log" 2>&1; then
		cat "$log" >&2
		return 1
	fi
	t2=$(date +%s%N)
	printf '# arm64: toolchain check/install %d ms, cross build of%s %d ms\n' \
		$(((t1 - t0) / 1000000)) "$tools" $(((t2 - t1) / 1000000)) >&3
}
teardown_file() { etcd_teardown_file; }

setup() {
	[ -z "$CROSS_SKIP" ] || skip "$CROSS_SKIP"
}

# arm TOOL ARGS...: run the arm64 TOOL under qemu. Its loader and libraries
# are Debian's multiarch arm64 ones (libc6:arm64, libcurl4:arm64, libjq1:arm64
# in /usr/lib/aarch64-linux-gnu), the set apt installed together, so the
# loader and libc always match; QEMU_LD_PREFIX=/ keeps a caller's prefix out.
arm() {
	local t=$1
	shift
	QEMU_LD_PREFIX=/ qemu-aarch64 "$A/$t" "$@"
}

@test "arm64: every tool is an aarch64 executable" {
	local f n=0
	for f in "$REPO"/tools/*.c; do
		f=${f##*/}
		run file -L "$A/${f%.c}"
		[ "$status" -eq 0 ]
		[[ "$output" == *"ELF 64-bit LSB"*"ARM aarch64"* ]]
		n=$((n + 1))
	done
	[ "$n" -ge 3 ]
}

@test "arm64: the loader finds the arm64 libcurl and libjq" {
	QEMU_LD_PREFIX=/ run_split qemu-aarch64 /lib/ld-linux-aarch64.so.1 --list "$A/etcd-get"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[[ "$output" != *"not found"* ]]
	[[ "$output" =~ libcurl\.so\.4\ =\>\ (/usr)?/lib/aarch64-linux-gnu/libcurl\.so\.4 ]]
	[[ "$output" =~ libjq\.so\.1\ =\>\ (/usr)?/lib/aarch64-linux-gnu/libjq\.so\.1 ]]
}

@test "arm64: every tool prints the same --version as the native one" {
	local f t
	for f in "$REPO"/tools/*.c; do
		f=${f##*/}
		t=${f%.c}
		run_split arm "$t" --version
		[ "$status" -eq 0 ]
		[ "$output" = "$("$REPO/bin/$t" --version)" ]
		[[ "$output" == "$t "[0-9]* ]]
		[ "$stderr" = "" ]
	done
}

@test "arm64: etcd-put then etcd-get gives back the exact bytes" {
	printf 'line1\nline2\n\tünïcødé ✓\001\377\n\n' >"$BATS_TEST_TMPDIR/v"
	run_split arm etcd-put "$(K a)" - <"$BATS_TEST_TMPDIR/v"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	arm etcd-get "$(K a)" >"$BATS_TEST_TMPDIR/arm"
	cmp "$BATS_TEST_TMPDIR/v" "$BATS_TEST_TMPDIR/arm"
	# and the native tools read the same bytes
	etcd-get "$(K a)" >"$BATS_TEST_TMPDIR/native"
	cmp "$BATS_TEST_TMPDIR/v" "$BATS_TEST_TMPDIR/native"
	run_split arm etcd-get "$(K a)"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
}

@test "arm64: etcd-get of a missing key exits 1 and prints nothing" {
	run_split arm etcd-get "$(K missing)"
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = "" ]
}

@test "arm64: etcd-get -p prints the same JSON as the native one" {
	etcd-put "$(K p/b)" 'two
lines'
	etcd-put "$(K p/a)" 'quote " and \ backslash'
	arm etcd-put "$(K 'p/c d')" 'ünï'
	run_split arm etcd-get -p "$(K p/)"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	local t="/t$BATS_TEST_NUMBER"
	[ "$output" = "{\"$t/p/a\":\"quote \\\" and \\\\ backslash\",\"$t/p/b\":\"two\\nlines\",\"$t/p/c d\":\"ünï\"}" ]
	arm etcd-get -p "$(K p/)" >"$BATS_TEST_TMPDIR/arm"
	etcd-get -p "$(K p/)" >"$BATS_TEST_TMPDIR/native"
	cmp "$BATS_TEST_TMPDIR/arm" "$BATS_TEST_TMPDIR/native"
}

@test "arm64: etcd-put -d deletes a prefix and prints the count" {
	etcd-put "$(K d/1)" x
	etcd-put "$(K d/2)" y
	run_split arm etcd-put -d -p "$(K d/)"
	[ "$status" -eq 0 ]
	[ "$output" = "2" ]
	[ "$stderr" = "" ]
	run_split arm etcd-put -d -p "$(K d/)"
	[ "$status" -eq 1 ]
	[ "$output" = "0" ]
}

@test "arm64: etcd-watch --once prints the first change as one JSON line" {
	local r
	r=$(($(etcd-get --revision) + 1))
	# From a revision still to come, so the watch cannot miss the put
	# however long qemu takes to start.
	QEMU_LD_PREFIX=/ timeout 20 qemu-aarch64 "$A/etcd-watch" --once --rev "$r" -p "$(K w/)" \
		>"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" &
	local pid=$! st=0
	arm etcd-put "$(K w/x)" first
	etcd-put "$(K w/y)" second
	wait "$pid" || st=$?
	[ "$st" -eq 0 ]
	[ "$(cat "$BATS_TEST_TMPDIR/out")" = "{\"type\":\"put\",\"key\":\"$(K w/x)\",\"value\":\"first\",\"revision\":$r}" ]
	[ "$(cat "$BATS_TEST_TMPDIR/err")" = "" ]
}

@test "arm64: usage errors exit 100 with the native message" {
	run_split arm etcd-get
	[ "$status" -eq 100 ]
	[ "$output" = "" ]
	local native
	native=$(etcd-get 2>&1 >/dev/null || true)
	[ -n "$stderr" ]
	[ "$stderr" = "$native" ]
}

@test "arm64: tmpl renders the shipped template byte for byte as the native one" {
	# This file's etcd is private, so /services/ here is this test's own.
	etcd-put /services/whoami/upstream/w1 127.0.0.1:9001
	etcd-put /services/whoami/upstream/w2 '127.0.0.1:9002 weight 256'
	etcd-put /services/users/location /api/users
	etcd-put /services/users/backend/balance source
	etcd-put /services/users/upstream/u1 127.0.0.1:9101
	etcd-put /services/ui/location /
	etcd-put /services/ui/upstream/ui1 127.0.0.1:9201
	etcd-put /services/idle/location /idle
	local d=$BATS_TEST_TMPDIR
	arm etcd-get -p /services/ >"$d/data.json"
	etcd-get -p /services/ >"$d/data-native.json"
	cmp "$d/data.json" "$d/data-native.json"
	local tpl="$REPO/share/easy-lb/haproxy.cfg.tmpl" st_n=0 st_a=0
	LB_PORT=8080 tmpl -d "$d/data.json" "$tpl" >"$d/native.cfg" 2>"$d/native.err" || st_n=$?
	LB_PORT=8080 arm tmpl -d "$d/data.json" "$tpl" >"$d/arm.cfg" 2>"$d/arm.err" || st_a=$?
	[ "$st_n" -eq 0 ]
	[ "$st_a" -eq 0 ]
	[ -s "$d/native.cfg" ]
	cmp "$d/native.cfg" "$d/arm.cfg"
	cmp "$d/native.err" "$d/arm.err"
}
