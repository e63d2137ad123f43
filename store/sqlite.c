/*
 * The store over SQLite (see store.h): one connection per struct sq,
 * WAL, a busy timeout, foreign keys on; writes of more than one statement
 * in BEGIN IMMEDIATE transactions, so that a writer never has to upgrade
 * a read (which in WAL mode fails at once instead of waiting).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "impl.h"
#include "migrations.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

struct sq {
	sqlite3 *db;
	char *path;
};

static int db_fail(struct sq *s, struct sw_err *e, const char *what)
{
	return err_set(e, ERR_SYSTEM, "store '%s': %s: %s", s->path, what,
		       sqlite3_errmsg(s->db));
}

/*
 * Prepare sql and bind its parameters in order from ap, one letter of
 * fmt each: 't' text (const char *, NULL binds NULL), 'i' int64_t,
 * 'l' long.
 */
static sqlite3_stmt *vprep(struct sq *s, const char *sql, const char *fmt,
			   va_list ap, struct sw_err *e)
{
	sqlite3_stmt *st;
	int rc = SQLITE_OK;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_fail(s, e, "prepare");
		return NULL;
	}
	for (int i = 1; *fmt && rc == SQLITE_OK; fmt++, i++) {
		switch (*fmt) {
		case 't': {
			const char *t = va_arg(ap, const char *);

			rc = t ? sqlite3_bind_text(st, i, t, -1,
						   SQLITE_TRANSIENT)
			       : sqlite3_bind_null(st, i);
			break;
		}
		case 'i':
			rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
			break;
		case 'l':
			rc = sqlite3_bind_int64(st, i, va_arg(ap, long));
			break;
		default:
			BUG("bad bind format '%c'", *fmt);
		}
	}
	if (rc != SQLITE_OK) {
		db_fail(s, e, "bind");
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

static sqlite3_stmt *prep(struct sq *s, struct sw_err *e, const char *sql,
			  const char *fmt, ...)
{
	sqlite3_stmt *st;
	va_list ap;

	va_start(ap, fmt);
	st = vprep(s, sql, fmt, ap, e);
	va_end(ap);
	return st;
}

/* Run one statement to its end. */
static int run(struct sq *s, struct sw_err *e, const char *sql, const char *fmt,
	       ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	st = vprep(s, sql, fmt, ap, e);
	va_end(ap);
	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(s, e, "write");
	return 0;
}

static int exec(struct sq *s, const char *sql, struct sw_err *e)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(s, e, "exec");
	return 0;
}

static char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? xstrdup((const char *)t) : NULL;
}

typedef void (*fill_fn)(sqlite3_stmt *st, void *row);

/* Step st (finalized here) into a new array of rows of size sz. */
static int collect(struct sq *s, sqlite3_stmt *st, size_t sz, fill_fn fill,
		   void **v, size_t *nr, struct sw_err *e)
{
	char *arr = NULL;
	size_t n = 0, alloc = 0;
	int rc;

	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		arr = xgrow(arr, sz, n + 1, &alloc);
		memset(arr + n * sz, 0, sz);
		fill(st, arr + n * sz);
		n++;
	}
	sqlite3_finalize(st);
	*v = arr;
	*nr = n;
	if (rc != SQLITE_DONE)
		return db_fail(s, e, "read");
	return 0;
}

static long limit_of(const struct store_query *q)
{
	return q && q->limit > 0 ? q->limit : -1;
}

/* Versions and migrations. */

static int read_version(struct sq *s, int *version, struct sw_err *e)
{
	sqlite3_stmt *st = prep(s, e,
				"SELECT COALESCE(MAX(version), 0)"
				" FROM schema_migrations",
				"");
	int rc;

	if (!st)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : db_fail(s, e, "read the schema version");
}

int sq_version(struct sq *s, int *version, struct sw_err *e)
{
	return read_version(s, version, e);
}

/* Each missing step in its own transaction; the version is read again
 * once the write lock is held, so racing openers apply a step once. */
static int migrate(struct sq *s, int max, struct sw_err *e)
{
	struct sw_err probe = SW_ERR_INIT;
	int v;

	/* the common case, a database made before: one read, no write */
	if (read_version(s, &v, &probe) < 0 &&
	    (exec(s,
		  "CREATE TABLE IF NOT EXISTS schema_migrations ("
		  " version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)",
		  e) < 0 ||
	     read_version(s, &v, e) < 0))
		return -1;
	if (v > store_latest_version())
		return err_set(e, ERR_SYSTEM,
			       "store '%s' has schema version %d, newer than "
			       "this slipway knows (%d)",
			       s->path, v, store_latest_version());
	for (size_t i = 0; i < store_migrations_nr; i++) {
		const struct store_migration *m = &store_migrations[i];
		struct timespec now;

		if (m->version <= v || m->version > max)
			continue;
		if (exec(s, "BEGIN IMMEDIATE", e) < 0)
			return -1;
		if (read_version(s, &v, e) < 0)
			goto fail;
		if (m->version <= v) {
			exec(s, "COMMIT", e);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &now);
		if (exec(s, m->sql, e) < 0 ||
		    run(s, e,
			"INSERT INTO schema_migrations (version, applied_ms)"
			" VALUES (?, ?)",
			"li", (long)m->version,
			(int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000) <
			    0 ||
		    exec(s, "COMMIT", e) < 0) {
			err_prefix(e, "migration %d", m->version);
			goto fail;
		}
		v = m->version;
	}
	return 0;
fail:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/*
 * The WAL is checkpointed once it holds this many pages (SQLite's default
 * is 1000). Each process that opens the store first, as every build does,
 * rebuilds the WAL's index by reading the whole WAL: 4 MB of it cost a
 * build 4 ms of CPU, against one checkpoint (three syncs) every few dozen
 * builds at 200 pages.
 */
#define SQ_WAL_PAGES 200

/*
 * The first commit to a store this process has just made starts its WAL,
 * and SQLite syncs a new WAL's header and then the directory: the header
 * guards against frames of an older WAL that a restarted one writes
 * over, and a new file has none. So the connection that made the store
 * makes its first commit with synchronous off (under NORMAL the frames
 * of a commit are not synced either, and the database, synced when made,
 * is not written before a checkpoint), and this hook, called once that
 * commit is in the WAL, sets NORMAL and the checkpoints back.
 */
static int first_commit(void *data, sqlite3 *db, const char *name, int frames)
{
	(void)data;
	/* this hook was the checkpointer's */
	sqlite3_wal_autocheckpoint(db, SQ_WAL_PAGES);
	sqlite3_exec(db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
	if (frames >= SQ_WAL_PAGES)
		sqlite3_wal_checkpoint(db, name);
	return SQLITE_OK;
}

static bool in_wal(struct sq *s)
{
	sqlite3_stmt *st;
	bool wal = false;

	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode", -1, &st, NULL) !=
	    SQLITE_OK)
		return false;
	if (sqlite3_step(st) == SQLITE_ROW)
		wal = !strcmp((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	return wal;
}

static int db_connect(struct sq *s, int max, int made, struct sw_err *e)
{
	int rc = sqlite3_open_v2(s->path, &s->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
					 SQLITE_OPEN_NOMUTEX,
				 NULL);

	if (rc != SQLITE_OK) {
		if (!s->db)
			return err_set(e, ERR_SYSTEM, "store '%s': cannot open",
				       s->path);
		return db_fail(s, e, "cannot open");
	}
	sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
	/*
	 * The last connection to close would checkpoint the WAL into the
	 * database and remove it: with one short-lived process a build,
	 * that is every close. Checkpoints happen as the WAL grows
	 * (SQ_WAL_PAGES) instead.
	 */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	sqlite3_wal_autocheckpoint(s->db, SQ_WAL_PAGES);
	sqlite3_extended_result_codes(s->db, 0);
	if (exec(s, "PRAGMA journal_mode = WAL", e) < 0)
		return -1;
	/* only where the WAL is, as the hook is called by it alone */
	made = made && in_wal(s);
	if (exec(s,
		 made ? "PRAGMA synchronous = OFF"
		      : "PRAGMA synchronous = NORMAL",
		 e) < 0 ||
	    exec(s, "PRAGMA foreign_keys = ON", e) < 0)
		return -1;
	if (made)
		sqlite3_wal_hook(s->db, first_commit, NULL);
	return max ? migrate(s, max, e) : 0;
}

/* Give path to the file at tmp unless path exists. */
static int name_new(const char *tmp, const char *path)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	/* no RENAME_NOREPLACE here: a link does not replace either */
	if (errno == EINVAL || errno == ENOSYS)
		return link(tmp, path);
	return -1;
}

/*
 * The process's umask, read without setting it (umask() would change it
 * for every thread for a moment): /proc's Umask line, else 022.
 */
static mode_t current_umask(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[128];
	unsigned int m = 022;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Umask: %o", &m) == 1)
			break;
	if (f)
		fclose(f);
	return (mode_t)(m & 0777);
}

/*
 * A store that does not exist yet is made whole under a temporary name
 * beside it, with no journal and no syncs (no other process can see it),
 * synced once and then given its name, never over one that a racing
 * process put there first (that one is used instead). Nothing half-made
 * is ever under the name, and the syncs of SQLite making a database in
 * place (its journal twice, the directory, the database) are one.
 * Returns 1 when this process made the store, 0 when not: on any failure
 * nothing is left behind and the caller opens the store in place, as
 * before, which says what is wrong.
 */
static int db_create(struct sq *s, int max)
{
	static pthread_mutex_t one = PTHREAD_MUTEX_INITIALIZER;
	struct sq tmp = { NULL, NULL };
	struct sw_err e = SW_ERR_INIT;
	mode_t mask = current_umask();
	int fd, made = 0;

	/* a temporary as fs.h has them (so a killed maker's is swept),
	 * held locked; SQLite's mode for a database it makes. Its name is
	 * the process's: one thread at a time makes a store. */
	pthread_mutex_lock(&one);
	tmp.path = fs_tmp_name(s->path);
	fd = fs_tmp_create(tmp.path, 0644 & ~mask, &e);
	if (fd < 0)
		goto out;
	if (sqlite3_open_v2(tmp.path, &tmp.db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				    SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK)
		goto out;
	/* WAL last: from no journal, that is one write of the header */
	if (exec(&tmp, "PRAGMA journal_mode = OFF", &e) < 0 ||
	    exec(&tmp, "PRAGMA synchronous = OFF", &e) < 0 ||
	    migrate(&tmp, max, &e) < 0 ||
	    exec(&tmp, "PRAGMA journal_mode = WAL", &e) < 0)
		goto out;
	if (sqlite3_close(tmp.db) != SQLITE_OK)
		goto out;
	tmp.db = NULL;
	if (fdatasync(fd) < 0)
		goto out;
	/* EEXIST: a racer's store is used; other errors: the open in
	 * place says what is wrong */
	made = name_new(tmp.path, s->path) == 0;
out:
	sqlite3_close(tmp.db);
	if (fd >= 0) {
		unlink(tmp.path);
		close(fd);
	}
	free(tmp.path);
	pthread_mutex_unlock(&one);
	return made;
}

/*
 * Whether the store at path is to be made (db_create): there is nothing
 * under its name, nor a WAL or its index left by one removed (a whole
 * database named over them would have the old WAL's frames replayed
 * onto it; SQLite making one in place drops them).
 */
static bool none_at(const char *path)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	struct stat st;

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		char *p = xasprintf("%s%s", path, sfx[i]);
		int r = lstat(p, &st);

		free(p);
		if (r == 0 || errno != ENOENT)
			return false;
	}
	return true;
}

static bool not_a_db(struct sq *s)
{
	int rc = s->db ? sqlite3_errcode(s->db) : SQLITE_OK;

	return rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT;
}

int sq_open(struct sq **out, const char *path, int max, int *moved_aside,
	    struct sw_err *e)
{
	struct sq *s = xcalloc(1, sizeof(*s));
	struct sw_err first = SW_ERR_INIT;
	struct stat before, now;
	int made = 0;

	if (moved_aside)
		*moved_aside = 0;
	s->path = xstrdup(path);
	if (max && none_at(path))
		made = db_create(s, max);
	if (db_connect(s, max, made, &first) == 0)
		goto ok;
	if (!not_a_db(s) || stat(path, &before) < 0) {
		*e = first;
		goto fail;
	}
	/*
	 * Not a database (or a damaged one): the files it indexes are the
	 * truth, so it is kept aside and a new one made. Only the file we
	 * found is moved, not one a racing process has made since.
	 */
	sqlite3_close(s->db);
	s->db = NULL;
	if (stat(path, &now) == 0 && now.st_ino == before.st_ino) {
		char stamp[32], *aside, *p;
		time_t t = time(NULL);
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
		aside = xasprintf("%s.corrupt-%s", path, stamp);
		if (rename(path, aside) < 0) {
			err_sys(e, "store '%s': %s; cannot move it aside", path,
				first.msg);
			free(aside);
			goto fail;
		}
		p = xasprintf("%s-wal", path);
		unlink(p);
		free(p);
		p = xasprintf("%s-shm", path);
		unlink(p);
		free(p);
		free(aside);
		if (moved_aside)
			*moved_aside = 1;
		if (max)
			made = db_create(s, max);
	}
	if (db_connect(s, max, made, e) < 0)
		goto fail;
ok:
	*out = s;
	return 0;
fail:
	sq_close(s);
	*out = NULL;
	return -1;
}

void sq_close(struct sq *s)
{
	if (!s)
		return;
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

int sq_begin(struct sq *s, struct sw_err *e)
{
	return exec(s, "BEGIN IMMEDIATE", e);
}

int sq_commit(struct sq *s, struct sw_err *e)
{
	if (exec(s, "COMMIT", e) < 0) {
		sq_rollback(s);
		return -1;
	}
	return 0;
}

void sq_rollback(struct sq *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* meta */

int sq_meta_get(struct sq *s, const char *key, char **value, struct sw_err *e)
{
	sqlite3_stmt *st =
		prep(s, e, "SELECT value FROM meta WHERE key = ?", "t", key);
	int rc;

	*value = NULL;
	if (!st)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*value = col_text(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(s, e, "read");
	return rc == SQLITE_ROW ? 0 : 1;
}

int sq_meta_set(struct sq *s, const char *key, const char *value,
		struct sw_err *e)
{
	return run(s, e,
		   "INSERT INTO meta (key, value) VALUES (?, ?)"
		   " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
		   "tt", key, value);
}

/* builds */

#define BUILD_COLS                                                             \
	"id, project, number, status, start_ms, end_ms, source_version,"       \
	" report_path, reason"

static void fill_build(sqlite3_stmt *st, void *row)
{
	struct store_build *b = row;

	b->id = col_text(st, 0);
	b->project = col_text(st, 1);
	b->number = (long)sqlite3_column_int64(st, 2);
	b->status = col_text(st, 3);
	b->start_ms = sqlite3_column_int64(st, 4);
	b->end_ms = sqlite3_column_int64(st, 5);
	b->source_version = col_text(st, 6);
	b->report_path = col_text(st, 7);
	b->reason = col_text(st, 8);
}

int sq_put_build(struct sq *s, const struct store_build *b, struct sw_err *e)
{
	return run(s, e,
		   "INSERT INTO builds (" BUILD_COLS ")"
		   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
		   " ON CONFLICT (id) DO UPDATE SET project = excluded.project,"
		   " number = excluded.number, status = excluded.status,"
		   " start_ms = excluded.start_ms, end_ms = excluded.end_ms,"
		   " source_version = excluded.source_version,"
		   " report_path = excluded.report_path,"
		   " reason = excluded.reason",
		   "ttltiittt", b->id, b->project, b->number, b->status,
		   b->start_ms, b->end_ms, b->source_version, b->report_path,
		   b->reason);
}

static int get_one(struct sq *s, sqlite3_stmt *st, size_t sz, fill_fn fill,
		   void *out, struct sw_err *e)
{
	void *v;
	size_t nr;

	if (collect(s, st, sz, fill, &v, &nr, e) < 0)
		return -1;
	if (nr)
		memcpy(out, v, sz);
	free(v);
	return nr ? 0 : 1;
}

int sq_get_build(struct sq *s, const char *id, struct store_build *b,
		 struct sw_err *e)
{
	return get_one(s,
		       prep(s, e,
			    "SELECT " BUILD_COLS " FROM builds WHERE id = ?",
			    "t", id),
		       sizeof(*b), fill_build, b, e);
}

int sq_list_builds(struct sq *s, const struct store_query *q,
		   struct store_build **v, size_t *nr, struct sw_err *e)
{
	return collect(s,
		       prep(s, e,
			    "SELECT " BUILD_COLS " FROM builds"
			    " WHERE (?1 IS NULL OR project = ?1)"
			    " AND (?2 IS NULL OR status = ?2)"
			    " ORDER BY CASE WHEN end_ms > 0 THEN end_ms"
			    " ELSE start_ms END DESC, id DESC LIMIT ?3",
			    "ttl", q ? q->name : NULL, q ? q->status : NULL,
			    limit_of(q)),
		       sizeof(**v), fill_build, (void **)v, nr, e);
}

int sq_delete_build(struct sq *s, const char *id, struct sw_err *e)
{
	return run(s, e, "DELETE FROM builds WHERE id = ?", "t", id);
}

/* deployments */

#define DEPLOY_COLS                                                            \
	"id, application, deployment_group, status, start_ms, end_ms,"         \
	" report_path, hosts_succeeded, hosts_total, creator"

static void fill_deployment(sqlite3_stmt *st, void *row)
{
	struct store_deployment *d = row;

	d->id = col_text(st, 0);
	d->application = col_text(st, 1);
	d->group = col_text(st, 2);
	d->status = col_text(st, 3);
	d->start_ms = sqlite3_column_int64(st, 4);
	d->end_ms = sqlite3_column_int64(st, 5);
	d->report_path = col_text(st, 6);
	d->hosts_succeeded = (long)sqlite3_column_int64(st, 7);
	d->hosts_total = (long)sqlite3_column_int64(st, 8);
	d->creator = col_text(st, 9);
}

int sq_put_deployment(struct sq *s, const struct store_deployment *d,
		      struct sw_err *e)
{
	return run(s, e,
		   "INSERT INTO deployments (" DEPLOY_COLS ")"
		   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		   " ON CONFLICT (id) DO UPDATE SET"
		   " application = excluded.application,"
		   " deployment_group = excluded.deployment_group,"
		   " status = excluded.status, start_ms = excluded.start_ms,"
		   " end_ms = excluded.end_ms,"
		   " report_path = excluded.report_path,"
		   " hosts_succeeded = excluded.hosts_succeeded,"
		   " hosts_total = excluded.hosts_total,"
		   " creator = excluded.creator",
		   "ttttiitllt", d->id, d->application, d->group, d->status,
		   d->start_ms, d->end_ms, d->report_path, d->hosts_succeeded,
		   d->hosts_total, d->creator);
}

int sq_get_deployment(struct sq *s, const char *id, struct store_deployment *d,
		      struct sw_err *e)
{
	return get_one(s,
		       prep(s, e,
			    "SELECT " DEPLOY_COLS
			    " FROM deployments WHERE id = ?",
			    "t", id),
		       sizeof(*d), fill_deployment, d, e);
}

int sq_list_deployments(struct sq *s, const struct store_query *q,
			struct store_deployment **v, size_t *nr,
			struct sw_err *e)
{
	return collect(s,
		       prep(s, e,
			    "SELECT " DEPLOY_COLS " FROM deployments"
			    " WHERE (?1 IS NULL OR application = ?1)"
			    " AND (?2 IS NULL OR status = ?2)"
			    " ORDER BY CASE WHEN end_ms > 0 THEN end_ms"
			    " ELSE start_ms END DESC, id DESC LIMIT ?3",
			    "ttl", q ? q->name : NULL, q ? q->status : NULL,
			    limit_of(q)),
		       sizeof(**v), fill_deployment, (void **)v, nr, e);
}

int sq_delete_deployment(struct sq *s, const char *id, struct sw_err *e)
{
	return run(s, e, "DELETE FROM deployments WHERE id = ?", "t", id);
}

/* executions */

#define EXEC_COLS                                                              \
	"id, pipeline, pipeline_file, status, status_summary, trigger_type,"   \
	" trigger_detail, variables, start_ms, end_ms"

static void fill_execution(sqlite3_stmt *st, void *row)
{
	struct store_execution *x = row;

	x->id = col_text(st, 0);
	x->pipeline = col_text(st, 1);
	x->pipeline_file = col_text(st, 2);
	x->status = col_text(st, 3);
	x->status_summary = col_text(st, 4);
	x->trigger_type = col_text(st, 5);
	x->trigger_detail = col_text(st, 6);
	x->variables = col_text(st, 7);
	x->start_ms = sqlite3_column_int64(st, 8);
	x->end_ms = sqlite3_column_int64(st, 9);
}

int sq_put_execution(struct sq *s, const struct store_execution *x,
		     struct sw_err *e)
{
	return run(
		s, e,
		"INSERT INTO executions (" EXEC_COLS ")"
		" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		" ON CONFLICT (id) DO UPDATE SET pipeline = excluded.pipeline,"
		" pipeline_file = excluded.pipeline_file,"
		" status = excluded.status,"
		" status_summary = excluded.status_summary,"
		" trigger_type = excluded.trigger_type,"
		" trigger_detail = excluded.trigger_detail,"
		" variables = excluded.variables,"
		" start_ms = excluded.start_ms, end_ms = excluded.end_ms",
		"ttttttttii", x->id, x->pipeline, x->pipeline_file, x->status,
		x->status_summary, x->trigger_type, x->trigger_detail,
		x->variables, x->start_ms, x->end_ms);
}

int sq_get_execution(struct sq *s, const char *id, struct store_execution *x,
		     struct sw_err *e)
{
	return get_one(s,
		       prep(s, e,
			    "SELECT " EXEC_COLS " FROM executions WHERE id = ?",
			    "t", id),
		       sizeof(*x), fill_execution, x, e);
}

int sq_list_executions(struct sq *s, const struct store_query *q,
		       struct store_execution **v, size_t *nr, struct sw_err *e)
{
	return collect(s,
		       prep(s, e,
			    "SELECT " EXEC_COLS " FROM executions"
			    " WHERE (?1 IS NULL OR pipeline = ?1)"
			    " AND (?2 IS NULL OR status = ?2)"
			    " ORDER BY start_ms DESC, id DESC LIMIT ?3",
			    "ttl", q ? q->name : NULL, q ? q->status : NULL,
			    limit_of(q)),
		       sizeof(**v), fill_execution, (void **)v, nr, e);
}

int sq_delete_execution(struct sq *s, const char *id, struct sw_err *e)
{
	return run(s, e, "DELETE FROM executions WHERE id = ?", "t", id);
}

/* stages */

static void fill_stage(sqlite3_stmt *st, void *row)
{
	struct store_stage *g = row;

	g->execution_id = col_text(st, 0);
	g->stage = col_text(st, 1);
	g->status = col_text(st, 2);
	g->start_ms = sqlite3_column_int64(st, 3);
	g->end_ms = sqlite3_column_int64(st, 4);
}

int sq_put_stage(struct sq *s, const struct store_stage *g, struct sw_err *e)
{
	return run(s, e,
		   "INSERT INTO stages"
		   " (execution_id, stage, status, start_ms, end_ms)"
		   " VALUES (?, ?, ?, ?, ?)"
		   " ON CONFLICT (execution_id, stage) DO UPDATE SET"
		   " status = excluded.status, start_ms = excluded.start_ms,"
		   " end_ms = excluded.end_ms",
		   "tttii", g->execution_id, g->stage, g->status, g->start_ms,
		   g->end_ms);
}

int sq_list_stages(struct sq *s, const struct store_query *q,
		   struct store_stage **v, size_t *nr, struct sw_err *e)
{
	return collect(s,
		       prep(s, e,
			    "SELECT execution_id, stage, status, start_ms,"
			    " end_ms FROM stages WHERE execution_id = ?"
			    " ORDER BY rowid",
			    "t", q->execution_id),
		       sizeof(**v), fill_stage, (void **)v, nr, e);
}

/* actions */

#define ACTION_COLS                                                            \
	"execution_id, stage, action, attempt, status, start_ms, end_ms,"      \
	" external_id, output_variables, error"

static void fill_action(sqlite3_stmt *st, void *row)
{
	struct store_action *a = row;

	a->execution_id = col_text(st, 0);
	a->stage = col_text(st, 1);
	a->action = col_text(st, 2);
	a->attempt = (long)sqlite3_column_int64(st, 3);
	a->status = col_text(st, 4);
	a->start_ms = sqlite3_column_int64(st, 5);
	a->end_ms = sqlite3_column_int64(st, 6);
	a->external_id = col_text(st, 7);
	a->output_variables = col_text(st, 8);
	a->error = col_text(st, 9);
}

int sq_put_action(struct sq *s, const struct store_action *a, struct sw_err *e)
{
	return run(s, e,
		   "INSERT INTO actions (" ACTION_COLS ")"
		   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		   " ON CONFLICT (execution_id, stage, action, attempt)"
		   " DO UPDATE SET status = excluded.status,"
		   " start_ms = excluded.start_ms, end_ms = excluded.end_ms,"
		   " external_id = excluded.external_id,"
		   " output_variables = excluded.output_variables,"
		   " error = excluded.error",
		   "tttltiittt", a->execution_id, a->stage, a->action,
		   a->attempt, a->status, a->start_ms, a->end_ms,
		   a->external_id, a->output_variables, a->error);
}

int sq_list_actions(struct sq *s, const struct store_query *q,
		    struct store_action **v, size_t *nr, struct sw_err *e)
{
	return collect(s,
		       prep(s, e,
			    "SELECT " ACTION_COLS " FROM actions"
			    " WHERE execution_id = ?1"
			    " AND (?2 IS NULL OR status = ?2) ORDER BY rowid",
			    "tt", q->execution_id, q->status),
		       sizeof(**v), fill_action, (void **)v, nr, e);
}

/* approvals */

#define APPROVAL_COLS                                                          \
	"execution_id, stage, action, status, summary, who, created_ms,"       \
	" expires_ms, decided_ms"

static void fill_approval(sqlite3_stmt *st, void *row)
{
	struct store_approval *a = row;

	a->execution_id = col_text(st, 0);
	a->stage = col_text(st, 1);
	a->action = col_text(st, 2);
	a->status = col_text(st, 3);
	a->summary = col_text(st, 4);
	a->who = col_text(st, 5);
	a->created_ms = sqlite3_column_int64(st, 6);
	a->expires_ms = sqlite3_column_int64(st, 7);
	a->decided_ms = sqlite3_column_int64(st, 8);
}

int sq_put_approval(struct sq *s, const struct store_approval *a,
		    struct sw_err *e)
{
	return run(s, e,
		   "INSERT INTO approvals (" APPROVAL_COLS ")"
		   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
		   " ON CONFLICT (execution_id, stage, action) DO UPDATE SET"
		   " status = excluded.status, summary = excluded.summary,"
		   " who = excluded.who, created_ms = excluded.created_ms,"
		   " expires_ms = excluded.expires_ms,"
		   " decided_ms = excluded.decided_ms",
		   "ttttttiii", a->execution_id, a->stage, a->action, a->status,
		   a->summary, a->who, a->created_ms, a->expires_ms,
		   a->decided_ms);
}

int sq_list_approvals(struct sq *s, const struct store_query *q,
		      struct store_approval **v, size_t *nr, struct sw_err *e)
{
	return collect(s,
		       prep(s, e,
			    "SELECT " APPROVAL_COLS " FROM approvals"
			    " WHERE (?1 IS NULL OR execution_id = ?1)"
			    " AND (?2 IS NULL OR status = ?2)"
			    " ORDER BY created_ms, rowid",
			    "tt", q ? q->execution_id : NULL,
			    q ? q->status : NULL),
		       sizeof(**v), fill_approval, (void **)v, nr, e);
}

/* events */

int sq_append_event(struct sq *s, const char *execution_id, int64_t time_ms,
		    const char *json, long *seq, struct sw_err *e)
{
	/* inside the caller's transaction, or in one of its own */
	bool own = sqlite3_get_autocommit(s->db);
	sqlite3_stmt *st;
	long n = 0;
	int rc;

	if (own && exec(s, "BEGIN IMMEDIATE", e) < 0)
		return -1;
	st = prep(s, e,
		  "SELECT COALESCE(MAX(seq), 0) + 1 FROM events"
		  " WHERE execution_id = ?",
		  "t", execution_id);
	if (!st)
		goto fail;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		n = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW) {
		db_fail(s, e, "read");
		goto fail;
	}
	if (run(s, e,
		"INSERT INTO events (execution_id, seq, time_ms, body)"
		" VALUES (?, ?, ?, ?)",
		"tlit", execution_id, n, time_ms, json) < 0 ||
	    (own && exec(s, "COMMIT", e) < 0))
		goto fail;
	if (seq)
		*seq = n;
	return 0;
fail:
	if (own)
		sq_rollback(s);
	return -1;
}

static void fill_event(sqlite3_stmt *st, void *row)
{
	struct store_event *ev = row;

	ev->seq = (long)sqlite3_column_int64(st, 0);
	ev->time_ms = sqlite3_column_int64(st, 1);
	ev->json = col_text(st, 2);
}

int sq_list_events(struct sq *s, const struct store_query *q, long after,
		   struct store_event **v, size_t *nr, struct sw_err *e)
{
	return collect(s,
		       prep(s, e,
			    "SELECT seq, time_ms, body FROM events"
			    " WHERE execution_id = ? AND seq > ?"
			    " ORDER BY seq LIMIT ?",
			    "tll", q->execution_id, after, limit_of(q)),
		       sizeof(**v), fill_event, (void **)v, nr, e);
}

/* webhook deliveries and poll heads */

int sq_delivery_record(struct sq *s, const char *forge, const char *id,
		       int64_t now_ms, int *first, struct sw_err *e)
{
	if (run(s, e,
		"INSERT INTO webhook_deliveries (forge, id, received_ms)"
		" VALUES (?, ?, ?) ON CONFLICT (forge, id) DO NOTHING",
		"tti", forge, id, now_ms) < 0)
		return -1;
	*first = sqlite3_changes(s->db) == 1;
	return 0;
}

int sq_delivery_prune(struct sq *s, int64_t before_ms, struct sw_err *e)
{
	return run(s, e, "DELETE FROM webhook_deliveries WHERE received_ms < ?",
		   "i", before_ms);
}

int sq_poll_heads(struct sq *s, const char *source, struct strvec *refs,
		  struct strvec *commits, struct sw_err *e)
{
	sqlite3_stmt *st = prep(s, e,
				"SELECT ref, commit_id FROM poll_heads"
				" WHERE source = ? ORDER BY ref",
				"t", source);
	int rc;

	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		strvec_push(refs, (const char *)sqlite3_column_text(st, 0));
		strvec_push(commits, (const char *)sqlite3_column_text(st, 1));
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(s, e, "read");
	return 0;
}

int sq_poll_head_set(struct sq *s, const char *source, const char *ref,
		     const char *commit, int64_t now_ms, struct sw_err *e)
{
	if (!commit)
		return run(
			s, e,
			"DELETE FROM poll_heads WHERE source = ? AND ref = ?",
			"tt", source, ref);
	return run(s, e,
		   "INSERT INTO poll_heads (source, ref, commit_id, seen_ms)"
		   " VALUES (?, ?, ?, ?) ON CONFLICT (source, ref) DO UPDATE"
		   " SET commit_id = excluded.commit_id,"
		   " seen_ms = excluded.seen_ms",
		   "ttti", source, ref, commit, now_ms);
}

/* the job queue */

#define JOB_COLS                                                               \
	"id, kind, spec, labels, status, owner, lease_ms, attempt, outcome,"   \
	" result, reason, enqueued_ms, started_ms, ended_ms, fallback"

static void fill_job(sqlite3_stmt *st, void *row)
{
	struct store_job *j = row;

	j->id = col_text(st, 0);
	j->kind = col_text(st, 1);
	j->spec = col_text(st, 2);
	j->labels = col_text(st, 3);
	j->status = col_text(st, 4);
	j->owner = col_text(st, 5);
	j->lease_ms = sqlite3_column_int64(st, 6);
	j->attempt = (long)sqlite3_column_int64(st, 7);
	j->outcome = col_text(st, 8);
	j->result = col_text(st, 9);
	j->reason = col_text(st, 10);
	j->enqueued_ms = sqlite3_column_int64(st, 11);
	j->started_ms = sqlite3_column_int64(st, 12);
	j->ended_ms = sqlite3_column_int64(st, 13);
	j->fallback = col_text(st, 14);
}

int sq_job_enqueue(struct sq *s, const struct store_job *j, struct sw_err *e)
{
	return run(s, e,
		   "INSERT INTO jobs (id, kind, spec, labels, status, attempt,"
		   " enqueued_ms, fallback) VALUES (?, ?, ?, ?, 'queued', 1, ?,"
		   " ?)",
		   "ttttit", j->id, j->kind, j->spec, j->labels, j->enqueued_ms,
		   j->fallback);
}

/*
 * Under the write lock (BEGIN IMMEDIATE), so that no other claimer reads
 * the queue between our read and our update; the update checks the
 * status again all the same.
 */
int sq_job_claim(struct sq *s, const char *owner, const char *labels,
		 int64_t now_ms, int64_t lease_ms, struct store_job *j,
		 struct sw_err *e)
{
	sqlite3_stmt *st = NULL;
	char *id = NULL;
	int rc, ret = -1;

	if (exec(s, "BEGIN IMMEDIATE", e) < 0)
		return -1;
	st = prep(s, e,
		  "SELECT id, labels FROM jobs WHERE status = 'queued'"
		  " ORDER BY enqueued_ms, id",
		  "");
	if (!st)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (store_job_labels_match(
			    (const char *)sqlite3_column_text(st, 1), labels)) {
			id = col_text(st, 0);
			break;
		}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_fail(s, e, "read");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (!id) {
		ret = 1;
		goto out;
	}
	if (run(s, e,
		"UPDATE jobs SET status = 'claimed', owner = ?, lease_ms = ?,"
		" started_ms = ? WHERE id = ? AND status = 'queued'",
		"tiit", owner, now_ms + lease_ms, now_ms, id) < 0)
		goto out;
	if (sqlite3_changes(s->db) != 1)
		BUG("job '%s' changed under the write lock", id);
	if (exec(s, "COMMIT", e) < 0)
		goto out;
	ret = sq_job_get(s, id, j, e);
	if (ret == 1)
		ret = err_set(e, ERR_SYSTEM, "job '%s' vanished", id);
out:
	sqlite3_finalize(st);
	if (ret != 0)
		sq_rollback(s);
	free(id);
	return ret;
}

int sq_job_heartbeat(struct sq *s, const char *id, const char *owner,
		     int64_t now_ms, int64_t lease_ms, struct sw_err *e)
{
	if (run(s, e,
		"UPDATE jobs SET lease_ms = ? WHERE id = ? AND owner = ?"
		" AND status = 'claimed'",
		"itt", now_ms + lease_ms, id, owner) < 0)
		return -1;
	return sqlite3_changes(s->db) == 1 ? 0 : 1;
}

int sq_job_complete(struct sq *s, const char *id, const char *owner,
		    const char *outcome, const char *result, const char *reason,
		    int64_t now_ms, struct sw_err *e)
{
	if (run(s, e,
		"UPDATE jobs SET status = 'done', outcome = ?, result = ?,"
		" reason = COALESCE(?, reason), ended_ms = ?, lease_ms = 0"
		" WHERE id = ? AND owner = ? AND status = 'claimed'",
		"tttitt", outcome, result, reason, now_ms, id, owner) < 0)
		return -1;
	return sqlite3_changes(s->db) == 1 ? 0 : 1;
}

int sq_job_reap(struct sq *s, int64_t now_ms, long *requeued, long *failed,
		struct sw_err *e)
{
	long nf, nq;

	if (exec(s, "BEGIN IMMEDIATE", e) < 0)
		return -1;
	/* under the write lock: the rows read are the rows failed next */
	if (run(s, e,
		"INSERT INTO jobs (id, kind, spec, status, attempt,"
		" enqueued_ms) SELECT id || '-rollback', 'deploy', fallback,"
		" 'queued', 1, ? FROM jobs WHERE status = 'claimed'"
		" AND lease_ms < ? AND kind = 'deploy' AND fallback IS NOT "
		"NULL",
		"ii", now_ms, now_ms) < 0)
		goto fail;
	if (run(s, e,
		"UPDATE jobs SET status = 'done', outcome = 'Failed',"
		" ended_ms = ?, lease_ms = 0, reason = CASE kind"
		" WHEN 'deploy' THEN 'worker ''' || owner || ''' lost its lease"
		" during the deployment; not run again' || CASE WHEN fallback"
		" IS NULL THEN '' ELSE '; rolled back by job ' || id ||"
		" '-rollback' END"
		" ELSE 'worker ''' || owner || ''' lost its lease on attempt '"
		" || attempt || ', the last one allowed' END"
		" WHERE status = 'claimed' AND lease_ms < ?"
		" AND (kind = 'deploy' OR attempt >= ?)",
		"iil", now_ms, now_ms, (long)STORE_JOB_MAX_ATTEMPTS) < 0)
		goto fail;
	nf = sqlite3_changes(s->db);
	if (run(s, e,
		"UPDATE jobs SET status = 'queued', lease_ms = 0,"
		" reason = 'worker ''' || owner || ''' lost its lease on"
		" attempt ' || attempt, attempt = attempt + 1, owner = NULL"
		" WHERE status = 'claimed' AND lease_ms < ?",
		"i", now_ms) < 0)
		goto fail;
	nq = sqlite3_changes(s->db);
	if (exec(s, "COMMIT", e) < 0)
		goto fail;
	if (requeued)
		*requeued = nq;
	if (failed)
		*failed = nf;
	return 0;
fail:
	sq_rollback(s);
	return -1;
}

int sq_job_get(struct sq *s, const char *id, struct store_job *j,
	       struct sw_err *e)
{
	return get_one(s,
		       prep(s, e, "SELECT " JOB_COLS " FROM jobs WHERE id = ?",
			    "t", id),
		       sizeof(*j), fill_job, j, e);
}

int sq_list_jobs(struct sq *s, const struct store_query *q,
		 struct store_job **v, size_t *nr, struct sw_err *e)
{
	return collect(s,
		       prep(s, e,
			    "SELECT " JOB_COLS " FROM jobs"
			    " WHERE (?1 IS NULL OR status = ?1)"
			    " AND (?2 IS NULL OR owner = ?2)"
			    " ORDER BY enqueued_ms, id LIMIT ?3",
			    "ttl", q ? q->status : NULL, q ? q->name : NULL,
			    limit_of(q)),
		       sizeof(**v), fill_job, (void **)v, nr, e);
}

int sq_job_prune(struct sq *s, int64_t before_ms, struct sw_err *e)
{
	return run(s, e,
		   "DELETE FROM jobs WHERE status = 'done' AND ended_ms < ?",
		   "i", before_ms);
}
