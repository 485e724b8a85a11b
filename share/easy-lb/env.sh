# shellcheck shell=sh
# Settings shared by boot.sh and watcher.sh: the 2017 image's environment
# (ETCD_PEERS, HAPROXY_STATS*) plus easy-lb's own, with their defaults.

# abs PATH: PATH as seen from the directory easy-lb was started in.  The
# balancer runs from /, as a daemon should (haproxy 2.8 and later go
# back to their starting directory after reading a config, which user
# haproxy may not enter), so relative paths in its variables are made
# absolute first.
abs() {
	case $1 in
	/* | '') printf '%s' "$1" ;;
	*) printf '%s/%s' "${PWD:-$(pwd)}" "$1" ;;
	esac
}

EASY_LB_SHARE=${EASY_LB_SHARE:-$(cd "$(dirname "$0")" && pwd)}
ETCD_PREFIX=${ETCD_PREFIX:-/services}
ETCD_PREFIX=${ETCD_PREFIX%/}
LB_PORT=${LB_PORT:-80}
DEBOUNCE_MS=${DEBOUNCE_MS:-200}
EASY_LB_RUN=$(abs "${EASY_LB_RUN:-/run/easy-lb}")
TEMPLATE=$(abs "${TEMPLATE:-$EASY_LB_SHARE/haproxy.cfg.tmpl}")
HAPROXY_STATS_URI=${HAPROXY_STATS_URI:-/stats}
# HTTPS: certificates under TLS_PREFIX, served on LB_TLS_PORT (empty: no
# HTTPS at all); TLS_DEFAULT names the one for clients without SNI.
TLS_PREFIX=${TLS_PREFIX:-/tls}
TLS_PREFIX=${TLS_PREFIX%/}
LB_TLS_PORT=${LB_TLS_PORT-443}
TLS_DEFAULT=${TLS_DEFAULT:-}
export EASY_LB_SHARE ETCD_PREFIX LB_PORT DEBOUNCE_MS EASY_LB_RUN TEMPLATE \
	HAPROXY_STATS_URI TLS_PREFIX LB_TLS_PORT TLS_DEFAULT

# haproxy lives in /usr/sbin on Debian, which a user's PATH may lack.
if [ -z "${HAPROXY:-}" ]; then
	HAPROXY=$(command -v haproxy 2>/dev/null || echo /usr/sbin/haproxy)
fi
case $HAPROXY in
*/*) HAPROXY=$(abs "$HAPROXY") ;;
esac
export HAPROXY
# (the etcd tools' certificates and key, read at each connection)
for _v in ETCDCTL_CACERT ETCDCTL_CERT ETCDCTL_KEY; do
	eval "[ -z \"\${$_v:-}\" ] || $_v=\$(abs \"\$$_v\") && export $_v"
done

# Started as root, haproxy's workers drop to HAPROXY_USER (default
# haproxy, as Debian's own unit does) in the empty HAPROXY_CHROOT once
# they have bound their ports; the master, which re-reads the config at
# each reload, stays root.  Either set empty turns that step off.  Not
# root: haproxy runs as the caller, and neither applies.
if [ "$(id -u)" -eq 0 ]; then
	if [ -z "${HAPROXY_USER+set}" ]; then
		HAPROXY_USER=haproxy
		id -u haproxy >/dev/null 2>&1 || HAPROXY_USER=""
	fi
	HAPROXY_CHROOT=$(abs "${HAPROXY_CHROOT-$EASY_LB_RUN/empty}")
else
	HAPROXY_USER="" HAPROXY_CHROOT=""
fi
HAPROXY_GROUP=""
[ -z "$HAPROXY_USER" ] || HAPROXY_GROUP=$(id -gn "$HAPROXY_USER" 2>/dev/null)
export HAPROXY_USER HAPROXY_GROUP HAPROXY_CHROOT

# haproxy counts a descriptor for every server it health-checks, on top
# of two for each connection, and by default will not start past the hard
# limit (10,000 services x 10 upstreams want about 100,000): MAXCONN set
# makes it start with the limit there is, that many connections at most.
# Default: 40 % of the hard limit, at most 100,000; empty: haproxy's own.
if [ -z "${MAXCONN+set}" ]; then
	MAXCONN=$(ulimit -H -n 2>/dev/null)
	case $MAXCONN in
	'' | *[!0-9]*) MAXCONN='' ;;
	*) MAXCONN=$((MAXCONN * 2 / 5 > 100000 ? 100000 : MAXCONN * 2 / 5)) ;;
	esac
fi
export MAXCONN

CFG=$EASY_LB_RUN/haproxy.cfg
MASTER_SOCK=$EASY_LB_RUN/master.sock
RUNTIME_SOCK=$EASY_LB_RUN/haproxy.sock
PIDFILE=$EASY_LB_RUN/haproxy.pid
# What the watcher's parts say they are doing, for easy-lb status, which
# calls the watch stale after twice PROGRESS_INTERVAL seconds without a
# word from etcd: etcd's own progress notification interval (its
# --experimental-watch-progress-notify-interval, 10 minutes by default).
STATUS_DIR=$EASY_LB_RUN/status
# The balancer's health over HTTP on LB_PORT (empty: none), answered by
# easy-lb-status --serve.
HEALTH_URI=${HEALTH_URI-/healthz}
case $HEALTH_URI in
'') ;;
/ | /*[!A-Za-z0-9/._~-]* | [!/]*)
	# (/ would take every request the default service has)
	echo "easy-lb: HEALTH_URI: \"$HEALTH_URI\" is not a path of letters, digits and / . _ ~ - other than /" >&2
	exit 100
	;;
esac
PROGRESS_INTERVAL=${PROGRESS_INTERVAL:-600}
case $PROGRESS_INTERVAL in
'' | *[!0-9]* | 0)
	echo "easy-lb: PROGRESS_INTERVAL: \"$PROGRESS_INTERVAL\" is not a number of seconds" >&2
	exit 100
	;;
esac
# (the abstract socket easy-lb-status --serve answers on, for haproxy)
STATUS_SOCKET=
if [ -n "$HEALTH_URI" ] || [ -n "${HAPROXY_PROMETHEUS:-}" ]; then
	STATUS_SOCKET=easy-lb-status$EASY_LB_RUN
fi
# The fleet key: STATUS_PREFIX/LB_ID, under a lease of STATUS_TTL
# seconds (empty STATUS_PREFIX: none).
STATUS_PREFIX=${STATUS_PREFIX-/easy-lb/balancers}
STATUS_PREFIX=${STATUS_PREFIX%/}
LB_ID=${LB_ID:-$(uname -n)}
STATUS_TTL=${STATUS_TTL:-90}
case $LB_ID in
'' | */* | *[!A-Za-z0-9._:-]*)
	echo "easy-lb: LB_ID: \"$LB_ID\" is not a name of letters, digits and . _ : -" >&2
	exit 100
	;;
esac
case $STATUS_TTL in
'' | *[!0-9]* | 0 | 1)
	echo "easy-lb: STATUS_TTL: \"$STATUS_TTL\" is not a number of seconds, 2 or more" >&2
	exit 100
	;;
esac
export STATUS_DIR HEALTH_URI PROGRESS_INTERVAL STATUS_SOCKET STATUS_PREFIX \
	LB_ID STATUS_TTL

log() {
	echo "easy-lb: $*" >&2
}
