/* The template engine alone (lib/tmpl/ and lib/util/, nothing of
 * easy-lb): renders the template named argv[1] with the JSON object read
 * from stdin, argv[2] times (default 1), to stdout, each render's
 * warnings to stderr.  Its own set of helpers (tests/engine.bats):
 *   twice            its input, a string, written twice
 *   digits           each digit of its input, a string, one output each
 *   count            how many times it was called in this template's
 *                    life (the set's state)
 *   note($m)         nothing; adds "note: $m" to the warnings
 *   join2($a; $b)    "$a+$b"
 * With ENGINE_SET=dup, the set also defines ls (the engine's own); with
 * ENGINE_SET=none, no set is given. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl/tmpl.h"

static jv
twice(struct tmpl *t, void *st, jv *a)
{
	(void)t;
	(void)st;
	if (jv_get_kind(a[0]) != JV_KIND_STRING)
		return jv_invalid_with_msg(jv_string("twice: not a string"));
	return jv_string_fmt("%s%s", jv_string_value(a[0]),
			     jv_string_value(a[0]));
}

static jv
digits(struct tmpl *t, void *st, jv *a)
{
	const char *s;
	jv r = jv_array();

	(void)t;
	(void)st;
	if (jv_get_kind(a[0]) != JV_KIND_STRING)
		return r;
	for (s = jv_string_value(a[0]); *s; s++)
		if (*s >= '0' && *s <= '9')
			r = jv_array_append(r, jv_number(*s - '0'));
	return r;
}

static jv
count(struct tmpl *t, void *st, jv *a)
{
	int *n = st;

	(void)t;
	(void)a;
	return jv_number(++*n);
}

static jv
note(struct tmpl *t, void *st, jv *a)
{
	jv m = jv_string_fmt("note: %s", jv_get_kind(a[0]) == JV_KIND_STRING
					     ? jv_string_value(a[0])
					     : "?");

	(void)st;
	tmpl_warn(t, jv_string_value(m),
		  (size_t)jv_string_length_bytes(jv_copy(m)));
	jv_free(m);
	return jv_null();
}

static jv
join2(struct tmpl *t, void *st, jv *a)
{
	jv x = jv_dump_string(jv_copy(a[0]), 0),
	   y = jv_dump_string(jv_copy(a[1]), 0);
	jv r = jv_string_fmt("%s+%s", jv_string_value(x), jv_string_value(y));

	(void)t;
	(void)st;
	jv_free(x);
	jv_free(y);
	return r;
}

static void *
state_new(void)
{
	return calloc(1, sizeof(int));
}

static const struct tmpl_helper list[] = {
    {"twice", NULL, TMPL_ANSWER, twice},
    {"digits", NULL, TMPL_EACH, digits},
    {"count", NULL, TMPL_ANSWER, count},
    {"note", "$m", TMPL_NOTHING, note},
    {"join2", "$a; $b", TMPL_ANSWER, join2},
    {"ls", "$d", TMPL_ANSWER, twice},
};

int
main(int argc, char *argv[])
{
	const char *which = getenv("ENGINE_SET");
	struct tmpl_helpers set = {list, 5, state_new, free};
	const struct tmpl_helpers *sets[] = {&set, NULL};
	struct buf text = {0}, in = {0}, out = {0};
	struct tmpl_err err;
	struct tmpl *t;
	char e[256];
	int i, n = argc > 2 ? atoi(argv[2]) : 1;
	jv data;

	if (argc < 2) {
		fputs("usage: engine TEMPLATE [RENDERS] <DATA\n", stderr);
		return 100;
	}
	if (which && !strcmp(which, "dup"))
		set.n = 6;
	if (read_file(argv[1], &text, e, sizeof(e)) < 0 ||
	    read_file("-", &in, e, sizeof(e)) < 0) {
		fprintf(stderr, "engine: %s\n", e);
		return 111;
	}
	if (tmpl_parse(argv[1], text.p, text.len, tmpl_load_file, NULL,
		       which && !strcmp(which, "none") ? NULL : sets, &t,
		       &err) < 0 ||
	    tmpl_compile(t, jv_object(), &err) < 0) {
		fprintf(stderr, "engine: %s\n", err.msg);
		return 100;
	}
	data = jv_parse_sized(in.p ? in.p : "", (int)in.len);
	for (i = 0; i < n; i++) {
		out.len = 0;
		if (tmpl_render(t, jv_copy(data), 1 << 20, &out, &err) < 0) {
			fprintf(stderr, "engine: %s\n", err.msg);
			return 1;
		}
		fwrite(out.p ? out.p : "", 1, out.len, stdout);
		fputs(tmpl_warnings(t), stderr);
	}
	jv_free(data);
	tmpl_free(t);
	buf_free(&text);
	buf_free(&in);
	buf_free(&out);
	return 0;
}
