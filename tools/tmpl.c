/* tmpl: render a text template whose expressions are jq filters.
 * See tmpl(1). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jv.h>

#include "tmpl.h"
#include "util.h"

#define MAX_OUTPUT_DEFAULT (256LL << 20)

/* What main holds, freed at exit on every path, die() included, so that
 * valgrind and LeakSanitizer find nothing left over. */
static struct {
	struct buf tb, db, out;
	struct tmpl *t;
	jv args;
} st;

static void
cleanup(void)
{
	buf_free(&st.tb);
	buf_free(&st.db);
	buf_free(&st.out);
	tmpl_free(st.t);
	st.t = NULL;
	jv_free(st.args);
	st.args = jv_invalid();
}

static void
usage(FILE *f, int code)
{
	fprintf(f, "usage: tmpl [-d DATA] [-o OUT] [--arg NAME VALUE]... "
		   "[--max-output BYTES] [--timings] TEMPLATE\n");
	if (f == stdout)
		fshut_stdout();
	exit(code);
}

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
exit_for(enum tmpl_errkind k)
{
	switch (k) {
	case TMPL_ESYNTAX:
	case TMPL_ECOMPILE:
		return EXIT_BAD;
	case TMPL_ERUNTIME:
		return EXIT_NO;
	default:
		return EXIT_TEMP;
	}
}

static int
valid_name(const char *s)
{
	const char *p;

	if (!strcmp(s, "root") || !strcmp(s, "ENV") || !strncmp(s, "__", 2))
		return 0;
	for (p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      *p == '_' || (p > s && *p >= '0' && *p <= '9')))
			return 0;
	return p > s;
}

/* Parse exactly one JSON document; blank input is null. */
static jv
parse_data(const struct buf *b, const char *name)
{
	jv_parser *ps;
	jv v, next;
	size_t i;

	for (i = 0; i < b->len; i++)
		if (!strchr(" \t\r\n", b->p[i]))
			break;
	if (i == b->len)
		return jv_null();
	if (b->len > 0x7fffffff)
		die(EXIT_BAD, "%s: data too large", name);
	ps = jv_parser_new(0);
	jv_parser_set_buf(ps, b->p, (int)b->len, 0);
	v = jv_parser_next(ps);
	if (jv_is_valid(v)) {
		next = jv_parser_next(ps);
		if (jv_is_valid(next)) {
			jv_free(v);
			jv_free(next);
			jv_parser_free(ps);
			die(EXIT_BAD,
			    "%s: invalid JSON: more than one document", name);
		}
		if (jv_invalid_has_msg(jv_copy(next))) {
			jv_free(v);
			v = next;
		} else {
			jv_free(next);
		}
	}
	jv_parser_free(ps);
	if (!jv_is_valid(v)) {
		jv msg = jv_invalid_get_msg(v);

		warnmsg("%s: invalid JSON: %s", name,
			jv_get_kind(msg) == JV_KIND_STRING
			    ? jv_string_value(msg)
			    : "no value");
		jv_free(msg);
		exit(EXIT_BAD);
	}
	return v;
}

/* One "tmpl: warning: ..." line per warn() of the template. */
static void
print_warnings(const char *w)
{
	const char *nl;

	for (; *w; w = nl + 1) {
		nl = strchr(w, '\n');
		warnmsg("warning: %.*s", (int)(nl - w), w);
	}
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"arg", required_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {"max-output", required_argument, NULL, 'm'},
	    {"timings", no_argument, NULL, 't'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *datapath = "-", *outpath = NULL, *tpath, *tname, *dname;
	const char *errstr;
	long long maxout = MAX_OUTPUT_DEFAULT;
	struct tmpl_err terr;
	char err[1024];
	jv v;
	double t0, t1, t2, t3, t4;
	int c, timings = 0, changed, r;

	setprogname(argv[0]);
	argv[0] = (char *)getprogname_(); /* for getopt's messages */
	st.args = jv_object();
	atexit(cleanup);
	while ((c = getopt_long(argc, argv, "d:ho:", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			if (optind >= argc)
				usage(stderr, EXIT_BAD);
			if (!valid_name(optarg))
				die(EXIT_BAD, "--arg: bad variable name: %s",
				    optarg);
			st.args = jv_object_set(st.args, jv_string(optarg),
						jv_string(argv[optind++]));
			break;
		case 'd':
			datapath = optarg;
			break;
		case 'h':
			usage(stdout, EXIT_OK);
			break;
		case 'm':
			if (parse_ll(optarg, 1, (long long)(SIZE_MAX / 2),
				     &maxout, &errstr) < 0)
				die(EXIT_BAD, "--max-output: %s: %s", optarg,
				    errstr);
			break;
		case 'o':
			outpath = optarg;
			break;
		case 't':
			timings = 1;
			break;
		case 'V':
			puts("tmpl " VERSION);
			fshut_stdout();
			return EXIT_OK;
		default:
			usage(stderr, EXIT_BAD);
		}
	}
	if (argc - optind != 1)
		usage(stderr, EXIT_BAD);
	tpath = argv[optind];
	if (!strcmp(tpath, "-") && !strcmp(datapath, "-"))
		die(EXIT_BAD, "template and data cannot both be stdin");
	tname = strcmp(tpath, "-") ? tpath : "stdin";
	dname = strcmp(datapath, "-") ? datapath : "stdin";

	t0 = now_sec();
	if (read_file(tpath, &st.tb, err, sizeof err) < 0)
		die(EXIT_TEMP, "%s", err);
	if (tmpl_parse(tname, st.tb.p, st.tb.len, tmpl_load_file, NULL, &st.t,
		       &terr) < 0)
		die(exit_for(terr.kind), "%s", terr.msg);
	buf_free(&st.tb);
	t1 = now_sec();
	v = st.args;
	st.args = jv_invalid();
	if (tmpl_compile(st.t, v, &terr) < 0)
		die(exit_for(terr.kind), "%s", terr.msg);
	t2 = now_sec();
	if (read_file(datapath, &st.db, err, sizeof err) < 0)
		die(EXIT_TEMP, "%s", err);
	v = parse_data(&st.db, dname);
	buf_free(&st.db);
	t3 = now_sec();
	r = tmpl_render(st.t, v, (size_t)maxout, &st.out, &terr);
	print_warnings(tmpl_warnings(st.t));
	if (r < 0)
		die(exit_for(terr.kind), "%s", terr.msg);
	t4 = now_sec();
	tmpl_free(st.t);
	st.t = NULL;
	if (outpath) {
		if (atomic_replace(outpath, st.out.p, st.out.len, &changed, err,
				   sizeof err) < 0)
			die(EXIT_TEMP, "%s", err);
	} else if (st.out.len &&
		   fwrite(st.out.p, 1, st.out.len, stdout) != st.out.len) {
		dieerr(EXIT_TEMP, "write error on stdout");
	}
	buf_free(&st.out);
	if (!outpath)
		fshut_stdout();
	if (timings)
		warnmsg("timings: parse %.1f ms, compile %.1f ms, data %.1f "
			"ms, render %.1f ms, output %.1f ms",
			(t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3,
			(t4 - t3) * 1e3, (now_sec() - t4) * 1e3);
	return EXIT_OK;
}
