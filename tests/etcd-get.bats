#!/usr/bin/env bats
# etcd-get against a real etcd.

load helper

setup_file() { etcd_setup_file; }
teardown_file() { etcd_teardown_file; }

@test "etcd-get prints the exact bytes of a value" {
	printf 'line1\nline2\n\tünïcødé ✓\n\n' >"$BATS_TEST_TMPDIR/v"
	etcd-put "$(K a)" - <"$BATS_TEST_TMPDIR/v"
	run_split etcd-get "$(K a)"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	etcd-get "$(K a)" >"$BATS_TEST_TMPDIR/out"
	cmp "$BATS_TEST_TMPDIR/v" "$BATS_TEST_TMPDIR/out"
}

@test "etcd-get keeps binary bytes and keys with spaces" {
	printf '\001\377\376\200 x' >"$BATS_TEST_TMPDIR/v"
	etcd-put "$(K 'a key with spaces')" - <"$BATS_TEST_TMPDIR/v"
	etcd-get "$(K 'a key with spaces')" >"$BATS_TEST_TMPDIR/out"
	cmp "$BATS_TEST_TMPDIR/v" "$BATS_TEST_TMPDIR/out"
}

@test "etcd-get of a missing key prints nothing and exits 1" {
	run_split etcd-get "$(K missing)"
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = "" ]
}

@test "etcd-get of an empty value prints nothing and exits 0" {
	etcd-put "$(K empty)" ""
	run_split etcd-get "$(K empty)"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "" ]
}

@test "etcd-get -p prints one sorted JSON object of the prefix only" {
	etcd-put "$(K p/b)" 'two
lines'
	etcd-put "$(K p/a)" 'quote " and \ backslash'
	etcd-put "$(K 'p/c d')" 'ünï'
	etcd-put "$(K p)" 'the prefix itself'
	etcd-put "$(K q/a)" 'outside'
	run_split etcd-get -p "$(K p/)"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	local t="/t$BATS_TEST_NUMBER"
	[ "$output" = "{\"$t/p/a\":\"quote \\\" and \\\\ backslash\",\"$t/p/b\":\"two\\nlines\",\"$t/p/c d\":\"ünï\"}" ]
	# and it is what jq reads back
	[ "$(etcd-get -p "$(K p/)" | jq -r '.["'"$t"'/p/b"]')" = 'two
lines' ]
}

@test "etcd-get -p of an empty prefix prints {}" {
	run_split etcd-get -p "$(K nothing/)"
	[ "$status" -eq 0 ]
	[ "$output" = "{}" ]
	[ "$stderr" = "" ]
}

@test "etcd-get -p leaves out non-UTF-8 values with a warning; --base64 keeps them" {
	etcd-put "$(K u/good)" 'fine'
	printf 'bad\377' | etcd-put "$(K u/bad)" -
	run_split etcd-get -p "$(K u/)"
	[ "$status" -eq 0 ]
	[ "$output" = "{\"/t$BATS_TEST_NUMBER/u/good\":\"fine\"}" ]
	[ "$stderr" = "etcd-get: /t$BATS_TEST_NUMBER/u/bad: value is not valid UTF-8; key left out (--base64 keeps it)" ]
	run_split etcd-get -p --base64 "$(K u/)"
	[ "$status" -eq 0 ]
	[ "$output" = "{\"/t$BATS_TEST_NUMBER/u/bad\":\"YmFk/w==\",\"/t$BATS_TEST_NUMBER/u/good\":\"ZmluZQ==\"}" ]
	[ "$stderr" = "" ]
}

@test "etcd-get --rev reads an old revision; --revision prints the current one" {
	etcd-put "$(K r)" old
	local r1
	r1=$(etcd-get --revision)
	etcd-put "$(K r)" new
	run_split etcd-get --rev "$r1" "$(K r)"
	[ "$status" -eq 0 ]
	[ "$output" = "old" ]
	[ "$stderr" = "" ]
	run_split etcd-get --revision
	[ "$status" -eq 0 ]
	[ "$output" -eq $((r1 + 1)) ]
	run_split etcd-get -p --rev "$r1" "$(K r)"
	[ "$output" = "{\"/t$BATS_TEST_NUMBER/r\":\"old\"}" ]
}

@test "etcd-get --rev of a future revision is refused with etcd's reason" {
	run_split etcd-get --rev 99999999 "$(K r)"
	[ "$status" -eq 100 ]
	[ "$output" = "" ]
	[[ "$stderr" == "etcd-get: /t$BATS_TEST_NUMBER/r: $ETCD_URL_main: HTTP 400: etcdserver: mvcc: required revision is a future revision" ]]
}

@test "etcd-get --rev of a compacted revision says so, exit 111" {
	etcd-put "$(K c)" old
	local r
	r=$(etcd-get --revision)
	etcd-put "$(K c)" new
	curl -sf -XPOST "$ETCD_URL_main/v3/kv/compaction" -d "{\"revision\":$((r + 1))}" >/dev/null
	run_split etcd-get --rev "$r" "$(K c)"
	[ "$status" -eq 111 ]
	[ "$output" = "" ]
	[ "$stderr" = "etcd-get: $(K c): $ETCD_URL_main: HTTP 400: etcdserver: mvcc: required revision has been compacted" ]
}

@test "etcd-get -p reads a 20k-key prefix across pages, and its end at once, as one snapshot" {
	bulk_put "$(K big/)" 20000
	etcd-get -p --page 700 "$(K big/)" >"$BATS_TEST_TMPDIR/out"
	[ "$(jq length "$BATS_TEST_TMPDIR/out")" -eq 20000 ]
	[ "$(jq -r 'keys_unsorted == keys' "$BATS_TEST_TMPDIR/out")" = true ]
	[ "$(jq -r '.["'"$(K big/k00042)"'"]' "$BATS_TEST_TMPDIR/out")" = "value-00042" ]
	# (its second half was read at once, from the end: every key's own
	# value, in order)
	[ "$(jq -r 'to_entries | all(.value == "value-" + .key[-5:])' "$BATS_TEST_TMPDIR/out")" = true ]
	[ "$(jq -r 'keys[-1]' "$BATS_TEST_TMPDIR/out")" = "$(K big/k19999)" ]
}

@test "etcd-get usage errors exit 100 with the usage on stderr" {
	run_split etcd-get
	[ "$status" -eq 100 ]
	[ "$output" = "" ]
	[[ "$stderr" == "usage: etcd-get "* ]]
	run_split etcd-get --rev abc x
	[ "$status" -eq 100 ]
	[ "$stderr" = "etcd-get: --rev abc: invalid" ]
	run_split etcd-get -h
	[ "$status" -eq 0 ]
	[[ "$output" == "usage: etcd-get "* ]]
	run_split etcd-get --version
	[ "$output" = "etcd-get 0.1.0" ]
}

@test "etcd-get --wait: while etcd is down it says why once and waits, --status keeps why; once up, it reads" {
	local dir="$TESTTMP/etcd-late" c p pid rc=0 t0 st="$BATS_TEST_TMPDIR/st"
	mkdir -p "$dir"
	c=$(free_port)
	p=$(free_port)
	echo "$c $p" >"$dir/ports"
	t0=$(date +%s)
	etcd-get -e "http://127.0.0.1:$c" --wait --status "$st" --revision \
		>"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" &
	pid=$!
	wait_until 5 grep -q "waiting for etcd" "$BATS_TEST_TMPDIR/err"
	# the status: since when, and the reason said on stderr
	wait_until 5 test -s "$st"
	run_split cat "$st"
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" =~ ^waiting\ ([0-9]+)\ (http://127.0.0.1:$c: cannot connect: .+)$ ]]
	[ "${BASH_REMATCH[1]}" -ge "$t0" ]
	[ "${BASH_REMATCH[1]}" -le "$(date +%s)" ]
	[ "etcd-get: revision: ${BASH_REMATCH[2]}; waiting for etcd" = "$(sed -n 1p "$BATS_TEST_TMPDIR/err")" ]
	etcd_start late
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ]
	[[ "$(cat "$BATS_TEST_TMPDIR/out")" =~ ^[0-9]+$ ]]
	[ "$(wc -l <"$BATS_TEST_TMPDIR/err")" -eq 2 ]
	[[ "$(sed -n 1p "$BATS_TEST_TMPDIR/err")" == "etcd-get: revision: http://127.0.0.1:$c: cannot connect: "?*"; waiting for etcd" ]]
	[ "$(sed -n 2p "$BATS_TEST_TMPDIR/err")" = "etcd-get: etcd is up (http://127.0.0.1:$c)" ]
	[[ "$(cat "$st")" =~ ^up\ [0-9]+\ http://127.0.0.1:$c$ ]]
	# answered at once, nothing is written; --status without --wait
	rm -f "$st"
	run_split etcd-get -e "http://127.0.0.1:$c" --wait --status "$st" --revision
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ ! -e "$st" ]
	run_split etcd-get -e "http://127.0.0.1:$c" --status "$st" --revision
	[ "$status" -eq 100 ]
	[ "$output" = "" ]
	[ "$stderr" = "etcd-get: --status needs --wait" ]
}

@test "etcd-get --wait: a refusal still ends it at once, with exit 100" {
	run_split timeout 5 etcd-get --wait --rev 999999999 "$(K w)"
	[ "$status" -eq 100 ]
	[ "$output" = "" ]
	[[ "$stderr" == "etcd-get: $(K w): $ETCDCTL_ENDPOINTS: HTTP 400: "?* ]]
	[[ "$stderr" != *"waiting for etcd"* ]]
}

@test "etcd-get -p whose reader goes away ends quietly with status 0" {
	bulk_put "$(K gone/)" 5000
	run_split bash -c 'etcd-get -p "$1" | head -c 10 >/dev/null; echo "${PIPESTATUS[0]}"' _ "$(K gone/)"
	printf '%s\n' "$output" "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = 0 ]
	[ "$stderr" = "" ]
}
