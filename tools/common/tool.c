/* The tools' messages and deaths (see tool.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/deadline.h"
#include "tool.h"

static const char *progname = "easy-lb";

void
tool_init(char **argv)
{
	const char *s = strrchr(argv[0], '/');

	progname = s ? s + 1 : argv[0];
	argv[0] = (char *)progname;
	signal(SIGPIPE, SIG_IGN);
}

const char *
getprogname_(void)
{
	return progname;
}

static void
vmsg(int with_errno, const char *fmt, va_list ap)
{
	int e = errno;

	fprintf(stderr, "%s: ", progname);
	vfprintf(stderr, fmt, ap);
	if (with_errno)
		fprintf(stderr, ": %s", strerror(e));
	fputc('\n', stderr);
}

void
warnmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(0, fmt, ap);
	va_end(ap);
}

void
warnerr(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(1, fmt, ap);
	va_end(ap);
}

static void (*last_words)(int, const char *);

void
tool_on_die(void (*fn)(int code, const char *msg))
{
	last_words = fn;
}

/* The message of a death to last_words, then the exit. */
static void __attribute__((noreturn))
vdie(int code, int with_errno, const char *fmt, va_list ap)
{
	void (*fn)(int, const char *) = last_words;
	char m[1024];
	int e = errno, n;
	va_list again;

	va_copy(again, ap);
	vmsg(with_errno, fmt, ap);
	if (fn) {
		last_words = NULL;
		n = vsnprintf(m, sizeof(m), fmt, again);
		if (with_errno && n >= 0 && (size_t)n < sizeof(m))
			snprintf(m + n, sizeof(m) - (size_t)n, ": %s",
				 strerror(e));
		fn(code, m);
	}
	va_end(again);
	exit(code);
}

void
die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdie(code, 0, fmt, ap);
	va_end(ap);
}

void
dieerr(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdie(code, 1, fmt, ap);
	va_end(ap);
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		dieerr(EXIT_TEMP, "malloc");
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		dieerr(EXIT_TEMP, "realloc");
	return p;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		dieerr(EXIT_TEMP, "strdup");
	return p;
}

/* Whether fd 1's reader has gone: a pipe or socket with no reader left
 * polls as an error or a hang-up.  Asked when a write failed before the
 * last flush, whose errno is long gone (a library's cleanup since then
 * may have set EAGAIN). */
static int
reader_gone(void)
{
	struct pollfd p = {.fd = STDOUT_FILENO, .events = 0};

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP));
}

void
fshut_stdout(void)
{
	int flushed;

	errno = 0;
	flushed = fflush(stdout) != EOF;
	if (flushed && !ferror(stdout))
		return;
	/* The reader went away: how a pipeline ends early. */
	if ((!flushed && errno == EPIPE) || reader_gone())
		exit(EXIT_OK);
	if (!flushed)
		dieerr(EXIT_TEMP, "write error on stdout");
	die(EXIT_TEMP, "write error on stdout");
}

volatile sig_atomic_t tool_stopping;

static void
on_stop(int sig)
{
	(void)sig;
	tool_stopping = 1;
}

void
tool_defer_stop(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

int
tool_retry(int (*fn)(void *), void *arg, long long min, long long max)
{
	struct backoff pause;
	struct timespec ts;
	long long ms;
	int st, rc;
	pid_t pid;

	backoff_init(&pause, min, max);
	for (;;) {
		fflush(stdout);
		if ((pid = fork()) < 0)
			dieerr(EXIT_TEMP, "fork");
		if (pid == 0)
			exit(fn(arg));
		while (waitpid(pid, &st, 0) < 0)
			if (errno != EINTR)
				dieerr(EXIT_TEMP, "waitpid");
		rc = WIFEXITED(st) ? WEXITSTATUS(st) : EXIT_TEMP;
		if (rc != EXIT_TEMP || tool_stopping)
			return rc;
		ms = backoff_next(&pause);
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = ms % 1000 * 1000000L;
		/* (a signal ends the wait, and the retries; what is said is
		 * what happens, so the try is said once the wait is over) */
		nanosleep(&ts, NULL);
		if (tool_stopping)
			return rc;
		warnmsg("trying again after %lld s", ms / 1000);
	}
}

/* The lock came free; or, asked to stop while waiting for it (nothing
 * done yet: a safe point), -1 with errno EINTR. */
static int
locked(void *fd)
{
	if (flock(*(int *)fd, LOCK_EX | LOCK_NB) == 0)
		return 1;
	if (tool_stopping) {
		errno = EINTR;
		return -1;
	}
	return errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
}

int
tool_lock(const char *path, long long ms, const char *holder)
{
	long long deadline = now_ms() + ms;
	int fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		dieerr(EXIT_TEMP, "%s", path);
	switch (deadline_wait(deadline, locked, &fd)) {
	case DEADLINE_HELD:
		break;
	case DEADLINE_FAILED:
		if (tool_stopping)
			exit(EXIT_TEMP);
		dieerr(EXIT_TEMP, "%s: flock", path);
	case DEADLINE_PASSED:
		die(EXIT_TEMP, "%s: %s still holds the lock after %lld s", path,
		    holder, ms / 1000);
	}
	return fd;
}
