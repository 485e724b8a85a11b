/* hap-reload: validate a new haproxy configuration, install it atomically
 * and apply it to a running master-worker haproxy, through the runtime API
 * when only servers changed, else by a confirmed reload, rolling back to
 * the previous configuration when the reload fails. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "deadline.h"
#include "hapcfg.h"
#include "haproxy.h"
#include "tool.h"

static const char usage_line[] =
    "usage: hap-reload -f CONFIG [-S MASTER_SOCKET] [-s RUNTIME_SOCKET] "
    "[-p PIDFILE] [--check] [--timeout SECONDS] NEWFILE\n";

static const char *config, *master, *runtime, *pidfile;
static long long timeout_ms = 10000;

static void
usage(void)
{
	fputs(usage_line, stderr);
	exit(EXIT_BAD);
}

static char *
pathwith(const char *suffix)
{
	char *p = xmalloc(strlen(config) + strlen(suffix) + 1);

	strcpy(p, config);
	strcat(p, suffix);
	return p;
}

static int
locked(void *fd)
{
	if (flock(*(int *)fd, LOCK_EX | LOCK_NB) == 0)
		return 1;
	return errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
}

/* Take the lock beside CONFIG, waiting at most --timeout. */
static int
lock_config(void)
{
	char *path = pathwith(".lock");
	long long deadline = now_ms() + timeout_ms;
	int fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		dieerr(EXIT_TEMP, "%s", path);
	switch (deadline_wait(deadline, locked, &fd)) {
	case DEADLINE_HELD:
		break;
	case DEADLINE_FAILED:
		dieerr(EXIT_TEMP, "%s: flock", path);
	case DEADLINE_PASSED:
		die(EXIT_TEMP,
		    "%s: another hap-reload still holds the lock after %lld s",
		    path, timeout_ms / 1000);
	}
	free(path);
	return fd;
}

/* A "show proc" on the master CLI: its answer, or why there is none. */
struct procq {
	long long deadline;
	struct hap_proc *p;
	char *err;
	size_t errlen;
};

/* One "show proc": 1 answered, 0 not (while the master re-executes
 * itself it accepts connections and closes them unanswered). */
static int
proc_answered(void *arg)
{
	struct procq *q = arg;
	struct buf r = {0};
	int ok;

	ok = hap_command(master, "show proc", q->deadline, &r, q->err,
			 q->errlen) == 0 &&
	     hap_parse_proc(r.p ? r.p : "", q->p, q->err, q->errlen) == 0;
	buf_free(&r);
	return ok;
}

/* "show proc" on the master CLI, asked until deadline. */
static int
show_proc(long long deadline, struct hap_proc *p, char *err, size_t errlen)
{
	struct procq q = {deadline, p, err, errlen};

	if (deadline_wait(deadline, proc_answered, &q) != DEADLINE_HELD)
		return -1;
	return 0;
}

/* The master's pid, to validate in its working directory: relative paths
 * in a configuration are relative to it. */
static long
master_pid(void)
{
	struct hap_proc p;
	char err[256];
	long pid;

	if (pidfile && (pid = hap_read_pidfile(pidfile)) > 0)
		return pid;
	if (master && show_proc(now_ms() + 500, &p, err, sizeof(err)) == 0) {
		pid = p.master_pid;
		hap_proc_free(&p);
		return pid;
	}
	return 0;
}

/* A "$HAPROXY -c -f path" running, its diagnostics on fd. */
struct check {
	pid_t pid;
	int fd;
	const char *hap;
};

/* Start validating path, in the running master's working directory when
 * its pid is known; dies on system failures. */
static void
validate_start(const char *path, struct check *c)
{
	const char *hap = getenv("HAPROXY");
	long mpid = master_pid();
	char cwd[64];
	int pfd[2];
	pid_t pid;

	if (!hap || !*hap)
		hap = "haproxy";
	snprintf(cwd, sizeof(cwd), "/proc/%ld/cwd", mpid);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		dieerr(EXIT_TEMP, "pipe");
	if ((pid = fork()) < 0)
		dieerr(EXIT_TEMP, "fork");
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		if (mpid > 0 && chdir(cwd) < 0) {
			/* Not ours to look at: validate from here. */
		}
		execlp(hap, hap, "-c", "-f", path, (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", hap, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	c->pid = pid;
	c->fd = pfd[0];
	c->hap = hap;
}

/* The verdict of a validate_start: 0 valid, 1 invalid (diagnostics in
 * diag); dies on system failures and when haproxy takes too long. */
static int
validate_wait(struct check *c, struct buf *diag)
{
	long long deadline = now_ms() + timeout_ms;
	const char *hap = c->hap;
	pid_t pid = c->pid;
	int st;

	for (;;) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		char tmp[4096];
		long long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			die(EXIT_TEMP, "%s -c: no verdict within %lld s", hap,
			    timeout_ms / 1000);
		}
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			dieerr(EXIT_TEMP, "poll");
		n = read(c->fd, tmp, sizeof(tmp));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		if (buf_add(diag, tmp, n) < 0)
			die(EXIT_TEMP, "out of memory");
	}
	close(c->fd);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			dieerr(EXIT_TEMP, "waitpid");
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		die(EXIT_TEMP, "cannot run %s: %s", hap,
		    diag->p ? diag->p : "exec failed");
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

static int
validate(const char *path, struct buf *diag)
{
	struct check c;

	validate_start(path, &c);
	return validate_wait(&c, diag);
}

/* What confirms a reload through the master CLI: a worker that was not
 * in before, and no more failed reloads than before. */
struct newworker {
	long long deadline;
	const struct hap_proc *before;
	long worker;
	char *why;
	size_t wlen;
};

static int
master_confirms(void *arg)
{
	struct newworker *w = arg;
	struct hap_proc now;
	char err[256];
	struct procq q = {w->deadline, &now, err, sizeof(err)};

	if (!proc_answered(&q))
		return 0;
	if (w->before->failed >= 0 && now.failed > w->before->failed) {
		snprintf(w->why, w->wlen,
			 "reload failed (haproxy counts %ld failed reloads); "
			 "the old worker keeps serving",
			 now.failed);
		hap_proc_free(&now);
		return -1;
	}
	w->worker = hap_proc_new_worker(&now, w->before);
	hap_proc_free(&now);
	return w->worker != 0;
}

/* Reload through the master CLI's "reload", confirmed by "show proc".
 * Returns as reload does. */
static int
reload_master(long long deadline, long *worker, char *why, size_t wlen)
{
	struct hap_proc before;
	struct newworker w = {deadline, &before, 0, why, wlen};
	struct buf r = {0};
	char err[256];
	int ret = -1;

	if (show_proc(deadline, &before, err, sizeof(err)) < 0) {
		snprintf(why, wlen, "master CLI: %s", err);
		return -2;
	}
	if (hap_command(master, "reload", deadline, &r, err, sizeof(err)) < 0) {
		snprintf(why, wlen, "master CLI: %s", err);
	} else if (r.p && strstr(r.p, "Success=0")) {
		/* 2.7 and later answer; 2.6 closes without a word. */
		char a[200];
		hap_first_alert(r.p, a, sizeof(a));
		snprintf(why, wlen, "reload failed: %s", a);
	} else {
		switch (deadline_wait(deadline, master_confirms, &w)) {
		case DEADLINE_HELD:
			*worker = w.worker;
			ret = 0;
			break;
		case DEADLINE_FAILED:
			break;
		case DEADLINE_PASSED:
			snprintf(why, wlen, "no new worker within %lld s",
				 timeout_ms / 1000);
			break;
		}
	}
	buf_free(&r);
	hap_proc_free(&before);
	return ret;
}

/* What confirms a reload by signal: a child of the master that was not in
 * old[0..nold). */
struct newchild {
	long master, old[256], worker;
	size_t nold;
};

static int
new_child(void *arg)
{
	struct newchild *c = arg;
	long cur[256];
	size_t ncur = hap_children(c->master, cur, 256);

	for (size_t i = 0; i < ncur; i++) {
		size_t j;
		for (j = 0; j < c->nold && c->old[j] != cur[i]; j++)
			;
		if (j == c->nold) {
			c->worker = cur[i];
			return 1;
		}
	}
	return 0;
}

/* Reload with SIGUSR2 to the master in the pidfile, confirmed by a new
 * child in /proc.  Returns as reload does. */
static int
reload_signal(long long deadline, long *worker, char *why, size_t wlen)
{
	struct newchild c = {.master = hap_read_pidfile(pidfile)};

	if (c.master <= 0) {
		snprintf(why, wlen, "%s: no master pid", pidfile);
		return -2;
	}
	c.nold = hap_children(c.master, c.old, 256);
	if (kill(c.master, SIGUSR2) < 0) {
		snprintf(why, wlen, "kill -USR2 %ld: %s", c.master,
			 strerror(errno));
		return -2;
	}
	/* Without the master CLI a failed reload shows only as the absence
	 * of a new worker: it takes the whole timeout to notice. */
	if (deadline_wait(deadline, new_child, &c) != DEADLINE_HELD) {
		snprintf(why, wlen, "no new worker within %lld s",
			 timeout_ms / 1000);
		return -1;
	}
	*worker = c.worker;
	return 0;
}

/* Reload haproxy, through the master CLI when there is one, and wait for
 * the proof that it worked.  Returns 0 with *worker set, -1 with why when
 * the reload failed, -2 with why when it could not even be asked for. */
static int
reload(long *worker, char *why, size_t wlen)
{
	long long deadline = now_ms() + timeout_ms;

	*worker = 0;
	if (master)
		return reload_master(deadline, worker, why, wlen);
	return reload_signal(deadline, worker, why, wlen);
}

/* A runtime update's conversation with the runtime API: its commands
 * share one deadline and one reply buffer, and a failure's reason goes
 * to why. */
struct rtconv {
	long long deadline;
	struct buf r;
	char *why;
	size_t wlen;
};

/* What rt's ok may be besides a string the reply must hold. */
#define RT_ANY NULL /* any reply, for the caller to read */
#define RT_EMPTY "" /* none: the command's success is silent */

/* One runtime API command, formatted from fmt; the reply, trimmed of its
 * final newlines, in c->r.  Returns 0 when the reply is what ok says, -1
 * with why in c->why. */
static int rt(struct rtconv *c, const char *ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
rt(struct rtconv *c, const char *ok, const char *fmt, ...)
{
	struct buf *r = &c->r;
	char cmd[4096], err[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return seterr(c->why, c->wlen, "command too long");
	r->len = 0;
	if (r->p)
		r->p[0] = '\0';
	if (hap_command(runtime, cmd, c->deadline, r, err, sizeof(err)) < 0)
		return seterr(c->why, c->wlen, "%s", err);
	while (r->len && (r->p[r->len - 1] == '\n' || r->p[r->len - 1] == ' '))
		r->p[--r->len] = '\0';
	if (!ok || (*ok ? r->len && strstr(r->p, ok) : r->len == 0))
		return 0;
	return seterr(c->why, c->wlen, "%.200s: %.200s", cmd,
		      r->len ? r->p : "(no reply)");
}

/* A server added at run time starts in maintenance, checks off. */
static int
add_server(struct rtconv *c, const struct hapcfg_op *op)
{
	const char *be = op->backend, *srv = op->server;
	int v6 = strchr(op->addr, ':') != NULL;

	if (rt(c, "New server registered", "add server %s/%s %s%s%s:%s%s%s", be,
	       srv, v6 ? "[" : "", op->addr, v6 ? "]" : "", op->port,
	       *op->args ? " " : "", op->args) < 0 ||
	    (op->check &&
	     rt(c, RT_EMPTY, "enable health %s/%s", be, srv) < 0) ||
	    (op->agent && rt(c, RT_EMPTY, "enable agent %s/%s", be, srv) < 0) ||
	    (!op->disabled &&
	     rt(c, RT_EMPTY, "set server %s/%s state ready", be, srv) < 0))
		return -1;
	return 0;
}

/* Current sessions plus queued requests of be/srv, -1 when unknown. */
static long
server_load(struct rtconv *c, const char *be, const char *srv)
{
	if (rt(c, RT_ANY, "show stat %s 4 -1", be) < 0)
		return -1;
	return hap_parse_stat_load(c->r.p ? c->r.p : "", be, srv);
}

/* The servers a plan removes, emptied one after the other: ops[i] is the
 * first that may still have sessions or a queue. */
struct drain {
	struct rtconv *c;
	const struct hapcfg_plan *pl;
	size_t i;
};

static int
drained(void *arg)
{
	struct drain *d = arg;

	for (; d->i < d->pl->nops; d->i++) {
		const struct hapcfg_op *op = &d->pl->ops[d->i];
		if (op->kind == HAPCFG_DEL &&
		    server_load(d->c, op->backend, op->server) > 0)
			return 0;
	}
	return 1;
}

/* One "del server", which fails while the sessions just shut down have
 * not let go of the server yet. */
struct deletion {
	struct rtconv *c;
	const struct hapcfg_op *op;
};

static int
deleted(void *arg)
{
	struct deletion *d = arg;

	if (rt(d->c, "Server deleted", "del server %s/%s", d->op->backend,
	       d->op->server) == 0)
		return 1;
	return strstr(d->c->why, "connections") ? 0 : -1;
}

static int
del_servers(struct rtconv *c, const struct hapcfg_plan *pl)
{
	struct drain d = {c, pl, 0};
	struct deletion dl = {c, NULL};
	long long drain_until = now_ms() + timeout_ms / 2;
	size_t i;

	if (drain_until > c->deadline)
		drain_until = c->deadline;
	for (i = 0; i < pl->nops; i++) {
		const struct hapcfg_op *op = &pl->ops[i];
		if (op->kind != HAPCFG_DEL)
			continue;
		if (rt(c, RT_EMPTY, "set server %s/%s state drain", op->backend,
		       op->server) < 0)
			return -1;
	}
	/* Let the sessions in flight finish, for a bounded time. */
	deadline_wait(drain_until, drained, &d);
	for (i = 0; i < pl->nops; i++) {
		const struct hapcfg_op *op = &pl->ops[i];
		if (op->kind != HAPCFG_DEL)
			continue;
		if (rt(c, RT_EMPTY, "set server %s/%s state maint", op->backend,
		       op->server) < 0 ||
		    rt(c, RT_EMPTY, "shutdown sessions server %s/%s",
		       op->backend, op->server) < 0)
			return -1;
		dl.op = op;
		if (deadline_wait(c->deadline, deleted, &dl) != DEADLINE_HELD)
			return -1;
	}
	return 0;
}

static int
same_addr(const char *a, const char *b)
{
	unsigned char x[16], y[16];

	if (inet_pton(AF_INET, a, x) == 1 && inet_pton(AF_INET, b, y) == 1)
		return !memcmp(x, y, 4);
	if (inet_pton(AF_INET6, a, x) == 1 && inet_pton(AF_INET6, b, y) == 1)
		return !memcmp(x, y, 16);
	return !strcmp(a, b);
}

/* The servers running in backend be (as st, n, "show servers state" gave
 * them) must be exactly w[0..nw): 0, or -1 with why. */
static int
same_servers(const char *be, const struct hapcfg_want *w, size_t nw,
	     const struct hap_srvstate *st, size_t n, char *why, size_t wlen)
{
	size_t j, k;

	for (k = 0; k < nw; k++) {
		for (j = 0; j < n; j++)
			if (!strcmp(st[j].backend, be) &&
			    !strcmp(st[j].server, w[k].server))
				break;
		if (j == n)
			return seterr(why, wlen, "%s/%s is not running", be,
				      w[k].server);
		if ((w[k].addr && !same_addr(w[k].addr, st[j].addr)) ||
		    (w[k].port && atol(w[k].port) != st[j].port))
			return seterr(why, wlen, "%s/%s runs at %s:%ld", be,
				      w[k].server, st[j].addr, st[j].port);
		if (w[k].weight != st[j].weight)
			return seterr(why, wlen, "%s/%s has weight %ld", be,
				      w[k].server, st[j].weight);
		if (!w[k].disabled && (st[j].admin_state & HAP_ADMF_FMAINT))
			return seterr(why, wlen, "%s/%s is in maintenance", be,
				      w[k].server);
	}
	for (j = 0; j < n; j++) {
		if (strcmp(st[j].backend, be))
			continue;
		for (k = 0; k < nw && strcmp(st[j].server, w[k].server); k++)
			;
		if (k == nw)
			return seterr(why, wlen, "%s/%s is still running", be,
				      st[j].server);
	}
	return 0;
}

/* How long a backend's servers may take to show what was set, in ms.
 * Since haproxy 2.9, "set server ... addr" answers before the address is
 * written: a task applies it once every thread is isolated, and "show
 * servers state" asked meanwhile, on another thread, prints the old one
 * (about 0.1 ms, 4 ms seen under load; never with nbthread 1). */
#define SETTLE_MS 2000

/* The servers running in one backend, to compare with the ones wanted. */
struct settle {
	struct rtconv *c;
	const char *be;
	const struct hapcfg_want *w;
	size_t nw;
};

static int
settled(void *arg)
{
	struct settle *s = arg;
	struct rtconv *c = s->c;
	struct hap_srvstate *st;
	char err[256];
	size_t n;
	int ret;

	if (rt(c, RT_ANY, "show servers state %s", s->be) < 0)
		return -1;
	if (hap_parse_servers_state(c->r.p ? c->r.p : "", &st, &n, err,
				    sizeof(err)) < 0)
		return seterr(c->why, c->wlen, "show servers state %s: %s",
			      s->be, err);
	ret = same_servers(s->be, s->w, s->nw, st, n, c->why, c->wlen);
	hap_srvstate_free(st, n);
	return ret == 0;
}

/* The running servers of backend be must be exactly w[0..nw): 0 once
 * "show servers state" says so, -1 with why when it still does not by
 * the settle deadline. */
static int
verify_backend(struct rtconv *c, const char *be, const struct hapcfg_want *w,
	       size_t nw)
{
	long long settle = now_ms() + SETTLE_MS;
	struct settle s = {c, be, w, nw};

	if (settle > c->deadline)
		settle = c->deadline;
	return deadline_wait(settle, settled, &s) == DEADLINE_HELD ? 0 : -1;
}

/* The running servers of every backend the plan touched must be exactly
 * the ones the new file declares.  (Asked backend by backend: haproxy's
 * whole list can hold 100,000 servers; the plan lists each backend's
 * servers together.) */
static int
verify(struct rtconv *c, const struct hapcfg_plan *pl)
{
	size_t i, end;

	for (i = 0; i < pl->nwant; i = end) {
		const char *be = pl->want[i].backend;

		for (end = i;
		     end < pl->nwant && !strcmp(pl->want[end].backend, be);
		     end++)
			;
		if (verify_backend(c, be, &pl->want[i], end - i) < 0)
			return -1;
	}
	return 0;
}

static int
apply_runtime(const struct hapcfg_plan *pl, char *why, size_t wlen)
{
	struct rtconv c = {now_ms() + timeout_ms, {0}, why, wlen};
	int ret = -1;
	size_t i;

	/* New servers first, so that capacity only grows until the end. */
	for (i = 0; i < pl->nops; i++)
		if (pl->ops[i].kind == HAPCFG_ADD && !pl->ops[i].replace &&
		    add_server(&c, &pl->ops[i]) < 0)
			goto out;
	for (i = 0; i < pl->nops; i++) {
		const struct hapcfg_op *op = &pl->ops[i];
		if (op->kind == HAPCFG_ADDR &&
		    rt(&c, "change", "set server %s/%s addr %s%s%s",
		       op->backend, op->server, op->addr,
		       op->port ? " port " : "", op->port ? op->port : "") < 0)
			goto out;
		if (op->kind == HAPCFG_WEIGHT &&
		    rt(&c, RT_EMPTY, "set weight %s/%s %ld", op->backend,
		       op->server, op->weight) < 0)
			goto out;
	}
	if (del_servers(&c, pl) < 0)
		goto out;
	for (i = 0; i < pl->nops; i++)
		if (pl->ops[i].kind == HAPCFG_ADD && pl->ops[i].replace &&
		    add_server(&c, &pl->ops[i]) < 0)
			goto out;
	ret = verify(&c, pl);
out:
	buf_free(&c.r);
	return ret;
}

/* The candidate haproxy refused: kept as rejected, haproxy's diagnostics
 * on stderr, the reason worth quoting in a. */
static void
reject(const char *candidate, const char *rejected, const char *newfile,
       const struct buf *diag, char *a, size_t alen)
{
	if (rename(candidate, rejected) < 0)
		dieerr(EXIT_TEMP, "rename %s", candidate);
	if (diag->p)
		fputs(diag->p, stderr);
	hap_first_alert(diag->p ? diag->p : "", a, alen);
	warnmsg("%s rejected, kept as %s",
		strcmp(newfile, "-") ? newfile : "stdin", rejected);
}

static void
install(const char *path, const struct buf *b)
{
	char err[512];
	int changed;

	if (atomic_replace(path, b->p ? b->p : "", b->len, &changed, err,
			   sizeof(err)) < 0)
		die(EXIT_TEMP, "%s", err);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"check", no_argument, NULL, 'c'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct buf old = {0}, new = {0}, diag = {0};
	struct hapcfg_plan plan;
	char err[512], why[512];
	const char *newfile = "-", *es;
	char *candidate, *rejected, *prevpath;
	int c, r, ret = EXIT_OK, check = 0, have_old, lockfd = -1;
	int fast, applied = 0, valid;
	long long v;
	long worker;

	setprogname(argv[0]);
	argv[0] = (char *)getprogname_(); /* for getopt's messages */
	while ((c = getopt_long(argc, argv, "f:hp:S:s:", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'c':
			check = 1;
			break;
		case 'f':
			config = optarg;
			break;
		case 'h':
			fputs(usage_line, stdout);
			fshut_stdout();
			return EXIT_OK;
		case 'p':
			pidfile = optarg;
			break;
		case 'S':
			master = optarg;
			break;
		case 's':
			runtime = optarg;
			break;
		case 't':
			if (parse_ll(optarg, 1, 86400, &v, &es) < 0) {
				warnmsg("--timeout %s: %s", optarg, es);
				usage();
			}
			timeout_ms = v * 1000;
			break;
		case 'V':
			puts("hap-reload " VERSION);
			fshut_stdout();
			return EXIT_OK;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1 || !config)
		usage();
	if (argc == 1)
		newfile = argv[0];
	if (!check && !master && !pidfile) {
		warnmsg("-S or -p is needed to apply a configuration");
		usage();
	}
	if (read_file(newfile, &new, err, sizeof(err)) < 0)
		die(EXIT_TEMP, "%s", err);
	/* (not CONFIG.new: a renderer may be writing NEWFILE there) */
	candidate = pathwith(".checking");
	rejected = pathwith(".rejected");
	prevpath = pathwith(".prev");

	if (!check)
		lockfd = lock_config();
	have_old = access(config, F_OK) == 0;
	if (have_old && read_file(config, &old, err, sizeof(err)) < 0)
		die(EXIT_TEMP, "%s", err);
	if (have_old && old.len == new.len &&
	    (!new.len || !memcmp(old.p, new.p, new.len))) {
		puts("unchanged");
		goto done;
	}

	if (!check && hapcfg_diff(old.p ? old.p : "", old.len, new.p, new.len,
				  &plan, err, sizeof(err)) < 0)
		die(EXIT_TEMP, "%s", err);
	fast = !check && have_old && runtime && plan.runtime && plan.nops > 0;

	/* Validate a copy beside CONFIG, in the running haproxy's working
	 * directory, so relative paths mean what they will mean. */
	if (write_scratch(candidate, new.p ? new.p : "", new.len, err,
			  sizeof(err)) < 0)
		die(EXIT_TEMP, "%s", err);
	if (fast) {
		/* Only server lines changed, and haproxy's runtime parser
		 * checks each line as it is added: the change goes live
		 * while haproxy -c checks the whole file beside it.  The
		 * file is installed only once it passed; a failed check
		 * undoes the change by reloading the file still installed. */
		struct check c;

		validate_start(candidate, &c);
		applied = apply_runtime(&plan, why, sizeof(why)) == 0;
		valid = validate_wait(&c, &diag) == 0;
	} else {
		valid = validate(candidate, &diag) == 0;
	}
	if (!valid) {
		char a[300];

		reject(candidate, rejected, newfile, &diag, a, sizeof(a));
		if (fast && reload(&worker, err, sizeof(err)) < 0)
			die(EXIT_TEMP,
			    "rejected: %s, and the reload that was to undo its "
			    "runtime change failed: %s",
			    a, err);
		printf("rejected: %s%s\n", a,
		       fast ? " (its runtime change undone by a reload)" : "");
		ret = EXIT_NO;
		if (!check)
			hapcfg_plan_free(&plan);
		goto done;
	}
	unlink(candidate);
	if (check) {
		puts("valid");
		goto done;
	}

	if (have_old)
		install(prevpath, &old);
	install(config, &new);
	if (have_old && plan.runtime && plan.nops == 0) {
		/* Comments or blanks only: the file is all there is to it. */
		puts("runtime: +0 -0 ~0 servers");
		hapcfg_plan_free(&plan);
		goto done;
	}
	if (fast && applied) {
		printf("runtime: +%u -%u ~%u servers\n", plan.nadd, plan.ndel,
		       plan.nchg);
		hapcfg_plan_free(&plan);
		goto done;
	}
	if (fast)
		/* The file is installed: a reload makes the running state
		 * whatever it is now agree with it. */
		warnmsg("runtime update failed, reloading: %s", why);
	hapcfg_plan_free(&plan);
	if ((r = reload(&worker, why, sizeof(why))) == 0) {
		printf("reloaded (worker %ld)\n", worker);
		goto done;
	}
	if (r == -2) {
		/* Nothing was reloaded: the file goes back to what runs. */
		if (have_old)
			install(config, &old);
		else
			unlink(config);
		die(EXIT_TEMP, "%s; %s left as it was, nothing reloaded", why,
		    config);
	}
	if (!have_old)
		die(EXIT_TEMP, "%s, and there is no previous %s to restore",
		    why, config);
	install(rejected, &new);
	install(config, &old);
	warnmsg("%s; restored the previous %s, kept the new one as %s", why,
		config, rejected);
	if (reload(&worker, err, sizeof(err)) < 0)
		die(EXIT_TEMP,
		    "ROLLBACK FAILED: %s; haproxy may be left with neither "
		    "configuration",
		    err);
	printf("rolled back: %s\n", why);
	ret = EXIT_NO;
done:
	fshut_stdout();
	buf_free(&old);
	buf_free(&new);
	buf_free(&diag);
	free(candidate);
	free(rejected);
	free(prevpath);
	if (lockfd >= 0)
		close(lockfd);
	return ret;
}
