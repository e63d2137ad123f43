/*
 * agent_proto: what an agent writes, a driver reads back the same, in any
 * split of the stream; junk and unknown lines are counted and ignored.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent_proto.h"
#include "buf.h"
#include "xalloc.h"

struct seen {
	struct buf text;
	int events;
};

static void on_event(const struct agent_event *ev, void *data)
{
	struct seen *s = data;

	s->events++;
	buf_addf(&s->text, "E %s %s\n", appspec_event_name(ev->event),
		 agent_status_name(ev->status));
}

static void on_line(enum appspec_event event, enum script_stream stream,
		    const char *line, size_t len, void *data)
{
	struct seen *s = data;

	buf_addf(&s->text, "L %s %d %.*s\n", appspec_event_name(event),
		 (int)stream, (int)len, line);
}

/* What an agent writes for one failed deployment. */
static char *sample(size_t *len)
{
	struct agent_event ev = { 0 };
	struct agent_result r = AGENT_RESULT_INIT;
	char *text = NULL;
	FILE *fp = open_memstream(&text, len);

	assert_non_null(fp);
	agent_proto_hello(fp);
	ev.event = APPSPEC_AFTER_INSTALL;
	ev.status = AGENT_IN_PROGRESS;
	ev.start_ms = 1764120000123;
	agent_proto_event(fp, &ev);
	agent_proto_line(fp, APPSPEC_AFTER_INSTALL, SCRIPT_STDOUT,
			 "quote \" tab \t ünï", strlen("quote \" tab \t ünï"));
	agent_proto_line(fp, APPSPEC_AFTER_INSTALL, SCRIPT_STDERR, "a\nb", 3);
	ev.status = AGENT_FAILED;
	ev.end_ms = 1764120000999;
	ev.error_code = xstrdup("ScriptFailed");
	ev.script_name = xstrdup("scripts/a.sh");
	ev.message = xstrdup("Script at specified location: scripts/a.sh "
			     "failed with exit code 3");
	ev.log_tail = xstrdup("[stdout]x\n");
	agent_proto_event(fp, &ev);
	r.status = AGENT_FAILED;
	r.exit = 1;
	r.message = xstrdup("AfterInstall failed");
	r.start_ms = 1;
	r.end_ms = 2;
	agent_proto_result(fp, &r);
	assert_int_equal(fclose(fp), 0);
	free(ev.error_code);
	free(ev.script_name);
	free(ev.message);
	free(ev.log_tail);
	agent_result_release(&r);
	return text;
}

static void check(const struct agent_result *r, const struct seen *s,
		  const struct agent_proto_reader *rd)
{
	const struct agent_event *ev = &r->events[APPSPEC_AFTER_INSTALL];

	assert_true(rd->got_hello);
	assert_true(rd->got_result);
	assert_int_equal(rd->bad_lines, 0);
	assert_int_equal(r->status, AGENT_FAILED);
	assert_int_equal(r->exit, 1);
	assert_string_equal(r->message, "AfterInstall failed");
	assert_int_equal(ev->status, AGENT_FAILED);
	assert_true(ev->included);
	assert_int_equal(ev->start_ms, 1764120000123);
	assert_int_equal(ev->end_ms, 1764120000999);
	assert_string_equal(ev->error_code, "ScriptFailed");
	assert_string_equal(ev->script_name, "scripts/a.sh");
	assert_string_equal(ev->log_tail, "[stdout]x\n");
	assert_int_equal(s->events, 2);
	assert_string_equal(s->text.ptr,
			    "E AfterInstall InProgress\n"
			    "L AfterInstall 0 quote \" tab \t ünï\n"
			    "L AfterInstall 1 a\nb\n"
			    "E AfterInstall Failed\n");
}

static void test_agent_proto__round_trip_any_split(void **state)
{
	size_t len;
	char *text = sample(&len);

	(void)state;
	/* every split point, and byte by byte */
	for (size_t cut = 0; cut <= len; cut += 7) {
		struct agent_result r;
		struct agent_proto_reader rd;
		struct seen s = { BUF_INIT, 0 };

		agent_proto_reader_init(&rd, &r);
		rd.on_event = on_event;
		rd.on_line = on_line;
		rd.data = &s;
		agent_proto_feed(&rd, text, cut);
		agent_proto_feed(&rd, text + cut, len - cut);
		agent_proto_finish(&rd);
		check(&r, &s, &rd);
		agent_proto_reader_release(&rd);
		agent_result_release(&r);
		buf_release(&s.text);
	}
	{
		struct agent_result r;
		struct agent_proto_reader rd;
		struct seen s = { BUF_INIT, 0 };

		agent_proto_reader_init(&rd, &r);
		rd.on_event = on_event;
		rd.on_line = on_line;
		rd.data = &s;
		for (size_t i = 0; i < len; i++)
			agent_proto_feed(&rd, text + i, 1);
		agent_proto_finish(&rd);
		check(&r, &s, &rd);
		agent_proto_reader_release(&rd);
		agent_result_release(&r);
		buf_release(&s.text);
	}
	free(text);
}

static void test_agent_proto__junk_is_counted_not_trusted(void **state)
{
	const char *junk =
		"Welcome to host!\n"
		"{\"type\":\"event\",\"event\":\"Reboot\",\"status\":"
		"\"Failed\"}\n"
		"{\"type\":\"event\",\"event\":\"Install\",\"status\":\"Bad\"}"
		"\n"
		"{\"type\":\"result\",\"status\":\"Succeeded\"}\n"
		"[1,2,3]\n"
		"{\"type\":\"future\",\"x\":1}\n"
		"{\"type\":\"event\",\"event\":\"Install\",\"status\":"
		"\"Succeeded\"}";
	struct agent_result r;
	struct agent_proto_reader rd;

	(void)state;
	agent_proto_reader_init(&rd, &r);
	agent_proto_feed(&rd, junk, strlen(junk));
	agent_proto_finish(&rd);
	/* the banner, the unknown event, the bad status, the result
	 * without exit, the array: 5; an unknown type is not an error */
	assert_int_equal(rd.bad_lines, 5);
	assert_false(rd.got_result);
	assert_int_equal(r.status, AGENT_PENDING);
	/* the last line, unterminated, still counts at EOF */
	assert_int_equal(r.events[APPSPEC_INSTALL].status, AGENT_SUCCEEDED);
	agent_proto_reader_release(&rd);
	agent_result_release(&r);
}

static void test_agent_proto__overlong_line_dropped(void **state)
{
	size_t n = (2u << 20) + 10;
	char *big = xmalloc(n);
	const char *ok = "{\"type\":\"result\",\"status\":\"Succeeded\","
			 "\"exit\":0}\n";
	struct agent_result r;
	struct agent_proto_reader rd;

	(void)state;
	memset(big, 'x', n);
	big[n - 1] = '\n';
	agent_proto_reader_init(&rd, &r);
	for (size_t i = 0; i < n; i += 65536)
		agent_proto_feed(&rd, big + i, n - i < 65536 ? n - i : 65536);
	agent_proto_feed(&rd, ok, strlen(ok));
	agent_proto_finish(&rd);
	assert_true(rd.bad_lines >= 1);
	assert_true(rd.got_result);
	assert_int_equal(r.status, AGENT_SUCCEEDED);
	assert_true(rd.pending.alloc < (4u << 20));
	agent_proto_reader_release(&rd);
	agent_result_release(&r);
	free(big);
}

static void test_agent_proto__events_kept_in_the_order_they_ran(void **state)
{
	/* -e ValidateService,ApplicationStart: not the lifecycle's order */
	const char *text = "{\"type\":\"event\",\"event\":\"DownloadBundle\","
			   "\"status\":\"InProgress\"}\n"
			   "{\"type\":\"event\",\"event\":\"DownloadBundle\","
			   "\"status\":\"Succeeded\"}\n"
			   "{\"type\":\"event\",\"event\":\"Install\","
			   "\"status\":\"Succeeded\"}\n"
			   "{\"type\":\"event\",\"event\":\"ValidateService\","
			   "\"status\":\"Failed\"}\n"
			   "{\"type\":\"event\",\"event\":\"ApplicationStart\","
			   "\"status\":\"Skipped\"}\n";
	struct agent_result r;
	struct agent_proto_reader rd;

	(void)state;
	agent_proto_reader_init(&rd, &r);
	agent_proto_feed(&rd, text, strlen(text));
	agent_proto_finish(&rd);
	assert_int_equal(r.nr_order, 4);
	assert_int_equal(r.order[0], APPSPEC_DOWNLOAD_BUNDLE);
	assert_int_equal(r.order[1], APPSPEC_INSTALL);
	assert_int_equal(r.order[2], APPSPEC_VALIDATE_SERVICE);
	assert_int_equal(r.order[3], APPSPEC_APPLICATION_START);
	agent_proto_reader_release(&rd);
	agent_result_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_proto__round_trip_any_split),
		cmocka_unit_test(test_agent_proto__junk_is_counted_not_trusted),
		cmocka_unit_test(test_agent_proto__overlong_line_dropped),
		cmocka_unit_test(
			test_agent_proto__events_kept_in_the_order_they_ran),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
