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
	[ "$(printf '%s\n' "$output" | grep use_backend)" = "    use_backend v2 if { path_beg /api/v2 }
    use_backend api if { path_beg /api }
    use_backend web if { path_beg /web }" ]
	[[ "$output" == *$'backend api\n    balance source\n    server x 127.0.0.1:90 check\n'* ]]
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/haproxy.cfg"
	run_split haproxy -c -f "$BATS_TEST_TMPDIR/haproxy.cfg"
	[ "$status" -eq 0 ]
}

@test "haproxy.cfg.tmpl: wildcards take their places by the length of their domain, each on its own" {
	printf '%s' '{"/services/a/upstream/x":"127.0.0.1:1","/services/a/host":"*.example.com,*.averyverylongdomain.net,*.b.com,*.c.com","/services/b/upstream/y":"127.0.0.1:2","/services/b/host":"*.foo.example.com","easy-lb:tls":"on"}' \
		>"$BATS_TEST_TMPDIR/data.json"
	run_split env LB_TLS_PORT=8443 tmpl -d "$BATS_TEST_TMPDIR/data.json" "$REPO/share/easy-lb/haproxy.cfg.tmpl"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	# x.foo.example.com must reach b, though a's longest domain is longer
	[ "$(printf '%s\n' "$output" | grep '^    use_backend ')" = "    use_backend a if { req.hdr(host),field(1,:),lower -m end .averyverylongdomain.net }
    use_backend b if { req.hdr(host),field(1,:),lower -m end .foo.example.com }
    use_backend a if { req.hdr(host),field(1,:),lower -m end .example.com }
    use_backend a if { req.hdr(host),field(1,:),lower -m end .b.com .c.com }" ]
}
