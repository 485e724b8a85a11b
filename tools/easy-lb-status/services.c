/* easy-lb status --services (services.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services.h"
#include "hapbind.h"
#include "haproxy.h"
#include "jsonw.h"

/* How long the runtime API has to list every server. */
#define SERVERS_MS 5000

/* srv_admin_state bits of maintenance (forced, inherited, by the
 * configuration, by a failed resolution) and of drain: no new traffic;
 * srv_op_state 1 (starting) and 2 (running) take it. */
#define ADMF_NO_TRAFFIC 0x3f
#define OP_STARTING 1
#define OP_RUNNING 2

/* What a backend of the live configuration is to a service: its own
 * name, a spare serving another service, or retired. */
struct role {
	const char *backend, *serves; /* serves NULL: retired */
	size_t blen, slen;
};

/* The spares bound and the backends retired in the live configuration
 * text (their comment lines, hapbind.h), into *r (*n of them). */
static int
roles(const char *t, size_t len, struct role **r, size_t *n)
{
	static const size_t sk = sizeof(HAPBIND_SERVES) - 1,
			    rk = sizeof(HAPBIND_RETIRED) - 1;
	const char *p = t, *end = t + len, *e, *l, *be = NULL;
	size_t blen = 0, cap = 0;
	struct role *v = NULL, *nv;

	*n = 0;
	for (; p < end; p = e + 1) {
		if (!(e = memchr(p, '\n', (size_t)(end - p))))
			e = end;
		if ((size_t)(e - p) > 8 && !memcmp(p, "backend ", 8)) {
			be = p + 8;
			blen = strcspn(be, " \t\n");
			continue;
		}
		if (!be || p[0] != ' ')
			continue;
		for (l = p; l < e && (*l == ' ' || *l == '\t'); l++)
			;
		if (*l != '#')
			continue;
		if ((size_t)(e - l) > sk && !memcmp(l, HAPBIND_SERVES, sk)) {
			l += sk;
		} else if ((size_t)(e - l) >= rk &&
			   !memcmp(l, HAPBIND_RETIRED, rk)) {
			l = NULL;
		} else {
			continue;
		}
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			if (!(nv = realloc(v, cap * sizeof(*v)))) {
				free(v);
				return -1;
			}
			v = nv;
		}
		v[*n].backend = be;
		v[*n].blen = blen;
		v[*n].serves = l;
		v[*n].slen = l ? (size_t)(e - l) : 0;
		(*n)++;
		be = NULL;
	}
	*r = v;
	return 0;
}

static const struct role *
role_of(const struct role *r, size_t n, const char *backend)
{
	size_t i, k = strlen(backend);

	for (i = 0; i < n; i++)
		if (r[i].blen == k && !memcmp(r[i].backend, backend, k))
			return &r[i];
	return NULL;
}

/* The service row of backend, found or added at the end (servers of a
 * backend come together in "show servers state"). */
static struct service *
row(struct services *sv, const char *backend, const struct role *ro)
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
	s->name = ro ? strndup(ro->serves, ro->slen) : strdup(backend);
	sv->n++;
	return s->backend && s->name ? s : NULL;
}

int
services_read(struct services *sv, const char *dir)
{
	char path[4096], err[512];
	struct buf cfg = {0}, reply = {0};
	struct hap_srvstate *st = NULL;
	struct role *ro = NULL;
	const struct role *r;
	struct service *s;
	size_t nst = 0, nro = 0, i;
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
	if (roles(cfg.p, cfg.len, &ro, &nro) < 0)
		goto oom;
	for (i = 0; i < nst; i++) {
		r = role_of(ro, nro, st[i].backend);
		/* (a spare free or a backend retired serves no service; the
		 * balancer's own backends have no servers a service owns) */
		if (r ? !r->serves : !strncmp(st[i].backend, "easy-lb-", 8))
			continue;
		if (!(s = row(sv, st[i].backend, r)))
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
	free(ro);
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
