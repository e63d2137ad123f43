#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs.h"
#include "pgtest.h"
#include "store.h"
#include "xalloc.h"

/* The records' strings are char *: those the store returns are owned. */
#define S(lit) ((char *)(lit))

/*
 * Each case runs twice: on an SQLite file in a new directory, then on a
 * PostgreSQL that main() starts (tests/pg.sh), in a schema of its own
 * (the URL's search_path), made by setup and dropped by teardown.
 */
struct fixture {
	char dir[32];
	char *db; /* the location given to store_open() */
	char schema[32];
};

/* Run sql in the fixture's database, as the store sees it. */
static void raw_exec(struct fixture *f, const char *sql)
{
	if (pgtest_url) {
		char *q = xasprintf("SET search_path = %s; %s", f->schema, sql);

		pgtest_admin(q);
		free(q);
	} else {
		sqlite3 *db;

		assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL),
				 SQLITE_OK);
		sqlite3_close(db);
	}
}

/* Start again from nothing. */
static void reset_db(struct fixture *f)
{
	if (pgtest_url) {
		char *q = xasprintf("DROP SCHEMA %s CASCADE; CREATE SCHEMA %s",
				    f->schema, f->schema);

		pgtest_admin(q);
		free(q);
	} else {
		unlink(f->db);
	}
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/sw-store-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	if (pgtest_url) {
		f->db = pgtest_schema_new(f->schema, sizeof(f->schema));
	} else {
		f->db = fs_join(f->dir, "slipway.db");
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;

	if (pgtest_url)
		pgtest_schema_drop(f->schema);
	fs_remove_tree(f->dir, &e);
	free(f->db);
	free(f);
	return 0;
}

static void put_build(struct store *s, const char *id, const char *project,
		      long number, const char *status, int64_t start,
		      int64_t end)
{
	struct sw_err e = SW_ERR_INIT;
	struct store_build b = { .id = (char *)id,
				 .project = (char *)project,
				 .number = number,
				 .status = (char *)status,
				 .start_ms = start,
				 .end_ms = end };

	if (store_put_build(s, &b, &e) < 0)
		fail_msg("%s", e.msg);
}

static int count_builds(struct store *s, const char *project)
{
	struct store_query q = STORE_QUERY_INIT;
	struct store_build *v;
	struct sw_err e = SW_ERR_INIT;
	size_t nr;

	q.name = project;
	if (store_list_builds(s, &q, &v, &nr, &e) < 0)
		fail_msg("%s", e.msg);
	store_builds_free(v, nr);
	return (int)nr;
}

static void test_store__creates_the_newest_schema(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct store *s;
	int v;

	assert_int_equal(store_open(&s, f->db, &e), 0);
	assert_int_equal(store_version(s, &v, &e), 0);
	assert_int_equal(v, store_latest_version());
	assert_true(store_latest_version() >= 2);
	store_close(s);
	/* opening again applies nothing and keeps the version */
	assert_int_equal(store_open(&s, f->db, &e), 0);
	assert_int_equal(store_version(s, &v, &e), 0);
	assert_int_equal(v, store_latest_version());
	store_close(s);
}

static void test_store__migrates_from_every_earlier_version(void **state)
{
	struct fixture *f = *state;

	for (int from = 0; from < store_latest_version(); from++) {
		struct sw_err e = SW_ERR_INIT;
		struct store_build b;
		struct store *s;
		int v;

		reset_db(f);
		assert_int_equal(store_open_at(&s, f->db, from, &e), 0);
		if (from >= 1)
			put_build(s, "p:1", "p", 1, "SUCCEEDED", 1000, 2000);
		store_close(s);
		assert_int_equal(store_open(&s, f->db, &e), 0);
		assert_int_equal(store_version(s, &v, &e), 0);
		assert_int_equal(v, store_latest_version());
		if (from >= 1) {
			assert_int_equal(store_get_build(s, "p:1", &b, &e), 0);
			assert_int_equal(b.end_ms, 2000);
			store_build_release(&b);
		}
		store_close(s);
	}
}

static void test_store__refuses_a_newer_schema(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct store *s;

	assert_int_equal(store_open(&s, f->db, &e), 0);
	store_close(s);
	raw_exec(f, "INSERT INTO schema_migrations VALUES (999, 0)");
	assert_int_equal(store_open(&s, f->db, &e), -1);
	assert_null(s);
	assert_non_null(strstr(e.msg, "schema version 999, newer"));
}

static void test_store__builds_crud(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct store_build b = { 0 }, got;
	struct store *s;

	assert_int_equal(store_open(&s, f->db, &e), 0);
	b.id = S("hello:u1");
	b.project = S("hello");
	b.number = 7;
	b.status = S("IN_PROGRESS");
	b.start_ms = 1700000000123;
	b.source_version = S("abc");
	b.report_path = S("/s/builds/hello-u1/report.json");
	assert_int_equal(store_put_build(s, &b, &e), 0);
	assert_int_equal(store_get_build(s, "hello:u1", &got, &e), 0);
	assert_string_equal(got.status, "IN_PROGRESS");
	assert_int_equal(got.number, 7);
	assert_int_equal(got.start_ms, 1700000000123);
	assert_int_equal(got.end_ms, 0);
	assert_string_equal(got.source_version, "abc");
	assert_null(got.reason);
	store_build_release(&got);

	b.status = S("FAILED");
	b.end_ms = 1700000005000;
	b.reason = S("phase BUILD: exit 1");
	assert_int_equal(store_put_build(s, &b, &e), 0);
	assert_int_equal(store_get_build(s, "hello:u1", &got, &e), 0);
	assert_string_equal(got.status, "FAILED");
	assert_int_equal(got.end_ms, 1700000005000);
	assert_string_equal(got.reason, "phase BUILD: exit 1");
	store_build_release(&got);
	assert_int_equal(count_builds(s, NULL), 1);

	assert_int_equal(store_delete_build(s, "hello:u1", &e), 0);
	assert_int_equal(store_get_build(s, "hello:u1", &got, &e), 1);
	assert_int_equal(count_builds(s, NULL), 0);
	store_close(s);
}

static void test_store__lists_newest_first_with_filters(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct store_query q = STORE_QUERY_INIT;
	struct store_build *v;
	struct store *s;
	size_t nr;

	assert_int_equal(store_open(&s, f->db, &e), 0);
	put_build(s, "a:1", "a", 1, "SUCCEEDED", 100, 900);
	put_build(s, "a:2", "a", 2, "FAILED", 200, 300);
	/* running: ordered by its start */
	put_build(s, "b:1", "b", 1, "IN_PROGRESS", 500, 0);
	put_build(s, "a:3", "a", 3, "SUCCEEDED", 600, 700);

	assert_int_equal(store_list_builds(s, NULL, &v, &nr, &e), 0);
	assert_int_equal(nr, 4);
	assert_string_equal(v[0].id, "a:1");
	assert_string_equal(v[1].id, "a:3");
	assert_string_equal(v[2].id, "b:1");
	assert_string_equal(v[3].id, "a:2");
	store_builds_free(v, nr);

	q.name = S("a");
	q.limit = 2;
	assert_int_equal(store_list_builds(s, &q, &v, &nr, &e), 0);
	assert_int_equal(nr, 2);
	assert_string_equal(v[0].id, "a:1");
	assert_string_equal(v[1].id, "a:3");
	store_builds_free(v, nr);

	q.limit = 0;
	q.status = S("FAILED");
	assert_int_equal(store_list_builds(s, &q, &v, &nr, &e), 0);
	assert_int_equal(nr, 1);
	assert_int_equal(v[0].number, 2);
	store_builds_free(v, nr);
	store_close(s);
}

static void test_store__deployments_crud(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct store_deployment d = { 0 }, got, *v;
	struct store_query q = STORE_QUERY_INIT;
	struct store *s;
	size_t nr;

	assert_int_equal(store_open(&s, f->db, &e), 0);
	d.id = S("d-AAAAAAAAA");
	d.application = S("app");
	d.group = S("staging");
	d.status = S("InProgress");
	d.start_ms = 10;
	assert_int_equal(store_put_deployment(s, &d, &e), 0);
	d.id = S("d-BBBBBBBBB");
	d.application = S("other");
	d.start_ms = 20;
	d.end_ms = 30;
	d.status = S("Succeeded");
	d.hosts_succeeded = 2;
	d.hosts_total = 3;
	d.creator = S("codeDeployRollback");
	assert_int_equal(store_put_deployment(s, &d, &e), 0);

	assert_int_equal(store_get_deployment(s, "d-BBBBBBBBB", &got, &e), 0);
	assert_string_equal(got.group, "staging");
	assert_int_equal(got.hosts_succeeded, 2);
	assert_int_equal(got.hosts_total, 3);
	assert_string_equal(got.creator, "codeDeployRollback");
	store_deployment_release(&got);

	q.name = S("app");
	assert_int_equal(store_list_deployments(s, &q, &v, &nr, &e), 0);
	assert_int_equal(nr, 1);
	assert_string_equal(v[0].status, "InProgress");
	store_deployments_free(v, nr);
	assert_int_equal(store_list_deployments(s, NULL, &v, &nr, &e), 0);
	assert_int_equal(nr, 2);
	assert_string_equal(v[0].id, "d-BBBBBBBBB");
	store_deployments_free(v, nr);

	assert_int_equal(store_delete_deployment(s, "d-AAAAAAAAA", &e), 0);
	assert_int_equal(store_get_deployment(s, "d-AAAAAAAAA", &got, &e), 1);
	store_close(s);
}

static void test_store__executions_and_their_rows(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct store_execution x = { 0 }, got, *xv;
	struct store_stage g = { 0 }, *gv;
	struct store_action a = { 0 }, *av;
	struct store_approval ap = { 0 }, *apv;
	struct store_event *ev;
	struct store_query q = STORE_QUERY_INIT;
	struct store *s;
	size_t nr;
	long seq;

	assert_int_equal(store_open(&s, f->db, &e), 0);
	x.id = S("pe-1");
	x.pipeline = S("demo");
	x.status = S("InProgress");
	x.trigger_type = S("StartPipelineExecution");
	x.variables = S("{\"ENV\":\"test\"}");
	x.start_ms = 100;
	assert_int_equal(store_put_execution(s, &x, &e), 0);
	x.id = S("pe-2");
	x.pipeline = S("other");
	x.start_ms = 200;
	assert_int_equal(store_put_execution(s, &x, &e), 0);

	g.execution_id = S("pe-1");
	g.stage = S("Source");
	g.status = S("Succeeded");
	assert_int_equal(store_put_stage(s, &g, &e), 0);
	g.stage = S("Build");
	g.status = S("InProgress");
	assert_int_equal(store_put_stage(s, &g, &e), 0);
	g.status = S("Failed");
	assert_int_equal(store_put_stage(s, &g, &e), 0);

	a.execution_id = S("pe-1");
	a.stage = S("Build");
	a.action = S("Compile");
	a.attempt = 1;
	a.status = S("Failed");
	a.external_id = S("demo:u1");
	a.error = S("exit 1");
	assert_int_equal(store_put_action(s, &a, &e), 0);
	a.attempt = 2;
	a.status = S("Succeeded");
	a.error = NULL;
	a.output_variables = S("{\"X\":\"1\"}");
	assert_int_equal(store_put_action(s, &a, &e), 0);

	ap.execution_id = S("pe-1");
	ap.stage = S("Approve");
	ap.action = S("Manual");
	ap.status = S("InProgress");
	ap.expires_ms = 604800100;
	assert_int_equal(store_put_approval(s, &ap, &e), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(
			store_append_event(s, "pe-1", 100 + i, "{}", &seq, &e),
			0);
		assert_int_equal(seq, i + 1);
	}

	q.name = S("demo");
	assert_int_equal(store_list_executions(s, &q, &xv, &nr, &e), 0);
	assert_int_equal(nr, 1);
	assert_string_equal(xv[0].variables, "{\"ENV\":\"test\"}");
	store_executions_free(xv, nr);
	assert_int_equal(store_list_executions(s, NULL, &xv, &nr, &e), 0);
	assert_int_equal(nr, 2);
	assert_string_equal(xv[0].id, "pe-2");
	store_executions_free(xv, nr);

	q.name = NULL;
	q.execution_id = S("pe-1");
	assert_int_equal(store_list_stages(s, &q, &gv, &nr, &e), 0);
	assert_int_equal(nr, 2);
	assert_string_equal(gv[0].stage, "Source");
	assert_string_equal(gv[1].status, "Failed");
	store_stages_free(gv, nr);
	assert_int_equal(store_list_actions(s, &q, &av, &nr, &e), 0);
	assert_int_equal(nr, 2);
	assert_int_equal(av[0].attempt, 1);
	assert_string_equal(av[0].error, "exit 1");
	assert_string_equal(av[1].output_variables, "{\"X\":\"1\"}");
	store_actions_free(av, nr);
	assert_int_equal(store_list_events(s, &q, 1, &ev, &nr, &e), 0);
	assert_int_equal(nr, 2);
	assert_int_equal(ev[0].seq, 2);
	store_events_free(ev, nr);

	/* waiting approvals of every execution */
	q.execution_id = NULL;
	q.status = S("InProgress");
	assert_int_equal(store_list_approvals(s, &q, &apv, &nr, &e), 0);
	assert_int_equal(nr, 1);
	assert_int_equal(apv[0].expires_ms, 604800100);
	store_approvals_free(apv, nr);

	/* an execution goes with its rows */
	assert_int_equal(store_delete_execution(s, "pe-1", &e), 0);
	assert_int_equal(store_get_execution(s, "pe-1", &got, &e), 1);
	q.execution_id = S("pe-1");
	q.status = NULL;
	assert_int_equal(store_list_actions(s, &q, &av, &nr, &e), 0);
	assert_int_equal(nr, 0);
	store_actions_free(av, nr);
	assert_int_equal(store_list_approvals(s, &q, &apv, &nr, &e), 0);
	assert_int_equal(nr, 0);
	store_approvals_free(apv, nr);

	/* an action of no execution is refused */
	a.execution_id = S("pe-none");
	assert_int_equal(store_put_action(s, &a, &e), -1);
	assert_non_null(strcasestr(e.msg, "foreign key"));
	store_close(s);
}

/*
 * Racing processes on a database none of them has made yet: each opens
 * it (so migrations race too), writes its records one connection at a
 * time, and appends events to one execution. Every record is there, and
 * no writer gave up with "database is locked".
 */
#define RACERS 8
#define EACH 25
static void test_store__racing_processes_lose_nothing(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct store_query q = STORE_QUERY_INIT;
	struct store_event *ev;
	struct store *s;
	pid_t pids[RACERS];
	size_t nr;

	for (int k = 0; k < RACERS; k++) {
		pids[k] = fork();
		assert_true(pids[k] >= 0);
		if (pids[k])
			continue;
		for (int i = 0; i < EACH; i++) {
			char id[32], proj[16];
			struct store_execution x = { .id = S("pe-race"),
						     .pipeline = S("race"),
						     .status =
							     S("InProgress") };

			snprintf(id, sizeof(id), "p%d:%d", k, i);
			snprintf(proj, sizeof(proj), "p%d", k);
			if (store_open(&s, f->db, &e) < 0)
				goto fail;
			put_build(s, id, proj, i + 1, "SUCCEEDED", i, i + 1);
			if (store_put_execution(s, &x, &e) < 0 ||
			    store_append_event(s, "pe-race", i, "{}", NULL,
					       &e) < 0)
				goto fail;
			store_close(s);
		}
		_exit(0);
	fail:
		fprintf(stderr, "racer %d: %s\n", k, e.msg);
		_exit(1);
	}
	for (int k = 0; k < RACERS; k++) {
		int status;

		assert_int_equal(waitpid(pids[k], &status, 0), pids[k]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(store_open(&s, f->db, &e), 0);
	assert_int_equal(count_builds(s, NULL), RACERS * EACH);
	for (int k = 0; k < RACERS; k++) {
		char proj[16];

		snprintf(proj, sizeof(proj), "p%d", k);
		assert_int_equal(count_builds(s, proj), EACH);
	}
	q.execution_id = S("pe-race");
	assert_int_equal(store_list_events(s, &q, 0, &ev, &nr, &e), 0);
	assert_int_equal(nr, RACERS * EACH);
	for (size_t i = 0; i < nr; i++)
		assert_int_equal(ev[i].seq, (long)i + 1);
	store_events_free(ev, nr);
	store_close(s);
}

/*
 * A process killed (SIGKILL) inside a write transaction, with its
 * uncommitted pages already in the WAL and the write lock held: the next
 * open recovers, what was committed is there, what was not is not, and
 * writing works at once.
 */
static void test_store__killed_writer_leaves_a_usable_db(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct store_build b;
	struct store *s;
	int fds[2];
	pid_t pid;
	char c;
	int status;

	assert_int_equal(store_open(&s, f->db, &e), 0);
	put_build(s, "kept:1", "kept", 1, "SUCCEEDED", 1, 2);
	store_close(s);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		sqlite3 *db;
		sqlite3_stmt *st;

		close(fds[0]);
		if (sqlite3_open(f->db, &db) != SQLITE_OK ||
		    sqlite3_exec(db,
				 "PRAGMA cache_size = 4;"
				 "BEGIN IMMEDIATE",
				 NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_prepare_v2(db,
				       "INSERT INTO builds (id, project,"
				       " number, status, reason)"
				       " VALUES ('lost:' || ?, 'lost', ?,"
				       " 'FAILED', hex(randomblob(500)))",
				       -1, &st, NULL) != SQLITE_OK)
			_exit(1);
		for (int i = 0; i < 2000; i++) {
			sqlite3_bind_int(st, 1, i);
			sqlite3_bind_int(st, 2, i);
			if (sqlite3_step(st) != SQLITE_DONE)
				_exit(1);
			sqlite3_reset(st);
		}
		if (write(fds[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(1);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);
	{
		/* the WAL holds the uncommitted pages */
		char *wal = xasprintf("%s-wal", f->db);
		struct stat sb;

		assert_int_equal(stat(wal, &sb), 0);
		assert_true(sb.st_size > 100 * 1024);
		free(wal);
	}
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));

	assert_int_equal(store_open(&s, f->db, &e), 0);
	assert_int_equal(store_get_build(s, "kept:1", &b, &e), 0);
	store_build_release(&b);
	assert_int_equal(count_builds(s, "lost"), 0);
	put_build(s, "after:1", "after", 1, "SUCCEEDED", 3, 4);
	assert_int_equal(count_builds(s, NULL), 2);
	store_close(s);
}

/*
 * Processes that open a store that does not exist yet, all at once (each
 * waits for the pipe to close): one makes it, in WAL mode, and names it
 * when whole; the others use it. Every row is there, the schema is the
 * newest, and no temporary file is left beside it.
 */
static void test_store__racing_first_opens_make_one_store(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct store *s;
	pid_t pids[RACERS];
	struct dirent *de;
	sqlite3 *db;
	sqlite3_stmt *st;
	char id[32], c;
	int fds[2], v;
	DIR *d;

	for (int round = 0; round < 3; round++) {
		reset_db(f);
		assert_int_equal(pipe(fds), 0);
		for (int k = 0; k < RACERS; k++) {
			pids[k] = fork();
			assert_true(pids[k] >= 0);
			if (pids[k])
				continue;
			close(fds[1]);
			if (read(fds[0], &c, 1) != 0)
				_exit(2);
			snprintf(id, sizeof(id), "r%d:%d", k, round);
			if (store_open(&s, f->db, &e) < 0) {
				fprintf(stderr, "racer %d: %s\n", k, e.msg);
				_exit(1);
			}
			put_build(s, id, "r", k + 1, "SUCCEEDED", k, k + 1);
			store_close(s);
			_exit(0);
		}
		close(fds[0]);
		close(fds[1]);
		for (int k = 0; k < RACERS; k++) {
			int status;

			assert_int_equal(waitpid(pids[k], &status, 0), pids[k]);
			assert_true(WIFEXITED(status));
			assert_int_equal(WEXITSTATUS(status), 0);
		}
		assert_int_equal(store_open(&s, f->db, &e), 0);
		assert_int_equal(count_builds(s, "r"), RACERS);
		assert_int_equal(store_version(s, &v, &e), 0);
		assert_int_equal(v, store_latest_version());
		store_close(s);
		/* the mode is in the file: asked, not set */
		assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode",
						    -1, &st, NULL),
				 SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal(sqlite3_column_text(st, 0), "wal");
		sqlite3_finalize(st);
		sqlite3_close(db);
		assert_non_null(d = opendir(f->dir));
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") &&
			    strcmp(de->d_name, "..") &&
			    strcmp(de->d_name, "slipway.db") &&
			    strcmp(de->d_name, "slipway.db-wal") &&
			    strcmp(de->d_name, "slipway.db-shm"))
				fail_msg("left beside the store: %s",
					 de->d_name);
		closedir(d);
		unlink(f->db);
		{
			char *p = xasprintf("%s-wal", f->db);

			unlink(p);
			free(p);
			p = xasprintf("%s-shm", f->db);
			unlink(p);
			free(p);
		}
	}
}

/* n builds of about a page each, one commit each */
/* sqlite3_exec callback: the first column of the first row. */
static int first_column(void *arg, int n, char **v, char **names)
{
	char **out = arg;

	(void)names;
	if (n > 0 && v[0] && !*out)
		*out = xstrdup(v[0]);
	return 0;
}

static void put_big_builds(struct store *s, int from, int n)
{
	struct sw_err e = SW_ERR_INIT;
	char reason[3000];

	memset(reason, 'r', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	for (int i = from; i < from + n; i++) {
		char id[32];
		struct store_build b = { .id = id,
					 .project = S("big"),
					 .number = i + 1,
					 .status = S("SUCCEEDED"),
					 .reason = reason };

		snprintf(id, sizeof(id), "big:%d", i);
		if (store_put_build(s, &b, &e) < 0)
			fail_msg("%s", e.msg);
	}
}

/*
 * The WAL is checkpointed at 200 pages (each process that opens the store
 * first reads all of it): 1,500 rows of a page each leave a WAL of about
 * that, from the process that made the store (whose first commit has no
 * syncs, and which then checkpoints as any other) and from one that
 * opens it again.
 */
static void test_store__wal_is_checkpointed_at_200_pages(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	char *wal = xasprintf("%s-wal", f->db);
	struct store *s;
	struct stat sb;

	assert_int_equal(store_open(&s, f->db, &e), 0);
	put_big_builds(s, 0, 1500);
	assert_int_equal(stat(wal, &sb), 0);
	assert_true(sb.st_size > 150 * 4096);
	assert_true(sb.st_size < 300 * 4096);
	store_close(s);
	assert_int_equal(store_open(&s, f->db, &e), 0);
	put_big_builds(s, 1500, 1500);
	assert_int_equal(stat(wal, &sb), 0);
	assert_true(sb.st_size < 300 * 4096);
	assert_int_equal(count_builds(s, "big"), 3000);
	store_close(s);
	free(wal);
}

/*
 * A store removed by hand (a reset) leaves its WAL and the WAL's index
 * beside it: the new store must not get the old WAL's frames.
 */
static void test_store__removed_store_leaves_no_frames_in_the_new(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	char *wal = xasprintf("%s-wal", f->db);
	char *keep = xasprintf("%s.kept", wal);
	char *data = NULL, *ok = NULL;
	struct store *s;
	sqlite3 *db;
	size_t n;

	assert_int_equal(store_open(&s, f->db, &e), 0);
	put_big_builds(s, 0, 300);
	/* the WAL as a process killed with the store open leaves it */
	assert_int_equal(fs_read_file(wal, 64 << 20, &data, &n, &e), 0);
	assert_true(n > 0);
	store_close(s);
	assert_int_equal(fs_write_atomic(keep, data, n, 0644, &e), 0);
	assert_int_equal(unlink(f->db), 0);
	assert_int_equal(rename(keep, wal), 0);
	assert_int_equal(store_open(&s, f->db, &e), 0);
	assert_int_equal(count_builds(s, NULL), 0);
	put_build(s, "new:1", "new", 1, "SUCCEEDED", 1, 2);
	assert_int_equal(count_builds(s, NULL), 1);
	store_close(s);
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA integrity_check",
				      first_column, &ok, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_non_null(ok);
	assert_string_equal(ok, "ok");
	free(ok);
	free(data);
	free(keep);
	free(wal);
}

static void test_store__not_a_database_is_moved_aside(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct store *s;
	int moved = 0, found = 0;
	struct dirent *de;
	DIR *d;
	char junk[4096];

	memset(junk, 'x', sizeof(junk));
	assert_int_equal(fs_write_atomic(f->db, junk, sizeof(junk), 0644, &e),
			 0);
	assert_int_equal(store_open_ex(&s, f->db, &moved, &e), 0);
	assert_int_equal(moved, 1);
	put_build(s, "new:1", "new", 1, "SUCCEEDED", 1, 2);
	assert_int_equal(count_builds(s, NULL), 1);
	store_close(s);
	assert_non_null(d = opendir(f->dir));
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "slipway.db.corrupt-", 19))
			found++;
	closedir(d);
	assert_int_equal(found, 1);
	/* a good database is left alone */
	assert_int_equal(store_open_ex(&s, f->db, &moved, &e), 0);
	assert_int_equal(moved, 0);
	assert_int_equal(count_builds(s, NULL), 1);
	store_close(s);
}

static void test_store__transactions(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct store_execution x = { .id = S("pe-t"),
				     .pipeline = S("t"),
				     .status = S("InProgress") };
	struct store_query q = STORE_QUERY_INIT;
	struct store_event *ev;
	struct store *s, *other;
	size_t nr;
	long seq;

	assert_int_equal(store_open(&s, f->db, &e), 0);
	assert_int_equal(store_open(&other, f->db, &e), 0);
	assert_int_equal(store_put_execution(s, &x, &e), 0);

	/* dropped: none of it stays */
	assert_int_equal(store_begin(s, &e), 0);
	put_build(s, "t:1", "t", 1, "SUCCEEDED", 1, 2);
	assert_int_equal(store_append_event(s, "pe-t", 1, "{}", &seq, &e), 0);
	assert_int_equal(count_builds(s, NULL), 1); /* its own writes */
	assert_int_equal(count_builds(other, NULL), 0); /* not yet others' */
	store_rollback(s);
	assert_int_equal(count_builds(s, NULL), 0);

	/* committed: all of it, the event numbered in the same one */
	assert_int_equal(store_begin(s, &e), 0);
	put_build(s, "t:1", "t", 1, "SUCCEEDED", 1, 2);
	put_build(s, "t:2", "t", 2, "FAILED", 3, 4);
	assert_int_equal(store_append_event(s, "pe-t", 2, "{}", &seq, &e), 0);
	assert_int_equal(seq, 1);
	assert_int_equal(store_commit(s, &e), 0);
	assert_int_equal(count_builds(other, NULL), 2);
	q.execution_id = "pe-t";
	assert_int_equal(store_list_events(other, &q, 0, &ev, &nr, &e), 0);
	assert_int_equal(nr, 1);
	assert_int_equal(ev[0].time_ms, 2);
	store_events_free(ev, nr);
	/* not nested */
	assert_int_equal(store_begin(s, &e), 0);
	assert_int_equal(store_begin(s, &e), -1);
	store_rollback(s);
	store_close(other);
	store_close(s);
}

static void test_store__meta(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct store *s;
	char *v;

	assert_int_equal(store_open(&s, f->db, &e), 0);
	assert_int_equal(store_meta_get(s, "k", &v, &e), 1);
	assert_null(v);
	assert_int_equal(store_meta_set(s, "k", "1", &e), 0);
	assert_int_equal(store_meta_set(s, "k", "2", &e), 0);
	assert_int_equal(store_meta_get(s, "k", &v, &e), 0);
	assert_string_equal(v, "2");
	free(v);
	store_close(s);
}

static void test_store__unwritable_place_is_reported(void **state)
{
	struct sw_err e = SW_ERR_INIT;
	struct store *s;

	(void)state;
	assert_int_equal(store_open(&s, "/nonexistent-dir/slipway.db", &e), -1);
	assert_int_equal(e.code, ERR_SYSTEM);
	assert_non_null(strstr(e.msg, "/nonexistent-dir/slipway.db"));
}

/*
 * store_begin() takes the write lock (SQLite's, PostgreSQL's advisory
 * one) before any read: processes that read a counter and write it plus
 * one, each in its own transaction, lose no increment.
 */
#define BUMPERS 4
#define BUMPS 40
static void test_store__begin_serializes_read_then_write(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	pid_t pids[BUMPERS];
	struct store *s;
	char *v;

	assert_int_equal(store_open(&s, f->db, &e), 0);
	assert_int_equal(store_meta_set(s, "n", "0", &e), 0);
	store_close(s);
	for (int k = 0; k < BUMPERS; k++) {
		pids[k] = fork();
		assert_true(pids[k] >= 0);
		if (pids[k])
			continue;
		if (store_open(&s, f->db, &e) < 0)
			_exit(1);
		for (int i = 0; i < BUMPS; i++) {
			char next[32];

			if (store_begin(s, &e) < 0 ||
			    store_meta_get(s, "n", &v, &e) != 0)
				_exit(2);
			snprintf(next, sizeof(next), "%ld", atol(v) + 1);
			free(v);
			if (store_meta_set(s, "n", next, &e) < 0 ||
			    store_commit(s, &e) < 0)
				_exit(3);
		}
		store_close(s);
		_exit(0);
	}
	for (int k = 0; k < BUMPERS; k++) {
		int status;

		assert_int_equal(waitpid(pids[k], &status, 0), pids[k]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(store_open(&s, f->db, &e), 0);
	assert_int_equal(store_meta_get(s, "n", &v, &e), 0);
	assert_int_equal(atol(v), BUMPERS * BUMPS);
	free(v);
	store_close(s);
}

/*
 * A process killed (SIGKILL) inside store_begin()'s transaction, holding
 * the write lock (SQLite's, or PostgreSQL's advisory lock): nothing it
 * wrote is there, and the next writer takes the lock at once.
 */
static void test_store__killed_in_a_transaction_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct store_execution x = { .id = S("pe-k"),
				     .pipeline = S("k"),
				     .status = S("InProgress") };
	struct store_query q = STORE_QUERY_INIT;
	struct store_event *ev;
	struct store *s;
	int fds[2], status;
	size_t nr;
	pid_t pid;
	long seq;
	char c;

	assert_int_equal(store_open(&s, f->db, &e), 0);
	put_build(s, "kept:1", "kept", 1, "SUCCEEDED", 1, 2);
	assert_int_equal(store_put_execution(s, &x, &e), 0);
	store_close(s);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		if (store_open(&s, f->db, &e) < 0 || store_begin(s, &e) < 0)
			_exit(1);
		for (int i = 0; i < 200; i++) {
			char id[32];

			snprintf(id, sizeof(id), "lost:%d", i);
			put_build(s, id, "lost", i, "FAILED", i, i + 1);
		}
		if (store_append_event(s, "pe-k", 1, "{}", NULL, &e) < 0 ||
		    write(fds[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(1);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));

	assert_int_equal(store_open(&s, f->db, &e), 0);
	assert_int_equal(store_begin(s, &e), 0);
	assert_int_equal(count_builds(s, "lost"), 0);
	assert_int_equal(count_builds(s, "kept"), 1);
	put_build(s, "after:1", "after", 1, "SUCCEEDED", 3, 4);
	assert_int_equal(store_append_event(s, "pe-k", 2, "{}", &seq, &e), 0);
	assert_int_equal(seq, 1); /* the lost one's number is free again */
	assert_int_equal(store_commit(s, &e), 0);
	q.execution_id = "pe-k";
	assert_int_equal(store_list_events(s, &q, 0, &ev, &nr, &e), 0);
	assert_int_equal(nr, 1);
	store_events_free(ev, nr);
	assert_int_equal(count_builds(s, NULL), 2);
	store_close(s);
}

static void test_store__postgres_unreachable_is_reported(void **state)
{
	struct sw_err e = SW_ERR_INIT;
	struct store *s;

	(void)state;
	assert_int_equal(
		store_open(
			&s,
			"postgresql://u:secret@/slipway?host=/nonexistent-dir",
			&e),
		-1);
	assert_null(s);
	assert_int_equal(e.code, ERR_SYSTEM);
	assert_non_null(strstr(e.msg, "cannot connect"));
	assert_non_null(strstr(e.msg, "postgresql://u:***@/slipway"));
	assert_null(strstr(e.msg, "secret"));
	assert_null(strchr(e.msg, '\n'));
}

/*
 * The server ends the connection inside a transaction (a restart, a
 * network cut): the next call says so, commit fails, and nothing of the
 * transaction is written.
 */
static void test_store__postgres_connection_lost_mid_transaction(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct store_build b = { .id = S("half:2"),
				 .project = S("half"),
				 .number = 2,
				 .status = S("SUCCEEDED") };
	struct store *s, *other;

	assert_int_equal(store_open(&s, f->db, &e), 0);
	assert_int_equal(store_begin(s, &e), 0);
	put_build(s, "half:1", "half", 1, "SUCCEEDED", 1, 2);
	pgtest_admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
		     " WHERE application_name = 'slipway'"
		     " AND state = 'idle in transaction'");
	assert_int_equal(store_put_build(s, &b, &e), -1);
	assert_int_equal(e.code, ERR_SYSTEM);
	assert_non_null(strstr(e.msg, "connection lost"));
	err_clear(&e);
	assert_int_equal(store_commit(s, &e), -1);
	store_close(s);
	assert_int_equal(store_open(&other, f->db, &e), 0);
	assert_int_equal(count_builds(other, "half"), 0);
	store_close(other);
}

/* A connection the server ended while it was idle is seen as lost (so
 * that a pool of them, as serve keeps, drops it rather than fail). */
static void test_store__postgres_alive_sees_a_lost_connection(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct store *s;

	assert_int_equal(store_open(&s, f->db, &e), 0);
	assert_int_equal(store_alive(s), 1);
	assert_int_equal(count_builds(s, NULL), 0);
	assert_int_equal(store_alive(s), 1);
	/* the timeout: it returns once the backend has exited */
	pgtest_admin("SELECT pg_terminate_backend(pid, 10000)"
		     " FROM pg_stat_activity"
		     " WHERE application_name = 'slipway'");
	assert_int_equal(store_alive(s), 0);
	assert_int_equal(store_put_build(s,
					 &(struct store_build){
						 .id = S("x:1"),
						 .project = S("x"),
						 .status = S("SUCCEEDED") },
					 &e),
			 -1);
	store_close(s);
}

/*
 * The role of docs/scale.md: once the owner has migrated the schema, a
 * role with USAGE on it, the four DML rights on its tables and USAGE on
 * its sequences can do all that slipway does (its queue's trigger
 * included); without them it cannot
 * even open an empty schema (it would have to make tables).
 */
static void test_store__postgres_least_privileged_role(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct store_execution x = { .id = S("pe-r"),
				     .pipeline = S("r"),
				     .status = S("InProgress") };
	struct store_stage g = { .execution_id = S("pe-r"),
				 .stage = S("Build"),
				 .status = S("InProgress") };
	struct store *s;
	char role[48], *q, *url;
	const char *at = strchr(f->db, '@');

	snprintf(role, sizeof(role), "r_%s", f->schema);
	q = xasprintf("CREATE ROLE %s LOGIN; GRANT USAGE ON SCHEMA %s TO %s",
		      role, f->schema, role);
	pgtest_admin(q);
	free(q);
	url = xasprintf("postgresql://%s%s", role, at);

	/* an empty schema: no right to make the tables */
	assert_int_equal(store_open(&s, url, &e), -1);
	assert_non_null(strstr(e.msg, "permission denied"));
	err_clear(&e);

	assert_int_equal(store_open(&s, f->db, &e), 0); /* the owner */
	store_close(s);
	q = xasprintf("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES"
		      " IN SCHEMA %s TO %s;"
		      " GRANT USAGE ON ALL SEQUENCES IN SCHEMA %s TO %s",
		      f->schema, role, f->schema, role);
	pgtest_admin(q);
	free(q);
	assert_int_equal(store_open(&s, url, &e), 0);
	put_build(s, "r:1", "r", 1, "SUCCEEDED", 1, 2);
	assert_int_equal(store_begin(s, &e), 0);
	assert_int_equal(store_put_execution(s, &x, &e), 0);
	assert_int_equal(store_put_stage(s, &g, &e), 0);
	assert_int_equal(store_append_event(s, "pe-r", 1, "{}", NULL, &e), 0);
	assert_int_equal(store_commit(s, &e), 0);
	assert_int_equal(store_delete_execution(s, "pe-r", &e), 0);
	assert_int_equal(count_builds(s, NULL), 1);
	/* the queue too: its trigger notifies listeners, with no grant */
	{
		struct store_job j = { .id = S("j-r"),
				       .kind = S("build"),
				       .spec = S("{}") };

		assert_true(store_job_listen(s, &e) >= 0);
		assert_int_equal(store_job_enqueue(s, &j, &e), 0);
		memset(&j, 0, sizeof(j));
		assert_int_equal(store_job_claim(s, "w", NULL, 0, 1, &j, &e),
				 0);
		store_job_release(&j);
		assert_int_equal(store_job_reap(s, 5, NULL, NULL, &e), 0);
		assert_int_equal(store_job_notified(s), 2);
	}
	store_close(s);
	q = xasprintf("SET search_path = %s; DROP OWNED BY %s; DROP ROLE %s",
		      f->schema, role, role);
	pgtest_admin(q);
	free(q);
	free(url);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

#define BOTH                                                                   \
	T(test_store__creates_the_newest_schema),                              \
		T(test_store__migrates_from_every_earlier_version),            \
		T(test_store__refuses_a_newer_schema),                         \
		T(test_store__builds_crud),                                    \
		T(test_store__lists_newest_first_with_filters),                \
		T(test_store__deployments_crud),                               \
		T(test_store__executions_and_their_rows),                      \
		T(test_store__racing_processes_lose_nothing),                  \
		T(test_store__killed_in_a_transaction_leaves_nothing),         \
		T(test_store__begin_serializes_read_then_write),               \
		T(test_store__transactions), T(test_store__meta)

int main(void)
{
	const struct CMUnitTest on_sqlite[] = {
		BOTH,
		T(test_store__killed_writer_leaves_a_usable_db),
		T(test_store__removed_store_leaves_no_frames_in_the_new),
		T(test_store__not_a_database_is_moved_aside),
		T(test_store__racing_first_opens_make_one_store),
		T(test_store__wal_is_checkpointed_at_200_pages),
		T(test_store__unwritable_place_is_reported),
	};
	const struct CMUnitTest on_postgres[] = {
		BOTH,
		T(test_store__postgres_unreachable_is_reported),
		T(test_store__postgres_connection_lost_mid_transaction),
		T(test_store__postgres_alive_sees_a_lost_connection),
		T(test_store__postgres_least_privileged_role),
	};
	int ret;

	ret = cmocka_run_group_tests_name("store on sqlite", on_sqlite, NULL,
					  NULL);
	ret |= pgtest_run_group("store on postgresql", on_postgres,
				ARRAY_SIZE(on_postgres), NULL, NULL);
	return ret;
}
