#include "lb.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "banned.h"

static void load(struct group *g, const char *text)
{
	struct sw_err e = SW_ERR_INIT;

	if (group_parse("g.yml", "/srv", text, strlen(text), g, &e) < 0)
		fail_msg("%s", e.msg);
}

static void test_lb__config_text(void **state)
{
	struct group g = GROUP_INIT;
	struct buf b = BUF_INIT;

	(void)state;
	load(&g, "application: a\n"
		 "deployment-group: g\n"
		 "deployment-type: BLUE_GREEN\n"
		 "load-balancer:\n"
		 "  kind: haproxy\n"
		 "  managed: {listen: 127.0.0.1:8080}\n"
		 "  port: 9000\n"
		 "  health: {path: /up, interval: 250ms}\n"
		 "blue-green:\n"
		 "  replacement-hosts: [{name: green}]\n"
		 "hosts:\n"
		 "  - name: blue\n"
		 "    target: 10.0.0.2:80\n");
	lb_config_text(&g, &b);
	assert_non_null(strstr(b.ptr, "\tstats socket unix@admin.sock mode 600 "
				      "level admin\n"));
	assert_non_null(strstr(b.ptr, "\tbind 127.0.0.1:8080\n"));
	assert_non_null(strstr(b.ptr, "\toption httpchk GET /up\n"));
	assert_non_null(strstr(b.ptr, "\tdefault-server inter 250ms fastinter "
				      "250ms downinter 250ms rise 1 fall 2\n"));
	assert_non_null(strstr(b.ptr, "\tserver blue 10.0.0.2:80 check\n"));
	/* the replacement fleet waits for its AllowTraffic */
	assert_non_null(strstr(
		b.ptr, "\tserver green 127.0.0.1:9000 check disabled\n"));
	buf_release(&b);
	group_release(&g);
}

static void test_lb__dir(void **state)
{
	char *d = lb_dir("/s", "gid");

	(void)state;
	assert_string_equal(d, "/s/lb/gid");
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lb__config_text),
		cmocka_unit_test(test_lb__dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
