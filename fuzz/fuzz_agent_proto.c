/*
 * libFuzzer harness for the agent protocol reader: what a host's agent
 * sends (or a broken or hostile host sends instead) must fill the result
 * with known events and statuses only, never crash or leak. The input is
 * fed in two pieces split at its first byte's value, as reads would.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "agent_proto.h"
#include "xalloc.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t lines;

static void on_line(enum appspec_event event, enum script_stream stream,
		    const char *line, size_t len, void *ud)
{
	(void)ud;
	if ((unsigned)event >= APPSPEC_NEVENTS || stream > SCRIPT_NOTICE)
		abort();
	if (len && !line)
		abort();
	lines++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_result r;
	struct agent_proto_reader rd;
	size_t cut = size ? data[0] % (size + 1) : 0;

	agent_proto_reader_init(&rd, &r);
	rd.on_line = on_line;
	agent_proto_feed(&rd, (const char *)data, cut);
	agent_proto_feed(&rd, (const char *)data + cut, size - cut);
	agent_proto_finish(&rd);
	for (int i = 0; i < APPSPEC_NEVENTS; i++)
		if (r.events[i].event != (enum appspec_event)i ||
		    (unsigned)r.events[i].status > AGENT_SKIPPED)
			abort();
	if ((unsigned)r.status > AGENT_SKIPPED)
		abort();
	agent_proto_reader_release(&rd);
	agent_result_release(&r);
	return 0;
}
