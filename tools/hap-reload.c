/* hap-reload: validate a new haproxy configuration, install it atomically
 * and apply it to a running master-worker haproxy, through the runtime API
 * when only servers changed, else by a confirmed reload, rolling back to
 * the previous configuration when the reload fails.  Its steps, numbered
 * as hap-reload(1) numbers them, are the functions just before main. */
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
#include <unistd.h>

#include "util/deadline.h"
#include "hap-reload/maps.h"
#include "hap-reload/runtime.h"
#include "hap-reload/source.h"
#include "hap-reload/status.h"
#include "haproxy/bind.h"
#include "haproxy/cfg.h"
#include "haproxy/haproxy.h"
#include "tool.h"

static const char usage_line[] =
    "usage: hap-reload -f CONFIG [-S MASTER_SOCKET] [-s RUNTIME_SOCKET] [-p PIDFILE] [--check | --install] [--retry] [--timeout SECONDS] [--status FILE [--revision REV]] NEWFILE\n";

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

/* A tag the status file can hold as one field. */
static int
one_word(const char *s)
{
	size_t n;

	for (n = 0; s[n]; n++)
		if ((unsigned char)s[n] <= ' ' || (unsigned char)s[n] >= 0x7f)
			return 0;
	return n > 0 && n <= 64;
}

/* Take the lock beside CONFIG, waiting at most --timeout. */
static int
lock_config(void)
{
	char *path = pathwith(".lock");
	int fd = tool_lock(path, timeout_ms, "another hap-reload");

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

	/* What is there is read before the deadline is looked at (a
	 * verdict that came as it passed counts), and only what is there:
	 * a read that would wait would wait past the deadline. */
	for (;;) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		char tmp[4096];
		long long left = deadline - now_ms();
		ssize_t n;
		int r;

		if ((r = poll(&p, 1, left > 0 ? (int)left : 0)) < 0 &&
		    errno != EINTR)
			dieerr(EXIT_TEMP, "poll");
		if (r <= 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR))) {
			if (left > 0)
				continue;
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			die(EXIT_TEMP, "%s -c: no verdict within %lld s", hap,
			    timeout_ms / 1000);
		}
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
has_new_worker(void *arg)
{
	struct newworker *w = arg;
	struct hap_proc now;
	char err[256];
	struct procq q = {w->deadline, &now, err, sizeof(err)};

	if (!proc_answered(&q))
		return 0;
	if (w->before->failed >= 0 && now.failed > w->before->failed) {
		snprintf(
		    w->why, w->wlen,
		    "reload failed (haproxy counts %ld failed reloads); the old worker keeps serving",
		    now.failed);
		hap_proc_free(&now);
		return -1;
	}
	w->worker = hap_proc_new_worker(&now, w->before);
	hap_proc_free(&now);
	return w->worker != 0;
}

/* The proof of a reload through the master CLI: 0 with *worker set, or
 * -1 with why. */
static int
confirm_master(long long deadline, const struct hap_proc *before, long *worker,
	       char *why, size_t wlen)
{
	struct newworker w = {deadline, before, 0, why, wlen};
	enum deadline_end end = deadline_wait(deadline, has_new_worker, &w);

	if (end == DEADLINE_PASSED)
		snprintf(why, wlen, "no new worker within %lld s",
			 timeout_ms / 1000);
	*worker = w.worker;
	return end == DEADLINE_HELD ? 0 : -1;
}

/* Reload through the master CLI's "reload", confirmed by "show proc".
 * Returns as reload does. */
static int
reload_master(long long deadline, long *worker, char *why, size_t wlen)
{
	struct hap_proc before;
	struct buf r = {0};
	char err[256];
	int ret = -1, rc;

	if (show_proc(deadline, &before, err, sizeof(err)) < 0) {
		snprintf(why, wlen, "master CLI: %s", err);
		return -2;
	}
	/* (a refusal read before the reply was cut short is a refusal) */
	rc = hap_command(master, "reload", deadline, &r, err, sizeof(err));
	if (r.p && strstr(r.p, "Success=0")) {
		/* 2.7 and later answer; 2.6 closes without a word. */
		char a[200];
		hap_first_alert(r.p, a, sizeof(a));
		snprintf(why, wlen, "reload failed: %s", a);
	} else if (rc < 0) {
		snprintf(why, wlen, "master CLI: %s", err);
	} else {
		ret = confirm_master(deadline, &before, worker, why, wlen);
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
has_new_child(void *arg)
{
	size_t i;
	struct newchild *c = arg;
	long cur[256];
	size_t ncur = hap_children(c->master, cur, 256);

	for (i = 0; i < ncur; i++) {
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

/* The proof of a reload by signal: 0 with *worker set, or -1 with why.
 * Without the master CLI a failed reload shows only as the absence of a
 * new worker: it takes the whole timeout to notice. */
static int
confirm_signal(long long deadline, struct newchild *c, long *worker, char *why,
	       size_t wlen)
{
	if (deadline_wait(deadline, has_new_child, c) != DEADLINE_HELD) {
		snprintf(why, wlen, "no new worker within %lld s",
			 timeout_ms / 1000);
		return -1;
	}
	*worker = c->worker;
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
	return confirm_signal(deadline, &c, worker, why, wlen);
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

/* One run: the files it reads and writes, the lock it holds and the plan
 * from the old configuration to the new.  run_init sets every field
 * before any step runs; run_free alone releases them. */
struct run {
	const char *newfile; /* NEWFILE, "-" for stdin */
	int check;	     /* --check: stop once validated */
	int install;	     /* --install: stop once installed */
	/* Beside CONFIG: the candidate (not CONFIG.new: a renderer may be
	 * writing NEWFILE there), the last file refused, the one before. */
	char *candidate, *rejected, *prev;
	/* CONFIG.applying: there from before the first change to haproxy
	 * until what runs is known again, so that a run cut short (killed)
	 * is followed by one that reloads whatever the files say. */
	char *marker;
	int redo;	     /* the marker was there: reload */
	int lockfd;	     /* CONFIG.lock, held; -1 under --check */
	int candfd;	     /* the candidate's room, reserved, or -1 */
	int have_old;	     /* CONFIG exists: old holds it */
	struct buf old, new; /* CONFIG and NEWFILE (but its maps) */
	struct maps maps;    /* NEWFILE's maps */
	/* The new file as the running haproxy must read it to take it at
	 * run time: new backends in spares (lib/haproxy/bind.h). */
	struct buf bound;
	struct hapbind *binds;
	size_t nbinds;
	/* CONFIG.source: the file as it came that CONFIG binds (when it
	 * binds), behind a first line naming CONFIG as it was installed;
	 * what the next run compares the new file with (hapbind_from). */
	char *source;
	struct buf src;
	const struct buf *inst;	 /* what CONFIG gets: new or bound */
	struct buf diag;	 /* what haproxy -c said */
	struct hapcfg_plan plan; /* old to new; empty under --check */
	int fast;		 /* a runtime change, made while validating */
	int applied;		 /* ... and it went through */
	char why[512];		 /* why the runtime change or reload failed */
};

static void
run_init(struct run *r, const char *newfile, int check, int inst)
{
	memset(r, 0, sizeof(*r));
	r->newfile = newfile;
	r->check = check;
	r->install = inst;
	r->candidate = pathwith(".checking");
	r->rejected = pathwith(".rejected");
	r->prev = pathwith(".prev");
	r->marker = pathwith(".applying");
	r->source = pathwith(".source");
	r->lockfd = -1;
	r->candfd = -1;
}

static void
run_free(struct run *r)
{
	free(r->candidate);
	free(r->rejected);
	free(r->prev);
	free(r->marker);
	free(r->source);
	buf_free(&r->src);
	if (r->lockfd >= 0)
		close(r->lockfd);
	if (r->candfd >= 0)
		close(r->candfd);
	buf_free(&r->old);
	buf_free(&r->new);
	buf_free(&r->bound);
	hapbind_free(r->binds, r->nbinds);
	maps_free(&r->maps);
	buf_free(&r->diag);
	hapcfg_plan_free(&r->plan);
}

/* The marker goes on disk before haproxy is touched, and away once
 * what it runs is known: the new file, or the old one again.  (An empty
 * file, not synced: it speaks of a haproxy that a crash of the machine
 * would end too.) */
static void
mark(struct run *r)
{
	int fd;

	if (r->redo)
		return;
	if ((fd = open(r->marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0)
		dieerr(EXIT_TEMP, "%s", r->marker);
	close(fd);
}

static void
unmark(struct run *r)
{
	if (unlink(r->marker) < 0 && errno != ENOENT)
		dieerr(EXIT_TEMP, "unlink %s", r->marker);
}

/* The plan from CONFIG to NEWFILE: its servers through the runtime API,
 * new backends in spares when the plain file needs a reload, its maps. */
static void
plan(struct run *r)
{
	char err[512], why[sizeof(r->plan.why)];
	const char *o = r->old.p ? r->old.p : "", *n = r->new.p ? r->new.p : "";
	const char *sp;
	size_t sn;
	int b, ob = r->maps.n && source_binds(&r->old);

	r->inst = &r->new;
	/* (CONFIG binding and the new file not, as a renderer writes it:
	 * they differ in sections for sure, and only a binding can tell) */
	if (ob && !source_binds(&r->new))
		snprintf(r->plan.why, sizeof(r->plan.why),
			 "sections bound to spares");
	else if (hapcfg_diff(o, r->old.len, n, r->new.len, &r->plan, err,
			     sizeof(err)) < 0)
		die(EXIT_TEMP, "%s", err);
	if (!r->plan.runtime && r->maps.n) {
		memcpy(why, r->plan.why, sizeof(why));
		/* (from what changed since the last run when it can) */
		b = source_of(config, r->source, &r->old, ob, &r->src, &sp, &sn)
			? hapbind_from(o, r->old.len, sp, sn, n, r->new.len,
				       &r->bound, &r->binds, &r->nbinds)
			: 2;
		if (b == 2)
			b = hapbind(o, r->old.len, n, r->new.len, &r->bound,
				    &r->binds, &r->nbinds, r->plan.why,
				    sizeof(r->plan.why));
		if (b < 0)
			die(EXIT_TEMP, "out of memory");
		if (b > 0) {
			hapcfg_plan_free(&r->plan);
			if (hapcfg_diff(o, r->old.len, r->bound.p, r->bound.len,
					&r->plan, err, sizeof(err)) < 0)
				die(EXIT_TEMP, "%s", err);
			if (r->plan.runtime) {
				r->inst = &r->bound;
				maps_bind(&r->maps, r->binds, r->nbinds);
			} else {
				memcpy(r->plan.why, why, sizeof(why));
			}
		}
	}
	if (!r->plan.runtime)
		return;
	maps_plan(&r->maps);
	if (r->maps.runtime)
		return;
	/* A reload after all: of the file as it came. */
	hapcfg_plan_free(&r->plan);
	snprintf(r->plan.why, sizeof(r->plan.why), "%s", r->maps.why);
	r->inst = &r->new;
	maps_unbind(&r->maps);
}

/* The files haproxy -c reads: the maps where the file says they are
 * (under --check only the ones there is none of yet), and a copy of the
 * file beside CONFIG, in the running haproxy's working directory, so
 * that relative paths mean what they will mean. */
static void
candidate(struct run *r)
{
	char err[512];

	if (r->check)
		maps_put_missing(&r->maps);
	else if (r->fast)
		/* (synced once the change is live: a crash of the machine
		 * ends the haproxy that runs them too) */
		maps_put_early(&r->maps);
	else
		maps_put(&r->maps);
	/* A runtime change goes live before the candidate is written (a
	 * copy of megabytes at 10,000 services): only its room is taken
	 * now, so that a full disk still stops the run here. */
	if (r->fast && (r->candfd = reserve_scratch(r->candidate, r->inst->len,
						    err, sizeof(err))) != -2) {
		if (r->candfd == -1)
			die(EXIT_TEMP, "%s", err);
		return;
	}
	r->candfd = -1;
	if (write_scratch(r->candidate, r->inst->p ? r->inst->p : "",
			  r->inst->len, err, sizeof(err)) < 0)
		die(EXIT_TEMP, "%s", err);
}

static void undo_runtime(struct run *r, const char *err)
    __attribute__((noreturn));

/* What the runtime change needed on disk cannot be written (err):
 * haproxy must not run what the files do not say.  A runtime change is
 * undone by a reload of the files as they were (the maps put back
 * first); one that failed half way leaves the marker for the next run
 * to reload. */
static void
undo_runtime(struct run *r, const char *err)
{
	char why[512];
	long worker;

	if (!(r->fast && r->applied))
		die(EXIT_TEMP, "%s", err);
	maps_restore(&r->maps);
	if (reload(&worker, why, sizeof(why)) < 0)
		die(EXIT_TEMP,
		    "%s, and the reload that was to undo its runtime change failed: %s",
		    err, why);
	unmark(r);
	/* (said once it is undone: whoever reads the log then finds haproxy
	 * running what the files say) */
	warnmsg("%s", err);
	die(EXIT_TEMP,
	    "%s not installed: its runtime change undone by a reload", config);
}

/* Step 1: read NEWFILE, then CONFIG under the lock, and plan the
 * change.  Returns 0; 1 when NEWFILE is what CONFIG and its
 * maps hold already; 2 when NEWFILE's maps are malformed (why says
 * how). */
static int
prepare(struct run *r)
{
	char err[512];

	if (read_file(r->newfile, &r->new, err, sizeof(err)) < 0)
		die(EXIT_TEMP, "%s", err);
	if (!r->check)
		r->lockfd = lock_config();
	if (maps_read(&r->maps, config, &r->new, r->why, sizeof(r->why)) < 0)
		return 2;
	r->inst = &r->new;
	r->have_old = access(config, F_OK) == 0;
	if (r->have_old && read_file(config, &r->old, err, sizeof(err)) < 0)
		die(EXIT_TEMP, "%s", err);
	if (!r->check && !r->install && access(r->marker, F_OK) == 0) {
		r->redo = 1;
		warnmsg("%s: an earlier run did not finish; reloading",
			r->marker);
	}
	if (!r->check && !r->install && !r->redo && r->have_old)
		plan(r);
	if (!r->redo && r->have_old && maps_same(&r->maps) &&
	    r->old.len == r->inst->len &&
	    (!r->inst->len || !memcmp(r->old.p, r->inst->p, r->inst->len)))
		return 1;
	r->fast = !r->check && !r->install && !r->redo && r->have_old &&
		  runtime && r->plan.runtime && r->maps.runtime &&
		  (r->plan.nops > 0 ||
		   r->maps.nadd + r->maps.ndel + r->maps.nchg > 0);
	if (!r->check && !r->install)
		mark(r);
	/* (before any change to haproxy: a disk that refuses them stops the
	 * run before haproxy runs something the files do not say) */
	candidate(r);
	return 0;
}

/* Step 2: haproxy -c on the candidate.  When only server lines and map
 * entries changed,
 * haproxy's runtime parser checks each line as it is added: the change
 * (step 4) goes live first, then haproxy -c checks the whole file (not
 * the other way round: on a small machine a haproxy -c just started
 * slows the running haproxy's answers down).  The file is installed only
 * once it passed (0); refuse undoes the change when it did not (-1). */
static int
validate(struct run *r)
{
	struct check c;

	if (r->fast)
		r->applied =
		    apply_runtime(runtime, timeout_ms, &r->plan, r->maps.rt,
				  r->maps.n, r->why, sizeof(r->why)) == 0;
	if (r->fast) {
		char err[512];

		if (maps_sync(&r->maps, err, sizeof(err)) < 0)
			undo_runtime(r, err);
	}
	if (r->candfd >= 0) {
		char err[512];
		int fd = r->candfd;

		r->candfd = -1;
		if (write_reserved(fd, r->candidate,
				   r->inst->p ? r->inst->p : "", r->inst->len,
				   err, sizeof(err)) < 0)
			undo_runtime(r, err);
	}
	validate_start(r->candidate, &c);
	if (validate_wait(&c, &r->diag) != 0)
		return -1;
	unlink(r->candidate);
	return 0;
}

/* haproxy -c refused the candidate: it is kept as CONFIG.rejected with
 * haproxy's diagnostics on stderr, and a runtime change is undone by a
 * reload of the file still installed.  Returns the exit status. */
static int
refuse(struct run *r)
{
	const char *diag = r->diag.p ? r->diag.p : "";
	char a[300], err[512];
	long worker;

	if (rename(r->candidate, r->rejected) < 0)
		dieerr(EXIT_TEMP, "rename %s", r->candidate);
	maps_restore(&r->maps);
	fputs(diag, stderr);
	hap_first_alert(diag, a, sizeof(a));
	warnmsg("%s rejected, kept as %s",
		strcmp(r->newfile, "-") ? r->newfile : "stdin", r->rejected);
	if (r->fast && reload(&worker, err, sizeof(err)) < 0)
		die(EXIT_TEMP,
		    "rejected: %s, and the reload that was to undo its runtime change failed: %s",
		    a, err);
	/* (a marker an earlier run left stays: what runs is still unknown) */
	if (r->fast || !r->redo)
		unmark(r);
	status_say("rejected: %s%s\n", a,
		   r->fast ? " (its runtime change undone by a reload)" : "");
	return EXIT_NO;
}

/* Step 3: CONFIG.prev gets the old file, CONFIG the new one. */
static void
install_new(struct run *r)
{
	char err[512];
	int changed;

	if ((!r->have_old ||
	     atomic_replace(r->prev, r->old.p ? r->old.p : "", r->old.len,
			    &changed, err, sizeof(err)) == 0) &&
	    atomic_replace(config, r->inst->p ? r->inst->p : "", r->inst->len,
			   &changed, err, sizeof(err)) == 0) {
		/* (a file that binds nothing is its own source) */
		source_keep(config, r->source,
			    source_binds(r->inst) ? &r->new : NULL);
		return;
	}
	/* The file could not go in. */
	undo_runtime(r, err);
}

/* Step 6: the reload of the new file failed (how: -1, or -2 when it
 * could not even be asked for; why in r->why): the old file goes back.
 * Returns the exit status once haproxy serves it again. */
static int
roll_back(struct run *r, int how)
{
	char err[512];
	long worker;

	if (how == -2) {
		/* Nothing was reloaded: the file goes back to what runs. */
		if (r->have_old)
			install_file(config, &r->old);
		else
			unlink(config);
		maps_restore(&r->maps);
		die(EXIT_TEMP, "%s; %s left as it was, nothing reloaded",
		    r->why, config);
	}
	if (!r->have_old)
		die(EXIT_TEMP, "%s, and there is no previous %s to restore",
		    r->why, config);
	install_file(r->rejected, r->inst);
	install_file(config, &r->old);
	maps_restore(&r->maps);
	warnmsg("%s; restored the previous %s, kept the new one as %s", r->why,
		config, r->rejected);
	if (reload(&worker, err, sizeof(err)) < 0)
		die(EXIT_TEMP,
		    "ROLLBACK FAILED: %s; haproxy may be left with neither configuration",
		    err);
	unmark(r);
	status_say("rolled back: %s\n", r->why);
	return EXIT_NO;
}

/* What a runtime change did: servers, map entries, spares given. */
static void
say_runtime(const struct run *r)
{
	const struct maps *m = &r->maps;
	size_t i;

	status_say("runtime: +%u -%u ~%u servers", r->plan.nadd, r->plan.ndel,
		   r->plan.nchg);
	if (m->nadd + m->ndel + m->nchg)
		status_say(", +%u -%u ~%u map entries", m->nadd, m->ndel,
			   m->nchg);
	for (i = 0; i < r->nbinds; i++)
		if (r->binds[i].fresh)
			status_say("; backend %s in %s", r->binds[i].name,
				   r->binds[i].spare);
	status_say("\n");
}

/* Steps 4 and 5: haproxy serves the installed file, through the runtime
 * change made during step 2, else by a confirmed reload.  Returns the
 * exit status. */
static int
apply(struct run *r)
{
	long worker;
	int how;

	if (r->install) {
		status_say("installed\n");
		return EXIT_OK;
	}
	if (r->have_old && !r->redo && r->plan.runtime && r->maps.runtime &&
	    !r->fast) {
		/* Comments or blanks only: the file is all there is to it. */
		unmark(r);
		status_say("runtime: +0 -0 ~0 servers\n");
		return EXIT_OK;
	}
	if (r->fast && r->applied) {
		unmark(r);
		say_runtime(r);
		return EXIT_OK;
	}
	if (r->fast)
		/* The file is installed: a reload makes the running state
		 * whatever it is now agree with it. */
		warnmsg("runtime update failed, reloading: %s", r->why);
	if ((how = reload(&worker, r->why, sizeof(r->why))) < 0)
		return roll_back(r, how);
	unmark(r);
	status_say("reloaded (worker %ld)\n", worker);
	return EXIT_OK;
}

/* The steps of hap-reload(1), in order; returns the exit status. */
static int
steps(struct run *r)
{
	switch (prepare(r)) {
	case 1:
		status_say("unchanged\n");
		return EXIT_OK;
	case 2:
		warnmsg("%s: %s",
			strcmp(r->newfile, "-") ? r->newfile : "stdin", r->why);
		status_say("rejected: %s\n", r->why);
		return EXIT_NO;
	}
	if (validate(r) != 0)
		return refuse(r);
	if (r->check) {
		puts("valid");
		return EXIT_OK;
	}
	install_new(r);
	return apply(r);
}

/* One run of the steps, its output written: the exit status. */
static int
one_run(void *r)
{
	int ret = steps(r);

	status_done(ret);
	fshut_stdout();
	return ret;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"check", no_argument, NULL, 'c'},
	    {"install", no_argument, NULL, 'i'},
	    {"retry", no_argument, NULL, 'r'},
	    {"timeout", required_argument, NULL, 't'},
	    {"status", required_argument, NULL, 'T'},
	    {"revision", required_argument, NULL, 'R'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *newfile = "-", *es, *statusfile = NULL, *revision = NULL;
	int c, ret, check = 0, inst = 0, again = 0;
	struct run run;
	long long v;

	tool_init(argv);
	while ((c = getopt_long(argc, argv, "f:hp:S:s:", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'c':
			check = 1;
			break;
		case 'i':
			inst = 1;
			break;
		case 'f':
			config = optarg;
			break;
		case 'r':
			again = 1;
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
		case 'T':
			statusfile = optarg;
			break;
		case 'R':
			if (!one_word(optarg)) {
				warnmsg(
				    "--revision %s: not one word of at most 64 printable characters",
				    optarg);
				usage();
			}
			revision = optarg;
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
	if (check && inst) {
		warnmsg("--check and --install exclude each other");
		usage();
	}
	if (!check && !inst && !master && !pidfile) {
		warnmsg("-S or -p is needed to apply a configuration");
		usage();
	}
	/* A run is never cut short: haproxy must not be left with one file
	 * installed and another serving. */
	tool_defer_stop();
	/* (--check changes nothing: nothing to say) */
	status_init(check ? NULL : statusfile, revision);
	run_init(&run, newfile, check, inst);
	ret = again ? tool_retry(one_run, &run, 1000, 8000) : one_run(&run);
	run_free(&run);
	return ret;
}
