/*
 * The index of builds and deployments in the store (see index.h).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "index.h"
#include "report.h"
#include "xalloc.h"
#include "banned.h"

/* The meta key set once the state directory's records are imported. */
#define IMPORTED_KEY "imported-state-dir"

char *index_path(const struct state *st)
{
	return store_locate(st->dir);
}

/*
 * A store of its own (SQLite) imports its state directory once; one that
 * many machines share (PostgreSQL) once for each machine's directory.
 */
static char *imported_key(const struct state *st)
{
	char *loc = index_path(st), host[256] = "", *key;

	if (store_is_postgres(loc)) {
		gethostname(host, sizeof(host) - 1);
		key = xasprintf("%s:%s:%s", IMPORTED_KEY, host, st->dir);
	} else {
		key = xstrdup(IMPORTED_KEY);
	}
	free(loc);
	return key;
}

static int open_store(const struct state *st, struct store **s,
		      struct sw_err *e)
{
	char *path = index_path(st);
	int moved = 0, ret = store_open_ex(s, path, &moved, e);

	if (moved)
		fprintf(stderr,
			"warning: '%s' was not a database: kept as "
			"'%s.corrupt-*', a new one made\n",
			path, path);
	free(path);
	return ret;
}

static void warn(const char *what, const char *id, const struct sw_err *e)
{
	fprintf(stderr, "warning: cannot record %s %s in the store: %s\n", what,
		id, e->msg);
}

/*
 * The connection a process records its rows with, kept from one row to
 * the next (a build writes its row as it starts and again as it ends):
 * another open would parse the schema again and, the only connection to
 * the database, rebuild the WAL's index from the WAL. SQLite only (a
 * PostgreSQL connection is not held through a build), and dropped when
 * the file at the path is no longer the one it has open. Closed at exit,
 * and in the child of a fork() (SQLite's state of its open files must
 * not cross one: a connection the child opens would share it); the
 * close writes nothing (no checkpoint on close) and, POSIX locks being
 * the parent's, releases none of them.
 */
static struct {
	struct store *s;
	char *path;
	dev_t dev;
	ino_t ino;
	pid_t pid;
} kept;

static void kept_close(void)
{
	if (!kept.s || kept.pid != getpid())
		return;
	store_close(kept.s);
	free(kept.path);
	kept.s = NULL;
	kept.path = NULL;
}

static void kept_close_in_child(void)
{
	kept.pid = getpid();
	kept_close();
}

static bool kept_fits(const char *path)
{
	struct stat sb;

	return kept.s && kept.pid == getpid() && !strcmp(kept.path, path) &&
	       stat(store_sqlite_path(path), &sb) == 0 &&
	       sb.st_dev == kept.dev && sb.st_ino == kept.ino;
}

/* A store for one row: the kept connection, else a new one that is kept
 * when it can be (record_done() closes one that is not). */
static int record_open(const struct state *st, struct store **s,
		       struct sw_err *e)
{
	char *path = index_path(st);
	struct stat sb;
	static bool at_exit;

	*s = NULL;
	if (kept_fits(path)) {
		*s = kept.s;
		free(path);
		return 0;
	}
	if (kept.pid == getpid())
		kept_close();
	if (open_store(st, s, e) < 0) {
		free(path);
		return -1;
	}
	if (kept.s || store_is_postgres(path) ||
	    stat(store_sqlite_path(path), &sb) < 0) {
		free(path);
		return 0; /* a forked child's, or not one to keep */
	}
	if (!at_exit)
		at_exit = atexit(kept_close) == 0 &&
			  pthread_atfork(NULL, NULL, kept_close_in_child) == 0;
	if (!at_exit) {
		free(path);
		return 0;
	}
	kept.s = *s;
	kept.path = path;
	kept.dev = sb.st_dev;
	kept.ino = sb.st_ino;
	kept.pid = getpid();
	return 0;
}

static void record_done(struct store *s)
{
	if (s && s != kept.s)
		store_close(s);
}

void index_build(const struct state *st, const struct store_build *b)
{
	struct sw_err e = SW_ERR_INIT;
	struct store *s;

	if (record_open(st, &s, &e) < 0 || store_put_build(s, b, &e) < 0)
		warn("build", b->id, &e);
	record_done(s);
}

void index_deployment(const struct state *st, const struct store_deployment *d)
{
	struct sw_err e = SW_ERR_INIT;
	struct store *s;

	if (record_open(st, &s, &e) < 0 || store_put_deployment(s, d, &e) < 0)
		warn("deployment", d->id, &e);
	record_done(s);
}

static int64_t mtime_ms(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) < 0)
		return 0;
	return (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
}

/* A build directory's row: from its report, else from its log (running,
 * or killed: history tells which by the log's lock). */
static int build_row(const struct state *st, const char *name,
		     struct store_build *b, struct sw_err *e)
{
	char *dir = xasprintf("%s/builds/%s", st->dir, name);
	char *rp = fs_join(dir, "report.json");
	int ret = 0;

	if (fs_exists(rp)) {
		ret = report_build_row(rp, b, e);
	} else {
		char *id = xstrdup(name), *log = fs_join(dir, "build.log");
		size_t len = strlen(id);

		if (len > 37 && id[len - 37] == '-')
			id[len - 37] = ':'; /* <project>-<uuid> */
		memset(b, 0, sizeof(*b));
		b->project = xstrndup(id, len > 37 ? len - 37 : len);
		b->id = id;
		b->status = xstrdup("IN_PROGRESS");
		b->start_ms = mtime_ms(log);
		b->report_path = xstrdup(rp);
		free(log);
	}
	free(rp);
	free(dir);
	return ret;
}

static int deploy_row(const struct state *st, const char *id,
		      struct store_deployment *d, struct sw_err *e)
{
	char *dir = xasprintf("%s/deployments/%s", st->dir, id);
	char *rp = fs_join(dir, "report.json");
	int ret = 0;

	if (fs_exists(rp)) {
		ret = report_deploy_row(rp, d, e);
	} else {
		char *log = fs_join(dir, "deployment.log");

		memset(d, 0, sizeof(*d));
		d->id = xstrdup(id);
		d->application = xstrdup("");
		d->group = xstrdup("");
		d->status = xstrdup("InProgress");
		d->start_ms = mtime_ms(log);
		d->report_path = xstrdup(rp);
		d->hosts_total = -1;
		free(log);
	}
	free(rp);
	free(dir);
	return ret;
}

int index_import(const struct state *st, struct store *s, struct sw_err *e)
{
	struct strvec ids = STRVEC_INIT, deps = STRVEC_INIT;
	int ret = -1;

	if (state_list_records(st, false, &ids, e) < 0 ||
	    state_list_records(st, true, &deps, e) < 0)
		goto out;
	for (size_t i = 0; i < ids.nr; i++) {
		struct store_build b, have;
		struct sw_err be = SW_ERR_INIT;
		int rc;

		if (build_row(st, ids.v[i], &b, &be) < 0) {
			fprintf(stderr, "warning: %s\n", be.msg);
			continue;
		}
		rc = store_get_build(s, b.id, &have, e);
		if (rc == 0)
			store_build_release(&have);
		else if (rc < 0 || store_put_build(s, &b, e) < 0)
			rc = -1;
		store_build_release(&b);
		if (rc < 0)
			goto out;
	}
	for (size_t i = 0; i < deps.nr; i++) {
		struct store_deployment d, have;
		struct sw_err de = SW_ERR_INIT;
		int rc;

		if (deploy_row(st, deps.v[i], &d, &de) < 0) {
			fprintf(stderr, "warning: %s\n", de.msg);
			continue;
		}
		rc = store_get_deployment(s, d.id, &have, e);
		if (rc == 0)
			store_deployment_release(&have);
		else if (rc < 0 || store_put_deployment(s, &d, e) < 0)
			rc = -1;
		store_deployment_release(&d);
		if (rc < 0)
			goto out;
	}
	ret = 0;
out:
	strvec_release(&ids);
	strvec_release(&deps);
	return ret;
}

int index_open(const struct state *st, struct store **s, struct sw_err *e)
{
	char *done = NULL, *key;
	int rc;

	if (open_store(st, s, e) < 0)
		return -1;
	key = imported_key(st);
	rc = store_meta_get(*s, key, &done, e);
	free(done);
	if (rc == 1 && (index_import(st, *s, e) < 0 ||
			store_meta_set(*s, key, "1", e) < 0))
		rc = -1;
	free(key);
	if (rc < 0) {
		store_close(*s);
		*s = NULL;
		return -1;
	}
	return 0;
}
