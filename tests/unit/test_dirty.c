#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "dirty.h"
#include "fs.h"
#include "xalloc.h"

#include "banned.h"

/*
 * libgit2 1.5 leaks a pcre2 match block per failed regex match (fixed
 * upstream in libgit2 pull request 6382); not ours to report.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libpcre2-8.so\n";
}

static char top[64];
static int nrepo;

/* sh -c script in dir; its exit status. */
static int sh(const char *dir, const char *script)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid) {
		if (chdir(dir) < 0)
			_exit(127);
		execl("/bin/sh", "sh", "-ec", script, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * A new work tree: a file, a directory two deep with an executable, a
 * symlink, a .gitignore (*.log and build/) and build/kept.txt tracked in
 * spite of it, committed; "sleep" makes the index older than every file.
 */
static char *make_repo(bool settle)
{
	char *dir = xasprintf("%s/r%d", top, ++nrepo);
	char *script = xasprintf(
		"mkdir -p '%s' && cd '%s' && git init -q -b main . && "
		"printf 'a\\n' >a.txt && mkdir -p dir/sub build && "
		"printf 'b\\n' >dir/b.txt && printf '#!/bin/sh\\n' "
		">dir/sub/c.sh && chmod +x dir/sub/c.sh && ln -s a.txt link && "
		"printf '*.log\\nbuild/\\n' >.gitignore && "
		"printf 'kept\\n' >build/kept.txt && git add -A && "
		"git add -f build/kept.txt && git commit -qm one%s",
		dir, dir,
		settle ? " && sleep 0.05 && git update-index --really-refresh"
		       : "");

	assert_int_equal(sh(top, script), 0);
	free(script);
	return dir;
}

struct scenario {
	const char *name;
	const char *script; /* run in the work tree */
	enum dirty_verdict quick;
	bool dirty;
};

/*
 * The quick pass answers as expected, and the answer dirty_worktree()
 * gives is the full libgit2 status's.
 */
static void check(const char *dir, const struct scenario *s)
{
	git_repository *repo = NULL;
	enum dirty_verdict v;
	bool full, dirty;

	assert_int_equal(git_repository_open(&repo, dir), 0);
	v = dirty_quick(repo, ".slipway");
	full = dirty_status(repo, ".slipway");
	git_repository_free(repo);
	dirty = dirty_worktree(dir, ".slipway");
	if (v != s->quick || full != s->dirty || dirty != s->dirty)
		fail_msg(
			"%s: quick %d (want %d), status %d, dirty %d (want %d)",
			s->name, v, s->quick, full, dirty, s->dirty);
}

static void run_scenarios(const struct scenario *s, size_t n, bool settle)
{
	for (size_t i = 0; i < n; i++) {
		char *dir = make_repo(settle);

		if (sh(dir, s[i].script))
			fail_msg("%s: the script failed", s[i].name);
		check(dir, &s[i]);
		free(dir);
	}
}

static const struct scenario clean_cases[] = {
	{ "clean", "true", DIRTY_CLEAN, false },
	{ "an mtime moved, content kept", "touch -d '+1 hour' a.txt",
	  DIRTY_CLEAN, false },
	{ "a file rewritten as it was", "printf 'a\\n' >a.txt", DIRTY_CLEAN,
	  false },
	{ "an ignored file", "echo x >x.log && echo y >dir/sub/y.log",
	  DIRTY_CLEAN, false },
	{ "an untracked file in an ignored directory with tracked files",
	  "echo o >build/out.o", DIRTY_CLEAN, false },
	{ "an untracked directory of ignored files",
	  "mkdir -p new/deep && echo x >new/deep/x.log", DIRTY_CLEAN, false },
	{ "an empty untracked directory", "mkdir -p empty/er", DIRTY_CLEAN,
	  false },
	{ "a nested repository with nothing but .git",
	  "mkdir nested && git -C nested init -q", DIRTY_CLEAN, false },
	{ "the state directory",
	  "mkdir -p .slipway/builds && echo s "
	  ">.slipway/builds/x",
	  DIRTY_CLEAN, false },
	{ "a fifo", "mkfifo dir/pipe", DIRTY_CLEAN, false },
	{ "a symlink to a directory, named as ignored directories are",
	  "echo 'lnk/' >>.gitignore && git commit -qam lnk && ln -s dir lnk",
	  DIRTY_CLEAN, false },
};

static const struct scenario changed_cases[] = {
	{ "a file grown", "echo more >>a.txt", DIRTY_CHANGED, true },
	{ "a file rewritten, same size", "printf 'z\\n' >dir/b.txt",
	  DIRTY_CHANGED, true },
	{ "same size, mtime set back",
	  "touch -r a.txt /tmp/.dirty-ref.$$ && printf 'z\\n' >a.txt && "
	  "touch -r /tmp/.dirty-ref.$$ a.txt && rm /tmp/.dirty-ref.$$",
	  DIRTY_CHANGED, true },
	{ "an executable bit", "chmod +x a.txt", DIRTY_CHANGED, true },
	{ "an executable bit removed", "chmod -x dir/sub/c.sh", DIRTY_CHANGED,
	  true },
	{ "a file deleted", "rm dir/b.txt", DIRTY_CHANGED, true },
	{ "a directory deleted", "rm -r dir", DIRTY_CHANGED, true },
	{ "a directory replaced by a file", "rm -r dir && echo d >dir",
	  DIRTY_CHANGED, true },
	{ "a file replaced by a directory",
	  "rm a.txt && mkdir -p a.txt/x && "
	  "echo x >a.txt/x/y",
	  DIRTY_CHANGED, true },
	{ "a symlink retargeted", "rm link && ln -s dir/b.txt link",
	  DIRTY_CHANGED, true },
	{ "a symlink retargeted, same length", "rm link && ln -s b.txt link",
	  DIRTY_CHANGED, true },
	{ "a symlink replaced by a file", "rm link && printf a.txt >link",
	  DIRTY_CHANGED, true },
	{ "an untracked file", "echo n >new.txt", DIRTY_CHANGED, true },
	{ "an untracked file deep in an untracked directory",
	  "mkdir -p new/a/b && echo x >new/a/b/x.log && echo n >new/a/b/n",
	  DIRTY_CHANGED, true },
	{ "an untracked symlink", "ln -s nowhere dir/sub/dangling",
	  DIRTY_CHANGED, true },
	{ "a nested repository with a file",
	  "mkdir nested && git -C nested init -q && echo f >nested/f",
	  DIRTY_CHANGED, true },
	{ "a file named like the state directory", "echo s >.slipway",
	  DIRTY_UNSURE, true },
};

/* What the quick pass leaves to the full status. */
static const struct scenario unsure_cases[] = {
	{ "a staged change", "echo staged >>a.txt && git add a.txt",
	  DIRTY_UNSURE, true },
	{ "a staged change undone in the work tree",
	  "echo staged >>a.txt && git add a.txt && printf 'a\\n' >a.txt",
	  DIRTY_UNSURE, true },
	{ "a staged change in the state directory only",
	  "mkdir .slipway && echo s >.slipway/x && git add -f .slipway/x",
	  DIRTY_UNSURE, false },
	{ "a staged deletion", "git rm -q --cached dir/b.txt", DIRTY_UNSURE,
	  true },
	{ "an intent to add", "echo n >new.txt && git add -N new.txt",
	  DIRTY_UNSURE, true },
	{ "assume unchanged", "git update-index --assume-unchanged a.txt",
	  DIRTY_UNSURE, false },
	{ "core.ignorecase", "git config core.ignorecase true", DIRTY_UNSURE,
	  false },
	{ "a conflict",
	  "git checkout -q -b other && echo o >a.txt && git commit -qam o && "
	  "git checkout -q main && echo m >a.txt && git commit -qam m && "
	  "! git merge -q other >/dev/null 2>&1",
	  DIRTY_UNSURE, true },
};

static void test_dirty__clean(void **state)
{
	(void)state;
	run_scenarios(clean_cases, ARRAY_SIZE(clean_cases), true);
}

static void test_dirty__changed(void **state)
{
	(void)state;
	run_scenarios(changed_cases, ARRAY_SIZE(changed_cases), true);
}

static void test_dirty__left_to_the_status(void **state)
{
	(void)state;
	run_scenarios(unsure_cases, ARRAY_SIZE(unsure_cases), true);
}

/*
 * Files written in the same tick as the index ("racily clean"): hashed,
 * not taken for unchanged on their stat data, nor for changed.
 */
static void test_dirty__racily_clean(void **state)
{
	static const struct scenario cases[] = {
		{ "fresh, unchanged", "true", DIRTY_CLEAN, false },
		{ "fresh, rewritten", "printf 'q\\n' >a.txt", DIRTY_CHANGED,
		  true },
	};
	/* an index older than a file's recorded mtime: always racy */
	static const struct scenario future[] = {
		{ "mtime in the future",
		  "touch -d '+1 hour' a.txt && git update-index a.txt && "
		  "touch -d '+1 hour' dir/b.txt",
		  DIRTY_CLEAN, false },
	};

	(void)state;
	run_scenarios(cases, ARRAY_SIZE(cases), false);
	run_scenarios(future, ARRAY_SIZE(future), true);
}

/*
 * A file rewritten with its size kept and an index entry given the new
 * stat data over the old id: taken for unchanged while the file is older
 * than the index, as by git and libgit2, and hashed once it is not.
 */
static void test_dirty__stat_trusted_until_racy(void **state)
{
	static const struct scenario trusted = { "older than the index", "true",
						 DIRTY_CLEAN, false };
	static const struct scenario racy = { "as new as the index",
					      "touch -d '-2 hours' .git/index",
					      DIRTY_CHANGED, true };
	char *dir = make_repo(true);
	char *path = xasprintf("%s/a.txt", dir);
	git_repository *repo = NULL;
	git_index *idx = NULL;
	git_index_entry e;
	struct stat st;

	(void)state;
	assert_int_equal(sh(dir, "printf 'z\\n' >a.txt && "
				 "touch -d '-1 hour' a.txt"),
			 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(git_repository_open(&repo, dir), 0);
	assert_int_equal(git_repository_index(&idx, repo), 0);
	e = *git_index_get_bypath(idx, "a.txt", 0);
	assert_int_equal(e.file_size, st.st_size);
	e.mtime.seconds = (int32_t)st.st_mtim.tv_sec;
	e.mtime.nanoseconds = (uint32_t)st.st_mtim.tv_nsec;
	e.ctime.seconds = (int32_t)st.st_ctim.tv_sec;
	e.ctime.nanoseconds = (uint32_t)st.st_ctim.tv_nsec;
	e.ino = (uint32_t)st.st_ino;
	e.dev = (uint32_t)st.st_dev;
	e.uid = st.st_uid;
	e.gid = st.st_gid;
	assert_int_equal(git_index_add(idx, &e), 0);
	assert_int_equal(git_index_write(idx), 0);
	git_index_free(idx);
	git_repository_free(repo);
	check(dir, &trusted);
	assert_int_equal(sh(dir, racy.script), 0);
	check(dir, &racy);
	free(path);
	free(dir);
}

/* Submodules are left out, whatever their directory holds. */
static void test_dirty__submodules(void **state)
{
	static const struct scenario cases[] = {
		{ "a submodule's directory with files",
		  "git update-index --add --cacheinfo "
		  "160000,$(git rev-parse HEAD),mod && git commit -qm mod && "
		  "mkdir mod && echo x >mod/anything",
		  DIRTY_CLEAN, false },
		{ "a submodule's directory replaced by a file",
		  "git update-index --add --cacheinfo "
		  "160000,$(git rev-parse HEAD),mod && git commit -qm mod && "
		  "echo x >mod",
		  DIRTY_UNSURE, true },
		{ "a submodule's directory missing",
		  "git update-index --add --cacheinfo "
		  "160000,$(git rev-parse HEAD),libs/mod && "
		  "git commit -qm mod",
		  DIRTY_CLEAN, false },
	};

	(void)state;
	run_scenarios(cases, ARRAY_SIZE(cases), true);
}

/* No work tree: no changes, and no crash. */
static void test_dirty__not_a_work_tree(void **state)
{
	char *bare = xasprintf("%s/bare.git", top);
	char *plain = xasprintf("%s/plain", top);
	char *cmd = xasprintf("git init -q --bare '%s' && mkdir -p '%s' && "
			      "echo x >'%s/x'",
			      bare, plain, plain);

	(void)state;
	assert_int_equal(sh(top, cmd), 0);
	assert_false(dirty_worktree(bare, ".slipway"));
	assert_false(dirty_worktree(plain, ".slipway"));
	free(cmd);
	free(plain);
	free(bare);
}

/* A repository with no commit yet: left to the status. */
static void test_dirty__unborn(void **state)
{
	static const struct scenario s = { "unborn", "true", DIRTY_UNSURE,
					   true };
	char *dir = xasprintf("%s/unborn", top);
	char *cmd = xasprintf("mkdir -p '%s' && git -C '%s' init -q && "
			      "echo x >'%s/x'",
			      dir, dir, dir);

	(void)state;
	assert_int_equal(sh(top, cmd), 0);
	check(dir, &s);
	free(cmd);
	free(dir);
}

/*
 * Random edits, one after another on one work tree (some committed,
 * staged or reset): wherever the quick pass decides, it decides as the
 * full status does.
 */
static void test_dirty__agrees_with_status(void **state)
{
	static const char *const ops[] = {
		"echo $R >>f$((R % 7)).txt",
		"mkdir -p d$((R % 3)) && printf '%d\\n' $((R % 10)) "
		">d$((R % 3))/g$((R % 4))",
		"rm -f f$((R % 7)).txt",
		"rm -rf d$((R % 3))",
		"mkdir -p d$((R % 3))/u && echo u >d$((R % 3))/u/x$((R % "
		"2)).log",
		"mkdir -p d$((R % 3))/u && echo u >d$((R % 3))/u/n$((R % 2))",
		"echo t >t$((R % 3)).tmp",
		"chmod +x f$((R % 7)).txt 2>/dev/null || true",
		"touch f$((R % 7)).txt d$((R % 3))/g$((R % 4)) 2>/dev/null || "
		"true",
		"git add -A && git commit -qm c$R >/dev/null || true",
		"git add -A >/dev/null",
		"git reset -q --hard && git clean -qfd",
		"rm -f t*.tmp; rm -rf d*/u",
		"ln -sf f$((R % 7)).txt l$((R % 2))",
	};
	char *dir = xasprintf("%s/random", top);
	char *cmd = xasprintf(
		"mkdir -p '%s' && cd '%s' && git init -q -b main . && "
		"printf '*.tmp\\n*.log\\n' >.gitignore && "
		"for i in 0 1 2 3 4 5 6; do echo $i >f$i.txt; done && "
		"for d in 0 1 2; do mkdir d$d && for g in 0 1 2 3; do "
		"echo $g >d$d/g$g; done; done && git add -A && "
		"git commit -qm zero",
		dir, dir);
	unsigned int seed = 19;
	int decided = 0;

	(void)state;
	assert_int_equal(sh(top, cmd), 0);
	free(cmd);
	for (int i = 0; i < 120; i++) {
		int r = rand_r(&seed);
		char *op = xasprintf("R=%d; %s", r, ops[r % ARRAY_SIZE(ops)]);
		git_repository *repo = NULL;
		enum dirty_verdict v;
		bool full;

		if (sh(dir, op))
			fail_msg("step %d: '%s' failed", i, op);
		assert_int_equal(git_repository_open(&repo, dir), 0);
		v = dirty_quick(repo, ".slipway");
		full = dirty_status(repo, ".slipway");
		git_repository_free(repo);
		if (v != DIRTY_UNSURE) {
			decided++;
			if ((v == DIRTY_CHANGED) != full)
				fail_msg("step %d: '%s': quick %d, status %d",
					 i, op, v, full);
		}
		assert_true(dirty_worktree(dir, ".slipway") == full);
		free(op);
	}
	/* most steps are decided by the quick pass */
	assert_true(decided > 60);
	free(dir);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(top, sizeof(top), "/tmp/test_dirty.XXXXXX");
	if (!mkdtemp(top))
		return -1;
	setenv("HOME", top, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_AUTHOR_NAME", "t", 1);
	setenv("GIT_AUTHOR_EMAIL", "t@example.com", 1);
	setenv("GIT_COMMITTER_NAME", "t", 1);
	setenv("GIT_COMMITTER_EMAIL", "t@example.com", 1);
	git_libgit2_init();
	return 0;
}

static int group_teardown(void **state)
{
	struct sw_err e = SW_ERR_INIT;

	(void)state;
	git_libgit2_shutdown();
	return fs_remove_tree(top, &e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dirty__clean),
		cmocka_unit_test(test_dirty__changed),
		cmocka_unit_test(test_dirty__left_to_the_status),
		cmocka_unit_test(test_dirty__racily_clean),
		cmocka_unit_test(test_dirty__stat_trusted_until_racy),
		cmocka_unit_test(test_dirty__submodules),
		cmocka_unit_test(test_dirty__not_a_work_tree),
		cmocka_unit_test(test_dirty__unborn),
		cmocka_unit_test(test_dirty__agrees_with_status),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
