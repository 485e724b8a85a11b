/* easy-lb status: what a balancer is doing, read from what its parts
 * keep in RUN_DIR/status (boot.sh's "balancer", tmpl --status, hap-reload
 * --status, hap-certs --status), the locks that say which of them run,
 * and haproxy's master CLI; then said as text, JSON or Prometheus
 * metrics.  easy-lb-status(1) documents each. */
#ifndef EASYLB_STATUS_REPORT_H
#define EASYLB_STATUS_REPORT_H

#include "haproxy/haproxy.h"
#include "util/util.h"

struct services;

enum { HEALTHY = 0, DEGRADED = 1, DOWN = 2 };

/* One status file: lines of a word and fields. */
struct facts {
	struct buf text;
};

struct status {
	const char *dir;
	struct facts balancer, first, tmpl, reload, certs;
	int state;	    /* HEALTHY, DEGRADED or DOWN */
	struct buf reasons; /* why not healthy, one a line */
	double now;	    /* seconds since the epoch */
	double seen, seen_at, live, lag, lag_s, stale_after;
	int stale;
	int skipped; /* warnings of the live render: keys left out */
	int boot, watcher,
	    haproxy;	      /* their locks held: 1, free: 0, unknown: -1 */
	struct hap_proc proc; /* "show proc", when have_proc */
	int have_proc;
	char proc_err[256];
	/* --services: read by the caller (services.h), said with the rest */
	const struct services *services;
};

/* Read everything of the balancer on dir into s and judge it. */
void status_read(struct status *s, const char *dir);
void status_free(struct status *s);
const char *status_state(const struct status *s);

/* s said into o: for a human, as one JSON object, as Prometheus text
 * metrics. */
void status_text(struct buf *o, const struct status *s);
void status_json(struct buf *o, const struct status *s);
void status_metrics(struct buf *o, const struct status *s);
/* One line of JSON, what the fleet key in etcd holds: what an apply
 * changes, nothing that changes with time alone. */
void status_fleet(struct buf *o, const struct status *s);

#endif
