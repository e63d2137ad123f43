/*
 * The store over PostgreSQL (see store.h), through libpq: one connection
 * per struct pg, made from the URL; parameters and results as text.
 *
 * Where SQLite has one write lock, PostgreSQL has row locks and MVCC:
 * - migrations and store_begin() transactions take a transaction-scoped
 *   advisory lock named after the schema (pg_advisory_xact_lock), so
 *   that two processes migrate one at a time and a read-then-write
 *   between store_begin() and store_commit() sees no racing writer;
 * - an event's number is taken under an advisory lock of its execution,
 *   so racing appenders wait for each other, not for every writer;
 * - single statements are upserts (INSERT ... ON CONFLICT), atomic alone.
 * A lost connection is not made again: the server has rolled back what
 * was open, and every later call fails with the reason.
 */
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "impl.h"
#include "lazylib.h"
#include "migrations.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

#define MAX_PARAMS 16

/* The lock of the whole store: migrations and store_begin(). */
#define STORE_LOCK                                                             \
	"SELECT pg_advisory_xact_lock(hashtext('slipway:' ||"                  \
	" current_schema()))"

struct pg {
	PGconn *conn;
	char *name; /* the URL without its password, for messages */
};

/* The URL as said in messages: any password replaced by "***". */
static char *redact(const char *url)
{
	struct buf b = BUF_INIT;
	const char *p = strstr(url, "://"), *at, *colon, *q;

	if (!p)
		return xstrdup(url);
	p += 3;
	at = strchr(p, '@');
	colon = strchr(p, ':');
	if (at && colon && colon < at && !memchr(p, '/', (size_t)(at - p))) {
		buf_add(&b, url, (size_t)(colon + 1 - url));
		buf_addstr(&b, "***");
		p = at;
	} else {
		p = url;
	}
	/* and password=... in the query */
	while ((q = strstr(p, "password=")) && (q[-1] == '?' || q[-1] == '&')) {
		const char *end = strchr(q, '&');

		buf_add(&b, p, (size_t)(q - p));
		buf_addstr(&b, "password=***");
		p = end ? end : q + strlen(q);
	}
	buf_addstr(&b, p);
	return buf_detach(&b);
}

/* libpq's messages end in a newline and may run to several lines. */
static int pg_fail_msg(struct pg *s, struct sw_err *e, const char *what,
		       const char *msg)
{
	size_t n;

	if (!msg)
		msg = "";
	/* "ERROR:  x" or "FATAL:  x": the severity is ours to say */
	if (!strncmp(msg, "ERROR:  ", 8) || !strncmp(msg, "FATAL:  ", 8))
		msg += 8;
	n = strcspn(msg, "\n");

	if (PQstatus(s->conn) == CONNECTION_BAD)
		return err_set(e, ERR_SYSTEM,
			       "store '%s': %s: connection lost: %.*s", s->name,
			       what, (int)n, msg);
	return err_set(e, ERR_SYSTEM, "store '%s': %s: %.*s", s->name, what,
		       (int)n, msg);
}

/*
 * Run sql with its parameters in order from ap, one letter of fmt each:
 * 't' text (const char *, NULL is NULL), 'i' int64_t, 'l' long. The
 * result (caller clears) or NULL with *e set.
 */
static PGresult *vquery(struct pg *s, struct sw_err *e, const char *what,
			const char *sql, const char *fmt, va_list ap)
{
	char nums[MAX_PARAMS][24];
	const char *vals[MAX_PARAMS];
	int n = 0;
	PGresult *r;
	ExecStatusType st;

	for (; *fmt; fmt++, n++) {
		if (n == MAX_PARAMS)
			BUG("more than %d parameters", MAX_PARAMS);
		switch (*fmt) {
		case 't':
			vals[n] = va_arg(ap, const char *);
			break;
		case 'i':
			snprintf(nums[n], sizeof(nums[n]), "%" PRId64,
				 va_arg(ap, int64_t));
			vals[n] = nums[n];
			break;
		case 'l':
			snprintf(nums[n], sizeof(nums[n]), "%ld",
				 va_arg(ap, long));
			vals[n] = nums[n];
			break;
		default:
			BUG("bad bind format '%c'", *fmt);
		}
	}
	r = PQexecParams(s->conn, sql, n, NULL, vals, NULL, NULL, 0);
	st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		pg_fail_msg(s, e, what,
			    r ? PQresultErrorMessage(r)
			      : PQerrorMessage(s->conn));
		PQclear(r);
		return NULL;
	}
	return r;
}

static PGresult *query(struct pg *s, struct sw_err *e, const char *sql,
		       const char *fmt, ...)
{
	PGresult *r;
	va_list ap;

	va_start(ap, fmt);
	r = vquery(s, e, "read", sql, fmt, ap);
	va_end(ap);
	return r;
}

/* A write that returns rows (INSERT ... RETURNING). */
static PGresult *query_write(struct pg *s, struct sw_err *e, const char *sql,
			     const char *fmt, ...)
{
	PGresult *r;
	va_list ap;

	va_start(ap, fmt);
	r = vquery(s, e, "write", sql, fmt, ap);
	va_end(ap);
	return r;
}

/* Run one statement; *changed (when not NULL) is the rows it changed. */
static int run_n(struct pg *s, struct sw_err *e, long *changed, const char *sql,
		 const char *fmt, ...)
{
	PGresult *r;
	va_list ap;

	va_start(ap, fmt);
	r = vquery(s, e, "write", sql, fmt, ap);
	va_end(ap);
	if (!r)
		return -1;
	if (changed)
		*changed = atol(PQcmdTuples(r));
	PQclear(r);
	return 0;
}

#define run(s, e, ...) run_n(s, e, NULL, __VA_ARGS__)

/* Statements without parameters, several separated by ';'. */
static int exec(struct pg *s, const char *sql, struct sw_err *e)
{
	PGresult *r = PQexec(s->conn, sql);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		pg_fail_msg(s, e, "write",
			    r ? PQresultErrorMessage(r)
			      : PQerrorMessage(s->conn));
		PQclear(r);
		return -1;
	}
	PQclear(r);
	return 0;
}

static char *col_text(PGresult *r, int row, int i)
{
	return PQgetisnull(r, row, i) ? NULL : xstrdup(PQgetvalue(r, row, i));
}

static int64_t col_int(PGresult *r, int row, int i)
{
	return PQgetisnull(r, row, i)
		       ? 0
		       : strtoll(PQgetvalue(r, row, i), NULL, 10);
}

typedef void (*fill_fn)(PGresult *r, int row, void *out);

/* The rows of r (cleared here) into a new array of rows of size sz. */
static int collect(PGresult *r, size_t sz, fill_fn fill, void **v, size_t *nr)
{
	int n;
	char *arr;

	*v = NULL;
	*nr = 0;
	if (!r)
		return -1;
	n = PQntuples(r);
	arr = n ? xcalloc((size_t)n, sz) : NULL;
	for (int i = 0; i < n; i++)
		fill(r, i, arr + (size_t)i * sz);
	PQclear(r);
	*v = arr;
	*nr = (size_t)n;
	return 0;
}

static int get_one(PGresult *r, size_t sz, fill_fn fill, void *out)
{
	void *v;
	size_t nr;

	if (collect(r, sz, fill, &v, &nr) < 0)
		return -1;
	if (nr)
		memcpy(out, v, sz);
	free(v);
	return nr ? 0 : 1;
}

/* A limit of 0 (all) is LIMIT NULL. */
static const char *limit_of(const struct store_query *q, char *buf, size_t size)
{
	if (!q || q->limit <= 0)
		return NULL;
	snprintf(buf, size, "%ld", q->limit);
	return buf;
}

static bool in_transaction(struct pg *s)
{
	return PQtransactionStatus(s->conn) != PQTRANS_IDLE;
}

/* Versions and migrations. */

static int read_version(struct pg *s, int *version, struct sw_err *e)
{
	PGresult *r = query(s, e,
			    "SELECT COALESCE(MAX(version), 0)"
			    " FROM schema_migrations",
			    "");

	if (!r)
		return -1;
	*version = (int)col_int(r, 0, 0);
	PQclear(r);
	return 0;
}

int pg_version(struct pg *s, int *version, struct sw_err *e)
{
	return read_version(s, version, e);
}

static int has_version_table(struct pg *s, bool *has, struct sw_err *e)
{
	PGresult *r = query(
		s, e, "SELECT to_regclass('schema_migrations') IS NOT NULL",
		"");

	if (!r)
		return -1;
	*has = !strcmp(PQgetvalue(r, 0, 0), "t");
	PQclear(r);
	return 0;
}

/*
 * The common case, a database made before, is two reads and no lock, so
 * that a role without the right to create tables can use a store that
 * its owner has migrated. Otherwise each missing step in a transaction
 * of its own under the store's lock, the version read again once the
 * lock is held, so racing openers apply a step once.
 */
static int migrate(struct pg *s, int max, struct sw_err *e)
{
	bool has;
	int v = 0;

	if (has_version_table(s, &has, e) < 0 ||
	    (has && read_version(s, &v, e) < 0))
		return -1;
	if (v > store_latest_version())
		return err_set(e, ERR_SYSTEM,
			       "store '%s' has schema version %d, newer than "
			       "this slipway knows (%d)",
			       s->name, v, store_latest_version());
	if (has && v >= max)
		return 0;
	if (exec(s, "BEGIN", e) < 0 || exec(s, STORE_LOCK, e) < 0 ||
	    exec(s,
		 "CREATE TABLE IF NOT EXISTS schema_migrations ("
		 " version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)",
		 e) < 0 ||
	    exec(s, "COMMIT", e) < 0)
		goto fail;
	for (size_t i = 0; i < store_migrations_nr; i++) {
		const struct store_migration *m = &store_migrations[i];
		struct timespec now;

		if (m->version <= v || m->version > max)
			continue;
		if (exec(s, "BEGIN", e) < 0 || exec(s, STORE_LOCK, e) < 0 ||
		    read_version(s, &v, e) < 0)
			goto fail;
		if (m->version <= v) {
			if (exec(s, "COMMIT", e) < 0)
				goto fail;
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &now);
		if (exec(s, store_migration_sql(m, 1), e) < 0 ||
		    run(s, e,
			"INSERT INTO schema_migrations (version, applied_ms)"
			" VALUES ($1, $2)",
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
	pg_rollback(s);
	return -1;
}

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

int pg_open(struct pg **out, const char *url, int max, struct sw_err *e)
{
	static const char *const keys[] = { "dbname",
					    "fallback_application_name", NULL };
	const char *vals[] = { url, "slipway", NULL };
	struct pg *s;
	char *set;
	int ret;

	*out = NULL;
	if (lazylib_need("pq", e) < 0)
		return -1;
	s = xcalloc(1, sizeof(*s));
	s->name = redact(url);
	s->conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(s->conn) != CONNECTION_OK) {
		err_set(e, ERR_SYSTEM, "store '%s': cannot connect: %.*s",
			s->name, (int)strcspn(PQerrorMessage(s->conn), "\n"),
			PQerrorMessage(s->conn));
		goto fail;
	}
	PQsetNoticeProcessor(s->conn, quiet, NULL);
	/* wait for a lock as long as SQLite's busy timeout, not forever */
	set = xasprintf("SET lock_timeout = %d;"
			" SET client_min_messages = warning",
			STORE_BUSY_MS);
	ret = exec(s, set, e);
	free(set);
	if (ret < 0)
		goto fail;
	if (max && migrate(s, max, e) < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	pg_close(s);
	return -1;
}

void pg_close(struct pg *s)
{
	if (!s)
		return;
	PQfinish(s->conn);
	free(s->name);
	free(s);
}

/* Read what the server sent while we were idle: a connection it ended
 * (a restart, pg_terminate_backend) is seen as lost. */
int pg_alive(struct pg *s)
{
	struct pollfd p = { .fd = PQsocket(s->conn), .events = POLLIN };

	/* its last words (FATAL: terminating connection), then the end */
	for (int i = 0; i < 4 && PQstatus(s->conn) == CONNECTION_OK &&
			!in_transaction(s) && poll(&p, 1, 0) > 0;
	     i++)
		if (!PQconsumeInput(s->conn))
			break;
	return PQstatus(s->conn) == CONNECTION_OK;
}

int pg_begin(struct pg *s, struct sw_err *e)
{
	if (in_transaction(s))
		return err_set(e, ERR_SYSTEM,
			       "store '%s': cannot start a transaction within "
			       "a transaction",
			       s->name);
	if (exec(s, "BEGIN", e) < 0)
		return -1;
	if (exec(s, STORE_LOCK, e) < 0) {
		pg_rollback(s);
		return -1;
	}
	return 0;
}

int pg_commit(struct pg *s, struct sw_err *e)
{
	PGresult *r;

	/* COMMIT of a failed transaction "succeeds" as a ROLLBACK */
	if (PQtransactionStatus(s->conn) == PQTRANS_INERROR) {
		pg_rollback(s);
		return err_set(e, ERR_SYSTEM,
			       "store '%s': commit: a statement of the "
			       "transaction failed; rolled back",
			       s->name);
	}
	r = PQexec(s->conn, "COMMIT");
	if (PQresultStatus(r) != PGRES_COMMAND_OK ||
	    strcmp(PQcmdStatus(r), "COMMIT")) {
		pg_fail_msg(s, e, "commit",
			    r ? PQresultErrorMessage(r)
			      : PQerrorMessage(s->conn));
		PQclear(r);
		pg_rollback(s);
		return -1;
	}
	PQclear(r);
	return 0;
}

void pg_rollback(struct pg *s)
{
	if (PQstatus(s->conn) == CONNECTION_OK && in_transaction(s))
		PQclear(PQexec(s->conn, "ROLLBACK"));
}

/* meta */

int pg_meta_get(struct pg *s, const char *key, char **value, struct sw_err *e)
{
	PGresult *r =
		query(s, e, "SELECT value FROM meta WHERE key = $1", "t", key);
	int ret;

	*value = NULL;
	if (!r)
		return -1;
	ret = PQntuples(r) ? 0 : 1;
	if (!ret)
		*value = col_text(r, 0, 0);
	PQclear(r);
	return ret;
}

int pg_meta_set(struct pg *s, const char *key, const char *value,
		struct sw_err *e)
{
	return run(s, e,
		   "INSERT INTO meta (key, value) VALUES ($1, $2)"
		   " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
		   "tt", key, value);
}

/* builds */

#define BUILD_COLS                                                             \
	"id, project, number, status, start_ms, end_ms, source_version,"       \
	" report_path, reason"

static void fill_build(PGresult *r, int i, void *row)
{
	struct store_build *b = row;

	b->id = col_text(r, i, 0);
	b->project = col_text(r, i, 1);
	b->number = (long)col_int(r, i, 2);
	b->status = col_text(r, i, 3);
	b->start_ms = col_int(r, i, 4);
	b->end_ms = col_int(r, i, 5);
	b->source_version = col_text(r, i, 6);
	b->report_path = col_text(r, i, 7);
	b->reason = col_text(r, i, 8);
}

int pg_put_build(struct pg *s, const struct store_build *b, struct sw_err *e)
{
	return run(s, e,
		   "INSERT INTO builds (" BUILD_COLS ")"
		   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
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

int pg_get_build(struct pg *s, const char *id, struct store_build *b,
		 struct sw_err *e)
{
	return get_one(query(s, e,
			     "SELECT " BUILD_COLS " FROM builds WHERE id = $1",
			     "t", id),
		       sizeof(*b), fill_build, b);
}

int pg_list_builds(struct pg *s, const struct store_query *q,
		   struct store_build **v, size_t *nr, struct sw_err *e)
{
	char lim[24];

	return collect(query(s, e,
			     "SELECT " BUILD_COLS " FROM builds"
			     " WHERE ($1::text IS NULL OR project = $1)"
			     " AND ($2::text IS NULL OR status = $2)"
			     " ORDER BY CASE WHEN end_ms > 0 THEN end_ms"
			     " ELSE start_ms END DESC, id DESC"
			     " LIMIT $3::bigint",
			     "ttt", q ? q->name : NULL, q ? q->status : NULL,
			     limit_of(q, lim, sizeof(lim))),
		       sizeof(**v), fill_build, (void **)v, nr);
}

int pg_delete_build(struct pg *s, const char *id, struct sw_err *e)
{
	return run(s, e, "DELETE FROM builds WHERE id = $1", "t", id);
}

/* deployments */

#define DEPLOY_COLS                                                            \
	"id, application, deployment_group, status, start_ms, end_ms,"         \
	" report_path, hosts_succeeded, hosts_total, creator"

static void fill_deployment(PGresult *r, int i, void *row)
{
	struct store_deployment *d = row;

	d->id = col_text(r, i, 0);
	d->application = col_text(r, i, 1);
	d->group = col_text(r, i, 2);
	d->status = col_text(r, i, 3);
	d->start_ms = col_int(r, i, 4);
	d->end_ms = col_int(r, i, 5);
	d->report_path = col_text(r, i, 6);
	d->hosts_succeeded = (long)col_int(r, i, 7);
	d->hosts_total = (long)col_int(r, i, 8);
	d->creator = col_text(r, i, 9);
}

int pg_put_deployment(struct pg *s, const struct store_deployment *d,
		      struct sw_err *e)
{
	return run(s, e,
		   "INSERT INTO deployments (" DEPLOY_COLS ")"
		   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
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

int pg_get_deployment(struct pg *s, const char *id, struct store_deployment *d,
		      struct sw_err *e)
{
	return get_one(query(s, e,
			     "SELECT " DEPLOY_COLS
			     " FROM deployments WHERE id = $1",
			     "t", id),
		       sizeof(*d), fill_deployment, d);
}

int pg_list_deployments(struct pg *s, const struct store_query *q,
			struct store_deployment **v, size_t *nr,
			struct sw_err *e)
{
	char lim[24];

	return collect(query(s, e,
			     "SELECT " DEPLOY_COLS " FROM deployments"
			     " WHERE ($1::text IS NULL OR application = $1)"
			     " AND ($2::text IS NULL OR status = $2)"
			     " ORDER BY CASE WHEN end_ms > 0 THEN end_ms"
			     " ELSE start_ms END DESC, id DESC"
			     " LIMIT $3::bigint",
			     "ttt", q ? q->name : NULL, q ? q->status : NULL,
			     limit_of(q, lim, sizeof(lim))),
		       sizeof(**v), fill_deployment, (void **)v, nr);
}

int pg_delete_deployment(struct pg *s, const char *id, struct sw_err *e)
{
	return run(s, e, "DELETE FROM deployments WHERE id = $1", "t", id);
}

/* executions */

#define EXEC_COLS                                                              \
	"id, pipeline, pipeline_file, status, status_summary, trigger_type,"   \
	" trigger_detail, variables, start_ms, end_ms"

static void fill_execution(PGresult *r, int i, void *row)
{
	struct store_execution *x = row;

	x->id = col_text(r, i, 0);
	x->pipeline = col_text(r, i, 1);
	x->pipeline_file = col_text(r, i, 2);
	x->status = col_text(r, i, 3);
	x->status_summary = col_text(r, i, 4);
	x->trigger_type = col_text(r, i, 5);
	x->trigger_detail = col_text(r, i, 6);
	x->variables = col_text(r, i, 7);
	x->start_ms = col_int(r, i, 8);
	x->end_ms = col_int(r, i, 9);
}

int pg_put_execution(struct pg *s, const struct store_execution *x,
		     struct sw_err *e)
{
	return run(
		s, e,
		"INSERT INTO executions (" EXEC_COLS ")"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
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

int pg_get_execution(struct pg *s, const char *id, struct store_execution *x,
		     struct sw_err *e)
{
	return get_one(query(s, e,
			     "SELECT " EXEC_COLS
			     " FROM executions WHERE id = $1",
			     "t", id),
		       sizeof(*x), fill_execution, x);
}

int pg_list_executions(struct pg *s, const struct store_query *q,
		       struct store_execution **v, size_t *nr, struct sw_err *e)
{
	char lim[24];

	return collect(query(s, e,
			     "SELECT " EXEC_COLS " FROM executions"
			     " WHERE ($1::text IS NULL OR pipeline = $1)"
			     " AND ($2::text IS NULL OR status = $2)"
			     " ORDER BY start_ms DESC, id DESC"
			     " LIMIT $3::bigint",
			     "ttt", q ? q->name : NULL, q ? q->status : NULL,
			     limit_of(q, lim, sizeof(lim))),
		       sizeof(**v), fill_execution, (void **)v, nr);
}

int pg_delete_execution(struct pg *s, const char *id, struct sw_err *e)
{
	return run(s, e, "DELETE FROM executions WHERE id = $1", "t", id);
}

/* stages */

static void fill_stage(PGresult *r, int i, void *row)
{
	struct store_stage *g = row;

	g->execution_id = col_text(r, i, 0);
	g->stage = col_text(r, i, 1);
	g->status = col_text(r, i, 2);
	g->start_ms = col_int(r, i, 3);
	g->end_ms = col_int(r, i, 4);
}

int pg_put_stage(struct pg *s, const struct store_stage *g, struct sw_err *e)
{
	return run(s, e,
		   "INSERT INTO stages"
		   " (execution_id, stage, status, start_ms, end_ms)"
		   " VALUES ($1, $2, $3, $4, $5)"
		   " ON CONFLICT (execution_id, stage) DO UPDATE SET"
		   " status = excluded.status, start_ms = excluded.start_ms,"
		   " end_ms = excluded.end_ms",
		   "tttii", g->execution_id, g->stage, g->status, g->start_ms,
		   g->end_ms);
}

int pg_list_stages(struct pg *s, const struct store_query *q,
		   struct store_stage **v, size_t *nr, struct sw_err *e)
{
	return collect(query(s, e,
			     "SELECT execution_id, stage, status, start_ms,"
			     " end_ms FROM stages WHERE execution_id = $1"
			     " ORDER BY ord",
			     "t", q->execution_id),
		       sizeof(**v), fill_stage, (void **)v, nr);
}

/* actions */

#define ACTION_COLS                                                            \
	"execution_id, stage, action, attempt, status, start_ms, end_ms,"      \
	" external_id, output_variables, error"

static void fill_action(PGresult *r, int i, void *row)
{
	struct store_action *a = row;

	a->execution_id = col_text(r, i, 0);
	a->stage = col_text(r, i, 1);
	a->action = col_text(r, i, 2);
	a->attempt = (long)col_int(r, i, 3);
	a->status = col_text(r, i, 4);
	a->start_ms = col_int(r, i, 5);
	a->end_ms = col_int(r, i, 6);
	a->external_id = col_text(r, i, 7);
	a->output_variables = col_text(r, i, 8);
	a->error = col_text(r, i, 9);
}

int pg_put_action(struct pg *s, const struct store_action *a, struct sw_err *e)
{
	return run(s, e,
		   "INSERT INTO actions (" ACTION_COLS ")"
		   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
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

int pg_list_actions(struct pg *s, const struct store_query *q,
		    struct store_action **v, size_t *nr, struct sw_err *e)
{
	return collect(query(s, e,
			     "SELECT " ACTION_COLS " FROM actions"
			     " WHERE execution_id = $1"
			     " AND ($2::text IS NULL OR status = $2)"
			     " ORDER BY ord",
			     "tt", q->execution_id, q->status),
		       sizeof(**v), fill_action, (void **)v, nr);
}

/* approvals */

#define APPROVAL_COLS                                                          \
	"execution_id, stage, action, status, summary, who, created_ms,"       \
	" expires_ms, decided_ms"

static void fill_approval(PGresult *r, int i, void *row)
{
	struct store_approval *a = row;

	a->execution_id = col_text(r, i, 0);
	a->stage = col_text(r, i, 1);
	a->action = col_text(r, i, 2);
	a->status = col_text(r, i, 3);
	a->summary = col_text(r, i, 4);
	a->who = col_text(r, i, 5);
	a->created_ms = col_int(r, i, 6);
	a->expires_ms = col_int(r, i, 7);
	a->decided_ms = col_int(r, i, 8);
}

int pg_put_approval(struct pg *s, const struct store_approval *a,
		    struct sw_err *e)
{
	return run(s, e,
		   "INSERT INTO approvals (" APPROVAL_COLS ")"
		   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
		   " ON CONFLICT (execution_id, stage, action) DO UPDATE SET"
		   " status = excluded.status, summary = excluded.summary,"
		   " who = excluded.who, created_ms = excluded.created_ms,"
		   " expires_ms = excluded.expires_ms,"
		   " decided_ms = excluded.decided_ms",
		   "ttttttiii", a->execution_id, a->stage, a->action, a->status,
		   a->summary, a->who, a->created_ms, a->expires_ms,
		   a->decided_ms);
}

int pg_list_approvals(struct pg *s, const struct store_query *q,
		      struct store_approval **v, size_t *nr, struct sw_err *e)
{
	return collect(query(s, e,
			     "SELECT " APPROVAL_COLS " FROM approvals"
			     " WHERE ($1::text IS NULL OR execution_id = $1)"
			     " AND ($2::text IS NULL OR status = $2)"
			     " ORDER BY created_ms, ord",
			     "tt", q ? q->execution_id : NULL,
			     q ? q->status : NULL),
		       sizeof(**v), fill_approval, (void **)v, nr);
}

/* events */

int pg_append_event(struct pg *s, const char *execution_id, int64_t time_ms,
		    const char *json, long *seq, struct sw_err *e)
{
	/* inside the caller's transaction, or in one of its own */
	bool own = !in_transaction(s);
	PGresult *r;

	if (own && exec(s, "BEGIN", e) < 0)
		return -1;
	/* the lock is taken before the statement that reads the number
	 * starts, so its snapshot holds the last appender's commit */
	if (run(s, e,
		"SELECT pg_advisory_xact_lock(hashtext('slipway-events:' ||"
		" current_schema() || ':' || $1))",
		"t", execution_id) < 0)
		goto fail;
	r = query_write(
		s, e,
		"INSERT INTO events (execution_id, seq, time_ms, body)"
		" SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3 FROM events"
		" WHERE execution_id = $1 RETURNING seq",
		"tit", execution_id, time_ms, json);
	if (!r)
		goto fail;
	if (seq)
		*seq = (long)col_int(r, 0, 0);
	PQclear(r);
	if (own && pg_commit(s, e) < 0)
		return -1;
	return 0;
fail:
	if (own)
		pg_rollback(s);
	return -1;
}

static void fill_event(PGresult *r, int i, void *row)
{
	struct store_event *ev = row;

	ev->seq = (long)col_int(r, i, 0);
	ev->time_ms = col_int(r, i, 1);
	ev->json = col_text(r, i, 2);
}

int pg_list_events(struct pg *s, const struct store_query *q, long after,
		   struct store_event **v, size_t *nr, struct sw_err *e)
{
	char lim[24];

	return collect(query(s, e,
			     "SELECT seq, time_ms, body FROM events"
			     " WHERE execution_id = $1 AND seq > $2"
			     " ORDER BY seq LIMIT $3::bigint",
			     "tlt", q->execution_id, after,
			     limit_of(q, lim, sizeof(lim))),
		       sizeof(**v), fill_event, (void **)v, nr);
}

/* webhook deliveries and poll heads */

int pg_delivery_record(struct pg *s, const char *forge, const char *id,
		       int64_t now_ms, int *first, struct sw_err *e)
{
	long n = 0;

	if (run_n(s, e, &n,
		  "INSERT INTO webhook_deliveries (forge, id, received_ms)"
		  " VALUES ($1, $2, $3) ON CONFLICT (forge, id) DO NOTHING",
		  "tti", forge, id, now_ms) < 0)
		return -1;
	*first = n == 1;
	return 0;
}

int pg_delivery_prune(struct pg *s, int64_t before_ms, struct sw_err *e)
{
	return run(s, e,
		   "DELETE FROM webhook_deliveries WHERE received_ms < $1", "i",
		   before_ms);
}

int pg_poll_heads(struct pg *s, const char *source, struct strvec *refs,
		  struct strvec *commits, struct sw_err *e)
{
	PGresult *r = query(s, e,
			    "SELECT ref, commit_id FROM poll_heads"
			    " WHERE source = $1 ORDER BY ref",
			    "t", source);

	if (!r)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		strvec_push(refs, PQgetvalue(r, i, 0));
		strvec_push(commits, PQgetvalue(r, i, 1));
	}
	PQclear(r);
	return 0;
}

int pg_poll_head_set(struct pg *s, const char *source, const char *ref,
		     const char *commit, int64_t now_ms, struct sw_err *e)
{
	if (!commit)
		return run(s, e,
			   "DELETE FROM poll_heads WHERE source = $1"
			   " AND ref = $2",
			   "tt", source, ref);
	return run(
		s, e,
		"INSERT INTO poll_heads (source, ref, commit_id, seen_ms)"
		" VALUES ($1, $2, $3, $4) ON CONFLICT (source, ref) DO UPDATE"
		" SET commit_id = excluded.commit_id,"
		" seen_ms = excluded.seen_ms",
		"ttti", source, ref, commit, now_ms);
}

/* the job queue */

#define JOB_COLS                                                               \
	"id, kind, spec, labels, status, owner, lease_ms, attempt, outcome,"   \
	" result, reason, enqueued_ms, started_ms, ended_ms, fallback"

/* A comma-separated list of labels as an array of its names, without
 * blanks around them or empty ones (store_job_labels_match()). */
#define LABELS(x)                                                              \
	"ARRAY(SELECT btrim(l, E' \\t') FROM unnest(string_to_array("          \
	"COALESCE(" x ", ''), ',')) l WHERE btrim(l, E' \\t') <> '')"

/* A queued job that the worker of labels $4 may run (no labels wanted,
 * or all of them among its own). */
#define CLAIMABLE                                                              \
	"status = 'queued' AND (COALESCE(labels, '') = '' OR " LABELS(         \
		"labels") " <@ " LABELS("$4::text") ")"

static void fill_job(PGresult *r, int i, void *row)
{
	struct store_job *j = row;

	j->id = col_text(r, i, 0);
	j->kind = col_text(r, i, 1);
	j->spec = col_text(r, i, 2);
	j->labels = col_text(r, i, 3);
	j->status = col_text(r, i, 4);
	j->owner = col_text(r, i, 5);
	j->lease_ms = col_int(r, i, 6);
	j->attempt = (long)col_int(r, i, 7);
	j->outcome = col_text(r, i, 8);
	j->result = col_text(r, i, 9);
	j->reason = col_text(r, i, 10);
	j->enqueued_ms = col_int(r, i, 11);
	j->started_ms = col_int(r, i, 12);
	j->ended_ms = col_int(r, i, 13);
	j->fallback = col_text(r, i, 14);
}

int pg_job_enqueue(struct pg *s, const struct store_job *j, struct sw_err *e)
{
	return run(
		s, e,
		"INSERT INTO jobs (id, kind, spec, labels, status, attempt,"
		" enqueued_ms, fallback) VALUES ($1, $2, $3, $4, 'queued', 1,"
		" $5, $6)",
		"ttttit", j->id, j->kind, j->spec, j->labels, j->enqueued_ms,
		j->fallback);
}

/*
 * One statement: the oldest queued job this worker may run, locked FOR
 * UPDATE SKIP LOCKED, so that racing claimers each take another row
 * instead of waiting for (or failing on) the one a claimer holds; a row
 * claimed and committed meanwhile is checked again and passed over.
 */
int pg_job_claim(struct pg *s, const char *owner, const char *labels,
		 int64_t now_ms, int64_t lease_ms, struct store_job *j,
		 struct sw_err *e)
{
	return get_one(query_write(s, e,
				   "UPDATE jobs SET status = 'claimed',"
				   " owner = $1, lease_ms = $2, started_ms = $3"
				   " WHERE id = (SELECT id FROM jobs"
				   " WHERE " CLAIMABLE
				   " ORDER BY enqueued_ms, id LIMIT 1"
				   " FOR UPDATE SKIP LOCKED)"
				   " RETURNING " JOB_COLS,
				   "tiit", owner, now_ms + lease_ms, now_ms,
				   labels),
		       sizeof(*j), fill_job, j);
}

int pg_job_heartbeat(struct pg *s, const char *id, const char *owner,
		     int64_t now_ms, int64_t lease_ms, struct sw_err *e)
{
	long n = 0;

	if (run_n(s, e, &n,
		  "UPDATE jobs SET lease_ms = $1 WHERE id = $2 AND owner = $3"
		  " AND status = 'claimed'",
		  "itt", now_ms + lease_ms, id, owner) < 0)
		return -1;
	return n == 1 ? 0 : 1;
}

int pg_job_complete(struct pg *s, const char *id, const char *owner,
		    const char *outcome, const char *result, const char *reason,
		    int64_t now_ms, struct sw_err *e)
{
	long n = 0;

	if (run_n(s, e, &n,
		  "UPDATE jobs SET status = 'done', outcome = $1, result = $2,"
		  " reason = COALESCE($3, reason), ended_ms = $4, lease_ms = 0"
		  " WHERE id = $5 AND owner = $6 AND status = 'claimed'",
		  "tttitt", outcome, result, reason, now_ms, id, owner) < 0)
		return -1;
	return n == 1 ? 0 : 1;
}

/*
 * Each UPDATE locks the rows it changes and checks them again if a
 * racing reaper changed them first, so a lease is taken back once. A
 * deployment with a fallback is failed by the UPDATE whose RETURNING
 * feeds the INSERT of its rollback, in one statement: only the reaper
 * that failed it queues the rollback.
 */
int pg_job_reap(struct pg *s, int64_t now_ms, long *requeued, long *failed,
		struct sw_err *e)
{
	long nf = 0, nq = 0, nr = 0;

	if (exec(s, "BEGIN", e) < 0)
		return -1;
	if (run_n(s, e, &nr,
		  "WITH lost AS (UPDATE jobs SET status = 'done',"
		  " outcome = 'Failed', ended_ms = $1, lease_ms = 0,"
		  " reason = 'worker ''' || owner || ''' lost its lease during"
		  " the deployment; not run again; rolled back by job ' || id"
		  " || '-rollback' WHERE status = 'claimed' AND lease_ms < $1"
		  " AND kind = 'deploy' AND fallback IS NOT NULL"
		  " RETURNING id, fallback)"
		  " INSERT INTO jobs (id, kind, spec, status, attempt,"
		  " enqueued_ms) SELECT id || '-rollback', 'deploy', fallback,"
		  " 'queued', 1, $1 FROM lost",
		  "i", now_ms) < 0 ||
	    run_n(s, e, &nf,
		  "UPDATE jobs SET status = 'done', outcome = 'Failed',"
		  " ended_ms = $1, lease_ms = 0, reason = CASE kind"
		  " WHEN 'deploy' THEN 'worker ''' || owner || ''' lost its "
		  "lease"
		  " during the deployment; not run again'"
		  " ELSE 'worker ''' || owner || ''' lost its lease on attempt "
		  "'"
		  " || attempt || ', the last one allowed' END"
		  " WHERE status = 'claimed' AND lease_ms < $2"
		  " AND (kind = 'deploy' OR attempt >= $3)",
		  "iil", now_ms, now_ms, (long)STORE_JOB_MAX_ATTEMPTS) < 0 ||
	    run_n(s, e, &nq,
		  "UPDATE jobs SET status = 'queued', lease_ms = 0,"
		  " reason = 'worker ''' || owner || ''' lost its lease on"
		  " attempt ' || attempt, attempt = attempt + 1, owner = NULL"
		  " WHERE status = 'claimed' AND lease_ms < $1",
		  "i", now_ms) < 0 ||
	    pg_commit(s, e) < 0) {
		pg_rollback(s);
		return -1;
	}
	if (requeued)
		*requeued = nq;
	if (failed)
		*failed = nf + nr;
	return 0;
}

int pg_job_get(struct pg *s, const char *id, struct store_job *j,
	       struct sw_err *e)
{
	return get_one(query(s, e,
			     "SELECT " JOB_COLS " FROM jobs WHERE id = $1", "t",
			     id),
		       sizeof(*j), fill_job, j);
}

int pg_list_jobs(struct pg *s, const struct store_query *q,
		 struct store_job **v, size_t *nr, struct sw_err *e)
{
	char lim[24];

	return collect(query(s, e,
			     "SELECT " JOB_COLS " FROM jobs"
			     " WHERE ($1::text IS NULL OR status = $1)"
			     " AND ($2::text IS NULL OR owner = $2)"
			     " ORDER BY enqueued_ms, id LIMIT $3::bigint",
			     "ttt", q ? q->status : NULL, q ? q->name : NULL,
			     limit_of(q, lim, sizeof(lim))),
		       sizeof(**v), fill_job, (void **)v, nr);
}

int pg_job_listen(struct pg *s, struct sw_err *e)
{
	if (exec(s, "LISTEN slipway_jobs", e) < 0)
		return -1;
	return PQsocket(s->conn);
}

int pg_job_notified(struct pg *s)
{
	PGnotify *n;
	int got = 0;

	PQconsumeInput(s->conn);
	while ((n = PQnotifies(s->conn))) {
		got++;
		PQfreemem(n);
	}
	return got;
}

int pg_job_prune(struct pg *s, int64_t before_ms, struct sw_err *e)
{
	return run(s, e,
		   "DELETE FROM jobs WHERE status = 'done' AND ended_ms < $1",
		   "i", before_ms);
}
