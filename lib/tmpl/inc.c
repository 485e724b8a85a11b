/* Incremental renders: the keys that the caller reports changed since
 * the last render, and what dirmap() calls and {{ each }} blocks keep
 * for each directory below their prefix (a value or a text, and the
 * warnings that came with it), so that a render works out again only the
 * directories whose keys changed and keeps the others as they were.
 *
 * An instance is one dirmap() call in the program (or one {{ each }}
 * block) on one directory.  What it keeps stands for the data of the
 * render that last used it; a render that does not use it forgets it, so
 * that the changes of one render always bring it up to date.  Warnings
 * are kept per directory and given again, in the order of the names, at
 * the end of each use, which is where a render that works everything out
 * gives them too: the output and the warnings of an incremental render
 * are those of a render from scratch. */
#include <stdlib.h>
#include <string.h>

#include "tmpl/int.h"

/* What {{ each }} keeps for one directory. */
struct piece {
	jv name;
	char *text, *warns;
	size_t len, wlen;
};

struct inst {
	long long serial;
	int each;
	size_t site;
	jv dir; /* normal form */
	jv key; /* {{ each }}: the value of its KEY */
	double used;
	int open; /* being worked out */
	/* dirmap(): the values and the warnings by name, and where the
	 * warnings of the name being worked out begin. */
	jv obj, warns;
	size_t cur_warns;
	int full;  /* worked out from scratch: the names come in order */
	int added; /* a name added out of order: sort at the end */
	/* {{ each }}: the texts, sorted by name; how many hold warnings. */
	struct piece *pieces;
	size_t npieces, nwarned;
};

/* An {{ each }} block open in the renderer: the directory whose body is
 * being rendered (or invalid) and where its text and warnings begin. */
struct open_each {
	struct inst *in;
	jv name;
	size_t out, warns;
};

void
inc_init(struct tmpl *t)
{
	t->inc.changed = jv_array();
}

void
tmpl_incremental(struct tmpl *t)
{
	t->inc.tracking = 1;
	t->inc.all_changed = 1;
}

int
tmpl_changed(struct tmpl *t, const char *key, size_t len)
{
	if (!key || len > 0x7fffffff) {
		t->inc.all_changed = 1;
		return 0;
	}
	if (!t->inc.all_changed)
		t->inc.changed = jv_array_append(
		    t->inc.changed, jv_string_sized(key, (int)len));
	return 0;
}

static void
piece_free(struct piece *p)
{
	jv_free(p->name);
	free(p->text);
	free(p->warns);
}

/* Forget all that in keeps. */
static void
inst_reset(struct inst *in)
{
	size_t i;

	jv_free(in->obj);
	jv_free(in->warns);
	in->obj = jv_object();
	in->warns = jv_object();
	for (i = 0; i < in->npieces; i++)
		piece_free(&in->pieces[i]);
	in->npieces = in->nwarned = 0;
}

static void
inst_free(struct inst *in)
{
	inst_reset(in);
	jv_free(in->obj);
	jv_free(in->warns);
	jv_free(in->dir);
	jv_free(in->key);
	free(in->pieces);
	free(in);
}

/* The index of name (borrowed) in in's pieces, or where it would go. */
static size_t
piece_find(const struct inst *in, jv name, int *found)
{
	const char *s = jv_string_value(name);
	size_t n = (size_t)jv_string_length_bytes(jv_copy(name));
	size_t lo = 0, hi = in->npieces;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		jv m = in->pieces[mid].name;
		int c =
		    bytes_cmp(jv_string_value(m),
			      (size_t)jv_string_length_bytes(jv_copy(m)), s, n);

		if (!c) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Forget what in keeps for name (borrowed). */
static void
inst_forget(struct inst *in, jv name)
{
	size_t i;
	int found;

	if (!in->each) {
		/* (deleting what is not there would copy a shared object) */
		if (jv_object_has(jv_copy(in->obj), jv_copy(name)))
			in->obj = jv_object_delete(in->obj, jv_copy(name));
		if (jv_object_has(jv_copy(in->warns), jv_copy(name)))
			in->warns = jv_object_delete(in->warns, jv_copy(name));
		return;
	}
	i = piece_find(in, name, &found);
	if (!found)
		return;
	in->nwarned -= in->pieces[i].warns != NULL;
	piece_free(&in->pieces[i]);
	memmove(in->pieces + i, in->pieces + i + 1,
		(in->npieces - i - 1) * sizeof(*in->pieces));
	in->npieces--;
}

/* The instance of (each, site) on directory dir (borrowed), made when
 * there is none; NULL when out of memory. */
static struct inst *
inst_get(struct tmpl *t, int each, size_t site, jv dir)
{
	struct inst *in, **a;
	size_t i;

	for (i = 0; i < t->inc.ninsts; i++) {
		in = t->inc.insts[i];
		if (in->each == each && in->site == site &&
		    jv_equal(jv_copy(in->dir), jv_copy(dir)))
			return in;
	}
	if (!(a = array_grow(t->inc.insts, t->inc.ninsts, sizeof(*a))))
		return NULL;
	t->inc.insts = a;
	if (!(in = calloc(1, sizeof(*in))))
		return NULL;
	in->serial = ++t->inc.serial;
	in->each = each;
	in->site = site;
	in->dir = jv_copy(dir);
	in->key = jv_null();
	in->obj = jv_object();
	in->warns = jv_object();
	in->used = -1;
	t->inc.insts[t->inc.ninsts++] = in;
	return in;
}

static struct inst *
inst_by_serial(struct tmpl *t, jv serial, int each)
{
	size_t i;

	if (jv_get_kind(serial) != JV_KIND_NUMBER)
		return NULL;
	for (i = 0; i < t->inc.ninsts; i++)
		if (t->inc.insts[i]->serial == jv_number_value(serial) &&
		    t->inc.insts[i]->each == each && t->inc.insts[i]->open)
			return t->inc.insts[i];
	return NULL;
}

/* The set (an object) of the names directly below directory d (normal
 * form, dn bytes) of the keys changed since the last render. */
static jv
changed_below(struct tmpl *t, const char *d, size_t dn)
{
	jv set = jv_object();
	int i, n = jv_array_length(jv_copy(t->inc.changed));
	size_t pl = dn == 1 ? 1 : dn + 1;

	for (i = 0; i < n; i++) {
		jv k = jv_array_get(jv_copy(t->inc.changed), i);
		const char *s = jv_string_value(k), *rest, *sl;
		size_t kn = (size_t)jv_string_length_bytes(jv_copy(k));
		char *norm = NULL;

		if (!keys_is_normal(s, kn) && (norm = keys_normal(s, kn, &kn)))
			s = norm;
		if (kn > pl && !memcmp(s, d, dn) && (dn == 1 || s[dn] == '/')) {
			rest = s + pl;
			sl = memchr(rest, '/', kn - pl);
			set = jv_object_set(
			    set,
			    jv_string_sized(rest, (int)(sl ? (size_t)(sl - rest)
							   : kn - pl)),
			    jv_true());
		}
		free(norm);
		jv_free(k);
	}
	return set;
}

/* The names below in's directory to work out again, in order, those gone
 * forgotten: every name when in keeps nothing for the data of the last
 * render, else those of the changed keys.  An array. */
static jv
inst_todo(struct tmpl *t, struct inst *in)
{
	const char *d = jv_string_value(in->dir);
	size_t dn = (size_t)jv_string_length_bytes(jv_copy(in->dir));
	struct buf path = {0};
	jv names, todo;
	int i, n;

	in->full = 0;
	if (in->used == t->renders)
		return jv_array();
	if (!t->inc.tracking || t->inc.all_changed ||
	    in->used != t->renders - 1) {
		inst_reset(in);
		in->full = 1;
		return keys_ls(t, d, dn, 1);
	}
	names = jv_keys(changed_below(t, d, dn));
	todo = jv_array();
	n = jv_array_length(jv_copy(names));
	for (i = 0; i < n; i++) {
		jv nm = jv_array_get(jv_copy(names), i);

		path.len = 0;
		buf_add(&path, d, dn);
		if (dn != 1)
			buf_add(&path, "/", 1);
		buf_puts(&path, jv_string_value(nm));
		if (path.p && keys_dir_exists(t, path.p, path.len)) {
			todo = jv_array_append(todo, nm);
		} else {
			inst_forget(in, nm);
			jv_free(nm);
		}
	}
	buf_free(&path);
	jv_free(names);
	return todo;
}

/* The warnings given since offset from, cut out of t->warns: a new
 * string, or NULL when there are none. */
static char *
cut_warns(struct tmpl *t, size_t from, size_t *n)
{
	char *w = NULL;

	*n = 0;
	if (from >= t->warns.len)
		return NULL;
	*n = t->warns.len - from;
	if ((w = malloc(*n + 1))) {
		memcpy(w, t->warns.p + from, *n);
		w[*n] = '\0';
	} else {
		*n = 0;
	}
	t->warns.len = from;
	t->warns.p[from] = '\0';
	return w;
}

/* Keep v (consumed) under name (borrowed), or no value when v is
 * invalid.  An object that does not change stays the same object (see
 * hcache in memo.c): a memo keyed on it costs O(1). */
static void
dirmap_set(struct inst *in, jv name, jv v)
{
	jv old = jv_object_get(jv_copy(in->obj), jv_copy(name));

	if (jv_is_valid(v) && jv_is_valid(old) &&
	    jv_equal(jv_copy(old), jv_copy(v))) {
		jv_free(v);
	} else if (jv_is_valid(v)) {
		in->added |= !jv_is_valid(old) && !in->full;
		in->obj = jv_object_set(in->obj, jv_copy(name), v);
	} else if (jv_is_valid(old)) {
		in->obj = jv_object_delete(in->obj, jv_copy(name));
	}
	jv_free(old);
}

struct tmpl_kv *
tmpl_kv_of(jv o, size_t *n)
{
	struct tmpl_kv *a =
	    malloc(((size_t)jv_object_length(jv_copy(o)) + 1) * sizeof(*a));
	int it;

	*n = 0;
	if (!a)
		return NULL;
	for (it = jv_object_iter(o); jv_object_iter_valid(o, it);
	     it = jv_object_iter_next(o, it)) {
		a[*n].k = jv_object_iter_key(o, it);
		a[*n].v = jv_object_iter_value(o, it);
		a[*n].p = jv_string_value(a[*n].k);
		a[*n].n = (size_t)jv_string_length_bytes(jv_copy(a[*n].k));
		++*n;
	}
	return a;
}

int
tmpl_kv_cmp(const void *pa, const void *pb)
{
	const struct tmpl_kv *a = pa, *b = pb;

	return bytes_cmp(a->p, a->n, b->p, b->n);
}

size_t
tmpl_kv_ordered(const struct tmpl_kv *a, size_t n)
{
	size_t m = 1;

	while (m < n && tmpl_kv_cmp(&a[m - 1], &a[m]) < 0)
		m++;
	return n ? m : 0;
}

void
tmpl_kv_free(struct tmpl_kv *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		jv_free(a[i].k);
		jv_free(a[i].v);
	}
	free(a);
}

/* Put in's names in order again, after some were added: jq shows an
 * object's keys in the order they were added (keys_unsorted, to_entries,
 * tojson), and a render from scratch adds them in order.  The names come
 * in order but for those added since (at the end, a few): those are
 * sorted and merged in, and the object is made again only when they did
 * not all come last.  (Out of memory, the names stay as they are.) */
static void
dirmap_sort(struct inst *in)
{
	size_t i, m, x, y, k;
	struct tmpl_kv *a = tmpl_kv_of(in->obj, &i), *b;
	jv o;

	in->added = 0;
	if (!a)
		return;
	m = tmpl_kv_ordered(a, i);
	if (m < i && (b = malloc(i * sizeof(*b)))) {
		qsort(a + m, i - m, sizeof(*a), tmpl_kv_cmp);
		for (x = 0, y = m, k = 0; k < i; k++)
			b[k] =
			    y == i || (x < m && tmpl_kv_cmp(&a[x], &a[y]) < 0)
				? a[x++]
				: a[y++];
		o = jv_object();
		for (k = 0; k < i; k++)
			o = jv_object_set(o, b[k].k, b[k].v);
		free(b);
		jv_free(in->obj);
		in->obj = o;
		i = 0;
	}
	tmpl_kv_free(a, i);
}

/* dirmap(): __dm(site; dir) answers [serial, names to work out]; f's
 * outputs for each name come in order, __dm_put(serial; name; [outputs]);
 * __dm_end(serial) answers the object of all names, its warnings given. */
jv
inc_dm(struct tmpl *t, void *st, jv *a)
{
	double s =
	    jv_get_kind(a[0]) == JV_KIND_NUMBER ? jv_number_value(a[0]) : -1;
	struct inst *in = NULL;
	jv todo;

	(void)st;
	if (s < 0 || s >= (double)t->ndirmaps ||
	    jv_get_kind(a[1]) != JV_KIND_STRING ||
	    !(in = inst_get(t, 0, (size_t)s, a[1])) || in->open)
		return jv_invalid_with_msg(
		    jv_string(in ? "dirmap: called again while it runs"
				 : "dirmap: bad request"));
	todo = inst_todo(t, in);
	in->open = 1;
	in->cur_warns = t->warns.len;
	return JV_ARRAY(jv_number((double)in->serial), todo);
}

jv
inc_dm_put(struct tmpl *t, void *st, jv *a)
{
	struct inst *in = inst_by_serial(t, a[0], 0);
	size_t wn;
	char *w;

	(void)st;
	if (!in || jv_get_kind(a[1]) != JV_KIND_STRING ||
	    jv_get_kind(a[2]) != JV_KIND_ARRAY)
		return jv_invalid();
	/* The warnings given since the last request are this directory's:
	 * f ran in between. */
	w = cut_warns(t, in->cur_warns, &wn);
	if (w)
		in->warns = jv_object_set(in->warns, jv_copy(a[1]),
					  jv_string_sized(w, (int)wn));
	else if (jv_object_has(jv_copy(in->warns), jv_copy(a[1])))
		in->warns = jv_object_delete(in->warns, jv_copy(a[1]));
	free(w);
	dirmap_set(in, a[1],
		   jv_array_length(jv_copy(a[2])) > 0
		       ? jv_array_get(jv_copy(a[2]), 0)
		       : jv_invalid());
	in->cur_warns = t->warns.len;
	return jv_invalid();
}

jv
inc_dm_end(struct tmpl *t, void *st, jv *a)
{
	struct inst *in = inst_by_serial(t, a[0], 0);
	jv ks;
	int i, nk;

	(void)st;
	if (!in)
		return jv_invalid_with_msg(jv_string("dirmap: bad request"));
	ks = jv_keys(jv_copy(in->warns));
	nk = jv_array_length(jv_copy(ks));
	for (i = 0; i < nk; i++) {
		jv w = jv_object_get(jv_copy(in->warns),
				     jv_array_get(jv_copy(ks), i));

		buf_add(&t->warns, jv_string_value(w),
			(size_t)jv_string_length_bytes(jv_copy(w)));
		jv_free(w);
	}
	jv_free(ks);
	if (in->added)
		dirmap_sort(in);
	in->open = 0;
	in->used = t->renders;
	return jv_copy(in->obj);
}

/* {{ each }}: __each(block; dir; key) answers the names whose bodies to
 * render, and hands the block to its first mark. */
jv
inc_each(struct tmpl *t, void *st, jv *a)
{
	double s =
	    jv_get_kind(a[0]) == JV_KIND_NUMBER ? jv_number_value(a[0]) : -1;
	struct inst *in = NULL;

	(void)st;
	if (s < 0 || s >= (double)t->nmemos || s != (size_t)s ||
	    t->is_each[(size_t)s] != 1 || jv_get_kind(a[1]) != JV_KIND_STRING ||
	    !(in = inst_get(t, 1, (size_t)s, a[1])) || in->open)
		return jv_invalid_with_msg(
		    jv_string(in ? "each: block entered again while it runs"
				 : "__each: no such block"));
	if (!jv_equal(jv_copy(in->key), jv_copy(a[2]))) {
		/* Another KEY: every body is rendered again. */
		inst_reset(in);
		in->used = -1;
	}
	jv_free(in->key);
	in->key = jv_copy(a[2]);
	in->open = 1;
	t->inc.each_pending = in;
	return inst_todo(t, in);
}

/* Keep the text and warnings of the body of the directory being
 * rendered in block e, cut out of out and t->warns. */
static int
each_keep(struct tmpl *t, struct open_each *e, struct buf *out)
{
	struct inst *in = e->in;
	struct piece p = {0}, *np;
	size_t i;
	int found;

	p.len = out->len - e->out;
	if (!(p.text = malloc(p.len + 1)))
		return -1;
	if (p.len)
		memcpy(p.text, out->p + e->out, p.len);
	out->len = e->out;
	p.warns = cut_warns(t, e->warns, &p.wlen);
	p.name = e->name;
	e->name = jv_invalid();
	i = piece_find(in, p.name, &found);
	if (found) {
		in->nwarned -= in->pieces[i].warns != NULL;
		piece_free(&in->pieces[i]);
	} else {
		if (!(np = array_grow(in->pieces, in->npieces, sizeof(*np)))) {
			piece_free(&p);
			return -1;
		}
		in->pieces = np;
		memmove(in->pieces + i + 1, in->pieces + i,
			(in->npieces - i) * sizeof(*in->pieces));
		in->npieces++;
	}
	in->pieces[i] = p;
	in->nwarned += p.warns != NULL;
	return 0;
}

/* The text of every directory of block e, in order, and their warnings. */
static int
each_end(struct tmpl *t, struct inst *in, struct buf *out, size_t max)
{
	size_t i;
	int r;

	for (i = 0; i < in->npieces; i++)
		if ((r = buf_add_max(out, in->pieces[i].text, in->pieces[i].len,
				     max)))
			return r;
	for (i = 0; in->nwarned && i < in->npieces; i++)
		if (in->pieces[i].warns)
			buf_add(&t->warns, in->pieces[i].warns,
				in->pieces[i].wlen);
	in->open = 0;
	in->used = t->renders;
	return 0;
}

int
each_mark(struct tmpl *t, enum mark m, jv name, struct buf *out,
	  size_t max_output, char *why, size_t whylen)
{
	struct open_each *e =
	    t->inc.neachs ? &t->inc.eachs[t->inc.neachs - 1] : NULL;
	int r = 0;

	snprintf(why, whylen, "internal error: bad program output");
	switch (m) {
	case MARK_EACH_BEGIN:
		if (!t->inc.each_pending ||
		    !(e = array_grow(t->inc.eachs, t->inc.neachs,
				     sizeof(*e)))) {
			r = t->inc.each_pending ? -1 : 2;
			break;
		}
		t->inc.eachs = e;
		e = &t->inc.eachs[t->inc.neachs++];
		e->in = t->inc.each_pending;
		e->name = jv_invalid();
		t->inc.each_pending = NULL;
		break;
	case MARK_EACH_DIR:
		if (!e || jv_is_valid(e->name) ||
		    jv_get_kind(name) != JV_KIND_STRING) {
			r = 2;
			break;
		}
		e->name = name;
		name = jv_invalid();
		e->out = out->len;
		e->warns = t->warns.len;
		break;
	case MARK_EACH_DIR_END:
		r = e && jv_is_valid(e->name) ? each_keep(t, e, out) : 2;
		break;
	case MARK_EACH_END:
		if (!e || jv_is_valid(e->name)) {
			r = 2;
			break;
		}
		t->inc.neachs--;
		r = each_end(t, e->in, out, max_output);
		break;
	default:
		r = 2;
	}
	jv_free(name);
	if (r == 1)
		snprintf(why, whylen, "output larger than %zu bytes",
			 max_output);
	else if (r == -1)
		snprintf(why, whylen, "out of memory");
	return r;
}

/* After a render (ok or not): what was left open, and what this render
 * did not use, is forgotten; the changes are all taken into account. */
void
inc_render_end(struct tmpl *t, int ok)
{
	size_t i, j;

	(void)ok;
	while (t->inc.neachs)
		jv_free(t->inc.eachs[--t->inc.neachs].name);
	t->inc.each_pending = NULL;
	for (i = j = 0; i < t->inc.ninsts; i++) {
		struct inst *in = t->inc.insts[i];

		if (in->open || in->used != t->renders)
			inst_free(in);
		else
			t->inc.insts[j++] = in;
	}
	t->inc.ninsts = j;
	jv_free(t->inc.changed);
	t->inc.changed = jv_array();
	t->inc.all_changed = 0;
}

void
inc_free(struct tmpl *t)
{
	size_t i;

	while (t->inc.neachs)
		jv_free(t->inc.eachs[--t->inc.neachs].name);
	free(t->inc.eachs);
	for (i = 0; i < t->inc.ninsts; i++)
		inst_free(t->inc.insts[i]);
	free(t->inc.insts);
	jv_free(t->inc.changed);
}
