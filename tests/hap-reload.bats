#!/usr/bin/env bats
# hap-reload against a real haproxy in master-worker mode, one per test, with
# tiny HTTP backends that answer their own name, all on 127.0.0.1.

load helper

setup_file() {
	HT=$(mktemp -d "${TMPDIR:-/tmp}/easylb-hap.XXXXXX")
	export HT
	names_start "$HT" a b c d e
}

teardown_file() {
	kill "$(cat "$HT/backends.pid")" 2>/dev/null || true
	rm -rf "$HT"
}

# cfg [--balance ALGO] [--extra LINE] [--bind PORT] SERVER...: a complete
# configuration on stdout whose backend "be" has one line per SERVER,
# given as "NAME" (its own backend port) or "NAME ADDR:PORT OPTIONS".
cfg() {
	local balance=roundrobin extra="" bind=""
	while :; do
		case $1 in
		--balance) balance=$2; shift 2 ;;
		--extra) extra=$2; shift 2 ;;
		--bind) bind=$2; shift 2 ;;
		*) break ;;
		esac
	done
	cat <<EOF
global
	stats socket $D/admin.sock mode 600 level admin
	hard-stop-after 10s

defaults
	mode http
	timeout connect 2s
	timeout client 10s
	timeout server 10s
	option http-server-close

frontend fe
	bind 127.0.0.1:$FE
${bind:+	bind 127.0.0.1:$bind}
	default_backend be

backend be
	balance $balance
${extra:+	$extra}
EOF
	local s
	for s in "$@"; do
		case $s in
		*' '*) echo "	server $s" ;;
		*) echo "	server $s 127.0.0.1:$(eval echo "\$PORT_$s")" ;;
		esac
	done
}

setup() {
	D=$BATS_TEST_TMPDIR
	FE=$(free_port)
	cfg a >"$D/haproxy.cfg"
	haproxy -W -db -f "$D/haproxy.cfg" -S "$D/master.sock" -p "$D/pid" \
		>"$D/haproxy.log" 2>&1 &
	HAPPID=$!
	wait_until 10 serving
	W0=$(worker)
}

teardown() {
	kill "$HAPPID" 2>/dev/null || true
	wait "$HAPPID" 2>/dev/null || true
}

serving() {
	[ -S "$D/admin.sock" ] && [ -S "$D/master.sock" ] &&
		curl -fs -o /dev/null "http://127.0.0.1:$FE/"
}

# The newest worker's pid.
worker() {
	show_proc "$D/master.sock" | awk '$2 == "worker" && $3 == 0 { print $1; exit }'
}

nworkers() {
	show_proc "$D/master.sock" | awk '$2 == "worker"' | wc -l
}

# (for wait_until, which runs its command again each time: a $(...) in
# its arguments would be worked out once, before the wait)
worker_is_not() { [ "$(worker)" != "$1" ]; }
nworkers_is() { [ "$(nworkers)" -eq "$1" ]; }
children_of_is() { [ "$(pgrep -P "$1" | wc -l)" -eq "$2" ]; }

get() {
	curl -fs "http://127.0.0.1:$FE/"
}

# answers N: the sorted set of names that N requests reached.
answers() {
	local i
	for ((i = 0; i < $1; i++)); do get; done | sort -u | tr '\n' ' '
}

rt() {
	echo "$1" | socat -t 2 - "unix:$D/admin.sock"
}

hr() {
	run_split hap-reload -f "$D/haproxy.cfg" -S "$D/master.sock" \
		-s "$D/admin.sock" "$@"
}

@test "hap-reload: identical file: unchanged, nothing touched" {
	cp "$D/haproxy.cfg" "$D/new.cfg"
	hr "$D/new.cfg"
	[ "$status" -eq 0 ]
	[ "$output" = "unchanged" ]
	[ -z "$stderr" ]
	[ ! -e "$D/haproxy.cfg.prev" ]
	[ "$(worker)" = "$W0" ]
}

@test "hap-reload: a change of comments only needs no socket and no reload" {
	{ echo "# generated"; cfg a; } >"$D/new.cfg"
	run_split hap-reload -f "$D/haproxy.cfg" -p "$D/pid" "$D/new.cfg"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +0 -0 ~0 servers" ]
	[ -z "$stderr" ]
	cmp "$D/new.cfg" "$D/haproxy.cfg"
	[ "$(worker)" = "$W0" ]
}

@test "hap-reload: invalid config rejected, CONFIG untouched, traffic flows" {
	cp "$D/haproxy.cfg" "$D/orig.cfg"
	{ cfg a; echo "	no-such-keyword here"; } >"$D/new.cfg"
	hr "$D/new.cfg"
	[ "$status" -eq 1 ]
	[[ $output == "rejected: "*"no-such-keyword"* ]]
	[[ $stderr == *"[ALERT]"* ]]
	[[ $stderr == *"kept as $D/haproxy.cfg.rejected"* ]]
	cmp "$D/orig.cfg" "$D/haproxy.cfg"
	cmp "$D/new.cfg" "$D/haproxy.cfg.rejected"
	[ ! -e "$D/haproxy.cfg.checking" ]
	[ "$(worker)" = "$W0" ]
	[ "$(answers 3)" = "a " ]
}

@test "hap-reload: --check validates and stops" {
	cfg a b >"$D/new.cfg"
	cp "$D/haproxy.cfg" "$D/orig.cfg"
	run_split hap-reload -f "$D/haproxy.cfg" --check "$D/new.cfg"
	[ "$status" -eq 0 ]
	[ "$output" = "valid" ]
	[ -z "$stderr" ]
	cmp "$D/orig.cfg" "$D/haproxy.cfg"
	[ ! -e "$D/haproxy.cfg.checking" ]
	{ cfg a; echo "	bogus"; } >"$D/bad.cfg"
	run_split hap-reload -f "$D/haproxy.cfg" --check "$D/bad.cfg"
	[ "$status" -eq 1 ]
	[[ $output == "rejected: "* ]]
	[[ $stderr == *"[ALERT]"* ]]
	cmp "$D/orig.cfg" "$D/haproxy.cfg"
}

# st_lines: the --status file, times replaced by T.
st_lines() { sed -E 's/[0-9]{10}\.[0-9]{3}/T/g' "$D/status"; }

@test "hap-reload --status: each run's outcome, the last applied, the last failed, the runs counted; --check writes nothing" {
	cfg a b >"$D/new.cfg"
	hr --status "$D/status" --revision 7 "$D/new.cfg"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +1 -0 ~0 servers" ]
	[ -z "$stderr" ]
	[ "$(st_lines)" = "last 7 T 0 runtime: +1 -0 ~0 servers
applied 7 T runtime: +1 -0 ~0 servers
runs 1 0 0 0 0" ]
	{ cfg a b; echo "	no-such-keyword here"; } >"$D/bad.cfg"
	hr --status "$D/status" --revision 8 "$D/bad.cfg"
	[ "$status" -eq 1 ]
	[[ "$(st_lines)" == "last 8 T 1 rejected: "*"
applied 7 T runtime: +1 -0 ~0 servers
failed 8 T rejected: "*"
runs 1 0 0 0 1" ]]
	# a death (NEWFILE unreadable): its message is the outcome
	hr --status "$D/status" "$D/missing.cfg"
	[ "$status" -eq 111 ]
	[ "$stderr" = "hap-reload: $D/missing.cfg: No such file or directory" ]
	[ "$(st_lines | head -n 1)" = "last - T 111 $D/missing.cfg: No such file or directory" ]
	[ "$(st_lines | tail -n 1)" = "runs 1 0 0 0 2" ]
	hr --status "$D/status" --revision 9 "$D/new.cfg"
	[ "$output" = unchanged ]
	[ "$(st_lines | sed -n 2p)" = "applied 9 T unchanged" ]
	[ "$(st_lines | tail -n 1)" = "runs 1 0 1 0 2" ]
	cp "$D/status" "$D/status.before"
	cfg a >"$D/check.cfg"
	run_split hap-reload -f "$D/haproxy.cfg" --check --status "$D/status" "$D/check.cfg"
	[ "$status" -eq 0 ]
	[ "$output" = valid ]
	cmp "$D/status" "$D/status.before"
}

@test "hap-reload --revision must be one word" {
	hr --status "$D/status" --revision "7 8" "$D/haproxy.cfg"
	[ "$status" -eq 100 ]
	[ -z "$output" ]
	[[ "$stderr" == "hap-reload: --revision 7 8: not one word of at most 64 printable characters
usage: hap-reload "* ]]
	[ ! -e "$D/status" ]
}

@test "hap-reload: runtime add: traffic reaches the new server, same worker" {
	cfg a b >"$D/new.cfg"
	hr "$D/new.cfg"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +1 -0 ~0 servers" ]
	[ -z "$stderr" ]
	cmp "$D/new.cfg" "$D/haproxy.cfg"
	[ -s "$D/haproxy.cfg.prev" ]
	[ "$(answers 4)" = "a b " ]
	[ "$(worker)" = "$W0" ]
	[ ! -e "$D/haproxy.cfg.applying" ]
}

@test "hap-reload: a runtime change whose file fails haproxy -c is undone by a reload" {
	# haproxy -c runs beside the runtime change: make it refuse server b
	printf '#!/bin/sh\nfor a; do f=$a; done\ncase " $* " in *" -c "*) if grep -q "server b " "$f"; then echo "[ALERT]    (1) : refused by the test"; exit 1; fi ;; esac\nexec haproxy "$@"\n' >"$D/picky-haproxy"
	chmod +x "$D/picky-haproxy"
	cp "$D/haproxy.cfg" "$D/orig.cfg"
	cfg a b >"$D/new.cfg"
	HAPROXY="$D/picky-haproxy" hr "$D/new.cfg"
	[ "$status" -eq 1 ]
	[ "$output" = "rejected: refused by the test (its runtime change undone by a reload)" ]
	[[ $stderr == *"kept as $D/haproxy.cfg.rejected"* ]]
	cmp "$D/orig.cfg" "$D/haproxy.cfg"
	cmp "$D/new.cfg" "$D/haproxy.cfg.rejected"
	[ ! -e "$D/haproxy.cfg.checking" ]
	[ "$(worker)" != "$W0" ]
	[ "$(answers 4)" = "a " ]
	run_split rt "show servers state be"
	refute grep -q " b " <<<"$output"
}

@test "hap-reload: a runtime change takes the candidate's room first: no room, nothing changes; its write failing after the change, a reload undoes it" {
	local so="$D/enospc.so"
	# (an ASan build, make check SANITIZE=1, takes a library loaded
	# before its runtime)
	local asan=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
	cc -shared -fPIC -O2 -o "$so" "$REPO/tests/chaos/enospc.c" -ldl
	cp "$D/haproxy.cfg" "$D/orig.cfg"
	cfg a b >"$D/new.cfg"
	# no room for the candidate: haproxy untouched
	echo fallocate >"$D/full"
	LD_PRELOAD=$so ASAN_OPTIONS=$asan ENOSPC_FLAG=$D/full ENOSPC_MATCH="$D/haproxy.cfg.checking" \
		hr "$D/new.cfg"
	[ "$status" -eq 111 ]
	[ "$output" = "" ]
	[ "$stderr" = "hap-reload: $D/haproxy.cfg.checking: No space left on device" ]
	cmp "$D/orig.cfg" "$D/haproxy.cfg"
	[ ! -e "$D/haproxy.cfg.checking" ]
	[ "$(worker)" = "$W0" ]
	[ "$(answers 4)" = "a " ]
	# (the run did not finish: the next one reloads, whatever it finds)
	[ -e "$D/haproxy.cfg.applying" ]
	hr "$D/orig.cfg"
	[ "$status" -eq 0 ]
	[[ "$output" == "reloaded (worker "*")" ]]
	[ "$stderr" = "hap-reload: $D/haproxy.cfg.applying: an earlier run did not finish; reloading" ]
	W0=$(worker)
	# the room reserved, then its write fails (the candidate's only)
	echo write >"$D/full"
	LD_PRELOAD=$so ASAN_OPTIONS=$asan ENOSPC_FLAG=$D/full ENOSPC_MATCH="$D/haproxy.cfg.checking" \
		hr "$D/new.cfg"
	rm -f "$D/full"
	[ "$status" -eq 111 ]
	[ "$output" = "" ]
	[ "$stderr" = "hap-reload: $D/haproxy.cfg.checking: No space left on device
hap-reload: $D/haproxy.cfg not installed: its runtime change undone by a reload" ]
	cmp "$D/orig.cfg" "$D/haproxy.cfg"
	[ ! -e "$D/haproxy.cfg.checking" ]
	[ ! -e "$D/haproxy.cfg.applying" ]
	[ "$(worker)" != "$W0" ]
	[ "$(answers 4)" = "a " ]
	run_split rt "show servers state be"
	refute grep -q " b " <<<"$output"
	# the same change goes through once there is room
	hr "$D/new.cfg"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +1 -0 ~0 servers" ]
	[ -z "$stderr" ]
	cmp "$D/new.cfg" "$D/haproxy.cfg"
	[ "$(answers 4)" = "a b " ]
}

@test "hap-reload: runtime remove: drained and deleted, same worker" {
	cfg a b c >"$D/new.cfg"
	hr "$D/new.cfg"
	[ "$output" = "runtime: +2 -0 ~0 servers" ]
	cfg a c >"$D/new.cfg"
	hr "$D/new.cfg"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +0 -1 ~0 servers" ]
	[ -z "$stderr" ]
	[ "$(answers 6)" = "a c " ]
	run rt "show servers state be"
	[[ $output != *" b 127.0.0.1 "* ]]
	[ "$(worker)" = "$W0" ]
}

@test "hap-reload: runtime remove of a health-checked server" {
	cfg a "b 127.0.0.1:$PORT_b check inter 100ms" >"$D/new.cfg"
	hr "$D/new.cfg"
	[ "$output" = "runtime: +1 -0 ~0 servers" ]
	wait_until 5 sh -c "echo 'show servers state be' |
		socat - unix:$D/admin.sock | grep -q ' b 127.0.0.1 2 0 1 1 '"
	cfg a >"$D/new.cfg"
	hr "$D/new.cfg"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +0 -1 ~0 servers" ]
	[ -z "$stderr" ]
	[ "$(answers 4)" = "a " ]
	[ "$(worker)" = "$W0" ]
}

@test "hap-reload: NEWFILE from standard input" {
	cfg a b >"$D/new.cfg"
	run_split hap-reload -f "$D/haproxy.cfg" -S "$D/master.sock" \
		-s "$D/admin.sock" - <"$D/new.cfg"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +1 -0 ~0 servers" ]
	[ -z "$stderr" ]
	cfg a >"$D/new.cfg"
	run_split hap-reload -f "$D/haproxy.cfg" -S "$D/master.sock" \
		-s "$D/admin.sock" <"$D/new.cfg"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +0 -1 ~0 servers" ]
	cmp "$D/new.cfg" "$D/haproxy.cfg"
}

@test "hap-reload: runtime address change" {
	cfg "a 127.0.0.1:$PORT_c" >"$D/new.cfg"
	hr "$D/new.cfg"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +0 -0 ~1 servers" ]
	[ -z "$stderr" ]
	[ "$(answers 3)" = "c " ]
	[ "$(worker)" = "$W0" ]
}

@test "hap-reload: runtime weight change" {
	cfg a b >"$D/new.cfg"
	hr "$D/new.cfg"
	cfg a "b 127.0.0.1:$PORT_b weight 0" >"$D/new.cfg"
	hr "$D/new.cfg"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +0 -0 ~1 servers" ]
	[ -z "$stderr" ]
	[ "$(answers 6)" = "a " ]
	[ "$(worker)" = "$W0" ]
}

@test "hap-reload: option change replaces the server at run time" {
	cfg "a 127.0.0.1:$PORT_a check inter 200ms" >"$D/new.cfg"
	hr "$D/new.cfg"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +0 -0 ~1 servers" ]
	[ -z "$stderr" ]
	[ "$(answers 3)" = "a " ]
	# Health checks run on the new server (check_state column nonzero).
	run rt "show servers state be"
	[[ $output == *" a 127.0.0.1 2 0 1 1 "* ]]
	[ "$(worker)" = "$W0" ]
}

@test "hap-reload: default-server options are applied to added servers" {
	cfg --extra "default-server weight 7" a >"$D/cfg0"
	run_split hap-reload -f "$D/haproxy.cfg" -S "$D/master.sock" "$D/cfg0"
	[ "$status" -eq 0 ]
	cfg --extra "default-server weight 7" a b >"$D/new.cfg"
	hr "$D/new.cfg"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime: +1 -0 ~0 servers" ]
	run rt "show servers state be"
	[[ $output == *" b 127.0.0.1 "[0-9]" 0 7 7 "* ]]
}

@test "hap-reload: hash-based balance goes through a reload" {
	cfg --balance source a >"$D/cfg0"
	hr "$D/cfg0"
	[ "$status" -eq 0 ]
	local w1
	w1=$(worker)
	cfg --balance source a b >"$D/new.cfg"
	hr "$D/new.cfg"
	[ "$status" -eq 0 ]
	[ "$output" = "reloaded (worker $(worker))" ]
	[ -z "$stderr" ]
	[ "$(worker)" != "$w1" ]
	run rt "show servers state be"
	[[ $output == *" b 127.0.0.1 "* ]]
}

@test "hap-reload: a non-server change reloads with a new worker" {
	cfg --extra "http-response set-header X-Test yes" a >"$D/new.cfg"
	hr "$D/new.cfg"
	[ "$status" -eq 0 ]
	[[ $output == "reloaded (worker "*")" ]]
	[ -z "$stderr" ]
	[ "$(worker)" != "$W0" ]
	[ "$output" = "reloaded (worker $(worker))" ]
	curl -fsi "http://127.0.0.1:$FE/" | grep -qi '^x-test: yes'
	[ ! -e "$D/haproxy.cfg.applying" ]
}

@test "hap-reload: a run cut short (CONFIG installed, never reloaded) is finished by the next, even with nothing new" {
	# what a hap-reload killed between its install and its reload leaves
	cfg --extra "http-response set-header X-Test yes" a >"$D/haproxy.cfg"
	: >"$D/haproxy.cfg.applying"
	cp "$D/haproxy.cfg" "$D/new.cfg"
	hr "$D/new.cfg"
	[ "$status" -eq 0 ]
	[ "$stderr" = "hap-reload: $D/haproxy.cfg.applying: an earlier run did not finish; reloading" ]
	[[ $output == "reloaded (worker "*")" ]]
	[ "$(worker)" != "$W0" ]
	curl -fsi "http://127.0.0.1:$FE/" | grep -qi '^x-test: yes'
	[ ! -e "$D/haproxy.cfg.applying" ]
	# and the one after is back to normal
	hr "$D/new.cfg"
	[ "$status" -eq 0 ]
	[ "$output" = "unchanged" ]
	[ -z "$stderr" ]
}

@test "hap-reload: a refused file leaves the mark of a run cut short in place" {
	: >"$D/haproxy.cfg.applying"
	printf 'global\n\tbogus-keyword\n' >"$D/new.cfg"
	hr "$D/new.cfg"
	[ "$status" -eq 1 ]
	[[ $output == "rejected: "* ]]
	[[ $stderr == "hap-reload: $D/haproxy.cfg.applying: an earlier run did not finish; reloading"$'\n'* ]]
	[ -e "$D/haproxy.cfg.applying" ]
	[ "$(worker)" = "$W0" ]
}

@test "hap-reload: hostname addresses go through a reload" {
	cfg "b localhost:$PORT_b" a >"$D/new.cfg"
	hr "$D/new.cfg"
	[ "$status" -eq 0 ]
	[[ $output == "reloaded (worker "*")" ]]
	[ "$(answers 4)" = "a b " ]
}

@test "hap-reload: reload with only a pidfile" {
	cfg --extra "http-response set-header X-Test pid" a >"$D/new.cfg"
	run_split hap-reload -f "$D/haproxy.cfg" -p "$D/pid" "$D/new.cfg"
	[ "$status" -eq 0 ]
	[[ $output == "reloaded (worker "*")" ]]
	[ -z "$stderr" ]
	wait_until 5 worker_is_not "$W0"
	[ "$output" = "reloaded (worker $(worker))" ]
}

@test "hap-reload: a reload that cannot bind is rolled back" {
	local busy
	busy=$(free_port)
	python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
time.sleep(60)' "$busy" &
	local holder=$!
	wait_until 5 python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1]))).close()' "$busy"
	cp "$D/haproxy.cfg" "$D/orig.cfg"
	cfg --bind "$busy" a >"$D/new.cfg"
	hr --timeout 5 "$D/new.cfg"
	kill "$holder"
	[ "$status" -eq 1 ]
	[[ $output == "rolled back: reload failed"* ]]
	[[ $stderr == *"restored the previous"* ]]
	cmp "$D/orig.cfg" "$D/haproxy.cfg"
	cmp "$D/new.cfg" "$D/haproxy.cfg.rejected"
	[ "$(answers 3)" = "a " ]
}

@test "hap-reload: an unreachable master: 111, CONFIG left as it was" {
	cp "$D/haproxy.cfg" "$D/orig.cfg"
	cfg --extra "http-response set-header X-Test yes" a >"$D/new.cfg"
	run_split hap-reload -f "$D/haproxy.cfg" -S "$D/nowhere.sock" \
		--timeout 1 "$D/new.cfg"
	[ "$status" -eq 111 ]
	[ -z "$output" ]
	[[ $stderr == *"nowhere.sock"*"nothing reloaded"* ]]
	cmp "$D/orig.cfg" "$D/haproxy.cfg"
	[ "$(worker)" = "$W0" ]
}

@test "hap-reload: concurrent runs serialize on the lock" {
	cfg --extra "http-response set-header X-Run 1" a >"$D/n1.cfg"
	cfg --extra "http-response set-header X-Run 2" a >"$D/n2.cfg"
	# A held lock makes a run wait, then give up after --timeout.
	flock "$D/haproxy.cfg.lock" sleep 3 &
	local holder=$!
	wait_until 5 sh -c "! flock -n '$D/haproxy.cfg.lock' true"
	hr --timeout 1 "$D/n1.cfg"
	[ "$status" -eq 111 ]
	[ -z "$output" ]
	[[ $stderr == *"still holds the lock after 1 s"* ]]
	wait "$holder"
	# Two real runs at once: both succeed, one after the other.
	hap-reload -f "$D/haproxy.cfg" -S "$D/master.sock" -s "$D/admin.sock" \
		"$D/n1.cfg" >"$D/o1" 2>"$D/e1" &
	local p1=$!
	hap-reload -f "$D/haproxy.cfg" -S "$D/master.sock" -s "$D/admin.sock" \
		"$D/n2.cfg" >"$D/o2" 2>"$D/e2"
	local s2=$?
	wait "$p1"
	[ "$s2" -eq 0 ]
	grep -q '^reloaded (worker [0-9]*)$' "$D/o1"
	grep -q '^reloaded (worker [0-9]*)$' "$D/o2"
	[ ! -s "$D/e1" ]
	[ ! -s "$D/e2" ]
	[ "$(cut -d' ' -f3 "$D/o1")" != "$(cut -d' ' -f3 "$D/o2")" ]
	cmp "$D/haproxy.cfg" "$D/n1.cfg" || cmp "$D/haproxy.cfg" "$D/n2.cfg"
}

@test "hap-reload: a haproxy -c that says nothing is given up at --timeout, not when it ends" {
	# (it would say "valid" after 30 s)
	printf '#!/bin/sh\nsleep 30\n' >"$D/mute-haproxy"
	chmod +x "$D/mute-haproxy"
	cfg a b >"$D/new.cfg"
	HAPROXY="$D/mute-haproxy" run_split hap-reload --check --timeout 1 -f "$D/haproxy.cfg" "$D/new.cfg"
	[ "$status" -eq 111 ]
	[ "$output" = "" ]
	[ "$stderr" = "hap-reload: $D/mute-haproxy -c: no verdict within 1 s" ]
}

@test "hap-reload: usage errors exit 100" {
	run_split hap-reload
	[ "$status" -eq 100 ]
	[ -z "$output" ]
	[[ $stderr == "usage: hap-reload -f CONFIG"* ]]
	run_split hap-reload -f "$D/haproxy.cfg" "$D/haproxy.cfg"
	[ "$status" -eq 100 ]
	[[ $stderr == *"-S or -p is needed"* ]]
	run_split hap-reload -f x --timeout 0 -S y z
	[ "$status" -eq 100 ]
	run_split hap-reload --help
	[ "$status" -eq 0 ]
	[[ $output == "usage: hap-reload -f CONFIG"* ]]
}

# stress CONFIG1 CONFIG2 N: flip between two configurations N times while a
# client keeps sending requests; every run and every request must succeed.
stress() {
	python3 "$BATS_TEST_DIRNAME/hap/client.py" "http://127.0.0.1:$FE/" \
		"$D/stop" 120 >"$D/client.out" &
	local client=$! i f
	for ((i = 0; i < $3; i++)); do
		f=$1
		[ $((i % 2)) -eq 1 ] && f=$2
		hap-reload -f "$D/haproxy.cfg" -S "$D/master.sock" \
			-s "$D/admin.sock" "$f" >>"$D/runs.out" 2>>"$D/runs.err" ||
			{ touch "$D/stop"; wait "$client"; return 1; }
	done
	touch "$D/stop"
	wait "$client"
	cat "$D/client.out" >&2
	[ ! -s "$D/runs.err" ]
	[ "$(wc -l <"$D/runs.out")" -eq "$3" ]
	grep -q '^ok [1-9][0-9]* failed 0$' "$D/client.out"
}

@test "hap-reload: zero failed requests across 50 reloads" {
	cfg --extra "http-response set-header X-N 1" a b >"$D/n1.cfg"
	cfg --extra "http-response set-header X-N 2" a b >"$D/n2.cfg"
	stress "$D/n1.cfg" "$D/n2.cfg" 50
	[ "$(grep -c '^reloaded' "$D/runs.out")" -eq 50 ]
}

@test "hap-reload: zero failed requests across 200 runtime changes" {
	cfg a b >"$D/n1.cfg"
	cfg a c "d 127.0.0.1:$PORT_e weight 3" >"$D/n2.cfg"
	stress "$D/n1.cfg" "$D/n2.cfg" 200
	[ "$(grep -c '^runtime' "$D/runs.out")" -eq 200 ]
	[ "$(worker)" = "$W0" ]
}

@test "hap-reload: old workers are gone after reloads" {
	local i
	for ((i = 0; i < 10; i++)); do
		cfg --extra "http-response set-header X-N $i" a >"$D/new.cfg"
		hap-reload -f "$D/haproxy.cfg" -S "$D/master.sock" "$D/new.cfg" \
			>/dev/null
		get >/dev/null
	done
	wait_until 10 nworkers_is 1
	wait_until 10 children_of_is "$HAPPID" 1
}
