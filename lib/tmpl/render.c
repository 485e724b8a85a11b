/* The renderer: runs the compiled program over the data and turns its
 * output back into text, refusing a substituted value that holds a
 * character some reader may take for a line break (an injection). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonw.h"
#include "tmpl/int.h"
#include "tmpl/marks.h"

struct open_block {
	jv key;
	size_t num;
	size_t out, warns; /* where its text and its warnings begin */
};

/* Code point at s (valid UTF-8, as jq strings are), its length in *n. */
static uint32_t
utf8_at(const unsigned char *s, size_t len, size_t *n)
{
	if (s[0] < 0x80 || len < 2) {
		*n = 1;
		return s[0];
	}
	if ((s[0] & 0xe0) == 0xc0) {
		*n = 2;
		return ((s[0] & 0x1f) << 6) | (s[1] & 0x3f);
	}
	if ((s[0] & 0xf0) == 0xe0 && len >= 3) {
		*n = 3;
		return ((s[0] & 0x0f) << 12) | ((s[1] & 0x3f) << 6) |
		       (s[2] & 0x3f);
	}
	*n = len >= 4 ? 4 : len;
	return 0x10000;
}

/* Offset of the first character a substituted value may not contain, or
 * (size_t)-1.  Refused: C0 controls but tab, DEL, C1 controls (U+0085
 * NEL among them) and the line and paragraph separators U+2028/U+2029,
 * that is everything that some reader may take for a line break. */
size_t
tmpl_bad_char(const char *p, size_t len, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i, n;

	for (i = 0; i < len; i += n) {
		n = 1;
		if (s[i] >= 0x20 && s[i] < 0x7f)
			continue;
		if (s[i] == '\t')
			continue;
		*cp = utf8_at(s + i, len - i, &n);
		if (*cp < 0x20 || (*cp >= 0x7f && *cp <= 0x9f) ||
		    *cp == 0x2028 || *cp == 0x2029)
			return i;
	}
	return (size_t)-1;
}

static size_t
utf8_back(const char *s, size_t i)
{
	while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80)
		i--;
	return i;
}

static int rt_error(struct tmpl *t, size_t e, struct tmpl_err *err,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
rt_error(struct tmpl *t, size_t e, struct tmpl_err *err, const char *fmt, ...)
{
	va_list ap;
	int n;

	err->kind = TMPL_ERUNTIME;
	if (e < t->nexprs)
		n = snprintf(err->msg, sizeof(err->msg),
			     "%s:%d:%d: ", t->files[t->exprs[e].file],
			     t->exprs[e].line, t->exprs[e].col);
	else
		n = snprintf(err->msg, sizeof(err->msg), "%s: ", t->files[0]);
	if (n < 0 || (size_t)n >= sizeof(err->msg))
		return -1;
	va_start(ap, fmt);
	vsnprintf(err->msg + n, sizeof(err->msg) - n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Append s[a, b) to out quoted, with every character that tmpl_bad_char
 * refuses (and quote and backslash) escaped, so that the message itself
 * is one safe line. */
static void
quote(struct buf *out, const char *s, size_t a, size_t b)
{
	size_t n;
	uint32_t cp;

	buf_add(out, "\"", 1);
	for (; a < b; a += n) {
		unsigned char c = s[a];

		n = 1;
		if (c == '"' || c == '\\') {
			buf_printf(out, "\\%c", c);
		} else if (c == '\n') {
			buf_puts(out, "\\n");
		} else if (c == '\r') {
			buf_puts(out, "\\r");
		} else if ((c >= 0x20 && c < 0x7f) || c == '\t') {
			buf_add(out, s + a, 1);
		} else {
			cp = utf8_at((const unsigned char *)s + a, b - a, &n);
			if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
			    cp == 0x2028 || cp == 0x2029)
				buf_printf(out, "\\u%04X", (unsigned)cp);
			else
				buf_add(out, s + a, n);
		}
	}
	buf_add(out, "\"", 1);
}

/* Refuse value s of expression e: show where, and the value around the
 * offending character, escaped and shortened. */
static int
refuse(struct tmpl *t, size_t e, const char *s, size_t len, size_t off,
       uint32_t cp, struct tmpl_err *err)
{
	size_t a = off > 24 ? utf8_back(s, off - 24) : 0;
	size_t b = len - off > 24 ? utf8_back(s, off + 24) : len;
	struct buf shown = {0};

	quote(&shown, s, a, b);
	rt_error(
	    t, e, err,
	    "refused: value contains control character U+%04X at byte %zu: %s%s%s",
	    (unsigned)cp, off, a ? "..." : "", shown.p ? shown.p : "",
	    b < len ? "..." : "");
	buf_free(&shown);
	return -1;
}

static int
put_value(struct tmpl *t, size_t e, jv v, size_t max, struct buf *out,
	  struct tmpl_err *err)
{
	const char *s;
	size_t len, off;
	uint32_t cp;
	int r;

	switch (jv_get_kind(v)) {
	case JV_KIND_NULL:
		jv_free(v);
		return 0;
	case JV_KIND_STRING:
		break;
	default:
		v = jv_dump_string(v, 0);
	}
	s = jv_string_value(v);
	len = jv_string_length_bytes(jv_copy(v));
	if (!t->exprs[e].raw &&
	    (off = tmpl_bad_char(s, len, &cp)) != (size_t)-1) {
		refuse(t, e, s, len, off, cp, err);
		jv_free(v);
		return -1;
	}
	r = buf_add_max(out, s, len, max);
	jv_free(v);
	if (r > 0)
		return rt_error(t, e, err, "output larger than %zu bytes", max);
	return r < 0 ? nomem(err) : 0;
}

static int
put_lit(struct tmpl *t, size_t i, size_t max, struct buf *out,
	struct tmpl_err *err)
{
	int r = buf_add_max(out, t->lits.p + t->litoff[i], t->litlen[i], max);

	if (r > 0)
		return rt_error(t, (size_t)-1, err,
				"output larger than %zu bytes", max);
	return r < 0 ? nomem(err) : 0;
}

/* List l's array a (consumed): each element between l's texts. */
static int
put_list(struct tmpl *t, const struct list *l, jv a, size_t max,
	 struct buf *out, struct tmpl_err *err)
{
	int i, n, r = 0;

	if (jv_get_kind(a) != JV_KIND_ARRAY) {
		jv_free(a);
		return rt_error(t, (size_t)-1, err,
				"internal error: bad program output");
	}
	n = jv_array_length(jv_copy(a));
	for (i = 0; i < n && r == 0; i++) {
		if (l->before != (size_t)-1)
			r = put_lit(t, l->before, max, out, err);
		if (r == 0)
			r = put_value(t, l->expr, jv_array_get(jv_copy(a), i),
				      max, out, err);
		if (r == 0 && l->after != (size_t)-1)
			r = put_lit(t, l->after, max, out, err);
	}
	jv_free(a);
	return r;
}

/* Report the error that ended the render: jv msg is consumed. */
static int
render_error(struct tmpl *t, jv msg, struct tmpl_err *err)
{
	size_t e = (size_t)-1;
	jv m = msg, s;

	if (jv_get_kind(msg) == JV_KIND_OBJECT) {
		jv n = jv_object_get(jv_copy(msg), jv_string("__tmpl"));

		if (jv_get_kind(n) == JV_KIND_NUMBER) {
			/* (a template's own error() may forge one: any
			 * number, no position then) */
			if (jv_number_value(n) >= 0 &&
			    jv_number_value(n) < (double)t->nexprs)
				e = (size_t)jv_number_value(n);
			m = jv_object_get(jv_copy(msg), jv_string("msg"));
			jv_free(msg);
		}
		jv_free(n);
	}
	if (jv_get_kind(m) == JV_KIND_STRING)
		s = m;
	else
		s = jv_dump_string(m, 0);
	rt_error(t, e, err, "runtime error: %s", jv_string_value(s));
	jv_free(s);
	return -1;
}

/* A {{ memo }} block's mark: copy the text kept, or open the body, or
 * close it and keep its text and warnings. */
static int
block_mark(struct tmpl *t, enum mark m, size_t max_output, struct buf *out,
	   struct tmpl_err *err)
{
	struct open_block *b, *nb;
	int r;

	switch (m) {
	case MARK_BLOCK_KEPT:
		if (jv_get_kind(t->render.block_hit) != JV_KIND_STRING)
			break;
		r = buf_add_max(out, jv_string_value(t->render.block_hit),
				(size_t)jv_string_length_bytes(
				    jv_copy(t->render.block_hit)),
				max_output);
		jv_free(t->render.block_hit);
		t->render.block_hit = jv_invalid();
		if (r > 0)
			return rt_error(t, (size_t)-1, err,
					"output larger than %zu bytes",
					max_output);
		return r < 0 ? nomem(err) : 0;
	case MARK_BLOCK_BEGIN:
		if (!(nb = array_grow(t->render.blocks, t->render.nblocks,
				      sizeof(*t->render.blocks))))
			return nomem(err);
		t->render.blocks = nb;
		b = &t->render.blocks[t->render.nblocks++];
		b->key = t->render.block_key;
		b->num = t->render.block_num;
		t->render.block_key = jv_invalid();
		b->out = out->len;
		b->warns = t->warns.len;
		return 0;
	case MARK_BLOCK_END:
		if (!t->render.nblocks)
			break;
		b = &t->render.blocks[--t->render.nblocks];
		/* (jv strings hold UTF-8 only: other text is not kept) */
		if (jv_is_valid(b->key) && b->out <= out->len &&
		    utf8_valid(out->p + b->out, out->len - b->out)) {
			memo_keep(t, (long)b->num, b->key,
				  jv_string_sized(out->p + b->out,
						  (int)(out->len - b->out)),
				  b->warns);
		} else {
			jv_free(b->key);
		}
		return 0;
	default:
		break;
	}
	return rt_error(t, (size_t)-1, err,
			"internal error: bad program output");
}

static int
render(struct tmpl *t, jv data, size_t max_output, struct buf *out,
       struct tmpl_err *err)
{
	jv tree, in, v;
	size_t expect = (size_t)-1;
	int r = 0, name = 0;
	size_t list = (size_t)-1;
	char why[128];

	memset(err, 0, sizeof(*err));
	t->warns.len = 0;
	if (t->warns.p)
		t->warns.p[0] = '\0';
	if (keys_load(t, data) < 0) {
		jv_free(data);
		return nomem(err);
	}
	tree = jv_null();
	if (t->need_tree && jv_get_kind(data) == JV_KIND_OBJECT)
		tree = keys_tree(data);
	if (!jv_is_valid(tree)) {
		jv_free(tree);
		jv_free(data);
		return nomem(err);
	}
	in = jv_array();
	in = jv_array_append(in, data);
	in = jv_array_append(in, tree);
	jq_start(t->call.jq, in, 0);
	while (jv_is_valid(v = jq_next(t->call.jq))) {
		enum mark m;
		size_t i;

		if (expect != (size_t)-1) {
			r = put_value(t, expect, v, max_output, out, err);
			expect = (size_t)-1;
			if (r < 0)
				return -1;
			continue;
		}
		if (list != (size_t)-1) {
			r = put_list(t, &t->lists[list], v, max_output, out,
				     err);
			list = (size_t)-1;
			if (r < 0)
				return -1;
			continue;
		}
		if (name) {
			/* The name of the directory an {{ each }} body is
			 * rendered for. */
			name = 0;
			if (each_mark(t, MARK_EACH_DIR, v, out, max_output, why,
				      sizeof(why)))
				return rt_error(t, (size_t)-1, err, "%s", why);
			continue;
		}
		/* Not a value: a mark. */
		m = mark_read(v, t->nlits, t->nexprs, t->nmemos, &i);
		jv_free(v);
		switch (m) {
		case MARK_BAD:
			return rt_error(t, (size_t)-1, err,
					"internal error: bad program output");
		case MARK_VALUE:
			expect = i;
			break;
		case MARK_LIT:
			if (put_lit(t, i, max_output, out, err) < 0)
				return -1;
			break;
		case MARK_EACH_DIR:
			name = 1;
			break;
		case MARK_LIST:
			if (t->is_each[i] != 2)
				return rt_error(
				    t, (size_t)-1, err,
				    "internal error: bad program output");
			list = i;
			break;
		case MARK_EACH_BEGIN:
		case MARK_EACH_DIR_END:
		case MARK_EACH_END:
			r = each_mark(t, m, jv_invalid(), out, max_output, why,
				      sizeof(why));
			if (r == -1)
				return nomem(err);
			if (r)
				return rt_error(t, (size_t)-1, err, "%s", why);
			break;
		default:
			if (block_mark(t, m, max_output, out, err) < 0)
				return -1;
		}
	}
	if (jq_halted(t->call.jq)) {
		jv_free(v);
		v = jq_get_exit_code(t->call.jq);
		jv_free(v);
		return rt_error(t, (size_t)-1, err,
				"runtime error: template called halt");
	}
	if (jv_invalid_has_msg(jv_copy(v)))
		return render_error(t, jv_invalid_get_msg(v), err);
	jv_free(v);
	return 0;
}

void
render_init(struct tmpl *t)
{
	t->render.block_key = t->render.block_hit = jv_invalid();
}

void
render_free(struct tmpl *t)
{
	jv_free(t->render.block_key);
	jv_free(t->render.block_hit);
	free(t->render.blocks);
}

int
tmpl_render(struct tmpl *t, jv data, size_t max_output, struct buf *out,
	    struct tmpl_err *err)
{
	int r;

	t->renders++;
	r = render(t, data, max_output, out, err);
	jv_free(t->call.reply);
	t->call.reply = jv_invalid();
	jv_free(t->render.block_hit);
	t->render.block_hit = jv_invalid();
	jv_free(t->render.block_key);
	t->render.block_key = jv_invalid();
	while (t->render.nblocks)
		jv_free(t->render.blocks[--t->render.nblocks].key);
	keys_free(t);
	inc_render_end(t, r == 0);
	memo_sweep(t);
	return r;
}
