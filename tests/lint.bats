#!/usr/bin/env bats
# make lint's checks (tests/lint.sh), each a test of make check: what a
# newcomer would trip on, found by grep before a reviewer has to.

load helper

lint() {
	run_split sh "$REPO/tests/lint.sh" "$1"
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	[ "$status" -eq 0 ]
}

@test "lint: the C sources are as clang-format writes them" { lint format; }
@test "lint: one C dialect: sizeof(x), declarations at the tops of blocks, messages whole" { lint dialect; }
@test "lint: lib/ never exits nor prints" { lint lib; }
@test "lint: no C file over 1,000 lines, each opening with its job" { lint files; }
@test "lint: lib/ a folder per part, each including only the parts it stands on" { lint parts; }
@test "lint: the README's key table and easy-lb(1)'s KEYS are lib/easylb/schema.c's" { lint schema; }
@test "lint: no test check that cannot fail" { lint bats; }
@test "lint: shell scripts pass shellcheck; share/ is POSIX sh without FIFOs" { lint shell; }

@test "lint: a broken rule is found, named by file and line" {
	local d="$BATS_TEST_TMPDIR/t"
	mkdir -p "$d/tests"
	cp "$REPO/tests/lint.sh" "$d/tests/"
	printf '@test "x" {\n\t! false\n\t[ 1 ] && [ 2 ]\n\twait_until 5 test "$(date +%%s)" -gt 9\n\twait_until 5 ready "$(date)"\n}\n' >"$d/tests/x.bats"
	run_split sh "$d/tests/lint.sh" bats
	[ "$status" -eq 1 ]
	[ "$stderr" = "" ]
	[ "$output" = 'tests/x.bats:2: a mid-test "!" cannot fail: use refute
tests/x.bats:3: assertions chained with &&: one a line
tests/x.bats:4: wait_until of a test whose $(...) is worked out once: wrap it in a function' ]
	# the engine reaching into easy-lb's part, a file beside the parts,
	# and three files of a part calling round in a circle (a leads to b,
	# b to c, c back to a; d only calls into it)
	mkdir -p "$d/lib/tmpl" "$d/bin" "$d/build/lib/etcd"
	printf '/* x */\n#include "util/util.h"\n#include "easylb/easylb.h"\n' >"$d/lib/tmpl/x.c"
	: >"$d/lib/flat.c"
	ln -s ../build/etcd-get "$d/bin/etcd-get"
	printf 'int b(void);\nint a(void) { return b(); }\n' >"$d/a.c"
	printf 'int c(void);\nint b(void) { return c(); }\n' >"$d/b.c"
	printf 'int a(void);\nint c(void) { return a(); }\n' >"$d/c.c"
	printf 'int a(void);\nint d(void) { return a(); }\n' >"$d/d.c"
	for f in a b c d; do
		cc -c -o "$d/build/lib/etcd/$f.o" "$d/$f.c"
	done
	run_split sh "$d/tests/lint.sh" parts
	[ "$status" -eq 1 ]
	[ "$stderr" = "" ]
	[ "$output" = 'lib/etcd/a.c: in a circle of calls within its part
lib/etcd/b.c: in a circle of calls within its part
lib/etcd/c.c: in a circle of calls within its part
lib/flat.c: lib/ holds folders, a part each
lib/tmpl/x.c:3: lib/tmpl includes easylb/easylb.h' ]
}

@test "lint: a key table or a KEYS section out of step with lib/easylb/schema.c is found" {
	local d="$BATS_TEST_TMPDIR/t"
	mkdir -p "$d/tests" "$d/share/man"
	cp -r "$REPO/lib" "$REPO/README.md" "$d/"
	cp -r "$REPO/tests/lint.sh" "$REPO/tests/schema" "$d/tests/"
	cp "$REPO/share/man/easy-lb.1" "$d/share/man/"
	run_split sh "$d/tests/lint.sh" schema
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	# a backend option said to go by the runtime API; host's entry gone
	sed -i '/^| `\/services\/<svc>\/backend/s/| reload |$/| runtime API |/' "$d/README.md"
	sed -i '/^\.IB prefix \/ svc \/host$/d' "$d/share/man/easy-lb.1"
	run_split sh "$d/tests/lint.sh" schema
	[ "$status" -eq 1 ]
	[ "$stderr" = "" ]
	[ "${lines[0]}" = "README.md: its key table is not lib/easylb/schema.c's: < | \`/services/<svc>/backend/<option>\` | \`<option> <value>\` in its backend, for \`balance\`, \`option\`, \`timeout\`, \`cookie\`, \`hash-type\`, \`retries\` and \`fullconn\`, e.g. \`backend/balance\` = \`source\`; default \`balance roundrobin\` | a line \`<option> <value>\` in its backend | reload |" ]
	[ "${lines[1]}" = "share/man/easy-lb.1: KEYS is not lib/easylb/schema.c's keys in order: < .IB prefix / svc /host" ]
	[ "${#lines[@]}" -eq 2 ]
}
