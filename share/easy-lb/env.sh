# shellcheck shell=sh
# Settings shared by boot.sh and watcher.sh: the 2017 image's environment
# (ETCD_PEERS, HAPROXY_STATS*) plus easy-lb's own, with their defaults.

EASY_LB_SHARE=${EASY_LB_SHARE:-$(cd "$(dirname "$0")" && pwd)}
ETCD_PREFIX=${ETCD_PREFIX:-/services}
ETCD_PREFIX=${ETCD_PREFIX%/}
LB_PORT=${LB_PORT:-80}
DEBOUNCE_MS=${DEBOUNCE_MS:-200}
EASY_LB_RUN=${EASY_LB_RUN:-/run/easy-lb}
TEMPLATE=${TEMPLATE:-$EASY_LB_SHARE/haproxy.cfg.tmpl}
HAPROXY_STATS_URI=${HAPROXY_STATS_URI:-/stats}
export EASY_LB_SHARE ETCD_PREFIX LB_PORT DEBOUNCE_MS EASY_LB_RUN TEMPLATE \
	HAPROXY_STATS_URI

# haproxy lives in /usr/sbin on Debian, which a user's PATH may lack.
if [ -z "${HAPROXY:-}" ]; then
	HAPROXY=$(command -v haproxy 2>/dev/null || echo /usr/sbin/haproxy)
fi
export HAPROXY

CFG=$EASY_LB_RUN/haproxy.cfg
MASTER_SOCK=$EASY_LB_RUN/master.sock
RUNTIME_SOCK=$EASY_LB_RUN/haproxy.sock
PIDFILE=$EASY_LB_RUN/haproxy.pid

log() {
	echo "easy-lb: $*" >&2
}

# render REV: read the prefix at revision REV (the newest state when that
# fails, e.g. compacted) and render the template into $CFG.new.  Nothing
# is rendered from a failed read: an empty config is never produced.
render() {
	_data=$EASY_LB_RUN/data.json
	if ! etcd-get -p --rev "$1" "$ETCD_PREFIX/" >"$_data.tmp" 2>"$_data.err"; then
		if ! etcd-get -p "$ETCD_PREFIX/" >"$_data.tmp" 2>"$_data.err"; then
			log "revision $1: cannot read etcd: $(cat "$_data.err")"
			return 111
		fi
	fi
	cat "$_data.err" >&2
	mv -f "$_data.tmp" "$_data"
	tmpl -d "$_data" -o "$CFG.new" "$TEMPLATE" || {
		_rc=$?
		log "revision $1: template $TEMPLATE failed (exit $_rc)"
		return "$_rc"
	}
}
