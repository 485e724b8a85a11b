#!/usr/bin/env bats
# make demo's non-interactive variant, and make install.

load helper

@test "the demo balances, adds and removes a backend live, and cleans up" {
	export TMPDIR="$BATS_TEST_TMPDIR"
	run_split timeout 120 sh "$REPO/share/easy-lb/demo.sh" --batch
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(printf '%s\n' "$output" | tail -n 1)" = "demo: stopped, everything cleaned up" ]
	# the three phases, in order
	local balanced added removed
	balanced=$(printf '%s\n' "$output" | sed -n '/^== requests are balanced/,/^== adding/p')
	added=$(printf '%s\n' "$output" | sed -n '/^== adding web3/,/^== removing/p')
	removed=$(printf '%s\n' "$output" | sed -n '/^== removing web1/,/^== what/p')
	[[ "$balanced" == *"GET / -> web1 /"* && "$balanced" == *"GET / -> web2 /"* ]]
	[[ "$added" == *"GET / -> web3 /"* ]]
	[[ "$removed" != *"-> web1"* && "$removed" == *"GET / -> web3 /"* ]]
	[[ "$output" == *"easy-lb: revision "*": runtime: +1 -0 ~0 servers"* ]]
	[[ "$output" == *"easy-lb: revision "*": runtime: +0 -1 ~0 servers"* ]]
	[[ "$output" =~ balancer:\ http://127\.0\.0\.1:[0-9]+/ ]]
	[[ "$output" =~ stats:\ \ \ \ http://127\.0\.0\.1:[0-9]+/stats ]]
	# nothing left behind
	[ -z "$(ls -A "$BATS_TEST_TMPDIR" | grep easy-lb-demo)" ]
	refute pgrep -f "easy-lb-demo"
}

@test "make install puts the tools, man pages, share/easy-lb and the easy-lb entry point in DESTDIR" {
	local d="$BATS_TEST_TMPDIR/root" san=
	# install the flavour under test (bin/ points at it), rebuilding nothing
	[ "$(readlink "$REPO/bin/etcd-get")" = ../build-san/etcd-get ] && san=1
	run_split make -C "$REPO" --no-print-directory install DESTDIR="$d" PREFIX=/opt/elb SANITIZE=$san
	[ "$status" -eq 0 ]
	local t
	for t in etcd-get etcd-put etcd-watch tmpl hap-reload hap-certs easy-lb; do
		[ -x "$d/opt/elb/bin/$t" ]
		[ -f "$d/opt/elb/share/man/man1/$t.1" ]
	done
	[ -f "$d/opt/elb/share/easy-lb/simple.cfg.tmpl" ]
	[ -x "$d/opt/elb/share/easy-lb/boot.sh" ]
	[ -x "$d/opt/elb/share/easy-lb/watcher.sh" ]
	[ -f "$d/opt/elb/share/easy-lb/haproxy.cfg.tmpl" ]
	grep -qx 'exec "/opt/elb/share/easy-lb/boot.sh" "$@"' "$d/opt/elb/bin/easy-lb"
	run_split "$d/opt/elb/bin/etcd-get" --version
	[ "$output" = "etcd-get 0.1.0" ]
	run_split make -C "$REPO" --no-print-directory uninstall DESTDIR="$d" PREFIX=/opt/elb
	[ "$status" -eq 0 ]
	[ -z "$(find "$d" -type f)" ]
}
