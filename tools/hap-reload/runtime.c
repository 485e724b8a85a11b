/* hap-reload's runtime change: see runtime.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/deadline.h"
#include "haproxy/haproxy.h"
#include "runtime.h"
#include "util/util.h"

/* A runtime update's conversation with the runtime API: its commands
 * share one deadline and one reply buffer, and a failure's reason goes
 * to why. */
struct rtconv {
	const char *socket;
	long long deadline, timeout;
	struct buf r;
	char *why;
	size_t wlen;
};

/* What rt's ok may be besides a string the reply must hold. */
#define RT_ANY NULL /* any reply, for the caller to read */
#define RT_EMPTY "" /* none: the command's success is silent */

/* One runtime API command, formatted from fmt; the reply, without the
 * newlines and blanks that end it, in c->r.  Returns 0 when the reply is what
 * ok says, -1 with why in c->why. */
static int rt(struct rtconv *c, const char *ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
rt(struct rtconv *c, const char *ok, const char *fmt, ...)
{
	struct buf *r = &c->r;
	char cmd[4096], err[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return seterr(c->why, c->wlen, "command too long");
	r->len = 0;
	if (r->p)
		r->p[0] = '\0';
	if (hap_command(c->socket, cmd, c->deadline, r, err, sizeof(err)) < 0)
		return seterr(c->why, c->wlen, "%s", err);
	while (r->len && (r->p[r->len - 1] == '\n' || r->p[r->len - 1] == ' '))
		r->p[--r->len] = '\0';
	if (!ok || (*ok ? r->len && strstr(r->p, ok) : r->len == 0))
		return 0;
	return seterr(c->why, c->wlen, "%.200s: %.200s", cmd,
		      r->len ? r->p : "(no reply)");
}

/* A server added at run time starts in maintenance, checks off: it is
 * added, its checks turned on and made ready in one line of commands
 * (";" between them, one connection), whose reply must then end with
 * the add's (after any warning of it), the others being silent when
 * they work. */
#define ADDED "New server registered."

static int
add_server(struct rtconv *c, const struct hapcfg_op *op)
{
	const char *be = op->backend, *srv = op->server;
	int v6 = strchr(op->addr, ':') != NULL;
	char health[1024] = "", agent[1024] = "", ready[1024] = "";

	if (op->check)
		snprintf(health, sizeof(health), ";enable health %s/%s", be,
			 srv);
	if (op->agent)
		snprintf(agent, sizeof(agent), ";enable agent %s/%s", be, srv);
	if (!op->disabled)
		snprintf(ready, sizeof(ready), ";set server %s/%s state ready",
			 be, srv);
	if (rt(c, RT_ANY, "add server %s/%s %s%s%s:%s%s%s%s%s%s", be, srv,
	       v6 ? "[" : "", op->addr, v6 ? "]" : "", op->port,
	       *op->args ? " " : "", op->args, health, agent, ready) < 0)
		return -1;
	if (c->r.len >= sizeof(ADDED) - 1 &&
	    !strcmp(c->r.p + c->r.len - (sizeof(ADDED) - 1), ADDED))
		return 0;
	return seterr(c->why, c->wlen, "add server %s/%s: %.300s", be, srv,
		      c->r.len ? c->r.p : "(no reply)");
}

/* Current sessions plus queued requests of be/srv, -1 when unknown. */
static long
server_load(struct rtconv *c, const char *be, const char *srv)
{
	if (rt(c, RT_ANY, "show stat %s 4 -1", be) < 0)
		return -1;
	return hap_parse_stat_load(c->r.p ? c->r.p : "", be, srv);
}

/* How long the servers a plan removes must stay empty once in maintenance
 * before what is left on them is shut down, in ms.  haproxy counts a
 * stream in its server's sessions only once connect_server is done with
 * it: a stream given the server just before it was drained, on a thread
 * that the machine's load put aside in between, can show up after a
 * "show stat" that found the server empty. */
#define DRAIN_GRACE_MS 10

/* The servers a plan removes, emptied one after the other: ops[i] is the
 * first that may still have sessions or a queue.  Not before grace (an
 * absolute now_ms() time). */
struct drain {
	struct rtconv *c;
	const struct hapcfg_plan *pl;
	size_t i;
	long long grace;
};

static int
drained(void *arg)
{
	struct drain *d = arg;

	if (now_ms() < d->grace)
		return 0;
	for (; d->i < d->pl->nops; d->i++) {
		const struct hapcfg_op *op = &d->pl->ops[d->i];
		if (op->kind == HAPCFG_DEL &&
		    server_load(d->c, op->backend, op->server) > 0)
			return 0;
	}
	return 1;
}

/* One "del server", which fails while the sessions just shut down have
 * not let go of the server yet. */
struct deletion {
	struct rtconv *c;
	const struct hapcfg_op *op;
};

static int
deleted(void *arg)
{
	struct deletion *d = arg;

	if (rt(d->c, "Server deleted", "del server %s/%s", d->op->backend,
	       d->op->server) == 0)
		return 1;
	return strstr(d->c->why, "connections") ? 0 : -1;
}

static int
del_servers(struct rtconv *c, const struct hapcfg_plan *pl)
{
	struct drain d = {c, pl, 0, 0};
	struct deletion dl = {c, NULL};
	long long drain_until = now_ms() + c->timeout / 2;
	size_t i;

	if (drain_until > c->deadline)
		drain_until = c->deadline;
	for (i = 0; i < pl->nops; i++) {
		const struct hapcfg_op *op = &pl->ops[i];
		if (op->kind != HAPCFG_DEL)
			continue;
		if (rt(c, RT_EMPTY, "set server %s/%s state drain", op->backend,
		       op->server) < 0)
			return -1;
	}
	/* Let the sessions in flight finish, for a bounded time. */
	deadline_wait(drain_until, drained, &d);
	for (i = 0; i < pl->nops; i++) {
		const struct hapcfg_op *op = &pl->ops[i];
		if (op->kind == HAPCFG_DEL &&
		    rt(c, RT_EMPTY, "set server %s/%s state maint", op->backend,
		       op->server) < 0)
			return -1;
	}
	/* In maintenance no stream is given the servers any more: those
	 * given them just before have the grace to show up and finish. */
	d.i = 0;
	d.grace = now_ms() + DRAIN_GRACE_MS;
	deadline_wait(drain_until > d.grace ? drain_until : d.grace, drained,
		      &d);
	for (i = 0; i < pl->nops; i++) {
		const struct hapcfg_op *op = &pl->ops[i];
		if (op->kind != HAPCFG_DEL)
			continue;
		if (rt(c, RT_EMPTY, "shutdown sessions server %s/%s",
		       op->backend, op->server) < 0)
			return -1;
		dl.op = op;
		if (deadline_wait(c->deadline, deleted, &dl) != DEADLINE_HELD)
			return -1;
	}
	return 0;
}

/* How long a backend's servers may take to show what was set, in ms.
 * Since haproxy 2.9, "set server ... addr" answers before the address is
 * written: a task applies it once every thread is isolated, and "show
 * servers state" asked meanwhile, on another thread, prints the old one
 * (about 0.1 ms, 4 ms seen under load; never with nbthread 1). */
#define SETTLE_MS 2000

/* The servers running in one backend, to compare with the ones wanted. */
struct settle {
	struct rtconv *c;
	const char *be;
	const struct hapcfg_want *w;
	size_t nw;
};

static int
settled(void *arg)
{
	struct settle *s = arg;
	struct rtconv *c = s->c;
	struct hap_srvstate *st;
	char err[256];
	size_t n;
	int ret;

	if (rt(c, RT_ANY, "show servers state %s", s->be) < 0)
		return -1;
	if (hap_parse_servers_state(c->r.p ? c->r.p : "", &st, &n, err,
				    sizeof(err)) < 0)
		return seterr(c->why, c->wlen, "show servers state %s: %s",
			      s->be, err);
	ret = hap_same_servers(s->be, s->w, s->nw, st, n, c->why, c->wlen);
	hap_srvstate_free(st, n);
	return ret == 0;
}

/* The running servers of backend be must be exactly w[0..nw): 0 once
 * "show servers state" says so, -1 with why when it still does not by
 * the settle deadline. */
static int
confirm_backend(struct rtconv *c, const char *be, const struct hapcfg_want *w,
		size_t nw)
{
	long long settle = now_ms() + SETTLE_MS;
	struct settle s = {c, be, w, nw};

	if (settle > c->deadline)
		settle = c->deadline;
	return deadline_wait(settle, settled, &s) == DEADLINE_HELD ? 0 : -1;
}

/* The running servers of every backend the plan touched must be exactly
 * the ones the new file declares.  (Asked backend by backend: haproxy's
 * whole list can hold 100,000 servers; the plan lists each backend's
 * servers together.) */
static int
confirm_runtime(struct rtconv *c, const struct hapcfg_plan *pl)
{
	size_t i, end;

	for (i = 0; i < pl->nwant; i = end) {
		const char *be = pl->want[i].backend;

		for (end = i;
		     end < pl->nwant && !strcmp(pl->want[end].backend, be);
		     end++)
			;
		if (confirm_backend(c, be, &pl->want[i], end - i) < 0)
			return -1;
	}
	return 0;
}

/* The map entries of every map, those added or set first, then those
 * deleted (a moved route is never missing), many commands a line (";"
 * between them, each silent when it works: a reply is the first
 * failure), one line for the few a change has. */
#define MAP_LINE 3500

/* Op of map path onto line, the line sent first when it is long. */
static int
map_op(struct rtconv *c, struct buf *line, const char *path,
       const struct hapmap_op *op)
{
	if (line->len > MAP_LINE) {
		if (rt(c, RT_EMPTY, "%s", line->p) < 0)
			return -1;
		line->len = 0;
	}
	if (buf_printf(line, "%s%s map %s %s%s%s", line->len ? ";" : "",
		       op->kind == HAPMAP_ADD	? "add"
		       : op->kind == HAPMAP_SET ? "set"
						: "del",
		       path, op->key, op->value ? " " : "",
		       op->value ? op->value : "") < 0)
		return seterr(c->why, c->wlen, "out of memory");
	return 0;
}

static int
map_ops(struct rtconv *c, const struct rt_map *maps, size_t nmaps)
{
	struct buf line = {0};
	size_t i, j;
	int ret = -1, add;

	for (add = 1; add >= 0; add--)
		for (i = 0; i < nmaps; i++)
			for (j = 0; j < maps[i].plan->nops; j++)
				if ((maps[i].plan->ops[j].kind != HAPMAP_DEL) ==
					add &&
				    map_op(c, &line, maps[i].path,
					   &maps[i].plan->ops[j]) < 0)
					goto out;
	ret = line.len ? rt(c, RT_EMPTY, "%s", line.p) : 0;
out:
	buf_free(&line);
	return ret;
}

int
apply_runtime(const char *socket, long long timeout_ms,
	      const struct hapcfg_plan *pl, const struct rt_map *maps,
	      size_t nmaps, char *why, size_t wlen)
{
	struct rtconv c = {socket, now_ms() + timeout_ms, timeout_ms, {0}, why,
			   wlen};
	int ret = -1;
	size_t i;

	/* New servers first, so that capacity only grows until the end. */
	for (i = 0; i < pl->nops; i++)
		if (pl->ops[i].kind == HAPCFG_ADD && !pl->ops[i].replace &&
		    add_server(&c, &pl->ops[i]) < 0)
			goto out;
	for (i = 0; i < pl->nops; i++) {
		const struct hapcfg_op *op = &pl->ops[i];
		if (op->kind == HAPCFG_ADDR &&
		    rt(&c, "change", "set server %s/%s addr %s%s%s",
		       op->backend, op->server, op->addr,
		       op->port ? " port " : "", op->port ? op->port : "") < 0)
			goto out;
		if (op->kind == HAPCFG_WEIGHT &&
		    rt(&c, RT_EMPTY, "set weight %s/%s %ld", op->backend,
		       op->server, op->weight) < 0)
			goto out;
	}
	/* Routes to the new servers once they are there; the routes gone
	 * before their servers go. */
	if (map_ops(&c, maps, nmaps) < 0)
		goto out;
	/* (not one DEL: no grace to wait for either) */
	for (i = 0; i < pl->nops && pl->ops[i].kind != HAPCFG_DEL; i++)
		;
	if (i < pl->nops && del_servers(&c, pl) < 0)
		goto out;
	for (i = 0; i < pl->nops; i++)
		if (pl->ops[i].kind == HAPCFG_ADD && pl->ops[i].replace &&
		    add_server(&c, &pl->ops[i]) < 0)
			goto out;
	ret = confirm_runtime(&c, pl);
out:
	buf_free(&c.r);
	return ret;
}
