#!/usr/bin/env bats
# etcd 3.6 and later answer in another dialect (grpc-gateway v2: other
# error bodies).  Each case runs the tools against the fake
# tests/etcd36/fake-etcd.py, which speaks it, and with the same
# assertions against a real etcd 3.4 brought to the same case, where one
# can be: an expired token, a compacted revision, no leader, permission
# denied, and an error on a watch stream already under way.

load helper

FAKE="$BATS_TEST_DIRNAME/etcd36/fake-etcd.py"
SEEN=()

setup_file() {
	etcd_setup_file
	# An etcd 3.4 with auth: root, and a reader who may read /ro/ only.
	etcd_start auth
	local ctl="env -u ETCDCTL_ENDPOINTS etcdctl --endpoints $ETCD_URL_auth"
	export ETCDCTL_API=3
	$ctl user add root:rootpw >/dev/null
	$ctl user add reader:readpw >/dev/null
	$ctl role add ro >/dev/null
	$ctl role grant-permission ro --prefix=true read /ro/ >/dev/null
	$ctl user grant-role reader ro >/dev/null
	$ctl auth enable >/dev/null
	# An etcd 3.4 cluster of two, n1 and n2: with n2 stopped, n1 has no
	# leader.  Short raft timers, so that n1 finds out soon.
	local p=() q
	while [ "${#p[@]}" -lt 4 ]; do
		q=$(free_port)
		[[ " ${p[*]} " == *" $q "* ]] || p+=("$q")
	done
	mkdir -p "$TESTTMP/etcd-n1" "$TESTTMP/etcd-n2"
	echo "${p[0]} ${p[1]}" >"$TESTTMP/etcd-n1/ports"
	echo "${p[2]} ${p[3]}" >"$TESTTMP/etcd-n2/ports"
	echo "n1=http://127.0.0.1:${p[1]},n2=http://127.0.0.1:${p[3]}" >"$TESTTMP/pair"
	export N1=http://127.0.0.1:${p[0]} N2=http://127.0.0.1:${p[2]}
	member n1
	member n2
	wait_until 20 led "$N1"
}

teardown_file() { etcd_teardown_file; }

teardown() {
	[ -z "${WPID:-}" ] || { kill "$WPID" 2>/dev/null; wait "$WPID" 2>/dev/null; } || true
	[ -z "${FAKE_PID:-}" ] || { kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null; } || true
}

# member NAME: start member NAME of the pair (again) on its store and
# ports; etcd_stop and etcd_teardown_file know it by its pid file.
member() {
	local dir="$TESTTMP/etcd-$1" c p
	read -r c p <"$dir/ports"
	(
		exec etcd --name "$1" --data-dir "$dir/data" \
			--listen-client-urls "http://127.0.0.1:$c" \
			--advertise-client-urls "http://127.0.0.1:$c" \
			--listen-peer-urls "http://127.0.0.1:$p" \
			--initial-advertise-peer-urls "http://127.0.0.1:$p" \
			--initial-cluster "$(cat "$TESTTMP/pair")" \
			--initial-cluster-token "${TESTTMP##*/}" \
			--heartbeat-interval 50 --election-timeout 500 \
			--logger zap --log-outputs stderr >>"$dir/log" 2>&1 </dev/null &
		echo $! >"$dir/pid"
	)
}

# led URL: the member at URL answers a linearizable read.
led() {
	etcd-get -e "$1" --command-timeout 2s --revision >/dev/null 2>&1
}

# leaderless URL: the member at URL says it has no leader.
leaderless() {
	[[ "$(etcd-get -e "$1" --revision 2>&1)" == *"HTTP 503: "*"no leader"* ]]
}

# pair_led, pair_leaderless: bring n1 to the state a test needs.
pair_led() {
	[ -f "$TESTTMP/etcd-n2/pid" ] || member n2
	wait_until 20 led "$N1"
}
pair_leaderless() {
	etcd_stop n2
	wait_until 20 leaderless "$N1"
}

# fake_start [fake-etcd.py options]: a fake etcd 3.6 cluster of two
# members at FAKE1 and FAKE2, its requests logged to FAKE_LOG.
fake_start() {
	local p1 p2
	p1=$(free_port)
	p2=$(free_port)
	while [ "$p2" = "$p1" ]; do p2=$(free_port); done
	FAKE_LOG="$BATS_TEST_TMPDIR/fake.log"
	python3 "$FAKE" "$@" "$p1" "$p2" 2>>"$FAKE_LOG" &
	FAKE_PID=$!
	FAKE1=http://127.0.0.1:$p1
	FAKE2=http://127.0.0.1:$p2
	wait_until 10 curl -s -o /dev/null "$FAKE1/"
	wait_until 10 curl -s -o /dev/null "$FAKE2/"
}

# requests WHAT: how many requests the fake logged matching WHAT.
requests() {
	grep -c -- "$1" "$FAKE_LOG" || true
}

# compact URL: compact etcd at URL to its current revision.
compact() {
	local r
	r=$(etcd-get -e "$1" --revision)
	curl -sf -o /dev/null "$1/v3/kv/compaction" -d "{\"revision\":\"$r\"}"
}

lines() { [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]; }

# Each case runs on the real etcd 3.4 first, then on the fake, so that
# the fake's log holds the fake's run of it.  What etcd says is not
# pinned: SEEN collects what the tools said, every address as "URL" and
# every revision as "N", and alike compares the runs.

# seen TEXT: add TEXT to SEEN.
seen() {
	SEEN+=("$(sed -E 's|https?://127\.0\.0\.1:[0-9]+|URL|g; s/revision [0-9]+/revision N/g' <<<"$1")")
}

# alike: the first half of SEEN (from 3.4) equals the second (the fake).
alike() {
	local i h=$((${#SEEN[@]} / 2))
	[ "$h" -gt 0 ]
	for ((i = 0; i < h; i++)); do
		[ "${SEEN[i + h]}" = "${SEEN[i]}" ]
	done
}

# refused STATUS PREFIX CMD...: CMD exits STATUS, writes nothing to
# stdout, and to stderr PREFIX and then etcd's reason, which it adds to
# SEEN.
refused() {
	local st=$1 prefix=$2
	shift 2
	run_split "$@"
	[ "$status" -eq "$st" ]
	[ "$output" = "" ]
	[[ "$stderr" == "$prefix"?* ]]
	seen "$stderr"
}

@test "expired token: etcd-get -p authenticates again when its token stops working between pages, as if it had not (3.4)" {
	local url A="--user root:rootpw"
	fake_start --user root:rootpw --token-life 1
	for url in "$ETCD_URL_auth" "$FAKE1"; do
		etcd-put -e "$url" $A "$(K p/a)" 1
		etcd-put -e "$url" $A "$(K p/b)" 2
		etcd-put -e "$url" $A "$(K p/c)" 3
		: >"$FAKE_LOG"
		run_split etcd-get -e "$url" $A -p --page 1 "$(K p/)"
		[ "$status" -eq 0 ]
		[ "$output" = "{\"$(K p/a)\":\"1\",\"$(K p/b)\":\"2\",\"$(K p/c)\":\"3\"}" ]
		[ "$stderr" = "" ]
	done
	# the fake did refuse the token, and was asked for a new one
	[ "$(requests '"POST /v3/kv/range HTTP/1.1" 401')" -ge 1 ]
	[ "$(requests '"POST /v3/auth/authenticate HTTP/1.1" 200')" -ge 2 ]
}

@test "expired token: etcd-watch authenticates again when its watch is refused for the token, and misses nothing, as if it had not (3.4)" {
	local url r A="--user root:rootpw"
	fake_start --user root:rootpw --token-life 1
	for url in "$ETCD_URL_auth" "$FAKE1"; do
		etcd-put -e "$url" $A "$(K w/a)" 1
		r=$(etcd-get -e "$url" $A --revision)
		etcd-put -e "$url" $A "$(K w/b)" 2
		: >"$FAKE_LOG"
		# the snapshot's read takes the token's one request, the watch
		# after it is refused
		run_split timeout 10 etcd-watch -e "$url" $A --snapshot --once --rev "$r" -p "$(K w/)"
		[ "$status" -eq 0 ]
		[ "$output" = "{\"type\":\"resync\",\"revision\":$r,\"kvs\":{\"$(K w/a)\":\"1\"}}
{\"type\":\"put\",\"key\":\"$(K w/b)\",\"value\":\"2\",\"revision\":$((r + 1))}" ]
		[ "$stderr" = "" ]
	done
	[ "$(requests '"POST /v3/auth/authenticate HTTP/1.1" 200')" -eq 2 ]
}

@test "expired token: a token refused again right after a new one: exit 100 with etcd's reason" {
	fake_start --user root:rootpw --token-life 0
	refused 100 "etcd-get: $(K a): $FAKE1: HTTP 401: " etcd-get -e "$FAKE1" --user root:rootpw "$(K a)"
	[ "$(requests '"POST /v3/auth/authenticate HTTP/1.1" 200')" -eq 2 ]
}

# fake_keys N: N keys big/k00000.. holding value-00000.. in the fake
# (one put a request); prints the JSON object etcd-get -p must print.
fake_keys() {
	python3 - "$FAKE1" "$(K big/)" "$1" <<'PY'
import base64, http.client, json, sys
url, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
conn = http.client.HTTPConnection(url.split("://", 1)[1])
b = lambda s: base64.b64encode(s.encode()).decode()
want = {}
for i in range(n):
    k, v = "%sk%05d" % (prefix, i), "value-%05d" % i
    conn.request("POST", "/v3/kv/put", json.dumps({"key": b(k), "value": b(v)}))
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        sys.exit("put: HTTP %d" % r.status)
    want[k] = v
print(json.dumps(want, separators=(",", ":")))
PY
}

# large_prefix REQUESTS [FAKE-OPTION...]: etcd-get -p of 5,000 keys in
# the fake prints every one, in order, through REQUESTS range requests.
large_prefix() {
	local n=$1
	shift
	fake_start "$@"
	fake_keys 5000 >"$BATS_TEST_TMPDIR/want"
	: >"$FAKE_LOG"
	run_split etcd-get -e "$FAKE1" -p "$(K big/)"
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat "$BATS_TEST_TMPDIR/want")" ]
	[ "$stderr" = "" ]
	[ "$(requests '"POST /v3/kv/range HTTP/1.1" 200')" -eq "$n" ]
}

@test "etcd-get -p of a large prefix reads its end at once: a first page, then the rest from both ends (three requests)" {
	large_prefix 3
}

@test "etcd-get -p of a large prefix: a reply from the end not as asked (a fake that does not sort) is left, and the start read on (four requests)" {
	# (the first page, the start, the end left, the rest)
	large_prefix 4 --no-sort
}

@test "compacted: etcd-get --rev of a compacted revision: exit 111 and etcd's reason, as with 3.4" {
	local url r
	fake_start
	for url in "$ETCD_URL_main" "$FAKE1"; do
		etcd-put -e "$url" "$(K a)" 1
		r=$(etcd-get -e "$url" --revision)
		etcd-put -e "$url" "$(K a)" 2
		compact "$url"
		refused 111 "etcd-get: $(K a): $url: HTTP 400: " etcd-get -e "$url" --rev "$r" "$(K a)"
	done
	alike
}

@test "compacted: etcd-watch --rev of a compacted revision resyncs: the state as one record, as with 3.4" {
	local url r c
	fake_start
	for url in "$ETCD_URL_main" "$FAKE1"; do
		etcd-put -e "$url" "$(K w/a)" 1
		r=$(etcd-get -e "$url" --revision)
		etcd-put -e "$url" "$(K w/a)" 2
		etcd-put -e "$url" "$(K w/b)" 3
		compact "$url"
		c=$(etcd-get -e "$url" --revision)
		run_split timeout 10 etcd-watch -e "$url" --once --rev "$r" -p "$(K w/)"
		[ "$status" -eq 0 ]
		[ "$output" = "{\"type\":\"resync\",\"revision\":$c,\"kvs\":{\"$(K w/a)\":\"2\",\"$(K w/b)\":\"3\"}}" ]
		[ "$stderr" = "etcd-watch: $(K w/): revision $r was compacted (compact revision $c); resyncing" ]
	done
}

# watch_till_no_leader URL ENDPOINTS CMD...: etcd-watch -p $(K w/) on
# ENDPOINTS in the background ($W, $W.err), sees a put at URL; then CMD
# takes the leader away from the member at URL, and etcd-watch warns.
# Sets R to the revision of the put.
watch_till_no_leader() {
	local url=$1 eps=$2
	shift 2
	W="$BATS_TEST_TMPDIR/w"
	R=$(($(etcd-get -e "$url" --revision) + 1))
	etcd-watch -e "$eps" --rev "$R" -p "$(K w/)" >"$W" 2>"$W.err" &
	WPID=$!
	etcd-put -e "$url" "$(K w/a)" 1
	wait_until 10 lines "$W" 1
	"$@"
	wait_until 20 lines "$W.err" 1
}

@test "no leader mid-stream: etcd-watch warns with etcd's reason and watches on at the next endpoint, as with 3.4" {
	pair_led
	watch_till_no_leader "$N1" "$N1,$N2" etcd_stop n2
	[ "$(cat "$W")" = "{\"type\":\"put\",\"key\":\"$(K w/a)\",\"value\":\"1\",\"revision\":$R}" ]
	[[ "$(head -n 1 "$W.err")" == "etcd-watch: $(K w/): $N1: watch error: "?*"; retrying from revision $((R + 1))" ]]
	seen "$(head -n 1 "$W.err")"
	kill "$WPID"
	wait "$WPID" || true
	# the same with the fake, whose other member keeps the leader and
	# has the same store
	fake_start
	watch_till_no_leader "$FAKE1" "$FAKE1,$FAKE2" kill -USR1 "$FAKE_PID"
	wait_until 10 lines "$W.err" 2
	etcd-put -e "$FAKE2" "$(K w/b)" 2
	wait_until 10 lines "$W" 2
	kill -0 "$WPID"
	[ "$(cat "$W")" = "{\"type\":\"put\",\"key\":\"$(K w/a)\",\"value\":\"1\",\"revision\":$R}
{\"type\":\"put\",\"key\":\"$(K w/b)\",\"value\":\"2\",\"revision\":$((R + 1))}" ]
	seen "$(head -n 1 "$W.err")"
	alike
	[ "$(sed 1d "$W.err")" = "etcd-watch: $(K w/): watching again from revision $((R + 1)) ($FAKE2)" ]
}

@test "no leader: etcd-put and etcd-get go to the next endpoint, as from a 3.4 member without a leader" {
	local bad good
	fake_start --leaderless
	pair_leaderless
	for bad in "$N1" "$FAKE1"; do
		good=$ETCD_URL_main
		[ "$bad" = "$N1" ] || good=$FAKE2
		run_split etcd-put -e "$bad,$good" "$(K a)" v
		[ "$status" -eq 0 ]
		[ "$output" = "" ]
		[ "$stderr" = "" ]
		run_split etcd-get -e "$bad,$good" "$(K a)"
		[ "$status" -eq 0 ]
		[ "$output" = v ]
		[ "$stderr" = "" ]
	done
}

@test "no leader anywhere: etcd-get exits 111 with etcd's reason, as with 3.4" {
	local url
	fake_start --leaderless
	pair_leaderless
	for url in "$N1" "$FAKE1"; do
		refused 111 "etcd-get: $(K a): $url: HTTP 503: " etcd-get -e "$url" "$(K a)"
	done
	alike
}

@test "no leader: a watch refused at the start goes to the next endpoint; with none, etcd-watch says etcd's reason and retries, as with 3.4" {
	local bad good r W="$BATS_TEST_TMPDIR/w"
	fake_start --leaderless
	pair_leaderless
	for bad in "$N1" "$FAKE1"; do
		good=$ETCD_URL_main
		[ "$bad" = "$N1" ] || good=$FAKE2
		etcd-put -e "$good" "$(K a)" 1
		r=$(etcd-get -e "$good" --revision)
		run_split timeout 10 etcd-watch -e "$bad,$good" --once --rev "$r" "$(K a)"
		[ "$status" -eq 0 ]
		[ "$output" = "{\"type\":\"put\",\"key\":\"$(K a)\",\"value\":\"1\",\"revision\":$r}" ]
		[ "$stderr" = "" ]
		# alone, it says so once and goes on trying
		etcd-watch -e "$bad" --rev "$r" "$(K a)" >"$W" 2>"$W.err" &
		WPID=$!
		# (what it said goes to the log of a failure: seen once under
		# the load of make -j2, not since)
		wait_until 10 lines "$W.err" 1 || { cat "$W.err" >&2; false; }
		kill -0 "$WPID" || { cat "$W.err" >&2; false; }
		kill "$WPID"
		wait "$WPID" || true
		WPID=
		[ "$(cat "$W")" = "" ]
		cat "$W.err" >&2
		[[ "$(cat "$W.err")" == "etcd-watch: $(K a): $bad: HTTP 503: "?*"; retrying from revision $r" ]]
		seen "$(cat "$W.err")"
	done
	alike
}

@test "permission denied: etcd-put and etcd-get outside the user's rights exit 100 with etcd's reason, as with 3.4" {
	local url R="--user reader:readpw"
	fake_start --user root:rootpw --user reader:readpw:/ro/
	for url in "$ETCD_URL_auth" "$FAKE1"; do
		refused 100 "etcd-put: /ro/x: $url: HTTP 403: " etcd-put -e "$url" $R /ro/x v
		# the store's revision is read through the key "\0"
		refused 100 "etcd-get: revision: $url: HTTP 403: " etcd-get -e "$url" $R --revision
	done
	alike
}

@test "permission denied: etcd-watch of a key the user may not read exits 100 with etcd's reason, as with 3.4" {
	local url
	fake_start --user root:rootpw --user reader:readpw:/ro/
	for url in "$ETCD_URL_auth" "$FAKE1"; do
		refused 100 "etcd-watch: $(K a): $url: watch canceled: " \
			timeout 10 etcd-watch -e "$url" --user reader:readpw --rev 1 "$(K a)"
	done
	alike
}
