/* libFuzzer target for the tmpl parser and jq code generator: any byte
 * string must either parse or fail with a message, never crash, leak or
 * read out of bounds.  Includes resolve to a small fixed template, so the
 * include path (and loop detection) is exercised too. */
#include <stdint.h>
#include <string.h>

#include "easylb/easylb.h"
#include "tmpl/tmpl.h"

static int
load(void *ctx, const char *path, struct buf *out, char *err, size_t errlen)
{
	(void)ctx;
	if (strstr(path, "missing"))
		return seterr(err, errlen, "%s: not found", path);
	return buf_puts(out, "[{{ . }}{{ include \"x\" }}]");
}

static const struct tmpl_helpers *const sets[] = {&easylb_helpers, NULL};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tmpl_err err;
	struct tmpl *t;

	if (tmpl_parse("fuzz.tmpl", (const char *)data, size, load, NULL, sets,
		       &t, &err) == 0) {
		if (!tmpl_program(t))
			__builtin_trap();
		tmpl_free(t);
	} else if (!err.msg[0]) {
		__builtin_trap();
	}
	return 0;
}
