#!/bin/sh
# make demo: a private etcd on loopback, the balancer on a free port, and
# small backends that register themselves with etcd-put --keepalive; then
# requests balanced, a backend added and one removed, live.  Stays up
# until Ctrl-C (or, with --batch, ends after the show), cleaning up all.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
[ -x "$repo/bin/etcd-get" ] && PATH="$repo/bin:$PATH"
export PATH
batch=
[ "${1:-}" = "--batch" ] && batch=1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/easy-lb-demo.XXXXXX") || exit 111
pids=''
cleanup() {
	trap - EXIT INT TERM
	# the balancer first, so that it never sees its backends vanish
	[ -n "${lbpid:-}" ] && kill -TERM "$lbpid" 2>/dev/null && wait "$lbpid" 2>/dev/null
	# then the rest, newest first: registrations end before etcd does
	rev=''
	for p in $pids; do rev="$p $rev"; done
	for p in $rev; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$tmp"
	echo "demo: stopped, everything cleaned up"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

say() { printf '\n== %s\n' "$*"; }
port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
bg() { "$@" & pids="$pids $!"; }
until_ok() { # SECONDS CMD...: retry CMD, every second, until it succeeds
	n=$1; shift
	while ! "$@" >/dev/null 2>&1; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || { echo "demo: gave up waiting for: $*" >&2; exit 1; }
		sleep 1
	done
}

say "starting a private etcd on 127.0.0.1"
cport=$(port) pport=$(port)
bg etcd --name demo --data-dir "$tmp/etcd" \
	--listen-client-urls "http://127.0.0.1:$cport" \
	--advertise-client-urls "http://127.0.0.1:$cport" \
	--listen-peer-urls "http://127.0.0.1:$pport" \
	--initial-advertise-peer-urls "http://127.0.0.1:$pport" \
	--initial-cluster "demo=http://127.0.0.1:$pport" >"$tmp/etcd.log" 2>&1
export ETCDCTL_ENDPOINTS="http://127.0.0.1:$cport"
until_ok 20 etcd-get --revision
echo "etcd: $ETCDCTL_ENDPOINTS"

register() { # NAME: start a backend and register it with a 10 s lease
	p=$(port)
	bg python3 "$here/demo-backend.py" "$1" "$p"
	until_ok 10 curl -sf "http://127.0.0.1:$p/"
	etcd-put --ttl 10 --keepalive "/services/demo/upstream/$1" "127.0.0.1:$p" &
	eval "reg_$1=\$!"
	pids="$pids $!"
	echo "backend $1 on 127.0.0.1:$p, registered as /services/demo/upstream/$1"
}

say "starting two backends; each registers itself with a lease"
etcd-put /services/demo/location /
register web1
register web2

say "starting the balancer"
lport=$(port)
mkdir -p "$tmp/run"
EASY_LB_RUN="$tmp/run" LB_PORT=$lport LB_BIND=127.0.0.1 DEBOUNCE_MS=100 \
	HAPROXY_STATS=1 HAPROXY_STATS_AUTH=admin:demo \
	"$here/boot.sh" >"$tmp/access.log" 2>"$tmp/balancer.log" &
lbpid=$!
url="http://127.0.0.1:$lport"
until_ok 20 curl -sf "$url/"
echo "balancer: $url/"
echo "stats:    $url/stats  (user admin, password demo)"

show() { # N requests through the balancer
	i=0
	while [ $i -lt "$1" ]; do
		printf '  GET / -> %s\n' "$(curl -s "$url/")"
		i=$((i + 1))
	done
}
serves() { # NAME: the balancer reaches NAME within a few requests
	for _ in 1 2 3 4 5 6; do
		curl -s "$url/" | grep -q "^$1 " && return 0
	done
	return 1
}

say "requests are balanced over web1 and web2"
show 4

# applied WHAT: the balancer has logged a change like WHAT as done (a
# server serves before hap-reload has checked and said so).
applied() {
	grep -q "easy-lb: revision [0-9]*: $1" "$tmp/balancer.log"
}

say "adding web3 live (applied through haproxy's runtime API)"
register web3
until_ok 10 serves web3
until_ok 10 applied 'runtime: +1 -0'
show 6

say "removing web1 live (its registration process ends, the lease is revoked)"
# shellcheck disable=SC2154
kill -TERM "$reg_web1"
until_ok 10 sh -c "! { $(for _ in 1 2 3 4 5 6; do printf 'curl -s %s/; ' "$url"; done) } | grep -q '^web1 '"
until_ok 10 applied 'runtime: +0 -1'
show 4

say "what the balancer did (its log; haproxy's access log is in $tmp/access.log)"
grep -v '^127\.0\.0\.1:' "$tmp/balancer.log" | sed 's/^/  /'


if [ -n "$batch" ]; then
	exit 0
fi
say "up at $url/ (stats at $url/stats, admin/demo); Ctrl-C stops everything"
echo "try: ETCDCTL_ENDPOINTS=$ETCDCTL_ENDPOINTS $repo/bin/etcd-put /services/demo/upstream/mine 127.0.0.1:PORT"
wait "$lbpid"
