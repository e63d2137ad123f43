#include "agent_proto.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"
#include "banned.h"

/* Protocol lines are bounded: a hook's line is cut, not the stream. */
#define PROTO_LINE_MAX (1 << 20)

static const char *stream_name(enum script_stream s)
{
	switch (s) {
	case SCRIPT_STDOUT:
		return "stdout";
	case SCRIPT_STDERR:
		return "stderr";
	case SCRIPT_NOTICE:
		break;
	}
	return "notice";
}

static void emit(FILE *out, struct json_object *o)
{
	fputs(json_object_to_json_string_ext(
		      o,
		      JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	      out);
	fputc('\n', out);
	fflush(out);
	json_object_put(o);
}

static void add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

void agent_proto_hello(FILE *out)
{
	struct json_object *o = json_object_new_object();

	add_str(o, "type", "hello");
	add_str(o, "version", SW_VERSION);
	emit(out, o);
}

void agent_proto_event(FILE *out, const struct agent_event *ev)
{
	struct json_object *o = json_object_new_object();

	add_str(o, "type", "event");
	add_str(o, "event", appspec_event_name(ev->event));
	add_str(o, "status", agent_status_name(ev->status));
	if (ev->start_ms)
		json_object_object_add(o, "startTime",
				       json_object_new_int64(ev->start_ms));
	if (ev->end_ms)
		json_object_object_add(o, "endTime",
				       json_object_new_int64(ev->end_ms));
	if (ev->ignored)
		json_object_object_add(o, "ignored",
				       json_object_new_boolean(1));
	if (ev->error_code) {
		struct json_object *d = json_object_new_object();

		add_str(d, "errorCode", ev->error_code);
		add_str(d, "scriptName", ev->script_name);
		add_str(d, "message", ev->message);
		add_str(d, "logTail", ev->log_tail);
		json_object_object_add(o, "diagnostics", d);
	}
	emit(out, o);
}

void agent_proto_line(FILE *out, enum appspec_event event,
		      enum script_stream stream, const char *line, size_t len)
{
	struct json_object *o = json_object_new_object();

	if (len > PROTO_LINE_MAX / 2)
		len = PROTO_LINE_MAX / 2;
	add_str(o, "type", "line");
	add_str(o, "event", appspec_event_name(event));
	add_str(o, "stream", stream_name(stream));
	json_object_object_add(o, "text",
			       json_object_new_string_len(line, (int)len));
	emit(out, o);
}

void agent_proto_result(FILE *out, const struct agent_result *r)
{
	struct json_object *o = json_object_new_object();

	add_str(o, "type", "result");
	add_str(o, "status", agent_status_name(r->status));
	json_object_object_add(o, "exit", json_object_new_int(r->exit));
	add_str(o, "message", r->message);
	json_object_object_add(o, "startTime",
			       json_object_new_int64(r->start_ms));
	json_object_object_add(o, "endTime", json_object_new_int64(r->end_ms));
	emit(out, o);
}

static void send_event(const struct agent_event *ev, void *data)
{
	agent_proto_event(data, ev);
}

static void send_line(enum appspec_event event, enum script_stream stream,
		      const char *line, size_t len, void *data)
{
	agent_proto_line(data, event, stream, line, len);
}

int agent_proto_serve(struct agent_opts *o, FILE *out)
{
	struct agent_result r = AGENT_RESULT_INIT;
	int status;

	o->on_event = send_event;
	o->on_line = send_line;
	o->data = out;
	agent_proto_hello(out);
	status = agent_deploy(o, &r);
	agent_proto_result(out, &r);
	agent_result_release(&r);
	return status;
}

void agent_proto_reader_init(struct agent_proto_reader *rd,
			     struct agent_result *r)
{
	memset(rd, 0, sizeof(*rd));
	rd->r = r;
	*r = (struct agent_result)AGENT_RESULT_INIT;
	for (int ev = 0; ev < APPSPEC_NEVENTS; ev++)
		r->events[ev].event = (enum appspec_event)ev;
	rd->pending = (struct buf)BUF_INIT;
}

void agent_proto_reader_release(struct agent_proto_reader *rd)
{
	buf_release(&rd->pending);
}

static const char *get_str(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int64_t get_i64(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_int))
		return 0;
	return json_object_get_int64(v);
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = v ? xstrdup(v) : NULL;
}

static void read_event(struct agent_proto_reader *rd, struct json_object *o)
{
	enum appspec_event evn;
	enum agent_status st;
	struct agent_event *ev;
	struct json_object *d, *v;
	const char *name = get_str(o, "event"), *s = get_str(o, "status");

	if (!name || !s || appspec_event_from_name(name, &evn) < 0 ||
	    agent_status_from_name(s, &st) < 0) {
		rd->bad_lines++;
		return;
	}
	ev = &rd->r->events[evn];
	if (!ev->included && rd->r->nr_order < APPSPEC_NEVENTS)
		rd->r->order[rd->r->nr_order++] = evn;
	ev->included = true;
	ev->status = st;
	ev->start_ms = get_i64(o, "startTime");
	ev->end_ms = get_i64(o, "endTime");
	ev->ignored = json_object_object_get_ex(o, "ignored", &v) &&
		      json_object_get_boolean(v);
	if (json_object_object_get_ex(o, "diagnostics", &d) &&
	    json_object_is_type(d, json_type_object)) {
		set_str(&ev->error_code, get_str(d, "errorCode"));
		set_str(&ev->script_name, get_str(d, "scriptName"));
		set_str(&ev->message, get_str(d, "message"));
		set_str(&ev->log_tail, get_str(d, "logTail"));
	}
	if (rd->on_event)
		rd->on_event(ev, rd->data);
}

static void read_line(struct agent_proto_reader *rd, struct json_object *o)
{
	enum appspec_event evn = APPSPEC_START;
	enum script_stream st = SCRIPT_NOTICE;
	const char *name = get_str(o, "event"), *s = get_str(o, "stream");
	struct json_object *t;

	if (!json_object_object_get_ex(o, "text", &t) ||
	    !json_object_is_type(t, json_type_string)) {
		rd->bad_lines++;
		return;
	}
	if (name)
		appspec_event_from_name(name, &evn);
	if (s && !strcmp(s, "stdout"))
		st = SCRIPT_STDOUT;
	else if (s && !strcmp(s, "stderr"))
		st = SCRIPT_STDERR;
	if (rd->on_line)
		rd->on_line(evn, st, json_object_get_string(t),
			    (size_t)json_object_get_string_len(t), rd->data);
}

static void read_result(struct agent_proto_reader *rd, struct json_object *o)
{
	const char *s = get_str(o, "status");
	enum agent_status st;
	struct json_object *v;

	if (!s || agent_status_from_name(s, &st) < 0 ||
	    !json_object_object_get_ex(o, "exit", &v)) {
		rd->bad_lines++;
		return;
	}
	rd->r->status = st;
	rd->r->exit = json_object_get_int(v);
	set_str(&rd->r->message, get_str(o, "message"));
	rd->r->start_ms = get_i64(o, "startTime");
	rd->r->end_ms = get_i64(o, "endTime");
	rd->got_result = true;
}

static void read_one(struct agent_proto_reader *rd, const char *line,
		     size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(8);
	struct json_object *o;
	const char *type;

	o = json_tokener_parse_ex(tok, line, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(o, json_type_object) ||
	    !(type = get_str(o, "type"))) {
		rd->bad_lines++;
		goto out;
	}
	if (!strcmp(type, "event"))
		read_event(rd, o);
	else if (!strcmp(type, "line"))
		read_line(rd, o);
	else if (!strcmp(type, "result"))
		read_result(rd, o);
	else if (!strcmp(type, "hello"))
		rd->got_hello = true;
out:
	json_object_put(o);
	json_tokener_free(tok);
}

void agent_proto_feed(struct agent_proto_reader *rd, const char *data,
		      size_t len)
{
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;

		if (rd->pending.len + n > PROTO_LINE_MAX) {
			/* Not the protocol: drop the line. */
			rd->bad_lines++;
			buf_clear(&rd->pending);
			if (!nl)
				return;
		} else {
			buf_add(&rd->pending, data, n);
		}
		if (!nl)
			return;
		if (rd->pending.len)
			read_one(rd, rd->pending.ptr, rd->pending.len);
		buf_clear(&rd->pending);
		data = nl + 1;
		len -= n + 1;
	}
}

void agent_proto_finish(struct agent_proto_reader *rd)
{
	if (rd->pending.len)
		read_one(rd, rd->pending.ptr, rd->pending.len);
	buf_clear(&rd->pending);
}
