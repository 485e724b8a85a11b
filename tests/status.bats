#!/usr/bin/env bats
# easy-lb status and HEALTH_URI, end to end: the balancer (boot.sh,
# watcher.sh, hap-certs, tmpl, hap-reload, easy-lb-status --serve) with a
# real etcd that sends progress notifications every second, a real
# haproxy, a tiny backend, certificates made here; each state the status
# can be in, brought about for real, and what easy-lb status, --json,
# HEALTH_URI and the metrics say of it.

load helper
load pki

setup_file() {
	etcd_setup_file --experimental-watch-progress-notify-interval=1s
	export LB_PORT LB_TLS_PORT LB_BIND=127.0.0.1 DEBOUNCE_MS=50 \
		EASY_LB_RUN="$TESTTMP/run" PROGRESS_INTERVAL=2 \
		HAPROXY_PROMETHEUS=1 TEMPLATE="$TESTTMP/raw.cfg.tmpl" P="$TESTTMP/pki" \
		LB_ID=lb-test STATUS_TTL=2
	LB_PORT=$(free_port)
	LB_TLS_PORT=$(free_port)
	# The shipped template, and one line more in the defaults that etcd
	# can set to anything, so that a test can make haproxy refuse a file
	sed 's|^    timeout http-request 10s$|&\n    {{ getv("/services/zzraw/raw"; "") }}|' \
		"$REPO/share/easy-lb/haproxy.cfg.tmpl" >"$TEMPLATE"
	grep -q zzraw "$TEMPLATE"
	site_ca "$P"
	site_cert "$P" good good.example.com 1001
	site_cert "$P" soon soon.example.com 1002 20260101000000Z \
		"$(date -u -d '+5 days' +%Y%m%d%H%M%SZ)"
	backend_start web
	export BACKEND_PORT
	etcd-put /services/web/upstream/w1 "127.0.0.1:$BACKEND_PORT"
	etcd-put /tls/good/cert - <"$P/good.crt"
	etcd-put /tls/good/key - <"$P/good.key"
	lb_start
}

# (what a failed test left, which would fail the next ones too)
teardown() {
	etcd-put -d /services/zzraw/raw >/dev/null 2>&1 || true
	etcd-put -d -p /tls/soon/ >/dev/null 2>&1 || true
}

teardown_file() {
	lb_stop
	backends_stop
	etcd_teardown_file
}

# st ARGS...: easy-lb-status on this balancer.
st() { run_split easy-lb-status -d "$EASY_LB_RUN" "$@"; }

# live_is_etcd: the revision live is etcd's.
live_is_etcd() {
	[ "$(easy-lb-status -d "$EASY_LB_RUN" --json | jq .revision.live)" = "$(etcd-get --revision)" ]
}

# healthy: easy-lb status says so (exit 0); what it says, when not, on
# stderr.
healthy() { easy-lb-status -d "$EASY_LB_RUN" >"$BATS_TEST_TMPDIR/st" || { cat "$BATS_TEST_TMPDIR/st" >&2; false; }; }

# state_is STATE: easy-lb status --json says STATE.
state_is() { [ "$(easy-lb-status -d "$EASY_LB_RUN" --json | jq -r .state)" = "$1" ]; }

health() { curl -s -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' "http://127.0.0.1:$LB_PORT/healthz"; }

@test "status: a balancer in step: healthy, exit 0, the revision live is etcd's, its haproxy and certificate" {
	wait_until 20 healthy
	wait_until 10 live_is_etcd
	wait_until 10 grep -q "^cert good " "$EASY_LB_RUN/status/certs"
	rev=$(etcd-get --revision)
	st
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "${lines[0]}" = "easy-lb on $EASY_LB_RUN: healthy" ]
	[ "${lines[1]}" = "etcd:        $ETCDCTL_ENDPOINTS" ]
	[ "${lines[2]}" = "prefix:      /services/" ]
	[[ "${lines[3]}" == "seen:        revision $rev, "*" s ago" ]]
	[ "${lines[4]}" = "live:        revision $rev, lag 0 revisions, 0.0 s" ]
	[[ "$output" == *$'\nlast error:  none\n'* ]]
	[[ "$output" == *$'\nhaproxy:     master '"$(cat "$EASY_LB_RUN/haproxy.pid")"', '* ]]
	[[ "$output" == *$'\ncertificate: good, expires '*$' (CN=good.example.com)\n'* ]]
	[[ "$output" == *$'\nskipped:     0' ]]
	st --json
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(jq -r .state <<<"$output")" = healthy ]
	[ "$(jq -c .reasons <<<"$output")" = "[]" ]
	[ "$(jq .revision.live <<<"$output")" = "$rev" ]
	[ "$(jq .revision.lag <<<"$output")" = 0 ]
	[ "$(jq -r .etcd.endpoints <<<"$output")" = "$ETCDCTL_ENDPOINTS" ]
	[ "$(jq .haproxy.master <<<"$output")" = "$(cat "$EASY_LB_RUN/haproxy.pid")" ]
	[ "$(jq '.haproxy.workers | length' <<<"$output")" = 1 ]
	[ "$(jq -r '.certificates[0].name' <<<"$output")" = good ]
	[ "$(jq '.watcher' <<<"$output")" = true ]
	[ "$(jq '.watch.stale' <<<"$output")" = false ]
}

@test "status: a new upstream goes live at run time and the status says so" {
	r0=$(etcd-get --revision)
	etcd-put /services/web/upstream/w2 "127.0.0.1:$BACKEND_PORT"
	wait_until 10 live_is_etcd
	st --json
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	# (the put's revision: the fleet key is written after it)
	[ "$(jq .last_apply.revision <<<"$output")" -gt "$r0" ]
	[ "$(jq -r .last_apply.message <<<"$output")" = "runtime: +1 -0 ~0 servers" ]
	[ "$(jq .last_apply.ok <<<"$output")" = true ]
	[ "$(jq .applies.runtime <<<"$output")" -ge 1 ]
}

@test "status: a skipped key is listed with its warning; the balancer stays healthy" {
	etcd-put /services/web/upstream/bad "not an address"
	wait_until 10 live_is_etcd
	st
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[[ "$output" == *$'\nskipped:     1\n  /services/web/upstream/bad: "not" is not host:port (IPv6 in brackets); skipped' ]]
	st --json
	[ "$(jq -r '.skipped[0]' <<<"$output")" = '/services/web/upstream/bad: "not" is not host:port (IPv6 in brackets); skipped' ]
	etcd-put -d /services/web/upstream/bad >/dev/null
	wait_until 10 live_is_etcd
	st
	[[ "$output" == *$'\nskipped:     0' ]]
}

@test "status --services: each service, its servers and how many take traffic; the README's one-liner names those with none" {
	local dead line
	dead=$(free_port)
	# a new service (in a spare backend) whose only server fails its
	# checks, and one whose only upstream is skipped: not served
	etcd-put /services/dead/upstream/d1 "127.0.0.1:$dead inter 100 fall 1 rise 1"
	etcd-put /services/nowhere/upstream/n1 "not an address"
	wait_until 10 live_is_etcd
	wait_until 10 eval '[ "$(easy-lb-status -d "$EASY_LB_RUN" --services --json | jq .services.dead.up)" = 0 ]'
	st --services
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	# (in haproxy's order: the spares are declared first)
	[[ "$output" =~ $'\n'"services:    2"$'\n'"  dead: 0 of 1 servers up (backend easy-lb-spare-"[0-9]+")"$'\n'"  web: "([0-9])" of "([0-9])" servers up"$ ]]
	[ "${BASH_REMATCH[1]}" -ge 1 ]
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]
	st --services --json
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(jq -c '.services.dead | [.servers, .up, (.backend | startswith("easy-lb-spare-"))]' <<<"$output")" = "[1,0,true]" ]
	[ "$(jq -c '.services.web | [.backend, .servers == .up]' <<<"$output")" = '["web",true]' ]
	# the README's one-liner
	line=$(sed -n 's/^    \$ \(easy-lb status --services --json | jq .*no healthy upstream\)$/\1/p' "$REPO/README.md")
	[ -n "$line" ]
	# (easy-lb status as make install's entry point has it)
	mkdir "$BATS_TEST_TMPDIR/easy-lb"
	printf '#!/bin/sh\n[ "$1" = status ] || exit 100\nshift\nexec easy-lb-status "$@"\n' \
		>"$BATS_TEST_TMPDIR/easy-lb/easy-lb"
	chmod +x "$BATS_TEST_TMPDIR/easy-lb/easy-lb"
	run_split env PATH="$BATS_TEST_TMPDIR/easy-lb:$PATH" bash -c "$line"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$output" = "dead: 0 of 1 up
nowhere: not served" ]
	# without the runtime API: the rest, and why the services are not
	mv "$EASY_LB_RUN/haproxy.sock" "$EASY_LB_RUN/haproxy.sock.away"
	st --services --json
	mv "$EASY_LB_RUN/haproxy.sock.away" "$EASY_LB_RUN/haproxy.sock"
	[ "$status" -eq 0 ]
	[ "$(jq .services <<<"$output")" = null ]
	[ "$(jq -r .state <<<"$output")" = healthy ]
	[[ "$stderr" == "easy-lb-status: services: runtime API: $EASY_LB_RUN/haproxy.sock: "?* ]]
	etcd-put -d -p /services/dead/ >/dev/null
	etcd-put -d -p /services/nowhere/ >/dev/null
	wait_until 10 live_is_etcd
}

# metric_is_live: /metrics/easy-lb's revision live is the status's.
metric_is_live() {
	local m
	m=$(curl -s "http://127.0.0.1:$LB_PORT/metrics/easy-lb" | sed -n 's/^easylb_revision_live //p')
	[ -n "$m" ]
	[ "$m" = "$(easy-lb-status -d "$EASY_LB_RUN" --json | jq .revision.live)" ]
}

@test "HEALTH_URI: 200 healthy, before any service's route; HEAD too; easy-lb's metrics beside haproxy's" {
	etcd-put /services/catchall/upstream/c "127.0.0.1:$BACKEND_PORT"
	etcd-put /services/catchall/location /
	wait_until 10 live_is_etcd
	[ "$(health)" = 200 ]
	[ "$(cat "$BATS_TEST_TMPDIR/body")" = healthy ]
	run_split curl -s -I "http://127.0.0.1:$LB_PORT/healthz"
	[ "$status" -eq 0 ]
	[[ "$output" == "HTTP/1.1 200 OK"* ]]
	run_split curl -s "http://127.0.0.1:$LB_PORT/metrics/easy-lb"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[[ "$output" == *$'\neasylb_state 0\n'* ]]
	[[ "$output" =~ $'\n'easylb_revision_live\ [0-9]+$'\n' ]]
	[[ "$output" == *$'\neasylb_certificate_expiry_seconds{name="good"} '* ]]
	# the live revision, as the status says it (etcd's own moves on with
	# each write of the fleet key, up to a second after an apply)
	wait_until 5 metric_is_live
	[[ "$output" == *$'\n# TYPE easylb_applies_total counter\n'* ]]
	# (and haproxy's own, still)
	run_split curl -s "http://127.0.0.1:$LB_PORT/metrics"
	[[ "$output" == *haproxy_process_* ]]
	etcd-put -d -p /services/catchall/ >/dev/null
	wait_until 10 live_is_etcd
}

@test "status: a file haproxy refuses: degraded, exit 1, HEALTH_URI 503 with the reason, the last good config serving" {
	wait_until 10 live_is_etcd
	cp "$EASY_LB_RUN/haproxy.cfg" "$BATS_TEST_TMPDIR/good.cfg"
	r0=$(etcd-get --revision)
	etcd-put /services/zzraw/raw "no-such-keyword here"
	wait_until 20 state_is degraded
	# (the put's revision, as the apply knew it: the fleet key's writes
	# move etcd's on)
	rev=$(easy-lb-status -d "$EASY_LB_RUN" --json | jq .last_error.revision)
	[ "$rev" -gt "$r0" ]
	st
	[ "$status" -eq 1 ]
	[ -z "$stderr" ]
	[ "${lines[0]}" = "easy-lb on $EASY_LB_RUN: degraded" ]
	[[ "$output" == *$'\n  the last apply failed (revision '"$rev"$')\n'* ]]
	[[ "$output" == *$'\nlast error:  revision '"$rev"', '*' ago: rejected: '* ]]
	[ "$(health)" = 503 ]
	[ "$(head -n 2 "$BATS_TEST_TMPDIR/body")" = "degraded
the last apply failed (revision $rev)" ]
	cmp "$EASY_LB_RUN/haproxy.cfg" "$BATS_TEST_TMPDIR/good.cfg"
	answers /web/ web
	# the README's one-liner: the balancers of the fleet not healthy, and why
	wait_until 5 bash -c "etcd-get /easy-lb/balancers/lb-test | jq -e '.state == \"degraded\"' >/dev/null"
	run_split bash -c "$(sed -n 's/^    \$ \(etcd-get -p \/easy-lb\/balancers\/ | jq -r .*not healthy.*\)$/\1/p' "$REPO/README.md")"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$output" = "/easy-lb/balancers/lb-test: the last apply failed (revision $rev)" ]
	etcd-put -d /services/zzraw/raw >/dev/null
	wait_until 20 healthy
	st --json
	[ "$status" -eq 0 ]
	[ "$(jq .last_error.revision <<<"$output")" = "$rev" ]
	[[ "$(jq -r .last_error.message <<<"$output")" == "rejected: "* ]]
	[ "$(jq .applies.failed <<<"$output")" -ge 1 ]
	[ "$(health)" = 200 ]
}

@test "status: a certificate that expires within 14 days degrades, named; its replacement heals" {
	etcd-put /tls/soon/cert - <"$P/soon.crt"
	etcd-put /tls/soon/key - <"$P/soon.key"
	wait_until 20 state_is degraded
	st
	[ "$status" -eq 1 ]
	[ -z "$stderr" ]
	[[ "$output" == *$'\n  certificate soon expires in '[45].*$' days\n'* ]]
	st --json
	[ "$(jq -r '[.certificates[].name] | join(",")' <<<"$output")" = good,soon ]
	etcd-put -d -p /tls/soon/ >/dev/null
	wait_until 20 healthy
}

@test "status: etcd gone: the watch is lost, degraded; back: healthy, one reconnect more" {
	wait_until 10 healthy
	before=$(easy-lb-status -d "$EASY_LB_RUN" --json | jq .watch.reconnects)
	etcd_stop main
	wait_until 20 state_is degraded
	st
	[ "$status" -eq 1 ]
	[ -z "$stderr" ]
	[[ "$output" == *$'\n  the watch is lost ('*" s): $ETCDCTL_ENDPOINTS: "* ]]
	[ "$(health)" = 503 ]
	st --json
	[ "$(jq .watch.stale <<<"$output")" = true ]
	etcd_start main --experimental-watch-progress-notify-interval=1s
	wait_until 30 healthy
	st --json
	[ "$(jq .watch.reconnects <<<"$output")" -gt "$before" ]
	[ "$(jq .watch.lost <<<"$output")" = null ]
}

@test "status: etcd silent for more than twice PROGRESS_INTERVAL: stale, degraded; then healthy again" {
	wait_until 10 healthy
	kill -STOP "$(cat "$TESTTMP/etcd-main/pid")"
	wait_until 8 state_is degraded || { kill -CONT "$(cat "$TESTTMP/etcd-main/pid")"; false; }
	st
	kill -CONT "$(cat "$TESTTMP/etcd-main/pid")"
	[ "$status" -eq 1 ]
	[ -z "$stderr" ]
	[[ "$output" == *$'\n  the watch is stale: nothing from etcd for '*$' s (more than 4 s)\n'* ]]
	wait_until 20 healthy
}

# fleet: the fleet key's value; fleet_says REV: it says the last apply
# was of revision REV.
fleet() { etcd-get /easy-lb/balancers/lb-test; }
fleet_says() { [ "$(fleet | jq .last_apply.revision)" = "$1" ]; }
last_apply() { easy-lb-status -d "$EASY_LB_RUN" --json | jq .last_apply.revision; }

@test "the fleet key: /easy-lb/balancers/LB_ID says each apply and the revision live; idle, nothing is written" {
	wait_until 20 healthy
	r0=$(etcd-get --revision)
	etcd-put /services/web/upstream/w3 "127.0.0.1:$BACKEND_PORT"
	wait_until 10 live_is_etcd
	rev=$(last_apply)
	[ "$rev" -gt "$r0" ]
	wait_until 5 fleet_says "$rev"
	run_split etcd-get -p /easy-lb/balancers/
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(jq -r 'keys | join(",")' <<<"$output")" = /easy-lb/balancers/lb-test ]
	v=$(jq -r '.["/easy-lb/balancers/lb-test"]' <<<"$output")
	[ "$(jq -r .state <<<"$v")" = healthy ]
	[ "$(jq .last_apply.revision <<<"$v")" = "$rev" ]
	[ "$(jq -r .last_apply.message <<<"$v")" = "runtime: +1 -0 ~0 servers" ]
	[ "$(jq -r '.certificates[0].name' <<<"$v")" = good ]
	# idle (etcd's progress notifications, every second, go on): no
	# write, etcd's revision stays
	r1=$(etcd-get --revision)
	sleep 3
	[ "$(etcd-get --revision)" = "$r1" ]
}

@test "the fleet key goes within STATUS_TTL when its writer dies, and comes back with the next pipeline" {
	wait_until 20 healthy
	fleet >/dev/null
	kill -KILL "$(lb_proc etcd-put)"
	wait_until 10 bash -c '! etcd-get /easy-lb/balancers/lb-test >/dev/null 2>&1'
	# (the next apply finds its writer gone: a new pipeline, a new key)
	etcd-put /services/web/upstream/w4 "127.0.0.1:$BACKEND_PORT"
	wait_until 30 healthy
	wait_until 10 live_is_etcd
	etcd-put -d /services/web/upstream/w4 >/dev/null
	wait_until 10 live_is_etcd
	wait_until 10 fleet_says "$(last_apply)"
}

@test "status: no balancer on the directory: down, exit 2" {
	st -d "$BATS_TEST_TMPDIR/none"
	[ "$status" -eq 2 ]
	[ -z "$stderr" ]
	[ "${lines[0]}" = "easy-lb on $BATS_TEST_TMPDIR/none: down" ]
	[ "${lines[1]}" = "  no balancer has run on $BATS_TEST_TMPDIR/none" ]
}

@test "status: usage, --help, --version; the usage lines are the man page's SYNOPSIS" {
	local syn
	st --nope
	[ "$status" -eq 100 ]
	[ -z "$output" ]
	[[ "$stderr" == *"usage: easy-lb status "* ]]
	st --help
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	syn=$(GROFF_NO_SGR=1 nroff -man -Tascii -rLL=1000n "$REPO/share/man/easy-lb-status.1" |
		col -b | awk '/^SYNOPSIS/ { f = 1; next } /^DESCRIPTION/ { f = 0 }
			f && /^ / { sub(/^ */, ""); print (n++ ? "       " : "usage: ") $0 }')
	[ "$output" = "$syn" ]
	# (--services is for the text and --json)
	st --services --metrics
	[ "$status" -eq 100 ]
	[[ "$stderr" == "usage: easy-lb status "* ]]
	st --version
	[ "$status" -eq 0 ]
	[ "$output" = "easy-lb-status 0.1.0" ]
}

@test "status: easy-lb-status --serve gone: degraded, HEALTH_URI fails; the next watcher brings it back" {
	wait_until 20 healthy
	kill -KILL "$(lb_proc easy-lb-status)"
	wait_until 10 state_is degraded
	st
	[ "$status" -eq 1 ]
	[ -z "$stderr" ]
	[[ "$output" == *$'\n  easy-lb-status --serve does not answer on easy-lb-status'"$EASY_LB_RUN"$': HEALTH_URI fails\n'* ]]
	[ "$(health)" = 503 ]
	# (any part of the pipeline gone: a new one, and its server)
	kill -KILL "$(lb_proc tmpl)"
	wait_until 30 healthy
	[ "$(health)" = 200 ]
}

@test "status: haproxy gone: down, exit 2, HEALTH_URI no longer answers" {
	kill -KILL "$(cat "$EASY_LB_RUN/haproxy.pid")"
	# (down at once, the watcher stopped first; haproxy's lock goes last:
	# what one run said, kept)
	wait_until 20 bash -c "easy-lb-status -d '$EASY_LB_RUN' >'$BATS_TEST_TMPDIR/down'; [ \$? -eq 2 ] && grep -qx '  haproxy is not running' '$BATS_TEST_TMPDIR/down'"
	[ "$(head -n 1 "$BATS_TEST_TMPDIR/down")" = "easy-lb on $EASY_LB_RUN: down" ]
	st
	[ "$status" -eq 2 ]
	[ -z "$stderr" ]
	[ "${lines[0]}" = "easy-lb on $EASY_LB_RUN: down" ]
	[ "$(health)" = 000 ]
	# (a balancer that stops revokes its lease: its key goes at once)
	wait_until 10 bash -c '! etcd-get /easy-lb/balancers/lb-test >/dev/null 2>&1'
}
