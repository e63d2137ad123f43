#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs.h"
#include "retire.h"
#include "xalloc.h"

#include "banned.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_retire.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	struct sw_err e = SW_ERR_INIT;

	(void)state;
	return fs_remove_tree(dir, &e);
}

static void put(const char *d, const char *rel, const char *text)
{
	struct sw_err e = SW_ERR_INIT;
	char *p = fs_join(d, rel);

	assert_int_equal(fs_write_atomic(p, text, strlen(text), 0644, &e), 0);
	free(p);
}

static bool has(const char *d, const char *rel)
{
	char *p = fs_join(d, rel);
	bool yes = fs_exists(p);

	free(p);
	return yes;
}

/*
 * builds/<project>-<uuid n> with its sources (CodeBuild's layout; src/
 * as builds made before it had, for n < 2), build.log and maybe
 * report.json
 */
static char *make_build(const char *state, const char *project, int n,
			bool done)
{
	struct sw_err e = SW_ERR_INIT;
	char *rel =
		xasprintf("builds/%s-%08d-0000-4000-8000-%012d", project, n, n);
	char *b = fs_join(state, rel);
	char *src = fs_join(b, n < 2 ? "src/deep/tree"
				     : "codebuild/output/src7/src/deep/tree");

	assert_int_equal(fs_mkdir_p(src, 0755, &e), 0);
	put(src, "file.txt", "x\n");
	put(b, "build.log", "log\n");
	if (done)
		put(b, "report.json", "{}\n");
	free(src);
	free(rel);
	usleep(20 * 1000); /* distinct birth times */
	return b;
}

/* Whether build b still has its source tree, in either layout. */
static bool has_src(const char *b)
{
	return has(b, "codebuild/output/src7/src/deep/tree/file.txt") ||
	       has(b, "src/deep/tree/file.txt");
}

/* Entries of dir other than ".lock". */
static int entries(const char *d)
{
	DIR *dh = opendir(d);
	struct dirent *de;
	int n = 0;

	while (dh && (de = readdir(dh)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, ".lock"))
			n++;
	if (dh)
		closedir(dh);
	return n;
}

/* Wait up to 10 s for the trash directory to be empty. */
static bool trash_empties(const char *state)
{
	char *trash = fs_join(state, "trash");
	bool empty = false;

	for (int i = 0; i < 200 && !(empty = !entries(trash)); i++)
		usleep(50 * 1000);
	free(trash);
	return empty;
}

static void test_retire__old_builds(void **state)
{
	struct sw_err e = SW_ERR_INIT;
	char *st = fs_join(dir, "state1");
	char *b[6], *other, *running;
	int i;

	(void)state;
	for (i = 0; i < 3; i++)
		b[i] = make_build(st, "app", i, true);
	running = make_build(st, "app", 3, false);
	other = make_build(st, "app-web", 4, true);
	for (i = 3; i < 6; i++)
		b[i] = make_build(st, "app", 10 + i, true);

	assert_int_equal(retire_old_builds(st, "app", 2, &e), 0);
	/* the newest two keep their trees, the rest keep their records */
	assert_true(has_src(b[5]));
	assert_true(has_src(b[4]));
	for (i = 0; i < 4; i++) {
		assert_false(has(b[i], "src"));
		assert_false(has(b[i], "codebuild"));
		assert_true(has(b[i], "report.json"));
		assert_true(has(b[i], "build.log"));
	}
	/* a build without a report is still running; another project */
	assert_true(has_src(running));
	assert_true(has_src(other));
	assert_true(trash_empties(st));

	/* SLIPWAY_KEEP_BUILDS when keep is negative */
	setenv("SLIPWAY_KEEP_BUILDS", "1", 1);
	assert_int_equal(retire_old_builds(st, "app", -1, &e), 0);
	unsetenv("SLIPWAY_KEEP_BUILDS");
	assert_true(has_src(b[5]));
	assert_false(has_src(b[4]));
	assert_true(has_src(running));
	assert_true(trash_empties(st));
	for (i = 0; i < 6; i++)
		free(b[i]);
	free(running);
	free(other);
	free(st);
}

static void test_retire__no_builds(void **state)
{
	struct sw_err e = SW_ERR_INIT;
	char *st = fs_join(dir, "empty");

	(void)state;
	assert_int_equal(retire_old_builds(st, "app", 10, &e), 0);
	assert_false(fs_exists(st));
	free(st);
}

static void test_retire__tree(void **state)
{
	struct sw_err e = SW_ERR_INIT;
	char *st = fs_join(dir, "state2");
	char *t = fs_join(st, "big/a/b");

	(void)state;
	assert_int_equal(fs_mkdir_p(t, 0755, &e), 0);
	put(t, "f", "f\n");
	free(t);
	t = fs_join(st, "big");
	assert_int_equal(retire_tree(st, t, &e), 0);
	assert_false(fs_exists(t));
	assert_true(trash_empties(st));
	/* a missing tree is not an error */
	assert_int_equal(retire_tree(st, t, &e), 0);
	free(t);
	free(st);
}

static const char *probe_path;

static void probe(void *data)
{
	FILE *f;
	char *tmp = xasprintf("%s.tmp", probe_path);

	(void)data;
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%ld %ld %ld %d\n", (long)getppid(), (long)getsid(0),
		(long)getpid(), getpriority(PRIO_PROCESS, 0));
	fclose(f);
	rename(tmp, probe_path);
	free(tmp);
}

static void test_retire__detached(void **state)
{
	long ppid = 0, sid = 0, pid = 0;
	int nice_value = 0, reaper = 0;
	char *p = fs_join(dir, "probe");
	FILE *f = NULL;

	(void)state;
	/* as slipway is: orphans would come back to us */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	probe_path = p;
	assert_int_equal(retire_detached(probe, NULL), 0);
	assert_int_equal(prctl(PR_GET_CHILD_SUBREAPER, &reaper), 0);
	assert_int_equal(reaper, 1);
	for (int i = 0; i < 200 && !(f = fopen(p, "r")); i++)
		usleep(50 * 1000);
	assert_non_null(f);
	assert_int_equal(
		fscanf(f, "%ld %ld %ld %d", &ppid, &sid, &pid, &nice_value), 4);
	fclose(f);
	assert_true(ppid != (long)getpid());
	assert_int_equal(sid, pid);
	assert_int_equal(nice_value, 19);
	prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retire__old_builds),
		cmocka_unit_test(test_retire__no_builds),
		cmocka_unit_test(test_retire__tree),
		cmocka_unit_test(test_retire__detached),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
