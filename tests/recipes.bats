#!/usr/bin/env bats
# The README's recipes, run as written.  Cron or a systemd timer with the
# distribution's haproxy: a real etcd, a real haproxy started the way
# Debian's haproxy.service starts it (haproxy -Ws -f CONFIG -p PIDFILE
# -S MASTER_SOCKET) on its stock file, and contrib/easy-lb-sync run
# against it with contrib/easy-lb-sync.cfg.tmpl, as cron would run it;
# tiny backends that answer their own name; all on 127.0.0.1.

load helper

SYNC=$REPO/contrib/easy-lb-sync

setup_file() {
	etcd_setup_file
	names_start "$TESTTMP" a b c
}

teardown_file() {
	kill "$(cat "$TESTTMP/backends.pid")" 2>/dev/null || true
	etcd_teardown_file
}

# up NAME: the upstream value of backend NAME.
up() { echo "127.0.0.1:$(eval echo "\$PORT_$1")"; }

# stock: Debian's /etc/haproxy/haproxy.cfg as the package installs it, on
# this test's files (its log on standard output; no chroot nor user,
# which need root and the haproxy package's user).
stock() {
	cat <<EOF
global
	log stdout local0
	log stdout local1 notice
	stats socket $D/admin.sock mode 660 level admin
	stats timeout 30s
	daemon

defaults
	log	global
	mode	http
	option	httplog
	option	dontlognull
	timeout connect 5000
	timeout client  50000
	timeout server  50000
EOF
}

setup() {
	D=$BATS_TEST_TMPDIR
	FE=$(free_port)
	mkdir "$D/tmp"
	# what the cron line's or the unit's environment would say; the
	# template's chroot, user and log are Debian's unless set
	ETCD_PREFIX=$(K services)
	export HAPROXY_CONFIG=$D/haproxy.cfg HAPROXY_MASTER_SOCKET=$D/master.sock \
		HAPROXY_SOCKET=$D/admin.sock TEMPLATE=$REPO/contrib/easy-lb-sync.cfg.tmpl \
		ETCD_PREFIX LB_BIND=127.0.0.1 LB_PORT=$FE \
		HAPROXY_LOG=stdout HAPROXY_USER='' HAPROXY_CHROOT=
	stock >"$D/haproxy.cfg"
	cp "$D/haproxy.cfg" "$D/stock.cfg"
	# (haproxy.service: ExecStart=/usr/sbin/haproxy -Ws -f $CONFIG -p $PIDFILE $EXTRAOPTS)
	haproxy -Ws -f "$D/haproxy.cfg" -p "$D/haproxy.pid" -S "$D/master.sock" \
		>"$D/haproxy.log" 2>&1 &
	HAPPID=$!
	wait_until 10 worker
	W0=$(worker)
	etcd-put "$(K services/web/upstream/a)" "$(up a)"
	etcd-put "$(K services/web/location)" /web
}

teardown() {
	touch "$D/go" "$D/stop"
	[ -z "${BGPID:-}" ] || wait "$BGPID" 2>/dev/null || true
	kill "$HAPPID" 2>/dev/null || true
	wait "$HAPPID" 2>/dev/null || true
}

# worker: the pid of haproxy's current worker (none: status 1).
worker() {
	show_proc "$D/master.sock" | awk '$2 == "worker" && $3 == 0 { print $1; f = 1; exit } END { exit !f }'
}

# sync_run: easy-lb-sync, as cron runs it, into $status/$output/$stderr;
# its temporary data file in $D/tmp.
sync_run() {
	TMPDIR=$D/tmp run_split "$SYNC"
}

# sync_ok OUTPUT: a run that succeeds, saying OUTPUT, and nothing on
# stderr.
sync_ok() {
	sync_run
	[ "$status" -eq 0 ]
	[ "$output" = "$1" ]
	[ -z "$stderr" ]
}

# first_sync: the first run, from the stock file to the template's.
first_sync() {
	sync_run
	[ "$status" -eq 0 ]
	[[ "$output" == "reloaded (worker "*")" ]]
	[ -z "$stderr" ]
}

# route PATH NAME: a request for PATH is answered by backend NAME
# ("503": by haproxy, no service taking it; "000": by nothing).
route() {
	local got
	got=$(curl -s -w '%{http_code}' "http://127.0.0.1:$FE$1") || true
	case $2 in
	000) [ "$got" = 000 ] ;;
	503) [ "${got: -3}" = 503 ] ;;
	*) [ "$got" = "$2
200" ] ;;
	esac
}

# reaches PATH NAME: one of a few requests for PATH is answered by NAME.
reaches() {
	local _
	for _ in 1 2 3 4 5 6 7 8; do
		route "$1" "$2" && return 0
	done
	return 1
}

# served BACKEND: haproxy's worker has sent BACKEND a request (its
# "show stat" total of sessions, the 8th field).
served() {
	local n
	n=$(echo "show stat" | socat -t 2 - "unix:$D/admin.sock" |
		awk -F, -v b="$1" '$1 == b && $2 == "BACKEND" { print $8 }')
	[ "${n:-0}" -gt 0 ]
}

# no_leftovers: the run left no file of its own behind (its lock stays).
no_leftovers() {
	[ -z "$(ls -A "$D/tmp")" ]
	refute compgen -G "$D/haproxy.cfg.sync.??????"
}

@test "recipes: cron/timer: the first run takes the distribution's haproxy from its stock file to the template's, by a reload" {
	route /web/ 000
	sync_run
	[ "$status" -eq 0 ]
	[ "$output" = "reloaded (worker $(worker))" ]
	[ -z "$stderr" ]
	[ "$(worker)" != "$W0" ]
	reaches /web/x a
	route /elsewhere 503
	cmp "$D/haproxy.cfg.prev" "$D/stock.cfg"
	grep -qx "    stats socket $D/admin.sock mode 660 level admin" "$D/haproxy.cfg"
	grep -qx "    server a $(up a) check" "$D/haproxy.cfg"
	[ "$(cat "$D/easy-lb-routes.map")" = "/web web" ]
	no_leftovers
}

@test "recipes: cron/timer: nothing changed in etcd: unchanged, the file and the worker as they were" {
	first_sync
	w=$(worker)
	before=$(stat -c '%i %y' "$D/haproxy.cfg" "$D/easy-lb-routes.map")
	sync_ok unchanged
	# (not even written again)
	[ "$(stat -c '%i %y' "$D/haproxy.cfg" "$D/easy-lb-routes.map")" = "$before" ]
	[ "$(worker)" = "$w" ]
	reaches /web/ a
	no_leftovers
}

@test "recipes: cron/timer: a new upstream goes in through the runtime API: the same worker, traffic reaches it" {
	first_sync
	w=$(worker)
	etcd-put "$(K services/web/upstream/b)" "$(up b)"
	sync_ok "runtime: +1 -0 ~0 servers"
	[ "$(worker)" = "$w" ]
	reaches /web/ b
	reaches /web/ a
	grep -qx "    server b $(up b) check" "$D/haproxy.cfg"
	no_leftovers
	# in step: the next run finds nothing to do
	sync_ok unchanged
}

@test "recipes: cron/timer: a new service goes live in a spare backend at run time" {
	first_sync
	w=$(worker)
	etcd-put "$(K services/shop/upstream/c)" "$(up c)"
	sync_ok "runtime: +1 -0 ~0 servers, +1 -0 ~0 map entries; backend shop in easy-lb-spare-1"
	[ "$(worker)" = "$w" ]
	route /shop/x c
	route /web/ a
	no_leftovers
}

@test "recipes: cron/timer: a backend option reloads: a new worker, and no request fails across it" {
	first_sync
	w=$(worker)
	etcd-put "$(K services/web/backend/balance)" leastconn
	python3 "$REPO/tests/hap/client.py" "http://127.0.0.1:$FE/web/" \
		"$D/stop" 60 >"$D/client.out" &
	BGPID=$!
	wait_until 10 served web
	sync_run
	touch "$D/stop"
	wait "$BGPID"
	[ "$status" -eq 0 ]
	[ "$output" = "reloaded (worker $(worker))" ]
	[ -z "$stderr" ]
	[ "$(worker)" != "$w" ]
	grep -qx "    balance leastconn" "$D/haproxy.cfg"
	route /web/ a
	grep -q '^ok [1-9][0-9]* failed 0$' "$D/client.out"
	no_leftovers
}

@test "recipes: cron/timer: a value haproxy refuses: status 1, the file kept as .rejected, the last good one serves on" {
	first_sync
	w=$(worker)
	cp "$D/haproxy.cfg" "$D/good.cfg"
	etcd-put "$(K services/web/backend/balance)" round-robin
	sync_run
	[ "$status" -eq 1 ]
	[[ "$output" == "rejected: "* ]]
	[[ "$stderr" == *"hap-reload: $D/haproxy.cfg.sync."??????" rejected, kept as $D/haproxy.cfg.rejected"* ]]
	[ "${stderr##*$'\n'}" = "easy-lb-sync: hap-reload did not apply the configuration rendered from $TEMPLATE (status 1): haproxy serves the last good one, $D/haproxy.cfg" ]
	grep -qx "    balance round-robin" "$D/haproxy.cfg.rejected"
	cmp "$D/haproxy.cfg" "$D/good.cfg"
	[ "$(worker)" = "$w" ]
	reaches /web/ a
	no_leftovers
	# the key fixed, the next run finds the file as it was
	etcd-put -d "$(K services/web/backend/balance)"
	sync_ok unchanged
}

@test "recipes: cron/timer: a value tmpl refuses: status 1, haproxy untouched" {
	first_sync
	w=$(worker)
	cp "$D/haproxy.cfg" "$D/good.cfg"
	etcd-put "$(K services/web/upstream/b)" "$(up b) check
    server x 127.0.0.1:1"
	sync_run
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[[ "$stderr" == "tmpl: "*"refused"* ]]
	[ "${stderr##*$'\n'}" = "easy-lb-sync: tmpl could not render $TEMPLATE (status 1): haproxy untouched" ]
	cmp "$D/haproxy.cfg" "$D/good.cfg"
	[ "$(worker)" = "$w" ]
	reaches /web/ a
	no_leftovers
}

@test "recipes: cron/timer: etcd out of reach: status 111, nothing rendered, haproxy untouched" {
	first_sync
	w=$(worker)
	cp "$D/haproxy.cfg" "$D/good.cfg"
	ETCDCTL_ENDPOINTS=http://127.0.0.1:$(free_port) sync_run
	[ "$status" -eq 111 ]
	[ "$output" = "" ]
	[[ "$stderr" == "etcd-get: "* ]]
	[ "${stderr##*$'\n'}" = "easy-lb-sync: etcd-get -p $ETCD_PREFIX/ failed (status 111): nothing rendered, haproxy untouched" ]
	cmp "$D/haproxy.cfg" "$D/good.cfg"
	[ "$(worker)" = "$w" ]
	reaches /web/ a
	no_leftovers
}

@test "recipes: cron/timer: a run that starts while another is under way does nothing; the one under way applies" {
	first_sync
	w=$(worker)
	# the first run's haproxy -c waits for $D/go: it holds its lock till then
	cat >"$D/slow-haproxy" <<EOF
#!/bin/sh
: >"$D/checking"
while [ ! -e "$D/go" ]; do sleep 0.02; done
exec "$(command -v haproxy)" "\$@"
EOF
	chmod +x "$D/slow-haproxy"
	etcd-put "$(K services/web/upstream/c)" "$(up c)"
	(
		HAPROXY=$D/slow-haproxy TMPDIR=$D/tmp "$SYNC" >"$D/first.out" 2>"$D/first.err"
		echo $? >"$D/first.status"
	) &
	BGPID=$!
	wait_until 10 test -e "$D/checking"
	sync_run
	[ "$status" -eq 111 ]
	[ "$output" = "" ]
	[ "$stderr" = "easy-lb-sync: $D/haproxy.cfg.sync.lock: another run is under way; this one did nothing" ]
	touch "$D/go"
	wait "$BGPID"
	[ "$(cat "$D/first.status")" -eq 0 ]
	[ "$(cat "$D/first.out")" = "runtime: +1 -0 ~0 servers" ]
	[ ! -s "$D/first.err" ]
	[ "$(worker)" = "$w" ]
	reaches /web/ c
	no_leftovers
	sync_ok unchanged
}
