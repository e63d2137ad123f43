#include "poll.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "fs.h"
#include "pgtest.h"
#include "pipeline.h"
#include "source.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

struct world {
	char dir[64];
	char *repo; /* work tree on main */
	char *state;
	char *mirrors; /* <state>/sources */
};

static struct world w;

/* Run git in cwd; its stdout (trimmed) in *out when out is not NULL. */
static int git(const char *cwd, char **out, ...)
{
	struct strvec argv = STRVEC_INIT;
	struct buf b = BUF_INIT;
	const char *a;
	va_list ap;
	int fds[2], status = -1;
	pid_t pid;

	strvec_push(&argv, "git");
	va_start(ap, out);
	while ((a = va_arg(ap, const char *)))
		strvec_push(&argv, a);
	va_end(ap);
	if (pipe(fds) < 0)
		goto out;
	pid = fork();
	if (pid < 0)
		goto out;
	if (!pid) {
		int null = open("/dev/null", O_WRONLY);

		dup2(fds[1], 1);
		dup2(null, 2);
		close(fds[0]);
		if (chdir(cwd) < 0)
			_exit(127);
		execvp(argv.v[0], argv.v);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		char chunk[4096];
		ssize_t n = read(fds[0], chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf_add(&b, chunk, (size_t)n);
	}
	close(fds[0]);
	if (waitpid(pid, &status, 0) < 0)
		status = -1;
out:
	while (b.len && b.ptr[b.len - 1] == '\n')
		buf_setlen(&b, b.len - 1);
	if (out)
		*out = buf_detach(&b);
	buf_release(&b);
	strvec_release(&argv);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Write rel in the repository and commit everything; the new commit. */
static char *commit(const char *rel, const char *text)
{
	struct sw_err e = SW_ERR_INIT;
	char *p = fs_join(w.repo, rel), *dir = xstrdup(p), *id = NULL;

	*strrchr(dir, '/') = '\0';
	assert_int_equal(fs_mkdir_p(dir, 0755, &e), 0);
	assert_int_equal(fs_write_atomic(p, text, strlen(text), 0644, &e), 0);
	assert_int_equal(git(w.repo, NULL, "add", "-A", (char *)NULL), 0);
	assert_int_equal(
		git(w.repo, NULL, "commit", "-q", "-m", rel, (char *)NULL), 0);
	assert_int_equal(git(w.repo, &id, "rev-parse", "HEAD", (char *)NULL),
			 0);
	free(p);
	free(dir);
	return id;
}

static int setup(void **state)
{
	struct sw_err e = SW_ERR_INIT;
	char *id;

	(void)state;
	snprintf(w.dir, sizeof(w.dir), "/tmp/test_poll.XXXXXX");
	assert_non_null(mkdtemp(w.dir));
	setenv("HOME", w.dir, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_AUTHOR_NAME", "t", 1);
	setenv("GIT_AUTHOR_EMAIL", "t@example.com", 1);
	setenv("GIT_COMMITTER_NAME", "t", 1);
	setenv("GIT_COMMITTER_EMAIL", "t@example.com", 1);
	w.repo = fs_join(w.dir, "web");
	w.state = fs_join(w.dir, "state");
	w.mirrors = fs_join(w.state, "sources");
	assert_int_equal(fs_mkdir_p(w.repo, 0755, &e), 0);
	assert_int_equal(fs_mkdir_p(w.state, 0755, &e), 0);
	assert_int_equal(
		git(w.repo, NULL, "init", "-q", "-b", "main", (char *)NULL), 0);
	id = commit("README", "hello\n");
	free(id);
	return 0;
}

static int teardown(void **state)
{
	struct sw_err e = SW_ERR_INIT;

	(void)state;
	fs_remove_tree(w.dir, &e);
	free(w.repo);
	free(w.state);
	free(w.mirrors);
	return 0;
}

/* A pipeline over the repository (as a file:// URL when url). */
static void load(struct pipeline *pl, const char *name, bool url,
		 const char *triggers)
{
	struct sw_err e = SW_ERR_INIT;
	char *text = xasprintf(
		"pipeline:\n"
		"  name: %s\n"
		"  stages:\n"
		"    - name: S\n"
		"      actions:\n"
		"        - name: Src\n"
		"          actionTypeId: {category: Source, owner: AWS, "
		"provider: CodeCommit, version: '1'}\n"
		"          configuration: {RepositoryName: web, BranchName: "
		"main}\n"
		"          outputArtifacts: [{name: A}]\n"
		"    - name: T\n"
		"      actions:\n"
		"        - name: C\n"
		"          actionTypeId: {category: Invoke, owner: Custom, "
		"provider: Command, version: '1'}\n"
		"          configuration: {Command: 'true'}\n"
		"  %s\n"
		"slipway:\n"
		"  sources: {web: '%s%s'}\n"
		"  poll: 30s\n",
		name, triggers ? triggers : "", url ? "file://" : "", w.repo);

	if (pipeline_parse("p.yml", w.dir, text, strlen(text), pl, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(pl->poll_seconds, 30);
	free(text);
}

static size_t poll_n(struct pipeline *pl, struct wh_start **starts)
{
	struct sw_err e = SW_ERR_INIT;
	size_t nr = 99;

	if (poll_check(pl, 3, w.state, starts, &nr, &e) < 0)
		fail_msg("%s", e.msg);
	return nr;
}

static void starts_free(struct wh_start *s, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		wh_start_release(&s[i]);
	free(s);
}

static void test_poll__branch_moves(void **state)
{
	struct pipeline pl = PIPELINE_INIT;
	struct wh_start *s = NULL;
	char *id;

	(void)state;
	load(&pl, "plain", true, NULL);
	/* the first look records what is there and starts nothing */
	assert_int_equal(poll_n(&pl, &s), 0);
	assert_null(s);
	/* nothing changed: no start, and nothing fetched */
	assert_int_equal(poll_n(&pl, &s), 0);
	assert_false(fs_exists(w.mirrors));
	id = commit("src/a.c", "int a;\n");
	assert_int_equal(poll_n(&pl, &s), 1);
	assert_int_equal(s[0].pipeline, 3);
	assert_string_equal(s[0].revision, id);
	assert_string_equal(s[0].ref, "refs/heads/main");
	assert_string_equal(s[0].source_action, "Src");
	assert_string_equal(s[0].trigger_type, "PollForSourceChanges");
	starts_free(s, 1);
	/* fetched once into the mirror the execution will use */
	assert_true(fs_is_dir(w.mirrors));
	assert_int_equal(poll_n(&pl, &s), 0);
	/* another branch is not the BranchName */
	assert_int_equal(
		git(w.repo, NULL, "checkout", "-q", "-b", "dev", (char *)NULL),
		0);
	free(id);
	id = commit("src/b.c", "int b;\n");
	assert_int_equal(poll_n(&pl, &s), 0);
	assert_int_equal(
		git(w.repo, NULL, "checkout", "-q", "main", (char *)NULL), 0);
	free(id);
	pipeline_release(&pl);
}

static void test_poll__triggers_and_paths(void **state)
{
	struct pipeline pl = PIPELINE_INIT;
	struct wh_start *s = NULL;
	char *id;

	(void)state;
	load(&pl, "filtered", false,
	     "triggers:\n"
	     "    - providerType: CodeStarSourceConnection\n"
	     "      gitConfiguration:\n"
	     "        sourceActionName: Src\n"
	     "        push:\n"
	     "          - branches: {includes: [main]}\n"
	     "            filePaths: {includes: ['src/**']}\n"
	     "          - tags: {includes: ['v*']}\n");
	assert_int_equal(poll_n(&pl, &s), 0);
	id = commit("docs/x.md", "doc\n");
	assert_int_equal(poll_n(&pl, &s), 0);
	free(id);
	id = commit("src/c.c", "int c;\n");
	assert_int_equal(poll_n(&pl, &s), 1);
	assert_string_equal(s[0].revision, id);
	starts_free(s, 1);
	assert_int_equal(
		git(w.repo, NULL, "tag", "-a", "-m", "one", "v1", (char *)NULL),
		0);
	assert_int_equal(poll_n(&pl, &s), 1);
	assert_string_equal(s[0].ref, "refs/tags/v1");
	/* an annotated tag starts its commit, not the tag object */
	assert_string_equal(s[0].revision, id);
	starts_free(s, 1);
	free(id);
	pipeline_release(&pl);
}

static void test_poll__unreachable(void **state)
{
	struct pipeline pl = PIPELINE_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct wh_start *s = (struct wh_start *)1;
	size_t nr = 5;
	char *moved = xasprintf("%s.moved", w.repo), *id;

	(void)state;
	load(&pl, "gone", true, NULL);
	assert_int_equal(poll_n(&pl, &s), 0);
	assert_int_equal(rename(w.repo, moved), 0);
	assert_int_equal(poll_check(&pl, 0, w.state, &s, &nr, &e), -1);
	assert_non_null(strstr(e.msg, "poll of pipeline 'gone': cannot list"));
	assert_null(s);
	assert_int_equal(nr, 0);
	assert_int_equal(rename(moved, w.repo), 0);
	/* what it saw before the failure still counts */
	id = commit("src/d.c", "int d;\n");
	assert_int_equal(poll_n(&pl, &s), 1);
	assert_string_equal(s[0].revision, id);
	starts_free(s, 1);
	free(id);
	free(moved);
	pipeline_release(&pl);
}

static void test_poll__two_actions_one_start(void **state)
{
	struct pipeline pl = PIPELINE_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct wh_start *s = NULL;
	char *text = xasprintf(
		"pipeline:\n"
		"  name: twice\n"
		"  stages:\n"
		"    - name: S\n"
		"      actions:\n"
		"        - name: Src\n"
		"          actionTypeId: {category: Source, owner: AWS, "
		"provider: CodeCommit, version: '1'}\n"
		"          configuration: {RepositoryName: web, BranchName: "
		"main}\n"
		"          outputArtifacts: [{name: A}]\n"
		"        - name: Src2\n"
		"          actionTypeId: {category: Source, owner: AWS, "
		"provider: CodeCommit, version: '1'}\n"
		"          configuration: {RepositoryName: web, BranchName: "
		"main}\n"
		"          outputArtifacts: [{name: B}]\n"
		"    - name: T\n"
		"      actions:\n"
		"        - name: C\n"
		"          actionTypeId: {category: Invoke, owner: Custom, "
		"provider: Command, version: '1'}\n"
		"          configuration: {Command: 'true'}\n"
		"slipway:\n"
		"  sources: {web: '%s'}\n",
		w.repo);
	char *id;

	(void)state;
	if (pipeline_parse("p.yml", w.dir, text, strlen(text), &pl, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(poll_n(&pl, &s), 0);
	id = commit("src/twice.c", "int t;\n");
	assert_int_equal(poll_n(&pl, &s), 1);
	assert_string_equal(s[0].revision, id);
	starts_free(s, 1);
	free(id);
	free(text);
	pipeline_release(&pl);
}

/* A pull request's head is only named by refs/pull/N/head: a source
 * fetch of that ref gets it into the mirror and checks it out. */
static void test_poll__pull_request_ref(void **state)
{
	struct source_opts o = SOURCE_OPTS_INIT;
	struct source_result r = SOURCE_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *url = xasprintf("file://%s", w.repo);
	char *dest = fs_join(w.dir, "pr-src"), *id;

	(void)state;
	assert_int_equal(
		git(w.repo, NULL, "checkout", "-q", "-b", "pr", (char *)NULL),
		0);
	id = commit("src/pr.c", "int pr;\n");
	assert_int_equal(
		git(w.repo, NULL, "checkout", "-q", "main", (char *)NULL), 0);
	assert_int_equal(git(w.repo, NULL, "update-ref", "refs/pull/7/head", id,
			     (char *)NULL),
			 0);
	assert_int_equal(
		git(w.repo, NULL, "branch", "-q", "-D", "pr", (char *)NULL), 0);
	o.source = url;
	o.ref = "refs/pull/7/head";
	o.dest = dest;
	o.mirror_dir = w.mirrors;
	o.no_spare = true;
	if (source_fetch(&o, &r, &e) < 0)
		fail_msg("%s", e.msg);
	assert_string_equal(r.resolved_version, id);
	source_result_release(&r);
	free(id);
	free(dest);
	free(url);
}

/* Pollers racing over one move: exactly one of them starts it. */
static void test_poll__racing_pollers(void **state)
{
	struct pipeline pl = PIPELINE_INIT;
	struct wh_start *s = NULL;
	int gate[2], total = 0;
	pid_t pids[4];
	char *id;

	(void)state;
	load(&pl, "raced", true, NULL);
	assert_int_equal(poll_n(&pl, &s), 0);
	id = commit("src/race.c", "int r;\n");
	assert_int_equal(pipe(gate), 0);
	for (int i = 0; i < 4; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (!pids[i]) {
			struct sw_err e = SW_ERR_INIT;
			size_t nr = 0;
			char c;

			close(gate[1]);
			if (read(gate[0], &c, 1) != 0)
				_exit(90);
			if (poll_check(&pl, 0, w.state, &s, &nr, &e) < 0)
				_exit(91);
			_exit((int)nr);
		}
	}
	close(gate[0]);
	close(gate[1]);
	for (int i = 0; i < 4; i++) {
		int st;

		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		assert_true(WIFEXITED(st));
		assert_true(WEXITSTATUS(st) <= 1);
		total += WEXITSTATUS(st);
	}
	assert_int_equal(total, 1);
	assert_int_equal(poll_n(&pl, &s), 0);
	free(id);
	pipeline_release(&pl);
}

/* The same, the store on PostgreSQL (pgtest.h). */
static int pg_setup(void **state)
{
	pgtest_env_setup();
	return setup(state);
}

static int pg_teardown(void **state)
{
	pgtest_env_teardown();
	return teardown(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_poll__branch_moves),
		cmocka_unit_test(test_poll__triggers_and_paths),
		cmocka_unit_test(test_poll__unreachable),
		cmocka_unit_test(test_poll__racing_pollers),
		cmocka_unit_test(test_poll__two_actions_one_start),
		cmocka_unit_test(test_poll__pull_request_ref),
	};

	int ret;

	ret = cmocka_run_group_tests_name("poll on sqlite", tests, setup,
					  teardown);
	ret |= pgtest_run_group("poll on postgresql", tests, ARRAY_SIZE(tests),
				pg_setup, pg_teardown);
	return ret;
}
