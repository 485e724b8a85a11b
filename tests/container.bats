#!/usr/bin/env bats
# The container image (contrib/Dockerfile), as far as it can be run
# without a Docker engine: `make install PREFIX=...`, then the installed
# `easy-lb` started as user haproxy (the image's USER), with the
# Dockerfile's ENV, an EASY_LB_RUN of haproxy's own and a free high
# LB_PORT.  It serves, applies a runtime change and a reload, and stops
# on SIGTERM within 5 s leaving nothing behind.  make matrix runs it in
# trixie, whose haproxy is the image's major version, with
# EASYLB_IMAGE_PREFIX=/usr/local; elsewhere it installs under its temp
# dir.

load helper

setup_file() {
	etcd_setup_file
	export IMAGE_SKIP=""
	if [ "$(id -u)" -ne 0 ]; then
		IMAGE_SKIP="needs root, to start easy-lb as user haproxy: run make check as root"
		return 0
	fi
	id -u haproxy >/dev/null 2>&1 || {
		echo "no user haproxy (Debian's haproxy package makes it)" >&2
		return 1
	}
	# (user haproxy must reach what is installed under the temp dir)
	chmod 755 "$TESTTMP"
	export PREFIX=${EASYLB_IMAGE_PREFIX:-$TESTTMP/usr/local}
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$REPO" --no-print-directory \
		install PREFIX="$PREFIX" >"$TESTTMP/install.log" 2>&1 || {
		cat "$TESTTMP/install.log" >&2
		return 1
	}
	export EASY_LB_RUN=$TESTTMP/run LB_PORT LB_TLS_PORT
	LB_PORT=$(free_port)
	LB_TLS_PORT=$(free_port)
	mkdir -p "$EASY_LB_RUN"
	chown haproxy:haproxy "$EASY_LB_RUN"
}

teardown_file() {
	[ ! -f "$TESTTMP/image.pid" ] || kill "$(cat "$TESTTMP/image.pid")" 2>/dev/null || true
	backends_stop
	etcd_teardown_file
}

setup() {
	[ -z "$IMAGE_SKIP" ] || skip "$IMAGE_SKIP"
}

# image_env: the Dockerfile's ENV, as NAME=VALUE words.
image_env() {
	sed -n '/^ENV /,/[^\\]$/p' "$REPO/contrib/Dockerfile" |
		sed 's/^ENV //; s/\\$//' | tr '\n\t' '  '
}

# image_start: the installed easy-lb as user haproxy, in the image's
# environment (its ENV and the base image's PATH), told only where etcd
# is and which directory and port are this test's.  Its pid goes to
# $TESTTMP/image.pid, its exit status, once it ends, to image.rc.
image_start() {
	local envs
	envs=$(image_env)
	[[ $envs == *"EASY_LB_RUN="* && $envs == *"LB_PORT="* ]]
	eval "set -- $envs"
	(
		setpriv --reuid=haproxy --regid=haproxy --init-groups -- env -i \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			"$@" ETCD_PEERS="$ETCDCTL_ENDPOINTS" EASY_LB_RUN="$EASY_LB_RUN" \
			LB_PORT="$LB_PORT" LB_TLS_PORT="$LB_TLS_PORT" "$PREFIX/bin/easy-lb" \
			>"$TESTTMP/lb.out" 2>"$TESTTMP/lb.err" &
		echo "$!" >"$TESTTMP/image.pid"
		wait "$!"
		echo "$?" >"$TESTTMP/image.rc"
	) &
	wait_until 20 curl -s -o /dev/null "$(LB)/"
}

uid_of() { awk '$1 == "Uid:" { print $2 }' "/proc/$1/status"; }

@test "image: the installed easy-lb, as user haproxy with the Dockerfile's ENV, serves" {
	image_start
	backend_start web1
	etcd-put /services/web/upstream/w1 "127.0.0.1:$BACKEND_PORT"
	wait_until 10 answers /web/ web1
	local haproxy_uid master worker
	haproxy_uid=$(id -u haproxy)
	master=$(cat "$EASY_LB_RUN/haproxy.pid")
	worker=$(worker_pid)
	[ "$(uid_of "$(cat "$TESTTMP/image.pid")")" = "$haproxy_uid" ]
	[ "$(uid_of "$master")" = "$haproxy_uid" ]
	[ "$(uid_of "$worker")" = "$haproxy_uid" ]
	# not root: haproxy is told neither to drop privileges nor to chroot
	refute grep -q "^    user \|^    chroot " "$EASY_LB_RUN/haproxy.cfg"
	[ "$(stat -c %U "$EASY_LB_RUN/haproxy.cfg")" = haproxy ]
	# the Dockerfile's own defaults are the ones in force
	grep -qx "    bind \*:$LB_PORT" "$EASY_LB_RUN/haproxy.cfg"
	grep -q "easy-lb: haproxy started (master pid $master) on port $LB_PORT" "$TESTTMP/lb.err"
	refute grep -q "workers run as root" "$TESTTMP/lb.err"
}

# as_image CMD...: CMD as user haproxy in the image's environment (this
# test's etcd and run directory).
as_image() {
	local -a envs
	eval "envs=($(image_env))"
	setpriv --reuid=haproxy --regid=haproxy --init-groups -- env -i \
		PATH="$PREFIX/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
		"${envs[@]}" ETCD_PEERS="$ETCDCTL_ENDPOINTS" EASY_LB_RUN="$EASY_LB_RUN" "$@"
}

@test "image: its HEALTHCHECK and the unit's ExecStartPost, as user haproxy, find it healthy; so does HEALTH_URI" {
	local hc post
	hc=$(sed -n 's|^\s*CMD \["/bin/sh", "-c", "\(.*\)"\]$|\1|p' "$REPO/contrib/Dockerfile")
	[ "$hc" = "easy-lb status >/dev/null || exit 1" ]
	wait_until 20 as_image sh -c "$hc"
	run_split as_image easy-lb status
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "${lines[0]}" = "easy-lb on $EASY_LB_RUN: healthy" ]
	# (the master CLI is user haproxy's too: its workers are listed)
	[[ "$output" == *$'\nhaproxy:     master '"$(cat "$EASY_LB_RUN/haproxy.pid")"', '* ]]
	post=$(sed -n "s|^ExecStartPost=/bin/sh -c '\(.*\)'$|\1|p" "$REPO/contrib/easy-lb.service")
	[ -n "$post" ]
	post=${post//\/usr\/local\/bin/$PREFIX/bin}
	post=${post//\$\$/\$}
	run_split as_image sh -c "$post"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	[ "$(curl -s "$(LB)/healthz")" = healthy ]
}

@test "image: a new upstream goes through the runtime API, same worker" {
	local w0
	w0=$(worker_pid)
	backend_start web2
	etcd-put /services/web/upstream/w2 "127.0.0.1:$BACKEND_PORT"
	wait_until 10 answers /web/ web2
	wait_until 5 grep -q "easy-lb: revision [0-9]*: runtime: +1 -0 ~0 servers" "$TESTTMP/lb.err"
	[ "$(worker_pid)" = "$w0" ]
}

@test "image: a new service goes through the runtime API, in a spare backend, same worker" {
	local w0
	w0=$(worker_pid)
	backend_start shop1
	# (web, the image's first service, took easy-lb-spare-1)
	etcd-put /services/shop/upstream/s1 "127.0.0.1:$BACKEND_PORT"
	wait_until 10 answers /shop/ shop1
	wait_until 5 grep -q "easy-lb: revision [0-9]*: runtime: +1 -0 ~0 servers, +1 -0 ~0 map entries; backend shop in easy-lb-spare-2$" "$TESTTMP/lb.err"
	[ "$(worker_pid)" = "$w0" ]
}

@test "image: a new service with backend options of its own goes through a reload, a new worker" {
	local w0 w1
	w0=$(worker_pid)
	backend_start api1
	etcd-put /services/api/backend/balance source
	etcd-put /services/api/upstream/a1 "127.0.0.1:$BACKEND_PORT"
	wait_until 10 answers /api/ api1
	wait_until 5 grep -q "easy-lb: revision [0-9]*: reloaded (worker [0-9]*)" "$TESTTMP/lb.err"
	w1=$(worker_pid)
	[ -n "$w1" ]
	[ "$w1" != "$w0" ]
	[ "$(uid_of "$w1")" = "$(id -u haproxy)" ]
}

@test "image: SIGTERM stops it within 5 s, with status 0 and nothing left behind" {
	local t0
	t0=$(ms)
	kill -TERM "$(cat "$TESTTMP/image.pid")"
	wait_until 5 test -s "$TESTTMP/image.rc"
	[ $(($(ms) - t0)) -lt 5000 ]
	[ "$(cat "$TESTTMP/image.rc")" = 0 ]
	lb_gone
	[ "$(tail -n 1 "$TESTTMP/lb.err")" = "easy-lb: stopped" ]
}
