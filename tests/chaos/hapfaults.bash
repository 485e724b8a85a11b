# Helpers of the haproxy and disk faults (haproxy.bats, disk.bats), on top
# of chaos.bash.

load chaos

# ms: the monotonic-enough wall clock in milliseconds.

# lb_run: lb_start, except that boot.sh's exit status lands in
# $TESTTMP/lb.status when it ends (a test's own shell cannot wait for a
# process the file's setup started) and that it may be started from a test.
lb_run() {
	rm -f "$TESTTMP/lb.status" "$TESTTMP/lb.pid"
	mkdir -p "$EASY_LB_RUN"
	(
		"$REPO/share/easy-lb/boot.sh" 2>>"$TESTTMP/lb.err" &
		echo "$!" >"$TESTTMP/lb.pid"
		rc=0
		wait "$!" || rc=$?
		echo "$rc" >"$TESTTMP/lb.status"
	) 3>&- &
	wait_until 5 test -s "$TESTTMP/lb.pid"
	wait_until 20 curl -s -o /dev/null "$(LB)/"
}

# lb_exited: boot.sh has ended (its status is known).
lb_exited() { [ -s "$TESTTMP/lb.status" ]; }

# alive PID...: every PID is a process that has not ended (a zombie has).
alive() {
	local p s
	for p in "$@"; do
		s=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) || return 1
		[ -n "$s" ] && [ "$s" != Z ] && [ "$s" != X ] || return 1
	done
}

# none_alive PID...: no PID is a live process; the live ones to stderr.
none_alive() {
	local p ret=0
	for p in "$@"; do
		if alive "$p"; then
			ps -o pid,ppid,stat,args -p "$p" >&2
			ret=1
		fi
	done
	return $ret
}

# refused: nothing listens on the balancer's port any more.
refused() {
	local rc=0
	curl -s -o /dev/null -m 2 "$(LB)/" || rc=$?
	[ "$rc" -eq 7 ]
}

# serves PATH NAME: one request for PATH is answered by backend NAME.
serves() { [[ "$(curl -s -m 2 "$(LB)$1")" == "$2 "* ]]; }

# cfg_watch_start: sample $EASY_LB_RUN/haproxy.cfg every 20 ms, keeping
# every distinct content seen (bounded: 3000 samples).
cfg_watch_start() {
	mkdir -p "$TESTTMP/cfgseen"
	rm -f "$TESTTMP/cfgseen"/* "$TESTTMP/cfgwatch.stop"
	(
		i=0
		while [ $i -lt 3000 ] && [ ! -f "$TESTTMP/cfgwatch.stop" ]; do
			if cp "$EASY_LB_RUN/haproxy.cfg" "$TESTTMP/cfgseen/cur" 2>/dev/null; then
				s=$(md5sum <"$TESTTMP/cfgseen/cur" | cut -c1-32)
				mv -f "$TESTTMP/cfgseen/cur" "$TESTTMP/cfgseen/$s.cfg"
			fi
			i=$((i + 1))
			sleep 0.02
		done
	) 3>&- &
	CFGWATCH=$!
}

# cfg_watch_stop: every content haproxy.cfg had meanwhile is a whole
# config that haproxy accepts.
cfg_watch_stop() {
	local f n=0
	touch "$TESTTMP/cfgwatch.stop"
	wait "$CFGWATCH" || true
	for f in "$TESTTMP/cfgseen"/*.cfg; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		# (a torn file would end without its newline, or fail -c)
		if ! haproxy -c -q -f "$f" >"$TESTTMP/cfgcheck.err" 2>&1 ||
			[ -n "$(tail -c 1 "$f")" ] ||
			! grep -q "^backend easy-lb-none$" "$f"; then
			echo "haproxy.cfg was once not a whole valid config:" >&2
			cat "$TESTTMP/cfgcheck.err" "$f" >&2
			return 1
		fi
	done
	echo "haproxy.cfg: $n distinct contents, each valid" >&3
	[ "$n" -gt 0 ]
}
