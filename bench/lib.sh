# shellcheck shell=bash
# bench/lib.sh: what the benchmarks that run their own etcd share.
# Sourced (bash): needs say(), and $TMP (a temp dir) for start_etcd.

# bench_tmp NAME: a temp dir in TMP, removed at exit with the etcd that
# start_etcd started there.
bench_tmp() {
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || exit 111
	ETCD_PID=
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM HUP
}

# shellcheck disable=SC2317 # run by the EXIT trap
bench_cleanup() {
	if [ -n "${ETCD_PID:-}" ]; then
		kill "$ETCD_PID" 2>/dev/null
		wait "$ETCD_PID" 2>/dev/null
	fi
	rm -rf "$TMP"
}

# bench_lb_tmp NAME: for a benchmark of the whole balancer, bench_tmp's
# TMP and a RUN dir on a tmpfs (LB_BENCH_RUN, its EASY_LB_RUN: as /run is
# on systemd hosts and in containers; its files are fsync'd, which on a
# disk would be measured); at exit, besides etcd, every process listed in
# $TMP/pids (boot.sh leads its own process group, haproxy and its
# workers, stopped as a group) and PY_PID, the driver.
bench_lb_tmp() {
	bench_tmp "$1"
	RUN=$(mktemp -d "/dev/shm/$1-run.XXXXXX" 2>/dev/null) || RUN=$TMP/run
	export LB_BENCH_RUN=$RUN
	PY_PID=
	trap bench_lb_cleanup EXIT
}

# shellcheck disable=SC2317 # run by the EXIT trap
bench_lb_cleanup() {
	local pid
	[ -n "${PY_PID:-}" ] && kill -KILL "$PY_PID" 2>/dev/null
	if [ -f "$TMP/pids" ]; then
		while read -r pid; do
			kill -TERM "$pid" 2>/dev/null
		done <"$TMP/pids"
		sleep 0.5
		while read -r pid; do
			kill -KILL -- "-$pid" 2>/dev/null
			kill -KILL "$pid" 2>/dev/null
		done <"$TMP/pids"
	fi
	rm -rf "$RUN"
	bench_cleanup
}

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# start_etcd: a private etcd on loopback, data in $TMP/data; sets URL and
# ETCD_PID; exits 111 when it does not come up.
start_etcd() {
	local cport pport i=0
	cport=$(free_port)
	pport=$(free_port)
	while [ "$pport" = "$cport" ]; do pport=$(free_port); done
	URL=http://127.0.0.1:$cport
	etcd --name bench --data-dir "$TMP/data" \
		--listen-client-urls "$URL" --advertise-client-urls "$URL" \
		--listen-peer-urls "http://127.0.0.1:$pport" \
		--initial-advertise-peer-urls "http://127.0.0.1:$pport" \
		--initial-cluster "bench=http://127.0.0.1:$pport" \
		--logger zap --log-outputs stderr >"$TMP/etcd.log" 2>&1 &
	ETCD_PID=$!
	until curl -sf "$URL/health" 2>/dev/null | grep -q '"true"'; do
		i=$((i + 1))
		if [ $i -gt 200 ] || ! kill -0 "$ETCD_PID" 2>/dev/null; then
			say "etcd did not start"
			tail -n 20 "$TMP/etcd.log" >&2
			exit 111
		fi
		sleep 0.1
	done
	say "etcd $(etcd --version | sed -n 's/^etcd Version: //p') on $URL"
}
