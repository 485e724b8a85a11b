#!/usr/bin/env bats
# Hostile input catalogue (issue 7): every case ends in a clear error or a
# skipped entry with a warning naming the key, never in a broken or
# hijacked configuration.  tests/hostile/README.md lists the cases.
# Balancer cases render the shipped template with tmpl on the object
# etcd-get -p prints (through a real etcd where the etcd tools matter) and
# check the result with haproxy -c.

load helper

TMPL="$BATS_TEST_DIRNAME/../share/easy-lb/haproxy.cfg.tmpl"

setup_file() {
	etcd_setup_file
}

teardown_file() {
	etcd_teardown_file
}

setup() {
	export EASY_LB_RUN="$BATS_TEST_TMPDIR/run"
	mkdir -p "$EASY_LB_RUN"
	export ETCD_PREFIX=/services
}

teardown() {
	if [ -n "${FAKE_PID:-}" ]; then
		kill "$FAKE_PID" 2>/dev/null || true
		wait "$FAKE_PID" 2>/dev/null || true
	fi
}

# render JSON: render the shipped template on JSON; $output, $stderr.
render() {
	printf '%s' "$1" >"$BATS_TEST_TMPDIR/data.json"
	run_split tmpl -d "$BATS_TEST_TMPDIR/data.json" "$TMPL"
}

# render_etcd PREFIX: the same on what etcd-get -p PREFIX prints.
render_etcd() {
	etcd-get -p "$1" >"$BATS_TEST_TMPDIR/data.json" \
		2>"$BATS_TEST_TMPDIR/get.err"
	ETCD_PREFIX=${1%/} run_split tmpl -d "$BATS_TEST_TMPDIR/data.json" "$TMPL"
}

# valid: the rendered $output is a configuration haproxy accepts, and its
# map blocks are well formed (hap-reload --check splits them off).
valid() {
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/haproxy.cfg.new"
	hap-reload --check -f "$EASY_LB_RUN/haproxy.cfg" "$BATS_TEST_TMPDIR/haproxy.cfg.new" \
		>"$BATS_TEST_TMPDIR/hc.out" 2>&1 || {
		cat "$BATS_TEST_TMPDIR/hc.out" >&2
		return 1
	}
}

# ok_render: exit 0, a valid file, and (optionally) the backend names
# given in order are the only services.
services() {
	printf '%s\n' "$output" | sed -n 's/^backend \(.*\)/\1/p' |
		grep -v '^easy-lb-' | tr '\n' ' '
}

# Lines of the file that are not the template's own (server, use_backend,
# backend directives): the only place input can reach.
servers() {
	# (the services', not easy-lb-status's: HEALTH_URI)
	printf '%s\n' "$output" | sed -n '/^    server status abns@/d; s/^    server //p'
}

# fake_etcd MODE: start tests/hostile/fake-etcd.py, set FAKE_URL.
fake_etcd() {
	local p
	p=$(free_port)
	python3 "$BATS_TEST_DIRNAME/hostile/fake-etcd.py" "$p" "$1" &
	FAKE_PID=$!
	FAKE_URL=http://127.0.0.1:$p
	wait_until 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $p)).close()"
}

W='tmpl: warning: '
A='"/services/ok/upstream/a":"127.0.0.1:8080"'

@test "H01 newline in a value that appends haproxy directives: skipped" {
	render "{$A,\"/services/web/upstream/a\":\"127.0.0.1:80\\n    http-request deny\"}"
	[ "$status" -eq 0 ]
	# the newline stays inside the first word, which is then no host:port
	[ "$stderr" = "${W}/services/web/upstream/a: \"127.0.0.1:80\\n\" is not host:port (IPv6 in brackets); skipped" ]
	[ "$(services)" = "ok " ]
	refute grep -q '^    http-request deny$' <<<"$output"
	valid
}

@test "H02 newline without blanks in a value: skipped, no second line" {
	render "{$A,\"/services/web/upstream/a\":\"127.0.0.1:80\\nbackend evil\"}"
	[ "$status" -eq 0 ]
	[ "$stderr" = "${W}/services/web/upstream/a: \"127.0.0.1:80\\nbackend\" is not host:port (IPv6 in brackets); skipped" ]
	[ "$(services)" = "ok " ]
	valid
}

@test "H03 a value ending in a newline (echo | etcd-put k -) skips the entry only" {
	render "{$A,\"/services/web/upstream/a\":\"127.0.0.1:80\\n\"}"
	[ "$status" -eq 0 ]
	[[ "$stderr" == "${W}/services/web/upstream/a: "*"skipped" ]]
	[ "$(services)" = "ok " ]
	valid
}

@test "H04 trailing newline in location, balance, option values and names: entry skipped" {
	render "{$A,\"/services/web/upstream/a\":\"127.0.0.1:80\",\"/services/web/location\":\"/x\\n\"}"
	[ "$status" -eq 0 ]
	[ "$stderr" = "${W}/services/web/location: location \"/x\\n\" is not a URL path; service skipped" ]
	valid
}

@test "H05 carriage return in a value: skipped" {
	render "{$A,\"/services/web/upstream/a\":\"127.0.0.1:80\\rserver x 1.2.3.4:1\"}"
	[ "$status" -eq 0 ]
	[[ "$stderr" == "${W}/services/web/upstream/a: "*"skipped" ]]
	[ "$(services)" = "ok " ]
	[ "$(servers)" = "a 127.0.0.1:8080 check" ]
	valid
}

@test "H06 NUL in a value, through etcd: skipped" {
	printf '127.0.0.1:80\0server x 1.2.3.4:1' | etcd-put "$(K services/web/upstream/a)" -
	etcd-put "$(K services/ok/upstream/a)" 127.0.0.1:8080
	render_etcd "$(K services/)"
	[ "$status" -eq 0 ]
	[ ! -s "$BATS_TEST_TMPDIR/get.err" ]
	# (the address is the value's first word: jq 1.6's split stops at
	# the NUL, so there it is the whole value)
	local w="${W}$(K services/web/upstream/a): \"127.0.0.1:80\\u0000server" rest='" is not host:port (IPv6 in brackets); skipped'
	[ "$stderr" = "$w$rest" ] || [ "$stderr" = "$w x 1.2.3.4:1$rest" ]
	[ "$(servers)" = "a 127.0.0.1:8080 check" ]
	valid
}

@test "H07 newline in an instance name, through etcd: skipped with the key escaped" {
	etcd-put "$(K services/web/upstream/a)"$'\n''server evil 1.2.3.4:1' 127.0.0.1:80
	etcd-put "$(K services/ok/upstream/a)" 127.0.0.1:8080
	render_etcd "$(K services/)"
	[ "$status" -eq 0 ]
	[ "$stderr" = "${W}$(K services/web/upstream/a)\\x0aserver evil 1.2.3.4:1: instance name is not a valid haproxy name; skipped" ]
	[ "$(servers)" = "a 127.0.0.1:8080 check" ]
	valid
}

@test "H08 CR in a service name: skipped" {
	render "{$A,\"/services/w\\reb/upstream/a\":\"127.0.0.1:80\"}"
	[ "$status" -eq 0 ]
	[ "$stderr" = "${W}/services/w\\x0deb: service name is not a valid haproxy name; skipped" ]
	[ "$(services)" = "ok " ]
	valid
}

@test "H08b NUL in a service name: skipped, the warning shows the whole key" {
	render "{$A,\"/services/w\\u0000b/upstream/a\":\"127.0.0.1:80\"}"
	[ "$status" -eq 0 ]
	[ "$stderr" = "${W}/services/w\\x00b: service name is not a valid haproxy name; skipped" ]
	[ "$(services)" = "ok " ]
	valid
}

@test "H09 a value that tries to add a frontend through options: skipped" {
	render "{$A,\"/services/web/upstream/a\":\"127.0.0.1:80 check frontend evil bind *:22\"}"
	[ "$status" -eq 0 ]
	[ "$stderr" = "${W}/services/web/upstream/a: server options \"check frontend evil bind *:22\" are not ones easy-lb accepts; skipped" ]
	[[ "$output" != *evil* ]]
	valid
}

@test "H10 a 1 MB value, through etcd: skipped, the render stays small" {
	head -c 1048576 /dev/zero | tr '\0' 'x' | etcd-put "$(K services/web/upstream/a)" -
	etcd-put "$(K services/ok/upstream/a)" 127.0.0.1:8080
	render_etcd "$(K services/)"
	[ "$status" -eq 0 ]
	[[ "$stderr" == "${W}$(K services/web/upstream/a): \"xxxx"*"is not host:port (IPv6 in brackets); skipped" ]]
	# (the template's own lines, its spare backends and routing: 3 KB)
	[ "${#output}" -lt 6144 ]
	[ "$(servers)" = "a 127.0.0.1:8080 check" ]
	valid
}

@test "H11 a 10k-character instance name, through etcd: skipped" {
	local n
	n=$(head -c 10000 /dev/zero | tr '\0' 'a')
	etcd-put "$(K services/web/upstream/$n)" 127.0.0.1:80
	etcd-put "$(K services/ok/upstream/a)" 127.0.0.1:8080
	render_etcd "$(K services/)"
	[ "$status" -eq 0 ]
	[ "$stderr" = "${W}$(K services/web/upstream/$n): instance name is not a valid haproxy name; skipped" ]
	[ "$(servers)" = "a 127.0.0.1:8080 check" ]
	valid
}

@test "H12 a 10k-character service name: skipped" {
	local n
	n=$(head -c 10000 /dev/zero | tr '\0' 's')
	render "{$A,\"/services/$n/upstream/a\":\"127.0.0.1:80\"}"
	[ "$status" -eq 0 ]
	[ "$stderr" = "${W}/services/$n: service name is not a valid haproxy name; skipped" ]
	[ "$(services)" = "ok " ]
	valid
}

@test "H13 non-UTF-8 bytes in a value and a key: etcd-get leaves them out, naming the key" {
	printf '127.0.0.1:80\377' | etcd-put "$(K services/web/upstream/a)" -
	etcd-put "$(K services/web/upstream/b)"$'\xfe' 127.0.0.1:81
	etcd-put "$(K services/ok/upstream/a)" 127.0.0.1:8080
	run_split etcd-get -p "$(K services/)"
	[ "$status" -eq 0 ]
	[ "$output" = "{\"$(K services/ok/upstream/a)\":\"127.0.0.1:8080\"}" ]
	[[ "$stderr" == *"$(K services/web/upstream/a)"* ]]
	[[ "$stderr" == *"$(K services/web/upstream/b)\\xfe"* ]]
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 2 ]
	render_etcd "$(K services/)"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(servers)" = "a 127.0.0.1:8080 check" ]
	valid
}

@test "H14 a location with spaces: service skipped" {
	render "{$A,\"/services/web/upstream/a\":\"127.0.0.1:80\",\"/services/web/location\":\"/a b } or { always_true\"}"
	[ "$status" -eq 0 ]
	[ "$stderr" = "${W}/services/web/location: location \"/a b } or { always_true\" is not a URL path; service skipped" ]
	[ "$(services)" = "ok " ]
	[[ "$output" != *always_true* ]]
	valid
}

@test "H15 a location without a leading slash: service skipped" {
	render "{$A,\"/services/web/upstream/a\":\"127.0.0.1:80\",\"/services/web/location\":\"web\"}"
	[ "$status" -eq 0 ]
	[ "$stderr" = "${W}/services/web/location: location \"web\" is not a URL path; service skipped" ]
	[ "$(services)" = "ok " ]
	valid
}

@test "H15b a location with a single quote (a quote to haproxy): service skipped" {
	render "{$A,\"/services/web/upstream/a\":\"127.0.0.1:80\",\"/services/web/location\":\"/it's\"}"
	[ "$status" -eq 0 ]
	[ "$stderr" = "${W}/services/web/location: location \"/it's\" is not a URL path; service skipped" ]
	[ "$(services)" = "ok " ]
	valid
}

@test "H16 two services claiming /: the first by name wins, the other is left out" {
	render '{"/services/b/upstream/a":"127.0.0.1:81","/services/b/location":"/","/services/a/upstream/a":"127.0.0.1:80","/services/a/location":"/"}'
	[ "$status" -eq 0 ]
	[ "$stderr" = "${W}/services/b/location: / is already the location of service a; service left out" ]
	[ "$(services)" = "a " ]
	printf '%s\n' "$output" | grep -qx '/ a'
	[ "$(printf '%s\n' "$output" | grep -c ' b$')" -eq 0 ]
	valid
}

@test "H17 instance names differing only in case: two distinct servers" {
	render '{"/services/web/upstream/a":"127.0.0.1:80","/services/web/upstream/A":"127.0.0.1:81"}'
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(servers)" = $'A 127.0.0.1:81 check\na 127.0.0.1:80 check' ]
	valid
}

@test "H18 service names differing only in case: two backends, one location each" {
	render '{"/services/web/upstream/a":"127.0.0.1:80","/services/Web/upstream/a":"127.0.0.1:81"}'
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(services)" = "Web web " ]
	valid
}

@test "H19 addresses that are not host:port: skipped" {
	render '{"/services/web/upstream/a":"127.0.0.1","/services/web/upstream/b":"http://x:80","/services/web/upstream/c":"-x:80","/services/web/upstream/d":"","/services/web/upstream/e":"127.0.0.1:80"}'
	[ "$status" -eq 0 ]
	[ "$stderr" = "${W}/services/web/upstream/a: \"127.0.0.1\" is not host:port (IPv6 in brackets); skipped
${W}/services/web/upstream/b: \"http://x:80\" is not host:port (IPv6 in brackets); skipped
${W}/services/web/upstream/c: \"-x:80\" is not host:port (IPv6 in brackets); skipped
${W}/services/web/upstream/d: empty address; skipped" ]
	[ "$(servers)" = "e 127.0.0.1:80 check" ]
	valid
}

@test "H20 IPv6: bracketed accepted, bare skipped" {
	render '{"/services/web/upstream/a":"[::1]:80","/services/web/upstream/b":"::1:80","/services/web/upstream/c":"[fe80::1%eth0]:80"}'
	[ "$status" -eq 0 ]
	[ "$stderr" = "${W}/services/web/upstream/b: \"::1:80\" is not host:port (IPv6 in brackets); skipped
${W}/services/web/upstream/c: \"[fe80::1%eth0]:80\" is not host:port (IPv6 in brackets); skipped" ]
	[ "$(servers)" = "a [::1]:80 check" ]
	valid
}

@test "H21 ports out of range (0, 65536, 99999, 08): skipped" {
	render '{"/services/web/upstream/a":"127.0.0.1:0","/services/web/upstream/b":"127.0.0.1:65536","/services/web/upstream/c":"127.0.0.1:99999","/services/web/upstream/d":"127.0.0.1:08","/services/web/upstream/e":"127.0.0.1:65535"}'
	[ "$status" -eq 0 ]
	[ "$stderr" = "${W}/services/web/upstream/a: \"127.0.0.1:0\" is not host:port (IPv6 in brackets); skipped
${W}/services/web/upstream/b: \"127.0.0.1:65536\" is not host:port (IPv6 in brackets); skipped
${W}/services/web/upstream/c: \"127.0.0.1:99999\" is not host:port (IPv6 in brackets); skipped
${W}/services/web/upstream/d: \"127.0.0.1:08\" is not host:port (IPv6 in brackets); skipped" ]
	[ "$(servers)" = "e 127.0.0.1:65535 check" ]
	valid
}

@test "H22 server option values out of range or injecting: skipped" {
	render "{$A,\"/services/web/upstream/a\":\"127.0.0.1:80 weight 257\",\"/services/web/upstream/b\":\"127.0.0.1:80 port 0\",\"/services/web/upstream/c\":\"127.0.0.1:80 inter 1s;\",\"/services/web/upstream/d\":\"127.0.0.1:80 verify none ca-file /etc/shadow\"}"
	[ "$status" -eq 0 ]
	[ "$stderr" = "${W}/services/web/upstream/a: server options \"weight 257\" are not ones easy-lb accepts; skipped
${W}/services/web/upstream/b: server options \"port 0\" are not ones easy-lb accepts; skipped
${W}/services/web/upstream/c: server options \"inter 1s;\" are not ones easy-lb accepts; skipped
${W}/services/web/upstream/d: server options \"verify none ca-file /etc/shadow\" are not ones easy-lb accepts; skipped" ]
	[ "$(services)" = "ok " ]
	valid
}

@test "H23 backend option values that try to inject: skipped, the service stays" {
	render '{"/services/web/upstream/a":"127.0.0.1:80","/services/web/backend/balance":"roundrobin\n    http-request deny","/services/web/backend/option":"httpchk GET / HTTP/1.1\\r\\nHost: x","/services/web/backend/acl":"evil path /","/services/web/backend/timeout":"server 5s 6s"}'
	[ "$status" -eq 0 ]
	[ "$stderr" = "${W}/services/web/backend/acl: backend option acl \"evil path /\" is not one easy-lb accepts; skipped
${W}/services/web/backend/balance: backend option balance \"roundrobin\\n    http-request deny\" is not one easy-lb accepts; skipped
${W}/services/web/backend/option: backend option option \"httpchk GET / HTTP/1.1\\\\r\\\\nHost: x\" is not one easy-lb accepts; skipped
${W}/services/web/backend/timeout: backend option timeout \"server 5s 6s\" is not one easy-lb accepts; skipped" ]
	[ "$(services)" = "web " ]
	[[ "$output" == *$'backend web\n    balance roundrobin\n    server a 127.0.0.1:80 check'* ]]
	valid
}

@test "H24 control characters (tab, DEL, U+2028) in instance names: skipped" {
	render "{$A,\"/services/web/upstream/a\\tb\":\"127.0.0.1:80\",\"/services/web/upstream/a\\u007f\":\"127.0.0.1:80\",\"/services/web/upstream/a\\u2028\":\"127.0.0.1:80\"}"
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "$stderr" | grep -c 'instance name is not a valid haproxy name; skipped$')" -eq 3 ]
	[ "$(services)" = "ok " ]
	valid
}

@test "H25 a key exactly at the prefix, and one just past it: ignored" {
	render "{$A,\"/services\":\"127.0.0.1:1\",\"/services/\":\"x\",\"/servicesX/y/upstream/a\":\"127.0.0.1:2\",\"/services/lone\":\"127.0.0.1:3\"}"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(services)" = "ok " ]
	[ "$(servers)" = "a 127.0.0.1:8080 check" ]
	valid
}

@test "H26 reserved and invalid service names: skipped" {
	render "{$A,\"/services/easy-lb-stats/upstream/a\":\"127.0.0.1:80\",\"/services/easy-lb-none/upstream/a\":\"127.0.0.1:80\",\"/services/easy-lb-spare-1/upstream/a\":\"127.0.0.1:80\",\"/services/a b/upstream/a\":\"127.0.0.1:80\"}"
	[ "$status" -eq 0 ]
	[ "$stderr" = "${W}/services/a b: service name is not a valid haproxy name; skipped
${W}/services/easy-lb-none: service name is reserved (easy-lb-...); skipped
${W}/services/easy-lb-spare-1: service name is reserved (easy-lb-...); skipped
${W}/services/easy-lb-stats: service name is reserved (easy-lb-...); skipped" ]
	[ "$(services)" = "ok " ]
	valid
}

@test "H27 stats URI and auth with newlines or spaces from the environment" {
	HAPROXY_STATS=1 HAPROXY_STATS_URI=$'/stats\n    http-request deny' render "{$A}"
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[[ "$stderr" == "tmpl: "*"refused: value contains control character U+000A"* ]]
	HAPROXY_STATS=1 HAPROXY_STATS_AUTH='admin:pass word' render "{$A}"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	# The operator's variable is passed as is, and haproxy 2.x accepts the
	# line (it ignores the extra word): documented, not an etcd input.
	[[ "$output" == *$'\n    stats auth admin:pass word\n'* ]]
	valid
}

@test "H28 5000 services: all rendered, valid, in bounded time" {
	python3 -c 'import json; print(json.dumps({"/services/s%04d/upstream/a" % i: "127.0.0.1:%d" % (10000 + i) for i in range(5000)}))' >"$BATS_TEST_TMPDIR/data.json"
	run_split timeout 30 tmpl -d "$BATS_TEST_TMPDIR/data.json" "$TMPL"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(printf '%s\n' "$output" | grep -c '^backend s')" -eq 5000 ]
	valid
}

@test "H29 data that is not an object: a clear error, no output" {
	render '["/services/web/upstream/a","127.0.0.1:80"]'
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"runtime error: the data is not an object of etcd keys" ]]
	render '{"/services/web/upstream/a":8080}'
	[ "$status" -ne 0 ] || [[ "$stderr" == *skipped* ]]
}

@test "H30 a template that loops over nothing renders its else part" {
	printf '{{ range .none[]? }}x{{ else }}empty{{ end }}|{{ range empty }}y{{ end }}.\n' >"$BATS_TEST_TMPDIR/t"
	run_split tmpl -d /dev/null "$BATS_TEST_TMPDIR/t"
	[ "$status" -eq 0 ]
	[ "$output" = "empty|." ]
	[ "$stderr" = "" ]
}

@test "H31 a template that would emit 16 GB: stopped by --max-output, nothing written" {
	printf '{{ range range(1000000000) }}0123456789abcdef{{ end }}\n' >"$BATS_TEST_TMPDIR/t"
	run_split timeout 20 tmpl --max-output 65536 -d /dev/null -o "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/t"
	[ "$status" -eq 1 ] || [ "$status" -eq 100 ] || [ "$status" -eq 111 ]
	[ "$output" = "" ]
	[[ "$stderr" == "tmpl: "*"65536"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/out" ]
}

@test "H32 malformed JSON from a fake etcd: etcd-get fails 111, nothing on stdout" {
	fake_etcd garbage
	run_split etcd-get -e "$FAKE_URL" -p /services/
	[ "$status" -eq 111 ]
	[ "$output" = "" ]
	# (what follows our words is jq's parser's, worded by each jq)
	[[ $stderr == "etcd-get: /services/: $FAKE_URL: malformed JSON reply: "?* ]]
	[[ $stderr != *$'\n'* ]]
}

@test "H33 malformed JSON on a watch stream: etcd-watch warns and retries, writes nothing" {
	fake_etcd garbage
	run_split timeout 2 etcd-watch --rev 1 -e "$FAKE_URL" -p /services/
	[ "$status" -eq 124 ]
	[ "$output" = "" ]
	[[ "$stderr" == "etcd-watch: /services/: $FAKE_URL: malformed watch stream: "*"; retrying from revision 1"* ]]
}

@test "H34 a range reply cut mid-body: etcd-get fails 111, nothing on stdout" {
	fake_etcd cut
	run_split etcd-get -e "$FAKE_URL" -p /services/
	[ "$status" -eq 111 ]
	[ "$output" = "" ]
	[[ "$stderr" == "etcd-get: /services/: $FAKE_URL: "*"partial"* ]]
}

@test "H35 a watch stream cut mid-message: no event, retried from the same revision" {
	fake_etcd cut
	run_split timeout 2 etcd-watch --rev 1 -e "$FAKE_URL" -p /services/
	[ "$status" -eq 124 ]
	[ "$output" = "" ]
	[[ "$stderr" == "etcd-watch: /services/: $FAKE_URL: "*"; retrying from revision 1"* ]]
	[[ "$stderr" != *"revision 7"* ]]
}

@test "H36 an RS byte (0x1e) in a watch stream: a malformed-stream warning, no crash" {
	fake_etcd rs
	run_split timeout 2 etcd-watch --rev 1 -e "$FAKE_URL" -p /services/
	[ "$status" -eq 124 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"malformed watch stream"* ]]
}

@test "H37 a template that forges the engine's own requests: a runtime error, no crash" {
	printf 'a{{ ["__tmpl___block", "x", 1] | __ccall }}b\n' >"$BATS_TEST_TMPDIR/t.tmpl"
	run_split tmpl -o "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/t.tmpl" <<<'{}'
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = "tmpl: $BATS_TEST_TMPDIR/t.tmpl:1:5: runtime error: __block: no such block" ]
	[ ! -e "$BATS_TEST_TMPDIR/out" ]
	# the helper called by its jq name, a block of no template
	printf 'a{{ __each(7; "/"; null) }}b\n' >"$BATS_TEST_TMPDIR/t.tmpl"
	run_split tmpl "$BATS_TEST_TMPDIR/t.tmpl" <<<'{}'
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = "tmpl: $BATS_TEST_TMPDIR/t.tmpl:1:5: runtime error: __each: no such block" ]
	# through debug, past the engine's own helper, it is only a message
	printf 'a{{ ["__tmpl___block", -5, 1] | debug | length }}b\n' >"$BATS_TEST_TMPDIR/t.tmpl"
	run_split tmpl "$BATS_TEST_TMPDIR/t.tmpl" <<<'{}'
	[ "$status" -eq 0 ]
	[ "$output" = "a3b" ]
	[ "$stderr" = "" ]
	# the engine's own error object, forged with a position no int holds:
	# the message, at no position
	printf 'a{{ error({__tmpl: 1e300, msg: "forged"}) }}b\n' >"$BATS_TEST_TMPDIR/t.tmpl"
	run_split tmpl "$BATS_TEST_TMPDIR/t.tmpl" <<<'{}'
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = "tmpl: $BATS_TEST_TMPDIR/t.tmpl: runtime error: forged" ]
	# a request of the wrong length is no request: a debug message
	printf 'a{{ ["__tmpl_ls", "/", 1] | debug | length }}b\n' >"$BATS_TEST_TMPDIR/t.tmpl"
	run_split tmpl "$BATS_TEST_TMPDIR/t.tmpl" <<<'{}'
	[ "$status" -eq 0 ]
	[ "$output" = "a3b" ]
	[ "$stderr" = 'tmpl: warning: debug: ["__tmpl_ls","/",1]' ]
}

# Virtual hosts: a /host value that is no host name skips the service,
# named, so that it never catches another host's traffic.
@test "H38 hosts with a control character, a blank inside, a bad wildcard, 254 characters: service skipped, named" {
	local A='"/services/ok/upstream/a":"127.0.0.1:8080","/services/ok/host":"OK.example.com, *.ok.example.org"'
	local long
	long=$(printf 'a%.0s' $(seq 250)).com
	render "{$A,\"/services/c/upstream/a\":\"127.0.0.1:80\",\"/services/c/host\":\"a.com\\nbackend x\",\"/services/s/upstream/a\":\"127.0.0.1:80\",\"/services/s/host\":\"a b.com\",\"/services/w/upstream/a\":\"127.0.0.1:80\",\"/services/w/host\":\"a.*.com\",\"/services/l/upstream/a\":\"127.0.0.1:80\",\"/services/l/host\":\"$long\",\"/services/e/upstream/a\":\"127.0.0.1:80\",\"/services/e/host\":\" , \"}"
	[ "$status" -eq 0 ]
	[ "$stderr" = "${W}/services/c/host: \"a.com\\nbackend x\" is not a host name (letters, digits, '-', '.', a leading '*.'); service skipped
${W}/services/e/host: no host name; service skipped
${W}/services/l/host: \"$long\" is not a host name (letters, digits, '-', '.', a leading '*.'); service skipped
${W}/services/s/host: \"a b.com\" is not a host name (letters, digits, '-', '.', a leading '*.'); service skipped
${W}/services/w/host: \"a.*.com\" is not a host name (letters, digits, '-', '.', a leading '*.'); service skipped" ]
	[ "$(services)" = "ok " ]
	[ "$(printf '%s\n' "$output" | sed -n '/^@map /,/^@end$/p')" = "@map $EASY_LB_RUN/routes.map
ok.example.com/ ok
.ok.example.org/ ok
@end" ]
	valid
}

# Certificates: hap-certs alone, fed etcd-watch's records of /tls/ on fd
# 3 (no haproxy: nothing is put into one before it has a TLS listener).
# certs RECORDS...: run hap-certs on them; $output is what it passes on
# (an empty services stream), $stderr what it says, DIR its directory.
certs() {
	DIR=$BATS_TEST_TMPDIR/tls
	printf '%s\n' "$@" '{"type":"progress","revision":9}' >"$BATS_TEST_TMPDIR/tls.rec"
	run_split timeout 10 hap-certs --from 3 -d "$DIR" -s "$BATS_TEST_TMPDIR/none.sock" \
		3<"$BATS_TEST_TMPDIR/tls.rec" </dev/null
}

@test "H39 certificates: garbage, 300 kB, bytes that are not UTF-8, a bad name: skipped, named, no file" {
	local big
	big=$(head -c 300000 /dev/zero | tr '\0' 'A')
	certs '{"type":"put","key":"/tls/g/cert","value":"-----BEGIN CERTIFICATE-----\nbm9wZQ==\n-----END CERTIFICATE-----\n","revision":5}' \
		'{"type":"put","key":"/tls/g/key","value":"x","revision":5}' \
		"{\"type\":\"put\",\"key\":\"/tls/big/cert\",\"value\":\"$big\",\"revision\":6}" \
		'{"type":"put","key":"/tls/big/key","value":"x","revision":6}' \
		'{"type":"put","key":"/tls/bin/cert","value_base64":"/w==","revision":7}' \
		'{"type":"put","key":"/tls/../cert","value":"x","revision":8}'
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"hap-certs: /tls/g/cert: not a PEM certificate"*"; skipped"* ]]
	[[ "$stderr" == *"hap-certs: /tls/big/cert: larger than 262144 bytes; skipped"* ]]
	[[ "$stderr" == *"hap-certs: /tls/bin/cert: value is not valid UTF-8; key left out"* ]]
	[[ "$stderr" == *"hap-certs: /tls/../cert: not a certificate name easy-lb accepts"* ]]
	[ -z "$(ls -A "$DIR/crt")" ]
	[ ! -e "$DIR/default.pem" ]
	[ "$(cat "$DIR/crt-list")" = "" ]
}

@test "H40 a key below an instance or a backend option name: that name skipped with a warning, the others served" {
	# (c-2 sorts between c and c/x: still one server c)
	render '{"/services/web/upstream/a/b":"127.0.0.1:80","/services/web/upstream/c":"127.0.0.1:81","/services/web/upstream/c-2":"127.0.0.1:82","/services/web/upstream/c/x":"127.0.0.1:83","/services/web/backend/balance/x":"source"}'
	[ "$status" -eq 0 ]
	[ "$stderr" = "${W}/services/web/upstream/a: a directory, not a key; skipped
${W}/services/web/backend/balance: a directory, not a key; skipped" ]
	[ "$(servers)" = "c 127.0.0.1:81 check
c-2 127.0.0.1:82 check" ]
	valid
}
