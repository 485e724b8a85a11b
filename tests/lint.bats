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
@test "lint: no test check that cannot fail" { lint bats; }
@test "lint: shell scripts pass shellcheck; share/ is POSIX sh without FIFOs" { lint shell; }

@test "lint: a broken rule is found, named by file and line" {
	local d="$BATS_TEST_TMPDIR/t"
	mkdir -p "$d/tests"
	cp "$REPO/tests/lint.sh" "$d/tests/"
	printf '@test "x" {\n\t! false\n\t[ 1 ] && [ 2 ]\n}\n' >"$d/tests/x.bats"
	run_split sh "$d/tests/lint.sh" bats
	[ "$status" -eq 1 ]
	[ "$stderr" = "" ]
	[ "$output" = 'tests/x.bats:2: a mid-test "!" cannot fail: use refute
tests/x.bats:3: assertions chained with &&: one a line' ]
}
