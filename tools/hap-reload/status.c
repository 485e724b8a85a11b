/* hap-reload --status FILE (see hap-reload(1), STATUS FILE).
 *
 * FILE holds four lines, each a word and then fields separated by
 * single spaces, the last one running to the end of the line:
 *   last REV TIME CODE OUTCOME   the last run: its exit status and what
 *                                it said (its error when it died)
 *   applied REV TIME OUTCOME     the last run that left haproxy running
 *                                its file: runtime, reloaded, unchanged
 *                                or installed
 *   failed REV TIME MESSAGE      the last run that did not
 *   runs RUNTIME RELOADED UNCHANGED INSTALLED FAILED
 *                                how many ended each way since FILE began
 * REV is --revision's, "-" without it; TIME seconds since the epoch.  A
 * line not there yet (nothing applied, nothing failed) is left out.
 * FILE is replaced whole, atomically, at the end of each run but under
 * --check, which changes nothing. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "status.h"
#include "tool.h"

static const char *path, *rev = "-";
static char said[1024]; /* what the run printed, newlines aside */
static int done;

/* The kinds of "runs", in order: what an outcome line starts with. */
static const char *const kinds[] = {"runtime:", "reloaded", "unchanged",
				    "installed"};
enum { NKINDS = sizeof(kinds) / sizeof(kinds[0]) };

static void
died(int code, const char *msg)
{
	if (!said[0])
		snprintf(said, sizeof(said), "%s", msg);
	status_done(code);
}

void
status_init(const char *p, const char *revision)
{
	path = p;
	if (revision)
		rev = revision;
	if (path)
		tool_on_die(died);
}

void
status_say(const char *fmt, ...)
{
	size_t n = strlen(said);
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	vsnprintf(said + n, sizeof(said) - n, fmt, ap);
	va_end(ap);
}

/* s as one line (flatten_line), trailing blanks dropped. */
static void
one_line(char *s)
{
	size_t n;

	flatten_line(s);
	for (n = strlen(s); n && s[n - 1] == ' ';)
		s[--n] = '\0';
}

/* The line of FILE that starts with word (and a space), its rest in
 * out; 0 when there is none. */
static int
line_of(const struct buf *b, const char *word, char *out, size_t outlen)
{
	size_t n;
	const char *s = fact_line(b, word, 0, &n);

	if (s)
		snprintf(out, outlen, "%.*s", (int)n, s);
	return s != NULL;
}

void
status_done(int code)
{
	char applied[1200] = "", failed[1200] = "", runs[200] = "", when[40],
	     err[512];
	unsigned long n[NKINDS + 1] = {0};
	struct buf old = {0}, out = {0};
	struct timespec ts;
	size_t k;

	if (!path || done)
		return;
	done = 1;
	one_line(said);
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(when, sizeof(when), "%lld.%03ld", (long long)ts.tv_sec,
		 ts.tv_nsec / 1000000);
	if (read_file(path, &old, err, sizeof(err)) == 0) {
		line_of(&old, "applied", applied, sizeof(applied));
		line_of(&old, "failed", failed, sizeof(failed));
		if (line_of(&old, "runs", runs, sizeof(runs)))
			sscanf(runs, "%lu %lu %lu %lu %lu", &n[0], &n[1], &n[2],
			       &n[3], &n[4]);
	}
	for (k = 0; k < NKINDS; k++)
		if (!strncmp(said, kinds[k], strlen(kinds[k])))
			break;
	if (code != 0 || k == NKINDS) {
		n[NKINDS]++;
		snprintf(failed, sizeof(failed), "%s %s %s", rev, when, said);
	} else {
		n[k]++;
		snprintf(applied, sizeof(applied), "%s %s %s", rev, when, said);
	}
	buf_printf(&out, "last %s %s %d %s\n", rev, when, code, said);
	if (applied[0])
		buf_printf(&out, "applied %s\n", applied);
	if (failed[0])
		buf_printf(&out, "failed %s\n", failed);
	buf_printf(&out, "runs %lu %lu %lu %lu %lu\n", n[0], n[1], n[2], n[3],
		   n[4]);
	/* (what hap-reload did stands whatever becomes of this file) */
	if (!out.p || atomic_note(path, out.p, out.len, err, sizeof(err)) < 0)
		warnmsg("--status: %s", out.p ? err : "out of memory");
	buf_free(&old);
	buf_free(&out);
}
