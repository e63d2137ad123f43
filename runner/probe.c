#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "proc.h"
#include "xalloc.h"
#include "banned.h"

#define CONNECT_MS 1000
#define ANSWER_MS 2000
#define MAX_ANSWER (64 << 10)
#define MAX_VERSION 64

int probe_parse(const char *spec, struct probe_opts *o, struct sw_err *e)
{
	const char *comma = strrchr(spec, ','), *h, *end, *colon, *slash;
	size_t ulen = comma ? (size_t)(comma - spec) : strlen(spec);
	char *url = xstrndup(spec, ulen);

	memset(o, 0, sizeof(*o));
	o->rate = PROBE_DEFAULT_RATE;
	if (comma) {
		char *stop;
		long r = strtol(comma + 1, &stop, 10);

		if (!comma[1] || *stop || r < 1 || r > PROBE_MAX_RATE) {
			free(url);
			return err_set(e, ERR_USAGE,
				       "--probe: the rate must be 1 to %d "
				       "requests a second, not '%s'",
				       PROBE_MAX_RATE, comma + 1);
		}
		o->rate = (unsigned)r;
	}
	if (strncmp(url, "http://", 7)) {
		free(url);
		return err_set(e, ERR_USAGE,
			       "--probe: '%s' is not an http:// URL (write "
			       "http://127.0.0.1:8080/[,RATE])",
			       spec);
	}
	h = url + 7;
	slash = strchr(h, '/');
	end = slash ? slash : h + strlen(h);
	colon = memchr(h, ':', (size_t)(end - h));
	if ((colon ? colon : end) == h) {
		free(url);
		return err_set(e, ERR_USAGE, "--probe: '%s' has no host", spec);
	}
	o->port = 80;
	if (colon) {
		long v = 0;

		for (const char *c = colon + 1; c < end; c++) {
			if (*c < '0' || *c > '9' || v > 65535) {
				v = -1;
				break;
			}
			v = v * 10 + (*c - '0');
		}
		if (colon + 1 == end || v < 1 || v > 65535) {
			free(url);
			return err_set(e, ERR_USAGE,
				       "--probe: '%s' has a bad port: 1 to "
				       "65535",
				       spec);
		}
		o->port = (int)v;
	}
	o->host = xstrndup(h, (size_t)((colon ? colon : end) - h));
	o->path = xstrdup(slash ? slash : "/");
	for (const char *c = o->path; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f) {
			free(url);
			probe_opts_release(o);
			return err_set(e, ERR_USAGE,
				       "--probe: '%s' has a space or a control "
				       "character in its path",
				       spec);
		}
	o->url = url;
	return 0;
}

void probe_opts_release(struct probe_opts *o)
{
	free(o->url);
	free(o->host);
	free(o->path);
	memset(o, 0, sizeof(*o));
}

/* ---- the prober (a child) ---- */

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

#define MAX_IN_FLIGHT 64

/* One request in flight. */
struct req {
	int fd; /* -1: a free slot */
	bool sent; /* the request is written (connected) */
	int64_t t0; /* monotonic, when it started */
	int64_t w0; /* wall clock, for the log */
	struct buf ans;
};

/* Its version from a complete answer: 0, or -1 and why in out. */
static int answer_version(struct buf *ans, struct buf *out)
{
	char *line = (char *)buf_cstr(ans), *eol, *hv, *body;

	if (strncmp(line, "HTTP/1.", 7) || ans->len < 12) {
		buf_addstr(out, ans->len ? "not an HTTP answer"
					 : "connection closed without an "
					   "answer");
		return -1;
	}
	if (strncmp(line + 9, "200", 3)) {
		eol = strpbrk(line, "\r\n");
		buf_addf(out, "status %.*s",
			 (int)((eol ? eol : line + ans->len) - (line + 9)),
			 line + 9);
		return -1;
	}
	/* the version: X-Version, else the body's first line */
	body = strstr(line, "\r\n\r\n");
	hv = strcasestr(line, "\nX-Version:");
	if (hv && (!body || hv < body)) {
		hv += 11;
		while (*hv == ' ')
			hv++;
		eol = strpbrk(hv, "\r\n");
		buf_add(out, hv, eol ? (size_t)(eol - hv) : strlen(hv));
	} else if (body) {
		body += 4;
		eol = strpbrk(body, "\r\n");
		buf_add(out, body, eol ? (size_t)(eol - body) : strlen(body));
	}
	if (out->len > MAX_VERSION)
		buf_setlen(out, MAX_VERSION);
	for (size_t i = 0; i < out->len; i++)
		if ((unsigned char)out->ptr[i] < ' ')
			out->ptr[i] = ' ';
	return 0;
}

static void req_end(struct req *r, int log, bool ok, const char *text)
{
	char head[96];
	struct buf line = BUF_INIT;

	snprintf(head, sizeof(head), "%lld %s %lld ", (long long)r->w0,
		 ok ? "OK" : "FAIL", (long long)(proc_now_ms() - r->t0));
	buf_addstr(&line, head);
	buf_addstr(&line, text);
	buf_addch(&line, '\n');
	(void)!write(log, line.ptr, line.len);
	buf_release(&line);
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	buf_release(&r->ans);
}

static void req_fail(struct req *r, int log, const char *what, int err)
{
	char text[160];

	snprintf(text, sizeof(text), "%s%s%s", what, err ? ": " : "",
		 err ? strerror(err) : "");
	req_end(r, log, false, text);
}

static void req_start(struct req *r, const struct addrinfo *ai, int log)
{
	r->t0 = proc_now_ms();
	r->w0 = proc_wall_ms();
	r->sent = false;
	r->ans = (struct buf)BUF_INIT;
	r->fd = socket(ai->ai_family,
		       ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (r->fd < 0)
		return req_fail(r, log, "socket", errno);
	if (connect(r->fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
	    errno != EINPROGRESS)
		return req_fail(r, log, "connect", errno);
}

/* The socket is ready: go on with r. */
static void req_step(struct req *r, const struct probe_opts *o, int log)
{
	if (!r->sent) {
		int err = 0;
		socklen_t elen = sizeof(err);
		struct buf q = BUF_INIT;
		ssize_t n;

		if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 ||
		    err)
			return req_fail(r, log, "connect", err ? err : errno);
		buf_addf(&q,
			 "GET %s HTTP/1.0\r\nHost: %s:%d\r\nUser-Agent: "
			 "slipway-probe\r\nConnection: close\r\n\r\n",
			 o->path, o->host, o->port);
		/* small: one send on a fresh connection takes it all */
		n = send(r->fd, q.ptr, q.len, MSG_NOSIGNAL);
		buf_release(&q);
		if (n < 0)
			return req_fail(r, log, "send", errno);
		r->sent = true;
		return;
	}
	for (;;) {
		char chunk[8192];
		ssize_t n = read(r->fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0)
			return req_fail(r, log, "read", errno);
		if (!n) {
			struct buf v = BUF_INIT;
			int ok = answer_version(&r->ans, &v);

			req_end(r, log, ok == 0, buf_cstr(&v));
			buf_release(&v);
			return;
		}
		if (r->ans.len < MAX_ANSWER)
			buf_add(&r->ans, chunk, (size_t)n);
	}
}

/*
 * Open loop, as real clients are: a request is due every 1/rate s
 * whether or not the ones before it have been answered (at most
 * MAX_IN_FLIGHT at once), so a stalled balancer shows as failures and a
 * long gap, not as fewer requests.
 */
static void prober(const struct probe_opts *o, int log)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	struct req rq[MAX_IN_FLIGHT];
	struct pollfd pf[MAX_IN_FLIGHT];
	int64_t period_us = 1000000 / o->rate, t0 = proc_now_ms();
	uint64_t k = 0;
	char port[16];

	snprintf(port, sizeof(port), "%d", o->port);
	for (size_t i = 0; i < MAX_IN_FLIGHT; i++)
		rq[i].fd = -1;
	while (!stopping) {
		int64_t now = proc_now_ms();
		int64_t due = t0 + (int64_t)(k * (uint64_t)period_us / 1000);
		int64_t wake = due;
		size_t n = 0, who[MAX_IN_FLIGHT];

		if (due <= now) {
			size_t i;

			k++;
			for (i = 0; i < MAX_IN_FLIGHT && rq[i].fd >= 0; i++)
				;
			if (i == MAX_IN_FLIGHT) {
				/* all slots busy: the oldest has waited too
				 * long already */
				continue;
			}
			if (!ai && getaddrinfo(o->host, port, &hints, &ai)) {
				ai = NULL;
				rq[i].t0 = now;
				rq[i].w0 = proc_wall_ms();
				rq[i].ans = (struct buf)BUF_INIT;
				req_fail(&rq[i], log, "cannot resolve the host",
					 0);
			} else {
				req_start(&rq[i], ai, log);
			}
			continue;
		}
		for (size_t i = 0; i < MAX_IN_FLIGHT; i++) {
			int64_t limit;

			if (rq[i].fd < 0)
				continue;
			limit = rq[i].t0 +
				(rq[i].sent ? ANSWER_MS : CONNECT_MS);
			if (limit <= now) {
				req_fail(&rq[i], log,
					 rq[i].sent ? "no answer within 2 s"
						    : "connect: timed out",
					 0);
				continue;
			}
			if (limit < wake)
				wake = limit;
			pf[n].fd = rq[i].fd;
			pf[n].events = rq[i].sent ? POLLIN : POLLOUT;
			pf[n].revents = 0;
			who[n++] = i;
		}
		if (poll(pf, n, (int)(wake - now)) <= 0)
			continue;
		for (size_t j = 0; j < n; j++)
			if (pf[j].revents)
				req_step(&rq[who[j]], o, log);
	}
	for (size_t i = 0; i < MAX_IN_FLIGHT; i++)
		if (rq[i].fd >= 0) {
			close(rq[i].fd); /* unanswered at the end: not counted */
			buf_release(&rq[i].ans);
		}
	if (ai)
		freeaddrinfo(ai);
}

int probe_start(struct probe *p, const struct probe_opts *o,
		const char *log_path, struct sw_err *e)
{
	pid_t parent = getpid(), pid;
	int log =
		open(log_path,
		     O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);

	if (log < 0)
		return err_sys(e, "cannot create '%s'", log_path);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(log);
		return err_sys(e, "cannot fork the probe");
	}
	if (pid == 0) {
		struct sigaction sa = { .sa_handler = on_term };
		sigset_t none;

		sigemptyset(&none);
		sigaction(SIGTERM, &sa, NULL);
		signal(SIGINT, SIG_IGN); /* a Ctrl-C stops the deployment */
		signal(SIGHUP, SIG_IGN);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGPIPE, SIG_IGN);
		sigprocmask(SIG_SETMASK, &none, NULL);
		proc_die_with_parent(parent, SIGTERM);
		prober(o, log);
		_exit(0);
	}
	close(log);
	p->pid = pid;
	p->o = o;
	p->log = xstrdup(log_path);
	p->start_ms = proc_wall_ms();
	return 0;
}

/* ---- the figures ---- */

void probe_tally(const char *log, size_t len, int64_t start_ms, int64_t end_ms,
		 struct probe_result *r)
{
	const char *p = log, *end = log + len;
	int64_t last_ok = start_ms;
	size_t alloc_v = 0, alloc_f = 0;

	r->start_ms = start_ms;
	r->end_ms = end_ms;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		char *ln, *text;
		long long at, lat;
		char okw[8];
		int used = 0;

		if (!nl)
			break; /* a line cut short by the stop */
		ln = xstrndup(p, (size_t)(nl - p));
		p = nl + 1;
		if (sscanf(ln, "%lld %7s %lld %n", &at, okw, &lat, &used) < 3 ||
		    !used) {
			free(ln);
			continue;
		}
		text = ln + used;
		r->sent++;
		if (!strcmp(okw, "OK")) {
			size_t i;

			if (at - last_ok > r->longest_gap_ms)
				r->longest_gap_ms = at - last_ok;
			last_ok = at;
			for (i = 0; i < r->nr_versions; i++)
				if (!strcmp(r->versions[i].version, text))
					break;
			if (i == r->nr_versions) {
				ALLOC_GROW(r->versions, r->nr_versions + 1,
					   alloc_v);
				r->versions[i].version = xstrdup(text);
				r->versions[i].first_ms = at;
				r->versions[i].count = 0;
				r->nr_versions++;
			}
			r->versions[i].last_ms = at;
			r->versions[i].count++;
		} else {
			r->failed++;
			if (r->nr_failures < PROBE_MAX_FAILURES) {
				ALLOC_GROW(r->failures, r->nr_failures + 1,
					   alloc_f);
				r->failures[r->nr_failures].at_ms = at;
				r->failures[r->nr_failures].why = xstrdup(text);
				r->nr_failures++;
			}
		}
		free(ln);
	}
	if (end_ms - last_ok > r->longest_gap_ms)
		r->longest_gap_ms = end_ms - last_ok;
}

int probe_stop(struct probe *p, struct probe_result *r, struct sw_err *e)
{
	char *text = NULL;
	size_t len = 0;

	if (!p->pid)
		return 0;
	kill(p->pid, SIGTERM);
	(void)proc_wait(p->pid);
	p->pid = 0;
	p->end_ms = proc_wall_ms();
	if (fs_read_file(p->log, 256 << 20, &text, &len, e) < 0)
		return -1;
	r->url = xstrdup(p->o->url);
	r->rate = p->o->rate;
	probe_tally(text, len, p->start_ms, p->end_ms, r);
	free(text);
	return 0;
}

void probe_result_release(struct probe_result *r)
{
	free(r->url);
	for (size_t i = 0; i < r->nr_versions; i++)
		free(r->versions[i].version);
	free(r->versions);
	for (size_t i = 0; i < r->nr_failures; i++)
		free(r->failures[i].why);
	free(r->failures);
	memset(r, 0, sizeof(*r));
}

void probe_release(struct probe *p)
{
	if (p->pid) {
		kill(p->pid, SIGKILL);
		(void)proc_wait(p->pid);
	}
	free(p->log);
	memset(p, 0, sizeof(*p));
}
