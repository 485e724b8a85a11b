/* The etcd tools' shared side: options and environment into a client's
 * configuration (etcdctl's precedence: options, then ETCDCTL_*, then the
 * 2017 image's ETCD_PEERS), and the messages and deaths of a failed call
 * (see etcdtool.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcdtool.h"
#include "etcd/records.h"

int
etcd_opt(struct etcd_opts *o, int opt, const char *arg)
{
	switch (opt) {
	case 'e':
	case ETCD_OPT_ENDPOINTS:
		o->endpoints = arg;
		break;
	case ETCD_OPT_USER:
		o->user = arg;
		break;
	case ETCD_OPT_PASSWORD:
		o->password = arg;
		break;
	case ETCD_OPT_CACERT:
		o->cacert = arg;
		break;
	case ETCD_OPT_CERT:
		o->cert = arg;
		break;
	case ETCD_OPT_KEY:
		o->key = arg;
		break;
	case ETCD_OPT_INSECURE:
		o->insecure = 1;
		break;
	case ETCD_OPT_DIAL_TIMEOUT:
		o->dial_timeout = arg;
		break;
	case ETCD_OPT_COMMAND_TIMEOUT:
		o->command_timeout = arg;
		break;
	default:
		return -1;
	}
	return 0;
}

static const char *
envor(const char *opt, const char *var)
{
	const char *v;

	if (opt)
		return opt;
	v = getenv(var);
	return v && *v ? v : NULL;
}

static char *
dupor(const char *s)
{
	return s ? strdup(s) : NULL;
}

int
etcd_conf_make(struct etcd_conf *c, const struct etcd_opts *o, char *err,
	       size_t errlen)
{
	const char *eps, *v;
	int tls;

	memset(c, 0, sizeof(*c));
	c->cacert = dupor(envor(o->cacert, "ETCDCTL_CACERT"));
	c->cert = dupor(envor(o->cert, "ETCDCTL_CERT"));
	c->key = dupor(envor(o->key, "ETCDCTL_KEY"));
	v = getenv("ETCDCTL_INSECURE_SKIP_TLS_VERIFY");
	c->insecure = o->insecure || (v && !strcmp(v, "true"));
	tls = c->cacert || c->cert || c->insecure;

	eps = envor(o->endpoints, "ETCDCTL_ENDPOINTS");
	if (!eps)
		eps = envor(NULL, "ETCD_PEERS");
	if (!eps)
		eps = "http://127.0.0.1:2379";
	if (etcd_conf_endpoints(c, eps, tls, err, errlen) < 0)
		goto fail;
	if (!c->nendpoints) {
		seterr(err, errlen, "no endpoint in '%s'", eps);
		goto fail;
	}

	if ((v = envor(o->user, "ETCDCTL_USER"))) {
		const char *colon = strchr(v, ':');

		if (colon) {
			c->user = strndup(v, colon - v);
			c->password = strdup(colon + 1);
		} else {
			c->user = strdup(v);
			v = envor(o->password, "ETCDCTL_PASSWORD");
			c->password = strdup(v ? v : "");
		}
		if (!*c->user) {
			seterr(err, errlen, "empty user name");
			goto fail;
		}
	}

	c->dial_timeout_ms = 2000;
	c->command_timeout_ms = 5000;
	if ((v = envor(o->dial_timeout, "ETCDCTL_DIAL_TIMEOUT")) &&
	    etcd_duration_ms(v, &c->dial_timeout_ms) < 0) {
		seterr(err, errlen, "bad dial timeout '%s'", v);
		goto fail;
	}
	if ((v = envor(o->command_timeout, "ETCDCTL_COMMAND_TIMEOUT")) &&
	    etcd_duration_ms(v, &c->command_timeout_ms) < 0) {
		seterr(err, errlen, "bad command timeout '%s'", v);
		goto fail;
	}
	return 0;
fail:
	etcd_conf_free(c);
	return -1;
}

struct etcd *
etcd_tool_open(const struct etcd_opts *o, struct etcd_conf *c)
{
	char err[512];
	struct etcd *e;

	if (etcd_conf_make(c, o, err, sizeof(err)) < 0)
		die(EXIT_BAD, "%s", err);
	if (!(e = etcd_new(c, err, sizeof(err))))
		die(EXIT_TEMP, "%s", err);
	return e;
}

void
etcd_tool_die(int st, const char *what, const char *err)
{
	die(etcd_exitcode(st), "%s: %s", what, err);
}

int
etcd_tool_member(struct buf *out, const struct etcd_kv *kv, int b64, int *first)
{
	int kok = rec_is_text(kv->key, kv->klen, "", 0);
	struct buf why = {0};

	if (!kok || (!b64 && !rec_is_text("", 0, kv->value, kv->vlen))) {
		if (rec_left_msg(&why, kv->key, kv->klen, !kok) < 0)
			return -1;
		warnmsg("%s%s", why.p, kok ? " (--base64 keeps it)" : "");
		buf_free(&why);
		return 0;
	}
	return rec_member(out, kv->key, kv->klen, kv->value, kv->vlen, b64,
			  first);
}
