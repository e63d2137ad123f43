#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs.h"
#include "resume.h"
#include "xalloc.h"

static void test_resume__rebase(void **state)
{
	char *s;

	(void)state;
	s = resume_rebase("/old/b/src:/usr/bin:/old/b/src/x", "/old/b",
			  "/new/bb");
	assert_string_equal(s, "/new/bb/src:/usr/bin:/new/bb/src/x");
	free(s);
	s = resume_rebase("nothing here", "/old", "/new");
	assert_string_equal(s, "nothing here");
	free(s);
	s = resume_rebase("", "/old", "/new");
	assert_string_equal(s, "");
	free(s);
	s = resume_rebase("/old", "", "/new");
	assert_string_equal(s, "/old");
	free(s);
}

static void test_resume__save_load(void **state)
{
	char dir[] = "/tmp/sw-resume-XXXXXX";
	struct resume_rec rec = RESUME_REC_INIT, back = RESUME_REC_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *path;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	rec.build_id = xstrdup("p:1");
	rec.project = xstrdup("p");
	rec.phase = xstrdup("BUILD");
	rec.src_dir = xasprintf("%s/codebuild/output/src1/src", dir);
	rec.build_src = xstrdup(rec.src_dir);
	rec.build_dir = xstrdup(dir);
	rec.cwd = xstrdup("/x/y");
	strvec_push(&rec.env, "A=1");
	strvec_push(&rec.env, "B=two=2\nlines \"q\"");
	assert_int_equal(resume_save(dir, &rec, &e), 0);
	path = fs_join(dir, "phases/BUILD.json");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(resume_load(dir, "BUILD", &back, &e), 0);
	assert_string_equal(back.project, "p");
	assert_string_equal(back.cwd, "/x/y");
	assert_string_equal(back.src_dir, rec.src_dir);
	assert_null(back.repo_url);
	assert_int_equal(back.env.nr, 2);
	assert_string_equal(back.env.v[1], "B=two=2\nlines \"q\"");
	resume_rec_release(&back);
	/* a phase the build never started */
	assert_int_equal(resume_load(dir, "POST_BUILD", &back, &e), -1);
	assert_int_equal(e.code, ERR_USAGE);
	resume_rec_release(&back);
	/* a damaged record */
	err_clear(&e);
	assert_int_equal(fs_write_atomic(path, "{\"x\":", 5, 0600, &e), 0);
	assert_int_equal(resume_load(dir, "BUILD", &back, &e), -1);
	assert_int_equal(e.code, ERR_SPEC);
	resume_rec_release(&back);
	resume_rec_release(&rec);
	free(path);
	fs_remove_tree(dir, &e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resume__rebase),
		cmocka_unit_test(test_resume__save_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
