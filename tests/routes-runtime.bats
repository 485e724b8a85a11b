#!/usr/bin/env bats
# Route changes through the runtime API: the shipped template rendered by
# tmpl, applied by hap-reload to a real haproxy in master-worker mode,
# with tiny backends that answer their own name, all on 127.0.0.1.  Each
# kind of change is applied at run time or by a reload as easy-lb(1)
# says, and afterwards the files on disk are what haproxy runs: the next
# hap-reload of the same file changes nothing, and neither does a reload
# of the installed file.

load helper

setup_file() {
	HT=$(mktemp -d "${TMPDIR:-/tmp}/easylb-routes.XXXXXX")
	export HT
	names_start "$HT" a b c d
}

teardown_file() {
	kill "$(cat "$HT/backends.pid")" 2>/dev/null || true
	rm -rf "$HT"
}

# up NAME: the upstream value of backend NAME.
up() { echo "127.0.0.1:$(eval echo "\$PORT_$1")"; }

# The services every test starts from: web on /web (a), api on
# *.example.com (b).
base() {
	printf '{"/services/web/upstream/a":"%s","/services/web/location":"/web","/services/api/upstream/b":"%s","/services/api/host":"*.example.com"' \
		"$(up a)" "$(up b)"
}

# render JSON: the shipped template's file for these keys, in new.cfg.
render() {
	printf '%s' "$1" >"$D/data.json"
	tmpl -d "$D/data.json" -o "$D/new.cfg" "$REPO/share/easy-lb/haproxy.cfg.tmpl"
}

# apply JSON: render it and hand it to hap-reload.
apply() {
	render "$1"
	run_split hap-reload -f "$D/haproxy.cfg" -S "$D/master.sock" \
		-s "$D/haproxy.sock" "$D/new.cfg"
}

setup() {
	D=$BATS_TEST_TMPDIR
	FE=$(free_port)
	export EASY_LB_RUN=$D LB_PORT=$FE LB_BIND=127.0.0.1 HAPROXY_USER= \
		HAPROXY_CHROOT= HARD_STOP_AFTER=10s
	render "$(base)}"
	run_split hap-reload --install -f "$D/haproxy.cfg" "$D/new.cfg"
	[ "$status" -eq 0 ]
	[ "$output" = installed ]
	[ -z "$stderr" ]
	haproxy -W -db -f "$D/haproxy.cfg" -S "$D/master.sock" -p "$D/pid" \
		>"$D/haproxy.log" 2>&1 &
	HAPPID=$!
	wait_until 10 route /web/ a
	W0=$(worker)
}

teardown() {
	kill "$HAPPID" 2>/dev/null || true
	wait "$HAPPID" 2>/dev/null || true
}

worker() {
	show_proc "$D/master.sock" | awk '$2 == "worker" && $3 == 0 { print $1; exit }'
}

# route PATH NAME [HOST]: a request reaches backend NAME ("503": none).
route() {
	local got
	got=$(curl -s ${3:+-H "Host: $3"} -w '%{http_code}' "http://127.0.0.1:$FE$1")
	case $2 in
	503) [ "${got: -3}" = 503 ] ;;
	*) [ "$got" = "$2
200" ] ;;
	esac
}

# show_map: the map haproxy runs, as "KEY VALUE" lines, sorted.
show_map() {
	echo "show map $D/routes.map" | socat -t 2 - "unix:$D/haproxy.sock" |
		awk 'NF == 3 { print $2, $3 }' | LC_ALL=C sort
}

# in_step: the files are what haproxy runs.  The map haproxy has is the
# file's, every server of the file runs, hap-reload of the same file is
# "unchanged", and a reload of the installed file leaves the map and the
# servers as they were.
in_step() {
	local map before w i
	map=$(LC_ALL=C sort "$D/routes.map")
	[ "$(show_map)" = "$map" ]
	before=$(servers)
	[ "$before" = "$(file_servers)" ]
	run_split hap-reload -f "$D/haproxy.cfg" -S "$D/master.sock" \
		-s "$D/haproxy.sock" "$D/new.cfg"
	[ "$status" -eq 0 ]
	[ "$output" = unchanged ]
	[ -z "$stderr" ]
	w=$(worker)
	echo reload | socat -t 5 - "unix:$D/master.sock" >/dev/null
	for i in $(seq 100); do
		[ "$(worker)" != "$w" ] && [ "$(show_map)" = "$map" ] && break
		sleep 0.1
	done
	[ "$(worker)" != "$w" ]
	[ "$(show_map)" = "$map" ]
	[ "$(servers)" = "$before" ]
}

# servers: "BACKEND SERVER ADDR PORT" of every server haproxy runs (but
# easy-lb-status's, on an abstract socket: HEALTH_URI).
servers() {
	echo "show servers state" | socat -t 2 - "unix:$D/haproxy.sock" |
		awk 'NF > 10 && $1 ~ /^[0-9]+$/ && $2 != "easy-lb-status" { print $2, $4, $5, $19 }' |
		LC_ALL=C sort
}

# file_servers: the same, from the installed file.
file_servers() {
	awk '/^backend / { be = $2 } $1 == "server" && be != "easy-lb-status" { split($3, a, ":"); print be, $2, a[1], a[2] }' \
		"$D/haproxy.cfg" | LC_ALL=C sort
}

@test "routes: a new service goes live in a spare backend at run time, in step with the files" {
	apply "$(base),\"/services/shop/upstream/c\":\"$(up c)\"}"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +1 -0 ~0 servers, +1 -0 ~0 map entries; backend shop in easy-lb-spare-1" ]
	[ -z "$stderr" ]
	[ "$(worker)" = "$W0" ]
	route /shop/x c
	route /web/ a
	grep -qx "    # easy-lb: serves shop" "$D/haproxy.cfg"
	grep -qx "/shop easy-lb-spare-1" "$D/routes.map"
	in_step
	route /shop/x c
}

@test "routes: a location and a host change at run time" {
	apply "$(base | sed 's|"/web"|"/site"|; s|\*\.example\.com|api.example.org|')}"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +0 -0 ~0 servers, +2 -2 ~0 map entries" ]
	[ -z "$stderr" ]
	[ "$(worker)" = "$W0" ]
	route /site/ a
	route /web/ 503
	route / b api.example.org
	route / 503 x.example.com
	in_step
	route /site/ a
}

@test "routes: a service removed at run time keeps an empty backend until the next reload" {
	apply "{\"/services/api/upstream/b\":\"$(up b)\",\"/services/api/host\":\"*.example.com\"}"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +0 -1 ~0 servers, +0 -1 ~0 map entries" ]
	[ -z "$stderr" ]
	[ "$(worker)" = "$W0" ]
	route /web/ 503
	route /web/ b x.example.com
	grep -A1 -x "backend web" "$D/haproxy.cfg" | grep -qx "    # easy-lb: retired"
	in_step
	# back again: its own backend, at run time
	apply "$(base)}"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +1 -0 ~0 servers, +1 -0 ~0 map entries" ]
	route /web/ a
	refute grep -q "easy-lb: retired" "$D/haproxy.cfg"
	in_step
}

@test "routes: a spare freed by a service gone serves the next one" {
	apply "$(base),\"/services/shop/upstream/c\":\"$(up c)\"}"
	[ "$output" = "runtime: +1 -0 ~0 servers, +1 -0 ~0 map entries; backend shop in easy-lb-spare-1" ]
	apply "$(base)}"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +0 -1 ~0 servers, +0 -1 ~0 map entries" ]
	refute grep -q "serves" "$D/haproxy.cfg"
	route /shop/ 503
	apply "$(base),\"/services/blog/upstream/d\":\"$(up d)\",\"/services/blog/host\":\"blog.example.org\"}"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +1 -0 ~0 servers, +1 -0 ~0 map entries; backend blog in easy-lb-spare-1" ]
	route / d blog.example.org
	[ "$(worker)" = "$W0" ]
	in_step
}

# source_is: haproxy.cfg.source names haproxy.cfg as it is, then holds
# new.cfg but its map blocks.
source_is() {
	local st
	st=$(stat -c '%d:%i, %s bytes, %Y' "$D/haproxy.cfg")
	[[ "$(head -n 1 "$D/haproxy.cfg.source")" == "# hap-reload: the source of ${st%%,*}, ${st#*, }"* ]]
	diff <(tail -n +2 "$D/haproxy.cfg.source") <(sed '/^@map /,/^@end$/d' "$D/new.cfg")
}

@test "routes: while a spare serves, each change is worked out from haproxy.cfg.source; one that names haproxy.cfg otherwise is not used; binding nothing, it goes" {
	local got
	[ ! -e "$D/haproxy.cfg.source" ]
	apply "$(base),\"/services/shop/upstream/c\":\"$(up c)\"}"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +1 -0 ~0 servers, +1 -0 ~0 map entries; backend shop in easy-lb-spare-1" ]
	[ -z "$stderr" ]
	source_is
	cp "$D/haproxy.cfg.source" "$D/first.source"
	# a server of another service, then of the one in the spare
	apply "$(base),\"/services/shop/upstream/c\":\"$(up c)\",\"/services/api/upstream/d\":\"$(up d)\"}"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +1 -0 ~0 servers" ]
	[ -z "$stderr" ]
	source_is
	grep -A1 -x "backend easy-lb-spare-1" "$D/haproxy.cfg" | grep -qx "    # easy-lb: serves shop"
	apply "$(base),\"/services/shop/upstream/c\":\"$(up c)\",\"/services/shop/upstream/a\":\"$(up a)\",\"/services/api/upstream/d\":\"$(up d)\"}"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +1 -0 ~0 servers" ]
	source_is
	in_step
	# (either of its two servers, roundrobin)
	got=$(curl -s -w '%{http_code}' "http://127.0.0.1:$FE/shop/")
	[[ "$got" == $'a\n200' || "$got" == $'c\n200' ]]
	# the first source again: it names haproxy.cfg as it was, not as it
	# is, and the next change is worked out from both whole files
	cp "$D/first.source" "$D/haproxy.cfg.source"
	apply "$(base),\"/services/shop/upstream/c\":\"$(up c)\",\"/services/api/upstream/d\":\"$(up d)\"}"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +0 -1 ~0 servers" ]
	[ -z "$stderr" ]
	source_is
	in_step
	route /shop/ c
	# shop gone: the spare is free, the file binds nothing, no source
	apply "$(base),\"/services/api/upstream/d\":\"$(up d)\"}"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +0 -1 ~0 servers, +0 -1 ~0 map entries" ]
	[ -z "$stderr" ]
	[ ! -e "$D/haproxy.cfg.source" ]
	route /shop/ 503
	in_step
}

@test "routes: backend options of a new service, or no spare left, reload; the reload gives every backend its name" {
	apply "$(base),\"/services/shop/upstream/c\":\"$(up c)\"}"
	[ "$output" = "runtime: +1 -0 ~0 servers, +1 -0 ~0 map entries; backend shop in easy-lb-spare-1" ]
	apply "$(base),\"/services/shop/upstream/c\":\"$(up c)\",\"/services/blog/upstream/d\":\"$(up d)\",\"/services/blog/backend/balance\":\"source\"}"
	[ "$status" -eq 0 ]
	[[ "$output" == "reloaded (worker "*")" ]]
	[ -z "$stderr" ]
	[ "$(worker)" != "$W0" ]
	grep -qx "backend shop" "$D/haproxy.cfg"
	refute grep -q "easy-lb: serves" "$D/haproxy.cfg"
	grep -qx "/shop shop" "$D/routes.map"
	route /shop/ c
	route /blog/ d
	in_step
	# SPARE_BACKENDS=0: a new service is a reload
	SPARE_BACKENDS=0 apply "$(base),\"/services/shop/upstream/c\":\"$(up c)\",\"/services/blog/upstream/d\":\"$(up d)\",\"/services/blog/backend/balance\":\"source\"}"
	[[ "$output" == "reloaded (worker "*")" ]]
	W0=$(worker)
	# (blog's servers cannot go at run time: balance source is not dynamic)
	SPARE_BACKENDS=0 apply "$(base),\"/services/shop/upstream/c\":\"$(up c)\"}"
	[ "$status" -eq 0 ]
	[[ "$output" == "reloaded (worker "*")" ]]
	W0=$(worker)
	SPARE_BACKENDS=0 apply "$(base),\"/services/shop/upstream/c\":\"$(up c)\",\"/services/new/upstream/d\":\"$(up d)\"}"
	[ "$status" -eq 0 ]
	[[ "$output" == "reloaded (worker "*")" ]]
	[ "$(worker)" != "$W0" ]
	route /new/ d
}

@test "routes: a new service in a spare, with a location the runtime API cannot take, reloads with the file as rendered" {
	# (a ';' in a map key makes the map change a reload: the file then
	# installed is the render itself, not the one with the spare bound)
	apply "$(base),\"/services/shop/upstream/c\":\"$(up c)\",\"/services/shop/location\":\"/x;y\"}"
	[ "$status" -eq 0 ]
	[[ "$output" == "reloaded (worker "*")" ]]
	[ -z "$stderr" ]
	grep -qx "backend shop" "$D/haproxy.cfg"
	refute grep -q "easy-lb: serves" "$D/haproxy.cfg"
	grep -qx "/x;y shop" "$D/routes.map"
	route "/x;y/z" c
	route /web/ a
	in_step
}

@test "routes: a global setting reloads" {
	HARD_STOP_AFTER=20s apply "$(base)}"
	[ "$status" -eq 0 ]
	[[ "$output" == "reloaded (worker "*")" ]]
	[ -z "$stderr" ]
	[ "$(worker)" != "$W0" ]
	route /web/ a
}

@test "routes: a malformed map block is refused, naming its line; nothing changes" {
	cp "$D/haproxy.cfg" "$D/before.cfg"
	cp "$D/routes.map" "$D/before.map"
	{ cat "$D/haproxy.cfg"; printf '@map routes.map\n/x web\n@end\n'; } >"$D/bad.cfg"
	n=$(($(wc -l <"$D/haproxy.cfg") + 1))
	run_split hap-reload -f "$D/haproxy.cfg" -S "$D/master.sock" -s "$D/haproxy.sock" "$D/bad.cfg"
	[ "$status" -eq 1 ]
	[ "$output" = "rejected: line $n: @map needs an absolute path, one word" ]
	[ "$stderr" = "hap-reload: $D/bad.cfg: line $n: @map needs an absolute path, one word" ]
	{ cat "$D/haproxy.cfg"; printf '@map %s/routes.map\n/x\n@end\n' "$D"; } >"$D/bad2.cfg"
	run_split hap-reload -f "$D/haproxy.cfg" -S "$D/master.sock" -s "$D/haproxy.sock" "$D/bad2.cfg"
	[ "$status" -eq 1 ]
	[ "$output" = "rejected: line $((n + 1)): map $D/routes.map: key /x has no value" ]
	{ cat "$D/haproxy.cfg"; printf '@map /etc/routes.map\n/x web\n@end\n'; } >"$D/bad3.cfg"
	run_split hap-reload -f "$D/haproxy.cfg" -S "$D/master.sock" -s "$D/haproxy.sock" "$D/bad3.cfg"
	[ "$status" -eq 1 ]
	[ "$output" = "rejected: line $n: map /etc/routes.map is not a file beside $D/haproxy.cfg" ]
	# (lines counted across a block and the lines after it)
	{ cat "$D/haproxy.cfg"; printf '@map %s/routes.map\n/x web\n@end\nbackend zz\n@map %s/routes.map\n/y web\n@end\n' "$D" "$D"; } >"$D/bad4.cfg"
	run_split hap-reload -f "$D/haproxy.cfg" -S "$D/master.sock" -s "$D/haproxy.sock" "$D/bad4.cfg"
	[ "$status" -eq 1 ]
	[ "$output" = "rejected: line $((n + 4)): map $D/routes.map already opened at line $n" ]
	cmp "$D/haproxy.cfg" "$D/before.cfg"
	cmp "$D/routes.map" "$D/before.map"
	[ "$(worker)" = "$W0" ]
	route /web/ a
}

@test "routes: haproxy refusing the file puts the map back as it was" {
	cp "$D/routes.map" "$D/before.map"
	render "$(base),\"/services/shop/upstream/c\":\"$(up c)\"}"
	sed -i 's/^    balance roundrobin$/    balance nosuchalgo/' "$D/new.cfg"
	run_split hap-reload -f "$D/haproxy.cfg" -S "$D/master.sock" -s "$D/haproxy.sock" "$D/new.cfg"
	[ "$status" -eq 1 ]
	[[ "$output" == "rejected: "* ]]
	[[ "$stderr" == *"hap-reload: $D/new.cfg rejected, kept as $D/haproxy.cfg.rejected"* ]]
	cmp "$D/routes.map" "$D/before.map"
	[ "$(worker)" = "$W0" ]
	route /shop/ 503
}

@test "routes: a backend named twice takes no spare: haproxy -c gets the file as it is and refuses it; nothing changes" {
	cp "$D/haproxy.cfg" "$D/before.cfg"
	cp "$D/routes.map" "$D/before.map"
	render "$(base),\"/services/shop/upstream/c\":\"$(up c)\"}"
	sed -i 's/^backend shop$/backend web/' "$D/new.cfg"
	[ "$(grep -c '^backend web$' "$D/new.cfg")" -eq 2 ]
	run_split hap-reload -f "$D/haproxy.cfg" -S "$D/master.sock" -s "$D/haproxy.sock" "$D/new.cfg"
	[ "$status" -eq 1 ]
	[[ "$output" == "rejected: "* ]]
	[[ "$stderr" == *"hap-reload: $D/new.cfg rejected, kept as $D/haproxy.cfg.rejected"* ]]
	cmp "$D/haproxy.cfg" "$D/before.cfg"
	cmp "$D/routes.map" "$D/before.map"
	[ "$(worker)" = "$W0" ]
	route /web/ a
	route /shop/ 503
}

@test "routes: the map in place before the runtime change, synced after it; that sync failing, a reload of the files as they were undoes the change" {
	local so="$D/enospc.so"
	# (an ASan build, make check SANITIZE=1, takes a library loaded
	# before its runtime)
	local asan=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
	cc -shared -fPIC -O2 -o "$so" "$REPO/tests/chaos/enospc.c" -ldl
	cp "$D/routes.map" "$D/before.map"
	cp "$D/haproxy.cfg" "$D/before.cfg"
	render "$(base | sed 's|"/web"|"/site"|')}"
	echo fsync >"$D/full"
	LD_PRELOAD=$so ASAN_OPTIONS=$asan ENOSPC_FLAG=$D/full ENOSPC_MATCH="$D/routes.map" \
		run_split hap-reload -f "$D/haproxy.cfg" -S "$D/master.sock" \
		-s "$D/haproxy.sock" "$D/new.cfg"
	rm -f "$D/full"
	[ "$status" -eq 111 ]
	[ "$output" = "" ]
	[ "$stderr" = "hap-reload: $D/routes.map: cannot sync: No space left on device
hap-reload: $D/haproxy.cfg not installed: its runtime change undone by a reload" ]
	cmp "$D/before.map" "$D/routes.map"
	cmp "$D/before.cfg" "$D/haproxy.cfg"
	[ ! -e "$D/haproxy.cfg.applying" ]
	[ "$(worker)" != "$W0" ]
	route /web/ a
	route /site/ 503
	# the same change goes through once the disk takes it
	run_split hap-reload -f "$D/haproxy.cfg" -S "$D/master.sock" \
		-s "$D/haproxy.sock" "$D/new.cfg"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +0 -0 ~0 servers, +1 -1 ~0 map entries" ]
	[ -z "$stderr" ]
	route /site/ a
	in_step
}
