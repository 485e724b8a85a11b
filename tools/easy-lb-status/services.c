/* easy-lb status --services (services.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services.h"
#include "haproxy/bind.h"
#include "haproxy/haproxy.h"
#include "util/jsonw.h"

/* How long the runtime API has to list every server. */
#define SERVERS_MS 5000

/* srv_admin_state bits of maintenance (forced, inherited, by the
 * configuration, by a failed resolution) and of drain: no new traffic;
 * srv_op_state 1 (starting) and 2 (running) take it. */
#define ADMF_NO_TRAFFIC 0x3f
#define OP_STARTING 1
#define OP_RUNNING 2

/* What hapbind_read says of backend: the spare bound to a service or
 * the backend retired; NULL when it says nothing. */
static const struct hapbind *
bound(const struct hapbind *b, size_t n, const char *backend)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(b[i].spare, backend))
			return &b[i];
	return NULL;
}

/* The service row of backend, found or added at the end (servers of a
 * backend come together in "show servers state"). */
static struct service *
row(struct services *sv, const char *backend, const char *name)
{
	struct service *s, *nv;

	if (sv->n && !strcmp(sv->v[sv->n - 1].backend, backend))
		return &sv->v[sv->n - 1];
	if (!(nv = realloc(sv->v, (sv->n + 1) * sizeof(*nv))))
		return NULL;
	sv->v = nv;
	s = &sv->v[sv->n];
	memset(s, 0, sizeof(*s));
	s->backend = strdup(backend);
	s->name = strdup(name);
	sv->n++;
	return s->backend && s->name ? s : NULL;
}

int
services_read(struct services *sv, const char *dir)
{
	char path[4096], err[512];
	struct buf cfg = {0}, reply = {0};
	struct hap_srvstate *st = NULL;
	struct hapbind *bd = NULL;
	const struct hapbind *r;
	struct service *s;
	size_t nst = 0, nbd = 0, i;
	int rc = -1;

	memset(sv, 0, sizeof(*sv));
	snprintf(path, sizeof(path), "%s/haproxy.cfg", dir);
	if (read_file(path, &cfg, err, sizeof(err)) < 0) {
		snprintf(sv->err, sizeof(sv->err), "%s", err);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/haproxy.sock", dir);
	if (hap_command(path, "show servers state", now_ms() + SERVERS_MS,
			&reply, err, sizeof(err)) < 0 ||
	    hap_parse_servers_state(reply.p ? reply.p : "", &st, &nst, err,
				    sizeof(err)) < 0) {
		snprintf(sv->err, sizeof(sv->err), "runtime API: %s", err);
		goto out;
	}
	if (hapbind_read(cfg.p, cfg.len, &bd, &nbd) < 0)
		goto oom;
	for (i = 0; i < nst; i++) {
		r = bound(bd, nbd, st[i].backend);
		/* (a spare free or a backend retired serves no service; the
		 * balancer's own backends have no servers a service owns) */
		if (r ? !r->name : !strncmp(st[i].backend, "easy-lb-", 8))
			continue;
		if (!(s = row(sv, st[i].backend, r ? r->name : st[i].backend)))
			goto oom;
		s->servers++;
		if ((st[i].op_state == OP_RUNNING ||
		     st[i].op_state == OP_STARTING) &&
		    !(st[i].admin_state & ADMF_NO_TRAFFIC))
			s->up++;
	}
	rc = 0;
	goto out;
oom:
	snprintf(sv->err, sizeof(sv->err), "out of memory");
out:
	if (rc < 0) {
		services_free(sv);
		if (!*sv->err)
			snprintf(sv->err, sizeof(sv->err), "out of memory");
	}
	hapbind_free(bd, nbd);
	hap_srvstate_free(st, nst);
	buf_free(&reply);
	buf_free(&cfg);
	return rc;
}

void
services_free(struct services *sv)
{
	size_t i;

	for (i = 0; i < sv->n; i++) {
		free(sv->v[i].name);
		free(sv->v[i].backend);
	}
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

void
services_text(struct buf *o, const struct services *sv)
{
	const struct service *s;
	size_t i;

	if (*sv->err) {
		buf_printf(o, "services:    unknown (%s)\n", sv->err);
		return;
	}
	buf_printf(o, "services:    %zu\n", sv->n);
	for (i = 0; i < sv->n; i++) {
		s = &sv->v[i];
		buf_printf(o, "  %s: %ld of %ld servers up", s->name, s->up,
			   s->servers);
		if (strcmp(s->name, s->backend))
			buf_printf(o, " (backend %s)", s->backend);
		buf_puts(o, "\n");
	}
}

void
services_json(struct buf *o, const struct services *sv)
{
	const struct service *s;
	size_t i;

	if (*sv->err) {
		buf_puts(o, "null");
		return;
	}
	buf_puts(o, "{");
	for (i = 0; i < sv->n; i++) {
		s = &sv->v[i];
		buf_puts(o, i ? "," : "");
		json_str(o, s->name, strlen(s->name));
		buf_puts(o, ":{\"backend\":");
		json_str(o, s->backend, strlen(s->backend));
		buf_printf(o, ",\"servers\":%ld,\"up\":%ld}", s->servers,
			   s->up);
	}
	buf_puts(o, "}");
}
