#include "state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "xalloc.h"
#include "banned.h"

char *state_path(const char *dir)
{
	const char *env = getenv("SLIPWAY_STATE_DIR");

	if (!dir || !*dir)
		dir = env && *env ? env : ".slipway";
	return fs_abspath(dir);
}

int state_open(struct state *st, const char *dir, struct sw_err *e)
{
	st->dir = state_path(dir);
	if (fs_mkdir_p(st->dir, 0755, e) < 0) {
		err_prefix(e, "state directory");
		return -1;
	}
	return 0;
}

void state_release(struct state *st)
{
	free(st->dir);
	st->dir = NULL;
}

int state_next_build_number(struct state *st, const char *project, long *n,
			    struct sw_err *e)
{
	char *dir = xasprintf("%s/projects/%s", st->dir, project);
	char *path = xasprintf("%s/next-build-number", dir);
	char buf[32];
	int fd = -1, ret = -1;
	ssize_t r;
	long cur = 1;

	if (fs_mkdir_p(dir, 0755, e) < 0)
		goto out;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		err_sys(e, "cannot open '%s'", path);
		goto out;
	}
	if (flock(fd, LOCK_EX) < 0) {
		err_sys(e, "cannot lock '%s'", path);
		goto out;
	}
	r = pread(fd, buf, sizeof(buf) - 1, 0);
	if (r > 0) {
		buf[r] = '\0';
		cur = strtol(buf, NULL, 10);
		if (cur < 1)
			cur = 1;
	}
	/*
	 * Written over in place, then cut to length: numbers only grow, so
	 * no block is freed (a discard mount waits for each one freed), and
	 * fdatasync() has only the data to write while the length stays.
	 */
	r = snprintf(buf, sizeof(buf), "%ld\n", cur + 1);
	if (pwrite(fd, buf, (size_t)r, 0) != r || ftruncate(fd, r) < 0 ||
	    fdatasync(fd) < 0) {
		err_sys(e, "cannot write '%s'", path);
		goto out;
	}
	*n = cur;
	ret = 0;
out:
	if (fd >= 0)
		close(fd); /* drops the lock */
	free(dir);
	free(path);
	return ret;
}

char *state_uuid(void)
{
	unsigned char b[16];
	size_t got = 0;

	while (got < sizeof(b)) {
		ssize_t r = getrandom(b + got, sizeof(b) - got, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			BUG("getrandom failed");
		}
		got += (size_t)r;
	}
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	return xasprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
			 "%02x%02x%02x%02x%02x%02x",
			 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8],
			 b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

char *state_build_name(const char *build_id)
{
	char *name = xstrdup(build_id);

	for (char *p = name; *p; p++)
		if (*p == ':')
			*p = '-';
	return name;
}

char *state_build_dir(const struct state *st, const char *build_id)
{
	char *name = state_build_name(build_id);
	char *dir = xasprintf("%s/builds/%s", st->dir, name);

	free(name);
	return dir;
}

int state_link_build(const struct state *st, const char *build_id,
		     struct sw_err *e)
{
	char *name = state_build_name(build_id);
	char *link = xasprintf("%s/builds/%s", st->dir, build_id);
	int ret = 0;

	if (strcmp(name, build_id) && symlink(name, link) < 0 &&
	    errno != EEXIST)
		ret = err_sys(e, "cannot create '%s'", link);
	free(name);
	free(link);
	return ret;
}

struct entry {
	char *id;
	struct timespec t;
};

static int by_time(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->t.tv_sec != y->t.tv_sec)
		return x->t.tv_sec < y->t.tv_sec ? -1 : 1;
	if (x->t.tv_nsec != y->t.tv_nsec)
		return x->t.tv_nsec < y->t.tv_nsec ? -1 : 1;
	return strcmp(x->id, y->id);
}

/*
 * The entries of <state>/<sub> holding a report.json, oldest first; with
 * log, also those holding only that log (by its time).
 */
static int list_reports(const struct state *st, const char *sub,
			const char *log, struct strvec *ids, struct sw_err *e)
{
	char *dir = xasprintf("%s/%s", st->dir, sub);
	struct entry *v = NULL;
	size_t nr = 0, alloc = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d) {
		free(dir);
		if (errno == ENOENT)
			return 0;
		return err_sys(e, "cannot read the history in '%s'", sub);
	}
	while ((de = readdir(d))) {
		struct stat sb;
		char *p;

		if (de->d_name[0] == '.' || de->d_type == DT_LNK)
			continue; /* the id-named links */
		p = xasprintf("%s/%s/report.json", dir, de->d_name);
		if (stat(p, &sb) < 0 && log) {
			free(p);
			p = xasprintf("%s/%s/%s", dir, de->d_name, log);
		}
		if (!stat(p, &sb)) {
			ALLOC_GROW(v, nr + 1, alloc);
			v[nr].id = xstrdup(de->d_name);
			v[nr].t = sb.st_mtim;
			nr++;
		}
		free(p);
	}
	closedir(d);
	free(dir);
	if (nr)
		qsort(v, nr, sizeof(*v), by_time);
	for (size_t i = 0; i < nr; i++)
		strvec_push_nodup(ids, v[i].id);
	free(v);
	return 0;
}

int state_list_builds(const struct state *st, struct strvec *ids,
		      struct sw_err *e)
{
	return list_reports(st, "builds", NULL, ids, e);
}

int state_list_deployments(const struct state *st, struct strvec *ids,
			   struct sw_err *e)
{
	return list_reports(st, "deployments", NULL, ids, e);
}

int state_list_records(const struct state *st, bool deployments,
		       struct strvec *ids, struct sw_err *e)
{
	return deployments ? list_reports(st, "deployments", "deployment.log",
					  ids, e)
			   : list_reports(st, "builds", "build.log", ids, e);
}
