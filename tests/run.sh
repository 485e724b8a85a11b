#!/bin/sh
# Run the bats suite (every tests/*.bats, or the files given), print the TAP
# stream and close with "N skipped" (when some were) and one line
# "N passed, N failed".  A skipped test is not a pass; with
# EASYLB_NO_SKIP=1 (CI and make matrix, where nothing may skip) it counts
# as failed.  Files run two at a time; the tests inside one file run in
# order, since they share its etcd.
set -u
cd "$(dirname "$0")/.." || exit 111
[ $# -eq 0 ] && set -- tests/*.bats
jobs=${BATS_JOBS:-2}
out=$(mktemp) || exit 111
trap 'rm -f "$out"' EXIT INT TERM
if [ "$jobs" -gt 1 ] && command -v parallel >/dev/null 2>&1; then
	bats --tap --jobs "$jobs" --no-parallelize-within-files "$@" | tee "$out"
else
	bats --tap "$@" | tee "$out"
fi
passed=$(grep -c '^ok ' "$out")
failed=$(grep -c '^not ok ' "$out")
skipped=$(grep -c '^ok .* # skip' "$out")
planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$out" | head -n 1)
# A test that never reported (a crashed file) counts as failed.
missing=$(( ${planned:-0} - passed - failed ))
[ "$missing" -gt 0 ] && failed=$(( failed + missing ))
passed=$(( passed - skipped ))
if [ "$skipped" -gt 0 ]; then
	echo "$skipped skipped"
	[ -n "${EASYLB_NO_SKIP:-}" ] && failed=$(( failed + skipped ))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
