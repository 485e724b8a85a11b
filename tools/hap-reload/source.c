/* CONFIG.source: see source.h.
 *
 * Its first line names CONFIG as it was installed: device, inode, size,
 * modification and change times.  CONFIG replaced by anything else
 * (rolled back, by hand) names itself otherwise, and the file is not
 * used; it is not synced either, for the same reason. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source.h"
#include "tool.h"

static void
stamp(const struct stat *st, char *s, size_t n)
{
	snprintf(s, n,
		 "# hap-reload: the source of %lu:%lu, %lld bytes, "
		 "%lld.%09ld %lld.%09ld\n",
		 (unsigned long)st->st_dev, (unsigned long)st->st_ino,
		 (long long)st->st_size, (long long)st->st_mtim.tv_sec,
		 st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec,
		 st->st_ctim.tv_nsec);
}

int
source_binds(const struct buf *text)
{
	return text->len && memmem(text->p, text->len, "# easy-lb:", 10);
}

int
source_of(const char *config, const char *path, const struct buf *old,
	  int binds, struct buf *held, const char **p, size_t *n)
{
	char want[200], err[512];
	struct stat st;
	size_t k;

	if (!binds) {
		*p = old->p ? old->p : "";
		*n = old->len;
		return 1;
	}
	if (stat(config, &st) < 0 ||
	    read_file(path, held, err, sizeof(err)) < 0)
		return 0;
	stamp(&st, want, sizeof(want));
	k = strlen(want);
	if (held->len < k || memcmp(held->p, want, k))
		return 0;
	*p = held->p + k;
	*n = held->len - k;
	return 1;
}

void
source_keep(const char *config, const char *path, const struct buf *src)
{
	char line[200], err[512];
	struct buf b = {0};
	struct stat st;

	if (!src || stat(config, &st) < 0) {
		if (unlink(path) < 0 && errno != ENOENT)
			warnmsg("unlink %s: %s", path, strerror(errno));
		return;
	}
	stamp(&st, line, sizeof(line));
	if (buf_puts(&b, line) < 0 ||
	    buf_add(&b, src->p ? src->p : "", src->len) < 0) {
		warnmsg("%s: out of memory", path);
		unlink(path);
	} else if (atomic_note(path, b.p, b.len, err, sizeof(err)) < 0) {
		warnmsg("%s", err);
		unlink(path);
	}
	buf_free(&b);
}
