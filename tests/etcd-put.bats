#!/usr/bin/env bats
# etcd-put against a real etcd: values, deletes, leases and keepalive.

load helper

setup_file() { etcd_setup_file; }
teardown_file() { etcd_teardown_file; }

teardown() {
	[ -z "${KAPID:-}" ] || { kill -KILL "$KAPID" 2>/dev/null; wait "$KAPID" 2>/dev/null; } || true
}

absent() { ! etcd-get "$1" >/dev/null; }
present() { etcd-get "$1" >/dev/null; }

@test "etcd-put KEY VALUE writes the value and prints nothing" {
	run_split etcd-put "$(K a)" 'hello world'
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	[ "$(etcd-get "$(K a)")" = "hello world" ]
}

@test "etcd-put KEY - takes the exact bytes of stdin, NUL included" {
	printf 'a\0b\n\n\377' >"$BATS_TEST_TMPDIR/v"
	run_split etcd-put "$(K a)" - <"$BATS_TEST_TMPDIR/v"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	etcd-get "$(K a)" >"$BATS_TEST_TMPDIR/out"
	cmp "$BATS_TEST_TMPDIR/v" "$BATS_TEST_TMPDIR/out"
}

@test "etcd-put -d deletes one key and prints the count; a missing key exits 1" {
	etcd-put "$(K a)" 1
	etcd-put "$(K ab)" 2
	run_split etcd-put -d "$(K a)"
	[ "$status" -eq 0 ]
	[ "$output" = "1" ]
	[ "$stderr" = "" ]
	absent "$(K a)"
	present "$(K ab)"
	run_split etcd-put -d "$(K a)"
	[ "$status" -eq 1 ]
	[ "$output" = "0" ]
	[ "$stderr" = "" ]
}

@test "etcd-put -d -p deletes exactly the prefix" {
	etcd-put "$(K d/1)" 1
	etcd-put "$(K d/2)" 2
	etcd-put "$(K e/1)" 3
	run_split etcd-put -d -p "$(K d/)"
	[ "$status" -eq 0 ]
	[ "$output" = "2" ]
	[ "$stderr" = "" ]
	[ "$(etcd-get -p "$(K '')")" = "{\"$(K e/1)\":\"3\"}" ]
}

@test "etcd-put --ttl attaches a lease: prints its ID and the key expires" {
	run_split etcd-put --ttl 1 "$(K t)" v
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^[0-9]+$ ]]
	[ "$stderr" = "" ]
	present "$(K t)"
	wait_until 5 absent "$(K t)"
}

@test "etcd-put --keepalive keeps the key past its TTL; SIGTERM removes it at once" {
	etcd-put --ttl 1 --keepalive "$(K k)" 10.0.0.5:5000 2>"$BATS_TEST_TMPDIR/err" &
	KAPID=$!
	wait_until 5 present "$(K k)"
	sleep 2.5 # more than twice the TTL
	[ "$(etcd-get "$(K k)")" = "10.0.0.5:5000" ]
	kill -TERM "$KAPID"
	local rc=0
	wait "$KAPID" || rc=$?
	[ "$rc" -eq 0 ]
	KAPID=
	# revoked, not expired: gone without waiting for the TTL
	absent "$(K k)"
	[ "$(cat "$BATS_TEST_TMPDIR/err")" = "" ]
}

@test "etcd-put --keepalive --follow: each new line of stdin is the value, at most once a second, the same one not written again; its end removes the key" {
	local k r1 i
	k=$(K follow)
	mkfifo "$BATS_TEST_TMPDIR/in"
	etcd-put --ttl 5 --keepalive --follow "$k" - <"$BATS_TEST_TMPDIR/in" \
		>"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" &
	BGPID=$!
	exec 5>"$BATS_TEST_TMPDIR/in"
	# (nothing until the first line)
	run_split etcd-get "$k"
	[ "$status" -eq 1 ]
	echo one >&5
	wait_until 5 bash -c "[ \"\$(etcd-get '$k')\" = one ]"
	# a burst: the last line is the value, a second after the first put
	for i in two three four; do echo "$i" >&5; done
	wait_until 5 bash -c "[ \"\$(etcd-get '$k')\" = four ]"
	r1=$(etcd-get --revision)
	echo four >&5
	# (the same value, and past the TTL: kept alive, not written)
	sleep 6
	[ "$(etcd-get --revision)" = "$r1" ]
	[ "$(etcd-get "$k")" = four ]
	exec 5>&-
	wait "$BGPID"
	BGPID=
	run_split etcd-get "$k"
	[ "$status" -eq 1 ]
	[ -z "$(cat "$BATS_TEST_TMPDIR/out")" ]
	[ -z "$(cat "$BATS_TEST_TMPDIR/err")" ]
}

@test "etcd-put --follow needs --keepalive and the value -" {
	run_split etcd-put --ttl 5 --follow "$(K f)" -
	[ "$status" -eq 100 ]
	[ -z "$output" ]
	[ "$stderr" = "etcd-put: --follow needs --keepalive and the value -" ]
	run_split etcd-put --ttl 5 --keepalive --follow "$(K f)" v
	[ "$status" -eq 100 ]
	[ "$stderr" = "etcd-put: --follow needs --keepalive and the value -" ]
}

@test "etcd-put --keepalive killed -9 leaves the key only until the TTL" {
	etcd-put --ttl 2 --keepalive "$(K k9)" v &
	KAPID=$!
	wait_until 5 present "$(K k9)"
	kill -KILL "$KAPID"
	wait "$KAPID" 2>/dev/null || true
	KAPID=
	present "$(K k9)"
	wait_until 6 absent "$(K k9)"
}

@test "etcd-put --keepalive registers again when its lease is gone" {
	etcd-put --ttl 2 --keepalive "$(K re)" v 2>"$BATS_TEST_TMPDIR/err" &
	KAPID=$!
	wait_until 5 present "$(K re)"
	# Revoking the lease behind its back is what expiry during an
	# outage looks like when etcd returns.
	local lease
	# (grep, not jq: jq 1.6 rounds a 64-bit lease ID)
	lease=$(ETCDCTL_API=3 etcdctl -w json get "$(K re)" |
		grep -o '"lease":[0-9]*' | cut -d: -f2)
	ETCDCTL_API=3 etcdctl lease revoke \
		"$(printf '%x' "$lease")" >/dev/null
	wait_until 10 present "$(K re)"
	kill -TERM "$KAPID"
	wait "$KAPID"
	KAPID=
	grep -q "^etcd-put: $(K re): lease [0-9]* expired; registering again$" "$BATS_TEST_TMPDIR/err"
	absent "$(K re)"
}

@test "etcd-put --keepalive rides out an etcd restart" {
	etcd-put --ttl 3 --keepalive "$(K out)" v 2>"$BATS_TEST_TMPDIR/err" &
	KAPID=$!
	wait_until 5 present "$(K out)"
	etcd_stop main
	sleep 1.5
	etcd_start main
	wait_until 10 grep -q "etcd reachable again" "$BATS_TEST_TMPDIR/err"
	sleep 3.5 # past the TTL: only a working keepalive keeps it
	present "$(K out)"
	grep -q "^etcd-put: $(K out): .*cannot connect.*; retrying$" "$BATS_TEST_TMPDIR/err"
	kill -TERM "$KAPID"
	wait "$KAPID"
	KAPID=
	absent "$(K out)"
}

@test "etcd-put usage errors exit 100" {
	run_split etcd-put "$(K a)"
	[ "$status" -eq 100 ]
	[[ "$stderr" == "usage: etcd-put "* ]]
	run_split etcd-put --keepalive "$(K a)" v
	[ "$status" -eq 100 ]
	[ "$stderr" = "etcd-put: --keepalive needs --ttl" ]
	run_split etcd-put --ttl 0 "$(K a)" v
	[ "$status" -eq 100 ]
	[ "$stderr" = "etcd-put: --ttl 0: too small" ]
	run_split etcd-put -d "$(K a)" v
	[ "$status" -eq 100 ]
	[ "$output" = "" ]
}
