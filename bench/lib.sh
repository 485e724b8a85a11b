# shellcheck shell=bash
# bench/lib.sh: what the benchmarks that run their own etcd share.
# Sourced (bash): needs $TMP (a temp dir) and say().

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
