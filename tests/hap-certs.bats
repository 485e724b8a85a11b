#!/usr/bin/env bats
# hap-certs on its own: the certificates' records on fd 3, the services'
# records passed from stdin to stdout with easy-lb:tls added, the files of
# DIR.  (With a haproxy, and the runtime API: tests/https.bats.)

load helper
load pki

setup_file() {
	export P=$BATS_FILE_TMPDIR/pki
	site_ca "$P"
	site_cert "$P" a a.example.com a1
	site_cert "$P" b b.example.com b1
}

setup() {
	DIR=$BATS_TEST_TMPDIR/dir
}

# put NAME FILE REV: the records of /tls/NAME's certificate and key.
put() {
	jq -cn --rawfile c "$P/$2.crt" --arg k "/tls/$1/cert" --argjson r "$3" \
		'{type: "put", key: $k, value: $c, revision: $r}'
	jq -cn --rawfile c "$P/$2.key" --arg k "/tls/$1/key" --argjson r "$3" \
		'{type: "put", key: $k, value: $c, revision: $r}'
}

# run_certs TLS SERVICES [ARGS]: hap-certs with the files TLS (fd 3,
# held open 5 s past its end, as etcd-watch's stream is) and SERVICES
# (stdin).
run_certs() {
	local t=$1 s=$2
	shift 2
	run_split timeout 20 hap-certs --from 3 -d "$DIR" \
		-s "$BATS_TEST_TMPDIR/none.sock" "$@" 3< <(cat "$t"; sleep 5) <"$s"
}

# run_certs_ending TLS SERVICES: the same, the certificates' records
# ending with TLS.
run_certs_ending() {
	run_split timeout 20 hap-certs --from 3 -d "$DIR" \
		-s "$BATS_TEST_TMPDIR/none.sock" 3<"$1" <"$2"
}

@test "hap-certs: the services pass through unchanged; HTTPS on is added at the end of a batch, once" {
	{
		put b b 3
		put a a 4
		echo '{"type":"progress","revision":4}'
	} >"$BATS_TEST_TMPDIR/tls"
	printf '%s\n' '{"type":"resync","revision":7,"kvs":{"/services/x/upstream/y":"127.0.0.1:1"}}' \
		'{"type":"put","key":"/services/x/location","value":"/z","revision":8}' \
		'{"type":"progress","revision":8}' >"$BATS_TEST_TMPDIR/svc"
	run_certs "$BATS_TEST_TMPDIR/tls" "$BATS_TEST_TMPDIR/svc"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = '{"type":"resync","revision":7,"kvs":{"/services/x/upstream/y":"127.0.0.1:1"}}
{"type":"put","key":"easy-lb:tls","value":"on","revision":7}
{"type":"progress","revision":7}
{"type":"put","key":"/services/x/location","value":"/z","revision":8}
{"type":"progress","revision":8}' ]
	# the default: the first by name
	cmp "$DIR/default.pem" "$DIR/crt/a.pem"
	[ "$(cat "$DIR/crt-list")" = "$DIR/crt/a.pem
$DIR/crt/b.pem" ]
	[ "$(stat -c %a "$DIR/crt/a.pem")" = 600 ]
	# the file is the chain and the key, byte for byte (no blank line)
	[ "$(cat "$DIR/crt/b.pem")" = "$(cat "$P/b.crt" "$P/b.key")" ]
}

@test "hap-certs: --default names the certificate for clients without SNI" {
	{
		put a a 3
		put b b 3
		echo '{"type":"progress","revision":3}'
	} >"$BATS_TEST_TMPDIR/tls"
	: >"$BATS_TEST_TMPDIR/svc"
	run_certs "$BATS_TEST_TMPDIR/tls" "$BATS_TEST_TMPDIR/svc" --default b
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	cmp "$DIR/default.pem" "$DIR/crt/b.pem"
}

@test "hap-certs: the last certificate deleted: its file gone, HTTPS off added" {
	mkfifo "$BATS_TEST_TMPDIR/tls" "$BATS_TEST_TMPDIR/svc"
	# (the services' stream ends after the deletion is through)
	{
		echo '{"type":"resync","revision":7,"kvs":{}}'
		sleep 2
		echo '{"type":"progress","revision":9}'
	} >"$BATS_TEST_TMPDIR/svc" &
	{
		put a a 3
		echo '{"type":"progress","revision":3}'
		sleep 1
		echo '{"type":"delete","key":"/tls/a/cert","revision":4}'
		echo '{"type":"delete","key":"/tls/a/key","revision":4}'
		echo '{"type":"progress","revision":4}'
		sleep 2
	} >"$BATS_TEST_TMPDIR/tls" &
	run_certs_ending "$BATS_TEST_TMPDIR/tls" "$BATS_TEST_TMPDIR/svc"
	wait
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = '{"type":"resync","revision":7,"kvs":{}}
{"type":"put","key":"easy-lb:tls","value":"on","revision":7}
{"type":"progress","revision":7}
{"type":"delete","key":"easy-lb:tls","revision":7}
{"type":"progress","revision":7}
{"type":"progress","revision":9}' ]
	[ ! -e "$DIR/crt/a.pem" ]
	[ ! -e "$DIR/default.pem" ]
}

@test "hap-certs: the certificates' records ending turns HTTPS off; the services go on" {
	put a a 3 >"$BATS_TEST_TMPDIR/tls"
	printf '%s\n' '{"type":"resync","revision":7,"kvs":{}}' >"$BATS_TEST_TMPDIR/svc"
	run_certs_ending "$BATS_TEST_TMPDIR/tls" "$BATS_TEST_TMPDIR/svc"
	[ "$status" -eq 0 ]
	[ "$output" = '{"type":"resync","revision":7,"kvs":{}}' ]
	[ "$stderr" = "hap-certs: the certificates' records ended: HTTPS is off" ]
	[ ! -e "$DIR/default.pem" ]
}

@test "hap-certs: a reader that goes away ends it quietly with status 0" {
	local i
	: >"$BATS_TEST_TMPDIR/tls"
	for i in $(seq 5000); do
		echo '{"type":"progress","revision":'"$i"'}'
	done >"$BATS_TEST_TMPDIR/svc"
	run_split bash -c 'hap-certs --from 3 -d "$1" -s none 3<"$2" <"$3" | head -n 1 >/dev/null; echo "${PIPESTATUS[0]}"' \
		_ "$DIR" "$BATS_TEST_TMPDIR/tls" "$BATS_TEST_TMPDIR/svc"
	[ "$status" -eq 0 ]
	[ "$output" = 0 ]
	[ "$stderr" = "hap-certs: the certificates' records ended: HTTPS is off" ]
}

@test "hap-certs: a chain with a damaged certificate after the first is skipped, named; the others serve" {
	{
		jq -cn --rawfile c "$P/a.crt" --arg k /tls/a/cert --argjson r 3 \
			'{type: "put", key: $k, value: ($c + "-----BEGIN CERTIFICATE-----\nbm9wZQ==\n-----END CERTIFICATE-----\n"), revision: $r}'
		jq -cn --rawfile c "$P/a.key" --arg k /tls/a/key --argjson r 3 \
			'{type: "put", key: $k, value: $c, revision: $r}'
		put b b 3
		echo '{"type":"progress","revision":3}'
	} >"$BATS_TEST_TMPDIR/tls"
	: >"$BATS_TEST_TMPDIR/svc"
	run_certs "$BATS_TEST_TMPDIR/tls" "$BATS_TEST_TMPDIR/svc"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[[ "$stderr" == "hap-certs: /tls/a/cert: a certificate of its chain is damaged"*"; skipped" ]]
	[ "$(cat "$DIR/crt-list")" = "$DIR/crt/b.pem" ]
	[ ! -e "$DIR/crt/a.pem" ]
	cmp "$DIR/default.pem" "$DIR/crt/b.pem"
}

@test "hap-certs: started again, it removes the files of certificates deleted meanwhile, and temporary files" {
	mkdir -p "$DIR/crt"
	echo secret >"$DIR/crt/gone.pem"
	echo secret >"$DIR/crt/.a.pem.x1Y2z3"
	echo "$DIR/crt/gone.pem" >"$DIR/crt-list"
	{
		put a a 3
		echo '{"type":"progress","revision":3}'
	} >"$BATS_TEST_TMPDIR/tls"
	: >"$BATS_TEST_TMPDIR/svc"
	run_certs "$BATS_TEST_TMPDIR/tls" "$BATS_TEST_TMPDIR/svc"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	[ ! -e "$DIR/crt/gone.pem" ]
	[ "$(ls -A "$DIR/crt")" = "a.pem" ]
	[ "$(cat "$DIR/crt-list")" = "$DIR/crt/a.pem" ]
}

@test "hap-certs: the chain alone changed: the pair's file and the default are written again" {
	{
		put a a 3
		echo '{"type":"progress","revision":3}'
		jq -cn --rawfile c "$P/a.crt" --rawfile ca "$P/site-ca.crt" --arg k /tls/a/cert \
			'{type: "put", key: $k, value: ($c + $ca), revision: 4}'
		echo '{"type":"progress","revision":4}'
	} >"$BATS_TEST_TMPDIR/tls"
	: >"$BATS_TEST_TMPDIR/svc"
	run_certs "$BATS_TEST_TMPDIR/tls" "$BATS_TEST_TMPDIR/svc"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	[ "$(grep -c "BEGIN CERTIFICATE" "$DIR/crt/a.pem")" -eq 2 ]
	cmp "$DIR/default.pem" "$DIR/crt/a.pem"
}

@test "hap-certs: usage, --help, --version; the usage line is the man page's SYNOPSIS" {
	local syn
	run_split hap-certs
	[ "$status" -eq 100 ]
	[ "$output" = "" ]
	[[ "$stderr" == "usage: hap-certs "* ]]
	run_split hap-certs -d x -s y --from z
	[ "$status" -eq 100 ]
	[ "$stderr" = "hap-certs: --from z: invalid" ]
	run_split hap-certs --version
	[ "$status" -eq 0 ]
	[ "$output" = "hap-certs 0.1.0" ]
	syn=$(GROFF_NO_SGR=1 nroff -man -Tascii -rLL=1000n "$REPO/share/man/hap-certs.1" |
		col -b | sed -n '/^SYNOPSIS/{n;s/^ *//;p;}')
	run_split hap-certs --help
	[ "$status" -eq 0 ]
	[ "$output" = "usage: $syn" ]
	[ "$stderr" = "" ]
}
