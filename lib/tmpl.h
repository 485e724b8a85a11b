/* The tmpl template engine: text with {{ actions }} whose expressions are
 * jq filters.  A template (with its includes) is translated into one jq
 * program, compiled once by libjq, and run once per render; see tmpl(1).
 *
 * Nothing here exits or prints: every function returns 0 or -1 and fills
 * a struct tmpl_err. */
#ifndef EASYLB_TMPL_H
#define EASYLB_TMPL_H

#include <stddef.h>

#include <jv.h>

#include "util.h"

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

/* Parse text (len bytes, named name in messages and used to resolve
 * includes relative to it) and translate it to a jq program.  Borrows
 * everything; load may be NULL to refuse includes.  On success *out is a
 * new template to release with tmpl_free. */
int tmpl_parse(const char *name, const char *text, size_t len,
	       tmpl_loader *load, void *ctx, struct tmpl **out,
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

/* Release t and its jq state; t may be NULL. */
void tmpl_free(struct tmpl *t);

#endif
