#!/bin/sh
# boot.sh: the balancer's main process.  Once etcd answers it renders the
# first config, runs haproxy in master-worker mode in the foreground and
# watcher.sh beside it, each in a process group of its own.  A dead
# watcher is restarted; a dead haproxy ends everything with a non-zero
# status, as a container supervisor expects.  SIGTERM or SIGINT stops
# everything cleanly.
#
# Nothing here asks a shell when it reaps a child, nor /proc.  Locks
# (flock(1), on files in EASY_LB_RUN) say what is alive, since a lock
# is released when the last process holding it ends, reaped or not:
#   boot.lock       this script's alone: one balancer per EASY_LB_RUN;
#   watcher.lock    every process of the watcher's pipeline inherits it:
#                   free once the last of them has ended;
#   watcher.leader  the watcher's shell alone: free once it has ended;
#   haproxy.lock    haproxy's master and workers inherit it (and keep it
#                   across reloads): free once the last of them ended.
# A process group's id is not enough on its own: a process that ended is
# still a member until something reaps it, and an init that reaps
# nothing (a plain VM's, a container's) keeps it there for good.
# What happens comes to the main loop as lines on a pipe (a self-pipe,
# in skarnet's sense): haproxy's end, the watcher's end, and the signals
# trapped, so no event is lost between a look and a wait.
set -u
set +m
# shellcheck source-path=SCRIPTDIR source=env.sh
. "$(dirname "$0")/env.sh"

mkdir -p "$EASY_LB_RUN" || exit 111
cd / || exit 111
# Every process of this balancer carries it: how to find them all.
EASY_LB_BALANCER=$EASY_LB_RUN
export EASY_LB_BALANCER
STOP_GRACE=${STOP_GRACE:-10}
case $STOP_GRACE in
'' | *[!0-9]*)
	log "STOP_GRACE: \"$STOP_GRACE\" is not a number of seconds"
	exit 100
	;;
esac
WLOCK=$EASY_LB_RUN/watcher.lock
WLEADER=$EASY_LB_RUN/watcher.leader
HLOCK=$EASY_LB_RUN/haproxy.lock

# One balancer per run directory: the second one says whose it is.
# (The holder writes its pid just after it has the lock: wait a moment
# for it.)
exec 7>>"$EASY_LB_RUN/boot.lock" || exit 111
if ! flock -n 7; then
	holder=$(cat "$EASY_LB_RUN/boot.pid" 2>/dev/null)
	if [ -z "$holder" ]; then
		sleep 1
		holder=$(cat "$EASY_LB_RUN/boot.pid" 2>/dev/null)
	fi
	log "another balancer (boot.sh, pid ${holder:-unknown}) runs on $EASY_LB_RUN; stop it first, or give this one an EASY_LB_RUN of its own"
	exit 111
fi
echo "$$" >"$EASY_LB_RUN/boot.pid"

# What easy-lb status reads (easy-lb(1), STATUS): this balancer's own
# facts, then what the watcher's parts write as they go; nothing of an
# earlier balancer's.  (ETCD_PEERS, the 2017 name, when ETCDCTL_ENDPOINTS
# is not set, as the etcd tools read them.)
mkdir -p "$STATUS_DIR" || exit 111
rm -f "$STATUS_DIR/etcd-get" "$STATUS_DIR/tmpl" "$STATUS_DIR/hap-reload" \
	"$STATUS_DIR/certs"
{
	echo "endpoints ${ETCDCTL_ENDPOINTS:-${ETCD_PEERS:-http://127.0.0.1:2379}}"
	echo "prefix $ETCD_PREFIX/"
	echo "port $LB_PORT"
	echo "progress-interval $PROGRESS_INTERVAL"
	[ -z "$STATUS_SOCKET" ] || echo "status-socket $STATUS_SOCKET"
	echo "started $$ $(date +%s)"
} >"$STATUS_DIR/balancer.tmp" && mv -f "$STATUS_DIR/balancer.tmp" "$STATUS_DIR/balancer" || exit 111

# The event pipe, on fd 6: a FIFO opened for reading and writing (so
# that it never reads an end) and unlinked at once, so that what an
# earlier balancer left behind writes to a pipe of its own.
events=$EASY_LB_RUN/events
rm -f "$events"
mkfifo -m 600 "$events" || exit 111
exec 6<>"$events" || exit 111
rm -f "$events"

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

gpid='' hpid='' hrc='' wpid='' wgen=0 wdead='' stopping='' failed=0
trapped=''

# stop: the main loop stops the watcher first, so that it never reloads
# a stopping haproxy, then haproxy.
stop() {
	stopping=1 trapped=1
	[ -z "$gpid" ] || kill -TERM "$gpid" 2>/dev/null
	echo stop >&6
}
trap stop TERM INT

# stop_group PGID LOCK WHAT: TERM to process group PGID, wait until
# nothing holds LOCK (every process of the group inherited it), KILL the
# group after STOP_GRACE seconds.  A group not made yet (its leader is
# still starting) is signalled again until it is there.
stop_group() {
	_n=0
	until kill -TERM "-$1" 2>/dev/null; do
		flock -w 1 "$2" true && return 0
		_n=$((_n + 1))
		[ "$_n" -lt 5 ] || break
	done
	flock -w "$STOP_GRACE" "$2" true && return 0
	log "$3 still running $STOP_GRACE s after SIGTERM; killing it"
	kill -KILL "-$1" 2>/dev/null
	flock -w 5 "$2" true || log "$3 still holds $2 after SIGKILL"
}

# stop_leftover LOCK PGIDFILE WHAT: what an earlier balancer on this
# directory left running when it was killed (SIGKILL gives it no time
# to stop anything), known by the lock it still holds, stopped by the
# process group it recorded.
stop_leftover() {
	flock -n "$1" true && return 0
	_old=$(cat "$2" 2>/dev/null)
	if [ -n "$_old" ]; then
		log "stopping the $3 an earlier balancer left running (process group $_old)"
		stop_group "$_old" "$1" "the earlier $3"
	fi
	flock -n "$1" true && return 0
	log "the processes of an earlier $3 still hold $1; stop them first"
	exit 111
}
stop_leftover "$WLOCK" "$EASY_LB_RUN/watcher.pgid" watcher
stop_leftover "$HLOCK" "$EASY_LB_RUN/haproxy.pgid" haproxy
rm -f "$EASY_LB_RUN/watcher.pgid" "$EASY_LB_RUN/haproxy.pgid"

# The first configuration: every key under the prefix, read once etcd
# answers (etcd-get --wait says why it waits, once a reason, on stderr
# and to easy-lb status), rendered with the template.  Nothing is
# rendered from a failed read.  Run in the background, so that a signal
# is not held up by the wait.
data=$EASY_LB_RUN/data.json
etcd-get --wait --status "$STATUS_DIR/etcd-get" -p "$ETCD_PREFIX/" \
	>"$data.tmp" 6>&- 7>&- &
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
# (hap-reload checks it with haproxy -c, and puts it and its maps in
# place, atomically)
out=$(hap-reload --install -f "$CFG" "$CFG.new" 2>&1) || {
	log "the first config is invalid: $out"
	exit 1
}

# haproxy wants a descriptor per health-checked server: give it all the
# hard limit allows (10,000 services x 10 upstreams need about 100,000).
# shellcheck disable=SC3045 # dash and busybox sh both have these
ulimit -n "$(ulimit -H -n)" 2>/dev/null

# haproxy, in a process group of its own (setsid does not fork here: a
# background job leads no group) holding haproxy.lock, under a subshell
# that waits for it and says when it ended: "haproxy PID", then
# "haproxy-exit STATUS".
exec 5>>"$HLOCK" || exit 111
flock -n 5 || {
	log "something else holds $HLOCK"
	exit 111
}
(
	setsid "$HAPROXY" -W -db -f "$CFG" -p "$PIDFILE" -S "$MASTER_SOCK,mode,600" 6>&- &
	exec 5>&-
	echo "$!" >"$EASY_LB_RUN/haproxy.pgid"
	echo "haproxy $!" >&6
	wait "$!"
	echo "haproxy-exit $?" >&6
) 7>&- &
rpid=$!
exec 5>&-

# event: one line from the event pipe into ev and arg; none when a
# trapped signal ended the read (the trap set what it had to).
event() {
	ev='' arg=''
	read -r ev arg <&6 || return 0
	case $ev in
	haproxy) hpid=$arg ;;
	haproxy-exit) hrc=$arg ;;
	watcher-gone) [ "$arg" != "$wgen" ] || wdead=1 ;;
	esac
}

# start_watcher: watcher.sh in a process group of its own, whose id is
# its pid, holding both watcher locks, taken here before it starts so
# that they are never seen free while it runs.  A waiter (flock on the
# leader's lock) says "watcher-gone GEN" once the watcher's shell ended.
start_watcher() {
	wgen=$((wgen + 1)) wdead=''
	exec 8>>"$WLEADER" 9>>"$WLOCK"
	if ! flock -w 5 8 || ! flock -w 5 9; then
		exec 8>&- 9>&-
		log "something else holds $WLEADER or $WLOCK; stopping"
		stopping=1 failed=111
		return
	fi
	setsid "$EASY_LB_SHARE/watcher.sh" 6>&- 7>&- &
	wpid=$!
	echo "$wpid" >"$EASY_LB_RUN/watcher.pgid"
	exec 8>&- 9>&-
	flock "$WLEADER" echo "watcher-gone $wgen" >&6 7>&- &
}

# stop_watcher: the watcher's whole group, by its id, whatever became of
# its leader.  (Its waiter, left alone, says so once the leader's lock
# is free, with a generation no longer wanted, and ends.)
stop_watcher() {
	[ -n "$wpid" ] || return 0
	stop_group "$wpid" "$WLOCK" "the watcher (process group $wpid)"
	wpid='' wdead=''
}

# stop_haproxy: TERM to the master, which stops its workers, and wait
# for the subshell that waits for it; then to what is left of its group
# (workers, when the master was killed), until none holds the lock.
stop_haproxy() {
	# (a pid not said yet: the subshell was stopped before it could)
	[ -n "$hpid" ] || hpid=$(cat "$EASY_LB_RUN/haproxy.pgid" 2>/dev/null)
	[ -z "$hpid" ] || kill -TERM "$hpid" 2>/dev/null
	# (over 128 after a trap ran: the signal ended the wait, not the
	# subshell, so wait again; over 128 with no trap: the subshell was
	# ended by a signal, as when a whole process group is signalled (a
	# supervisor's stop, a terminal's ^C), and each wait says so again
	# at once)
	while :; do
		trapped=''
		wait "$rpid"
		if [ "$?" -le 128 ] || [ -z "$trapped" ]; then
			break
		fi
	done
	[ -z "$hpid" ] || stop_group "$hpid" "$HLOCK" "haproxy (process group $hpid)"
}

# haproxy's pid comes first, before anything else can happen to it.
while [ -z "$hpid$stopping" ]; do
	event
done
if [ -n "$hpid" ]; then
	log "haproxy started (master pid $hpid) on port $LB_PORT"
	start_watcher
fi

while :; do
	[ -n "$stopping$hrc$wdead" ] || event
	if [ -n "$stopping" ]; then
		stop_watcher
		stop_haproxy
		log "stopped"
		exit "$failed"
	fi
	if [ -n "$hrc" ]; then
		log "haproxy exited (status $hrc); stopping"
		stop_watcher
		stop_haproxy
		[ "$hrc" -eq 0 ] && hrc=1
		exit "$hrc"
	fi
	if [ -n "$wdead" ]; then
		log "watcher exited; restarting it"
		stop_watcher
		sleep 1
		[ -n "$stopping$hrc" ] || start_watcher
	fi
done
