#include "etcdtool.h"
#include "records.h"

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
