#!/usr/bin/env bats
# The shipped templates (share/easy-lb/*.cfg.tmpl) as tmpl --follow keeps
# them rendered: after long random churn (upstreams put and deleted,
# whole services coming and going, locations and backend options
# changing, bad values appearing and being fixed, now and then a resync),
# every incremental render must be, byte for byte, the output of a
# one-shot render of the same state, and print the warnings that render
# gives and the one before did not (bench/follow-driver.py --check).

load helper

# follows TEMPLATE SERVICES UPSTREAMS CHANGES [--mode churn]: the driver's
# check, one line a render on stdout, nothing on stderr.
follows() {
	local t=$1 ns=$2 nu=$3 n=$4
	shift 4
	run_split python3 "$REPO/bench/follow-driver.py" --check "$@" tmpl \
		"$REPO/share/easy-lb/$t" "$BATS_TEST_TMPDIR/out.cfg" "$ns" "$nu" "$n"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(printf '%s\n' "$output" | wc -l)" -eq $((n + 1)) ]
}

@test "haproxy.cfg.tmpl: 500 random changes, each render that of a render from scratch" {
	follows haproxy.cfg.tmpl 40 3 500 --mode churn
}

@test "haproxy.cfg.tmpl: one upstream at a time over 300 services, each render that of a render from scratch" {
	follows haproxy.cfg.tmpl 300 4 40
}

@test "simple.cfg.tmpl: 200 random changes, each render that of a render from scratch" {
	follows simple.cfg.tmpl 30 3 200 --mode churn
}

@test "simple.cfg.tmpl renders a configuration haproxy accepts, routes longest first" {
	printf '%s' '{"/services/web/upstream/a":"127.0.0.1:80","/services/web/upstream/b":"127.0.0.1:81 weight 10","/services/api/location":"/api","/services/api/upstream/x":"127.0.0.1:90","/services/api/backend/balance":"source","/services/v2/location":"/api/v2","/services/v2/upstream/y":"127.0.0.1:91"}' >"$BATS_TEST_TMPDIR/data.json"
	EASY_LB_RUN=$BATS_TEST_TMPDIR run_split tmpl -d "$BATS_TEST_TMPDIR/data.json" "$REPO/share/easy-lb/simple.cfg.tmpl"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(printf '%s\n' "$output" | grep use_backend)" = "    use_backend %[path,map_beg($BATS_TEST_TMPDIR/routes.map)]" ]
	[ "$(printf '%s\n' "$output" | sed -n '/^@map /,/^@end$/p')" = "@map $BATS_TEST_TMPDIR/routes.map
/api api
/api/v2 v2
/web web
@end" ]
	[[ "$output" == *$'backend api\n    balance source\n    server x 127.0.0.1:90 check\n'* ]]
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/haproxy.cfg.new"
	run_split hap-reload --install -f "$BATS_TEST_TMPDIR/haproxy.cfg" "$BATS_TEST_TMPDIR/haproxy.cfg.new"
	[ "$status" -eq 0 ]
	[ "$output" = installed ]
	[ "$(cat "$BATS_TEST_TMPDIR/routes.map")" = "/api api
/api/v2 v2
/web web" ]
	grep -q '^@' "$BATS_TEST_TMPDIR/haproxy.cfg" && return 1
	run_split haproxy -c -f "$BATS_TEST_TMPDIR/haproxy.cfg"
	[ "$status" -eq 0 ]
}

@test "haproxy.cfg.tmpl: wildcards take their places by the length of their domain, each on its own" {
	printf '%s' '{"/services/a/upstream/x":"127.0.0.1:1","/services/a/host":"*.example.com,*.averyverylongdomain.net,*.b.com,*.c.com","/services/b/upstream/y":"127.0.0.1:2","/services/b/host":"*.foo.example.com","easy-lb:tls":"on"}' \
		>"$BATS_TEST_TMPDIR/data.json"
	run_split env LB_TLS_PORT=8443 tmpl -d "$BATS_TEST_TMPDIR/data.json" "$REPO/share/easy-lb/haproxy.cfg.tmpl"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	# x.foo.example.com must reach b, though a's longest domain is longer:
	# a key a host's suffix at a time, the longest first (routes.bats
	# sends the requests)
	[ "$(printf '%s\n' "$output" | sed -n '/^@map /,/^@end$/p')" = "@map /run/easy-lb/routes.map
.averyverylongdomain.net/ a
.foo.example.com/ b
.example.com/ a
.b.com/ a
.c.com/ a
@end" ]
	[ "$(printf '%s\n' "$output" | grep -c 'set-var(txn.easylb_sfx)')" -eq 4 ]
}
