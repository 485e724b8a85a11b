#!/usr/bin/env bats
# The template engine alone: lib/tmpl/ and lib/util/ built with nothing
# of easy-lb (no lib/easylb/, etcd or haproxy), through the driver
# tests/engine/engine.c and its own set of helpers.  What the engine does
# for templates is tmpl.bats's; here, that it stands on its own and that
# a set of helpers written in C is called as tmpl.h says.

load helper

setup_file() {
	HT=$(mktemp -d "${TMPDIR:-/tmp}/easylb-engine.XXXXXX")
	export HT
	# (every file of both parts, so that a call into another part fails
	# the link)
	cc -I"$REPO/lib" -D_GNU_SOURCE -Wall -Wextra -Werror -o "$HT/engine" \
		"$BATS_TEST_DIRNAME/engine/engine.c" "$REPO"/lib/tmpl/*.c \
		"$REPO"/lib/util/*.c -ljq -lm
}

teardown_file() {
	rm -rf "$HT"
}

setup() {
	D=$BATS_TEST_TMPDIR
}

@test "engine alone: its own helpers and a caller's set (an answer, each element of one, nothing, two parameters), the set's state kept across renders" {
	printf '%s\n' '{{ "12a3" | twice }}|{{ range "12a3" | digits }}<{{ . }}>{{ end }}|{{ count }},{{ count }}|{{ note("hi") }}{{ join2(1; "x") }}|{{ range ls("/a") }}{{ . }};{{ end }}{{ under("a") | length }}' >"$D/t.tmpl"
	run_split "$HT/engine" "$D/t.tmpl" 2 <<<'{"/a/b": 1, "/a/c": 2, "/z": 3}'
	[ "$status" -eq 0 ]
	[ "$output" = '12a312a3|<1><2><3>|1,2|1+"x"|b;c;2
12a312a3|<1><2><3>|3,4|1+"x"|b;c;2' ]
	[ "$stderr" = 'note: hi
note: hi' ]
}

@test "engine alone: easy-lb's helpers are not there (jq's compile error passed on, at the template's position)" {
	printf 'a\n{{ "web" | haproxy_name }}\n' >"$D/t.tmpl"
	run_split "$HT/engine" "$D/t.tmpl" <<<'{}'
	[ "$status" -eq 100 ]
	[ "$output" = "" ]
	[[ "$stderr" == "engine: $D/t.tmpl:2:4: jq compile error: "*haproxy_name* ]]
	# and a set's helper, without the set
	printf '{{ "x" | twice }}\n' >"$D/t.tmpl"
	ENGINE_SET=none run_split "$HT/engine" "$D/t.tmpl" <<<'{}'
	[ "$status" -eq 100 ]
	[ "$output" = "" ]
	[[ "$stderr" == "engine: $D/t.tmpl:1:4: jq compile error: "*twice* ]]
}

@test "engine alone: a set that names a helper as the engine does is refused by tmpl_parse; a helper's error stops the render where it was called" {
	printf '{{ "x" | twice }}\n' >"$D/t.tmpl"
	ENGINE_SET=dup run_split "$HT/engine" "$D/t.tmpl" <<<'{}'
	[ "$status" -eq 100 ]
	[ "$output" = "" ]
	[ "$stderr" = "engine: two helpers named ls" ]
	printf 'ok\n{{ 5 | twice }}\n' >"$D/t.tmpl"
	run_split "$HT/engine" "$D/t.tmpl" <<<'{}'
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = "engine: $D/t.tmpl:2:4: runtime error: twice: not a string" ]
}
