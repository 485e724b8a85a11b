#!/usr/bin/env bats
# The balancer's supervision (boot.sh, watcher.sh): at most one watcher
# pipeline per haproxy whatever part of it is killed, one balancer per
# run directory, and nothing of it left once it is stopped.  Real etcd,
# real haproxy, tiny backends, on loopback.  What is alive is asked of
# the processes themselves (their EASY_LB_BALANCER, their process
# group), never of when a shell reaped a child.

load helper

setup_file() {
	etcd_setup_file
	export LB_PORT LB_TLS_PORT LB_BIND=127.0.0.1 DEBOUNCE_MS=50 \
		EASY_LB_RUN="$TESTTMP/run" STOP_GRACE=5
	LB_PORT=$(free_port)
	# (HTTPS on: the pipeline with both etcd-watch and hap-certs)
	LB_TLS_PORT=$(free_port)
}

teardown_file() {
	lb_stop
	backends_stop
	etcd_teardown_file
}

teardown() {
	lb_stop
}

# procs: "PID PGID COMM" of each live process of this balancer.
procs() {
	local left
	left=$(lb_procs | tr '\n' ',')
	[ -n "$left" ] || return 0
	ps -o pid=,pgid=,stat=,comm= -p "${left%,}" | awk '$3 !~ /^Z/ { print $1, $2, $4 }'
}

# group: the watcher's process group, as boot.sh recorded it.
group() { cat "$EASY_LB_RUN/watcher.pgid"; }

# one_pipeline: exactly one watcher pipeline runs, whole, in the group
# boot.sh recorded, led by watcher.sh: two etcd-watch (services and
# certificates), one hap-certs, one tmpl, one etcd-put (the fleet key),
# beside them one easy-lb-status (HEALTH_URI), and no such program
# elsewhere.
one_pipeline() {
	local g p c
	g=$(group) || return 1
	p=$(procs)
	[ "$(awk -v g="$g" '$1 == g && $3 == "watcher.sh"' <<<"$p" | wc -l)" -eq 1 ] || return 1
	[ "$(awk '$3 == "etcd-watch"' <<<"$p" | wc -l)" -eq 2 ] || return 1
	for c in hap-certs tmpl etcd-put easy-lb-status; do
		[ "$(awk -v c="$c" '$3 == c' <<<"$p" | wc -l)" -eq 1 ] || return 1
	done
	[ "$(awk -v g="$g" '$3 ~ /^(etcd-watch|hap-certs|tmpl|etcd-put|easy-lb-status)$/ && $2 != g' <<<"$p" | wc -l)" -eq 0 ]
}

# member COMM [N]: the pid of the Nth (from 1, by pid) process of the
# watcher's group whose program is COMM, the leader left out.
member() {
	procs | awk -v g="$(group)" -v c="$1" '$2 == g && $1 != g && $3 == c { print $1 }' |
		sort -n | sed -n "${2:-1}p"
}

# client_start / client_stop: a bounded client on the service that stays,
# counting the requests that did not get its answer.
client_start() {
	rm -f "$TESTTMP/stop-client" "$TESTTMP/client.out"
	(
		end=$(($(date +%s) + 240))
		n=0 fail=0
		while [ "$n" -lt 20000 ] && [ "$(date +%s)" -lt "$end" ] && [ ! -f "$TESTTMP/stop-client" ]; do
			b=$(curl -s --max-time 5 "$(LB)/stay/")
			[[ $b == "stay "* ]] || { fail=$((fail + 1)); echo "failed: $b" >&2; }
			n=$((n + 1))
		done
		echo "$n $fail" >"$TESTTMP/client.out"
	) 2>"$TESTTMP/client.err" &
	CLIENT=$!
}

client_stop() {
	touch "$TESTTMP/stop-client"
	wait "$CLIENT"
	read -r n fail <"$TESTTMP/client.out"
	echo "requests: $n failed: $fail" >&3
	cat "$TESTTMP/client.err" >&2
	[ "$n" -gt 20 ]
	[ "$fail" -eq 0 ]
}

# converge N: a change put now (a new upstream of service "u", answering
# "kN") is served: whatever was killed, the balancer caught up.
converge() {
	backend_start "k$1"
	etcd-put "/services/u/upstream/k$1" "127.0.0.1:$BACKEND_PORT"
	wait_until 15 answers /u/ "k$1"
	etcd-put -d "/services/u/upstream/k$1" >/dev/null
}

@test "killing any process of the watcher's pipeline leaves exactly one pipeline, in step with etcd, with no failed request" {
	backend_start stay
	etcd-put /services/stay/upstream/s1 "127.0.0.1:$BACKEND_PORT"
	lb_start
	wait_until 10 answers /stay/ stay
	wait_until 5 one_pipeline
	client_start
	local i=0 victim what g n shells
	# the shells of the pipeline besides the leader, by pid: with HTTPS,
	# the one that runs the certificates' etcd-watch, the group that hands
	# them to hap-certs, the apply loop, and the fleet key's
	shells=$(procs | awk -v g="$(group)" '$2 == g && $1 != g && $3 == "watcher.sh"' | wc -l)
	[ "$shells" -eq 4 ]
	# (the apply loop first: killing either other shell leaves the
	# pipeline running without it, one shell fewer)
	for what in leader "watcher.sh 4" "watcher.sh 3" "watcher.sh 2" "watcher.sh 1" leader "etcd-watch 1" "etcd-watch 2" hap-certs tmpl etcd-put; do
		i=$((i + 1))
		g=$(group)
		if [ "$what" = leader ]; then
			victim=$g
		else
			# shellcheck disable=SC2086 # COMM and N as two words
			victim=$(member $what)
		fi
		[ -n "$victim" ]
		echo "# killing $what ($victim) of group $g" >&3
		kill -KILL "$victim"
		converge "$i"
		wait_until 5 one_pipeline
	done
	# a hap-reload in the middle of an apply: a new service is a runtime
	# change, then haproxy -c, long enough to be caught (it may end
	# between pgrep and kill: then it was not caught)
	n=0
	for i in $(seq 20 40); do
		backend_start "r$i"
		etcd-put "/services/r$i/upstream/a" "127.0.0.1:$BACKEND_PORT"
		victim=""
		for _ in $(seq 500); do
			victim=$(pgrep -g "$(group)" -x hap-reload | head -n 1)
			[ -z "$victim" ] || break
		done
		if [ -n "$victim" ] && kill -KILL "$victim" 2>/dev/null; then
			n=$((n + 1))
		fi
		# nothing else changes: the apply cut short must finish alone
		wait_until 15 answers "/r$i/" "r$i"
		wait_until 5 one_pipeline
		[ "$n" -lt 3 ] || break
	done
	echo "# hap-reload killed mid-apply $n times" >&3
	[ "$n" -ge 1 ]
	grep -q "easy-lb: revision [0-9]*: hap-reload ended by signal 9; applying again" "$TESTTMP/lb.err"
	client_stop
	# the file on disk is what haproxy runs: a reload would change nothing
	# (the apply run again after the last kill may still be checking the
	# file: its marker goes once it is done)
	wait_until 15 bash -c "[ ! -e '$EASY_LB_RUN/haproxy.cfg.applying' ]"
	local pid
	pid=$(cat "$TESTTMP/lb.pid")
	kill -TERM "$pid"
	wait_until 15 bash -c "! kill -0 $pid 2>/dev/null"
	rm -f "$TESTTMP/lb.pid"
	grep -q "easy-lb: stopped" "$TESTTMP/lb.err"
	wait_until 5 lb_gone
}

@test "a second balancer on the same run directory is refused while the first lives" {
	lb_start
	local first
	first=$(cat "$TESTTMP/lb.pid")
	run_split "$REPO/share/easy-lb/boot.sh"
	[ "$status" -eq 111 ]
	[ "$output" = "" ]
	[ "$stderr" = "easy-lb: another balancer (boot.sh, pid $first) runs on $EASY_LB_RUN; stop it first, or give this one an EASY_LB_RUN of its own" ]
	# and the first goes on, whole
	wait_until 5 one_pipeline
	curl -s -o /dev/null "$(LB)/"
	lb_stop
	wait_until 5 lb_gone
}

@test "after a balancer was SIGKILLed, the next one on its directory stops what it left, then starts" {
	backend_start stay
	etcd-put /services/stay/upstream/s1 "127.0.0.1:$BACKEND_PORT"
	lb_start
	wait_until 5 one_pipeline
	local first oldg oldh
	first=$(cat "$TESTTMP/lb.pid")
	oldg=$(group)
	oldh=$(cat "$EASY_LB_RUN/haproxy.pgid")
	kill -KILL "$first"
	wait "$first" 2>/dev/null || true
	rm -f "$TESTTMP/lb.pid"
	# what it left: its watcher's pipeline and its haproxy, still serving
	one_pipeline
	answers /stay/ stay
	: >"$TESTTMP/lb.err"
	# (the first's haproxy answers lb_start's probe: wait for the second's)
	lb_start
	wait_until 20 grep -q "^easy-lb: haproxy started" "$TESTTMP/lb.err"
	grep -qx "easy-lb: stopping the watcher an earlier balancer left running (process group $oldg)" "$TESTTMP/lb.err"
	grep -qx "easy-lb: stopping the haproxy an earlier balancer left running (process group $oldh)" "$TESTTMP/lb.err"
	wait_until 5 one_pipeline
	[ "$(group)" != "$oldg" ]
	# nothing of the first is left
	[ -z "$(procs | awk -v g="$oldg" -v h="$oldh" '$2 == g || $2 == h')" ]
	answers /stay/ stay
	backend_start late
	etcd-put /services/late/upstream/l1 "127.0.0.1:$BACKEND_PORT"
	wait_until 15 answers /late/ late
	lb_stop
	wait_until 5 lb_gone
}

@test "a watcher that does not end on SIGTERM is killed after STOP_GRACE" {
	# haproxy -c, run by hap-reload inside the watcher's group, hangs
	# and ignores SIGTERM once asked to
	printf '#!/bin/sh\ncase " $* " in *" -c "*) if [ -e "%s/hang" ]; then trap "" TERM; sleep 60; fi ;; esac\nexec "%s" "$@"\n' \
		"$TESTTMP" "$(command -v haproxy || echo /usr/sbin/haproxy)" >"$TESTTMP/slow-haproxy"
	chmod +x "$TESTTMP/slow-haproxy"
	HAPROXY="$TESTTMP/slow-haproxy" STOP_GRACE=1 lb_start
	wait_until 5 one_pipeline
	touch "$TESTTMP/hang"
	backend_start hang
	etcd-put /services/hang/upstream/h "127.0.0.1:$BACKEND_PORT"
	wait_until 10 bash -c "pgrep -g $(group) -x sleep >/dev/null"
	local pid
	pid=$(cat "$TESTTMP/lb.pid")
	kill -TERM "$pid"
	wait_until 10 bash -c "! kill -0 $pid 2>/dev/null"
	rm -f "$TESTTMP/lb.pid" "$TESTTMP/hang"
	grep -qx "easy-lb: the watcher (process group [0-9]*) still running 1 s after SIGTERM; killing it" "$TESTTMP/lb.err"
	grep -q "easy-lb: stopped" "$TESTTMP/lb.err"
	wait_until 5 lb_gone
	etcd-put -d -p /services/hang/ >/dev/null
}

@test "SIGTERM to the balancer's whole process group (systemd's default stop, a terminal's ^C) stops it cleanly, status 0, nothing left" {
	local pid rc sig
	# (INT too, from a launcher that does not ignore it: a shell's
	# background job starts with INT ignored, for good)
	for sig in TERM INT; do
		# (a group of its own, led by boot.sh: setsid does not fork
		# under a shell's background job)
		python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp("setsid", ["setsid"] + sys.argv[1:])' "$REPO/share/easy-lb/boot.sh" 2>>"$TESTTMP/lb.err" &
		pid=$!
		wait_until 20 curl -s -o /dev/null "$(LB)/"
		wait_until 5 one_pipeline
		: >"$TESTTMP/lb.err"
		kill -"$sig" -- "-$pid"
		# (the haproxy waiter, in boot.sh's group, is ended by the
		# signal too: boot.sh must not wait for it for ever)
		rc=0
		# (its end known by its lock, not by when it is reaped)
		wait_until 15 flock -n "$EASY_LB_RUN/boot.lock" true || {
			kill -KILL -- "-$pid" "-$(cat "$EASY_LB_RUN/haproxy.pgid")" \
				"-$(cat "$EASY_LB_RUN/watcher.pgid")"
			false
		}
		wait "$pid" || rc=$?
		[ "$rc" -eq 0 ]
		grep -qx "easy-lb: stopped" "$TESTTMP/lb.err"
		wait_until 5 lb_gone
	done
}

@test "STOP_GRACE that is not a number is refused" {
	STOP_GRACE=soon run_split "$REPO/share/easy-lb/boot.sh"
	[ "$status" -eq 100 ]
	[ "$output" = "" ]
	[ "$stderr" = 'easy-lb: STOP_GRACE: "soon" is not a number of seconds' ]
}
