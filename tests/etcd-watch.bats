#!/usr/bin/env bats
# etcd-watch against a real etcd: events, revisions, debounce, outages,
# compaction.

load helper

setup_file() { etcd_setup_file; }
teardown_file() { etcd_teardown_file; }

teardown() {
	[ -z "${WPID:-}" ] || { kill "$WPID" 2>/dev/null; wait "$WPID" 2>/dev/null; } || true
}

# watch_bg ARGS...: start etcd-watch in the background, stdout in $W,
# stderr in $W.err; waits until it is connected (its watch is created).
watch_bg() {
	W="$BATS_TEST_TMPDIR/watch.out"
	# Event mode starts from the revision after now, whenever the watcher
	# gets going, so that the test's first put is never missed.
	local from=()
	[[ " $* " == *" --revisions "* || " $* " == *" --rev "* ]] ||
		from=(--rev $(($(etcd-get --revision) + 1)))
	etcd-watch "${from[@]}" "$@" >"$W" 2>"$W.err" &
	WPID=$!
	# (revisions mode prints its first line once connected; the tests wait
	# for it)
}

lines() { [ "$(wc -l <"$W")" -ge "$1" ]; }
last_line_is_current() { [ "$(tail -n 1 "$W")" = "$(etcd-get --revision)" ]; }

@test "etcd-watch prints one JSON line per event, exact values" {
	watch_bg -p "$(K w/)"
	etcd-put "$(K w/a)" 'two
lines'
	etcd-put "$(K 'w/key with spaces')" 'ünïcødé'
	printf '\377bin' | etcd-put "$(K w/bin)" -
	etcd-put -d "$(K w/a)" >/dev/null
	etcd-put "$(K other)" 'not watched'
	wait_until 5 lines 4
	local t="/t$BATS_TEST_NUMBER" r
	r=$(etcd-get --revision)
	[ "$(cat "$W")" = "{\"type\":\"put\",\"key\":\"$t/w/a\",\"value\":\"two\\nlines\",\"revision\":$((r - 4))}
{\"type\":\"put\",\"key\":\"$t/w/key with spaces\",\"value\":\"ünïcødé\",\"revision\":$((r - 3))}
{\"type\":\"put\",\"key\":\"$t/w/bin\",\"value_base64\":\"/2Jpbg==\",\"revision\":$((r - 2))}
{\"type\":\"delete\",\"key\":\"$t/w/a\",\"revision\":$((r - 1))}" ]
	[ "$(cat "$W.err")" = "" ]
}

@test "etcd-watch KEY without -p sees only that key" {
	watch_bg "$(K k)"
	etcd-put "$(K kk)" no
	etcd-put "$(K k)" yes
	wait_until 5 lines 1
	sleep 0.2
	[ "$(jq -r .value "$W")" = "yes" ]
}

@test "etcd-watch --rev replays history from that revision" {
	etcd-put "$(K h)" 1
	local r
	r=$(etcd-get --revision)
	etcd-put "$(K h)" 2
	etcd-put "$(K h)" 3
	run_split timeout 5 etcd-watch --rev "$r" --once "$(K h)"
	[ "$status" -eq 0 ]
	[ "$output" = "{\"type\":\"put\",\"key\":\"$(K h)\",\"value\":\"1\",\"revision\":$r}" ]
	[ "$stderr" = "" ]
}

@test "etcd-watch --once exits 0 after the first change" {
	local r
	r=$(etcd-get --revision)
	(sleep 0.5; etcd-put "$(K o/x)" first; etcd-put "$(K o/y)" second) &
	run_split timeout 10 etcd-watch --once --rev $((r + 1)) -p "$(K o/)"
	wait
	[ "$status" -eq 0 ]
	[ "$output" = "{\"type\":\"put\",\"key\":\"$(K o/x)\",\"value\":\"first\",\"revision\":$(($(etcd-get --revision) - 1))}" ]
	[ "$stderr" = "" ]
}

@test "etcd-watch --revisions prints the current revision, then one per change" {
	local r0
	r0=$(etcd-get --revision)
	watch_bg --revisions -p "$(K r/)"
	wait_until 5 lines 1
	[ "$(cat "$W")" = "$r0" ]
	etcd-put "$(K r/a)" 1
	wait_until 5 lines 2
	etcd-put "$(K r/b)" 2
	wait_until 5 lines 3
	[ "$(cat "$W")" = "$r0
$((r0 + 1))
$((r0 + 2))" ]
	[ "$(cat "$W.err")" = "" ]
}

@test "etcd-watch --debounce writes the first change of a quiet spell at once, then merges the burst" {
	watch_bg --revisions --debounce 700 --max-wait 20000 -p "$(K b/)"
	wait_until 5 lines 1
	# a quiet spell longer than the debounce time
	sleep 0.8
	local i r1 rf
	etcd-put "$(K b/0)" 0
	r1=$(etcd-get --revision)
	for i in $(seq 10); do etcd-put "$(K b/$i)" "$i"; done
	rf=$(etcd-get --revision)
	wait_until 5 lines 3
	sleep 1
	[ "$(wc -l <"$W")" -eq 3 ]
	[ "$(sed -n 2p "$W")" = "$r1" ]
	[ "$(tail -n 1 "$W")" = "$rf" ]
	[ "$(cat "$W.err")" = "" ]
}

@test "etcd-watch --snapshot writes the state first; --progress closes every batch" {
	etcd-put "$(K s/a)" 1
	printf 'two\nlines' | etcd-put "$(K s/b)" -
	local r0 t
	r0=$(etcd-get --revision)
	etcd-watch --snapshot --progress -p "$(K s/)" >"$BATS_TEST_TMPDIR/s.out" 2>"$BATS_TEST_TMPDIR/s.err" &
	WPID=$!
	W=$BATS_TEST_TMPDIR/s.out
	wait_until 5 lines 1
	[ "$(cat "$W")" = "{\"type\":\"resync\",\"revision\":$r0,\"kvs\":{\"$(K s/a)\":\"1\",\"$(K s/b)\":\"two\\nlines\"}}" ]
	# a transaction of two puts: both events, then one progress record
	t=$(printf '{"success":[{"requestPut":{"key":"%s","value":"%s"}},{"requestPut":{"key":"%s","value":"%s"}}]}' \
		"$(printf %s "$(K s/c)" | base64)" "$(printf 3 | base64)" \
		"$(printf %s "$(K s/d)" | base64)" "$(printf 4 | base64)")
	curl -sf -XPOST "$ETCD_URL_main/v3/kv/txn" -d "$t" >/dev/null
	etcd-put -d "$(K s/a)" >/dev/null
	wait_until 5 lines 6
	[ "$(sed -n '2,$p' "$W")" = "{\"type\":\"put\",\"key\":\"$(K s/c)\",\"value\":\"3\",\"revision\":$((r0 + 1))}
{\"type\":\"put\",\"key\":\"$(K s/d)\",\"value\":\"4\",\"revision\":$((r0 + 1))}
{\"type\":\"progress\",\"revision\":$((r0 + 1))}
{\"type\":\"delete\",\"key\":\"$(K s/a)\",\"revision\":$((r0 + 2))}
{\"type\":\"progress\",\"revision\":$((r0 + 2))}" ]
	[ "$(cat "$BATS_TEST_TMPDIR/s.err")" = "" ]
}

@test "etcd-watch --snapshot --rev N writes the state at N, then the changes after N" {
	etcd-put "$(K sr/a)" 1
	local r0
	r0=$(etcd-get --revision)
	etcd-put "$(K sr/a)" 2
	run_split timeout 5 etcd-watch --snapshot --once --rev "$r0" -p "$(K sr/)"
	[ "$status" -eq 0 ]
	[ "$output" = "{\"type\":\"resync\",\"revision\":$r0,\"kvs\":{\"$(K sr/a)\":\"1\"}}
{\"type\":\"put\",\"key\":\"$(K sr/a)\",\"value\":\"2\",\"revision\":$((r0 + 1))}" ]
	[ "$stderr" = "" ]
}

@test "etcd-watch --max-wait bounds the delay of a never-ending stream" {
	watch_bg --revisions --debounce 300 --max-wait 400 -p "$(K m/)"
	wait_until 5 lines 1
	local i end=$(( $(date +%s%N) / 1000000 + 1500 ))
	# one change every 100 ms: always inside the debounce window
	while [ $(( $(date +%s%N) / 1000000 )) -lt "$end" ]; do
		etcd-put "$(K m/x)" "$i"
		sleep 0.1
	done
	# Lines arrived while the stream was still going.
	[ "$(wc -l <"$W")" -ge 3 ]
	wait_until 5 last_line_is_current
}

@test "etcd-watch ends when its reader goes away, even while idle" {
	( etcd-watch -p "$(K idle/)" | true ) &
	local p=$!
	wait_until 5 bash -c "! kill -0 $p 2>/dev/null"
	local r
	r=$(etcd-get --revision)
	( etcd-watch --rev $((r + 1)) -p "$(K h1/)" | head -n 1 >"$BATS_TEST_TMPDIR/h1" ) &
	p=$!
	etcd-put "$(K h1/a)" x
	etcd-put "$(K h1/b)" y
	wait_until 5 bash -c "! kill -0 $p 2>/dev/null"
	[ "$(jq -r .value "$BATS_TEST_TMPDIR/h1")" = x ]
	refute pgrep -f "etcd-watch --rev [0-9]* -p $(K h1/)"
}

@test "etcd-watch reports every event exactly once across an etcd restart" {
	watch_bg -p "$(K o/)"
	local i
	for i in $(seq 1 20); do etcd-put "$(K o/$i)" "v$i"; done
	etcd_stop main KILL
	sleep 0.5
	etcd_start main
	# written while the watcher is still backing off
	for i in $(seq 21 40); do etcd-put "$(K o/$i)" "v$i"; done
	wait_until 15 lines 40
	sleep 0.5
	[ "$(wc -l <"$W")" -eq 40 ]
	[ "$(jq -r .value "$W" | tr '\n' ' ')" = "$(seq -f 'v%g' 1 40 | tr '\n' ' ')" ]
	# revisions strictly increase: no duplicate, no reordering
	jq -s -e '[.[].revision] | . == (sort | unique)' "$W"
	grep -q "^etcd-watch: $(K o/): .*; retrying from revision [0-9]*$" "$W.err"
	grep -q "^etcd-watch: $(K o/): watching again from revision [0-9]* ($ETCD_URL_main)$" "$W.err"
}

@test "etcd-watch --progress says once an outage that the watch is lost, and once that it watches again" {
	local r0
	etcd-put "$(K l/a)" 1 >/dev/null
	r0=$(etcd-get --revision)
	etcd-watch --snapshot --progress -p "$(K l/)" >"$BATS_TEST_TMPDIR/l.out" 2>"$BATS_TEST_TMPDIR/l.err" &
	WPID=$!
	W=$BATS_TEST_TMPDIR/l.out
	wait_until 5 lines 1
	etcd_stop main KILL
	wait_until 10 lines 2
	# (some retries later: still one record for the outage)
	sleep 1
	etcd_start main
	etcd-put "$(K l/b)" 2 >/dev/null
	wait_until 15 lines 5
	[ "$(jq -r .type "$W" | tr '\n' ' ')" = "resync lost watching put progress " ]
	[ "$(sed -n 2p "$W" | jq .revision)" = "$r0" ]
	[[ "$(sed -n 2p "$W" | jq -r .reason)" == "$ETCD_URL_main: "* ]]
	[ "$(sed -n 3p "$W")" = "{\"type\":\"watching\",\"revision\":$r0}" ]
	# what is said on stderr, once each
	[ "$(grep -c "^etcd-watch: $(K l/): .*; retrying from revision $((r0 + 1))$" "$BATS_TEST_TMPDIR/l.err")" -eq 1 ]
	[ "$(grep -c "^etcd-watch: $(K l/): watching again from revision $((r0 + 1)) ($ETCD_URL_main)$" "$BATS_TEST_TMPDIR/l.err")" -eq 1 ]
}

@test "etcd-watch resyncs when its start revision was compacted" {
	etcd-put "$(K c/a)" 1
	local r0
	r0=$(etcd-get --revision)
	etcd-put "$(K c/a)" 2
	etcd-put "$(K c/b)" 3
	etcd-put -d "$(K c/a)" >/dev/null
	printf '\376' | etcd-put "$(K c/bin)" -
	local rc
	rc=$(etcd-get --revision)
	curl -sf -XPOST "$ETCD_URL_main/v3/kv/compaction" -d "{\"revision\":$rc}" >/dev/null
	watch_bg --rev "$r0" -p "$(K c/)"
	wait_until 5 lines 1
	[ "$(head -n 1 "$W")" = "{\"type\":\"resync\",\"revision\":$rc,\"kvs\":{\"$(K c/b)\":\"3\"},\"binary\":[{\"key\":\"$(K c/bin)\",\"value_base64\":\"/g==\"}]}" ]
	[ "$(cat "$W.err")" = "etcd-watch: $(K c/): revision $r0 was compacted (compact revision $rc); resyncing" ]
	etcd-put "$(K c/z)" after
	wait_until 5 lines 2
	[ "$(tail -n 1 "$W" | jq -r .key)" = "$(K c/z)" ]
	# and in --revisions mode the resync is just a new revision line
	run_split timeout 5 etcd-watch --revisions --once --rev "$r0" -p "$(K c/)"
	[ "$status" -eq 0 ]
	[ "$output" = "$(etcd-get --revision)" ]
}

@test "etcd-watch fails over from a dead first endpoint" {
	local dead
	dead=$(free_port)
	watch_bg -e "127.0.0.1:$dead,$ETCD_URL_main" -p "$(K f/)"
	etcd-put "$(K f/a)" 1
	wait_until 5 lines 1
	[ "$(jq -r .value "$W")" = 1 ]
}

@test "etcd-watch usage errors exit 100" {
	run_split etcd-watch --debounce 10 x
	[ "$status" -eq 100 ]
	[ "$output" = "" ]
	[ "$stderr" = "etcd-watch: --debounce and --max-wait go with --revisions" ]
	run_split etcd-watch
	[ "$status" -eq 100 ]
	[[ "$stderr" == "usage: etcd-watch "* ]]
	run_split etcd-watch --revisions --debounce 500 --max-wait 100 x
	[ "$status" -eq 100 ]
	[ "$stderr" = "etcd-watch: --max-wait must not be shorter than --debounce" ]
	run_split etcd-watch --revisions --snapshot x
	[ "$status" -eq 100 ]
	[ "$output" = "" ]
	[ "$stderr" = "etcd-watch: --snapshot and --progress are for events, not --revisions" ]
}
