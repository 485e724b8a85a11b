#!/usr/bin/env bats
# The routing of the shipped template (one haproxy map, looked up a host
# suffix at a time) against an oracle: tests/routes/oracle.cfg.tmpl, the
# rule-per-service template of commit 957618c, verbatim, whose
# use_backend lines say the routing in haproxy's own words.  For random
# sets of services (tests/routes/routes.py), each template is rendered
# (tmpl), split as hap-reload splits it (tests/routes/split.awk: its map
# blocks into their files) and run by a real haproxy on loopback; both
# haproxies get the same few hundred requests (Host headers and paths
# made from the set's own names, with their edges) and must give the same
# answers: the same service (tests/routes/backend.py: one port a
# service, the answer names the port), or the same status.  One set is
# then changed three times, each change applied to the running haproxy
# by hap-reload (at run time or by a reload) and checked against the
# oracle rendered from scratch.
# A set is seeded: set K of a run has the seed ROUTES_SEED + K - 1
# (ROUTES_SEED random unless given), and a failure names its seed and how
# to replay it.  ROUTES_TEMPLATE puts another template in the shipped
# one's place.  Two hand-written sets check known answers too: were both
# templates wrong alike, the random sets could not tell.

load helper

HAPPIDS=()

ORACLE=$BATS_TEST_DIRNAME/routes/oracle.cfg.tmpl
NEW=${ROUTES_TEMPLATE:-$REPO/share/easy-lb/haproxy.cfg.tmpl}
RP=$BATS_TEST_DIRNAME/routes/routes.py

setup_file() {
	RT=$(mktemp -d "${TMPDIR:-/tmp}/easylb-routes.XXXXXX")
	export RT
	# One process, 120 ports the kernel picks: the answer names the port.
	(
		exec python3 "$BATS_TEST_DIRNAME/routes/backend.py" 120 \
			>"$RT/ports" 2>"$RT/backend.err" </dev/null &
		echo $! >"$RT/backend.pid"
	)
	wait_until 10 ports_said
	export ROUTES_SEED=${ROUTES_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
}

teardown_file() {
	kill "$(cat "$RT/backend.pid")" 2>/dev/null || true
	rm -rf "$RT"
}

# (the test's shell started them: its wait reaps them)
teardown() {
	local pid
	for pid in "${HAPPIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

ports_said() { [ "$(grep -c . "$RT/ports")" -eq 120 ]; }

# render_to NAME TEMPLATE DATA OUT: TEMPLATE rendered with DATA into OUT
# for the directory $BATS_TEST_TMPDIR/NAME (its EASY_LB_RUN) and its
# port (NAME/port, picked free the first time); the warnings in
# NAME/warnings.
render_to() {
	local run=$BATS_TEST_TMPDIR/$1
	mkdir -p "$run"
	[ -f "$run/port" ] || free_port >"$run/port"
	run_split env -u HAPROXY_STATS -u HAPROXY_PROMETHEUS -u HAPROXY_USER \
		-u HAPROXY_CHROOT -u LB_TLS_PORT -u HTTPS_REDIRECT -u MAXCONN \
		EASY_LB_RUN="$run" LB_PORT="$(cat "$run/port")" LB_BIND=127.0.0.1 \
		ETCD_PREFIX=/services tmpl -d "$3" -o "$4" "$2"
	printf '%s\n' "$stderr" >"$run/warnings"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
}

# render NAME TEMPLATE DATA: render_to NAME/rendered, split into
# NAME/haproxy.cfg and the maps (their paths in NAME/maps).
render() {
	local run=$BATS_TEST_TMPDIR/$1
	render_to "$1" "$2" "$3" "$run/rendered"
	run_split awk -v cfg="$run/haproxy.cfg" -v dir="$run" \
		-f "$BATS_TEST_DIRNAME/routes/split.awk" "$run/rendered"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	printf '%s\n' "$output" >"$run/maps"
}

# hap_start NAME [-W]: a haproxy on the configuration render NAME made,
# serving once it answers; with -W in master-worker mode, as the balancer
# runs it (NAME/master.sock, NAME/haproxy.pid).
hap_start() {
	local run=$BATS_TEST_TMPDIR/$1
	if [ "${2:-}" = -W ]; then
		haproxy -W -db -f "$run/haproxy.cfg" -p "$run/haproxy.pid" \
			-S "$run/master.sock" >"$run/haproxy.log" 2>&1 </dev/null &
	else
		haproxy -db -f "$run/haproxy.cfg" >"$run/haproxy.log" 2>&1 </dev/null &
	fi
	HAPPIDS+=("$!")
	wait_until 10 curl -s -o /dev/null "http://127.0.0.1:$(cat "$run/port")/" || {
		cat "$run/haproxy.log" >&2
		return 1
	}
}

# both DATA: the oracle and the shipped template rendered with DATA, each
# run by a haproxy; the same warnings from both renders.
both() {
	render oracle "$ORACLE" "$1"
	render new "$NEW" "$1"
	diff -u "$BATS_TEST_TMPDIR/oracle/warnings" "$BATS_TEST_TMPDIR/new/warnings"
	[ "$(cat "$BATS_TEST_TMPDIR/oracle/maps")" = "" ]
	hap_start oracle
	hap_start new
}

port() { cat "$BATS_TEST_TMPDIR/$1/port"; }

# random_set K: set K of this run, every request answered alike.
random_set() {
	local seed=$((ROUTES_SEED + $1 - 1)) data=$BATS_TEST_TMPDIR/data.json
	echo "set $1: seed $seed (replay: ROUTES_SEED=$seed sh tests/run.sh tests/routes.bats)"
	python3 "$RP" gen "$seed" "$RT/ports" >"$data"
	both "$data"
	run_split python3 "$RP" compare "$seed" "$data" "$RT/ports" "$(port oracle)" "$(port new)"
	printf '%s\n' "$output"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "400 requests, the same answers" ]
}

# random_changes K: set K of this run run by the shipped template's
# haproxy in master-worker mode, then changed 3 times (routes.py change),
# each change applied by hap-reload (at run time, or by a reload) and
# every request answered as the oracle's haproxy on a render from scratch
# answers it.
random_changes() {
	local seed=$((ROUTES_SEED + $1 - 1)) d=$BATS_TEST_TMPDIR step
	echo "set $1: seed $seed (replay: ROUTES_SEED=$((seed - $1 + 1)) sh tests/run.sh tests/routes.bats)"
	python3 "$RP" gen "$seed" "$RT/ports" >"$d/data.0.json"
	render live "$NEW" "$d/data.0.json"
	hap_start live -W
	for step in 1 2 3; do
		python3 "$RP" change "$seed.$step" "$d/data.$((step - 1)).json" "$RT/ports" >"$d/data.$step.json"
		render_to live "$NEW" "$d/data.$step.json" "$d/live/rendered.$step"
		run_split hap-reload -f "$d/live/haproxy.cfg" -S "$d/live/master.sock" \
			-s "$d/live/haproxy.sock" -p "$d/live/haproxy.pid" "$d/live/rendered.$step"
		echo "change $step: $output"
		[ -z "$stderr" ] || printf '%s\n' "$stderr"
		[ "$status" -eq 0 ]
		[ "$stderr" = "" ]
		[[ $output == "runtime: "* || $output == "reloaded (worker "* || $output == unchanged ]]
		render "oracle$step" "$ORACLE" "$d/data.$step.json"
		diff -u "$d/oracle$step/warnings" "$d/live/warnings"
		hap_start "oracle$step"
		run_split python3 "$RP" compare "$seed.$step" "$d/data.$step.json" "$RT/ports" \
			"$(port "oracle$step")" "$(port live)"
		printf '%s\n' "$output"
		[ "$status" -eq 0 ]
		[ "$stderr" = "" ]
		[ "$output" = "400 requests, the same answers" ]
	done
}

# hand NAME=HOSTS|LOCATION...: the data of services NAME (upstream on the
# port of index 0, 1, ... in order; HOSTS and LOCATION left out when
# empty, LOCATION "-" for no upstream) in $BATS_TEST_TMPDIR/data.json.
hand() {
	local i=0 s name hosts loc ports
	mapfile -t ports <"$RT/ports"
	{
		printf '{"easy-lb:note":"hand"'
		for s in "$@"; do
			name=${s%%=*}
			s=${s#*=}
			hosts=${s%%|*}
			loc=${s#*|}
			[ -z "$hosts" ] || printf ',"/services/%s/host":"%s"' "$name" "$hosts"
			if [ "$loc" = - ]; then
				printf ',"/services/%s/location":"/%s"' "$name" "$name"
			else
				[ -z "$loc" ] || printf ',"/services/%s/location":"%s"' "$name" "$loc"
				printf ',"/services/%s/upstream/u":"127.0.0.1:%s"' "$name" "${ports[i]}"
			fi
			i=$((i + 1))
		done
		printf '}\n'
	} >"$BATS_TEST_TMPDIR/data.json"
}

# answers_are NAME: the lines "HOST PATH EXPECTED" on stdin answered so by the
# haproxy of render NAME.
answers_are() {
	run_split python3 "$RP" check "$BATS_TEST_TMPDIR/data.json" "$RT/ports" "$(port "$1")" <"$BATS_TEST_TMPDIR/expect"
	printf '%s\n' "$output"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "$(grep -c . "$BATS_TEST_TMPDIR/expect") requests, the answers expected" ]
}

@test "known routes: exact name, then the longest wildcard, then any host; the longest location; / the default" {
	hand 'exact=www.example.com|' 'exactapi=WWW.example.com, shop.example.org|/api' \
		'wlong=*.a.example.com|' 'wshort=*.example.com|/' 'wshortapi=*.Example.com|/api/v1' \
		'api=|/api' 'apiv1=|/api/v1' 'root=|/' 'zdup=www.example.com|/' 'noup=|-' \
		'badloc=|/café' 'badhost=bad_host.com|' 'comwild=*.com|/c'
	cat >"$BATS_TEST_TMPDIR/expect" <<'EOF'
www.example.com /x exact
www.example.com / exact
WWW.Example.COM:8080 /api/q exactapi
www.example.com /api/v1/z exactapi
www.example.com /apix exactapi
shop.example.org /api exactapi
shop.example.org /ap root
x.a.example.com / wlong
y.x.A.example.com /api/v1 wlong
a.example.com /api/v1/k wshortapi
a.example.com /api/v2 wshort
b.example.com / wshort
example.com /api/v1 apiv1
example.com /api api
example.com /api/v2 api
example.com / root
other.org /api/v1x apiv1
foo.com /c comwild
foo.com /x root
- /api api
- /noup root
bad_host.com / root
EOF
	both "$BATS_TEST_TMPDIR/data.json"
	cat >"$BATS_TEST_TMPDIR/warned" <<'EOF'
tmpl: warning: /services/badhost/host: "bad_host.com" is not a host name (letters, digits, '-', '.', a leading '*.'); service skipped
tmpl: warning: /services/badloc/location: location "/café" is not a URL path; service skipped
tmpl: warning: /services/zdup/location: / is already the location of service exact on www.example.com; service left out
EOF
	diff -u "$BATS_TEST_TMPDIR/warned" "$BATS_TEST_TMPDIR/new/warnings"
	answers_are oracle
	answers_are new
}

@test "known routes: no route for the request, 503" {
	hand 'exact=www.example.com|/api' 'web=|/web' 'wild=*.example.org|/x'
	cat >"$BATS_TEST_TMPDIR/expect" <<'EOF'
www.example.com / 503
www.example.com /api exact
www.example.com /web web
x.example.org /xyz wild
x.example.org /y 503
example.org /x 503
other.org /web/1 web
other.org / 503
- / 503
EOF
	both "$BATS_TEST_TMPDIR/data.json"
	[ "$(cat "$BATS_TEST_TMPDIR/new/warnings")" = "" ]
	answers_are oracle
	answers_are new
}

@test "a Host of several values names no one host to route by: 400" {
	hand 'exact=www.example.com|' 'root=|/'
	cat >"$BATS_TEST_TMPDIR/expect" <<'EOF'
www.example.com,api.example.com / 400
www.example.com, /x 400
,www.example.com /x 400
"www.example.com,x" / 400
www.example.com / exact
EOF
	render new "$NEW" "$BATS_TEST_TMPDIR/data.json"
	[ "$(cat "$BATS_TEST_TMPDIR/new/warnings")" = "" ]
	hap_start new
	answers_are new
}

@test "the shipped template puts its routes in one map: routes.map in EASY_LB_RUN" {
	hand 'exact=www.example.com|/api' 'web=|/web' 'wild=*.example.org|/x'
	render new "$NEW" "$BATS_TEST_TMPDIR/data.json"
	[ "$(cat "$BATS_TEST_TMPDIR/new/maps")" = "$BATS_TEST_TMPDIR/new/routes.map" ]
	grep -q "map_beg($BATS_TEST_TMPDIR/new/routes.map)" "$BATS_TEST_TMPDIR/new/haproxy.cfg"
}

@test "random service set 1 of 4: every request routed as the oracle routes it" { random_set 1; }
@test "random service set 2 of 4: every request routed as the oracle routes it" { random_set 2; }
@test "random service set 3 of 4: every request routed as the oracle routes it" { random_set 3; }
@test "random service set 4 of 4: every request routed as the oracle routes it" { random_set 4; }
@test "random service set 5, changed 3 times by hap-reload: every request routed as the oracle routes it" { random_changes 5; }
