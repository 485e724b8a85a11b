#!/bin/sh
# boot.sh: the balancer's main process.  Waits for etcd, renders the
# first config, runs haproxy in master-worker mode in the foreground and
# watcher.sh beside it.  A dead watcher is restarted; a dead haproxy ends
# everything with a non-zero status, as a container supervisor expects.
# SIGTERM or SIGINT stops everything cleanly.
set -u
# shellcheck source-path=SCRIPTDIR source=env.sh
. "$(dirname "$0")/env.sh"

mkdir -p "$EASY_LB_RUN" || exit 111
cd / || exit 111
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
hpid='' wpid='' stopping=''

# The watcher stops first, so that it never reloads a stopping haproxy;
# the main loop stops haproxy once the watcher is gone.
stop() {
	stopping=1
	[ -n "$wpid" ] && kill -TERM "$wpid" 2>/dev/null
	[ -n "$hpid" ] || exit 0
}
trap stop TERM INT

# Wait for etcd, with backoff and one message per state change.
delay=1 said=
# (asked through the prefix: a user may be allowed to read nothing else)
until rev=$(etcd-get --revision -p "$ETCD_PREFIX/" 2>"$EASY_LB_RUN/etcd.err"); do
	[ -n "$stopping" ] && exit 0
	why=$(cat "$EASY_LB_RUN/etcd.err")
	[ "$why" != "$said" ] && log "waiting for etcd: $why"
	said=$why
	sleep "$delay" &
	wait $!
	[ "$delay" -lt 16 ] && delay=$((delay * 2))
done
[ -n "$said" ] && log "etcd is up (revision $rev)"

render "$rev" || exit $?
mv -f "$CFG.new" "$CFG"
out=$("$HAPROXY" -c -f "$CFG" 2>&1) || {
	log "the first config is invalid: $out"
	exit 1
}

# haproxy wants a descriptor per health-checked server: give it all the
# hard limit allows (10,000 services x 10 upstreams need about 100,000).
# shellcheck disable=SC3045 # dash and busybox sh both have these
ulimit -n "$(ulimit -H -n)" 2>/dev/null

# Set before haproxy starts, so that an early death still wakes the loop
# below (a trapped SIGCHLD makes wait return).
trap : CHLD
"$HAPROXY" -W -db -f "$CFG" -p "$PIDFILE" -S "$MASTER_SOCK,mode,600" &
hpid=$!
log "haproxy started (master pid $hpid) on port $LB_PORT"

# A watcher that was killed leaves its etcd-watch behind: end it (after
# checking that the pid is still an etcd-watch).
end_orphan_watch() {
	_p=$(cat "$EASY_LB_RUN/etcd-watch.pid" 2>/dev/null) || return 0
	rm -f "$EASY_LB_RUN/etcd-watch.pid"
	case $(tr '\0' ' ' 2>/dev/null <"/proc/$_p/cmdline") in
	etcd-watch* | */etcd-watch*) kill -TERM "$_p" 2>/dev/null ;;
	esac
}

start_watcher() {
	"$EASY_LB_SHARE/watcher.sh" &
	wpid=$!
}

# stop_watcher: TERM the watcher and wait until it is gone.  A watcher
# forked a moment ago loses a signal that comes before the child has
# dropped this shell's trap (the exec forgets it): send it every second.
stop_watcher() {
	kill -TERM "$wpid" 2>/dev/null
	while kill -0 "$wpid" 2>/dev/null; do
		sleep 1 &
		_s=$!
		wait
		kill "$_s" 2>/dev/null
		kill -TERM "$wpid" 2>/dev/null
	done
}

# hap-reload needs the master socket: wait for it (bounded) before the
# watcher may apply anything.
i=0
while [ ! -S "$MASTER_SOCK" ] && [ $i -lt 100 ] && kill -0 "$hpid" 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
start_watcher

# Sleep until a child ends or a signal arrives, then see who is gone;
# the first round looks before sleeping, for a haproxy already gone.
first=1
while :; do
	[ -n "$first" ] || wait
	first=""
	if [ -n "$stopping" ]; then
		# wait returns at every SIGCHLD: wait until each is gone
		stop_watcher
		end_orphan_watch
		kill -TERM "$hpid" 2>/dev/null
		while kill -0 "$hpid" 2>/dev/null; do
			wait
		done
		log "stopped"
		exit 0
	fi
	if ! kill -0 "$hpid" 2>/dev/null; then
		wait "$hpid"
		rc=$?
		log "haproxy exited (status $rc); stopping"
		stop_watcher
		end_orphan_watch
		[ "$rc" -eq 0 ] && rc=1
		exit "$rc"
	fi
	if ! kill -0 "$wpid" 2>/dev/null; then
		log "watcher exited; restarting it"
		end_orphan_watch
		sleep 1
		start_watcher
	fi
done
