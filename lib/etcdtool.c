#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "etcdtool.h"
#include "jsonw.h"

struct etcd *
etcd_tool_open(const struct etcd_opts *o, struct etcd_conf *c)
{
	char err[512];
	struct etcd *e;

	if (etcd_conf_make(c, o, err, sizeof err) < 0)
		die(EXIT_BAD, "%s", err);
	if (!(e = etcd_new(c, err, sizeof err)))
		die(EXIT_TEMP, "%s", err);
	return e;
}

void
etcd_tool_die(struct etcd *e, int st, const char *what)
{
	die(etcd_exitcode(st), "%s: %s", what, etcd_errmsg(e));
}

int
etcd_tool_member(struct buf *out, const struct etcd_kv *kv, int b64, int *first)
{
	int kok = utf8_valid(kv->key, kv->klen);
	int vok = b64 || utf8_valid(kv->value, kv->vlen);
	struct buf why = {0};
	char *enc;
	int r;

	if (!kok || !vok) {
		if (show_bytes(&why, kv->key, kv->klen, 200) < 0)
			return -1;
		warnmsg("%s: %s is not valid UTF-8; key left out%s", why.p,
			kok ? "value" : "key",
			kok ? " (--base64 keeps it)" : "");
		buf_free(&why);
		return 0;
	}
	if (!*first && buf_add(out, ",", 1) < 0)
		return -1;
	*first = 0;
	if (json_str(out, kv->key, kv->klen) < 0 || buf_add(out, ":", 1) < 0)
		return -1;
	if (!b64)
		return json_str(out, kv->value, kv->vlen);
	if (!(enc = malloc(b64_enclen(kv->vlen) + 1)))
		return -1;
	b64_encode((unsigned char *)kv->value, kv->vlen, enc);
	r = json_str(out, enc, strlen(enc));
	free(enc);
	return r;
}
