#!/usr/bin/env bats
# lib/hapcfg, hap-reload's differ, through its test driver tests/hap/diff.c:
# which changes of a configuration become runtime operations, which need a
# reload and why.

load helper

setup_file() {
	HT=$(mktemp -d "${TMPDIR:-/tmp}/easylb-hapcfg.XXXXXX")
	export HT
	cc -I"$REPO/lib" -D_GNU_SOURCE -Wall -Wextra -Werror -o "$HT/diff" \
		"$BATS_TEST_DIRNAME/hap/diff.c" "$REPO/lib/haproxy/cfg.c" \
		"$REPO/lib/util/util.c"
}

teardown_file() {
	rm -rf "$HT"
}

setup() {
	D=$BATS_TEST_TMPDIR
}

# plan OLD NEW: the differ's plan for two configurations given as strings.
plan() {
	printf '%b' "$1" >"$D/old.cfg"
	printf '%b' "$2" >"$D/new.cfg"
	run_split "$HT/diff" "$D/old.cfg" "$D/new.cfg"
}

@test "hapcfg: server changes become runtime operations" {
	local old new
	old='global\n\tmaxconn 100 # c\ndefaults d1\n\tbalance leastconn\n\tdefault-server inter 1s weight 3\nbackend be from d1\n\tserver a 10.0.0.1:80 check\n\tserver b [::1]:81\n\tserver c 10.0.0.3:80 weight 5\n\tserver gone 10.0.0.9:80\nbackend h\n\tbalance source\n\tserver x 10.0.0.1:80\n'
	new='global\n  maxconn   100\ndefaults d1\n\tbalance leastconn\n\tdefault-server inter 1s weight 3\nbackend be from d1\n\tserver a 10.0.0.1:80 check agent-check disabled\n\tserver b ::2:82\n\tserver c 10.0.0.3:80 weight 9\n\tserver d 10.0.0.4:8080 check\nbackend h\n\tbalance source\n\tserver x 10.0.0.2:80\n'
	plan "$old" "$new"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$output" = "runtime +1 -1 ~4
del be/a replace
add be/a 10.0.0.1 80 [inter 1s weight 3 check agent-check disabled] check agent disabled replace
addr be/b ::2 82
weight be/c 9
add be/d 10.0.0.4 8080 [inter 1s weight 3 check] check
del be/gone
addr h/x 10.0.0.2 80
want be/a 10.0.0.1 80 w3 disabled
want be/b ::2 82 w3
want be/c 10.0.0.3 80 w9
want be/d 10.0.0.4 8080 w3
want h/x 10.0.0.2 80 w3" ]
}

@test "hapcfg: a change far from the defaults it takes settings from" {
	# Only the sections around a difference are taken apart: the
	# defaults before them still give their options, the named one
	# included, and a change in the first or last section is seen.
	local head body i old new
	head='global\n\tmaxconn 100\ndefaults d1\n\tdefault-server inter 1s\ndefaults d2\n\tdefault-server inter 2s\n'
	body=''
	for i in $(seq 1 200); do
		body="${body}backend b$i from d1\n\tserver s 10.0.0.1:80\n"
	done
	old="${head}${body}backend last\n\tserver s 10.0.0.1:80\n"
	new="${head}${body}backend last\n\tserver s 10.0.0.1:80\n\tserver t 10.0.0.2:80\n"
	plan "$old" "$new"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$output" = "runtime +1 -0 ~0
add last/t 10.0.0.2 80 [inter 2s]
want last/s 10.0.0.1 80 w1
want last/t 10.0.0.2 80 w1" ]
	new="${head}${body//b100 from d1\\n\\tserver s 10.0.0.1:80/b100 from d1\\n\\tserver s 10.0.0.9:80}backend last\n\tserver s 10.0.0.1:80\n"
	plan "$old" "$new"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime +0 -0 ~1
addr b100/s 10.0.0.9 80
want b100/s 10.0.0.9 80 w1" ]
	# (the first section, and a defaults section itself)
	plan "$old" "${old/maxconn 100/maxconn 200}"
	[ "$output" = "reload: global: lines other than servers changed" ]
	plan "$old" "${old/inter 1s/inter 3s}"
	[ "$output" = "reload: defaults d1: lines other than servers changed" ]
}

@test "hapcfg: what needs a reload, and why" {
	local be='backend be\n\tserver a 10.0.0.1:80\n'
	plan "$be" "backend be\n\tbalance source\n\tserver a 10.0.0.1:80\n"
	[ "$output" = "reload: backend be: lines other than servers changed" ]
	plan "defaults\n\tbalance static-rr\n$be" \
		"defaults\n\tbalance static-rr\n${be}\tserver b 10.0.0.2:80\n"
	[ "$output" = "reload: backend be: balance static-rr is not dynamic" ]
	plan "$be" "${be}\tserver b localhost:80\n"
	[ "$output" = "reload: be/b: address localhost:80 is not a numeric address:port" ]
	plan "$be" "${be}\tserver b 10.0.0.2:80-90\n"
	[[ $output == "reload: be/b: address"* ]]
	plan "$be" "${be}backend other\n"
	[ "$output" = "reload: sections added or removed" ]
	plan "$be" "${be}\tserver b 10.0.0.2:80 cookie \"x y\"\n"
	[ "$output" = "reload: be/b: quoted or escaped words" ]
	# (haproxy refuses a cookie for a server added at run time; a
	# server that has one and changes its weight only is still runtime)
	plan "$be" "${be}\tserver b 10.0.0.2:80 cookie cb check\n"
	[ "$output" = "reload: be/b: haproxy adds no server with a cookie at run time" ]
	plan "${be}\tserver b 10.0.0.2:80 cookie cb weight 1\n" \
		"${be}\tserver b 10.0.0.2:80 cookie cb weight 9\n"
	[[ $output == "runtime"* ]]
	plan "${be}\tserver-template s 3 10.0.0.1:80\n" \
		"${be}\tserver-template s 3 10.0.0.1:80\n\tserver b 10.0.0.2:80\n"
	[ "$output" = "reload: backend be: server-template" ]
	plan "peers p\n\tserver a 10.0.0.1:1024\n" "peers p\n\tserver a 10.0.0.2:1024\n"
	[ "$output" = "reload: peers p: lines other than servers changed" ]
}

@test "hapcfg: comments and blanks are no change; listen sections count" {
	plan "listen l\n\tbind :80\n\tserver a 10.0.0.1:80\n" \
		"# hello\nlisten   l\n  bind :80 # there\n\n\tserver a 10.0.0.1:80\n\tserver b 10.0.0.2:80 weight 0\n"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime +1 -0 ~0
add l/b 10.0.0.2 80 [weight 0]
want l/a 10.0.0.1 80 w1
want l/b 10.0.0.2 80 w0" ]
	plan "backend x\n\tserver a 1.2.3.4:80\n" "backend x\n  server  a  1.2.3.4:80  # same\n"
	[ "$output" = "runtime +0 -0 ~0" ]
}

@test "hapcfg: sections the same byte for byte are not taken apart; defaults always are" {
	local d='defaults d1\n\tdefault-server inter 2s\n' one='backend one from d1\n\tserver a 10.0.0.1:80\n'
	local two='backend two from d1\n\tserver a 10.0.0.2:80\n' dup='backend dup\n\tserver s 10.0.0.5:80\n\tserver s 10.0.0.6:80\n'
	# only "two" changed: its new server gets the defaults' options
	plan "$d$one$two" "$d$one${two}\tserver b 10.0.0.3:80\n"
	[ "$status" -eq 0 ]
	[ "$output" = "runtime +1 -0 ~0
add two/b 10.0.0.3 80 [inter 2s]
want two/a 10.0.0.2 80 w1
want two/b 10.0.0.3 80 w1" ]
	# the same number of sections, one renamed: still a reload
	plan "$d${one}backend three\n" "$d${one}backend four\n"
	[ "$output" = "reload: sections added, removed or renamed" ]
	# a changed section with duplicate names is still seen
	plan "$d$one$dup" "$d$one${dup}\tserver t 10.0.0.7:80\n"
	[ "$output" = "reload: backend dup: duplicate server names" ]
}
