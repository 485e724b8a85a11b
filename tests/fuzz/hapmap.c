/* libFuzzer target for hap-reload's maps and spare backends (lib/hapmap,
 * lib/hapbind): the input is split at its first NUL byte into an old and
 * a new text (no NUL: both are the input).  Any bytes must give a result
 * or a reason, never a crash, leak or out-of-bounds read, and:
 *
 *   - the map diff, when it is a runtime one, turns the old entries into
 *     the new ones: applied to the old keys (a sorted set here), its ops
 *     give exactly the new keys and values; the same text gives no op;
 *   - splitting a text leaves no "@map" or "@end" line in it;
 *   - a binding is stable: the file hapbind makes of old and new, taken
 *     as the old file with the same new one, gives itself again, with
 *     the same bindings (none of them fresh), which is what makes the
 *     next run "unchanged";
 *   - hapbind_from, told the file old was made of, answers as hapbind
 *     does or asks for it: from old itself when old binds nothing, and
 *     from the file hapbind made of old and new, to a third text (after
 *     a second NUL; else old again). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "haproxy/bind.h"
#include "haproxy/map.h"

struct kv {
	char *k, *v;
};

static int
by_k(const void *a, const void *b)
{
	return strcmp(((const struct kv *)a)->k, ((const struct kv *)b)->k);
}

/* The entries of text as hapmap reads them, sorted; -1 for a key twice. */
static long
entries(const char *t, size_t n, struct kv **out)
{
	size_t i = 0, c = 0;

	*out = NULL;
	while (i < n) {
		const char *nl = memchr(t + i, '\n', n - i);
		size_t e = nl ? (size_t)(nl - t) : n, k, v, ve;

		for (k = i; k < e && (t[k] == ' ' || t[k] == '\t'); k++)
			;
		if (k < e && t[k] != '#') {
			for (v = k; v < e && t[v] != ' ' && t[v] != '\t'; v++)
				;
			ve = e;
			while (ve > v &&
			       (t[ve - 1] == ' ' || t[ve - 1] == '\t'))
				ve--;
			while (v < ve && (t[v] == ' ' || t[v] == '\t'))
				v++;
			if (v < ve) {
				if (!(*out = realloc(*out,
						     (c + 1) * sizeof(**out))))
					abort();
				(*out)[c].k = strndup(t + k, (size_t)(e - k));
				(*out)[c].k[strcspn((*out)[c].k, " \t")] = '\0';
				(*out)[c].v = strndup(t + v, ve - v);
				c++;
			}
		}
		i = e + 1;
	}
	if (c)
		qsort(*out, c, sizeof(**out), by_k);
	return (long)c;
}

static void
kv_free(struct kv *a, long n)
{
	long i;

	for (i = 0; i < n; i++) {
		free(a[i].k);
		free(a[i].v);
	}
	free(a);
}

static struct kv *
kv_find(struct kv *a, long n, const char *k)
{
	struct kv key = {(char *)k, NULL};

	return n ? bsearch(&key, a, (size_t)n, sizeof(*a), by_k) : NULL;
}

/* Whether a key comes twice in a[0, n), sorted. */
static int
twice(const struct kv *a, long n)
{
	long i;

	for (i = 1; i < n; i++)
		if (!strcmp(a[i - 1].k, a[i].k))
			return 1;
	return 0;
}

/* Whether s[0, n) could be a map file's text: no control character but
 * tab and newline (hapmap_split refuses the others). */
static int
maplike(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t' &&
		     s[i] != '\n') ||
		    s[i] == 0x7f)
			return 0;
	return 1;
}

/* The ops of p, applied to the old entries, give the new ones. */
static void
check_diff(const char *o, size_t on, const char *n, size_t nn)
{
	struct hapmap_plan p;
	struct kv *a, *b;
	long na, nb, i, live = 0;
	size_t j;

	if (hapmap_diff(o, on, n, nn, &p) < 0)
		abort();
	if (!p.runtime || !maplike(o, on) || !maplike(n, nn)) {
		hapmap_plan_free(&p);
		return;
	}
	na = entries(o, on, &a);
	nb = entries(n, nn, &b);
	if (twice(a, na) || twice(b, nb)) {
		/* (the same text twice needs nothing, keys twice or not;
		 * otherwise hapmap_diff said a reload) */
		if (p.nops)
			__builtin_trap();
		kv_free(a, na);
		kv_free(b, nb);
		hapmap_plan_free(&p);
		return;
	}
	for (j = 0; j < p.nops; j++) {
		const struct hapmap_op *op = &p.ops[j];
		struct kv *x = kv_find(a, na, op->key);

		if (op->kind == HAPMAP_ADD ? x != NULL : x == NULL)
			__builtin_trap();
		if (op->kind == HAPMAP_DEL) {
			if (kv_find(b, nb, op->key))
				__builtin_trap();
			continue;
		}
		if (!(x = kv_find(b, nb, op->key)) || strcmp(x->v, op->value))
			__builtin_trap();
	}
	/* every new entry: unchanged in the old ones, or an ADD or SET */
	for (i = 0; i < nb; i++) {
		struct kv *x = kv_find(a, na, b[i].k);

		if (x && !strcmp(x->v, b[i].v))
			continue;
		for (j = 0; j < p.nops; j++)
			if (p.ops[j].kind != HAPMAP_DEL &&
			    !strcmp(p.ops[j].key, b[i].k))
				break;
		if (j == p.nops)
			__builtin_trap();
		live++;
	}
	if (on == nn && !memcmp(o, n, nn) && p.nops)
		__builtin_trap();
	if ((size_t)live != p.nadd + p.nchg)
		__builtin_trap();
	kv_free(a, na);
	kv_free(b, nb);
	hapmap_plan_free(&p);
}

static void
check_split(const char *t, size_t n)
{
	struct buf b = {0};
	struct hapmap *m;
	size_t nm, i;
	char err[256];

	if (buf_add(&b, t, n) < 0)
		abort();
	if (hapmap_split(&b, &m, &nm, err, sizeof(err)) == 0) {
		for (i = 0; i < b.len; i = i + 1) {
			if ((i == 0 || b.p[i - 1] == '\n') && b.len - i >= 4 &&
			    (!memcmp(b.p + i, "@map", 4) ||
			     !memcmp(b.p + i, "@end", 4)) &&
			    (b.len - i == 4 || b.p[i + 4] == ' ' ||
			     b.p[i + 4] == '\t' || b.p[i + 4] == '\n'))
				__builtin_trap();
		}
		for (i = 0; i < nm; i++)
			check_diff(
			    m[i].text.p ? m[i].text.p : "", m[i].text.len,
			    m[i].text.p ? m[i].text.p : "", m[i].text.len);
	} else if (!err[0]) {
		__builtin_trap();
	}
	hapmap_free(m, nm);
	buf_free(&b);
}

static void
check_bind(const char *o, size_t on, const char *n, size_t nn)
{
	struct buf t = {0}, t2 = {0};
	struct hapbind *b, *b2;
	size_t nb, nb2, i;
	char why[256] = "";
	int r = hapbind(o, on, n, nn, &t, &b, &nb, why, sizeof(why));

	if (r < 0)
		abort();
	if (r == 0 && !why[0])
		__builtin_trap();
	if (r > 0) {
		if (hapbind(t.p ? t.p : "", t.len, n, nn, &t2, &b2, &nb2, why,
			    sizeof(why)) != 1 ||
		    t2.len != t.len || (t.len && memcmp(t.p, t2.p, t.len)) ||
		    nb2 != nb)
			__builtin_trap();
		for (i = 0; i < nb; i++)
			if (b2[i].fresh || strcmp(b[i].name, b2[i].name) ||
			    strcmp(b[i].spare, b2[i].spare))
				__builtin_trap();
		hapbind_free(b2, nb2);
	}
	hapbind_free(b, nb);
	buf_free(&t);
	buf_free(&t2);
}

/* hapbind_from(o made of src, new) is hapbind(o, new), or asks; but for
 * a name twice in old where nothing changed, which it does not look for
 * (haproxy ran old), where hapbind binds nothing. */
static void
same_from(const char *o, size_t on, const char *src, size_t sn, const char *n,
	  size_t nn)
{
	struct buf t = {0}, t2 = {0};
	struct hapbind *b, *b2;
	size_t nb, nb2, i;
	char why[256] = "";
	int r = hapbind_from(o, on, src, sn, n, nn, &t2, &b2, &nb2), r1;

	if (r < 0)
		abort();
	if (r == 2) {
		if (t2.len || b2 || nb2)
			__builtin_trap();
		return;
	}
	r1 = hapbind(o, on, n, nn, &t, &b, &nb, why, sizeof(why));
	if (r1 == 0 && strstr(why, " twice"))
		goto out;
	if (r1 != r || t2.len != t.len || (t.len && memcmp(t.p, t2.p, t.len)) ||
	    nb2 != nb)
		__builtin_trap();
	for (i = 0; i < nb; i++)
		if (b2[i].fresh != b[i].fresh ||
		    strcmp(b[i].name, b2[i].name) ||
		    strcmp(b[i].spare, b2[i].spare))
			__builtin_trap();
out:
	hapbind_free(b, nb);
	hapbind_free(b2, nb2);
	buf_free(&t);
	buf_free(&t2);
}

static void
check_from(const char *o, size_t on, const char *n, size_t nn, const char *n2,
	   size_t nn2)
{
	struct buf t = {0};
	struct hapbind *b;
	size_t nb;
	char why[256] = "";

	if (!memmem(o, on, "# easy-lb:", 10))
		same_from(o, on, o, on, n, nn);
	if (hapbind(o, on, n, nn, &t, &b, &nb, why, sizeof(why)) == 1)
		same_from(t.p ? t.p : "", t.len, n, nn, n2, nn2);
	hapbind_free(b, nb);
	buf_free(&t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *d = (const char *)data;
	const char *nul = memchr(d, '\0', size);
	size_t on = nul ? (size_t)(nul - d) : size;
	const char *n = nul ? nul + 1 : d;
	size_t nn = nul ? size - on - 1 : size;

	check_split(d, size);
	check_diff(d, on, n, nn);
	check_bind(d, on, n, nn);
	if (nul && (nul = memchr(n, '\0', nn)))
		check_from(d, on, n, (size_t)(nul - n), nul + 1,
			   nn - (size_t)(nul - n) - 1);
	else
		check_from(d, on, n, nn, d, on);
	return 0;
}
