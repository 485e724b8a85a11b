#!/usr/bin/env bats
# Fault: the disk where the balancer writes its config is full, while etcd
# changes.  Invariant: the live $EASY_LB_RUN/haproxy.cfg is never
# truncated nor half-written (it stays the last good config, which haproxy
# accepts), haproxy keeps serving without a failed request, the error is
# logged naming the file and ENOSPC, and once there is room again haproxy
# runs what etcd holds.
#
# A real full disk is a small tmpfs mounted as EASY_LB_RUN (root may mount
# here); an LD_PRELOAD shim (enospc.c) makes writes of chosen files fail
# with ENOSPC as well, which also runs where mounting is not permitted.

load hapfaults

setup_file() {
	chaos_setup_file
	cc -shared -fPIC -O2 -Wall -Wextra -Werror -o "$TESTTMP/enospc.so" \
		"$CHAOS/enospc.c" -ldl
	mkdir -p "$EASY_LB_RUN"
	MOUNTED=
	if mount -t tmpfs -o size=1m,mode=0755 easylb-chaos "$EASY_LB_RUN" 2>"$TESTTMP/mount.err"; then
		MOUNTED=$EASY_LB_RUN
	fi
	export MOUNTED
}

teardown() {
	touch "$TESTTMP/cfgwatch.stop"
	clients_stop
	lb_stop
	rm -f "$EASY_LB_RUN/filler" "$TESTTMP/enospc.on"
}

teardown_file() {
	lb_stop
	if [ -n "$MOUNTED" ]; then
		umount "$MOUNTED" 2>/dev/null || umount -l "$MOUNTED"
	fi
	chaos_teardown_file
}

# stable_up: the stable services (backends and keys) once for the file.
stable_up() {
	if [ -f "$TESTTMP/stable.up" ]; then
		wait_until 20 answers /stable1/ stable1
		wait_until 20 answers /stable2/ stable2
	else
		stable_start 2
		touch "$TESTTMP/stable.up"
	fi
}

# full_errors: how many lines of the log say ENOSPC and name a file of
# $EASY_LB_RUN.
full_errors() {
	grep -c "$EASY_LB_RUN/.*No space left on device" "$TESTTMP/lb.err" || :
}

# full_logged N: at least N such lines.
full_logged() { [ "$(full_errors)" -ge "$1" ]; }

# tmpl_full: how many of them are tmpl's, for the config it renders.
tmpl_full() {
	grep -c "^tmpl: $EASY_LB_RUN/haproxy.cfg.new: .*No space left on device$" "$TESTTMP/lb.err" || :
}

# full_start NAME: etcd changes (a new service NAME, an upstream more for
# stable1) while writes fail: the failure is logged, soon, naming the
# file; the live config stays the last good one, which haproxy accepts,
# and the new service is not served.
full_start() {
	cp "$EASY_LB_RUN/haproxy.cfg" "$TESTTMP/good.cfg"
	FULL_N=$(full_errors)
	backend_start "$1"
	etcd-put "/services/$1/upstream/f1" "127.0.0.1:$BACKEND_PORT"
	etcd-put /services/stable1/upstream/f1 "127.0.0.1:$BACKEND_PORT"
	wait_until 10 full_logged $((FULL_N + 1)) || { tail -n 20 "$TESTTMP/lb.err" >&2; false; }
	grep "No space left on device" "$TESTTMP/lb.err" | tail -n 1 >&3
	full_check "$1"
}

full_check() {
	cmp "$TESTTMP/good.cfg" "$EASY_LB_RUN/haproxy.cfg"
	haproxy -c -q -f "$EASY_LB_RUN/haproxy.cfg"
	refute serves "/$1/" "$1"
}

# full_end NAME: room again: converged within 30 s, NAME served.
full_end() {
	local t0
	t0=$(ms)
	converged 30
	echo "converged $(($(ms) - t0)) ms after room was made" >&3
	wait_until 10 answers "/$1/" "$1"
	etcd-put -d /services/stable1/upstream/f1 >/dev/null
	converged 10
}

clients_start() {
	client_start s1 /stable1/
	client_start s2 /stable2/
	cfg_watch_start
}

# clients_end: no request failed, and haproxy.cfg was never anything but
# a whole valid config.
clients_end() {
	cfg_watch_stop
	client_stop s1
	client_stop s2
}

@test "a full tmpfs under the config for 20 s: the live config intact, no failed request, ENOSPC logged; converged once freed" {
	[ -n "$MOUNTED" ] || skip "cannot mount a tmpfs here ($(cat "$TESTTMP/mount.err")); the LD_PRELOAD test covers the fault"
	lb_run
	stable_up
	clients_start
	# fill every block left (dd ends with ENOSPC)
	wait_until 10 state_is healthy
	status_watch_start
	dd if=/dev/zero of="$EASY_LB_RUN/filler" bs=4k 2>/dev/null || :
	[ "$(df --output=avail "$EASY_LB_RUN" | tail -n 1 | tr -d ' ')" -eq 0 ]
	local said
	said=$(tmpl_full)
	full_start full1
	# Longer than a few retries: the watcher must not give the change up.
	# (the fault's duration, not a wait for something)
	sleep 20
	# tmpl said it once, not at each try
	[ "$(tmpl_full)" -eq $((said + 1)) ]
	full_check full1
	wait_until 10 status_watch_saw degraded
	rm -f "$EASY_LB_RUN/filler"
	full_end full1
	# and said its end
	grep -q "^tmpl: $EASY_LB_RUN/haproxy.cfg.new: up to date again (revision [0-9]*)$" "$TESTTMP/lb.err"
	clients_end
	# the status never said healthy while the change waited, and said
	# degraded during the fault (the render not out, or its own file
	# growing old: stale)
	wait_until 10 state_is healthy
	status_watch_stop 12
	[[ "$SAID" == *degraded* ]]
}

# lb_run_shim PATTERNS: a balancer whose every process has the shim, aimed
# at PATTERNS, armed while $TESTTMP/enospc.on exists.
lb_run_shim() {
	ENOSPC_MATCH=$1 ENOSPC_FLAG=$TESTTMP/enospc.on \
		LD_PRELOAD=$TESTTMP/enospc.so lb_run
}

# shim_phase NAME FLAG MESSAGE REASON: full_start with the shim armed by
# FLAG (operations, then patterns), the log has MESSAGE (a grep pattern)
# and easy-lb status says degraded for REASON; then room again, and it
# says healthy.
shim_phase() {
	printf '%s\n' "$2" >"$TESTTMP/enospc.on"
	full_start "$1"
	grep -q "$3" "$TESTTMP/lb.err"
	wait_until 10 status_says degraded "$4"
	rm -f "$TESTTMP/enospc.on"
	full_end "$1"
	wait_until 10 state_is healthy
}

@test "LD_PRELOAD ENOSPC on the config itself, on every file beside it, on syncs and renames: same invariants" {
	EASY_LB_RUN=$TESTTMP/run-shim
	local R=$TESTTMP/run-shim
	lb_run_shim "$R/.haproxy.cfg*:$R/haproxy.cfg*"
	stable_up
	# the shim is real: a write through it fails the way a full disk does,
	# half way
	echo write >"$TESTTMP/enospc.on"
	run_split env LD_PRELOAD="$TESTTMP/enospc.so" ENOSPC_FLAG="$TESTTMP/enospc.on" \
		ENOSPC_MATCH="$TESTTMP/probe" dd if=/dev/zero of="$TESTTMP/probe" bs=1k count=1
	[ "$status" -ne 0 ]
	[[ $stderr == *"No space left on device"* ]]
	[ "$(stat -c %s "$TESTTMP/probe")" -lt 1024 ]
	rm -f "$TESTTMP/enospc.on"
	clients_start
	wait_until 10 state_is healthy
	status_watch_start
	# only the config's own temporary file: hap-reload cannot install it
	shim_phase shim1 "write
$R/.haproxy.cfg.??????" \
		"^hap-reload: $R/haproxy.cfg: cannot write $R/.haproxy.cfg.[^.]*: No space left on device$" \
		"the last apply failed"
	# every file beside it: tmpl -o cannot write haproxy.cfg.new
	shim_phase shim2 write \
		"^tmpl: $R/haproxy.cfg.new: cannot write $R/.haproxy.cfg.new.*: No space left on device$" \
		"the last render did not go out"
	# a disk that fills up late: syncs and renames fail (tmpl --no-sync
	# does not sync the config it hands over: its rename fails)
	shim_phase shim3 "fsync rename" \
		"^tmpl: $R/haproxy.cfg.new: rename: No space left on device$" \
		"the last render did not go out"
	clients_end
	status_watch_stop 12
}
