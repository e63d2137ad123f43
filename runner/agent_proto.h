/*
 * agent_proto: what `slipway agent deploy` tells the host that drives it,
 * one JSON object per line on its stdout. The same stream comes from a
 * local agent and, over ssh, from a remote one.
 *
 *   {"type":"hello","version":"0.1.0"}
 *   {"type":"event","event":"Install","status":"InProgress",
 *    "startTime":1764120000123}
 *   {"type":"line","event":"AfterInstall","stream":"stdout","text":"..."}
 *   {"type":"event","event":"AfterInstall","status":"Failed",
 *    "startTime":...,"endTime":...,"ignored":false,
 *    "diagnostics":{"errorCode":"ScriptFailed","scriptName":"s.sh",
 *                   "message":"...","logTail":"..."}}
 *   {"type":"result","status":"Failed","exit":1,"message":"...",
 *    "startTime":...,"endTime":...}
 *
 * Times are milliseconds since the epoch. Unknown types and keys are
 * ignored by the reader, so either side can grow.
 *
 * Writer (the agent):  agent_proto_event(out, ev); agent_proto_line(...);
 * Reader (the driver): struct agent_proto_reader rd = ...;
 *                      agent_proto_feed(&rd, bytes, n);  -- any split
 *                      agent_proto_finish(&rd);          -- at EOF
 */
#ifndef SW_AGENT_PROTO_H
#define SW_AGENT_PROTO_H

#include <stdbool.h>
#include <stdio.h>

#include "agent.h"
#include "buf.h"

void agent_proto_hello(FILE *out);
void agent_proto_event(FILE *out, const struct agent_event *ev);
void agent_proto_line(FILE *out, enum appspec_event event,
		      enum script_stream stream, const char *line, size_t len);
void agent_proto_result(FILE *out, const struct agent_result *r);

/*
 * The agent's side whole: hello, the deployment (agent_deploy) with its
 * events and lines, the result, all on out. Returns the exit status.
 */
int agent_proto_serve(struct agent_opts *o, FILE *out);

struct agent_proto_reader {
	struct agent_result *r; /* filled as lines come */
	agent_event_fn on_event; /* may be NULL */
	agent_line_fn on_line; /* may be NULL */
	void *data;
	bool got_result; /* a result line was read */
	bool got_hello;
	struct buf pending; /* a partial line */
	size_t bad_lines; /* lines that were not protocol (ignored) */
};

/* Start reading into r (which is reset to AGENT_RESULT_INIT). */
void agent_proto_reader_init(struct agent_proto_reader *rd,
			     struct agent_result *r);
void agent_proto_feed(struct agent_proto_reader *rd, const char *data,
		      size_t len);
/* End of stream: a last unterminated line is read too. */
void agent_proto_finish(struct agent_proto_reader *rd);
void agent_proto_reader_release(struct agent_proto_reader *rd);

#endif
