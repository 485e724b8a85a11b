#!/usr/bin/env bats
# HTTPS and virtual hosts, end to end: the balancer (boot.sh, watcher.sh
# with hap-certs, the shipped template) with a real etcd, a real haproxy
# and tiny backends, certificates made here by openssl and put in etcd
# under /tls, clients that speak SNI to 127.0.0.1.

load helper
load pki

setup_file() {
	etcd_setup_file
	export LB_PORT LB_TLS_PORT LB_BIND=127.0.0.1 DEBOUNCE_MS=50 \
		EASY_LB_RUN="$TESTTMP/run" TLS_DEFAULT=api P="$TESTTMP/pki"
	LB_PORT=$(free_port)
	LB_TLS_PORT=$(free_port)
	site_ca "$P"
	site_cert "$P" api api.example.com 1001
	site_cert "$P" wild '*.example.com' 1002
	site_cert "$P" org www.example.org 1003
	site_cert "$P" api2 api.example.com 2001
	site_cert "$P" api4 api.example.com 2002
	site_cert "$P" api3 api.example.com 3001
	site_cert "$P" old old.example.com 4001 20200101000000Z 20200201000000Z
	site_cert "$P" soon soon.example.com 4002 20260101000000Z \
		"$(date -u -d '+5 days' +%Y%m%d%H%M%SZ)"
	local n
	for n in api exact wild deep plain acme; do
		backend_start "$n"
		export "BACKEND_PORT_$n"
	done
}

teardown_file() {
	lb_stop
	backends_stop
	etcd_teardown_file
}

teardown() {
	[ -z "${BGPID:-}" ] || { kill "$BGPID" 2>/dev/null; wait "$BGPID" 2>/dev/null; } || true
}

# cert_put NAME FILE: the certificate and key of FILE (pki) as /tls/NAME.
cert_put() {
	etcd-put "/tls/$1/cert" - <"$P/$2.crt"
	etcd-put "/tls/$1/key" - <"$P/$2.key"
}

# served HOST [ARGS]: "subject serial" of the certificate the balancer
# gives a client that asks for HOST by SNI (none: no SNI).
served() {
	local sni=(-servername "$1")
	[ "$1" = none ] && sni=(-noservername)
	echo | openssl s_client -connect "127.0.0.1:$LB_TLS_PORT" "${sni[@]}" 2>/dev/null |
		openssl x509 -noout -subject -serial -nameopt RFC2253 2>/dev/null |
		sed 's/^subject=//; s/^serial=//' | tr '\n' ' '
}

# https HOST PATH: the body of GET PATH over HTTPS to HOST (SNI and Host),
# its certificate checked against the site CA.
https() {
	curl -s --max-time 5 --cacert "$P/site-ca.crt" \
		--resolve "$1:$LB_TLS_PORT:127.0.0.1" "https://$1:$LB_TLS_PORT$2"
}

# http HOST PATH [CURL ARGS]: GET PATH over plain HTTP with Host: HOST.
http() {
	local h=$1 p=$2
	shift 2
	curl -s --max-time 5 -H "Host: $h" "$@" "$(LB)$p"
}

serves_serial() { [[ "$(served "$1")" == *" $2 " ]]; }

# need_h2: skip, saying what to install, when this curl speaks no HTTP/2
# (Debian's does: on bookworm to forky this never skips).
need_h2() {
	curl -V | grep '^Features:' | grep -qw HTTP2 ||
		skip "this curl has no HTTP/2: install a curl built with nghttp2 (HTTP2 among the Features of curl -V)"
}

# alpn_served HOST PROTOCOLS: as served, for a client that offers
# PROTOCOLS (comma-separated) by ALPN, and then the protocol the balancer
# chose ("" for none).
alpn_served() {
	local s
	s=$(echo | openssl s_client -connect "127.0.0.1:$LB_TLS_PORT" -servername "$1" -alpn "$2" 2>/dev/null)
	printf '%s\n' "$s" | openssl x509 -noout -subject -serial -nameopt RFC2253 2>/dev/null |
		sed 's/^subject=//; s/^serial=//' | tr '\n' ' '
	printf '%s\n' "$s" | sed -n 's/^ALPN protocol: //p'
}

serves_serial_h2() { [ "$(alpn_served "$1" h2,http/1.1)" = "CN=$1 $2 h2" ]; }

# https_v HOST PATH [CURL ARGS]: the body of GET PATH over HTTPS to HOST,
# as https, then the HTTP version curl spoke (2, 1.1) and the status.
https_v() {
	local h=$1 p=$2
	shift 2
	curl -s --max-time 5 --cacert "$P/site-ca.crt" --resolve "$h:$LB_TLS_PORT:127.0.0.1" \
		-w '%{http_version} %{http_code}' "$@" "https://$h:$LB_TLS_PORT$p"
}

# h2_client HOST PATH STOPFILE: GET PATH over HTTP/2 to HOST, a new
# connection (a full handshake) a request, until STOPFILE exists; one
# line a request: the body, the HTTP version and the status.
h2_client() {
	local r
	while [ ! -e "$3" ]; do
		r=$(https_v "$1" "$2" --http2)
		printf '%s\n' "${r//$'\n'/ }"
	done
}

# https_is HOST PATH BODY: GET PATH over HTTPS to HOST answers BODY.
https_is() { [ "$(https "$1" "$2")" = "$3" ]; }

@test "https: the TLS port stays closed until a good certificate is in etcd" {
	etcd-put /services/api/upstream/a1 "127.0.0.1:$BACKEND_PORT_api"
	etcd-put /services/api/host api.example.com
	lb_start
	wait_until 10 answers_host api.example.com /x api
	run_split curl -s -o /dev/null --max-time 2 "https://127.0.0.1:$LB_TLS_PORT/"
	[ "$status" -eq 7 ]
	refute grep -q ":$LB_TLS_PORT ssl" "$EASY_LB_RUN/haproxy.cfg"
	cert_put api api
	wait_until 10 serves_serial api.example.com 1001
	grep -qx "    bind 127.0.0.1:$LB_TLS_PORT ssl crt $EASY_LB_RUN/tls/default.pem crt-list $EASY_LB_RUN/tls/crt-list alpn h2,http/1.1" "$EASY_LB_RUN/haproxy.cfg"
	[ "$(https api.example.com /y)" = "api /y" ]
}

@test "https: two services on two hosts, each with its certificate by SNI" {
	cert_put wild wild
	etcd-put /services/wild/upstream/w1 "127.0.0.1:$BACKEND_PORT_wild"
	etcd-put /services/wild/host '*.example.com'
	wait_until 10 serves_serial www.example.com 1002
	[ "$(served api.example.com)" = "CN=api.example.com 1001 " ]
	[ "$(served www.example.com)" = "CN=*.example.com 1002 " ]
	wait_until 10 https_is www.example.com /p "wild /p"
	[ "$(https api.example.com /p)" = "api /p" ]
	# no SNI: TLS_DEFAULT's
	[ "$(served none)" = "CN=api.example.com 1001 " ]
}

@test "https: an exact host before a wildcard; within a host the longest location first; host-less routes last" {
	etcd-put /services/exact/upstream/e1 "127.0.0.1:$BACKEND_PORT_exact"
	etcd-put /services/exact/host API.Example.com
	etcd-put /services/exact/location /exact
	etcd-put /services/deep/upstream/d1 "127.0.0.1:$BACKEND_PORT_deep"
	etcd-put /services/deep/host '*.example.com'
	etcd-put /services/deep/location /deep
	etcd-put /services/plain/upstream/p1 "127.0.0.1:$BACKEND_PORT_plain"
	wait_until 10 answers_host foo.example.com /deep/1 deep
	# (plain, put last, may come in a later batch)
	wait_until 10 answers_host www.example.org /plain/1 plain
	# exact before wildcard, port and case of the Host header ignored
	[ "$(http API.EXAMPLE.COM:8080 /exact/1)" = "exact /exact/1" ]
	[ "$(https api.example.com /exact/2)" = "exact /exact/2" ]
	[ "$(https api.example.com /deep/2)" = "api /deep/2" ]
	# within the wildcard: the longest location first
	[ "$(https www.example.com /deep/3)" = "deep /deep/3" ]
	[ "$(https www.example.com /other)" = "wild /other" ]
	# host-less routes come after every host route
	[ "$(http api.example.com /plain/1)" = "api /plain/1" ]
	[ "$(http www.example.org /plain/1)" = "plain /plain/1" ]
	# the routes, in the map the order gives, each to its service's own
	# backend or to the spare backend that serves it (easy-lb(1))
	[ "$(cut -d' ' -f1 "$EASY_LB_RUN/routes.map")" = "api.example.com/exact
api.example.com/
.example.com/deep
.example.com/
/plain" ]
	[ "$(awk 'FNR == NR { if ($1 == "backend") be = $2; if ($2 == "easy-lb:" && $3 == "serves") s[be] = $4; next }
		{ printf "%s ", ($2 in s) ? s[$2] : $2 }' "$EASY_LB_RUN/haproxy.cfg" "$EASY_LB_RUN/routes.map")" = "exact api deep wild plain " ]
}

@test "https: HTTP/2 offered by ALPN, then HTTP/1.1; h2 takes the same routes" {
	need_h2
	[ "$(alpn_served api.example.com h2,http/1.1)" = "CN=api.example.com 1001 h2" ]
	[ "$(alpn_served api.example.com http/1.1)" = "CN=api.example.com 1001 http/1.1" ]
	run_split https_v api.example.com /exact/2 --http2
	[ "$status" -eq 0 ]
	[ "$output" = $'exact /exact/2\n2 200' ]
	[ "$stderr" = "" ]
	# (Host comes from h2's :authority: host routes, wildcards, locations)
	[ "$(https_v api.example.com /deep/2 --http2)" = $'api /deep/2\n2 200' ]
	[ "$(https_v www.example.com /deep/3 --http2)" = $'deep /deep/3\n2 200' ]
	[ "$(https_v www.example.com /other --http2)" = $'wild /other\n2 200' ]
	# a client that asks for HTTP/1.1 gets it
	[ "$(https_v api.example.com /exact/2 --http1.1)" = $'exact /exact/2\n1.1 200' ]
}

@test "https: HTTPS_REDIRECT sends plain HTTP to https, path and query kept; the ACME challenge still routes" {
	local run=$TESTTMP/run-redirect port tport
	port=$(free_port)
	tport=$(free_port)
	etcd-put /services/acme/upstream/a1 "127.0.0.1:$BACKEND_PORT_acme"
	etcd-put /services/acme/location /.well-known/acme-challenge/
	mkdir -p "$run"
	EASY_LB_RUN=$run LB_PORT=$port LB_TLS_PORT=$tport HTTPS_REDIRECT=1 \
		"$REPO/share/easy-lb/boot.sh" 2>"$TESTTMP/lb-redirect.err" &
	BGPID=$!
	# (the second config, with HTTPS, live: a redirect at last)
	wait_until 20 eval '[ "$(curl -s -o /dev/null -w %{http_code} "http://127.0.0.1:$port/")" = 301 ]'
	grep -q "ssl crt $run/tls/default.pem" "$run/haproxy.cfg"
	run_split curl -s -o /dev/null -w '%{http_code} %{redirect_url}' \
		-H "Host: api.example.com" "http://127.0.0.1:$port/a/b?c=d&e"
	[ "$status" -eq 0 ]
	[ "$output" = "301 https://api.example.com/a/b?c=d&e" ]
	[ "$stderr" = "" ]
	# the challenge is not redirected: it routes as any request does
	# (here to the host-less acme service, for a host no route claims)
	run_split curl -s -H "Host: www.example.org" \
		"http://127.0.0.1:$port/.well-known/acme-challenge/tok"
	[ "$output" = "acme /.well-known/acme-challenge/tok" ]
	# over HTTPS no redirect, and the backend learns the scheme
	[ "$(curl -s --cacert "$P/site-ca.crt" --resolve "api.example.com:$tport:127.0.0.1" "https://api.example.com:$tport/a/b")" = "api /a/b" ]
	grep -qx "    http-request set-header X-Forwarded-Proto https if { ssl_fc }" "$run/haproxy.cfg"
	grep -qx "    http-request set-header X-Forwarded-Proto http if !{ ssl_fc }" "$run/haproxy.cfg"
}

@test "https: a certificate rotated goes live, same worker, no request failed" {
	local w0 t0 dt
	w0=$(worker_pid)
	python3 "$BATS_TEST_DIRNAME/hap/client.py" "https://api.example.com:$LB_TLS_PORT/r" \
		"$TESTTMP/rot.stop" 60 "$P/site-ca.crt" >"$TESTTMP/rot.out" 2>&1 &
	BGPID=$!
	sleep 1
	t0=$(ms)
	cert_put api api2
	wait_until 5 serves_serial api.example.com 2001
	dt=$(($(ms) - t0))
	echo "rotation: new serial served after $dt ms" >&3
	# (how fast is bench/tls-bench.sh's to say, not a test's)
	sleep 1
	touch "$TESTTMP/rot.stop"
	wait "$BGPID"
	BGPID=
	cat "$TESTTMP/rot.out"
	[[ "$(head -n 1 "$TESTTMP/rot.out")" =~ ^ok\ [1-9][0-9]*\ failed\ 0$ ]]
	[ "$(worker_pid)" = "$w0" ]
	# the default (TLS_DEFAULT=api) followed, through its own file
	[ "$(served none)" = "CN=api.example.com 2001 " ]
}

@test "https: over HTTP/2 too, a certificate rotated goes live, same worker, no request failed" {
	need_h2
	local w0 t0 dt n
	w0=$(worker_pid)
	h2_client api.example.com /r2 "$TESTTMP/h2.stop" >"$TESTTMP/h2.out" &
	BGPID=$!
	wait_until 5 test -s "$TESTTMP/h2.out"
	t0=$(ms)
	cert_put api api4
	wait_until 5 serves_serial_h2 api.example.com 2002
	dt=$(($(ms) - t0))
	echo "rotation: new serial served over h2 after $dt ms" >&3
	# (how fast is bench/tls-bench.sh's to say, not a test's)
	# (requests go on after it)
	n=$(wc -l <"$TESTTMP/h2.out")
	wait_until 5 eval '[ "$(wc -l <"$TESTTMP/h2.out")" -gt "$n" ]'
	touch "$TESTTMP/h2.stop"
	wait "$BGPID"
	BGPID=
	# every request over h2, to its route, none failed
	[ "$(sort -u "$TESTTMP/h2.out")" = "api /r2 2 200" ]
	[ "$(worker_pid)" = "$w0" ]
	[ "$(served none)" = "CN=api.example.com 2002 " ]
}

@test "https: key and certificate in either order: the old pair serves until both match, said once" {
	local w0 n
	w0=$(worker_pid)
	n=$(grep -c "/tls/api/" "$TESTTMP/lb.err" || :)
	# the key first: it is not the serving certificate's
	etcd-put /tls/api/key - <"$P/api3.key"
	sleep 0.5
	[ "$(served api.example.com)" = "CN=api.example.com 2002 " ]
	etcd-put /tls/api/cert - <"$P/api3.crt"
	wait_until 5 serves_serial api.example.com 3001
	[ "$(grep -c "/tls/api/" "$TESTTMP/lb.err")" -eq $((n + 1)) ]
	grep -q "^hap-certs: /tls/api/key: the key is not the certificate's.*; the previous pair keeps serving$" "$TESTTMP/lb.err"
	[ "$(worker_pid)" = "$w0" ]
}

@test "https: a certificate deleted: its hosts get the default, its file is gone, no reload" {
	local w0
	w0=$(worker_pid)
	[ -f "$EASY_LB_RUN/tls/crt/wild.pem" ]
	etcd-put -d -p /tls/wild/
	wait_until 5 serves_serial www.example.com 3001
	[ ! -e "$EASY_LB_RUN/tls/crt/wild.pem" ]
	[ "$(worker_pid)" = "$w0" ]
	refute grep -q wild "$EASY_LB_RUN/tls/crt-list"
}

@test "https: garbage and a key that is not the certificate's are skipped, named; the others serve on" {
	local w0
	w0=$(worker_pid)
	echo "not a certificate" | etcd-put /tls/junk/cert -
	etcd-put /tls/junk/key - <"$P/org.key"
	etcd-put /tls/mix/cert - <"$P/org.crt"
	etcd-put /tls/mix/key - <"$P/wild.key"
	etcd-put /tls/bad.name!/cert - <"$P/org.crt"
	wait_until 5 grep -q "^hap-certs: /tls/mix/key: the key is not the certificate's.*; skipped$" "$TESTTMP/lb.err"
	wait_until 5 grep -q "^hap-certs: /tls/junk/cert: not a PEM certificate.*; skipped$" "$TESTTMP/lb.err"
	grep -q "^hap-certs: /tls/bad.name!/cert: not a certificate name easy-lb accepts" "$TESTTMP/lb.err"
	[ ! -e "$EASY_LB_RUN/tls/crt/junk.pem" ]
	[ ! -e "$EASY_LB_RUN/tls/crt/mix.pem" ]
	[ "$(served api.example.com)" = "CN=api.example.com 3001 " ]
	[ "$(https api.example.com /still)" = "api /still" ]
	[ "$(worker_pid)" = "$w0" ]
	etcd-put -d -p /tls/junk/
	etcd-put -d -p /tls/mix/
	etcd-put -d -p /tls/bad.name!/
}

@test "https: an expired certificate, and one that expires within 14 days, serve with a warning naming key and date" {
	cert_put old old
	cert_put soon soon
	wait_until 5 serves_serial old.example.com 4001
	wait_until 5 serves_serial soon.example.com 4002
	grep -qx "hap-certs: /tls/old/cert: expired 2020-02-01 00:00 UTC; served" "$TESTTMP/lb.err"
	grep -q "^hap-certs: /tls/soon/cert: expires $(date -u -d '+5 days' +%Y-%m-%d) [0-9:]* UTC, in [45] days; served$" "$TESTTMP/lb.err"
}

@test "https: no private key byte in haproxy.cfg, the log or a command line; key files are 600" {
	local n k p
	for n in api3 old soon; do
		# a line of the key's base64, as a needle
		k=$(sed -n 5p "$P/$n.key")
		[ -n "$k" ]
		refute grep -qF -- "$k" "$EASY_LB_RUN/haproxy.cfg" "$TESTTMP/lb.err"
		for p in $(lb_procs); do
			refute grep -qaF -- "$k" "/proc/$p/cmdline"
		done
	done
	[ "$(stat -c %a "$EASY_LB_RUN/tls")" = 700 ]
	[ "$(stat -c %a "$EASY_LB_RUN/tls/default.pem")" = 600 ]
	for p in "$EASY_LB_RUN"/tls/crt/*.pem; do
		[ "$(stat -c %a "$p")" = 600 ]
	done
}

@test "https: the last certificate deleted closes the TLS port (a reload); the balancer serves HTTP on" {
	etcd-put -d -p /tls/
	wait_until 10 bash -c "! grep -q ssl '$EASY_LB_RUN/haproxy.cfg'"
	wait_until 5 bash -c "! curl -s -o /dev/null --max-time 2 https://127.0.0.1:$LB_TLS_PORT/"
	[ -z "$(ls -A "$EASY_LB_RUN/tls/crt")" ]
	[ ! -e "$EASY_LB_RUN/tls/default.pem" ]
	# and no redirect to a port that is closed
	[ "$(http api.example.com /back)" = "api /back" ]
	lb_stop
}

@test "https: with TLS_PREFIX unreadable to the balancer's user, it works as without HTTPS" {
	local run=$TESTTMP/run-noread port tport url
	etcd_start auth
	url=$ETCD_URL_auth
	export ETCDCTL_API=3
	etcdctl() { env -u ETCDCTL_ENDPOINTS etcdctl "$@"; }
	etcdctl --endpoints "$url" user add root:rootpw >/dev/null
	etcdctl --endpoints "$url" role add root >/dev/null
	etcdctl --endpoints "$url" user grant-role root root >/dev/null
	etcdctl --endpoints "$url" user add lb:lbpw >/dev/null
	etcdctl --endpoints "$url" role add lb >/dev/null
	etcdctl --endpoints "$url" role grant-permission lb --prefix=true read /services/ >/dev/null
	etcdctl --endpoints "$url" user grant-role lb lb >/dev/null
	etcdctl --endpoints "$url" auth enable >/dev/null
	etcd-put -e "$url" --user root:rootpw /services/api/upstream/a1 "127.0.0.1:$BACKEND_PORT_api"
	etcd-put -e "$url" --user root:rootpw /tls/api/cert - <"$P/api.crt"
	etcd-put -e "$url" --user root:rootpw /tls/api/key - <"$P/api.key"
	port=$(free_port)
	tport=$(free_port)
	mkdir -p "$run"
	EASY_LB_RUN=$run LB_PORT=$port LB_TLS_PORT=$tport ETCDCTL_ENDPOINTS=$url \
		ETCDCTL_USER=lb:lbpw "$REPO/share/easy-lb/boot.sh" 2>"$TESTTMP/lb-noread.err" &
	BGPID=$!
	wait_until 20 grep -q "^hap-certs: the certificates' records ended: HTTPS is off$" "$TESTTMP/lb-noread.err"
	wait_until 10 eval '[ "$(curl -s "http://127.0.0.1:$port/api/x")" = "api /api/x" ]'
	grep -q "^etcd-watch: /tls/: $url: HTTP 403: .*permission denied" "$TESTTMP/lb-noread.err"
	refute grep -q ssl "$run/haproxy.cfg"
	run_split curl -s -o /dev/null --max-time 2 "https://127.0.0.1:$tport/"
	[ "$status" -eq 7 ]
	# and the services go on changing
	etcd-put -e "$url" --user root:rootpw /services/api/location /v2
	wait_until 10 eval '[ "$(curl -s "http://127.0.0.1:$port/v2/x")" = "api /v2/x" ]'
}
