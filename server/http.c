/*
 * http: routes, access, limits and logs over libmicrohttpd (http.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "buf.h"
#include "http.h"
#include "lazylib.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

struct route {
	char *method, *pattern;
	unsigned flags;
	http_handler_fn fn;
	void *data;
};

/* A connection, watched for requests that do not arrive in time. */
struct conn {
	int fd;
	int64_t since; /* accepted, or its last response done */
	bool busy; /* a request fully received, its response not done */
	bool cut;
	struct conn *prev, *next;
};

struct http_server {
	struct http_opts o;
	char *address;
	struct route *routes;
	size_t nr_routes;
	struct MHD_Daemon *d;
	unsigned short port;
	atomic_bool stopping;
	atomic_bool dying;
	pthread_t watchdog;
	bool watching;
	pthread_mutex_t mu;
	struct conn *conns;
	/* bytes of request bodies held in memory now, all connections */
	atomic_ullong buffered;
	unsigned long long budget;
};

struct http_req {
	struct http_server *h;
	struct MHD_Connection *c;
	struct conn *conn;
	char *method, *path;
	const struct route *rt;
	int no_route; /* 404 or 405 when rt is NULL */
	struct strvec allow; /* for a 405: the methods the path takes */
	struct strvec caps;
	struct buf body;
	uint64_t limit;
	unsigned long long charged; /* of h->buffered */
	bool too_big, over_budget, answered;
	struct strvec headers; /* name, value, ... */
	int status;
	atomic_ullong sent;
	int64_t start;
	const char *who;
	char client[64];
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void log_line(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	struct timespec ts;
	struct tm tm;
	char t[32];
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
	buf_addf(&b, "%s.%03ldZ ", t, ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	buf_addch(&b, '\n');
	/* one write: lines of several threads never mix */
	if (write(2, b.ptr, b.len) < 0) {
		/* nowhere to say it */
	}
	buf_release(&b);
}

/* ---- pure helpers --------------------------------------------------- */

bool http_match(const char *pattern, const char *path, struct strvec *caps)
{
	const char *p = pattern, *s = path;
	size_t added = 0;

	if (*p != '/' || *s != '/')
		return false;
	while (*p) {
		if (p[0] == '*' && !p[1]) {
			if (caps) {
				strvec_push(caps, s);
				added++;
			}
			return true;
		}
		if (p[0] == '{' && p[1] == '}') {
			size_t n = strcspn(s, "/");

			if (!n)
				goto no;
			if (caps) {
				strvec_push_nodup(caps, xstrndup(s, n));
				added++;
			}
			p += 2;
			s += n;
			continue;
		}
		if (*p != *s)
			goto no;
		p++;
		s++;
	}
	if (!*s)
		return true;
no:
	while (caps && added--)
		strvec_pop(caps);
	return false;
}

int http_parse_listen(const char *s, char **addr, unsigned short *port,
		      struct sw_err *e)
{
	const char *colon, *ps;
	char *a = NULL, *end;
	unsigned char tmp[16];
	long n;

	*addr = NULL;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			goto bad;
		a = xstrndup(s + 1, (size_t)(rb - s - 1));
		ps = rb + 2;
		if (inet_pton(AF_INET6, a, tmp) != 1)
			goto bad;
	} else if ((colon = strrchr(s, ':'))) {
		if (colon != s) {
			a = xstrndup(s, (size_t)(colon - s));
			if (inet_pton(AF_INET, a, tmp) != 1)
				goto bad;
		}
		ps = colon + 1;
	} else {
		ps = s;
	}
	errno = 0;
	n = strtol(ps, &end, 10);
	if (!*ps || *end || errno || n < 0 || n > 65535)
		goto bad;
	*addr = a;
	*port = (unsigned short)n;
	return 0;
bad:
	free(a);
	return err_set(e, ERR_USAGE,
		       "--listen wants ADDRESS:PORT with a numeric address "
		       "(127.0.0.1:8080, [::1]:8080), not '%s'",
		       s);
}

bool http_is_loopback(const char *addr)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (!addr)
		return true;
	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, addr, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

bool http_local_path(const char *s)
{
	if (!s || s[0] != '/' || s[1] == '/' || s[1] == '\\')
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* ---- the server ------------------------------------------------------- */

struct http_server *http_new(const struct http_opts *o)
{
	struct http_server *h = xcalloc(1, sizeof(*h));

	h->o = *o;
	h->address = xstrdup_or_null(o->address);
	h->o.address = h->address;
	if (!h->o.max_body)
		h->o.max_body = HTTP_DEFAULT_MAX_BODY;
	if (!h->o.request_timeout_ms)
		h->o.request_timeout_ms = 30000;
	if (!h->o.header_limit)
		h->o.header_limit = 32 * 1024;
	if (!h->o.max_connections)
		h->o.max_connections = 256;
	/* a few of the largest bodies at once, not one per connection */
	h->budget = 4 * (unsigned long long)(h->o.max_body > HTTP_SMALL_BODY
						     ? h->o.max_body
						     : HTTP_SMALL_BODY);
	pthread_mutex_init(&h->mu, NULL);
	return h;
}

void http_route(struct http_server *h, const char *method, const char *pattern,
		unsigned flags, http_handler_fn fn, void *data)
{
	struct route *r;

	if (h->d)
		BUG("http_route() after http_start()");
	h->routes = xrealloc(h->routes, (h->nr_routes + 1) * sizeof(*r));
	r = &h->routes[h->nr_routes++];
	r->method = xstrdup(method);
	r->pattern = xstrdup(pattern);
	r->flags = flags;
	r->fn = fn;
	r->data = data;
}

static void find_route(struct http_req *rq)
{
	struct http_server *h = rq->h;

	rq->no_route = 404;
	for (size_t i = 0; i < h->nr_routes; i++) {
		const struct route *r = &h->routes[i];

		if (!http_match(r->pattern, rq->path, NULL))
			continue;
		if (strcmp(r->method, rq->method) &&
		    !(!strcmp(rq->method, "HEAD") &&
		      !strcmp(r->method, "GET"))) {
			rq->no_route = 405;
			if (strvec_find(&rq->allow, r->method) < 0)
				strvec_push(&rq->allow, r->method);
			continue;
		}
		http_match(r->pattern, rq->path, &rq->caps);
		rq->rt = r;
		return;
	}
}

/* ---- answering ---------------------------------------------------------- */

static void queue(struct http_req *rq, int status, struct MHD_Response *resp)
{
	if (rq->answered)
		BUG("a second answer to %s %s", rq->method, rq->path);
	rq->answered = true;
	rq->status = status;
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
	for (size_t i = 0; i + 1 < rq->headers.nr; i += 2)
		MHD_add_response_header(resp, rq->headers.v[i],
					rq->headers.v[i + 1]);
	if (rq->h->stopping)
		MHD_add_response_header(resp, "Connection", "close");
	MHD_queue_response(rq->c, (unsigned)status, resp);
	MHD_destroy_response(resp);
}

void http_set_header(struct http_req *rq, const char *name, const char *value)
{
	strvec_push(&rq->headers, name);
	strvec_push(&rq->headers, value);
}

void http_reply(struct http_req *rq, int status, const char *type,
		const void *data, size_t len)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		len, (void *)data, MHD_RESPMEM_MUST_COPY);

	if (type)
		MHD_add_response_header(resp, "Content-Type", type);
	rq->sent = len;
	queue(rq, status, resp);
}

void http_reply_json(struct http_req *rq, int status, json_object *o)
{
	size_t len;
	const char *s = json_object_to_json_string_length(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
		&len);
	struct buf b = BUF_INIT;

	buf_add(&b, s, len);
	buf_addch(&b, '\n');
	http_set_header(rq, "Cache-Control", "no-store");
	http_reply(rq, status, "application/json", b.ptr, b.len);
	buf_release(&b);
	json_object_put(o);
}

static void verror(struct http_req *rq, int status, const char *type,
		   const char *fmt, va_list ap)
{
	json_object *o = json_object_new_object();
	char *msg = xvasprintf(fmt, ap);

	json_object_object_add(o, "__type", json_object_new_string(type));
	json_object_object_add(o, "message", json_object_new_string(msg));
	free(msg);
	http_reply_json(rq, status, o);
}

void http_error(struct http_req *rq, int status, const char *type,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(rq, status, type, fmt, ap);
	va_end(ap);
}

void http_redirect(struct http_req *rq, const char *location)
{
	http_set_header(rq, "Location", location);
	http_reply(rq, 303, "text/plain; charset=utf-8", "", 0);
}

struct stream {
	struct http_req *rq;
	http_stream_fn next;
	http_free_fn free_fn;
	void *cls;
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;
	ssize_t n;

	(void)pos;
	n = st->next(st->cls, buf, max);
	if (n > 0)
		st->rq->sent += (unsigned long long)n;
	else if (n == 0)
		BUG("a stream returned 0 bytes");
	return n;
}

static void stream_free(void *cls)
{
	struct stream *st = cls;

	if (st->free_fn)
		st->free_fn(st->cls);
	free(st);
}

void http_stream(struct http_req *rq, int status, const char *type,
		 http_stream_fn next, void *cls, http_free_fn free_fn)
{
	struct stream *st = xcalloc(1, sizeof(*st));
	struct MHD_Response *resp;

	st->rq = rq;
	st->next = next;
	st->free_fn = free_fn;
	st->cls = cls;
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
						 stream_read, st, stream_free);
	if (type)
		MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	/* a stream may be quiet for long: no idle timeout */
	MHD_set_connection_option(rq->c, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
	queue(rq, status, resp);
}

/* ---- the request ---------------------------------------------------- */

const char *http_method(const struct http_req *rq)
{
	return rq->method;
}

const char *http_path(const struct http_req *rq)
{
	return rq->path;
}

const char *http_param(const struct http_req *rq, size_t i)
{
	return i < rq->caps.nr ? rq->caps.v[i] : NULL;
}

const char *http_query(const struct http_req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->c, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(const struct http_req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->c, MHD_HEADER_KIND, name);
}

const char *http_cookie(const struct http_req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->c, MHD_COOKIE_KIND, name);
}

static enum MHD_Result push_header(void *cls, enum MHD_ValueKind kind,
				   const char *key, const char *value)
{
	struct strvec *out = cls;

	(void)kind;
	strvec_push(out, key);
	strvec_push(out, value ? value : "");
	return MHD_YES;
}

void http_headers(const struct http_req *rq, struct strvec *out)
{
	MHD_get_connection_values(rq->c, MHD_HEADER_KIND, push_header, out);
}

const char *http_body(const struct http_req *rq, size_t *len)
{
	if (len)
		*len = rq->body.len;
	return rq->body.ptr ? rq->body.ptr : "";
}

const char *http_who(const struct http_req *rq)
{
	return rq->who;
}

const char *http_client(const struct http_req *rq)
{
	return rq->client;
}

struct http_server *http_server_of(const struct http_req *rq)
{
	return rq->h;
}

/* ---- access ------------------------------------------------------------- */

static const char *const token_args[] = { "token", "access_token",
					  "private_token", "slipway_token" };

static enum MHD_Result find_token_arg(void *cls, enum MHD_ValueKind kind,
				      const char *key, const char *value)
{
	bool *found = cls;

	(void)kind;
	(void)value;
	for (size_t i = 0; i < ARRAY_SIZE(token_args); i++)
		if (!strcasecmp(key, token_args[i]))
			*found = true;
	return MHD_YES;
}

static const char *bearer(struct http_req *rq)
{
	const char *a = http_header(rq, "Authorization");

	if (!a || strncasecmp(a, "Bearer ", 7))
		return NULL;
	a += 7;
	while (*a == ' ')
		a++;
	return a;
}

/* 0 when the request may go on to its handler, else it was answered. */
static int check_access(struct http_req *rq)
{
	unsigned access = rq->rt->flags & HTTP_ACCESS_MASK;
	const char *b;

	if (access == HTTP_PUBLIC)
		return 0;
	b = bearer(rq);
	if (b) {
		rq->who = auth_check(rq->h->o.tokens, b);
		if (rq->who)
			return 0;
		http_set_header(rq, "WWW-Authenticate",
				"Bearer realm=\"slipway\", "
				"error=\"invalid_token\"");
		http_error(rq, 401, "UnauthorizedException",
			   "the bearer token is not valid");
		return -1;
	}
	if (access == HTTP_PAGE) {
		rq->who = auth_check(rq->h->o.tokens,
				     http_cookie(rq, "slipway_token"));
		if (rq->who)
			return 0;
		if (!strcmp(rq->method, "GET") || !strcmp(rq->method, "HEAD")) {
			struct buf loc = BUF_INIT;
			char *enc;

			buf_addstr(&loc, "/login?next=");
			for (const char *p = rq->path; *p; p++) {
				unsigned char ch = (unsigned char)*p;

				if ((ch >= 'a' && ch <= 'z') ||
				    (ch >= 'A' && ch <= 'Z') ||
				    (ch >= '0' && ch <= '9') ||
				    strchr("/-_.~", ch))
					buf_addch(&loc, ch);
				else
					buf_addf(&loc, "%%%02X", ch);
			}
			enc = buf_detach(&loc);
			http_redirect(rq, enc);
			free(enc);
			return -1;
		}
	}
	http_set_header(rq, "WWW-Authenticate", "Bearer realm=\"slipway\"");
	http_error(rq, 401, "UnauthorizedException",
		   "this needs 'Authorization: Bearer TOKEN' with a token of "
		   "the server's --token-file");
	return -1;
}

static void dispatch(struct http_req *rq)
{
	bool in_query = false;

	MHD_get_connection_values(rq->c, MHD_GET_ARGUMENT_KIND, find_token_arg,
				  &in_query);
	if (in_query) {
		http_error(rq, 400, "InvalidRequestException",
			   "a token in a query string is refused: send it "
			   "as 'Authorization: Bearer TOKEN'");
		return;
	}
	if (!rq->rt) {
		if (rq->no_route == 405) {
			struct buf b = BUF_INIT;

			for (size_t i = 0; i < rq->allow.nr; i++)
				buf_addf(&b, "%s%s", i ? ", " : "",
					 rq->allow.v[i]);
			http_set_header(rq, "Allow", b.ptr);
			buf_release(&b);
			http_error(rq, 405, "MethodNotAllowedException",
				   "%s is not allowed on %s", rq->method,
				   rq->path);
		} else
			http_error(rq, 404, "ResourceNotFoundException",
				   "no such path: %s", rq->path);
		return;
	}
	if (check_access(rq) < 0)
		return;
	rq->rt->fn(rq, rq->rt->data);
	if (!rq->answered)
		http_error(rq, 500, "InternalError",
			   "the handler of %s gave "
			   "no answer",
			   rq->path);
}

static struct conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static void client_of(struct MHD_Connection *c, char *out, size_t size)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	snprintf(out, size, "?");
	if (ci && ci->client_addr)
		getnameinfo(ci->client_addr,
			    ci->client_addr->sa_family == AF_INET6
				    ? sizeof(struct sockaddr_in6)
				    : sizeof(struct sockaddr_in),
			    out, (socklen_t)size, NULL, 0, NI_NUMERICHOST);
}

/* Count n more bytes of body against the server's budget; false when
 * it has no room for them. */
static bool charge(struct http_req *rq, unsigned long long n)
{
	struct http_server *h = rq->h;
	unsigned long long now = atomic_fetch_add(&h->buffered, n);

	if (now + n > h->budget) {
		atomic_fetch_sub(&h->buffered, n);
		return false;
	}
	rq->charged += n;
	return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct http_server *h = cls;
	struct http_req *rq = *req_cls;

	(void)version;
	if (!rq) {
		const char *cl;

		rq = xcalloc(1, sizeof(*rq));
		rq->h = h;
		rq->c = c;
		rq->conn = conn_of(c);
		rq->method = xstrdup(method);
		rq->path = xstrdup(url);
		rq->start = mono_ms();
		strvec_init(&rq->caps);
		strvec_init(&rq->headers);
		strvec_init(&rq->allow);
		client_of(c, rq->client, sizeof(rq->client));
		*req_cls = rq;
		find_route(rq);
		rq->limit = rq->rt && (rq->rt->flags & HTTP_BODY)
				    ? h->o.max_body
				    : HTTP_SMALL_BODY;
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						 "Content-Length");
		if (cl && strtoull(cl, NULL, 10) > rq->limit) {
			http_set_header(rq, "Connection", "close");
			http_error(rq, 413, "PayloadTooLargeException",
				   "the body is over %llu bytes",
				   (unsigned long long)rq->limit);
		} else if (cl && !charge(rq, strtoull(cl, NULL, 10))) {
			http_set_header(rq, "Connection", "close");
			http_set_header(rq, "Retry-After", "10");
			http_error(rq, 503, "ServiceUnavailableException",
				   "too many large bodies at once: send again "
				   "later");
		}
		return MHD_YES;
	}
	if (*upload_size) {
		if (!rq->too_big && rq->body.len + *upload_size > rq->limit) {
			rq->too_big = true;
			buf_release(&rq->body);
		}
		/* a body without Content-Length is charged as it comes */
		if (!rq->too_big && rq->body.len + *upload_size > rq->charged &&
		    !charge(rq, rq->body.len + *upload_size - rq->charged)) {
			rq->too_big = rq->over_budget = true;
			buf_release(&rq->body);
		}
		if (!rq->too_big)
			buf_add(&rq->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	if (rq->answered)
		return MHD_YES;
	if (rq->conn) {
		pthread_mutex_lock(&h->mu);
		rq->conn->busy = true;
		pthread_mutex_unlock(&h->mu);
	}
	if (rq->over_budget) {
		http_set_header(rq, "Connection", "close");
		http_set_header(rq, "Retry-After", "10");
		http_error(rq, 503, "ServiceUnavailableException",
			   "too many large bodies at once: send again later");
		return MHD_YES;
	}
	if (rq->too_big) {
		http_set_header(rq, "Connection", "close");
		http_error(rq, 413, "PayloadTooLargeException",
			   "the body is over %llu bytes",
			   (unsigned long long)rq->limit);
		return MHD_YES;
	}
	if (!rq->body.ptr)
		buf_addstr(&rq->body, "");
	dispatch(rq);
	return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *h = cls;
	struct http_req *rq = *req_cls;

	(void)c;
	if (!rq)
		return;
	if (!h->o.quiet)
		log_line("%s \"%s %s\" %d %llu %lldms%s", rq->client,
			 rq->method, rq->path, rq->answered ? rq->status : 0,
			 (unsigned long long)rq->sent,
			 (long long)(mono_ms() - rq->start),
			 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK
				 ? ""
				 : " (connection closed early)");
	if (rq->conn) {
		pthread_mutex_lock(&h->mu);
		rq->conn->busy = false;
		rq->conn->since = mono_ms();
		pthread_mutex_unlock(&h->mu);
	}
	atomic_fetch_sub(&h->buffered, rq->charged);
	free(rq->method);
	free(rq->path);
	strvec_release(&rq->caps);
	strvec_release(&rq->headers);
	strvec_release(&rq->allow);
	buf_release(&rq->body);
	free(rq);
	*req_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct http_server *h = cls;
	struct conn *k;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
			c, MHD_CONNECTION_INFO_CONNECTION_FD);

		k = xcalloc(1, sizeof(*k));
		k->fd = ci ? ci->connect_fd : -1;
		k->since = mono_ms();
		pthread_mutex_lock(&h->mu);
		k->next = h->conns;
		if (h->conns)
			h->conns->prev = k;
		h->conns = k;
		pthread_mutex_unlock(&h->mu);
		*socket_context = k;
		return;
	}
	k = *socket_context;
	if (!k)
		return;
	pthread_mutex_lock(&h->mu);
	if (k->prev)
		k->prev->next = k->next;
	else
		h->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	pthread_mutex_unlock(&h->mu);
	free(k);
	*socket_context = NULL;
}

/* Cut off clients whose request does not arrive in time: the idle
 * timeout alone lets a request trickle in a byte at a time forever. */
static void *watch(void *cls)
{
	struct http_server *h = cls;

	while (!h->dying) {
		int64_t now = mono_ms();

		pthread_mutex_lock(&h->mu);
		for (struct conn *k = h->conns; k; k = k->next) {
			if (k->busy || k->cut || k->fd < 0 ||
			    now - k->since <= h->o.request_timeout_ms)
				continue;
			k->cut = true;
			shutdown(k->fd, SHUT_RDWR);
			if (!h->o.quiet)
				log_line("connection cut off: no complete "
					 "request within %lld ms",
					 (long long)h->o.request_timeout_ms);
		}
		pthread_mutex_unlock(&h->mu);
		nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL);
	}
	return NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;

	(void)cls;
	buf_vaddf(&b, fmt, ap);
	while (b.len && (b.ptr[b.len - 1] == '\n' || b.ptr[b.len - 1] == '.'))
		buf_setlen(&b, b.len - 1);
	log_line("http: %s", b.ptr ? b.ptr : "");
	buf_release(&b);
}

int http_start(struct http_server *h, struct sw_err *e)
{
	struct sockaddr_storage ss;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
			 MHD_USE_ITC | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *di;

	if (lazylib_need("microhttpd", e) < 0)
		return -1;
	memset(&ss, 0, sizeof(ss));
	if (h->o.address && strchr(h->o.address, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(h->o.port);
		inet_pton(AF_INET6, h->o.address, &s6->sin6_addr);
		flags |= MHD_USE_IPv6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(h->o.port);
		inet_pton(AF_INET, h->o.address ? h->o.address : "127.0.0.1",
			  &s4->sin_addr);
	}
	h->d = MHD_start_daemon(
		flags, h->o.port, NULL, NULL, on_request, h,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h, MHD_OPTION_SOCK_ADDR,
		(struct sockaddr *)&ss, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		h->o.header_limit, MHD_OPTION_CONNECTION_LIMIT,
		h->o.max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)((h->o.request_timeout_ms + 999) / 1000),
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
		MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1024 * 1024),
		MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
	if (!h->d)
		return err_set(
			e, ERR_SYSTEM, "cannot listen on %s:%u: %s",
			h->o.address ? h->o.address : "127.0.0.1", h->o.port,
			errno ? strerror(errno) : "libmicrohttpd failed");
	di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = di ? di->port : h->o.port;
	if (pthread_create(&h->watchdog, NULL, watch, h) == 0)
		h->watching = true;
	return 0;
}

unsigned short http_port(const struct http_server *h)
{
	return h->port;
}

void http_quiesce(struct http_server *h)
{
	MHD_socket fd;

	h->stopping = true;
	if (!h->d)
		return;
	fd = MHD_quiesce_daemon(h->d);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
}

bool http_stopping(const struct http_server *h)
{
	return h->stopping;
}

void http_free(struct http_server *h)
{
	if (!h)
		return;
	h->stopping = true;
	if (h->d)
		MHD_stop_daemon(h->d);
	h->dying = true;
	if (h->watching)
		pthread_join(h->watchdog, NULL);
	for (size_t i = 0; i < h->nr_routes; i++) {
		free(h->routes[i].method);
		free(h->routes[i].pattern);
	}
	free(h->routes);
	free(h->address);
	pthread_mutex_destroy(&h->mu);
	free(h);
}
