#!/usr/bin/env bats
# Fault: etcd killed and restarted again and again under the running
# balancer while keys keep changing.  Invariant: the services that stay
# registered never fail a request, and once etcd is back for good haproxy
# runs exactly what etcd holds.

load chaos

setup_file() {
	chaos_setup_file
	lb_start
	stable_start 2
}

teardown_file() {
	chaos_teardown_file
}

# writer_start: changes upstreams of churn0..4 until writer_stop (bounded),
# riding out the outages (a failed write is simply tried again later).
writer_start() {
	backend_start churn
	(
		i=0
		while [ "$i" -lt 5000 ] && [ ! -f "$TESTTMP/writer.stop" ]; do
			k="/services/churn$((i % 5))/upstream/u$((i % 3))"
			if [ $((i % 4)) -eq 3 ]; then
				etcd-put --command-timeout 1s -d "$k" >/dev/null 2>&1 || :
			else
				etcd-put --command-timeout 1s "$k" "127.0.0.1:$BACKEND_PORT" 2>/dev/null || :
			fi
			i=$((i + 1))
			sleep 0.05
		done
		echo "$i" >"$TESTTMP/writer.out"
	) &
	WRITER=$!
}

writer_stop() {
	touch "$TESTTMP/writer.stop"
	wait "$WRITER"
}

@test "etcd killed and restarted 20 times while keys change: no failed request, converged after" {
	local i sig
	client_start s1 /stable1/
	client_start s2 /stable2/
	wait_until 10 state_is healthy
	status_watch_start
	writer_start
	for i in $(seq 1 20); do
		sleep "0.$((RANDOM % 8 + 2))"
		# every other time without a chance to close its connections
		sig=TERM
		[ $((i % 2)) -eq 0 ] && sig=KILL
		etcd_stop main "$sig"
		# the first outage lasts until the status said so
		[ "$i" -gt 1 ] || wait_until 10 status_watch_saw degraded
		sleep "0.$((RANDOM % 8 + 1))"
		etcd_start main
	done
	sleep 1
	writer_stop
	echo "writes attempted: $(cat "$TESTTMP/writer.out")" >&3
	converged 30
	client_stop s1
	client_stop s2
	answers /stable1/ stable1
	# the status told the truth throughout, and ends healthy
	wait_until 10 state_is healthy
	status_watch_stop 12
	[[ "$SAID" == *degraded* ]]
	# the watcher rode the outages out: it was never restarted
	run_split grep -c "watcher exited" "$TESTTMP/lb.err"
	[ "$output" = 0 ]
}
