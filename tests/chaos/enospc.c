/* enospc.c: an LD_PRELOAD shim for the disk faults of tests/chaos, where a
 * real full disk (a small tmpfs) cannot be mounted, and to aim a full disk
 * at chosen files.  While the file $ENOSPC_FLAG exists, write(), fsync(),
 * fdatasync(), fallocate() and rename() on a path matching one of the
 * colon-separated fnmatch(3) patterns of $ENOSPC_MATCH fail with ENOSPC,
 * as a full disk does.  The flag file's first line ("write", "fsync",
 * "fallocate", "rename", or several) picks which, all of them when it is
 * empty; its other lines, if
 * any, are patterns that replace $ENOSPC_MATCH.
 * A failing write first writes half of what it was given, as a disk that
 * fills up in the middle of a file does, so that a writer is left with a
 * partial file to deal with.
 *
 * Build: cc -shared -fPIC -o enospc.so enospc.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The flag's content: its first line the operations, the others
 * patterns. */
struct flag {
	char buf[4096], *ops, *pats;
};

/* Armed for op: $ENOSPC_FLAG exists, and its first line names op or is
 * empty; the flag's content in f. */
static int
armed(const char *op, struct flag *f)
{
	const char *flag = getenv("ENOSPC_FLAG");
	int e = errno, on = 0, fd;
	ssize_t n;

	if (flag && (fd = open(flag, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, f->buf, sizeof(f->buf) - 1);
		close(fd);
		f->buf[n > 0 ? n : 0] = '\0';
		f->ops = f->buf;
		f->pats = strchr(f->buf, '\n');
		if (f->pats)
			*f->pats++ = '\0';
		if (!f->pats || !*f->pats)
			f->pats = getenv("ENOSPC_MATCH");
		on = !*f->ops || strstr(f->ops, op) != NULL;
	}
	errno = e;
	return on;
}

/* path matches one of the patterns, separated by colons or newlines. */
static int
matches(const struct flag *f, const char *path)
{
	const char *m = f->pats;
	char pat[PATH_MAX];

	if (!m || !path)
		return 0;
	while (*m) {
		size_t n = strcspn(m, ":\n");

		if (n && n < sizeof(pat)) {
			memcpy(pat, m, n);
			pat[n] = '\0';
			if (fnmatch(pat, path, 0) == 0)
				return 1;
		}
		m += n;
		if (*m)
			m++;
	}
	return 0;
}

static int
fd_matches(const struct flag *f, int fd)
{
	char link[64], path[PATH_MAX];
	int e = errno;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	errno = e;
	if (n < 0)
		return 0;
	path[n] = '\0';
	return matches(f, path);
}

/* The C library's own NAME, found once. */
#define REAL(name)                                                             \
	static __typeof__(&name) real_##name;                                  \
	if (!real_##name)                                                      \
	real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

ssize_t
write(int fd, const void *p, size_t n)
{
	struct flag f;

	REAL(write);
	if (armed("write", &f) && fd_matches(&f, fd)) {
		if (n > 1)
			return real_write(fd, p, n / 2);
		errno = ENOSPC;
		return -1;
	}
	return real_write(fd, p, n);
}

/* A sync of fd is to fail (errno set). */
static int
sync_fails(int fd)
{
	struct flag f;

	if (armed("fsync", &f) && fd_matches(&f, fd)) {
		errno = ENOSPC;
		return 1;
	}
	return 0;
}

int
fallocate(int fd, int mode, off_t off, off_t len)
{
	struct flag f;

	REAL(fallocate);
	if (armed("fallocate", &f) && fd_matches(&f, fd)) {
		errno = ENOSPC;
		return -1;
	}
	return real_fallocate(fd, mode, off, len);
}

int
fsync(int fd)
{
	REAL(fsync);
	return sync_fails(fd) ? -1 : real_fsync(fd);
}

int
fdatasync(int fd)
{
	REAL(fdatasync);
	return sync_fails(fd) ? -1 : real_fdatasync(fd);
}

int
rename(const char *from, const char *to)
{
	struct flag f;

	REAL(rename);
	if (armed("rename", &f) && (matches(&f, from) || matches(&f, to))) {
		errno = ENOSPC;
		return -1;
	}
	return real_rename(from, to);
}
