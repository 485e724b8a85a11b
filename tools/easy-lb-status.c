/* easy-lb-status (easy-lb status): what a running balancer is doing, as
 * text, JSON or metrics, with an exit status that says healthy (0),
 * degraded (1) or down (2); with --serve, the same over HTTP on an
 * abstract unix socket, for haproxy to answer HEALTH_URI and the
 * metrics from.  Reads, never changes anything, and costs a few ms: no
 * etcd, no haproxy -c (see tools/easy-lb-status/report.h). */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "easy-lb-status/report.h"
#include "easy-lb-status/services.h"
#include "tool.h"

static const char usage_line[] =
    "usage: easy-lb status [-d RUN_DIR] [--json | --metrics | --fleet] [--services]\n"
    "       [--wait SECONDS]\n"
    "       easy-lb-status [-d RUN_DIR] --serve NAME [--health-uri URI] [--metrics-uri URI]\n";

/* How long a client of --serve has to send its request. */
#define REQUEST_MS 2000

enum format { TEXT, JSON, METRICS, FLEET };

/* The status of the balancer on dir in o, as f says, with the
 * services when asked (they cost a walk over every server). */
static void
say(const char *dir, enum format f, int with_services, struct buf *o,
    int *state)
{
	struct services sv;
	struct status s;

	status_read(&s, dir);
	if (with_services) {
		if (services_read(&sv, dir) < 0)
			warnmsg("services: %s", sv.err);
		s.services = &sv;
	}
	o->len = 0;
	if (f == JSON)
		status_json(o, &s);
	else if (f == METRICS)
		status_metrics(o, &s);
	else if (f == FLEET)
		status_fleet(o, &s);
	else
		status_text(o, &s);
	*state = s.state;
	status_free(&s);
	if (with_services)
		services_free(&sv);
	if (!o->p)
		die(EXIT_TEMP, "out of memory");
}

/* --- --serve -------------------------------------------------------- */

/* The abstract socket NAME as haproxy's "abns@NAME" has it: the whole
 * of sun_path, NUL first, the name, NUL padding. */
static int
listen_on(const char *name)
{
	struct sockaddr_un a;
	int fd;

	if (hap_abns(name, strlen(name), &a) < 0)
		die(EXIT_BAD, "--serve %s: longer than %zu bytes", name,
		    sizeof(a.sun_path) - 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		dieerr(EXIT_TEMP, "socket");
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		dieerr(EXIT_TEMP, "--serve %s: bind", name);
	if (listen(fd, 16) < 0)
		dieerr(EXIT_TEMP, "--serve %s: listen", name);
	return fd;
}

/* The request head from fd, until its blank line, at most REQUEST_MS:
 * 0, or -1 (too slow, too long, gone). */
static int
read_head(int fd, char *req, size_t len)
{
	long long end = now_ms() + REQUEST_MS;
	size_t got = 0;
	ssize_t r;

	while (got + 1 < len) {
		struct pollfd p = {fd, POLLIN, 0};
		long long left = end - now_ms();

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		r = read(fd, req + got, len - 1 - got);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			return 0;
	}
	return -1;
}

static void
reply(int fd, const char *status, const char *type, const struct buf *body,
      int head)
{
	struct buf o = {0};
	size_t at = 0;
	ssize_t w;

	buf_printf(&o,
		   "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		   "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
		   status, type, body->len);
	if (!head && body->len)
		buf_add(&o, body->p, body->len);
	/* (a client that does not read is left: the socket is blocking,
	 * a small reply fits its buffer) */
	while (o.p && at < o.len) {
		w = write(fd, o.p + at, o.len - at);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		at += (size_t)w;
	}
	buf_free(&o);
}

/* One request: GET or HEAD of the health or the metrics URI. */
static void
answer(int fd, const char *dir, const char *health, const char *metrics)
{
	static const char *const codes[] = {"200 OK", "503 Service Unavailable",
					    "503 Service Unavailable"};
	char req[8192], *sp, *path, *end;
	struct buf body = {0};
	int state, head;

	if (read_head(fd, req, sizeof(req)) < 0)
		return;
	head = !strncmp(req, "HEAD ", 5);
	if (!(sp = strchr(req, ' ')) || (strncmp(req, "GET ", 4) && !head)) {
		buf_puts(&body, "GET or HEAD only\n");
		reply(fd, "405 Method Not Allowed", "text/plain", &body, 0);
	} else {
		path = sp + 1;
		end = path + strcspn(path, " ?\r\n");
		*end = '\0';
		if (health && !strcmp(path, health)) {
			/* (the state and why: what a probe shows) */
			struct status st;

			status_read(&st, dir);
			buf_printf(&body, "%s\n", status_state(&st));
			if (st.reasons.p)
				buf_puts(&body, st.reasons.p);
			reply(fd, codes[st.state], "text/plain", &body, head);
			status_free(&st);
		} else if (metrics && !strcmp(path, metrics)) {
			say(dir, METRICS, 0, &body, &state);
			reply(fd, "200 OK", "text/plain; version=0.0.4", &body,
			      head);
		} else {
			buf_puts(&body, "not found\n");
			reply(fd, "404 Not Found", "text/plain", &body, head);
		}
	}
	buf_free(&body);
}

static void __attribute__((noreturn))
serve(const char *name, const char *dir, const char *health,
      const char *metrics)
{
	int lfd = listen_on(name), fd;

	for (;;) {
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE)
				continue;
			dieerr(EXIT_TEMP, "accept");
		}
		answer(fd, dir, health, metrics);
		close(fd);
	}
}

/* --- the command ---------------------------------------------------- */

static void usage(FILE *f, int code) __attribute__((noreturn));

static void
usage(FILE *f, int code)
{
	fputs(usage_line, f);
	exit(code);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"metrics", no_argument, NULL, 'm'},
	    {"fleet", no_argument, NULL, 'F'},
	    {"services", no_argument, NULL, 'S'},
	    {"wait", required_argument, NULL, 'w'},
	    {"serve", required_argument, NULL, 's'},
	    {"health-uri", required_argument, NULL, 'H'},
	    {"metrics-uri", required_argument, NULL, 'M'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir = getenv("EASY_LB_RUN"), *name = NULL, *es;
	const char *health = NULL, *metrics = NULL;
	enum format f = TEXT;
	long long wait = 0, end;
	struct buf o = {0};
	int c, state, services = 0;

	tool_init(argv);
	if (!dir || !*dir)
		dir = "/run/easy-lb";
	while ((c = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'j':
			f = JSON;
			break;
		case 'm':
			f = METRICS;
			break;
		case 'F':
			f = FLEET;
			break;
		case 'S':
			services = 1;
			break;
		case 'w':
			if (parse_ll(optarg, 0, 3600, &wait, &es) < 0)
				die(EXIT_BAD, "--wait %s: %s", optarg, es);
			break;
		case 's':
			name = optarg;
			break;
		case 'H':
			health = *optarg ? optarg : NULL;
			break;
		case 'M':
			metrics = *optarg ? optarg : NULL;
			break;
		case 'h':
			usage(stdout, EXIT_OK);
		case 'V':
			puts("easy-lb-status " VERSION);
			fshut_stdout();
			return EXIT_OK;
		default:
			usage(stderr, EXIT_BAD);
		}
	}
	if (optind != argc || (!name && (health || metrics)))
		usage(stderr, EXIT_BAD);
	if (services && (name || f == METRICS || f == FLEET))
		usage(stderr, EXIT_BAD);
	if (name)
		serve(name, dir, health, metrics);
	/* --wait: until healthy, looking every 200 ms, at most that long */
	end = now_ms() + wait * 1000;
	for (;;) {
		say(dir, f, services && !wait, &o, &state);
		if (state == HEALTHY || now_ms() >= end)
			break;
		{
			struct timespec ts = {0, 200 * 1000000L};

			nanosleep(&ts, NULL);
		}
	}
	/* (--wait with --services: they are read once, at the end) */
	if (services && wait)
		say(dir, f, 1, &o, &state);
	fwrite(o.p, 1, o.len, stdout);
	buf_free(&o);
	fshut_stdout();
	return state;
}
