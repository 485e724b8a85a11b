/* The tmpl template engine: text with {{ actions }} whose expressions are
 * jq filters.  A template (with its includes) is translated into one jq
 * program, compiled once by libjq, and run once per render; see tmpl(1).
 *
 * Nothing here exits or prints: every function returns 0 or -1 and fills
 * a struct tmpl_err. */
#ifndef EASYLB_TMPL_H
#define EASYLB_TMPL_H

#include <stddef.h>
#include <stdint.h>

#include <jv.h>

#include "util/util.h"

/* What went wrong, so that the tool can pick an exit code. */
enum tmpl_errkind {
	TMPL_ESYNTAX = 1, /* template syntax (exit 100) */
	TMPL_ECOMPILE,	  /* jq could not compile an expression (100) */
	TMPL_EIO,	  /* an included file could not be read (111) */
	TMPL_ERUNTIME,	  /* jq error, refused value, output limit (1) */
	TMPL_ENOMEM,	  /* out of memory (111) */
};

struct tmpl_err {
	enum tmpl_errkind kind;
	/* "file:line:col: what: why", or "file: what: why" when no
	 * position applies. */
	char msg[2048];
};

/* Reads the template named path into out (already empty); returns 0, or
 * -1 with err filled (message without the file name prefix). Lets the
 * caller, e.g. a fuzzer, decide where includes come from. */
typedef int tmpl_loader(void *ctx, const char *path, struct buf *out, char *err,
			size_t errlen);

/* The default loader: read_file() from util.h on the path. */
int tmpl_load_file(void *ctx, const char *path, struct buf *out, char *err,
		   size_t errlen);

struct tmpl;

/* Helpers written in C.  A set of them is a table, as jq's own builtins
 * are: each row a name, its parameters, what it answers and the function
 * that answers it.  tmpl_parse defines each in the program, as
 * "def NAME($a; $b): ...;" or, with no parameters, "def NAME: ...;"
 * whose input is the one argument.  A call hands the function its
 * arguments (borrowed, in order) and the state of its set, and the
 * function's answer (consumed) becomes the call's output: an error (an
 * invalid jv with a message) stops the render there, as jq's error()
 * does. */
enum tmpl_gives {
	TMPL_ANSWER, /* its answer, one output */
	TMPL_EACH,   /* each element of its answer, an array */
	TMPL_NOTHING /* no output, the answer dropped: a call for its effect */
};

typedef jv tmpl_helper_fn(struct tmpl *t, void *state, jv *args);

struct tmpl_helper {
	const char *name;
	const char *params; /* "$d", "$a; $b"; NULL: its input */
	enum tmpl_gives gives;
	tmpl_helper_fn *fn;
};

struct tmpl_helpers {
	const struct tmpl_helper *list;
	size_t n;
	/* The set's state, made for each template (NULL: the set has none;
	 * it returns NULL when out of memory) and released with it. */
	void *(*init)(void);
	void (*free)(void *state);
};

/* Parse text (len bytes, named name in messages and used to resolve
 * includes relative to it) and translate it to a jq program, with the
 * engine's helpers and those of the sets in helpers (NULL-ended; NULL:
 * none) defined in it.  Borrows everything, the sets for the life of the
 * template; load may be NULL to refuse includes.  On success *out is a
 * new template to release with tmpl_free. */
int tmpl_parse(const char *name, const char *text, size_t len,
	       tmpl_loader *load, void *ctx,
	       const struct tmpl_helpers *const *helpers, struct tmpl **out,
	       struct tmpl_err *err);

/* The generated jq program (borrowed, valid until tmpl_free). */
const char *tmpl_program(const struct tmpl *t);

/* Compile the program with libjq.  args is consumed: an object of extra
 * named variables ($NAME from --arg).  Call once, before tmpl_render. */
int tmpl_compile(struct tmpl *t, jv args, struct tmpl_err *err);

/* Render the compiled template with data as $root and ".": data is
 * consumed.  The output is appended to out; when it would grow past
 * max_output bytes the render stops with an error.  On error out holds
 * a partial document that the caller must not use.  May be called again
 * with new data. */
int tmpl_render(struct tmpl *t, jv data, size_t max_output, struct buf *out,
		struct tmpl_err *err);

/* Incremental renders.  From the call of tmpl_incremental on, the
 * caller reports with tmpl_changed, before each render, every key whose
 * value was put or deleted since the render before (key NULL: any key may
 * have changed, as after a resync); then dirmap() and {{ each }} blocks
 * work out again only the directories whose keys changed, and the index
 * of the keys is updated rather than built again.  Without it every
 * render starts afresh (memo aside).  0, or -1 when out of memory (the
 * next render then starts afresh). */
void tmpl_incremental(struct tmpl *t);
int tmpl_changed(struct tmpl *t, const char *key, size_t len);

/* The warnings of the last render (warn(msg) in a template, or jq's
 * debug), one per line; "" when there were none.  Borrowed. */
const char *tmpl_warnings(const struct tmpl *t);

/* For helpers: what the engine's own helpers use. */

/* Append warning m (n bytes) to the render's warnings, one line, control
 * characters escaped, as warn() does. */
void tmpl_warn(struct tmpl *t, const char *m, size_t n);
/* The value of key (n bytes, as written) in the data being rendered: a
 * new jv, invalid when there is no such key. */
jv tmpl_get(struct tmpl *t, const char *key, size_t n);
/* The directory argument d (consumed) of helper in normal form
 * ("/a/b"), a string; an error naming helper when it is not a string. */
jv tmpl_dir(jv d, const char *helper);
/* Call f for each name directly below directory d (normal form, dn
 * bytes) of the data being rendered, in the order of ls: with the name
 * (nm, nn bytes), the key raw + "/" + name (borrowed) and its value
 * (borrowed; invalid when there is no such key, the name being a
 * directory only).  0, or -1 when out of memory. */
typedef void tmpl_child_fn(struct tmpl *t, const char *nm, size_t nn,
			   const struct buf *key, jv value, void *ctx);
int tmpl_children(struct tmpl *t, const char *raw, size_t rawn, const char *d,
		  size_t dn, tmpl_child_fn *f, void *ctx);
/* The offset of the first character of p[0, len) that a substituted
 * value may not contain (its code point in *cp), or (size_t)-1: see
 * tmpl(1), SAFETY. */
size_t tmpl_bad_char(const char *p, size_t len, uint32_t *cp);

/* A name of an object and its value, both owned, and the name's bytes:
 * for walking or ordering an object by name. */
struct tmpl_kv {
	jv k, v;
	const char *p;
	size_t n;
};
/* The entries of object o (borrowed) in its order, *n of them; NULL
 * when out of memory. */
struct tmpl_kv *tmpl_kv_of(jv o, size_t *n);
/* How many of a[0, n) come first in name order (n: all). */
size_t tmpl_kv_ordered(const struct tmpl_kv *a, size_t n);
/* qsort's comparison of two entries by name (bytewise). */
int tmpl_kv_cmp(const void *a, const void *b);
void tmpl_kv_free(struct tmpl_kv *a, size_t n);

/* Release t and its jq state; t may be NULL. */
void tmpl_free(struct tmpl *t);

#endif
