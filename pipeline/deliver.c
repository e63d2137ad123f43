/*
 * deliver: events POSTed to notification URLs (deliver.h).
 */
#include <ctype.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "deliver.h"
#include "err.h"
#include "fs.h"
#include "xalloc.h"
#include "banned.h"

#define ATTEMPTS 4
#define CONNECT_MS 2000L
#define ATTEMPT_MS 5000L
#define DEADLINE_MS (120LL * 1000)

static const long backoff_ms[ATTEMPTS - 1] = { 200, 1000, 5000 };

struct target {
	const char *what; /* "notification", "commit status" */
	const char *name;
	const char *url; /* NULL: each line is a request record */
	const char *command; /* run with each line on stdin, or NULL */
	const char *cwd; /* the command's directory */
	char *spool; /* notify/<i>.jsonl */
	char *off; /* notify/<i>.off */
	char *log; /* <pe-dir>/notifications.log */
	CURL *curl;
	int down; /* the last event was given up */
	char req_url[512]; /* the URL of the request being sent */
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void say(const struct target *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(const struct target *t, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	char ts[32], *msg;
	time_t now = time(NULL);
	struct tm tm;
	va_list ap;
	int fd;

	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (!msg)
		return;
	buf_addf(&b, "%s warning: %s '%s': %s\n", ts, t->what, t->name, msg);
	fd = open(t->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, b.ptr, b.len) < 0) {
			/* nowhere left to say it */
		}
		close(fd);
	}
	free(msg);
	buf_release(&b);
}

/* The start of an answer, kept to tell a benign refusal from another. */
static size_t keep(char *p, size_t sz, size_t n, void *u)
{
	struct buf *b = u;

	if (b->len < 1024)
		buf_add(b, p, sz * n < 1024 - b->len ? sz * n : 1024 - b->len);
	return sz * n;
}

/* A request record (deliver_queue_request()). */
struct req {
	json_object *o;
	const char *url, *body, *benign;
	struct curl_slist *h;
};

static int req_parse(struct req *r, const char *line, char *why, size_t wl)
{
	json_object *hs, *v;
	const char *tf, *auth;

	memset(r, 0, sizeof(*r));
	r->o = json_tokener_parse(line);
	if (!r->o || !json_object_object_get_ex(r->o, "url", &v) ||
	    !(r->url = json_object_get_string(v)) ||
	    !json_object_object_get_ex(r->o, "body", &v) ||
	    !(r->body = json_object_get_string(v))) {
		snprintf(why, wl, "unreadable request in the spool");
		return -1;
	}
	if (json_object_object_get_ex(r->o, "benign", &v))
		r->benign = json_object_get_string(v);
	if (json_object_object_get_ex(r->o, "headers", &hs) &&
	    json_object_is_type(hs, json_type_array))
		for (size_t i = 0; i < json_object_array_length(hs); i++)
			r->h = curl_slist_append(
				r->h,
				json_object_get_string(
					json_object_array_get_idx(hs, i)));
	/* the token is read when it is sent: it never sits in the spool */
	if (json_object_object_get_ex(r->o, "token-file", &v) &&
	    (tf = json_object_get_string(v)) &&
	    json_object_object_get_ex(r->o, "auth", &v) &&
	    (auth = json_object_get_string(v))) {
		struct sw_err e = SW_ERR_INIT;
		char *tok = NULL;
		size_t n = 0;

		if (fs_read_file(tf, 4096, &tok, &n, &e) < 0) {
			snprintf(why, wl, "token: %s", e.msg);
			free(tok);
			return -1;
		}
		while (n && isspace((unsigned char)tok[n - 1]))
			tok[--n] = '\0';
		{
			char *line2 = xasprintf("%s%s", auth, tok);

			r->h = curl_slist_append(r->h, line2);
			memset(line2, 0, strlen(line2));
			free(line2);
		}
		memset(tok, 0, n);
		free(tok);
	}
	return 0;
}

static void req_release(struct req *r)
{
	json_object_put(r->o);
	curl_slist_free_all(r->h);
	memset(r, 0, sizeof(*r));
}

/* One POST: 0 delivered, 1 worth another attempt, 2 refused for good;
 * why says what went wrong. */
static int post(struct target *t, const char *line, size_t len, char *why,
		size_t whylen)
{
	struct curl_slist *h = NULL;
	struct buf answer = BUF_INIT;
	struct req r = { NULL, NULL, NULL, NULL, NULL };
	const char *url = t->url, *body = line;
	long code = 0;
	CURLcode rc;

	if (!t->url) {
		if (req_parse(&r, line, why, whylen) < 0) {
			req_release(&r);
			return 2;
		}
		url = r.url;
		snprintf(t->req_url, sizeof(t->req_url), "%s", url);
		body = r.body;
		len = strlen(body);
		h = r.h;
		r.h = NULL;
	}
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_reset(t->curl);
	curl_easy_setopt(t->curl, CURLOPT_URL, url);
	curl_easy_setopt(t->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(t->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(t->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(t->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(t->curl, CURLOPT_USERAGENT, "slipway/" SW_VERSION);
	curl_easy_setopt(t->curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_MS);
	curl_easy_setopt(t->curl, CURLOPT_TIMEOUT_MS, ATTEMPT_MS);
	curl_easy_setopt(t->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->curl, CURLOPT_WRITEFUNCTION, keep);
	curl_easy_setopt(t->curl, CURLOPT_WRITEDATA, &answer);
	rc = curl_easy_perform(t->curl);
	curl_slist_free_all(h);
	if (rc != CURLE_OK) {
		snprintf(why, whylen, "%s", curl_easy_strerror(rc));
		code = -1;
	} else {
		curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
		snprintf(why, whylen, "HTTP status %ld", code);
	}
	/* GitLab refuses a status it already has: that is delivered */
	if (code == 400 && r.benign && strstr(buf_cstr(&answer), r.benign))
		code = 200;
	/* GitHub's rate limits answer 403: worth waiting for */
	if (code == 403 && !t->url &&
	    strcasestr(buf_cstr(&answer), "rate limit"))
		code = 429;
	req_release(&r);
	buf_release(&answer);
	if (code < 0)
		return 1;
	if (code >= 200 && code < 300)
		return 0;
	return code >= 500 || code == 429 ? 1 : 2;
}

static void send_one(struct target *t, const char *body, size_t len)
{
	int tries = t->down ? 1 : ATTEMPTS;
	char why[256];

	for (int i = 0; i < tries; i++) {
		int rc = post(t, body, len, why, sizeof(why));

		if (!rc) {
			if (t->down)
				say(t, "%s answers again",
				    t->url ? t->url : t->req_url);
			t->down = 0;
			return;
		}
		if (rc == 2)
			break;
		if (i + 1 < tries) {
			say(t, "POST %s: %s; attempt %d of %d in %ld ms",
			    t->url ? t->url : t->req_url, why, i + 2, tries,
			    backoff_ms[i]);
			sleep_ms(backoff_ms[i]);
		}
	}
	say(t, "POST %s: %s; %s not delivered", t->url ? t->url : t->req_url,
	    why, t->url ? "event" : "status");
	t->down = 1;
}

/* One event to a command: its stdin the event, its stdout and stderr
 * appended to the log; a failure is said there. Never retried: a
 * command may have acted before it failed. */
static void run_one(struct target *t, const char *body, size_t len)
{
	int p[2], st = 0, logfd;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		say(t, "pipe: %s", strerror(errno));
		return;
	}
	logfd = open(t->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	pid = fork();
	if (pid == 0) {
		dup2(p[0], 0);
		if (logfd >= 0) {
			dup2(logfd, 1);
			dup2(logfd, 2);
		}
		signal(SIGPIPE, SIG_DFL);
		if (chdir(t->cwd) < 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", t->command, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	if (logfd >= 0)
		close(logfd);
	if (pid < 0) {
		close(p[1]);
		say(t, "fork: %s", strerror(errno));
		return;
	}
	for (size_t off = 0; off < len;) {
		ssize_t w = write(p[1], body + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* it did not read it all: its business */
		off += (size_t)w;
	}
	if (write(p[1], "\n", 1) < 0) {
		/* likewise */
	}
	close(p[1]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		say(t, "command failed (status %d)",
		    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

static long long read_off(const struct target *t)
{
	char *data = NULL;
	size_t len;
	long long off = 0;
	struct sw_err e = SW_ERR_INIT;

	if (fs_read_file(t->off, 64, &data, &len, &e) == 0 && data)
		off = strtoll(data, NULL, 10);
	err_clear(&e);
	free(data);
	return off < 0 ? 0 : off;
}

static void write_off(const struct target *t, long long off)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "%lld\n", off);
	struct sw_err e = SW_ERR_INIT;

	if (fs_replace(t->off, b, (size_t)n, 0644, &e) < 0) {
		say(t, "%s", e.msg);
		err_clear(&e);
	}
}

/* The deliverer: holds the lock (fd lockfd) and drains the spool. */
static void drain(struct target *t, int lockfd)
{
	int64_t start = mono_ms();
	char *line = NULL;
	size_t cap = 0;

	if (!t->command) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		t->curl = curl_easy_init();
	}
	for (;;) {
		long long off = read_off(t), dropped = 0, tail;
		struct stat sb;
		FILE *f = fopen(t->spool, "re");
		ssize_t n;

		if (!f || fseeko(f, (off_t)off, SEEK_SET) < 0) {
			if (f)
				fclose(f);
			break;
		}
		while ((n = getline(&line, &cap, f)) > 0 &&
		       line[n - 1] == '\n') {
			line[n - 1] = '\0';
			if (t->command)
				run_one(t, line, (size_t)n - 1);
			else if (!t->curl || mono_ms() - start > DEADLINE_MS)
				dropped++;
			else
				send_one(t, line, (size_t)n - 1);
			off += n;
			write_off(t, off);
		}
		/* how far it read, a line still being written included */
		tail = (long long)ftello(f);
		fclose(f);
		if (dropped)
			say(t, "%lld events not delivered: out of time",
			    dropped);
		flock(lockfd, LOCK_UN);
		/* an event queued while the lock was held is ours */
		if (stat(t->spool, &sb) < 0 || sb.st_size <= off ||
		    sb.st_size <= tail)
			break;
		if (flock(lockfd, LOCK_EX | LOCK_NB) < 0)
			break;
	}
	free(line);
	if (t->curl)
		curl_easy_cleanup(t->curl);
}

static void queue(const char *pe_dir, const char *stem, const char *what,
		  const char *name, const char *url, const char *command,
		  const char *cwd, const char *json)
{
	struct sw_err e = SW_ERR_INIT;
	char *dir = fs_join(pe_dir, "notify"), *lock;
	struct target t = { .what = what,
			    .name = name,
			    .url = url,
			    .command = command,
			    .cwd = cwd };
	struct buf b = BUF_INIT;
	int fd, lockfd = -1;
	pid_t pid;

	t.spool = xasprintf("%s/%s.jsonl", dir, stem);
	t.off = xasprintf("%s/%s.off", dir, stem);
	t.log = fs_join(pe_dir, "notifications.log");
	lock = xasprintf("%s/%s.lock", dir, stem);
	if (fs_mkdir_p(dir, 0755, &e) < 0) {
		fprintf(stderr, "warning: %s '%s': %s\n", what, name, e.msg);
		goto out;
	}
	buf_addstr(&b, json);
	buf_addch(&b, '\n');
	fd = open(t.spool, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, b.ptr, b.len) != (ssize_t)b.len) {
		fprintf(stderr, "warning: %s '%s': %s: %s\n", what, name,
			t.spool, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	close(fd);
	lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lockfd < 0)
		goto out;
	/* taken: a deliverer at work sends this event too */
	if (flock(lockfd, LOCK_EX | LOCK_NB) < 0)
		goto out;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		setsid();
		if (fork() != 0)
			_exit(0);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		dup2(lockfd, 3);
		closefrom(4);
		signal(SIGPIPE, SIG_IGN);
		signal(SIGUSR1, SIG_DFL);
		signal(SIGINT, SIG_IGN);
		drain(&t, 3);
		_exit(0);
	}
	if (pid < 0)
		fprintf(stderr, "warning: %s '%s': fork: %s\n", what, name,
			strerror(errno));
	else
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
out:
	if (lockfd >= 0)
		close(lockfd);
	err_clear(&e);
	buf_release(&b);
	free(t.spool);
	free(t.off);
	free(t.log);
	free(lock);
	free(dir);
}

void deliver_queue(const char *pe_dir, size_t idx, const char *name,
		   const char *url, const char *json)
{
	char stem[32];

	snprintf(stem, sizeof(stem), "%zu", idx);
	queue(pe_dir, stem, "notification", name, url, NULL, NULL, json);
}

void deliver_queue_command(const char *pe_dir, size_t idx, const char *name,
			   const char *command, const char *cwd,
			   const char *json)
{
	char stem[40];

	snprintf(stem, sizeof(stem), "cmd-%zu", idx);
	queue(pe_dir, stem, "notification", name, NULL, command, cwd, json);
}

void deliver_queue_request(const char *pe_dir, const char *stem,
			   const char *name, const char *record)
{
	queue(pe_dir, stem, "commit status", name, NULL, NULL, NULL, record);
}
