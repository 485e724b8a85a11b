#!/bin/sh
# boot.sh: the balancer's main process.  Once etcd answers it renders the
# first config, runs haproxy in master-worker mode in the foreground and
# watcher.sh beside it, in a process group of its own.  A dead watcher is
# restarted; a dead haproxy ends everything with a non-zero status, as a
# container supervisor expects.  SIGTERM or SIGINT stops everything
# cleanly.
set -u
# shellcheck source-path=SCRIPTDIR source=env.sh
. "$(dirname "$0")/env.sh"

mkdir -p "$EASY_LB_RUN" || exit 111
cd / || exit 111
# Every process of this balancer carries it: how to find them all.
EASY_LB_BALANCER=$EASY_LB_RUN
export EASY_LB_BALANCER
if [ -n "$HAPROXY_USER" ] && [ -z "$HAPROXY_GROUP" ]; then
	log "HAPROXY_USER: no such user: $HAPROXY_USER"
	exit 100
fi
# The workers' root: an empty directory of root's, made when missing.
if [ -n "$HAPROXY_CHROOT" ] && [ ! -d "$HAPROXY_CHROOT" ]; then
	mkdir -p "$HAPROXY_CHROOT" || exit 111
fi
[ "$(id -u)" -ne 0 ] || [ -n "$HAPROXY_USER" ] ||
	log "haproxy's workers run as root (HAPROXY_USER is empty, or there is no user haproxy)"

gpid='' hpid='' wpid='' stopping=''

# The watcher stops first, so that it never reloads a stopping haproxy:
# one signal to its process group reaches every process of its pipeline.
# The main loop stops haproxy once the watcher is gone.
stop() {
	stopping=1
	[ -n "$gpid" ] && kill -TERM "$gpid" 2>/dev/null
	[ -n "$wpid" ] && kill -TERM "-$wpid" "$wpid" 2>/dev/null
	[ -n "$hpid" ] || exit 0
}
trap stop TERM INT

# The first configuration: every key under the prefix, read once etcd
# answers (etcd-get --wait says why it waits, once a reason), rendered
# with the template.  Nothing is rendered from a failed read.  Run in the
# background, so that a signal is not held up by the wait.
data=$EASY_LB_RUN/data.json
etcd-get --wait -p "$ETCD_PREFIX/" >"$data.tmp" &
gpid=$!
wait "$gpid"
rc=$?
gpid=''
[ -n "$stopping" ] && exit 0
if [ "$rc" -ne 0 ]; then
	rm -f "$data.tmp"
	log "cannot read $ETCD_PREFIX/ from etcd (etcd-get exit $rc)"
	exit "$rc"
fi
mv -f "$data.tmp" "$data"
tmpl -d "$data" -o "$CFG.new" "$TEMPLATE" || {
	rc=$?
	log "template $TEMPLATE failed (exit $rc)"
	exit "$rc"
}
mv -f "$CFG.new" "$CFG"
out=$("$HAPROXY" -c -f "$CFG" 2>&1) || {
	log "the first config is invalid: $out"
	exit 1
}

# haproxy wants a descriptor per health-checked server: give it all the
# hard limit allows (10,000 services x 10 upstreams need about 100,000).
# shellcheck disable=SC3045 # dash and busybox sh both have these
ulimit -n "$(ulimit -H -n)" 2>/dev/null

# Set before haproxy starts: a child's end makes the loop's wait return
# (any trapped signal does), and is noted for the loop to see.
chld=""
trap 'chld=1' CHLD
"$HAPROXY" -W -db -f "$CFG" -p "$PIDFILE" -S "$MASTER_SOCK,mode,600" &
hpid=$!
log "haproxy started (master pid $hpid) on port $LB_PORT"

# start_watcher: watcher.sh in a session, so a process group, of its own
# (setsid does not fork here: a background job leads no group), whose id
# is its pid.
start_watcher() {
	setsid "$EASY_LB_SHARE/watcher.sh" &
	wpid=$!
}

# stop_watcher: TERM to the watcher's group, every process of it, and
# wait until its leader is gone.  (A group signal cannot miss a process
# being forked: the kernel restarts such a fork.  One sent before the
# watcher has made its group finds none: the watcher itself, not yet
# started, is ended by the second.)  A shell's child forked a moment ago
# can still lose a signal: it comes to the handler the child inherited,
# which the child then drops with its traps.  So the signals are sent
# again each second until the watcher is gone (a timer's end, as any
# child's, makes the wait return).
stop_watcher() {
	while kill -0 "$wpid" 2>/dev/null; do
		kill -TERM "-$wpid" 2>/dev/null
		kill -TERM "$wpid" 2>/dev/null
		sleep 1 &
		tpid=$!
		wait "$wpid"
		kill "$tpid" 2>/dev/null
	done
}

start_watcher

# Sleep until haproxy ends, or another child or a signal comes, then see
# who is gone; the first round looks before sleeping.  (Waiting for
# haproxy itself, not for every child: a haproxy that ended between the
# looks and the wait would not wake a bare wait, which also waits for the
# watcher.  A child that ended since the looks is noted in chld.)
first=1
hgone=""
while :; do
	if [ -z "$first" ] && [ -z "$chld" ]; then
		wait "$hpid"
		hrc=$?
		kill -0 "$hpid" 2>/dev/null || hgone=1
	fi
	first="" chld=""
	if [ -n "$stopping" ]; then
		stop_watcher
		kill -TERM "$hpid" 2>/dev/null
		while kill -0 "$hpid" 2>/dev/null; do
			wait
		done
		log "stopped"
		exit 0
	fi
	if [ -n "$hgone" ] || ! kill -0 "$hpid" 2>/dev/null; then
		# (its status, unless the wait above took it already)
		if [ -n "$hgone" ]; then
			rc=$hrc
		else
			wait "$hpid"
			rc=$?
		fi
		log "haproxy exited (status $rc); stopping"
		stop_watcher
		[ "$rc" -eq 0 ] && rc=1
		exit "$rc"
	fi
	if ! kill -0 "$wpid" 2>/dev/null; then
		log "watcher exited; restarting it"
		# (whatever of its pipeline still runs goes with its group)
		stop_watcher
		sleep 1
		start_watcher
	fi
done
