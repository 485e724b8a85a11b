#!/usr/bin/env bats
# Faults of haproxy itself under the running balancer: its worker killed,
# its master killed, its runtime API gone or frozen while etcd changes.
#
# haproxy 2.6 in master-worker mode ends the master when the current
# worker dies ("exit-on-failure": it kills every process and exits with the
# worker's status).  "master-worker no-exit-on-failure" in global does not
# help on 2.6: the master re-executes itself in wait mode after loading and
# forgets it, so the master exits all the same.  There is no way to keep
# the listening sockets across a lost worker; what the balancer does is
# end promptly with a non-zero status, leaving nothing behind, so that a
# supervisor starts it again (as it does when the master is killed).

load hapfaults

setup_file() {
	chaos_setup_file
	lb_run
	stable_start 2
}

teardown_file() {
	chaos_teardown_file
}

teardown() {
	# a frozen worker or a socket moved away must not outlive a failure
	[ -z "${FROZEN:-}" ] || kill -CONT "$FROZEN" 2>/dev/null || true
	touch "$TESTTMP/cfgwatch.stop"
	local s
	for s in haproxy.sock master.sock; do
		[ -e "$EASY_LB_RUN/$s.away" ] && mv -f "$EASY_LB_RUN/$s.away" "$EASY_LB_RUN/$s"
	done
	return 0
}

# gone_after_fault PID...: boot.sh ends within 10 s of the fault (the
# time goes to fd 3), with haproxy's status (killed: 137), saying so; none
# of PID, boot.sh's children of before, lives on, and the port is closed.
gone_after_fault() {
	local t0=$FAULT_AT n
	wait_until 10 lb_exited
	EXIT_MS=$(($(ms) - t0))
	echo "boot.sh exited (status $(cat "$TESTTMP/lb.status")) $EXIT_MS ms after the fault" >&3
	[ "$(cat "$TESTTMP/lb.status")" -eq 137 ]
	n=$(grep -c "^easy-lb: haproxy exited (status 137); stopping$" "$TESTTMP/lb.err")
	[ "$n" -eq "$((EXITS_BEFORE + 1))" ]
	# what was running a moment ago is gone with it, reaped or not
	wait_until 5 none_alive "$@"
	refused
	rm -f "$TESTTMP/lb.pid"
	# nothing serves, and the status says so
	run_split easy-lb-status -d "$EASY_LB_RUN"
	[ "$status" -eq 2 ]
	[ "$stderr" = "" ]
	[[ "$output" == "easy-lb on $EASY_LB_RUN: down"*$'\n  haproxy is not running\n  the watcher is not running\n'* ]]
}

# fault_prepare: note what runs now (boot.sh and its children, haproxy's
# master and worker) in LB_BEFORE, MASTER and WORKER.
fault_prepare() {
	LB_BEFORE=$(lb_pids | tr '\n' ' ')
	MASTER=$(cat "$EASY_LB_RUN/haproxy.pid")
	WORKER=$(worker_pid)
	[ -n "$WORKER" ]
	alive "$MASTER" "$WORKER"
	# boot.sh, watcher.sh and etcd-watch at least
	[ "$(echo "$LB_BEFORE" | wc -w)" -ge 3 ]
	EXITS_BEFORE=$(grep -c "^easy-lb: haproxy exited" "$TESTTMP/lb.err" || :)
}

# restart_and_converge NAME: what a supervisor does: boot.sh started again
# at once; it serves within 10 s of the fault, runs what etcd holds, with
# the service NAME registered while it was down, and applies changes.
restart_and_converge() {
	lb_run
	wait_until 10 serves /stable1/ stable1
	local up=$(($(ms) - FAULT_AT))
	echo "serving again $up ms after the fault (restarted at once)" >&3
	[ "$up" -lt 10000 ]
	converged 10
	wait_until 10 answers "/$1/" "$1"
	backend_start "$1b"
	etcd-put "/services/$1/upstream/b" "127.0.0.1:$BACKEND_PORT"
	converged 10
	wait_until 10 state_is healthy
}

@test "the worker killed: boot.sh exits 137 at once, nothing left behind; restarted, it serves and converges" {
	fault_prepare
	FAULT_AT=$(ms)
	kill -KILL "$WORKER"
	gone_after_fault $LB_BEFORE "$MASTER" "$WORKER"
	[ "$EXIT_MS" -lt 3000 ]
	grep -q "Current worker ($WORKER) exited with code 137" "$TESTTMP/lb.err"
	# etcd changes while no balancer runs
	backend_start down1
	etcd-put /services/down1/upstream/d1 "127.0.0.1:$BACKEND_PORT"
	restart_and_converge down1
}

@test "the master killed: boot.sh exits 137 at once, no worker serves on, nothing left; restarted, it converges" {
	fault_prepare
	FAULT_AT=$(ms)
	kill -KILL "$MASTER"
	gone_after_fault $LB_BEFORE "$MASTER" "$WORKER"
	[ "$EXIT_MS" -lt 3000 ]
	backend_start down2
	etcd-put /services/down2/upstream/d1 "127.0.0.1:$BACKEND_PORT"
	restart_and_converge down2
}

# hap_errors WORD: how many lines of the log name the socket WORD and say
# it is missing.
hap_errors() {
	grep -c "$EASY_LB_RUN/$1.*No such file or directory" "$TESTTMP/lb.err" || :
}

# hap_errors_at_least WORD N
hap_errors_at_least() { [ "$(hap_errors "$1")" -ge "$2" ]; }

@test "the runtime socket, then the master's too, gone while etcd changes: logged, retried, converged once back; no request fails" {
	local good t0 n
	backend_start extra
	client_start s1 /stable1/
	client_start s2 /stable2/
	cfg_watch_start
	wait_until 10 state_is healthy
	status_watch_start
	# Without the runtime socket a change that runtime would apply takes a
	# reload instead (the reloaded worker keeps the socket it inherited).
	mv "$EASY_LB_RUN/haproxy.sock" "$EASY_LB_RUN/haproxy.sock.away"
	n=$(grep -c "easy-lb: revision [0-9]*: reloaded" "$TESTTMP/lb.err" || :)
	etcd-put /services/stable1/upstream/x1 "127.0.0.1:$BACKEND_PORT"
	wait_until 10 answers /stable1/ extra
	hap_errors_at_least haproxy.sock 1
	# (and that reload is done, confirmed through the master's socket,
	# before the socket goes)
	wait_until 10 eval '[ "$(grep -c "easy-lb: revision [0-9]*: reloaded" "$TESTTMP/lb.err")" -gt "$n" ]'
	# Without the master's socket nothing can be applied: hap-reload asks
	# for 10 s (its --timeout), says so and puts the config file back to
	# what runs; the watcher tries again later.
	cp "$EASY_LB_RUN/haproxy.cfg" "$TESTTMP/good.cfg"
	mv "$EASY_LB_RUN/master.sock" "$EASY_LB_RUN/master.sock.away"
	n=$(hap_errors master.sock)
	etcd-put /services/stable2/upstream/x1 "127.0.0.1:$BACKEND_PORT"
	wait_until 20 hap_errors_at_least master.sock $((n + 1))
	grep -q "$EASY_LB_RUN/haproxy.cfg left as it was, nothing reloaded" "$TESTTMP/lb.err"
	cmp "$TESTTMP/good.cfg" "$EASY_LB_RUN/haproxy.cfg"
	[ -S "$EASY_LB_RUN/master.sock.away" ]
	# the status says so, haproxy still running
	wait_until 10 status_says degraded "the last apply failed"
	wait_until 10 status_watch_saw degraded
	mv "$EASY_LB_RUN/master.sock.away" "$EASY_LB_RUN/master.sock"
	mv "$EASY_LB_RUN/haproxy.sock.away" "$EASY_LB_RUN/haproxy.sock"
	t0=$(ms)
	converged 20
	echo "converged $(($(ms) - t0)) ms after the sockets came back" >&3
	wait_until 10 answers /stable2/ extra
	cfg_watch_stop
	client_stop s1
	client_stop s2
	etcd-put -d /services/stable1/upstream/x1 >/dev/null
	etcd-put -d /services/stable2/upstream/x1 >/dev/null
	converged 10
	wait_until 10 state_is healthy
	status_watch_stop 12
	[[ "$SAID" == *degraded* ]]
}

@test "the worker frozen for 2 s while etcd changes: requests wait but none fails; the change is applied after" {
	backend_start frozen
	client_start s1 /stable1/
	wait_until 10 state_is healthy
	status_watch_start
	FROZEN=$(worker_pid)
	kill -STOP "$FROZEN"
	etcd-put /services/stable2/upstream/f1 "127.0.0.1:$BACKEND_PORT"
	# easy-lb status asks the master, not the worker: it still answers
	run_split timeout 5 easy-lb-status -d "$EASY_LB_RUN"
	[ "$status" -le 1 ]
	[ "$stderr" = "" ]
	[[ "$output" == *$'\nhaproxy:     master '[0-9]* ]]
	# (the fault's duration, not a wait for something)
	sleep 2
	kill -CONT "$FROZEN"
	FROZEN=
	converged 15
	wait_until 10 answers /stable2/ frozen
	client_stop s1
	etcd-put -d /services/stable2/upstream/f1 >/dev/null
	converged 10
	# never healthy out of step for longer than the status's bound
	wait_until 10 state_is healthy
	status_watch_stop 12
}
