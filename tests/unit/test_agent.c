/*
 * agent: codedeploy-local's --events, read by the agent's rules (which
 * events may come before DownloadBundle and Install, the two added first
 * when not listed), and slipway's refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent.h"
#include "buf.h"
#include "xalloc.h"

/* The events a list runs, as "A B C", or "error: <message>". */
static char *run_list(const char *list)
{
	enum appspec_event order[APPSPEC_NEVENTS];
	struct sw_err e = SW_ERR_INIT;
	struct buf b = BUF_INIT;
	size_t nr;

	if (agent_events_parse(list, order, &nr, &e) < 0) {
		assert_int_equal(e.code, ERR_USAGE);
		buf_addf(&b, "error: %s", e.msg);
		return buf_detach(&b);
	}
	for (size_t i = 0; i < nr; i++)
		buf_addf(&b, "%s%s", i ? " " : "",
			 appspec_event_name(order[i]));
	return buf_detach(&b);
}

static void runs(const char *list, const char *want)
{
	char *got = run_list(list);

	if (strcmp(got, want))
		fail_msg("--events %s: got '%s', want '%s'", list, got, want);
	free(got);
}

static void refused(const char *list, const char *part)
{
	char *got = run_list(list);

	if (strncmp(got, "error: ", 7) || !strstr(got, part))
		fail_msg("--events %s: got '%s', want an error with '%s'", list,
			 got, part);
	free(got);
}

static void test_agent__events_rehearse_one_hook_after_the_install(void **state)
{
	(void)state;
	/* codedeploy-local -e ValidateService: the revision is downloaded
	 * and installed first, then the one hook */
	runs("ValidateService", "DownloadBundle Install ValidateService");
	/* the docs' example: stop the running application first */
	runs("ApplicationStop,DownloadBundle,Install,ApplicationStart",
	     "ApplicationStop DownloadBundle Install ApplicationStart");
	/* any order after Install, as listed */
	runs("ValidateService,ApplicationStart",
	     "DownloadBundle Install ValidateService ApplicationStart");
	/* BeforeInstall runs after the (added) Install, as the agent has it */
	runs("BeforeInstall", "DownloadBundle Install BeforeInstall");
	runs("BeforeInstall,Install,AfterInstall",
	     "DownloadBundle BeforeInstall Install AfterInstall");
	/* Install missing is added in front, then swapped behind
	 * DownloadBundle, as codedeploy-local does */
	runs("ApplicationStop,DownloadBundle",
	     "DownloadBundle ApplicationStop Install");
	runs("BeforeBlockTraffic,AfterBlockTraffic,ApplicationStop,"
	     "DownloadBundle,BeforeInstall,Install,AfterInstall,"
	     "ApplicationStart,ValidateService,BeforeAllowTraffic,"
	     "AfterAllowTraffic",
	     "BeforeBlockTraffic AfterBlockTraffic ApplicationStop "
	     "DownloadBundle BeforeInstall Install AfterInstall "
	     "ApplicationStart ValidateService BeforeAllowTraffic "
	     "AfterAllowTraffic");
}

static void test_agent__events_in_an_order_the_agent_refuses(void **state)
{
	(void)state;
	refused("AfterInstall,DownloadBundle",
		"--events: the only events that can be specified before "
		"DownloadBundle are BeforeBlockTraffic,AfterBlockTraffic,"
		"ApplicationStop. Please fix the order of your specified "
		"events: AfterInstall,DownloadBundle");
	refused("Install,DownloadBundle", "before DownloadBundle");
	/* the agent lets this one through and then fails, finding no
	 * appspec: refused at once */
	refused("BeforeInstall,DownloadBundle", "before DownloadBundle");
	refused("DownloadBundle,ApplicationStart,Install",
		"--events: the only events that can be specified before "
		"Install are BeforeBlockTraffic,AfterBlockTraffic,"
		"ApplicationStop,DownloadBundle,BeforeInstall. Please fix the "
		"order of your specified events: "
		"DownloadBundle,ApplicationStart,Install");
}

static void test_agent__events_slipway_cannot_run(void **state)
{
	(void)state;
	refused("MyCustomEvent", "unknown lifecycle event 'MyCustomEvent'");
	refused("afterinstall", "unknown lifecycle event 'afterinstall'");
	refused("BlockTraffic", "'BlockTraffic' is reserved");
	refused("Start", "'Start' is reserved");
	refused("AfterInstall,AfterInstall", "'AfterInstall' is listed twice");
	refused("AfterInstall,", "an empty event name");
	refused("", "an empty event name");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_agent__events_rehearse_one_hook_after_the_install),
		cmocka_unit_test(
			test_agent__events_in_an_order_the_agent_refuses),
		cmocka_unit_test(test_agent__events_slipway_cannot_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
