#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

#define DIM "\033[2m"
#define RED "\033[31m"
#define GREEN "\033[32m"
#define YELLOW "\033[33m"
#define RESET "\033[0m"

void log_init(struct log *lg, int term_fd, int file_fd, struct mask *mask)
{
	const char *nc = getenv("NO_COLOR");

	memset(lg, 0, sizeof(*lg));
	lg->term_fd = term_fd;
	lg->file_fd = file_fd;
	lg->mask = mask;
	lg->at_bol = true;
	lg->color = term_fd >= 0 && isatty(term_fd) && !(nc && *nc);
}

static void write_all(int *fd, const char *p, size_t n, int *err)
{
	while (*fd >= 0 && n) {
		ssize_t w = write(*fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (err && !*err)
				*err = errno;
			*fd = -1; /* a closed pipe: stop writing there */
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void emit(struct log *lg, const char *p, size_t n, bool to_term)
{
	if (!n)
		return;
	if (to_term && !lg->quiet)
		write_all(&lg->term_fd, p, n, NULL);
	write_all(&lg->file_fd, p, n, &lg->file_err);
	lg->at_bol = p[n - 1] == '\n';
}

void log_timestamp(char out[32])
{
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	size_t n = strftime(out, 32, "%Y/%m/%d %H:%M:%S", &tm);

	snprintf(out + n, 32 - n, ".%06u", (unsigned)tv.tv_usec % 1000000u);
}

/* A line of the agent's: plain to the file, maybe coloured on screen. */
static void agent_line(struct log *lg, const char *msg, const char *status,
		       const char *status_color)
{
	struct buf *b = &lg->scratch;
	char ts[32];
	char *masked = lg->mask ? mask_string(lg->mask, msg) : NULL;
	const char *text = masked ? masked : msg;

	log_output_flush(lg);
	if (!lg->at_bol)
		emit(lg, "\n", 1, true);
	log_timestamp(ts);
	buf_clear(b);
	buf_addf(b, "[Container] %s %s%s\n", ts, text, status ? status : "");
	write_all(&lg->file_fd, b->ptr, b->len, &lg->file_err);
	if (!lg->quiet) {
		if (lg->color) {
			buf_clear(b);
			buf_addf(b, DIM "[Container] %s" RESET " %s", ts, text);
			if (status)
				buf_addf(b, "%s%s" RESET, status_color, status);
			buf_addch(b, '\n');
		}
		write_all(&lg->term_fd, b->ptr, b->len, NULL);
	}
	lg->at_bol = true;
	free(masked);
}

void log_agent(struct log *lg, const char *fmt, ...)
{
	struct buf msg = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	agent_line(lg, buf_cstr(&msg), NULL, NULL);
	buf_release(&msg);
}

void log_phase_complete(struct log *lg, const char *phase, const char *status)
{
	struct buf msg = BUF_INIT;
	const char *color = !strcmp(status, "SUCCEEDED") ? GREEN
			    : !strcmp(status, "FAILED")	 ? RED
							 : YELLOW;

	buf_addf(&msg, "Phase complete: %s State: ", phase);
	agent_line(lg, buf_cstr(&msg), status, color);
	buf_release(&msg);
}

void log_output(struct log *lg, const char *data, size_t len)
{
	struct buf *b = &lg->scratch;

	if (!lg->mask || !lg->mask->nr) {
		if (lg->mask && lg->mask->hold.len)
			log_output_flush(lg);
		emit(lg, data, len, true);
		return;
	}
	buf_clear(b);
	mask_feed(lg->mask, data, len, b);
	emit(lg, b->ptr, b->len, true);
}

void log_output_flush(struct log *lg)
{
	struct buf tail = BUF_INIT;

	if (!lg->mask)
		return;
	mask_flush(lg->mask, &tail);
	emit(lg, tail.ptr, tail.len, true);
	buf_release(&tail);
}

void log_release(struct log *lg)
{
	log_output_flush(lg);
	buf_release(&lg->scratch);
}
