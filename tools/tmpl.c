/* tmpl: render a text template whose expressions are jq filters.
 * See tmpl(1). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jv.h>

#include "tmpl.h"
#include "util.h"

#define MAX_OUTPUT_DEFAULT (256LL << 20)

static void
usage(FILE *f, int code)
{
	fprintf(f, "usage: tmpl [-d DATA] [-o OUT] [--arg NAME VALUE]... "
		   "[--max-output BYTES] [--timings] TEMPLATE\n");
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
	struct buf tb = {0}, db = {0}, out = {0};
	struct tmpl_err terr;
	struct tmpl *t;
	char err[1024];
	jv args = jv_object(), data;
	double t0, t1, t2, t3, t4;
	int c, timings = 0, changed;

	setprogname(argv[0]);
	while ((c = getopt_long(argc, argv, "d:ho:", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			if (optind >= argc)
				usage(stderr, EXIT_BAD);
			if (!valid_name(optarg))
				die(EXIT_BAD, "--arg: bad variable name: %s",
				    optarg);
			args = jv_object_set(args, jv_string(optarg),
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
	if (read_file(tpath, &tb, err, sizeof err) < 0)
		die(EXIT_TEMP, "%s", err);
	if (tmpl_parse(tname, tb.p, tb.len, tmpl_load_file, NULL, &t, &terr) <
	    0)
		die(exit_for(terr.kind), "%s", terr.msg);
	buf_free(&tb);
	t1 = now_sec();
	if (tmpl_compile(t, args, &terr) < 0)
		die(exit_for(terr.kind), "%s", terr.msg);
	t2 = now_sec();
	if (read_file(datapath, &db, err, sizeof err) < 0)
		die(EXIT_TEMP, "%s", err);
	data = parse_data(&db, dname);
	buf_free(&db);
	t3 = now_sec();
	if (tmpl_render(t, data, (size_t)maxout, &out, &terr) < 0)
		die(exit_for(terr.kind), "%s", terr.msg);
	t4 = now_sec();
	tmpl_free(t);
	if (outpath) {
		if (atomic_replace(outpath, out.p, out.len, &changed, err,
				   sizeof err) < 0)
			die(EXIT_TEMP, "%s", err);
	} else if (out.len && fwrite(out.p, 1, out.len, stdout) != out.len) {
		dieerr(EXIT_TEMP, "write error on stdout");
	}
	buf_free(&out);
	if (!outpath)
		fshut_stdout();
	if (timings)
		warnmsg("timings: parse %.1f ms, compile %.1f ms, data %.1f "
			"ms, render %.1f ms, output %.1f ms",
			(t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3,
			(t4 - t3) * 1e3, (now_sec() - t4) * 1e3);
	return EXIT_OK;
}
