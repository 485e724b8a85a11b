#!/usr/bin/env bats
# The shared etcd client: endpoints and failover, environment, auth with
# token expiry, TLS with client certificates, and what errors say.

load helper
load pki

setup_file() {
	etcd_setup_file
	# An etcd with auth enabled: root and a read-only user.
	etcd_start auth --auth-token-ttl 2
	local ctl="etcdctl --endpoints $ETCD_URL_auth"
	export ETCDCTL_API=3
	env -u ETCDCTL_ENDPOINTS $ctl user add root:rootpw >/dev/null
	env -u ETCDCTL_ENDPOINTS $ctl user add reader:readpw >/dev/null
	env -u ETCDCTL_ENDPOINTS $ctl role add ro >/dev/null
	env -u ETCDCTL_ENDPOINTS $ctl role grant-permission ro --prefix=true read /ro/ >/dev/null
	env -u ETCDCTL_ENDPOINTS $ctl user grant-role reader ro >/dev/null
	env -u ETCDCTL_ENDPOINTS $ctl auth enable >/dev/null
	# An etcd that speaks TLS only and wants client certificates.
	make_certs "$TESTTMP/pki"
	ETCD_SCHEME=https etcd_start tls \
		--cert-file "$TESTTMP/pki/server.crt" --key-file "$TESTTMP/pki/server.key" \
		--client-cert-auth --trusted-ca-file "$TESTTMP/pki/ca.crt"
}
teardown_file() { etcd_teardown_file; }

teardown() {
	[ -z "${BGPID:-}" ] || { kill "$BGPID" 2>/dev/null; wait "$BGPID" 2>/dev/null; } || true
}

@test "a dead first endpoint fails over to the next" {
	local dead
	dead=$(free_port)
	etcd-put "$(K a)" v
	run_split etcd-get -e "http://127.0.0.1:$dead,$ETCD_URL_main" "$(K a)"
	[ "$status" -eq 0 ]
	[ "$output" = v ]
	[ "$stderr" = "" ]
}

@test "every endpoint failing is reported, each with its reason, exit 111" {
	local d1 d2
	d1=$(free_port)
	d2=$(free_port)
	run_split etcd-get -e "127.0.0.1:$d1,127.0.0.1:$d2" "$(K a)"
	[ "$status" -eq 111 ]
	[ "$output" = "" ]
	[ "$stderr" = "etcd-get: $(K a): http://127.0.0.1:$d1: cannot connect: Connection refused; http://127.0.0.1:$d2: cannot connect: Connection refused" ]
}

@test "endpoints come from -e, then ETCDCTL_ENDPOINTS, then ETCD_PEERS" {
	local dead
	dead=$(free_port)
	etcd-put "$(K a)" v
	# ETCD_PEERS, the 2017 image's variable, with a bare host:port
	run_split env -u ETCDCTL_ENDPOINTS ETCD_PEERS="${ETCD_URL_main#http://}" etcd-get "$(K a)"
	[ "$status" -eq 0 ]
	[ "$output" = v ]
	# ETCDCTL_ENDPOINTS wins over ETCD_PEERS
	run_split env ETCDCTL_ENDPOINTS="127.0.0.1:$dead" ETCD_PEERS="$ETCD_URL_main" etcd-get "$(K a)"
	[ "$status" -eq 111 ]
	[[ "$stderr" == *"127.0.0.1:$dead: cannot connect"* ]]
	# -e wins over both
	run_split env ETCDCTL_ENDPOINTS="127.0.0.1:$dead" etcd-get -e "$ETCD_URL_main" "$(K a)"
	[ "$status" -eq 0 ]
	[ "$output" = v ]
}

@test "a URL scheme other than http or https is refused as bad input" {
	run_split etcd-get -e ftp://127.0.0.1:1 x
	[ "$status" -eq 100 ]
	[ "$stderr" = "etcd-get: endpoint ftp://127.0.0.1:1: only http:// and https:// are supported" ]
	run_split etcd-get --dial-timeout soon x
	[ "$status" -eq 100 ]
	[ "$stderr" = "etcd-get: bad dial timeout 'soon'" ]
}

@test "auth: --user name:password reads and writes" {
	run_split etcd-put -e "$ETCD_URL_auth" --user root:rootpw "$(K a)" secret
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	run_split env ETCDCTL_USER=root ETCDCTL_PASSWORD=rootpw etcd-get -e "$ETCD_URL_auth" "$(K a)"
	[ "$status" -eq 0 ]
	[ "$output" = secret ]
	[ "$stderr" = "" ]
}

@test "auth: no credentials, a wrong password, no permission: etcd's reason, exit 100" {
	run_split etcd-get -e "$ETCD_URL_auth" "$(K a)"
	[ "$status" -eq 100 ]
	[ "$stderr" = "etcd-get: $(K a): $ETCD_URL_auth: HTTP 400: etcdserver: user name is empty" ]
	run_split etcd-get -e "$ETCD_URL_auth" --user root:wrong "$(K a)"
	[ "$status" -eq 100 ]
	[ "$stderr" = "etcd-get: $(K a): $ETCD_URL_auth: HTTP 400: etcdserver: authentication failed, invalid user ID or password" ]
	run_split etcd-put -e "$ETCD_URL_auth" --user reader:readpw /ro/x v
	[ "$status" -eq 100 ]
	[ "$stderr" = "etcd-put: /ro/x: $ETCD_URL_auth: HTTP 403: etcdserver: permission denied" ]
}

@test "auth: an expired token is renewed, and a watch survives a restart" {
	export ETCDCTL_ENDPOINTS=$ETCD_URL_auth ETCDCTL_USER=root:rootpw
	local W="$BATS_TEST_TMPDIR/w"
	local r
	r=$(etcd-get --revision)
	etcd-watch --rev $((r + 1)) -p "$(K w/)" >"$W" 2>"$W.err" &
	BGPID=$!
	etcd-put "$(K w/1)" a
	wait_until 5 grep -q '"value":"a"' "$W"
	# Simple tokens live in memory: a restart invalidates the watcher's.
	etcd_stop auth
	etcd_start auth --auth-token-ttl 2
	etcd-put "$(K w/2)" b
	wait_until 10 grep -q "\"value\":\"b\"" "$W" || { cat "$W.err" >&2; false; }
	[ "$(wc -l <"$W")" -eq 2 ]
	# and a keepalive whose token expired (TTL 2 s, renewals every 3 s)
	etcd-put --ttl 9 --keepalive "$(K ka)" v 2>"$BATS_TEST_TMPDIR/ka.err" &
	local ka=$!
	sleep 7
	etcd-get "$(K ka)" >/dev/null
	kill "$ka"
	wait "$ka"
	[ "$(cat "$BATS_TEST_TMPDIR/ka.err")" = "" ]
	refute etcd-get "$(K ka)" >/dev/null
}

@test "auth: a user who may read only a prefix gets the revision through it, and watches it across a compaction" {
	local A="-e $ETCD_URL_auth" W="$BATS_TEST_TMPDIR/w" r0 r
	etcd-put $A --user root:rootpw /ro/a 1
	r=$(etcd-get $A --user root:rootpw --revision)
	# the store's revision asks for the key "\0", which reader may not read
	run_split etcd-get $A --user reader:readpw --revision
	[ "$status" -eq 100 ]
	[[ "$stderr" == *"permission denied" ]]
	run_split etcd-get $A --user reader:readpw --revision -p /ro/
	[ "$status" -eq 0 ]
	[ "$output" = "$r" ]
	[ "$stderr" = "" ]
	run_split etcd-get $A --user reader:readpw --revision /ro/a
	[ "$output" = "$r" ]
	# etcd-watch starts from it, and resyncs through it
	etcd-watch $A --user reader:readpw --revisions -p /ro/ >"$W" 2>"$W.err" &
	BGPID=$!
	wait_until 5 grep -qx "$r" "$W" || { cat "$W.err" >&2; false; }
	r0=$r
	etcd-put $A --user root:rootpw /ro/a 2
	etcd-put $A --user root:rootpw /ro/a 3
	r=$(etcd-get $A --user root:rootpw --revision)
	ETCDCTL_USER=root:rootpw ETCDCTL_ENDPOINTS=$ETCD_URL_auth etcdctl compact "$r" >/dev/null
	run_split timeout 5 etcd-watch $A --user reader:readpw --revisions --once --rev "$r0" -p /ro/
	[ "$status" -eq 0 ]
	[ "$output" = "$r" ]
	[[ "$stderr" == *"was compacted (compact revision $r); resyncing" ]]
	wait_until 5 grep -qx "$r" "$W"
	[ "$(cat "$W.err")" = "" ]
}

@test "TLS: CA and client certificate work, options or ETCDCTL_* variables" {
	local p="$TESTTMP/pki"
	run_split etcd-put -e "$ETCD_URL_tls" --cacert "$p/ca.crt" --cert "$p/client.crt" --key "$p/client.key" "$(K a)" tls
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	run_split env ETCDCTL_CACERT="$p/ca.crt" ETCDCTL_CERT="$p/client.crt" ETCDCTL_KEY="$p/client.key" \
		etcd-get -e "${ETCD_URL_tls#https://}" "$(K a)"
	[ "$status" -eq 0 ]
	[ "$output" = tls ]
	[ "$stderr" = "" ]
	run_split etcd-get -e "$ETCD_URL_tls" --insecure-skip-tls-verify --cert "$p/client.crt" --key "$p/client.key" "$(K a)"
	[ "$status" -eq 0 ]
	[ "$output" = tls ]
}

# many_keys PREFIX N ETCDCTL-ARGS...: N keys PREFIXk00000.. holding
# value-00000.., put through etcdctl txn (128 puts a transaction, etcd's
# limit); prints the JSON object etcd-get -p of PREFIX must print.
many_keys() {
	local prefix=$1 n=$2 i
	shift 2
	for ((i = 0; i < n; i += 128)); do
		python3 -c 'import sys
p, a, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
print()
for i in range(a, b):
    print("put %sk%05d value-%05d" % (p, i, i))
print()
print()' "$prefix" "$i" "$((i + 128 < n ? i + 128 : n))" |
			env -u ETCDCTL_ENDPOINTS ETCDCTL_API=3 etcdctl "$@" txn >/dev/null || return 1
	done
	python3 -c 'import json, sys
p, n = sys.argv[1], int(sys.argv[2])
print(json.dumps({"%sk%05d" % (p, i): "value-%05d" % i for i in range(n)}, separators=(",", ":")))' "$prefix" "$n"
}

@test "TLS and auth: a large prefix is read from both ends, each connection with the certificate or the token" {
	local p="$TESTTMP/pki" tls auth
	tls=(--cacert "$p/ca.crt" --cert "$p/client.crt" --key "$p/client.key")
	many_keys "$(K big/)" 4500 --endpoints "$ETCD_URL_tls" "${tls[@]}" >"$BATS_TEST_TMPDIR/want"
	run_split etcd-get -e "$ETCD_URL_tls" "${tls[@]}" -p "$(K big/)"
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat "$BATS_TEST_TMPDIR/want")" ]
	[ "$stderr" = "" ]
	many_keys "$(K big/)" 4500 --endpoints "$ETCD_URL_auth" --user root:rootpw >"$BATS_TEST_TMPDIR/want"
	run_split etcd-get -e "$ETCD_URL_auth" --user root:rootpw -p "$(K big/)"
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat "$BATS_TEST_TMPDIR/want")" ]
	[ "$stderr" = "" ]
}

@test "TLS: an unknown CA or a missing client certificate is a TLS failure" {
	local p="$TESTTMP/pki"
	run_split etcd-get -e "$ETCD_URL_tls" "$(K a)"
	[ "$status" -eq 111 ]
	[[ "$stderr" == "etcd-get: $(K a): $ETCD_URL_tls: TLS failure: "*"certificate"* ]]
	run_split etcd-get -e "$ETCD_URL_tls" --cacert "$p/ca.crt" "$(K a)"
	[ "$status" -eq 111 ]
	[[ "$stderr" == "etcd-get: $(K a): $ETCD_URL_tls: "* ]]
	[ "$output" = "" ]
}

@test "a server that is not etcd v3 is named as such" {
	local port
	port=$(free_port)
	python3 -m http.server --bind 127.0.0.1 "$port" >/dev/null 2>&1 &
	BGPID=$!
	wait_until 5 curl -s -o /dev/null "http://127.0.0.1:$port/"
	run_split etcd-get -e "127.0.0.1:$port" x
	[ "$status" -eq 111 ]
	[[ "$stderr" == "etcd-get: x: http://127.0.0.1:$port: HTTP 501: "* ]]
}
