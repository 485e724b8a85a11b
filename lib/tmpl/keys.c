/* The keys of the data, for ls, lsdir, under and gets: sorted once per
 * render, so that each call costs a binary search and the keys it
 * returns; and tree, the data nested into objects by path segment. */
#include <stdlib.h>
#include <string.h>

#include "tmpl/int.h"

/* A key of the data: its bytes and its normal form (the same bytes when
 * it is normal already). */
struct kref {
	jv k;
	const char *s, *ns;
	size_t n, nn;
};

static int
kcmp_raw(const void *a, const void *b)
{
	const struct kref *x = *(struct kref *const *)a;
	const struct kref *y = *(struct kref *const *)b;

	return bytes_cmp(x->s, x->n, y->s, y->n);
}

static int
kcmp_norm(const void *a, const void *b)
{
	const struct kref *x = *(struct kref *const *)a;
	const struct kref *y = *(struct kref *const *)b;

	return bytes_cmp(x->ns, x->nn, y->ns, y->nn);
}

int
keys_is_normal(const char *s, size_t n)
{
	return (n > 1 && s[0] == '/' && s[n - 1] != '/' &&
		!memmem(s, n, "//", 2)) ||
	       (n == 1 && s[0] == '/');
}

char *
keys_normal(const char *s, size_t n, size_t *outn)
{
	size_t i, o = 0;
	char *r;

	if (!(r = malloc(n + 2)))
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '/')
			continue;
		r[o++] = '/';
		while (i < n && s[i] != '/')
			r[o++] = s[i++];
	}
	if (!o)
		r[o++] = '/';
	*outn = o;
	return r;
}

jv
tmpl_get(struct tmpl *t, const char *key, size_t n)
{
	if (jv_get_kind(t->keys.data) != JV_KIND_OBJECT)
		return jv_invalid();
	return jv_object_get(jv_copy(t->keys.data),
			     jv_string_sized(key, (int)n));
}

jv
tmpl_dir(jv d, const char *helper)
{
	const char *s;
	size_t n, rn;
	char *r;
	jv j;

	if (jv_get_kind(d) != JV_KIND_STRING) {
		jv_free(d);
		return jv_invalid_with_msg(
		    jv_string_fmt("%s: the directory is not a string", helper));
	}
	s = jv_string_value(d);
	n = (size_t)jv_string_length_bytes(jv_copy(d));
	if (keys_is_normal(s, n))
		return d;
	r = keys_normal(s, n, &rn);
	jv_free(d);
	if (!r)
		return jv_invalid_with_msg(jv_string("out of memory"));
	j = jv_string_sized(r, (int)rn);
	free(r);
	return j;
}

static void
kref_free(struct kref *r)
{
	if (r->ns != r->s)
		free((char *)r->ns);
	jv_free(r->k);
	free(r);
}

/* A new kref for key k (consumed); NULL when out of memory. */
static struct kref *
kref_new(jv k)
{
	struct kref *r = malloc(sizeof(*r));

	if (!r) {
		jv_free(k);
		return NULL;
	}
	r->k = k;
	r->s = jv_string_value(k);
	r->n = (size_t)jv_string_length_bytes(jv_copy(k));
	r->ns = r->s;
	r->nn = r->n;
	if (!keys_is_normal(r->s, r->n) &&
	    !(r->ns = keys_normal(r->s, r->n, &r->nn))) {
		jv_free(k);
		free(r);
		return NULL;
	}
	return r;
}

void
keys_init(struct tmpl *t)
{
	t->keys.data = jv_invalid();
}

void
keys_drop(struct tmpl *t)
{
	size_t i;

	for (i = 0; i < t->keys.n; i++)
		kref_free(t->keys.rk[i]);
	if (t->keys.nk != t->keys.rk)
		free(t->keys.nk);
	free(t->keys.rk);
	t->keys.rk = t->keys.nk = NULL;
	t->keys.n = t->keys.cap = t->keys.odd = 0;
	t->keys.valid = 0;
}

void
keys_free(struct tmpl *t)
{
	jv_free(t->keys.data);
	t->keys.data = jv_invalid();
}

/* Build the index of the keys of data (an object, borrowed). */
static int
keys_build(struct tmpl *t, jv data)
{
	size_t i = 0, n = (size_t)jv_object_length(jv_copy(data));

	keys_drop(t);
	if (n && !(t->keys.rk = malloc(n * sizeof(*t->keys.rk))))
		return -1;
	t->keys.cap = n;
	t->keys.nk = t->keys.rk;
	jv_object_foreach(data, k, v)
	{
		struct kref *r;

		jv_free(v);
		if (!(r = kref_new(k))) {
			t->keys.n = i;
			return -1;
		}
		t->keys.rk[i++] = r;
		t->keys.odd += r->ns != r->s;
	}
	t->keys.n = i;
	if (t->keys.n > 1)
		qsort(t->keys.rk, t->keys.n, sizeof(*t->keys.rk), kcmp_raw);
	if (t->keys.odd) {
		if (!(t->keys.nk = malloc(t->keys.n * sizeof(*t->keys.nk)))) {
			t->keys.nk = t->keys.rk;
			return -1;
		}
		memcpy(t->keys.nk, t->keys.rk, t->keys.n * sizeof(*t->keys.nk));
		qsort(t->keys.nk, t->keys.n, sizeof(*t->keys.nk), kcmp_norm);
	}
	t->keys.valid = 1;
	return 0;
}

/* The first key of a (sorted by raw or normal form) not below p (len
 * n). */
static size_t
lower_bound(struct kref *const *a, size_t len, const char *p, size_t n,
	    int norm)
{
	size_t lo = 0, hi = len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (norm ? bytes_cmp(a[mid]->ns, a[mid]->nn, p, n) < 0
			 : bytes_cmp(a[mid]->s, a[mid]->n, p, n) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Bring the index up to date with one changed key k (borrowed): in the
 * index as it is in data or not.  -1 when out of memory; 1 when the
 * index must be built again (a key not in normal form). */
static int
keys_update(struct tmpl *t, jv data, jv k)
{
	const char *s = jv_string_value(k);
	size_t n = (size_t)jv_string_length_bytes(jv_copy(k));
	size_t i = lower_bound(t->keys.rk, t->keys.n, s, n, 0);
	int found = i < t->keys.n && t->keys.rk[i]->n == n &&
		    !memcmp(t->keys.rk[i]->s, s, n);
	int has = jv_object_has(jv_copy(data), jv_copy(k));
	struct kref *r, **a;

	if (found == has)
		return 0;
	if (found) {
		kref_free(t->keys.rk[i]);
		memmove(t->keys.rk + i, t->keys.rk + i + 1,
			(t->keys.n - i - 1) * sizeof(*t->keys.rk));
		t->keys.n--;
		return 0;
	}
	if (!(r = kref_new(jv_copy(k))))
		return -1;
	if (r->ns != r->s) {
		kref_free(r);
		return 1;
	}
	if (t->keys.n == t->keys.cap) {
		/* (built to the size of the data: not array_grow's sizes) */
		size_t cap = t->keys.cap < 8 ? 8 : 2 * t->keys.cap;

		if (!(a = realloc(t->keys.rk, cap * sizeof(*a)))) {
			kref_free(r);
			return -1;
		}
		t->keys.rk = t->keys.nk = a;
		t->keys.cap = cap;
	}
	memmove(t->keys.rk + i + 1, t->keys.rk + i,
		(t->keys.n - i) * sizeof(*t->keys.rk));
	t->keys.rk[i] = r;
	t->keys.n++;
	return 0;
}

/* Take the keys of data (borrowed): the index of the last render brought
 * up to date with the changes reported, or built again. */
int
keys_load(struct tmpl *t, jv data)
{
	size_t i, nc;
	int r = 0;

	t->keys.data = jv_copy(data);
	if (jv_get_kind(data) != JV_KIND_OBJECT) {
		keys_drop(t);
		return 0;
	}
	nc = (size_t)jv_array_length(jv_copy(t->inc.changed));
	/* (a large batch is cheaper sorted once) */
	if (!t->inc.tracking || t->inc.all_changed || !t->keys.valid ||
	    t->keys.odd || nc > 64 + t->keys.n / 8)
		return keys_build(t, data);
	for (i = 0; i < nc && r == 0; i++) {
		jv k = jv_array_get(jv_copy(t->inc.changed), (int)i);

		r = keys_update(t, data, k);
		jv_free(k);
	}
	return r ? keys_build(t, data) : 0;
}
/* The keys below dir (in normal form) are nk[*from .. return value);
 * *plen is the length of their common prefix, dir and a "/". */
static size_t
below(struct tmpl *t, const char *d, size_t dn, size_t *from, size_t *plen)
{
	struct buf pfx = {0};
	size_t i;

	buf_add(&pfx, d, dn);
	if (dn != 1)
		buf_add(&pfx, "/", 1);
	*plen = pfx.len;
	*from = i =
	    lower_bound(t->keys.nk, t->keys.n, pfx.p ? pfx.p : "", pfx.len, 1);
	while (i < t->keys.n && t->keys.nk[i]->nn > pfx.len &&
	       !memcmp(t->keys.nk[i]->ns, pfx.p, pfx.len))
		i++;
	buf_free(&pfx);
	return i;
}

/* A name below a directory, and the index of its key (the key itself
 * when there is one). */
struct child {
	const char *s;
	size_t n, i;
	int exact;
};

static int
child_cmp(const void *a, const void *b)
{
	const struct child *x = a, *y = b;
	int c = bytes_cmp(x->s, x->n, y->s, y->n);

	/* (of one name, the key itself first) */
	return c ? c : y->exact - x->exact;
}

/* The names directly below directory d (normal form), sorted, each once
 * (directories only when dirs): *cp (NULL, or to free) and *np.  0, or -1
 * when out of memory.  (The keys are sorted, but not their first
 * segments: "a-1" and "a/x" come between "a" and "a/y".) */
static int
children(struct tmpl *t, const char *d, size_t dn, int dirs, struct child **cp,
	 size_t *np)
{
	size_t i, end, pl, n = 0, j, u = 0;
	struct child *c;

	*cp = NULL;
	*np = 0;
	end = below(t, d, dn, &i, &pl);
	if (end == i)
		return 0;
	if (!(c = malloc((end - i) * sizeof(*c))))
		return -1;
	for (; i < end; i++) {
		const char *rest = t->keys.nk[i]->ns + pl;
		size_t rn = t->keys.nk[i]->nn - pl;
		const char *sl = memchr(rest, '/', rn);
		size_t nn = sl ? (size_t)(sl - rest) : rn;

		if (dirs && !sl)
			continue;
		/* (a run of one name: its key, when it has one, first) */
		if (n && c[n - 1].n == nn && !memcmp(c[n - 1].s, rest, nn))
			continue;
		c[n].s = rest;
		c[n].n = nn;
		c[n].i = i;
		c[n++].exact = !sl;
	}
	qsort(c, n, sizeof(*c), child_cmp);
	for (j = 0; j < n; j++)
		if (!u || bytes_cmp(c[u - 1].s, c[u - 1].n, c[j].s, c[j].n))
			c[u++] = c[j];
	*cp = c;
	*np = u;
	return 0;
}

/* ls(dir) (dirs 0) or lsdir(dir) (dirs 1), dir in normal form: the sorted
 * names below it. */
jv
keys_ls(struct tmpl *t, const char *d, size_t dn, int dirs)
{
	struct child *c;
	size_t n, j;
	jv r = jv_array();

	if (children(t, d, dn, dirs, &c, &n) < 0)
		return r;
	for (j = 0; j < n; j++)
		r = jv_array_append(r, jv_string_sized(c[j].s, (int)c[j].n));
	free(c);
	return r;
}

/* under(dir): the keys below dir with their values. */
jv
keys_under(struct tmpl *t, const char *d, size_t dn)
{
	jv r = jv_object();
	size_t i, end, pl;

	for (end = below(t, d, dn, &i, &pl); i < end; i++)
		r = jv_object_set(r, jv_copy(t->keys.nk[i]->k),
				  jv_object_get(jv_copy(t->keys.data),
						jv_copy(t->keys.nk[i]->k)));
	return r;
}

/* The keys that start with p, in byte order (for gets). */
jv
keys_scan(struct tmpl *t, const char *p, size_t n)
{
	jv r = jv_array();
	size_t i;

	for (i = lower_bound(t->keys.rk, t->keys.n, p, n, 0);
	     i < t->keys.n && t->keys.rk[i]->n >= n &&
	     !memcmp(t->keys.rk[i]->s, p, n);
	     i++)
		r = jv_array_append(r, jv_copy(t->keys.rk[i]->k));
	return r;
}

/* Are there keys below directory d (normal form)? */
int
keys_dir_exists(struct tmpl *t, const char *d, size_t dn)
{
	size_t from, pl;

	return below(t, d, dn, &from, &pl) > from;
}

int
tmpl_children(struct tmpl *t, const char *raw, size_t rawn, const char *d,
	      size_t dn, tmpl_child_fn *f, void *ctx)
{
	struct buf key = {0};
	struct child *c;
	size_t n, j;
	int ret = 0;

	if (children(t, d, dn, 0, &c, &n) < 0)
		return -1;
	if (n && (buf_add(&key, raw, rawn) < 0 || buf_add(&key, "/", 1) < 0))
		ret = -1;
	for (j = 0; j < n && ret == 0; j++) {
		const struct kref *k = t->keys.nk[c[j].i];
		jv v;

		key.len = rawn + 1;
		if (buf_add(&key, c[j].s, c[j].n) < 0) {
			ret = -1;
			break;
		}
		/* (the key itself when it is the one asked for: its hash is
		 * kept with it) */
		if (k->n == key.len && !memcmp(k->s, key.p, key.len))
			v = jv_object_get(jv_copy(t->keys.data), jv_copy(k->k));
		else
			v = jv_object_get(jv_copy(t->keys.data),
					  jv_string_sized(key.p, (int)key.len));
		f(t, c[j].s, c[j].n, &key, v, ctx);
		jv_free(v);
	}
	free(c);
	buf_free(&key);
	return ret;
}

/* Put child, the finished object for directory name, into parent.  When
 * parent already has that name (a value, or an object from an earlier,
 * non-adjacent run of keys such as "/a//b"), merge: a value moves to the
 * name "" inside the directory. */
static jv
tree_put(jv parent, jv name, jv child)
{
	jv old = jv_object_get(jv_copy(parent), jv_copy(name));

	if (jv_get_kind(old) == JV_KIND_OBJECT) {
		parent = jv_object_delete(parent, jv_copy(name));
		child = jv_object_merge(old, child);
	} else if (jv_is_valid(old)) {
		child = jv_object_set(child, jv_string(""), old);
	} else {
		jv_free(old);
	}
	return jv_object_set(parent, name, child);
}

/* Take directory name out of parent to extend it in place: its object,
 * or a new one (holding parent's value for name under ""). */
static jv
tree_take(jv *parent, jv name)
{
	jv old = jv_object_get(jv_copy(*parent), jv_copy(name));

	if (!jv_is_valid(old)) {
		jv_free(old);
		jv_free(name);
		return jv_object();
	}
	*parent = jv_object_delete(*parent, name);
	if (jv_get_kind(old) == JV_KIND_OBJECT)
		return old;
	return jv_object_set(jv_object(), jv_string(""), old);
}

/* The flat object of paths data (borrowed) nested into objects by path
 * segment, for tree.  The objects of the directories of the current key
 * are kept open on a stack, so that each is extended in place (a jv
 * shared with its parent would be copied on every change) and put into
 * its parent once the sorted keys leave it. */
jv
keys_tree(jv data)
{
	jv keys = jv_keys(jv_copy(data)), *obj = NULL, *name = NULL;
	size_t n = 0, *seg = NULL, maxlen = 0, maxseg, ns, d;
	int i, nk = jv_array_length(jv_copy(keys));

	/* A key of len bytes has at most len / 2 + 1 segments: the arrays
	 * are sized once, for the longest key. */
	for (i = 0; i < nk; i++) {
		jv k = jv_array_get(jv_copy(keys), i);
		size_t len = (size_t)jv_string_length_bytes(k);

		if (len > maxlen)
			maxlen = len;
	}
	maxseg = maxlen / 2 + 2;
	if (!(obj = malloc(maxseg * sizeof(*obj))) ||
	    !(name = malloc(maxseg * sizeof(*name))) ||
	    !(seg = malloc(2 * maxseg * sizeof(*seg))))
		goto oom;
	obj[0] = jv_object();
	name[0] = jv_null();
	n = 1;
	for (i = 0; i < nk; i++) {
		jv k = jv_array_get(jv_copy(keys), i);
		jv v = jv_object_get(jv_copy(data), jv_copy(k));
		const char *s = jv_string_value(k);
		size_t len = jv_string_length_bytes(jv_copy(k)), a, b;

		/* seg[2j], seg[2j+1]: offset and length of segment j. */
		for (ns = 0, a = 0;; ns++) {
			while (a < len && s[a] == '/')
				a++;
			if (a >= len)
				break;
			for (b = a; b < len && s[b] != '/'; b++)
				;
			seg[2 * ns] = a;
			seg[2 * ns + 1] = b - a;
			a = b;
		}
		if (ns == 0) {
			obj[0] = jv_object_set(obj[0], jv_string(""), v);
			jv_free(k);
			continue;
		}
		/* Keep the open levels that are directories of this key. */
		for (d = 1; d < n && d < ns; d++)
			if (jv_string_length_bytes(jv_copy(name[d])) !=
				(int)seg[2 * d - 1] ||
			    memcmp(jv_string_value(name[d]), s + seg[2 * d - 2],
				   seg[2 * d - 1]))
				break;
		while (n > d) {
			n--;
			obj[n - 1] = tree_put(obj[n - 1], name[n], obj[n]);
		}
		for (; n < ns; n++) {
			name[n] = jv_string_sized(s + seg[2 * n - 2],
						  (int)seg[2 * n - 1]);
			obj[n] = tree_take(&obj[n - 1], jv_copy(name[n]));
		}
		{
			jv leaf = jv_string_sized(s + seg[2 * ns - 2],
						  (int)seg[2 * ns - 1]);
			jv old =
			    jv_object_get(jv_copy(obj[n - 1]), jv_copy(leaf));

			if (jv_get_kind(old) == JV_KIND_OBJECT) {
				obj[n - 1] =
				    jv_object_delete(obj[n - 1], jv_copy(leaf));
				v = jv_object_set(old, jv_string(""), v);
			} else {
				jv_free(old);
			}
			obj[n - 1] = jv_object_set(obj[n - 1], leaf, v);
		}
		jv_free(k);
	}
	while (n > 1) {
		n--;
		obj[n - 1] = tree_put(obj[n - 1], name[n], obj[n]);
	}
	jv_free(name[0]);
	free(name);
	free(seg);
	jv_free(keys);
	{
		jv r = obj[0];

		free(obj);
		return r;
	}
oom:
	for (d = 0; d < n; d++) {
		jv_free(obj[d]);
		jv_free(name[d]);
	}
	free(obj);
	free(name);
	free(seg);
	jv_free(keys);
	return jv_invalid_with_msg(jv_string("out of memory"));
}
