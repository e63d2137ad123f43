/*
 * ready: a word sent to a waiting deployment reaches it, or is refused;
 * none is lost, and a stop during a TERMINATION_WAIT is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs.h"
#include "proc.h"
#include "ready.h"
#include "xalloc.h"

static char *tmpdir(void)
{
	char *d = xstrdup("/tmp/sw-ready-XXXXXX");

	assert_non_null(mkdtemp(d));
	return d;
}

static void rmdir_all(char *d)
{
	struct sw_err e = SW_ERR_INIT;

	fs_remove_tree(d, &e);
	free(d);
}

static void test_ready__continue_reaches_it(void **state)
{
	char *d = tmpdir();
	struct ready_wait w = READY_WAIT_INIT;
	struct sw_err e = SW_ERR_INIT;
	enum ready_kind k = READY_TERMINATION_WAIT;

	(void)state;
	/* nothing waits yet */
	assert_int_equal(ready_send(d, READY_CONTINUE, &k, &e), -1);
	assert_int_equal(e.code, ERR_FAILED);
	err_clear(&e);
	assert_int_equal(ready_open(&w, d, READY_READY_WAIT, &e), 0);
	assert_int_equal(ready_send(d, READY_CONTINUE, &k, &e), 0);
	assert_int_equal(k, READY_READY_WAIT);
	/* the word is there before the wait: it wins at once */
	assert_int_equal(ready_wait(&w, proc_now_ms() + 60000), READY_CONTINUE);
	ready_close(&w);
	/* over: refused */
	assert_int_equal(ready_send(d, READY_STOP, &k, &e), -1);
	assert_int_equal(e.code, ERR_FAILED);
	assert_string_equal(e.msg, "does not wait for a decision any more");
	rmdir_all(d);
}

static void test_ready__expires_and_then_refuses(void **state)
{
	char *d = tmpdir();
	struct ready_wait w = READY_WAIT_INIT;
	struct sw_err e = SW_ERR_INIT;
	enum ready_kind k;
	int64_t t0 = proc_now_ms();

	(void)state;
	assert_int_equal(ready_open(&w, d, READY_READY_WAIT, &e), 0);
	assert_int_equal(ready_wait(&w, proc_now_ms() + 50), READY_EXPIRED);
	assert_true(proc_now_ms() - t0 >= 50);
	ready_close(&w);
	{
		char *fifo = fs_join(d, "control");

		assert_false(fs_exists(fifo));
		free(fifo);
	}
	assert_int_equal(ready_send(d, READY_CONTINUE, &k, &e), -1);
	rmdir_all(d);
}

static void test_ready__stop_and_termination_wait(void **state)
{
	char *d = tmpdir();
	struct ready_wait w = READY_WAIT_INIT;
	struct sw_err e = SW_ERR_INIT;
	enum ready_kind k;

	(void)state;
	assert_int_equal(ready_open(&w, d, READY_READY_WAIT, &e), 0);
	assert_int_equal(ready_send(d, READY_STOP, &k, &e), 0);
	assert_int_equal(ready_wait(&w, proc_now_ms() + 60000), READY_STOP);
	ready_close(&w);

	/* the same directory, now for original.wait: polled by hand */
	assert_int_equal(ready_open(&w, d, READY_TERMINATION_WAIT, &e), 0);
	assert_int_equal(ready_poll(&w), 0);
	assert_int_equal(ready_send(d, READY_STOP, &k, &e), -1);
	assert_int_equal(k, READY_TERMINATION_WAIT);
	assert_non_null(strstr(e.msg, "only `slipway deploy continue`"));
	err_clear(&e);
	assert_int_equal(ready_poll(&w), 0); /* the stop did not get in */
	assert_int_equal(ready_send(d, READY_CONTINUE, &k, &e), 0);
	assert_int_equal(ready_poll(&w), READY_CONTINUE);
	assert_int_equal(ready_finish(&w, READY_CONTINUE, READY_EXPIRED),
			 READY_CONTINUE);
	ready_close(&w);
	rmdir_all(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready__continue_reaches_it),
		cmocka_unit_test(test_ready__expires_and_then_refuses),
		cmocka_unit_test(test_ready__stop_and_termination_wait),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
