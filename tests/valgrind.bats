#!/usr/bin/env bats
# Every tool under valgrind against a real etcd and a real master-worker
# haproxy: memory errors and definite, indirect or possible leaks fail the
# test (libcurl's, libjq's and OpenSSL's "still reachable" memory does
# not).  The plain build (build/) is checked whatever bin/ points at: the
# sanitizer build cannot run under valgrind.

load helper

setup_file() {
	etcd_setup_file
	VGBIN=$REPO/build
	export VGBIN
	export EASY_LB_RUN=$TESTTMP/run LB_BIND=127.0.0.1 LB_PORT
	LB_PORT=$(free_port)
	mkdir -p "$EASY_LB_RUN"
	etcd-put /services/web/upstream/w1 127.0.0.1:8081
	etcd-put /services/web/upstream/w2 '127.0.0.1:8082 weight 5'
	etcd-put /services/api/upstream/a1 127.0.0.1:8083
	etcd-put /services/api/location /api
	etcd-put /services/bad/upstream/b1 not-an-address
}

teardown_file() {
	[ -z "${HAPPID:-}" ] || kill "$HAPPID" 2>/dev/null || true
	if [ -f "$TESTTMP/haproxy.pid" ]; then
		kill "$(cat "$TESTTMP/haproxy.pid")" 2>/dev/null || true
	fi
	etcd_teardown_file
}

# ended PID: PID is gone or a zombie.
ended() {
	local s
	s=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
	[ "$s" = Z ] || [ "$s" = X ]
}

# (what a failed test left running in the background)
teardown() {
	local p
	for p in ${BGPIDS:-}; do
		kill "$p" 2>/dev/null || true
	done
	BGPIDS=
}

setup() {
	command -v valgrind >/dev/null || skip "valgrind is not installed (make deps)"
	local t
	for t in etcd-get etcd-put etcd-watch tmpl hap-reload hap-certs; do
		[ -x "$VGBIN/$t" ] || skip "no plain build of $t in $VGBIN: run make"
	done
}

# (a child forked to exec haproxy has nothing to report: it is silenced)
VGOPTS="--leak-check=full --errors-for-leak-kinds=definite,indirect,possible
	--error-exitcode=99 --child-silent-after-fork=yes"

# vg TOOL ARGS...: run the plain build of TOOL under valgrind, like
# run_split (status, $output, $stderr); valgrind's own report goes to
# $BATS_TEST_TMPDIR/vg.<pid> (one per process valgrind follows).
vg() {
	local t=$1
	shift
	# shellcheck disable=SC2086 # options, one word each
	run_split valgrind $VGOPTS --log-file="$BATS_TEST_TMPDIR/vg.%p" \
		"$VGBIN/$t" "$@"
}

# vg_clean: every valgrind report of this test says no error and no leak
# of the kinds that count.
vg_clean() {
	local f n=0
	for f in "$BATS_TEST_TMPDIR"/vg.*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		if ! grep -q "ERROR SUMMARY: 0 errors from 0 contexts" "$f" ||
			grep -Eq "(definitely|indirectly|possibly) lost: [1-9]" "$f"; then
			cat "$f" >&2
			return 1
		fi
	done
	rm -f "$BATS_TEST_TMPDIR"/vg.*
	[ "$n" -gt 0 ]
}

@test "valgrind: etcd-get of a key, a prefix in pages, at a revision, a missing key" {
	vg etcd-get /services/web/upstream/w1
	[ "$status" -eq 0 ]
	[ "$output" = 127.0.0.1:8081 ]
	[ -z "$stderr" ]
	vg_clean
	vg etcd-get -p --page 2 /services/web/
	[ "$status" -eq 0 ]
	[ "$output" = '{"/services/web/upstream/w1":"127.0.0.1:8081","/services/web/upstream/w2":"127.0.0.1:8082 weight 5"}' ]
	[ -z "$stderr" ]
	vg_clean
	# at the revision of the first put only w1 existed
	local rev
	rev=$(etcdctl get /services/web/upstream/w1 -w json | jq '.kvs[0].mod_revision')
	vg etcd-get -p --rev "$rev" /services/web/
	[ "$status" -eq 0 ]
	[ "$output" = '{"/services/web/upstream/w1":"127.0.0.1:8081"}' ]
	vg_clean
	vg etcd-get /services/none
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	vg_clean
	vg etcd-get --revision
	[ "$status" -eq 0 ]
	[ "$output" = "$(etcd-get --revision)" ]
	vg_clean
}

@test "valgrind: etcd-put of a value, with --ttl, -d of a key and -d -p of a prefix" {
	vg etcd-put /vg/a one
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	vg_clean
	[ "$(etcdctl get --print-value-only /vg/a)" = one ]
	vg etcd-put --ttl 30 /vg/b two
	[ "$status" -eq 0 ]
	[[ $output =~ ^[0-9]+$ ]] # the lease id
	vg_clean
	[ "$(etcdctl get --print-value-only /vg/b)" = two ]
	etcdctl lease timetolive "$(printf '%x' "$output")" | grep -q "remaining("
	etcd-put /vg/c three
	vg etcd-put -d /vg/c
	[ "$status" -eq 0 ]
	[ "$output" = 1 ]
	vg_clean
	vg etcd-put -d -p /vg/
	[ "$status" -eq 0 ]
	[ "$output" = 2 ]
	vg_clean
	[ -z "$(etcdctl get --prefix /vg/)" ]
}

@test "valgrind: etcd-watch --once gets the change; --revisions ends when its reader goes" {
	local out=$BATS_TEST_TMPDIR/watch.out from
	from=$(($(etcd-get --revision) + 1))
	# from a revision: nothing to wait for, the put may come before or after
	etcd-put /vg/w/k v1
	vg etcd-watch --once --rev "$from" -p /vg/w/
	[ "$status" -eq 0 ]
	[ "$output" = "{\"type\":\"put\",\"key\":\"/vg/w/k\",\"value\":\"v1\",\"revision\":$from}" ]
	[ -z "$stderr" ]
	vg_clean
	# --revisions: the current revision at once, then one per change; the
	# reader goes away after two lines, which must end etcd-watch with status 0
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	{
		read -r l && echo "$l" >"$out" && read -r l && echo "$l" >>"$out"
	} <"$BATS_TEST_TMPDIR/fifo" 3>&- &
	local hpid=$!
	BGPIDS=$hpid
	# shellcheck disable=SC2086 # options, one word each
	valgrind $VGOPTS --log-file="$BATS_TEST_TMPDIR/vg.%p" \
		"$VGBIN/etcd-watch" --revisions -p /vg/w/ >"$BATS_TEST_TMPDIR/fifo" \
		2>"$BATS_TEST_TMPDIR/watch.err" 3>&- &
	local wpid=$!
	BGPIDS="$BGPIDS $wpid"
	wait_until 30 test -s "$out"
	etcd-put /vg/w/k v2
	wait_until 30 ended "$hpid"
	wait_until 30 ended "$wpid"
	local rc=0
	wait "$wpid" || rc=$?
	cat "$BATS_TEST_TMPDIR/watch.err" >&2
	[ "$rc" -eq 0 ]
	[ "$(sed -n 1p "$out")" = "$from" ]
	[ "$(sed -n 2p "$out")" = "$(etcd-get --revision)" ]
	[ ! -s "$BATS_TEST_TMPDIR/watch.err" ]
	vg_clean
}

@test "valgrind: the watcher's pipeline, etcd-watch --snapshot --progress | tmpl --follow, through changes" {
	local d=$BATS_TEST_TMPDIR
	mkfifo "$d/events" "$d/revs"
	cat "$d/revs" >"$d/revs.txt" &
	local cpid=$!
	BGPIDS=$cpid
	# shellcheck disable=SC2086 # options, one word each
	valgrind $VGOPTS --log-file="$d/vg.%p" "$VGBIN/etcd-watch" --snapshot \
		--progress -p /services/ >"$d/events" 2>"$d/watch.err" &
	local wpid=$!
	# shellcheck disable=SC2086 # options, one word each
	valgrind $VGOPTS --log-file="$d/vg.%p" "$VGBIN/tmpl" --follow --debounce 10 \
		-d "$d/events" -o "$d/out.cfg" "$REPO/share/easy-lb/haproxy.cfg.tmpl" \
		>"$d/revs" 2>"$d/tmpl.err" &
	local tpid=$!
	BGPIDS="$BGPIDS $wpid $tpid"
	lines() { [ "$(wc -l <"$d/revs.txt")" -ge "$1" ]; }
	wait_until 60 lines 1
	etcd-put /services/web/upstream/w3 127.0.0.1:8084
	wait_until 60 lines 2
	grep -q "^    server w3 127.0.0.1:8084 check$" "$d/out.cfg"
	etcd-put -d /services/web/upstream/w3 >/dev/null
	wait_until 60 lines 3
	refute grep -q "w3" "$d/out.cfg"
	# a location moved: haproxy_routes works that service out again and
	# keeps the others'
	etcd-put /services/web/location /moved
	wait_until 60 lines 4
	grep -q "^/moved web$" "$d/out.cfg"
	# the reader goes: tmpl ends, then etcd-watch, both with status 0
	kill "$cpid"
	local rc=0
	wait "$tpid" || rc=$?
	[ "$rc" -eq 0 ]
	wait "$wpid" || rc=$?
	[ "$rc" -eq 0 ]
	[ ! -s "$d/watch.err" ]
	[ "$(cat "$d/tmpl.err")" = 'tmpl: warning: /services/bad/upstream/b1: "not-an-address" is not host:port (IPv6 in brackets); skipped' ]
	vg_clean
}

@test "valgrind: tmpl renders the shipped template from etcd; a template error" {
	etcd-get -p /services/ >"$BATS_TEST_TMPDIR/data.json"
	vg tmpl -d "$BATS_TEST_TMPDIR/data.json" "$REPO/share/easy-lb/haproxy.cfg.tmpl"
	[ "$status" -eq 0 ]
	[ "$output" = "$("$VGBIN/tmpl" -d "$BATS_TEST_TMPDIR/data.json" "$REPO/share/easy-lb/haproxy.cfg.tmpl" 2>/dev/null)" ]
	[[ $output == *"    server w2 127.0.0.1:8082 weight 5 check"* ]]
	[[ $output == *$'\n/api api\n'* ]]
	[ "$stderr" = 'tmpl: warning: /services/bad/upstream/b1: "not-an-address" is not host:port (IPv6 in brackets); skipped' ]
	vg_clean
	# -o: written atomically, nothing on stdout
	vg tmpl -d "$BATS_TEST_TMPDIR/data.json" -o "$EASY_LB_RUN/haproxy.cfg" "$REPO/share/easy-lb/haproxy.cfg.tmpl"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	grep -q "^    server w1 127.0.0.1:8081 check$" "$EASY_LB_RUN/haproxy.cfg"
	vg_clean
	printf 'a {{ .x | no_such_function }}\n' >"$BATS_TEST_TMPDIR/bad.tmpl"
	vg tmpl -d "$BATS_TEST_TMPDIR/data.json" "$BATS_TEST_TMPDIR/bad.tmpl"
	[ "$status" -eq 100 ]
	[ -z "$output" ]
	[[ $stderr == *"bad.tmpl:1:"*": jq compile error: "?* ]]
	vg_clean
	printf '{{ error("stop here") }}\n' >"$BATS_TEST_TMPDIR/err.tmpl"
	vg tmpl -d "$BATS_TEST_TMPDIR/data.json" "$BATS_TEST_TMPDIR/err.tmpl"
	[ "$status" -eq 1 ]
	[[ $stderr == *"runtime error: stop here"* ]]
	vg_clean
}

# The config the previous test rendered runs in a master-worker haproxy,
# once hap-reload has put its map beside it.
hap_start() {
	local C=$EASY_LB_RUN
	mv "$C/haproxy.cfg" "$C/first.cfg"
	hap-reload --install -f "$C/haproxy.cfg" "$C/first.cfg" >/dev/null
	haproxy -W -db -f "$C/haproxy.cfg" -S "$C/master.sock" -p "$TESTTMP/haproxy.pid" \
		>"$TESTTMP/haproxy.log" 2>&1 3>&- &
	HAPPID=$!
	wait_until 10 test -S "$C/haproxy.sock" -a -S "$C/master.sock"
}

hr() {
	vg hap-reload -f "$EASY_LB_RUN/haproxy.cfg" -S "$EASY_LB_RUN/master.sock" \
		-s "$EASY_LB_RUN/haproxy.sock" "$@"
}

render() {
	etcd-get -p /services/ >"$BATS_TEST_TMPDIR/data.json"
	tmpl -d "$BATS_TEST_TMPDIR/data.json" -o "$1" "$REPO/share/easy-lb/haproxy.cfg.tmpl" 2>/dev/null
}

# installed FILE: CONFIG is FILE but its map blocks.
installed() {
	sed '/^@map /,/^@end$/d' "$1" | cmp - "$EASY_LB_RUN/haproxy.cfg"
}

@test "valgrind: easylb_service over good and bad values of every row of the key schema" {
	local g=$REPO/tests/tmpl/helper-easylb-service
	vg tmpl -d "$g/data.json" "$g/t.tmpl"
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat "$g/out")" ]
	[ "$stderr" = "$(cat "$g/err")" ]
	vg_clean
}

@test "valgrind: haproxy_routes worked out from call to call, over 120 sets each a few services changed from the one before" {
	local g=$REPO/tests/tmpl/helper-haproxy-routes
	python3 "$g/gen.py" 7 120 chain >"$BATS_TEST_TMPDIR/d.json"
	vg tmpl -d "$BATS_TEST_TMPDIR/d.json" "$g/t.tmpl"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(grep -c '^case[0-9]* same$' <<<"$output")" -eq 120 ]
	vg_clean
}

@test "valgrind: hap-reload --check of a valid and an invalid config, a runtime change and a reload" {
	local C=$EASY_LB_RUN
	hap_start
	etcd-put /services/web/upstream/w3 127.0.0.1:8084
	render "$BATS_TEST_TMPDIR/new.cfg"
	vg hap-reload --check -f "$C/haproxy.cfg" "$BATS_TEST_TMPDIR/new.cfg"
	[ "$status" -eq 0 ]
	[ "$output" = valid ]
	[ -z "$stderr" ]
	vg_clean
	{ cat "$BATS_TEST_TMPDIR/new.cfg"; echo "    no-such-keyword"; } >"$BATS_TEST_TMPDIR/bad.cfg"
	vg hap-reload --check -f "$C/haproxy.cfg" "$BATS_TEST_TMPDIR/bad.cfg"
	[ "$status" -eq 1 ]
	[[ $output == "rejected: "*"no-such-keyword"* ]]
	vg_clean
	# a new upstream: applied at run time
	hr "$BATS_TEST_TMPDIR/new.cfg"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +1 -0 ~0 servers" ]
	[ -z "$stderr" ]
	installed "$BATS_TEST_TMPDIR/new.cfg"
	vg_clean
	echo "show servers state web" | socat -t 2 - "unix:$C/haproxy.sock" | grep -q " w3 127.0.0.1 "
	# a new service: a spare backend and a map entry, at run time
	etcd-put /services/more/upstream/m1 127.0.0.1:8085
	render "$BATS_TEST_TMPDIR/new1.cfg"
	hr "$BATS_TEST_TMPDIR/new1.cfg"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +1 -0 ~0 servers, +1 -0 ~0 map entries; backend more in easy-lb-spare-1" ]
	grep -qx "/more easy-lb-spare-1" "$C/routes.map"
	vg_clean
	# a new service with a balance of its own: a confirmed reload
	etcd-put /services/most/backend/balance source
	etcd-put /services/most/upstream/m1 127.0.0.1:8085
	render "$BATS_TEST_TMPDIR/new2.cfg"
	hr "$BATS_TEST_TMPDIR/new2.cfg"
	[ "$status" -eq 0 ]
	[[ $output =~ ^reloaded\ \(worker\ [0-9]+\)$ ]]
	installed "$BATS_TEST_TMPDIR/new2.cfg"
	vg_clean
	hr "$BATS_TEST_TMPDIR/new2.cfg"
	[ "$status" -eq 0 ]
	[ "$output" = unchanged ]
	vg_clean
}

@test "valgrind: hap-certs checks, writes and drops certificates, passing the services on" {
	local d="$BATS_TEST_TMPDIR/pki" i
	# shellcheck source=tests/pki.bash
	. "$BATS_TEST_DIRNAME/pki.bash"
	site_ca "$d"
	site_cert "$d" a a.example.com a1
	{
		for i in cert key; do
			jq -cn --rawfile v "$d/a.${i/cert/crt}" --arg k "/tls/a/$i" \
				'{type: "put", key: $k, value: $v, revision: 3}'
		done
		echo '{"type":"put","key":"/tls/bad/cert","value":"junk","revision":4}'
		echo '{"type":"put","key":"/tls/bad/key","value":"junk","revision":4}'
		echo '{"type":"progress","revision":4}'
		echo '{"type":"delete","key":"/tls/a/key","revision":5}'
		echo '{"type":"progress","revision":5}'
	} >"$BATS_TEST_TMPDIR/tls"
	printf '%s\n' '{"type":"resync","revision":7,"kvs":{}}' '{"type":"progress","revision":8}' \
		>"$BATS_TEST_TMPDIR/svc"
	vg hap-certs --from 3 -d "$BATS_TEST_TMPDIR/dir" -s "$BATS_TEST_TMPDIR/none.sock" \
		3<"$BATS_TEST_TMPDIR/tls" <"$BATS_TEST_TMPDIR/svc"
	[ "$status" -eq 0 ]
	[[ $output == '{"type":"resync","revision":7,"kvs":{}}'* ]]
	[[ $stderr == *"hap-certs: /tls/bad/cert: not a PEM certificate"* ]]
	[[ $stderr == *"hap-certs: /tls/a/key: missing; the previous pair keeps serving"* ]]
	# (the records' end takes every certificate away)
	[[ $stderr == *"hap-certs: the certificates' records ended: HTTPS is off" ]]
	[ ! -e "$BATS_TEST_TMPDIR/dir/crt/a.pem" ]
	vg_clean
}
