/*
 * pgtest: the store's unit tests run a second time on PostgreSQL, on a
 * server that tests/pg.sh starts (initdb in a temporary directory, a
 * Unix socket only) and stops; each case in a schema of its own.
 *
 *   ret = cmocka_run_group_tests_name("x on sqlite", tests, NULL, NULL);
 *   ret |= pgtest_run_group("x on postgresql", tests, n, NULL, NULL);
 *   -- sets pgtest_url while it runs; setup: pgtest_schema_new()
 *
 * Code that finds the store by itself (store_locate()) is pointed at a
 * schema with SLIPWAY_DB: pgtest_env_setup/teardown as group fixtures.
 *
 * Where the binaries are missing it says so (a TAP comment) and passes;
 * a server that does not start is a failed test. SLIPWAY_PG_SH names the
 * script when the test does not run from the top of the source tree.
 */
#ifndef SW_PGTEST_H
#define SW_PGTEST_H

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xalloc.h"

/* The server's URL while the PostgreSQL group runs, else NULL. */
static const char *pgtest_url;

/* Run sql on the server as its superuser; a failure fails the test. */
static inline void pgtest_admin(const char *sql)
{
	PGconn *c = PQconnectdb(pgtest_url);
	PGresult *r;

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("%s", PQerrorMessage(c));
	PQclear(PQexec(c, "SET client_min_messages = warning"));
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

/* A new schema (its name into schema): the store location that uses it. */
static inline char *pgtest_schema_new(char *schema, size_t size)
{
	static int n;
	char *q;

	snprintf(schema, size, "t%d_%d", (int)getpid(), ++n);
	q = xasprintf("CREATE SCHEMA %s", schema);
	pgtest_admin(q);
	free(q);
	return xasprintf("%s&options=-csearch_path%%3D%s", pgtest_url, schema);
}

static inline void pgtest_schema_drop(const char *schema)
{
	char *q = xasprintf("DROP SCHEMA %s CASCADE", schema);

	pgtest_admin(q);
	free(q);
}

static char pgtest_env_schema[32];

/* SLIPWAY_DB: a new schema of the server, for the whole group. */
static inline void pgtest_env_setup(void)
{
	char *url =
		pgtest_schema_new(pgtest_env_schema, sizeof(pgtest_env_schema));

	setenv("SLIPWAY_DB", url, 1);
	free(url);
}

static inline void pgtest_env_teardown(void)
{
	unsetenv("SLIPWAY_DB");
	pgtest_schema_drop(pgtest_env_schema);
}

static inline const char *pgtest_sh(void)
{
	const char *sh = getenv("SLIPWAY_PG_SH");

	return sh ? sh : "tests/pg.sh";
}

static inline int pgtest_run_group(const char *name,
				   const struct CMUnitTest *tests, size_t n,
				   CMFixtureFunction group_setup,
				   CMFixtureFunction group_teardown)
{
	char *cmd, line[512] = "";
	FILE *p;
	pid_t pid;
	int status, ret;

	cmd = xasprintf("%s start", pgtest_sh());
	p = popen(cmd, "r");
	free(cmd);
	if (!p || !fgets(line, sizeof(line), p))
		line[0] = '\0';
	status = p ? pclose(p) : -1;
	line[strcspn(line, "\n")] = '\0';
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
		printf("# %s: skipped, PostgreSQL binaries (initdb, pg_ctl) "
		       "not found\n",
		       name);
		return 0;
	}
	if (status != 0 || !line[0]) {
		printf("not ok - %s: %s start failed\n", name, pgtest_sh());
		return 1;
	}
	pgtest_url = line;
	ret = _cmocka_run_group_tests(name, tests, n, group_setup,
				      group_teardown);
	pgtest_url = NULL;
	pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", pgtest_sh(), "stop", line, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	return ret;
}

#endif
