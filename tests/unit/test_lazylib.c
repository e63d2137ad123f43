#include <archive.h>
#include <git2.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "lazylib.h"

#include "banned.h"

/* Whether a file whose name contains what is mapped into this process. */
static bool mapped(const char *what)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096];
	bool found = false;

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, what) != NULL;
	fclose(f);
	return found;
}

static void test_lazylib__loaded_on_first_call(void **state)
{
	struct sw_err e = SW_ERR_INIT;
	size_t size = 0;

	(void)state;
#if defined(__x86_64__)
	/* this binary calls only functions the stubs forward */
	assert_false(mapped("libgit2"));
#endif
	assert_int_equal(lazylib_need("git2", &e), 0);
	assert_true(mapped("libgit2"));
	assert_true(git_libgit2_init() > 0);
	/* a variadic function, called through its stub the first time */
	assert_int_equal(
		git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, (size_t)123456789),
		0);
	assert_int_equal(git_libgit2_opts(GIT_OPT_GET_MWINDOW_SIZE, &size), 0);
	assert_int_equal(size, 123456789);
	/* a library not loaded by stubs, or unknown: nothing to do */
	assert_int_equal(lazylib_need("no-such-library", &e), 0);
}

/* Eight arguments, two of them on the stack, through a first call. */
static void test_lazylib__variadic_arguments_kept(void **state)
{
	struct archive *a;

	(void)state;
#if defined(__x86_64__)
	assert_false(mapped("libarchive"));
#endif
	a = archive_read_new();
	assert_non_null(a);
	archive_set_error(a, 42, "%d %d %d %d %d %s", 1, 2, 3, 4, 5, "six");
	assert_int_equal(archive_errno(a), 42);
	assert_string_equal(archive_error_string(a), "1 2 3 4 5 six");
	archive_read_free(a);
}

/* Run lazylib_resolve(sym) in a child: its exit status and stderr. */
static int resolve_in_child(struct lazylib_sym *sym, char *out, size_t len)
{
	int p[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		dup2(p[1], 2);
		close(p[0]);
		close(p[1]);
		lazylib_resolve(sym);
		_exit(0);
	}
	close(p[1]);
	while ((n = read(p[0], out + got, len - 1 - (size_t)got)) > 0)
		got += n;
	out[got] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_lazylib__missing_library_one_line(void **state)
{
	struct lazylib_lib lib = { "nosuch",
				   "libslipway-nosuch.so.0",
				   PTHREAD_MUTEX_INITIALIZER,
				   0,
				   NULL,
				   NULL };
	struct lazylib_sym sym = { NULL, "nosuch_init", &lib };
	const char *want = "slipway: cannot load libslipway-nosuch.so.0: ";
	char out[1024];

	(void)state;
	assert_int_equal(resolve_in_child(&sym, out, sizeof(out)), 111);
	assert_memory_equal(out, want, strlen(want));
	/* one line */
	assert_non_null(strchr(out, '\n'));
	assert_string_equal(strchr(out, '\n'), "\n");
	assert_null(sym.fn);
}

static void test_lazylib__missing_function_one_line(void **state)
{
	struct lazylib_lib lib = { "c", "libc.so.6", PTHREAD_MUTEX_INITIALIZER,
				   0,	NULL,	     NULL };
	struct lazylib_sym sym = { NULL, "slipway_no_such_function", &lib };
	struct lazylib_sym ok = { NULL, "getpid", &lib };
	char out[1024];
	void *fn;

	(void)state;
	assert_int_equal(resolve_in_child(&sym, out, sizeof(out)), 111);
	assert_string_equal(out, "slipway: cannot load libc.so.6: no function "
				 "slipway_no_such_function\n");
	/* found: remembered for the stub's next call */
	fn = lazylib_resolve(&ok);
	assert_non_null(fn);
	assert_ptr_equal(ok.fn, fn);
	assert_int_equal(((pid_t(*)(void))fn)(), getpid());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lazylib__loaded_on_first_call),
		cmocka_unit_test(test_lazylib__variadic_arguments_kept),
		cmocka_unit_test(test_lazylib__missing_library_one_line),
		cmocka_unit_test(test_lazylib__missing_function_one_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
