#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <malloc.h>
#include <string.h>

#include "buf.h"
#include "banned.h"

/*
 * A buffer only grown is an empty string, whatever the allocator left in
 * the new memory (M_PERTURB fills it with a byte not 0; a sanitizer's
 * allocator ignores it). A reader that grows, reads nothing and looks at
 * buf_cstr() saw that garbage.
 */
static void test_buf__grown_is_a_string(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	mallopt(M_PERTURB, 0x5a);
	buf_grow(&b, 4096);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_cstr(&b), "");
	buf_addstr(&b, "abc");
	buf_grow(&b, 1 << 20);
	assert_string_equal(buf_cstr(&b), "abc");
	mallopt(M_PERTURB, 0);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf__grown_is_a_string),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
