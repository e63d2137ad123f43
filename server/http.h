/*
 * http: the HTTP front of `slipway serve` (docs/serve.md) over
 * libmicrohttpd: a routing table, token checks, limits against hostile
 * clients, one log line per request.
 *
 *   struct http_opts o = HTTP_OPTS_INIT;
 *   o.port = 8080; o.tokens = &tokens;           -- auth.h
 *   struct http_server *h = http_new(&o);
 *   http_route(h, "GET", "/api/pipelines", HTTP_API, list_fn, srv);
 *   http_route(h, "GET", "/api/executions/{}", HTTP_API, get_fn, srv);
 *   if (http_start(h, &e) < 0) ...               -- listening
 *   ...
 *   http_quiesce(h);   -- no new connection is accepted
 *   http_free(h);      -- streams told to end, connections closed
 *
 * Adding routes. Each file that serves pages or calls has one
 * registration function taking the server (api_routes() in api.h is the
 * model) and serve.c calls it before http_start(): routes cannot be
 * added once the server listens. A pattern is a path whose segments are
 * literal, "{}" (one non-empty segment, captured) or, last, "*" (the
 * rest of the path, possibly empty, captured). Routes are tried in the
 * order added; the first whose method and pattern match wins. A path
 * that matches a pattern under another method is 405, none 404.
 *
 * Access (flags): HTTP_PUBLIC needs nothing (a webhook checks its own
 * signature); HTTP_API needs "Authorization: Bearer TOKEN" (401
 * otherwise); HTTP_PAGE takes that header or the slipway_token cookie
 * that the login form sets, and sends a browser with neither to
 * /login?next=PATH (303). A request whose query string carries a token
 * (token, access_token, private_token, slipway_token) is 400 whatever
 * its route: a URL ends up in logs and browser histories.
 *
 * Bodies: a route with HTTP_BODY takes a request body of up to
 * opts.max_body bytes, others up to HTTP_SMALL_BODY; more is 413,
 * answered as soon as Content-Length says so, before any of it is read.
 * The bodies held in memory at once, all connections together, are at
 * most 4 times the larger limit: a request that would go over is 503
 * (Retry-After), so that many slow uploads cannot exhaust the memory.
 *
 * Handlers run on the connection's own thread (one thread per
 * connection), so a handler may block, for instance on a child process.
 * Each handler answers exactly once, with one of:
 *
 *   http_reply(rq, 200, "text/html; charset=utf-8", html, len);
 *   http_reply_json(rq, 200, obj);        -- takes obj
 *   http_error(rq, 404, "PipelineNotFoundException", "no pipeline '%s'", n);
 *   http_redirect(rq, "/executions/pe-1");  -- 303
 *   http_stream(rq, 200, "text/event-stream", next_fn, cls, free_fn);
 *
 * after optional http_set_header() calls. A handler that returns
 * without answering gets a 500. A stream's next_fn(cls, buf, max) is
 * called on the connection's thread until it returns HTTP_STREAM_END
 * (or HTTP_STREAM_ERROR, which drops the connection): it blocks until it
 * has something, copies at most max bytes into buf and returns how
 * many (never 0: that would spin). It must come back within about a
 * quarter of a second once http_stopping() is true (the server is
 * going down), and then return HTTP_STREAM_END. free_fn(cls) is called
 * once when the response is done with (also when the client went
 * away). A streamed response has no connection timeout.
 *
 * Error bodies are JSON shaped like AWS's: {"__type": TYPE, "message":
 * MSG}.
 */
#ifndef SW_SERVER_HTTP_H
#define SW_SERVER_HTTP_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

struct auth_tokens;
struct strvec;

#define HTTP_SMALL_BODY (64 * 1024)
#define HTTP_DEFAULT_MAX_BODY (25 * 1024 * 1024) /* GitHub's own maximum */

struct http_opts {
	const char *address; /* numeric IPv4 or IPv6; NULL: 127.0.0.1 */
	unsigned short port; /* 0: any free port (http_port() says which) */
	const struct auth_tokens *tokens; /* borrowed; must outlive */
	uint64_t max_body; /* 0: HTTP_DEFAULT_MAX_BODY */
	/* the whole request (headers and body) must arrive within this,
	 * and an idle connection is closed after it; 0: 30 s */
	int64_t request_timeout_ms;
	size_t header_limit; /* bytes of request head kept; 0: 32 KiB */
	unsigned max_connections; /* 0: 256 */
	bool quiet; /* no log line per request */
};

#define HTTP_OPTS_INIT                                                         \
	{                                                                      \
		NULL                                                           \
	}

enum http_access {
	HTTP_PUBLIC = 0,
	HTTP_API = 1,
	HTTP_PAGE = 2,
};
#define HTTP_ACCESS_MASK 3u
#define HTTP_BODY 0x10u

struct http_server;
struct http_req;

typedef void (*http_handler_fn)(struct http_req *rq, void *data);

#define HTTP_STREAM_END ((ssize_t)-1)
#define HTTP_STREAM_ERROR ((ssize_t)-2)
typedef ssize_t (*http_stream_fn)(void *cls, char *buf, size_t max);
typedef void (*http_free_fn)(void *cls);

/* A server, not yet listening; the options are copied. */
struct http_server *http_new(const struct http_opts *o);
/* Add a route (see above); pattern and method are copied. */
void http_route(struct http_server *h, const char *method, const char *pattern,
		unsigned flags, http_handler_fn fn, void *data);
/* Listen and serve on threads of its own. */
int http_start(struct http_server *h, struct sw_err *e);
/* The port it listens on. */
unsigned short http_port(const struct http_server *h);
/* Stop accepting connections (those open go on); http_stopping()
 * becomes true. */
void http_quiesce(struct http_server *h);
bool http_stopping(const struct http_server *h);
/* Stop (ending streams, closing connections) and free; NULL is a no-op. */
void http_free(struct http_server *h);

/* ---- the request ---------------------------------------------------- */

const char *http_method(const struct http_req *rq);
/* The path, percent-decoded, without its query string. */
const char *http_path(const struct http_req *rq);
/* The i-th capture of the pattern ("{}" or "*"), or NULL. */
const char *http_param(const struct http_req *rq, size_t i);
/* A query string argument (decoded), a request header (any case), a
 * cookie; NULL when absent. */
const char *http_query(const struct http_req *rq, const char *name);
const char *http_header(const struct http_req *rq, const char *name);
const char *http_cookie(const struct http_req *rq, const char *name);
/* Every request header, as name, value, name, value ... pushed to out. */
void http_headers(const struct http_req *rq, struct strvec *out);
/* The request body, NUL-terminated (len without the NUL), "" if none. */
const char *http_body(const struct http_req *rq, size_t *len);
/* The name of the token the request came with, NULL on a public route. */
const char *http_who(const struct http_req *rq);
/* The peer's address, numeric. */
const char *http_client(const struct http_req *rq);
struct http_server *http_server_of(const struct http_req *rq);

/* ---- the response --------------------------------------------------- */

void http_set_header(struct http_req *rq, const char *name, const char *value);
void http_reply(struct http_req *rq, int status, const char *type,
		const void *data, size_t len);
void http_reply_json(struct http_req *rq, int status, json_object *o);
void http_error(struct http_req *rq, int status, const char *type,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void http_redirect(struct http_req *rq, const char *location);
void http_stream(struct http_req *rq, int status, const char *type,
		 http_stream_fn next, void *cls, http_free_fn free_fn);

/* ---- pure helpers (unit-tested) --------------------------------------- */

/*
 * Match path against pattern; on a match the captures are appended to
 * caps (when not NULL) and true returned.
 */
bool http_match(const char *pattern, const char *path, struct strvec *caps);
/* "ADDR:PORT", "[V6]:PORT", ":PORT" or "PORT": 0, or -1 with *e set
 * (ERR_USAGE). *addr is allocated (NULL for ":PORT" and "PORT"). */
int http_parse_listen(const char *s, char **addr, unsigned short *port,
		      struct sw_err *e);
/* Whether a numeric address is a loopback one (127/8, ::1). */
bool http_is_loopback(const char *addr);
/* A next= target that stays on this server: "/x" but not "//x" or "/\x". */
bool http_local_path(const char *s);

#endif
