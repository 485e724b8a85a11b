/* easy-lb status: reading and judging (see report.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/jsonw.h"
#include "report.h"
#include "services.h"

static const char *const states[] = {"healthy", "degraded", "down"};

/* A certificate that expires within this many days degrades. */
#define EXPIRY_DAYS 14
/* A change seen and not live for this many seconds degrades: an apply
 * takes a second or two, a reload at 10,000 services a few more. */
#define LAG_BOUND 10

/* hap-reload's "runs" line, in order, and what the metrics call each. */
static const char *const runs[] = {"runtime", "reloaded", "unchanged",
				   "installed", "failed"};
enum { NRUNS = sizeof(runs) / sizeof(runs[0]) };

/* The nth line of f that starts with word and a space (fact_line). */
static const char *
fact(const struct facts *f, const char *word, int nth, size_t *n)
{
	return fact_line(&f->text, word, nth, n);
}

/* Field i (from 0) of a line s[0, n) as a number into *num (when num is
 * not NULL), and the line from field i on into *rest.  -1 when there is
 * no such field, or it is no number. */
static int
field(const char *s, size_t n, int i, double *num, const char **rest,
      size_t *rlen)
{
	size_t at = 0, e;
	char tmp[64], *end;

	for (; i > 0; i--) {
		while (at < n && s[at] != ' ')
			at++;
		if (at++ >= n)
			return -1;
	}
	for (e = at; e < n && s[e] != ' '; e++)
		;
	if (num) {
		if (e == at || e - at >= sizeof(tmp))
			return -1;
		memcpy(tmp, s + at, e - at);
		tmp[e - at] = '\0';
		*num = strtod(tmp, &end);
		if (*end)
			return -1;
	}
	if (rest) {
		*rest = s + at;
		*rlen = n - at;
	}
	return 0;
}

/* Field i of the first line word as a number, else dflt. */
static double
num_of(const struct facts *f, const char *word, int i, double dflt)
{
	const char *s;
	size_t n;
	double v;

	s = fact(f, word, 0, &n);
	return s && field(s, n, i, &v, NULL, NULL) == 0 ? v : dflt;
}

/* Whether what holds lock path (flock, exclusive) runs: 1; 0 when
 * nothing holds it; -1 when it cannot be told. */
static int
held(const char *dir, const char *name)
{
	char path[4096];
	int fd, r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -1;
	/* (shared, and let go at once: the balancer's own takes of these
	 * locks wait for it) */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0)
		r = 0;
	else
		r = errno == EWOULDBLOCK ? 1 : -1;
	close(fd);
	return r;
}

/* Whether something answers on the abstract socket name (as haproxy's
 * abns@ has it: the whole of sun_path). */
static int
answers_on(const char *name, size_t n)
{
	struct sockaddr_un a;
	int fd, r;

	if (hap_abns(name, n, &a) < 0)
		return 0;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	r = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return r;
}

static void
load(const char *dir, const char *name, struct facts *f)
{
	char path[4096], err[256];

	snprintf(path, sizeof(path), "%s/status/%s", dir, name);
	if (read_file(path, &f->text, err, sizeof(err)) < 0)
		buf_free(&f->text);
}

static void reason(struct status *s, int state, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
reason(struct status *s, int state, const char *fmt, ...)
{
	va_list ap;

	if (state > s->state)
		s->state = state;
	va_start(ap, fmt);
	buf_vprintf(&s->reasons, fmt, ap);
	va_end(ap);
	buf_puts(&s->reasons, "\n");
}

/* Certificate i: its name (*nn bytes), expiry (-1: unknown) and
 * subject; -1 past the last. */
static int
cert_at(const struct status *s, int i, const char **name, size_t *nn,
	double *not_after, const char **subj, size_t *sn)
{
	const char *l;
	size_t n;

	if (!(l = fact(&s->certs, "cert", i, &n)))
		return -1;
	*name = l;
	*nn = strcspn(l, " ");
	if (*nn > n)
		*nn = n;
	if (field(l, n, 1, not_after, NULL, NULL) < 0)
		*not_after = -1;
	if (field(l, n, 2, NULL, subj, sn) < 0) {
		*subj = "";
		*sn = 0;
	}
	return 0;
}

/* The revision live in haproxy: hap-reload's last applied one, A; when A
 * is tmpl's newest file, what tmpl rendered since (its "rendered" is the
 * revision its output is current to).  The lag in revisions and in
 * seconds since the first change not live came. */
static void
lag(struct status *s)
{
	const struct facts *t = &s->tmpl;
	double a = num_of(&s->reload, "applied", 0, -1);
	double o = num_of(t, "out", 0, -1), r = num_of(t, "rendered", 0, -1);
	double since = -1, rev, v;
	const char *l;
	size_t n;
	int i;

	s->live = a >= 0 && a >= o && r > a ? r : a;
	s->lag = s->live >= 0 && s->seen >= 0 ? s->seen - s->live : -1;
	s->lag_s = 0;
	if (s->lag <= 0)
		return;
	/* (the oldest file newer than what is live, else the changes
	 * waiting for a render) */
	for (i = 0; (l = fact(t, "out", i, &n)); i++)
		if (field(l, n, 0, &rev, NULL, NULL) == 0 && rev > s->live &&
		    field(l, n, 1, &v, NULL, NULL) == 0)
			since = v;
	if (since < 0)
		since = num_of(t, "pending", 0, -1);
	if (since >= 0 && s->now > since)
		s->lag_s = s->now - since;
}

static void
judge(struct status *s)
{
	const char *name, *subj, *l, *why;
	size_t nn, sn, n, wn;
	double na, since;
	int i;

	if (!s->balancer.text.p)
		reason(s, DOWN, "no balancer has run on %s", s->dir);
	/* (boot.sh's first read, before haproxy starts: etcd-get --status) */
	if (s->boot == 1 && s->haproxy == 0 &&
	    (l = fact(&s->first, "waiting", 0, &n)) &&
	    field(l, n, 0, &since, NULL, NULL) == 0 &&
	    field(l, n, 1, NULL, &why, &wn) == 0)
		reason(s, DOWN, "the balancer waits for etcd (%.0f s): %.*s",
		       s->now - since, (int)wn, why);
	if (s->haproxy == 0 && !s->have_proc)
		reason(s, DOWN, "haproxy is not running");
	if (s->watcher == 0)
		reason(s, DOWN, "the watcher is not running");
	if (s->watcher == 1 &&
	    (l = fact(&s->balancer, "status-socket", 0, &n)) &&
	    !answers_on(l, n))
		reason(
		    s, DEGRADED,
		    "easy-lb-status --serve does not answer on %.*s: HEALTH_URI fails",
		    (int)n, l);
	if (s->watcher == 1 && !s->tmpl.text.p)
		reason(s, DEGRADED,
		       "the watcher has read nothing from etcd yet");
	if ((l = fact(&s->tmpl, "lost", 0, &n)) &&
	    field(l, n, 0, &since, NULL, NULL) == 0 &&
	    field(l, n, 1, NULL, &why, &wn) == 0) {
		s->stale = 1;
		reason(s, DEGRADED, "the watch is lost (%.0f s): %.*s",
		       s->now - since, (int)wn, why);
	} else if (s->seen_at >= 0 && s->now - s->seen_at > s->stale_after) {
		s->stale = 1;
		reason(
		    s, DEGRADED,
		    "the watch is stale: nothing from etcd for %.0f s (more than %.0f s)",
		    s->now - s->seen_at, s->stale_after);
	}
	if (s->lag > 0 && s->lag_s > LAG_BOUND)
		reason(
		    s, DEGRADED,
		    "behind etcd: %.0f revisions seen and not live for %.0f s",
		    s->lag, s->lag_s);
	if (fact(&s->reload, "last", 0, &n) &&
	    num_of(&s->reload, "last", 2, 0) != 0)
		reason(s, DEGRADED, "the last apply failed (revision %.0f)",
		       num_of(&s->reload, "last", 0, -1));
	if (fact(&s->tmpl, "error", 0, &n))
		reason(s, DEGRADED, "the last render did not go out");
	for (i = 0; cert_at(s, i, &name, &nn, &na, &subj, &sn) == 0; i++)
		if (na >= 0 && na - s->now < EXPIRY_DAYS * 86400.0)
			reason(s, DEGRADED, "certificate %.*s %s %.1f days",
			       (int)nn, name,
			       na > s->now ? "expires in" : "expired",
			       (na > s->now ? na - s->now : s->now - na) /
				   86400);
}

void
status_read(struct status *s, const char *dir)
{
	struct buf reply = {0};
	struct timespec ts;
	char path[4096];
	size_t n;
	int i;

	memset(s, 0, sizeof(*s));
	s->dir = dir;
	clock_gettime(CLOCK_REALTIME, &ts);
	s->now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	load(dir, "balancer", &s->balancer);
	load(dir, "etcd-get", &s->first);
	load(dir, "tmpl", &s->tmpl);
	load(dir, "hap-reload", &s->reload);
	load(dir, "certs", &s->certs);
	s->boot = held(dir, "boot.lock");
	s->haproxy = held(dir, "haproxy.lock");
	s->watcher = held(dir, "watcher.lock");
	snprintf(path, sizeof(path), "%s/master.sock", dir);
	if (hap_command(path, "show proc", now_ms() + 1000, &reply, s->proc_err,
			sizeof(s->proc_err)) == 0 &&
	    hap_parse_proc(reply.p ? reply.p : "", &s->proc, s->proc_err,
			   sizeof(s->proc_err)) == 0)
		s->have_proc = 1;
	buf_free(&reply);
	s->seen = num_of(&s->tmpl, "seen", 0, -1);
	for (i = 0; fact(&s->tmpl, "warning", i, &n); i++)
		s->skipped++;
	s->seen_at = num_of(&s->tmpl, "seen", 1, -1);
	s->stale_after = 2 * num_of(&s->balancer, "progress-interval", 0, 600);
	lag(s);
	judge(s);
}

void
status_free(struct status *s)
{
	buf_free(&s->balancer.text);
	buf_free(&s->first.text);
	buf_free(&s->tmpl.text);
	buf_free(&s->reload.text);
	buf_free(&s->certs.text);
	buf_free(&s->reasons);
	if (s->have_proc)
		hap_proc_free(&s->proc);
}

const char *
status_state(const struct status *s)
{
	return states[s->state];
}

/* --- for a human -------------------------------------------------- */

static const char *
ago(double now, double t, char *out, size_t len)
{
	double d = now - t;

	if (t < 0)
		snprintf(out, len, "never");
	else if (d < 120)
		snprintf(out, len, "%.1f s ago", d < 0 ? 0 : d);
	else if (d < 7200)
		snprintf(out, len, "%.0f min ago", d / 60);
	else
		snprintf(out, len, "%.1f h ago", d / 3600);
	return out;
}

/* A hap-reload line (last, applied, failed) for a human: revision, when,
 * what it said (from field msg on). */
static void
text_run(struct buf *o, const struct status *s, const char *label,
	 const char *word, int msg)
{
	const char *l, *r;
	size_t n, rn;
	double at;
	char a[64];

	if (!(l = fact(&s->reload, word, 0, &n)) ||
	    field(l, n, 1, &at, NULL, NULL) < 0 ||
	    field(l, n, msg, NULL, &r, &rn) < 0) {
		buf_printf(o, "%-12s none\n", label);
		return;
	}
	buf_printf(o, "%-12s revision %.*s, %s: %.*s\n", label,
		   (int)strcspn(l, " "), l, ago(s->now, at, a, sizeof(a)),
		   (int)rn, r);
}

void
status_text(struct buf *o, const struct status *s)
{
	const char *l, *name, *subj, *r;
	size_t n, nn, sn, rn, i;
	char a[64], date[32];
	double na;
	time_t tt;
	int k;

	buf_printf(o, "easy-lb on %s: %s\n", s->dir, states[s->state]);
	for (l = s->reasons.p; l && *l; l = strchr(l, '\n') + 1)
		buf_printf(o, "  %.*s\n", (int)strcspn(l, "\n"), l);
	if ((l = fact(&s->balancer, "endpoints", 0, &n)))
		buf_printf(o, "etcd:        %.*s\n", (int)n, l);
	if ((l = fact(&s->balancer, "prefix", 0, &n)))
		buf_printf(o, "prefix:      %.*s\n", (int)n, l);
	if (s->seen >= 0)
		buf_printf(o, "seen:        revision %.0f, %s\n", s->seen,
			   ago(s->now, s->seen_at, a, sizeof(a)));
	if (s->live >= 0)
		buf_printf(
		    o,
		    "live:        revision %.0f, lag %.0f revisions, %.1f s\n",
		    s->live, s->lag, s->lag_s);
	text_run(o, s, "last apply:", "last", 3);
	text_run(o, s, "last error:", "failed", 2);
	if ((l = fact(&s->tmpl, "error", 0, &n)) &&
	    field(l, n, 1, NULL, &r, &rn) == 0)
		buf_printf(o, "render:      failed: %.*s\n", (int)rn, r);
	buf_puts(o, "applies:    ");
	for (i = 0; i < NRUNS; i++)
		buf_printf(o, "%s %.0f %s", i ? "," : "",
			   num_of(&s->reload, "runs", (int)i, 0), runs[i]);
	buf_puts(o, "\n");
	if (s->have_proc) {
		buf_printf(o, "haproxy:     master %ld, %ld reloads, workers",
			   s->proc.master_pid, s->proc.reloads);
		for (i = 0; i < s->proc.nworkers; i++)
			buf_printf(o, " %ld", s->proc.workers[i].pid);
		buf_puts(o, "\n");
	} else {
		buf_printf(o, "haproxy:     %s (master CLI: %s)\n",
			   s->haproxy == 1 ? "running" : "not running",
			   s->proc_err);
	}
	for (k = 0; cert_at(s, k, &name, &nn, &na, &subj, &sn) == 0; k++) {
		tt = (time_t)(na < 0 ? 0 : na);
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&tt));
		buf_printf(o, "%-12s %.*s, expires %s (%.*s)\n",
			   k ? "" : "certificate:", (int)nn, name, date,
			   (int)sn, subj);
	}
	buf_printf(o, "skipped:     %d\n", s->skipped);
	for (k = 0; (l = fact(&s->tmpl, "warning", k, &n)); k++)
		buf_printf(o, "  %.*s\n", (int)n, l);
	if (s->services)
		services_text(o, s->services);
}

/* --- JSON ----------------------------------------------------------- */

/* A JSON string of s[0, n), shown byte by byte where it is not UTF-8. */
static void
jstr(struct buf *o, const char *s, size_t n)
{
	struct buf t = {0};

	if (utf8_valid(s, n)) {
		json_str(o, s, n);
		return;
	}
	show_bytes(&t, s, n, n);
	json_str(o, t.p ? t.p : "", t.len);
	buf_free(&t);
}

/* A number, or null when v < 0; nd decimals. */
static void
jnum(struct buf *o, double v, int nd)
{
	if (v < 0)
		buf_puts(o, "null");
	else
		buf_printf(o, "%.*f", nd, v);
}

/* Field i on of the first line word, as a string; null without it. */
static void
jrest(struct buf *o, const struct facts *f, const char *word, int i)
{
	const char *l, *r;
	size_t n, rn;

	if ((l = fact(f, word, 0, &n)) && field(l, n, i, NULL, &r, &rn) == 0)
		jstr(o, r, rn);
	else
		buf_puts(o, "null");
}

/* A hap-reload line as {"revision", "at", [exit, ok,] "message"}. */
static void
jrun(struct buf *o, const struct facts *h, const char *word)
{
	int last = !strcmp(word, "last");
	double code = num_of(h, word, 2, 0);
	size_t n;

	if (!fact(h, word, 0, &n)) {
		buf_puts(o, "null");
		return;
	}
	buf_puts(o, "{\"revision\":");
	jnum(o, num_of(h, word, 0, -1), 0);
	buf_puts(o, ",\"at\":");
	jnum(o, num_of(h, word, 1, -1), 3);
	if (last)
		buf_printf(o, ",\"exit\":%.0f,\"ok\":%s", code,
			   code == 0 ? "true" : "false");
	buf_puts(o, ",\"message\":");
	jrest(o, h, word, last ? 3 : 2);
	buf_puts(o, "}");
}

/* {"state", "reasons": the reasons, for the fleet each without what
 * changes with time (how long a watch has been lost) */
static void
jhead(struct buf *o, const struct status *s, int fleet)
{
	const char *l;
	size_t n;
	int k;

	buf_printf(o, "{\"state\":\"%s\",\"reasons\":[", states[s->state]);
	for (l = s->reasons.p, k = 0; l && *l; l = strchr(l, '\n') + 1, k++) {
		buf_puts(o, k ? "," : "");
		n = strcspn(l, "\n");
		if (fleet && !strncmp(l, "the watch is", 12))
			n = strcspn(l, "(:\n");
		jstr(o, l, n);
	}
	buf_puts(o, "]");
}

/* haproxy's master, reloads and workers; without the master CLI, null
 * (fleet) or its error. */
static void
jhaproxy(struct buf *o, const struct status *s, int fleet)
{
	size_t i;

	if (!s->have_proc && fleet) {
		buf_puts(o, "null");
		return;
	}
	buf_printf(o, "{\"running\":%s",
		   s->haproxy == 1 || s->have_proc ? "true" : "false");
	if (!s->have_proc) {
		buf_puts(o, ",\"error\":");
		jstr(o, s->proc_err, strlen(s->proc_err));
		buf_puts(o, "}");
		return;
	}
	buf_printf(o, ",\"master\":%ld,\"reloads\":%ld,\"workers\":[",
		   s->proc.master_pid, s->proc.reloads);
	for (i = 0; i < s->proc.nworkers; i++)
		buf_printf(o, "%s%ld", i ? "," : "", s->proc.workers[i].pid);
	buf_puts(o, "]}");
}

/* The certificates: name, not_after, and but for the fleet subject. */
static void
jcerts(struct buf *o, const struct status *s, int fleet)
{
	const char *name, *subj;
	size_t nn, sn;
	double na;
	int k;

	buf_puts(o, "[");
	for (k = 0; cert_at(s, k, &name, &nn, &na, &subj, &sn) == 0; k++) {
		buf_puts(o, k ? ",{\"name\":" : "{\"name\":");
		jstr(o, name, nn);
		buf_puts(o, ",\"not_after\":");
		jnum(o, na, 0);
		if (!fleet) {
			buf_puts(o, ",\"subject\":");
			jstr(o, subj, sn);
		}
		buf_puts(o, "}");
	}
	buf_puts(o, "]");
}

void
status_json(struct buf *o, const struct status *s)
{
	const char *l;
	size_t n, i;
	int k;

	jhead(o, s, 0);
	buf_puts(o, ",\"run_dir\":");
	jstr(o, s->dir, strlen(s->dir));
	buf_puts(o, ",\"etcd\":{\"endpoints\":");
	jrest(o, &s->balancer, "endpoints", 0);
	buf_puts(o, ",\"prefix\":");
	jrest(o, &s->balancer, "prefix", 0);
	buf_puts(o, "},\"revision\":{\"seen\":");
	jnum(o, s->seen, 0);
	buf_puts(o, ",\"live\":");
	jnum(o, s->live, 0);
	buf_puts(o, ",\"lag\":");
	jnum(o, s->lag, 0);
	buf_printf(o,
		   ",\"lag_seconds\":%.3f},\"watch\":{\"seen_at\":", s->lag_s);
	jnum(o, s->seen_at, 3);
	buf_puts(o, ",\"progress_at\":");
	jnum(o, num_of(&s->tmpl, "progress", 0, -1), 3);
	buf_puts(o, ",\"lost\":");
	jrest(o, &s->tmpl, "lost", 1);
	buf_puts(o, ",\"lost_since\":");
	jnum(o, num_of(&s->tmpl, "lost", 0, -1), 3);
	buf_printf(o, ",\"stale\":%s,\"stale_after\":%.0f,\"resyncs\":",
		   s->stale ? "true" : "false", s->stale_after);
	jnum(o, num_of(&s->tmpl, "resyncs", 0, 0), 0);
	buf_puts(o, ",\"reconnects\":");
	jnum(o, num_of(&s->tmpl, "reconnects", 0, 0), 0);
	buf_puts(o, "},\"render\":{\"revision\":");
	jnum(o, num_of(&s->tmpl, "rendered", 0, -1), 0);
	buf_puts(o, ",\"at\":");
	jnum(o, num_of(&s->tmpl, "rendered", 1, -1), 3);
	buf_puts(o, ",\"pending_since\":");
	jnum(o, num_of(&s->tmpl, "pending", 0, -1), 3);
	buf_puts(o, ",\"error\":");
	jrest(o, &s->tmpl, "error", 1);
	buf_puts(o, "},\"last_apply\":");
	jrun(o, &s->reload, "last");
	buf_puts(o, ",\"last_applied\":");
	jrun(o, &s->reload, "applied");
	buf_puts(o, ",\"last_error\":");
	jrun(o, &s->reload, "failed");
	buf_puts(o, ",\"applies\":{");
	for (i = 0; i < NRUNS; i++)
		buf_printf(o, "%s\"%s\":%.0f", i ? "," : "", runs[i],
			   num_of(&s->reload, "runs", (int)i, 0));
	buf_printf(o, "},\"watcher\":%s,\"haproxy\":",
		   s->watcher == 1 ? "true" : "false");
	jhaproxy(o, s, 0);
	buf_puts(o, ",\"certificates\":");
	jcerts(o, s, 0);
	buf_puts(o, ",\"skipped\":[");
	for (k = 0; (l = fact(&s->tmpl, "warning", k, &n)); k++) {
		buf_puts(o, k ? "," : "");
		jstr(o, l, n);
	}
	buf_puts(o, "]");
	if (s->services) {
		buf_puts(o, ",\"services\":");
		services_json(o, s->services);
	}
	buf_puts(o, "}\n");
}

void
status_fleet(struct buf *o, const struct status *s)
{
	/* (what changes with an apply, not with time: a progress
	 * notification writes nothing) */
	jhead(o, s, 1);
	buf_puts(o, ",\"revision\":");
	jnum(o, s->live, 0);
	buf_puts(o, ",\"last_apply\":");
	jrun(o, &s->reload, "last");
	buf_puts(o, ",\"last_error\":");
	jrun(o, &s->reload, "failed");
	buf_puts(o, ",\"haproxy\":");
	jhaproxy(o, s, 1);
	buf_puts(o, ",\"certificates\":");
	jcerts(o, s, 1);
	buf_printf(o, ",\"skipped\":%d}\n", s->skipped);
}

/* --- Prometheus ----------------------------------------------------- */

/* A label value: backslash, double quote and newline escaped. */
static void
plabel(struct buf *o, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] == '\\' || s[i] == '"')
			buf_printf(o, "\\%c", s[i]);
		else if (s[i] == '\n')
			buf_puts(o, "\\n");
		else
			buf_add(o, s + i, 1);
}

/* The metrics of one value each: name, type, help, and where the value
 * is: a member of struct status (an int or a double), the first field of
 * a line of tmpl's status file, a field of hap-reload's "runs" line, or
 * the number of warnings. */
enum src { S_INT, S_DBL, S_TMPL, S_RUNS };

static const struct {
	const char *name, *type, *help;
	enum src src;
	size_t off;	  /* S_INT, S_DBL */
	const char *word; /* S_TMPL */
	int field;	  /* S_RUNS */
} metrics[] = {
    {"easylb_state", "gauge",
     "0 healthy, 1 degraded, 2 down (easy-lb-status(1)).", S_INT,
     offsetof(struct status, state), NULL, 0},
    {"easylb_revision_seen", "gauge",
     "The last etcd revision the watcher read.", S_DBL,
     offsetof(struct status, seen), NULL, 0},
    {"easylb_revision_live", "gauge", "The etcd revision haproxy runs.", S_DBL,
     offsetof(struct status, live), NULL, 0},
    {"easylb_lag_revisions", "gauge", "Revisions seen and not live yet.", S_DBL,
     offsetof(struct status, lag), NULL, 0},
    {"easylb_lag_seconds", "gauge",
     "Seconds since the first change not live yet came.", S_DBL,
     offsetof(struct status, lag_s), NULL, 0},
    {"easylb_watch_stale", "gauge",
     "1 when the watch is lost or has read nothing for too long.", S_INT,
     offsetof(struct status, stale), NULL, 0},
    {"easylb_watch_resyncs_total", "counter",
     "Resyncs: the resume point was compacted away.", S_TMPL, 0, "resyncs", 0},
    {"easylb_watch_reconnects_total", "counter",
     "Watches lost and taken up again.", S_TMPL, 0, "reconnects", 0},
    {"easylb_apply_failures_total", "counter",
     "hap-reload runs that failed (rejected, rolled back, error).", S_RUNS, 0,
     NULL, NRUNS - 1},
    {"easylb_skipped_keys", "gauge",
     "Keys the live render left out, each with a warning.", S_INT,
     offsetof(struct status, skipped), NULL, 0},
};

static double
value_of(const struct status *s, size_t i)
{
	const char *at = (const char *)s + metrics[i].off;

	switch (metrics[i].src) {
	case S_INT:
		return *(const int *)at;
	case S_DBL:
		return *(const double *)at;
	case S_TMPL:
		return num_of(&s->tmpl, metrics[i].word, 0, 0);
	case S_RUNS:
		break;
	}
	return num_of(&s->reload, "runs", metrics[i].field, 0);
}

static void
metric(struct buf *o, const char *name, const char *type, const char *help)
{
	buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
status_metrics(struct buf *o, const struct status *s)
{
	static const char *const paths[] = {"runtime", "reload", "unchanged",
					    "install"};
	const char *name, *subj;
	size_t nn, sn, i;
	double na, v;
	int k;

	for (i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++) {
		metric(o, metrics[i].name, metrics[i].type, metrics[i].help);
		/* (a value not known yet is left out) */
		if ((v = value_of(s, i)) >= 0)
			buf_printf(o, "%s %.17g\n", metrics[i].name, v);
	}
	metric(o, "easylb_applies_total", "counter",
	       "hap-reload runs that left haproxy running the file, by path.");
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		buf_printf(o, "easylb_applies_total{path=\"%s\"} %.0f\n",
			   paths[i], num_of(&s->reload, "runs", (int)i, 0));
	metric(o, "easylb_certificate_expiry_seconds", "gauge",
	       "Seconds until each served certificate expires.");
	for (k = 0; cert_at(s, k, &name, &nn, &na, &subj, &sn) == 0; k++) {
		if (na < 0)
			continue;
		buf_puts(o, "easylb_certificate_expiry_seconds{name=\"");
		plabel(o, name, nn);
		buf_printf(o, "\"} %.0f\n", na - s->now);
	}
}
