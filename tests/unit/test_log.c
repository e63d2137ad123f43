#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static char *drain(int fd)
{
	static char buf[8192];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* The terminal view: a line per command, a failed one's output in full,
 * build.log (the file) unchanged. */
static void test_log__pretty_view(void **state)
{
	struct log lg;
	int term[2], file[2];
	char *text;

	(void)state;
	assert_int_equal(pipe(term), 0);
	assert_int_equal(pipe(file), 0);
	log_init(&lg, term[1], file[1], NULL);
	log_set_pretty(&lg, true);
	log_agent(&lg, "Entering phase %s", "BUILD");
	log_command(&lg, "make");
	log_output(&lg, "quiet-when-ok\n", 14);
	log_command_done(&lg, 0);
	log_command(&lg, "make test\nsecond line");
	log_output(&lg, "shown-when-failed\n", 18);
	log_command_done(&lg, 2);
	log_agent(&lg, "Warning: %s", "a warning is shown");
	log_phase_complete_ms(&lg, "BUILD", "FAILED", 1500);
	text = drain(term[0]);
	assert_null(strstr(text, "[Container]"));
	assert_null(strstr(text, "quiet-when-ok"));
	assert_non_null(strstr(text, "\xe2\x9c\x93 make "));
	assert_non_null(strstr(text, "\xe2\x9c\x97 make test... "));
	assert_null(strstr(text, "second line"));
	assert_non_null(strstr(text, "  failed\nshown-when-failed\n"));
	assert_non_null(strstr(text, "  Warning: a warning is shown\n"));
	assert_non_null(strstr(text, "\xe2\x9c\x97 BUILD "));
	assert_non_null(strstr(text, "    1.5s  FAILED\n"));
	text = drain(file[0]);
	assert_non_null(strstr(text, "Running command make\n"));
	assert_non_null(strstr(text, "quiet-when-ok\n[Container]"));
	assert_non_null(strstr(text, "Phase complete: BUILD State: FAILED\n"));
	assert_null(strstr(text, "\xe2\x9c"));
	log_release(&lg);
	close(term[0]);
	close(term[1]);
	close(file[0]);
	close(file[1]);
}

static void test_log__agent_line_format(void **state)
{
	struct log lg;
	int p[2];
	regex_t re;
	char *text;

	(void)state;
	assert_int_equal(pipe(p), 0);
	log_init(&lg, -1, p[1], NULL);
	assert_false(lg.color); /* not a terminal */
	log_agent(&lg, "Entering phase %s", "BUILD");
	text = drain(p[0]);
	assert_int_equal(regcomp(&re,
				 "^\\[Container\\] [0-9]{4}/[0-9]{2}/[0-9]{2} "
				 "[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6} "
				 "Entering phase BUILD\n$",
				 REG_EXTENDED | REG_NOSUB),
			 0);
	assert_int_equal(regexec(&re, text, 0, NULL, 0), 0);
	regfree(&re);
	log_release(&lg);
	close(p[0]);
	close(p[1]);
}

static void test_log__output_raw_and_newline_before_agent(void **state)
{
	struct log lg;
	int p[2];
	char *text;

	(void)state;
	assert_int_equal(pipe(p), 0);
	log_init(&lg, -1, p[1], NULL);
	log_output(&lg, "no newline", 10);
	log_phase_complete(&lg, "BUILD", "FAILED");
	text = drain(p[0]);
	assert_non_null(strstr(text, "no newline\n[Container] "));
	assert_non_null(strstr(text, "Phase complete: BUILD State: FAILED\n"));
	assert_null(strstr(text, "\033")); /* no colour in files */
	log_release(&lg);
	close(p[0]);
	close(p[1]);
}

static void test_log__masks_output_and_agent_lines(void **state)
{
	struct mask m = MASK_INIT;
	struct log lg;
	int p[2];
	char *text;

	(void)state;
	mask_add(&m, "s3cr3t");
	assert_int_equal(pipe(p), 0);
	log_init(&lg, -1, p[1], &m);
	log_output(&lg, "a s3c", 5);
	log_output(&lg, "r3t b\n", 6);
	log_agent(&lg, "Running command echo s3cr3t");
	text = drain(p[0]);
	assert_null(strstr(text, "s3cr3t"));
	assert_non_null(strstr(text, "a *** b\n"));
	assert_non_null(strstr(text, "Running command echo ***"));
	log_release(&lg);
	mask_release(&m);
	close(p[0]);
	close(p[1]);
}

static void test_log__quiet_keeps_file(void **state)
{
	struct log lg;
	int term[2], file[2];
	char *text;

	(void)state;
	assert_int_equal(pipe(term), 0);
	assert_int_equal(pipe(file), 0);
	log_init(&lg, term[1], file[1], NULL);
	lg.quiet = true;
	log_output(&lg, "hello\n", 6);
	close(term[1]);
	text = drain(term[0]);
	assert_string_equal(text, "");
	text = drain(file[0]);
	assert_string_equal(text, "hello\n");
	log_release(&lg);
	close(term[0]);
	close(file[0]);
	close(file[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log__agent_line_format),
		cmocka_unit_test(test_log__pretty_view),
		cmocka_unit_test(test_log__output_raw_and_newline_before_agent),
		cmocka_unit_test(test_log__masks_output_and_agent_lines),
		cmocka_unit_test(test_log__quiet_keeps_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
