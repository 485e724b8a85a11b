#!/usr/bin/env bash
# tls-bench.sh: HTTPS through the balancer (boot.sh, watcher.sh with
# hap-certs, the shipped template), with a private etcd and a demo backend
# on 127.0.0.1.
#   a. rotation: a certificate and its key put in one transaction ->
#      the new serial served to a client that asks by SNI (runtime path:
#      no reload); the floor is the same certificate pushed straight into
#      haproxy's runtime API (set + commit ssl cert), in the same run.
#   b. request rate (wrk), with keep-alive and with a new connection (a
#      full TLS handshake) a request: HTTPS against plain HTTP, the same
#      route to a backend that is a second haproxy answering by itself,
#      the same run.  Then HTTPS over HTTP/2 against HTTPS over HTTP/1.1
#      with keep-alive (h2load, which speaks both, where wrk speaks
#      HTTP/1.1 only): the same 16 connections, one request in flight on
#      each, as wrk's.
# Writes its table to stdout and bench/out/tls.txt, and the rows of the
# README's summary to bench/out/tls-summary.tsv.  Knobs: ROT_N (rotations,
# default 40), WRK_SECS (default 8; h2load's runs too).
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=$REPO/bench/out
ROT_N=${ROT_N:-40}
WRK_SECS=${WRK_SECS:-8}
unset ETCDCTL_ENDPOINTS ETCD_PEERS ETCDCTL_USER ETCDCTL_PASSWORD \
	ETCDCTL_CACERT ETCDCTL_CERT ETCDCTL_KEY ETCDCTL_INSECURE_SKIP_TLS_VERIFY
PATH=$REPO/bin:$PATH:/usr/sbin
export PATH

say() { printf 'tls-bench: %s\n' "$*" >&2; }
for t in etcd openssl python3 haproxy; do
	command -v "$t" >/dev/null || { say "$t not installed (contrib/deps.sh bench)"; exit 111; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tls-bench.XXXXXX") || exit 111
PIDS=''
# shellcheck disable=SC2317,SC2329 # run by the EXIT trap
cleanup() {
	[ -n "${LBPID:-}" ] && kill "$LBPID" 2>/dev/null && wait "$LBPID" 2>/dev/null
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	# (RUN, the balancer's run dir, is on /dev/shm when it can be)
	rm -rf "$TMP" "${RUN:-}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

CPORT=$(free_port)
PPORT=$(free_port)
URL=http://127.0.0.1:$CPORT
etcd --name bench --data-dir "$TMP/etcd" --listen-client-urls "$URL" \
	--advertise-client-urls "$URL" --listen-peer-urls "http://127.0.0.1:$PPORT" \
	--initial-advertise-peer-urls "http://127.0.0.1:$PPORT" \
	--initial-cluster "bench=http://127.0.0.1:$PPORT" >"$TMP/etcd.log" 2>&1 &
PIDS="$PIDS $!"
export ETCDCTL_ENDPOINTS=$URL
i=0
until etcd-get --revision >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 100 ] || { say "etcd did not start"; exit 111; }
	sleep 0.1
done

# Two certificates for one name, a serial each, from one CA.
# (with the extensions that strict verifiers, Python 3.13's among them, ask for)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bench-ca \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	-keyout "$TMP/ca.key" -out "$TMP/ca.crt" 2>/dev/null
for n in a b; do
	openssl req -newkey rsa:2048 -nodes -subj /CN=bench.example.com \
		-keyout "$TMP/$n.key" -out "$TMP/$n.csr" 2>/dev/null
	printf 'authorityKeyIdentifier=keyid,issuer\nsubjectKeyIdentifier=hash\nsubjectAltName=DNS:bench.example.com\n' >"$TMP/$n.ext"
	openssl x509 -req -in "$TMP/$n.csr" -CA "$TMP/ca.crt" -CAkey "$TMP/ca.key" \
		-set_serial "0x${n}0${n}0" -days 2 -extfile "$TMP/$n.ext" -out "$TMP/$n.crt" 2>/dev/null
done

# The backend: a second haproxy answering by itself, so that the rates
# below are the balancer's and not a Python server's.
BPORT=$(free_port)
cat >"$TMP/backend.cfg" <<CFG
global
	maxconn 4096
defaults
	mode http
	timeout connect 2s
	timeout client 10s
	timeout server 10s
frontend web
	bind 127.0.0.1:$BPORT
	http-request return status 200 content-type text/plain string "web"
CFG
haproxy -db -f "$TMP/backend.cfg" >"$TMP/backend.log" 2>&1 &
PIDS="$PIDS $!"
etcd-put /services/web/upstream/w1 "127.0.0.1:$BPORT" >/dev/null
etcd-put /services/web/location / >/dev/null
etcd-put /tls/bench/cert - <"$TMP/a.crt" >/dev/null
etcd-put /tls/bench/key - <"$TMP/a.key" >/dev/null

RUN=$(mktemp -d /dev/shm/tls-bench-run.XXXXXX 2>/dev/null) || RUN=$TMP/run
export EASY_LB_RUN=$RUN LB_PORT LB_TLS_PORT LB_BIND=127.0.0.1 DEBOUNCE_MS=50
LB_PORT=$(free_port)
LB_TLS_PORT=$(free_port)
"$REPO/share/easy-lb/boot.sh" >/dev/null 2>"$TMP/lb.err" &
LBPID=$!
i=0
until curl -sk -o /dev/null "https://127.0.0.1:$LB_TLS_PORT/"; do
	i=$((i + 1))
	[ $i -lt 300 ] || { say "the balancer did not serve HTTPS"; tail "$TMP/lb.err" >&2; exit 111; }
	sleep 0.1
done

say "a. $ROT_N rotations"
python3 - "$URL" "$TMP" "$LB_TLS_PORT" "$RUN" "$ROT_N" >"$TMP/rot.txt" <<'PY' || { say "rotation failed"; tail "$TMP/lb.err" >&2; exit 111; }
import base64, http.client, json, socket, ssl, statistics, sys, time
url, tmp, port, run, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
host = url.split("://", 1)[1]
pem = {c: (open("%s/%s.crt" % (tmp, c)).read(), open("%s/%s.key" % (tmp, c)).read()) for c in "ab"}
serial = {"a": "A0A0", "b": "B0B0"}
ctx = ssl.create_default_context(cafile=tmp + "/ca.crt")
b64 = lambda s: base64.b64encode(s.encode()).decode()

def served():
    with socket.create_connection(("127.0.0.1", port), 2) as s:
        with ctx.wrap_socket(s, server_hostname="bench.example.com") as t:
            return t.getpeercert()["serialNumber"]

def put(c):
    conn = http.client.HTTPConnection(host)
    ops = [{"requestPut": {"key": b64("/tls/bench/cert"), "value": b64(pem[c][0])}},
           {"requestPut": {"key": b64("/tls/bench/key"), "value": b64(pem[c][1])}}]
    conn.request("POST", "/v3/kv/txn", json.dumps({"success": ops}))
    r = conn.getresponse(); r.read()

def ask(path, cmd):
    # one command, then our half closed: haproxy answers and hangs up
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(path); s.sendall(cmd.encode() + b"\n"); s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            s.close()
            return out.decode()
        out += d

def rt(cmd):
    return ask(run + "/haproxy.sock", cmd)

def worker():
    out = ask(run + "/master.sock", "show proc")
    return [l.split()[0] for l in out.splitlines() if "worker" in l and not l.startswith("#")][:1]

def wait(c, t0):
    while served() != serial[c]:
        if time.monotonic() - t0 > 10:
            sys.exit("serial %s not served after 10 s" % serial[c])
        time.sleep(0.002)
    return (time.monotonic() - t0) * 1000

w0 = worker()
via, floor = [], []
cur = "a"
for i in range(n):
    cur = "b" if cur == "a" else "a"
    t0 = time.monotonic(); put(cur); via.append(wait(cur, t0))
    time.sleep(0.2)
# the floor: the same pair straight into the runtime API
for i in range(n):
    cur = "b" if cur == "a" else "a"
    body = "".join(l + "\n" for l in (pem[cur][0] + pem[cur][1]).splitlines() if l.strip())
    t0 = time.monotonic()
    for f in ("crt/bench.pem", "default.pem"):  # one transaction at a time
        rt("set ssl cert %s/tls/%s <<\n%s" % (run, f, body))
        rt("commit ssl cert %s/tls/%s" % (run, f))
    floor.append(wait(cur, t0))
    time.sleep(0.05)
q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(p * len(xs)))]
print("%.1f %.1f %.1f %.1f %d %s" % (statistics.median(via), q(via, 0.99),
      statistics.median(floor), q(floor, 0.99), len(via), "same" if worker() == w0 else "changed"))
PY
read -r r50 r99 f50 f99 rn same <"$TMP/rot.txt"

wrk_rate() { # URL [wrk options]: requests/s of wrk on URL
	u=$1
	shift
	wrk -t2 -c16 -d"${WRK_SECS}s" "$@" "$u" 2>/dev/null | awk '/^Requests\/sec:/ { print $2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
if command -v wrk >/dev/null; then
	say "b. wrk, ${WRK_SECS} s each, keep-alive then a connection a request"
	http_rps=$(wrk_rate "http://127.0.0.1:$LB_PORT/")
	https_rps=$(wrk_rate "https://127.0.0.1:$LB_TLS_PORT/")
	http_cps=$(wrk_rate "http://127.0.0.1:$LB_PORT/" -H 'Connection: close')
	https_cps=$(wrk_rate "https://127.0.0.1:$LB_TLS_PORT/" -H 'Connection: close')
else
	say "wrk not installed: the request rates are left out"
	http_rps=- https_rps=- http_cps=- https_cps=-
fi
# h2load_rate [h2load options]: requests/s of h2load on the HTTPS URL,
# "-" (and why, said) unless every request got a 2xx over the protocol
# asked for (h2, or http/1.1 with --h1).
h2load_rate() {
	want=h2
	[ "${1:-}" = --h1 ] && want=http/1.1
	h2load -t2 -c16 -m1 -D "$WRK_SECS" "$@" "https://127.0.0.1:$LB_TLS_PORT/" >"$TMP/h2load.out" 2>&1
	awk -v want="$want" '
		/^Application protocol:/ { proto = $3 }
		/^requests:/ { done = $6; ok = $8 }
		/^status codes:/ { two = $3 }
		/^finished in/ { rate = $4 }
		END {
			if (proto != want) { print "-"; print "h2load: the protocol was " (proto == "" ? "none" : proto) ", not " want > "/dev/stderr"; exit }
			if (done == 0 || ok != done || two != done) { print "-"; print "h2load: " done " requests done, " ok " succeeded, " two " with a 2xx" > "/dev/stderr"; exit }
			print rate
		}' "$TMP/h2load.out"
}
if command -v h2load >/dev/null; then
	say "b. h2load, ${WRK_SECS} s each, HTTPS over HTTP/2 then over HTTP/1.1"
	h2_rps=$(h2load_rate)
	h1_rps=$(h2load_rate --h1)
else
	say "h2load not installed (nghttp2-client): the HTTP/2 rate is left out"
	h2_rps=- h1_rps=-
fi
ratio=$(ratio "$https_rps" "$http_rps")
cratio=$(ratio "$https_cps" "$http_cps")
h2ratio=$(ratio "$h2_rps" "$h1_rps")

{
	printf 'easy-lb TLS benchmarks, %s, %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" \
		"$(haproxy -v 2>/dev/null | head -n 1)"
	printf '%-52s %10s %10s %10s\n' measure easy-lb floor ratio
	printf '%-52s %10s %10s %10s\n' "a. put -> new serial served p50, ms (n=$rn)" "$r50" "$f50" \
		"$(awk -v a="$r50" -v b="$f50" 'BEGIN { printf "%.1f", a / b }')"
	printf '%-52s %10s %10s %10s\n' "a. put -> new serial served p99, ms" "$r99" "$f99" \
		"$(awk -v a="$r99" -v b="$f99" 'BEGIN { printf "%.1f", a / b }')"
	printf '%-52s %10s\n' "a. the worker after the rotations" "$same"
	printf '%-52s %10s %10s %10s\n' "b. requests/s with keep-alive, HTTPS (vs HTTP)" "$https_rps" "$http_rps" "$ratio"
	printf '%-52s %10s %10s %10s\n' "b. requests/s, a connection each, HTTPS (vs HTTP)" "$https_cps" "$http_cps" "$cratio"
	printf '%-52s %10s %10s %10s\n' "b. HTTPS requests/s, keep-alive, h2 (vs HTTP/1.1)" "$h2_rps" "$h1_rps" "$h2ratio"
} | tee "$TMP/table"
mkdir -p "$OUT"
cp "$TMP/table" "$OUT/tls.txt"
{
	printf '9. https: certificate put -> new serial served p50, ms (n=%s; worker %s)\t%s\tp99 %s\t%s\t%s\t<= 1000 ms\t%s\n' \
		"$rn" "$same" "$r50" "$r99" "$f50" "$(awk -v a="$r50" -v b="$f50" 'BEGIN { printf "%.0f", a / b }')" \
		"$(awk -v a="$r99" 'BEGIN { print (a <= 1000 ? "met" : "MISSED") }')"
	printf '9. https: requests/s with keep-alive (wrk), HTTPS vs HTTP\t%s\t\t%s\t%s\t\t\n' \
		"$https_rps" "$http_rps" "$ratio"
	printf '9. https: requests/s, a connection (a full TLS handshake) each, HTTPS vs HTTP\t%s\t\t%s\t%s\t\t\n' \
		"$https_cps" "$http_cps" "$cratio"
	printf '9. https: requests/s with keep-alive (h2load), HTTPS over HTTP/2 vs over HTTP/1.1\t%s\t\t%s\t%s\t\t\n' \
		"$h2_rps" "$h1_rps" "$h2ratio"
} >"$OUT/tls-summary.tsv"
exit 0
