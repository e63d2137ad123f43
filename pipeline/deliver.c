/*
 * deliver: events POSTed to notification URLs (deliver.h).
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	const char *name;
	const char *url;
	char *spool; /* notify/<i>.jsonl */
	char *off; /* notify/<i>.off */
	char *log; /* <pe-dir>/notifications.log */
	CURL *curl;
	int down; /* the last event was given up */
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
	buf_addf(&b, "%s warning: notification '%s': %s\n", ts, t->name, msg);
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

static size_t discard(char *p, size_t sz, size_t n, void *u)
{
	(void)p;
	(void)u;
	return sz * n;
}

/* One POST: 0 delivered, 1 worth another attempt, 2 refused for good;
 * why says what went wrong. */
static int post(struct target *t, const char *body, size_t len, char *why,
		size_t whylen)
{
	struct curl_slist *h = NULL;
	long code = 0;
	CURLcode rc;

	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_reset(t->curl);
	curl_easy_setopt(t->curl, CURLOPT_URL, t->url);
	curl_easy_setopt(t->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(t->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(t->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(t->curl, CURLOPT_USERAGENT, "slipway/" SW_VERSION);
	curl_easy_setopt(t->curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_MS);
	curl_easy_setopt(t->curl, CURLOPT_TIMEOUT_MS, ATTEMPT_MS);
	curl_easy_setopt(t->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->curl, CURLOPT_WRITEFUNCTION, discard);
	rc = curl_easy_perform(t->curl);
	curl_slist_free_all(h);
	if (rc != CURLE_OK) {
		snprintf(why, whylen, "%s", curl_easy_strerror(rc));
		return 1;
	}
	curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 200 && code < 300)
		return 0;
	snprintf(why, whylen, "HTTP status %ld", code);
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
				say(t, "%s answers again", t->url);
			t->down = 0;
			return;
		}
		if (rc == 2)
			break;
		if (i + 1 < tries) {
			say(t, "POST %s: %s; attempt %d of %d in %ld ms",
			    t->url, why, i + 2, tries, backoff_ms[i]);
			sleep_ms(backoff_ms[i]);
		}
	}
	say(t, "POST %s: %s; event not delivered", t->url, why);
	t->down = 1;
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

	curl_global_init(CURL_GLOBAL_DEFAULT);
	t->curl = curl_easy_init();
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
			if (!t->curl || mono_ms() - start > DEADLINE_MS)
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

void deliver_queue(const char *pe_dir, size_t idx, const char *name,
		   const char *url, const char *json)
{
	struct sw_err e = SW_ERR_INIT;
	char *dir = fs_join(pe_dir, "notify"), *lock;
	struct target t = { .name = name, .url = url };
	struct buf b = BUF_INIT;
	int fd, lockfd = -1;
	pid_t pid;

	t.spool = xasprintf("%s/%zu.jsonl", dir, idx);
	t.off = xasprintf("%s/%zu.off", dir, idx);
	t.log = fs_join(pe_dir, "notifications.log");
	lock = xasprintf("%s/%zu.lock", dir, idx);
	if (fs_mkdir_p(dir, 0755, &e) < 0) {
		fprintf(stderr, "warning: notification '%s': %s\n", name,
			e.msg);
		goto out;
	}
	buf_addstr(&b, json);
	buf_addch(&b, '\n');
	fd = open(t.spool, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, b.ptr, b.len) != (ssize_t)b.len) {
		fprintf(stderr, "warning: notification '%s': %s: %s\n", name,
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
		fprintf(stderr, "warning: notification '%s': fork: %s\n", name,
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
