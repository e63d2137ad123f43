#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs.h"
#include "pgtest.h"
#include "store.h"
#include "xalloc.h"

#define S(lit) ((char *)(lit))
#define LEASE 10000

/* Each case runs on SQLite, then on PostgreSQL (pgtest.h). */
struct fixture {
	char dir[32];
	char *db;
	char schema[32];
	struct store *s;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct sw_err e = SW_ERR_INIT;

	strcpy(f->dir, "/tmp/sw-jobs-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	if (pgtest_url)
		f->db = pgtest_schema_new(f->schema, sizeof(f->schema));
	else
		f->db = fs_join(f->dir, "slipway.db");
	if (store_open(&f->s, f->db, &e) < 0) {
		fprintf(stderr, "%s\n", e.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;

	store_close(f->s);
	if (pgtest_url)
		pgtest_schema_drop(f->schema);
	fs_remove_tree(f->dir, &e);
	free(f->db);
	free(f);
	return 0;
}

static void enqueue(struct store *s, const char *id, const char *kind,
		    const char *labels, int64_t when)
{
	struct sw_err e = SW_ERR_INIT;
	struct store_job j = { .id = S(id),
			       .kind = S(kind),
			       .spec = S("{\"argv\":[\"true\"]}"),
			       .labels = S(labels),
			       .enqueued_ms = when };

	if (store_job_enqueue(s, &j, &e) < 0)
		fail_msg("%s", e.msg);
}

static void test_jobs__labels_match(void **state)
{
	(void)state;
	assert_true(store_job_labels_match(NULL, NULL));
	assert_true(store_job_labels_match("", "linux"));
	assert_true(store_job_labels_match("linux", "linux,big"));
	assert_true(store_job_labels_match(" big , linux", "linux,big"));
	assert_false(store_job_labels_match("linux,big", "linux"));
	assert_false(store_job_labels_match("linux", NULL));
	assert_false(store_job_labels_match("lin", "linux"));
	assert_false(store_job_labels_match("linux", "lin"));
}

static void test_jobs__claim_heartbeat_complete(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct store_job j = { 0 };

	enqueue(f->s, "j-1", "build", NULL, 100);
	enqueue(f->s, "j-2", "build", "big", 50);
	/* oldest fitting first: j-2 needs 'big', which w1 lacks */
	assert_int_equal(
		store_job_claim(f->s, "w1", "linux", 1000, LEASE, &j, &e), 0);
	assert_string_equal(j.id, "j-1");
	assert_string_equal(j.status, "claimed");
	assert_string_equal(j.owner, "w1");
	assert_int_equal(j.lease_ms, 1000 + LEASE);
	assert_int_equal(j.attempt, 1);
	store_job_release(&j);
	assert_int_equal(
		store_job_claim(f->s, "w1", "linux", 1000, LEASE, &j, &e), 1);
	assert_int_equal(
		store_job_claim(f->s, "w2", "linux,big", 1000, LEASE, &j, &e),
		0);
	assert_string_equal(j.id, "j-2");
	store_job_release(&j);

	assert_int_equal(
		store_job_heartbeat(f->s, "j-1", "w1", 2000, LEASE, &e), 0);
	/* not the holder */
	assert_int_equal(
		store_job_heartbeat(f->s, "j-1", "w2", 2000, LEASE, &e), 1);
	assert_int_equal(store_job_complete(f->s, "j-1", "w2", "Succeeded",
					    NULL, NULL, 3000, &e),
			 1);
	assert_int_equal(store_job_complete(f->s, "j-1", "w1", "Succeeded",
					    "{\"exit\":0}", NULL, 3000, &e),
			 0);
	assert_int_equal(store_job_get(f->s, "j-1", &j, &e), 0);
	assert_string_equal(j.status, "done");
	assert_string_equal(j.outcome, "Succeeded");
	assert_string_equal(j.result, "{\"exit\":0}");
	assert_int_equal(j.ended_ms, 3000);
	store_job_release(&j);
	/* done: no more heartbeats */
	assert_int_equal(
		store_job_heartbeat(f->s, "j-1", "w1", 4000, LEASE, &e), 1);
	assert_int_equal(store_job_get(f->s, "j-9", &j, &e), 1);
}

static void test_jobs__reap_requeues_a_build_fails_a_deploy(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct store_job j = { 0 };
	long nq = -1, nf = -1;

	enqueue(f->s, "j-b", "build", NULL, 1);
	enqueue(f->s, "j-d", "deploy", NULL, 2);
	assert_int_equal(store_job_claim(f->s, "w1", NULL, 0, LEASE, &j, &e),
			 0);
	store_job_release(&j);
	assert_int_equal(store_job_claim(f->s, "w1", NULL, 0, LEASE, &j, &e),
			 0);
	store_job_release(&j);
	/* not expired yet */
	assert_int_equal(store_job_reap(f->s, LEASE, &nq, &nf, &e), 0);
	assert_int_equal(nq + nf, 0);
	assert_int_equal(store_job_reap(f->s, LEASE + 1, &nq, &nf, &e), 0);
	assert_int_equal(nq, 1);
	assert_int_equal(nf, 1);

	assert_int_equal(store_job_get(f->s, "j-b", &j, &e), 0);
	assert_string_equal(j.status, "queued");
	assert_int_equal(j.attempt, 2);
	assert_null(j.owner);
	assert_string_equal(j.reason,
			    "worker 'w1' lost its lease on attempt 1");
	store_job_release(&j);
	assert_int_equal(store_job_get(f->s, "j-d", &j, &e), 0);
	assert_string_equal(j.status, "done");
	assert_string_equal(j.outcome, "Failed");
	assert_non_null(strstr(j.reason, "not run again"));
	store_job_release(&j);
	/* the dead worker's late report is refused */
	assert_int_equal(store_job_complete(f->s, "j-d", "w1", "Succeeded",
					    NULL, NULL, LEASE + 2, &e),
			 1);
	assert_int_equal(
		store_job_heartbeat(f->s, "j-b", "w1", LEASE + 2, LEASE, &e),
		1);

	/* another worker takes the build; its success keeps the reason */
	assert_int_equal(
		store_job_claim(f->s, "w2", NULL, LEASE + 3, LEASE, &j, &e), 0);
	assert_string_equal(j.id, "j-b");
	store_job_release(&j);
	assert_int_equal(store_job_complete(f->s, "j-b", "w2", "Succeeded",
					    NULL, NULL, LEASE + 4, &e),
			 0);
	assert_int_equal(store_job_get(f->s, "j-b", &j, &e), 0);
	assert_int_equal(j.attempt, 2);
	assert_string_equal(j.owner, "w2");
	assert_string_equal(j.reason,
			    "worker 'w1' lost its lease on attempt 1");
	store_job_release(&j);
}

static void test_jobs__a_build_lost_too_often_fails(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct store_job j = { 0 };
	int64_t t = 0;

	enqueue(f->s, "j-b", "build", NULL, 1);
	for (int i = 0; i < STORE_JOB_MAX_ATTEMPTS; i++) {
		assert_int_equal(store_job_claim(f->s, "w", NULL, t, 1, &j, &e),
				 0);
		store_job_release(&j);
		t += 2;
		assert_int_equal(store_job_reap(f->s, t, NULL, NULL, &e), 0);
	}
	assert_int_equal(store_job_get(f->s, "j-b", &j, &e), 0);
	assert_string_equal(j.status, "done");
	assert_string_equal(j.outcome, "Failed");
	assert_non_null(strstr(j.reason, "the last one allowed"));
	store_job_release(&j);
}

/*
 * Racing claimers, each a process with its own connection, claim until
 * the queue is empty and write down what they got: every job is claimed
 * once, by the worker the store names as its owner.
 */
#define CLAIMERS 6
#define JOBS 120
static void test_jobs__racing_claims_never_share_a_job(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct store_job *v;
	int got[JOBS] = { 0 };
	pid_t pids[CLAIMERS];
	int fds[CLAIMERS][2];
	size_t nr;

	for (int i = 0; i < JOBS; i++) {
		char id[16];

		snprintf(id, sizeof(id), "j-%03d", i);
		enqueue(f->s, id, "build", NULL, i);
	}
	for (int k = 0; k < CLAIMERS; k++) {
		assert_int_equal(pipe(fds[k]), 0);
		pids[k] = fork();
		assert_true(pids[k] >= 0);
		if (pids[k]) {
			close(fds[k][1]);
			continue;
		}
		close(fds[k][0]);
		{
			struct store *s;
			struct store_job j;
			char name[16];
			int rc;

			snprintf(name, sizeof(name), "w%d", k);
			if (store_open(&s, f->db, &e) < 0)
				_exit(1);
			while ((rc = store_job_claim(s, name, NULL, 0, LEASE,
						     &j, &e)) == 0) {
				int n = atoi(j.id + 2);

				if (write(fds[k][1], &n, sizeof(n)) !=
				    sizeof(n))
					_exit(1);
				store_job_release(&j);
			}
			store_close(s);
			_exit(rc == 1 ? 0 : 1);
		}
	}
	for (int k = 0; k < CLAIMERS; k++) {
		char name[16];
		int n, status;

		snprintf(name, sizeof(name), "w%d", k);
		while (read(fds[k][0], &n, sizeof(n)) == sizeof(n)) {
			char id[16];
			struct store_job j;

			assert_true(n >= 0 && n < JOBS);
			got[n]++;
			snprintf(id, sizeof(id), "j-%03d", n);
			assert_int_equal(store_job_get(f->s, id, &j, &e), 0);
			assert_string_equal(j.owner, name);
			store_job_release(&j);
		}
		close(fds[k][0]);
		assert_int_equal(waitpid(pids[k], &status, 0), pids[k]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	for (int i = 0; i < JOBS; i++)
		assert_int_equal(got[i], 1);
	assert_int_equal(store_list_jobs(f->s, NULL, &v, &nr, &e), 0);
	assert_int_equal(nr, JOBS);
	for (size_t i = 0; i < nr; i++)
		assert_string_equal(v[i].status, "claimed");
	store_jobs_free(v, nr);
}

/* A claim picks as store_job_labels_match() says, on either store:
 * blanks around names, empty names and "" wanting nothing. */
static void test_jobs__claim_matches_labels_as_labels_match(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	static const char *const wanted[] = { "gpu", " big , linux ", "",
					      "linux,,", "big,gpu" };
	struct store_job j;
	int got = 0;

	for (size_t i = 0; i < ARRAY_SIZE(wanted); i++) {
		char id[16];

		snprintf(id, sizeof(id), "j-%zu", i);
		enqueue(f->s, id, "build", wanted[i], (int64_t)i);
	}
	while (store_job_claim(f->s, "w", "linux, big", 0, LEASE, &j, &e) ==
	       0) {
		size_t i = (size_t)atoi(j.id + 2);

		assert_true(store_job_labels_match(wanted[i], "linux, big"));
		got++;
		store_job_release(&j);
	}
	assert_int_equal(got, 3);
}

/*
 * A lost deployment with a fallback (its rollback) has it queued as
 * "<id>-rollback", once, however many reapers race: processes with
 * connections of their own, let go at once by closing a pipe, each
 * reaping the same expired leases.
 */
#define REAPERS 6
#define DEPLOYS 20
static void test_jobs__racing_reapers_queue_each_rollback_once(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct store_job j = { 0 }, *v;
	pid_t pids[REAPERS];
	int go[2], fds[REAPERS][2];
	long total = 0, nq = -1, nf = -1;
	size_t nr, rollbacks = 0;

	for (int i = 0; i < DEPLOYS; i++) {
		char id[16];
		struct store_job d = { .id = id,
				       .kind = S("deploy"),
				       .spec = S("{\"argv\":[\"deploy\"]}"),
				       .enqueued_ms = i };

		snprintf(id, sizeof(id), "j-%03d", i);
		/* every other one has a rollback */
		d.fallback = i % 2 ? NULL : S("{\"argv\":[\"rollback\"]}");
		if (store_job_enqueue(f->s, &d, &e) < 0)
			fail_msg("%s", e.msg);
		assert_int_equal(
			store_job_claim(f->s, "w1", NULL, 0, LEASE, &j, &e), 0);
		store_job_release(&j);
	}
	assert_int_equal(pipe(go), 0);
	for (int k = 0; k < REAPERS; k++) {
		assert_int_equal(pipe(fds[k]), 0);
		pids[k] = fork();
		assert_true(pids[k] >= 0);
		if (pids[k]) {
			close(fds[k][1]);
			continue;
		}
		close(fds[k][0]);
		close(go[1]);
		{
			struct store *s;
			long q = 0, n = 0;
			char c;

			if (store_open(&s, f->db, &e) < 0 ||
			    read(go[0], &c, 1) != 0 ||
			    store_job_reap(s, LEASE + 1, &q, &n, &e) < 0) {
				fprintf(stderr, "%s\n", e.msg);
				_exit(1);
			}
			n += q * 1000;
			if (write(fds[k][1], &n, sizeof(n)) != sizeof(n))
				_exit(1);
			store_close(s);
			_exit(0);
		}
	}
	close(go[0]);
	close(go[1]);
	for (int k = 0; k < REAPERS; k++) {
		long n = 0;
		int status;

		assert_int_equal(read(fds[k][0], &n, sizeof(n)), sizeof(n));
		close(fds[k][0]);
		total += n;
		assert_int_equal(waitpid(pids[k], &status, 0), pids[k]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	/* each lease was taken back once, none queued again */
	assert_int_equal(total, DEPLOYS);
	assert_int_equal(store_job_reap(f->s, LEASE + 2, &nq, &nf, &e), 0);
	assert_int_equal(nq + nf, 0);

	assert_int_equal(store_list_jobs(f->s, NULL, &v, &nr, &e), 0);
	assert_int_equal(nr, DEPLOYS + DEPLOYS / 2);
	for (size_t i = 0; i < nr; i++) {
		size_t n = strlen(v[i].id);

		if (n > 9 && !strcmp(v[i].id + n - 9, "-rollback")) {
			char *want = xasprintf("%.*s", (int)(n - 9), v[i].id);

			rollbacks++;
			assert_int_equal(atoi(want + 2) % 2, 0);
			assert_string_equal(v[i].status, "queued");
			assert_string_equal(v[i].kind, "deploy");
			assert_string_equal(v[i].spec,
					    "{\"argv\":[\"rollback\"]}");
			assert_null(v[i].labels);
			assert_null(v[i].fallback);
			assert_int_equal(v[i].attempt, 1);
			assert_int_equal(v[i].enqueued_ms, LEASE + 1);
			free(want);
			continue;
		}
		assert_string_equal(v[i].status, "done");
		assert_string_equal(v[i].outcome, "Failed");
		if (atoi(v[i].id + 2) % 2 == 0) {
			char *want = xasprintf(
				"worker 'w1' lost its lease during the "
				"deployment; not run again; rolled back by job "
				"%s-rollback",
				v[i].id);

			assert_string_equal(v[i].reason, want);
			free(want);
		} else {
			assert_string_equal(v[i].reason,
					    "worker 'w1' lost its lease during "
					    "the deployment; not run again");
		}
	}
	assert_int_equal(rollbacks, DEPLOYS / 2);
	store_jobs_free(v, nr);

	/* a rollback lost in turn is failed, with no rollback of its own */
	assert_int_equal(
		store_job_claim(f->s, "w2", NULL, LEASE + 3, 1, &j, &e), 0);
	assert_string_equal(j.id, "j-000-rollback");
	store_job_release(&j);
	assert_int_equal(store_job_reap(f->s, LEASE + 5, &nq, &nf, &e), 0);
	assert_int_equal(nf, 1);
	assert_int_equal(store_job_get(f->s, "j-000-rollback-rollback", &j, &e),
			 1);
}

/* Wait up to 10 s for fd to be readable: 1, else 0. */
static int readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 10000) == 1;
}

/*
 * On PostgreSQL a listener is told of each job that becomes queued, by
 * another connection's enqueue or a reap that queues it again, and of
 * nothing else (a claim, a heartbeat); SQLite has nothing to listen to.
 */
static void test_jobs__a_listener_wakes_on_queued_jobs(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct store *l = NULL;
	struct store_job j = { 0 };
	int fd;

	assert_int_equal(store_open(&l, f->db, &e), 0);
	fd = store_job_listen(l, &e);
	if (!pgtest_url) {
		assert_int_equal(fd, -1);
		assert_string_equal(e.msg, "");
		assert_int_equal(store_job_notified(l), 0);
		store_close(l);
		return;
	}
	assert_true(fd >= 0);
	assert_int_equal(store_job_notified(l), 0);
	enqueue(f->s, "j-1", "build", NULL, 1);
	assert_true(readable(fd));
	assert_int_equal(store_job_notified(l), 1);
	assert_int_equal(store_job_notified(l), 0);
	/* a claim and a heartbeat queue nothing */
	assert_int_equal(store_job_claim(f->s, "w1", NULL, 0, 5, &j, &e), 0);
	store_job_release(&j);
	assert_int_equal(store_job_heartbeat(f->s, "j-1", "w1", 1, 5, &e), 0);
	/* the reap that queues it again does */
	assert_int_equal(store_job_reap(f->s, 100, NULL, NULL, &e), 0);
	assert_true(readable(fd));
	assert_int_equal(store_job_notified(l), 1);
	assert_int_equal(store_job_get(f->s, "j-1", &j, &e), 0);
	assert_string_equal(j.status, "queued");
	store_job_release(&j);
	store_close(l);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_jobs__labels_match),
		T(test_jobs__claim_heartbeat_complete),
		T(test_jobs__reap_requeues_a_build_fails_a_deploy),
		T(test_jobs__a_build_lost_too_often_fails),
		T(test_jobs__racing_claims_never_share_a_job),
		T(test_jobs__claim_matches_labels_as_labels_match),
		T(test_jobs__racing_reapers_queue_each_rollback_once),
		T(test_jobs__a_listener_wakes_on_queued_jobs),
	};

	int ret;

	ret = cmocka_run_group_tests_name("jobs on sqlite", tests, NULL, NULL);
	ret |= pgtest_run_group("jobs on postgresql", tests, ARRAY_SIZE(tests),
				NULL, NULL);
	return ret;
}
