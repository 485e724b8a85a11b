/* The etcd client's configuration (struct etcd_conf): endpoints
 * normalised from a list, durations, and its release.  What fills it from
 * options and the environment is the tools' (tools/common/etcdtool.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd/etcd.h"
#include "util/util.h"

int
etcd_duration_ms(const char *s, long *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || v < 0)
		return -1;
	if (!strcmp(end, "ms"))
		;
	else if (!strcmp(end, "s") || !*end)
		v *= 1000;
	else if (!strcmp(end, "m"))
		v *= 60000;
	else
		return -1;
	if (v > 86400000.0 * 365)
		return -1;
	*ms = (long)v;
	return 0;
}

static int
add_endpoint(struct etcd_conf *c, const char *s, size_t n, int tls, char *err,
	     size_t errlen)
{
	const char *scheme = "";
	char *u;

	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '/'))
		n--;
	if (!n)
		return 0;
	if (c->nendpoints == ETCD_MAX_ENDPOINTS)
		return seterr(err, errlen, "more than %d endpoints",
			      ETCD_MAX_ENDPOINTS);
	/* A bare host:port, as etcdctl accepts it. */
	if (!memmem(s, n, "://", 3))
		scheme = tls ? "https://" : "http://";
	else if (strncmp(s, "http://", 7) && strncmp(s, "https://", 8))
		return seterr(
		    err, errlen,
		    "endpoint %.*s: only http:// and https:// are supported",
		    (int)n, s);
	if (!(u = malloc(strlen(scheme) + n + 1)))
		return seterr(err, errlen, "out of memory");
	sprintf(u, "%s%.*s", scheme, (int)n, s);
	c->endpoints[c->nendpoints++] = u;
	return 0;
}

int
etcd_conf_endpoints(struct etcd_conf *c, const char *list, int tls, char *err,
		    size_t errlen)
{
	const char *p, *q;

	for (p = list;; p = q + 1) {
		if (!(q = strchr(p, ',')))
			q = p + strlen(p);
		if (add_endpoint(c, p, q - p, tls, err, errlen) < 0)
			return -1;
		if (!*q)
			return 0;
	}
}

void
etcd_conf_free(struct etcd_conf *c)
{
	size_t i;

	for (i = 0; i < c->nendpoints; i++)
		free(c->endpoints[i]);
	free(c->user);
	if (c->password)
		explicit_bzero(c->password, strlen(c->password));
	free(c->password);
	free(c->cacert);
	free(c->cert);
	free(c->key);
	memset(c, 0, sizeof(*c));
}
