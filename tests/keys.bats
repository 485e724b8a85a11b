#!/usr/bin/env bats
# A service's keys beyond its upstreams, hosts and location, each a row
# of easy-lb's key schema (lib/easylb/schema.c): check, strip,
# header/<name>, redirect and sticky, through the real balancer (boot.sh, the
# shipped template, a real etcd and haproxy) and tests/hap/echo.py
# backends that answer their name, the path and the headers they got.
# Bad values are skipped with a warning naming the key; the file haproxy
# gets stays valid and the other services are served.

load helper

setup_file() {
	etcd_setup_file
	export LB_PORT LB_BIND=127.0.0.1 DEBOUNCE_MS=50 EASY_LB_RUN="$TESTTMP/run"
	LB_PORT=$(free_port)
	lb_start
}

teardown_file() {
	lb_stop
	backends_stop
	etcd_teardown_file
}

# echo_start NAME: tests/hap/echo.py answering NAME on port ECHO_<NAME>;
# its health check answers what $TESTTMP/NAME.health says (200 without).
echo_start() {
	local p
	p=$(free_port)
	python3 "$REPO/tests/hap/echo.py" "$1" "$p" "$TESTTMP" >/dev/null 2>&1 &
	echo "$!" >>"$TESTTMP/backend.pids"
	wait_until 10 curl -sf -o /dev/null "http://127.0.0.1:$p/"
	printf -v "ECHO_$1" '%s' "$p"
}

# seen PATH N: the names of the backends that answered N requests for
# PATH, each once, sorted.
seen() {
	local i
	for i in $(seq 1 "$2"); do
		curl -s "$(LB)$1" | head -n 1 | cut -d ' ' -f 1
	done | sort -u | tr '\n' ' '
}

# seen_is PATH N WANT: seen PATH N is WANT.
seen_is() { [ "$(seen "$1" "$2")" = "$3" ]; }

# code_is PATH CODE: a request for PATH is answered CODE.
code_is() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$(LB)$1")" = "$2" ]; }

# cfg_has LINE: the installed configuration holds LINE.
cfg_has() { grep -qxF -- "$1" "$EASY_LB_RUN/haproxy.cfg"; }

@test "check: a server whose HTTP check fails is taken out, and put back once it passes again" {
	echo_start hca
	echo_start hcb
	etcd-put /services/hc/check /health
	etcd-put /services/hc/upstream/a "127.0.0.1:$ECHO_hca inter 200ms fall 2 rise 2"
	etcd-put /services/hc/upstream/b "127.0.0.1:$ECHO_hcb inter 200ms fall 2 rise 2"
	wait_until 20 cfg_has "    option httpchk GET /health"
	cfg_has "    http-check expect rstatus ^[23]"
	wait_until 20 seen_is /hc/ 8 "hca hcb "
	echo 500 >"$TESTTMP/hcb.health"
	wait_until 10 seen_is /hc/ 20 "hca "
	# a 3xx is healthy too
	echo 302 >"$TESTTMP/hcb.health"
	wait_until 10 seen_is /hc/ 8 "hca hcb "
	refute grep -q "/services/hc/" "$TESTTMP/lb.err"
	# without the key, a TCP connect again: the failing answer no longer
	# counts
	echo 500 >"$TESTTMP/hcb.health"
	etcd-put -d /services/hc/check
	wait_until 20 bash -c "! grep -q httpchk '$EASY_LB_RUN/haproxy.cfg'"
	wait_until 10 seen_is /hc/ 8 "hca hcb "
}

@test "strip: the location is stripped before the request goes to a server; false keeps it" {
	echo_start st
	etcd-put /services/st/location /api
	etcd-put /services/st/strip true
	etcd-put /services/st/upstream/a "127.0.0.1:$ECHO_st"
	# (live once the reload that gives it its backend is done)
	wait_until 20 answers /api/ st
	cfg_has "    http-request set-path / if { path /api }"
	run_split curl -s "$(LB)/api/users?x=1"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "st /users?x=1" ]
	[ "$stderr" = "" ]
	run_split curl -s "$(LB)/api"
	[ "${lines[0]}" = "st /" ]
	run_split curl -s "$(LB)/api/"
	[ "${lines[0]}" = "st /" ]
	# routed by the same prefix, not below it: left as it is
	run_split curl -s "$(LB)/apix"
	[ "${lines[0]}" = "st /apix" ]
	etcd-put /services/st/strip false
	wait_until 20 bash -c "[[ \"\$(curl -s '$(LB)/api/users')\" == 'st /api/users'* ]]"
	refute grep -q set-path "$EASY_LB_RUN/haproxy.cfg"
}

@test "header/<name>: the header arrives as set, '%', '\$', quotes and backslashes as they are" {
	echo_start hd
	etcd-put /services/hd/header/X-Env 'prod 100% "a" $HOME \x'
	etcd-put /services/hd/header/x-tenant blue
	etcd-put /services/hd/upstream/a "127.0.0.1:$ECHO_hd"
	wait_until 20 answers /hd/ hd
	run_split curl -s -H 'X-Env: forged' "$(LB)/hd/"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	# (haproxy hands header names on in lowercase)
	grep -qxF 'x-env: prod 100% "a" $HOME \x' <<<"$output"
	grep -qxF 'x-tenant: blue' <<<"$output"
	# set, not added: the client's own is replaced
	refute grep -q forged <<<"$output"
}

@test "redirect: 301 for GET and HEAD, 308 for the others; a URL ending with / keeps the path and query; no upstream needed" {
	etcd-put /services/moved/redirect https://new.example.com/
	etcd-put /services/page/redirect 'https://new.example.com/page?from=old%20site'
	# (live once the reloads that give them their backends are done: the
	# file is installed before that)
	wait_until 20 code_is /moved/ 301
	wait_until 20 code_is /page/ 301
	run_split curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$(LB)/moved/a/b?q=1"
	[ "$status" -eq 0 ]
	[ "$output" = "301 https://new.example.com/moved/a/b?q=1" ]
	[ "$stderr" = "" ]
	run_split curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -X POST "$(LB)/moved/form"
	[ "$output" = "308 https://new.example.com/moved/form" ]
	run_split curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -I "$(LB)/page/x"
	[ "$output" = "301 https://new.example.com/page?from=old%20site" ]
	run_split curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -X DELETE "$(LB)/page/x"
	[ "$output" = "308 https://new.example.com/page?from=old%20site" ]
}

# fnv NAME: the cookie value of instance NAME (FNV-1a, 64 bits, hex).
fnv() {
	python3 -c 'import sys
h = 14695981039346656037
for b in sys.argv[1].encode():
    h = ((h ^ b) * 1099511628211) % (1 << 64)
print("%016x" % h)' "$1"
}

# as_client PATH: the name of the backend that answered a request for
# PATH made with the cookie jar $TESTTMP/jar.
as_client() {
	curl -s -b "$TESTTMP/jar" -c "$TESTTMP/jar" "$(LB)$1" | head -n 1 | cut -d ' ' -f 1
}

client_is() { [ "$(as_client "$1")" = "$2" ]; }

@test "sticky: a client keeps its server 100 times out of 100, and moves when that server goes" {
	local first other i
	echo_start ska
	echo_start skb
	etcd-put /services/sk/sticky EASYLB
	etcd-put /services/sk/upstream/a "127.0.0.1:$ECHO_ska"
	etcd-put /services/sk/upstream/b "127.0.0.1:$ECHO_skb"
	wait_until 20 seen_is /sk/ 8 "ska skb "
	cfg_has "    cookie EASYLB insert indirect nocache httponly"
	cfg_has "    server a 127.0.0.1:$ECHO_ska check cookie $(fnv a)"
	cfg_has "    server b 127.0.0.1:$ECHO_skb check cookie $(fnv b)"
	rm -f "$TESTTMP/jar"
	first=$(as_client /sk/)
	for i in $(seq 1 100); do
		[ "$(as_client /sk/)" = "$first" ]
	done
	grep -q "EASYLB	$(fnv "${first#sk}")$" "$TESTTMP/jar"
	# its server goes: the client moves to the other, and stays there
	other=skb
	[ "$first" = skb ] && other=ska
	etcd-put -d "/services/sk/upstream/${first#sk}"
	wait_until 20 bash -c "! grep -q 'cookie $(fnv "${first#sk}")' '$EASY_LB_RUN/haproxy.cfg'"
	wait_until 20 client_is /sk/ "$other"
	for i in $(seq 1 100); do
		[ "$(as_client /sk/)" = "$other" ]
	done
	grep -q "EASYLB	$(fnv "${other#sk}")$" "$TESTTMP/jar"
}

# tcp_start NAME: tests/hap/tcpecho.py answering "NAME LINE" on port
# TCP_<NAME>.
tcp_start() {
	local p
	p=$(free_port)
	python3 "$REPO/tests/hap/tcpecho.py" "$1" "$p" >/dev/null 2>&1 &
	echo "$!" >>"$TESTTMP/backend.pids"
	wait_until 10 python3 "$REPO/tests/hap/tcpclient.py" "$p" x
	printf -v "TCP_$1" '%s' "$p"
}

# tcp_says PORT WANT: a new connection to the balancer's PORT answers
# "hello" with WANT.
tcp_says() {
	[ "$(python3 "$REPO/tests/hap/tcpclient.py" "$1" hello 2>/dev/null)" = "$2" ]
}

# tcp_seen PORT N: the backends that answered N new connections, sorted.
tcp_seen() {
	local i
	for i in $(seq 1 "$2"); do
		python3 "$REPO/tests/hap/tcpclient.py" "$1" hello 2>/dev/null | cut -d ' ' -f 1
	done | sort -u | tr '\n' ' '
}
tcp_seen_is() { [ "$(tcp_seen "$1" "$2")" = "$3" ]; }

# tcp_seen_one_of PORT A B: 4 new connections answered all by one
# backend, A's or B's.
tcp_seen_one_of() {
	local s
	s=$(tcp_seen "$1" 4)
	[ "$s" = "$2" ] || [ "$s" = "$3" ]
}

# reloads_past N: the balancer has said more than N reloads.
reloads_past() { [ "$(grep -c "reloaded (worker" "$TESTTMP/lb.err")" -gt "$1" ]; }

@test "TCP service: bytes both ways on its own port; a server added at run time, a reload, one connection kept across both" {
	local port kpid n
	port=$(free_port)
	tcp_start tca
	tcp_start tcb
	etcd-put /services/tc/mode tcp
	etcd-put /services/tc/port "$port"
	etcd-put /services/tc/upstream/a "127.0.0.1:$TCP_tca"
	wait_until 20 tcp_says "$port" "tca hello"
	cfg_has "frontend easy-lb-tcp-tc"
	cfg_has "    bind 127.0.0.1:$port"
	# a connection that stays open through what follows
	python3 "$REPO/tests/hap/tcpclient.py" "$port" one "$TESTTMP/go" two \
		>"$TESTTMP/kept.out" 2>&1 &
	kpid=$!
	wait_until 5 grep -qx "tca one" "$TESTTMP/kept.out"
	# a second upstream: through the runtime API
	n=$(grep -c "runtime: +1 -0 ~0 servers" "$TESTTMP/lb.err" || :)
	etcd-put /services/tc/upstream/b "127.0.0.1:$TCP_tcb"
	wait_until 20 tcp_seen_is "$port" 8 "tca tcb "
	[ "$(grep -c "runtime: +1 -0 ~0 servers" "$TESTTMP/lb.err")" -eq $((n + 1)) ]
	# a reload (a backend option)
	n=$(grep -c "reloaded (worker" "$TESTTMP/lb.err" || :)
	etcd-put /services/tc/backend/balance source
	wait_until 20 cfg_has "    balance source"
	wait_until 20 reloads_past "$n"
	# (balance source: one server for this client, either)
	wait_until 20 tcp_seen_one_of "$port" "tca " "tcb "
	# the kept connection went on through both
	touch "$TESTTMP/go"
	wait "$kpid"
	[ "$(cat "$TESTTMP/kept.out")" = "tca one
tca two" ]
}

@test "TCP services: a port another service or the HTTP listener has, a missing or bad port, a mode neither http nor tcp, HTTP keys on TCP: skipped, named" {
	local port v
	port=$(free_port)
	tcp_start tcz
	etcd-put /services/tz1/mode tcp
	etcd-put /services/tz1/port "$port"
	etcd-put /services/tz1/upstream/a "127.0.0.1:$TCP_tcz"
	etcd-put /services/tz1/location /tz1
	etcd-put /services/tz1/header/X-A b
	etcd-put /services/tz2/mode tcp
	etcd-put /services/tz2/port "$port"
	etcd-put /services/tz2/upstream/a "127.0.0.1:$TCP_tcz"
	etcd-put /services/tz3/mode tcp
	etcd-put /services/tz3/port "$LB_PORT"
	etcd-put /services/tz3/upstream/a "127.0.0.1:$TCP_tcz"
	etcd-put /services/tz4/mode tcp
	etcd-put /services/tz4/upstream/a "127.0.0.1:$TCP_tcz"
	etcd-put /services/tz5/mode tcp
	etcd-put /services/tz5/port 65536
	etcd-put /services/tz5/upstream/a "127.0.0.1:$TCP_tcz"
	etcd-put /services/tz6/mode udp
	etcd-put /services/tz6/upstream/a "127.0.0.1:$TCP_tcz"
	wait_until 20 tcp_says "$port" "tcz hello"
	wait_until 10 grep -q "/services/tz6/mode" "$TESTTMP/lb.err"
	for v in \
		"/services/tz1/location: for an HTTP service only (this one is mode tcp); skipped" \
		"/services/tz1/header/X-A: for an HTTP service only (this one is mode tcp); skipped" \
		"/services/tz2/port: port $port is /services/tz1/port's; service skipped" \
		"/services/tz3/port: port $LB_PORT is LB_PORT's; service skipped" \
		"/services/tz4/port: a TCP service needs a port; service skipped" \
		'/services/tz5/port: "65536" is not a port (1 to 65535); service skipped' \
		'/services/tz6/mode: "udp" is not http or tcp; service skipped'; do
		grep -qF "tmpl: warning: $v" "$TESTTMP/lb.err"
	done
	# no route for a TCP service; the HTTP port still HTTP
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$(LB)/tz1/")" = 503 ]
	refute grep -q "easy-lb-tcp-tz[2-6]\|^backend tz[2-6]$" "$EASY_LB_RUN/haproxy.cfg"
}

@test "hostile values: each skipped with a warning naming its key, the service served without it, the file valid" {
	local v
	echo_start hx
	etcd-put /services/hx/upstream/a "127.0.0.1:$ECHO_hx"
	etcd-put /services/hx/check '/health check'
	etcd-put /services/hx/strip TRUE
	etcd-put /services/hx/header/X-Inject $'a\r\nX-Evil: 1'
	etcd-put /services/hx/header/Transfer-Encoding chunked
	etcd-put /services/hx/header/Connection close
	etcd-put /services/hx/header/host evil.example.com
	etcd-put /services/hx/header/X-Quote "it's"
	etcd-put "/services/hx/header/X-Bad"$'\r' 1
	etcd-put /services/hx/header/X:Colon 1
	etcd-put /services/hx/redirect 'https://a.example.com/ x'
	etcd-put /services/hx/sticky 'S; Path=/'
	etcd-put /services/hx2/redirect 'javascript:alert(1)'
	etcd-put /services/hx3/redirect $'https://a.example.com/\r\nSet-Cookie: x=1'
	wait_until 20 answers /hx/ hx
	wait_until 10 grep -q "/services/hx3/redirect" "$TESTTMP/lb.err"
	for v in \
		'/services/hx/check: check "/health check" is not a URL path; skipped' \
		'/services/hx/strip: "TRUE" is not true or false; skipped' \
		'/services/hx/header/X-Inject: "a\r\nX-Evil: 1" is not a header value easy-lb takes (printable ASCII without '"'"', at most 1024); skipped' \
		'/services/hx/header/Transfer-Encoding: header "Transfer-Encoding" is a hop-by-hop header; skipped' \
		'/services/hx/header/Connection: header "Connection" is a hop-by-hop header; skipped' \
		'/services/hx/header/host: header "host" is not one a service may set; skipped' \
		'/services/hx/header/X-Quote: "it'"'"'s" is not a header value easy-lb takes (printable ASCII without '"'"', at most 1024); skipped' \
		'/services/hx/header/X:Colon: header "X:Colon" is not a token (letters, digits and !$%&*+-.^_`|~, at most 64); skipped' \
		'/services/hx/sticky: cookie name "S; Path=/" is not letters, digits, '"'"'-'"'"' and '"'"'_'"'"' (at most 64); skipped' \
		'/services/hx/redirect: "https://a.example.com/ x" is not an http or https URL (no blank, quote, backslash or '"'"'#'"'"'); skipped' \
		'/services/hx2/redirect: "javascript:alert(1)" is not an http or https URL (no blank, quote, backslash or '"'"'#'"'"'); service skipped' \
		'/services/hx3/redirect: "https://a.example.com/\r\nSet-Cookie: x=1" is not an http or https URL (no blank, quote, backslash or '"'"'#'"'"'); service skipped'; do
		grep -qF "tmpl: warning: $v" "$TESTTMP/lb.err"
	done
	# the control character in a key's name: named escaped
	grep -qF 'tmpl: warning: /services/hx/header/X-Bad\x0d: header "X-Bad\r" is not a token' "$TESTTMP/lb.err"
	# served without them: nothing of theirs in its backend, and haproxy
	# took the file (the service answers); hx2 and hx3, with no upstream
	# and no good redirect, are left out
	run_split curl -s "$(LB)/hx/"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "hx /hx/" ]
	# (as rendered: the running haproxy may serve it from a spare)
	awk '/^backend hx$/ { p = 1 } p && (/^$/ || /^@/) { exit } p' \
		"$EASY_LB_RUN/haproxy.cfg.new" >"$TESTTMP/hx.cfg"
	[ "$(cat "$TESTTMP/hx.cfg")" = "backend hx
    balance roundrobin
    server a 127.0.0.1:$ECHO_hx check" ]
	refute grep -q "^backend hx[23]$" "$EASY_LB_RUN/haproxy.cfg.new"
}
