#!/usr/bin/env bats
# The libFuzzer targets of tests/fuzz/ (other than tmpl_parse, run by
# tmpl.bats) each run for a few seconds: they build, and find nothing
# from the seed corpus onwards.

load helper

fuzz() {
	run_split sh "$REPO/tests/fuzz/run.sh" 5 "$1"
	[ "$status" -ne 77 ] || skip "clang cannot build libFuzzer programs"
	echo "$stderr" >&2
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[[ "$stderr" == "fuzz: $1: 5s, exit 0"* ]]
}

@test "fuzz: watch stream splitting and parsing, 5 s" {
	fuzz watch_stream
}

@test "fuzz: hap-reload's config differ, 5 s" {
	fuzz hapcfg_diff
}

@test "fuzz: hap-reload's maps and spare backends, 5 s" {
	fuzz hapmap
}

@test "fuzz: base64 decode, encode round trip, 5 s" {
	fuzz b64
}

@test "fuzz: the record stream, read and written back, 5 s" {
	fuzz records
}

@test "fuzz: etcd-get's reader of range replies, against jq's parser, 5 s" {
	fuzz range_scan
}
