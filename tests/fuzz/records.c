/* libFuzzer target for the record stream (lib/etcd/records.c), both ways.
 * The first byte picks the mode.  Even: the rest is lines that
 * tmpl --follow would read; each goes through rec_parse, and every entry
 * it left out through rec_left, as tmpl does.  Odd: the rest is a key
 * and a value (split at the first 0xff byte), written by rec_put and a
 * resync record as etcd-watch writes them, then read back: what comes
 * back must be the same bytes, or the entry left out exactly when it is
 * not UTF-8. */
#include <stdint.h>
#include <string.h>

#include <jv.h>

#include "etcd/records.h"

static void
read_lines(const char *p, size_t n)
{
	struct buf msg = {0};
	char err[256];
	size_t a, b;
	struct rec r;
	int i;

	for (a = 0; a < n; a = b + 1) {
		const char *nl = memchr(p + a, '\n', n - a);

		b = nl ? (size_t)(nl - p) : n;
		if (rec_parse(p + a, b - a, &r, err, sizeof(err)) == 0) {
			for (i = 0; i < rec_nleft(&r); i++) {
				jv_free(rec_left(&r, i, &msg));
				msg.len = 0;
			}
		}
		rec_free(&r);
	}
	buf_free(&msg);
}

/* The record in b is one line, and reads back as key (and val). */
static void
round_trip(const struct buf *b, enum rec_type type, const char *key,
	   size_t klen, const char *val, size_t vlen)
{
	int text = rec_is_text(key, klen, val, vlen);
	char err[256];
	struct rec r;

	if (!b->len || memchr(b->p, '\n', b->len - 1) ||
	    b->p[b->len - 1] != '\n')
		__builtin_trap();
	if (rec_parse(b->p, b->len - 1, &r, err, sizeof(err)) != 0 ||
	    r.type != type)
		__builtin_trap();
	if (type == REC_RESYNC) {
		jv v =
		    jv_object_get(jv_copy(r.kvs), jv_string_sized(key, klen));

		if (text != (jv_get_kind(v) == JV_KIND_STRING) ||
		    text != (rec_nleft(&r) == 0))
			__builtin_trap();
		if (text &&
		    ((size_t)jv_string_length_bytes(jv_copy(v)) != vlen ||
		     memcmp(jv_string_value(v), val, vlen)))
			__builtin_trap();
		jv_free(v);
	} else if (text) {
		if ((size_t)jv_string_length_bytes(jv_copy(r.key)) != klen ||
		    memcmp(jv_string_value(r.key), key, klen) ||
		    (size_t)jv_string_length_bytes(jv_copy(r.value)) != vlen ||
		    memcmp(jv_string_value(r.value), val, vlen))
			__builtin_trap();
	} else if (rec_nleft(&r) != 1 || jv_get_kind(r.key) != JV_KIND_NULL) {
		__builtin_trap();
	}
	rec_free(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rec_resync rs = {0};
	struct buf b = {0};
	const char *p = (const char *)data + 1, *sep;
	size_t n = size ? size - 1 : 0, klen;

	if (size < 1)
		return 0;
	if (!(data[0] & 1)) {
		read_lines(p, n);
		return 0;
	}
	sep = memchr(p, 0xff, n);
	klen = sep ? (size_t)(sep - p) : n;
	if (rec_put(&b, p, klen, sep ? sep + 1 : "", sep ? n - klen - 1 : 0,
		    7) < 0)
		return 0;
	round_trip(&b, REC_PUT, p, klen, sep ? sep + 1 : "",
		   sep ? n - klen - 1 : 0);
	b.len = 0;
	if (rec_resync_add(&rs, p, klen, sep ? sep + 1 : "",
			   sep ? n - klen - 1 : 0) < 0 ||
	    rec_resync_end(&rs, &b, 7) < 0) {
		buf_free(&b);
		return 0;
	}
	round_trip(&b, REC_RESYNC, p, klen, sep ? sep + 1 : "",
		   sep ? n - klen - 1 : 0);
	buf_free(&b);
	return 0;
}
