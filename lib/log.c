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

/* The view holds a command's output back, up to this much. */
#define CMD_OUT_CAP (16u << 20)

static void emit(struct log *lg, const char *p, size_t n, bool to_term)
{
	if (!n)
		return;
	if (to_term && !lg->quiet && lg->pretty && lg->cmd_running) {
		size_t room = CMD_OUT_CAP - lg->cmd_out.len;

		buf_add(&lg->cmd_out, p, n < room ? n : room);
		lg->cmd_dropped += n < room ? 0 : n - room;
	} else if (to_term && !lg->quiet) {
		write_all(&lg->term_fd, p, n, NULL);
	}
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

/* The agent's lines the terminal view shows. */
static bool pretty_shows(const char *text)
{
	static const char *const shown[] = {
		"Warning",	   "Paused",
		"Pause ended",	   "Skipping",
		"Command counted", "Build timed out",
		"No artifacts",	   "Source: the files",
		"Restored",
	};

	for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
		if (!strncmp(text, shown[i], strlen(shown[i])))
			return true;
	return false;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "0.3s", "12.0s", "3m05s" */
static void duration(char out[16], int64_t ms)
{
	if (ms < 60000)
		snprintf(out, 16, "%.1fs", (double)ms / 1000.0);
	else
		snprintf(out, 16, "%lldm%02llds", (long long)(ms / 60000),
			 (long long)(ms / 1000 % 60));
}

#define NAME_COLS 60

/* One line of the view: indent, mark, name, note and duration. */
static void view_line(struct log *lg, const char *indent, const char *mark,
		      const char *color, const char *name, const char *note,
		      int64_t ms)
{
	struct buf *b = &lg->scratch;
	size_t n = strcspn(name, "\n");
	bool cut = n > NAME_COLS || name[n];
	char d[16];

	duration(d, ms);
	buf_clear(b);
	buf_addf(b, "%s%s%s%s ", indent, lg->color ? color : "", mark,
		 lg->color ? RESET : "");
	{
		/* the first line, cut to fit, then padded */
		int shown = (int)(cut && n > NAME_COLS - 3 ? NAME_COLS - 3 : n);
		int width = shown + (cut ? 3 : 0);

		buf_addf(b, "%.*s%s%*s", shown, name, cut ? "..." : "",
			 width < NAME_COLS ? NAME_COLS - width : 0, "");
	}
	buf_addf(b, " %s%8s%s%s%s\n", lg->color ? DIM : "", d,
		 lg->color ? RESET : "", *note ? "  " : "", note);
	write_all(&lg->term_fd, b->ptr, b->len, NULL);
}

void log_set_pretty(struct log *lg, bool on)
{
	lg->pretty = on && lg->term_fd >= 0;
}

void log_command(struct log *lg, const char *cmd)
{
	log_agent(lg, "Running command %s", cmd);
	if (!lg->pretty || lg->quiet)
		return;
	free(lg->cmd);
	lg->cmd = lg->mask ? mask_string(lg->mask, cmd) : strdup(cmd);
	lg->cmd_running = true;
	lg->cmd_start = now_ms();
	buf_clear(&lg->cmd_out);
	lg->cmd_dropped = 0;
	if (lg->cmd) {
		struct buf *b = &lg->scratch;
		size_t n = strcspn(lg->cmd, "\n");

		/* one screen line, or \r cannot take it back */
		buf_clear(b);
		buf_addf(b, "  %.*s...", (int)(n > NAME_COLS ? NAME_COLS : n),
			 lg->cmd);
		write_all(&lg->term_fd, b->ptr, b->len, NULL);
	}
}

void log_command_done(struct log *lg, int status)
{
	char note[32] = "";

	if (!lg->cmd_running)
		return;
	log_output_flush(lg);
	lg->cmd_running = false;
	write_all(&lg->term_fd, "\r\033[K", 4, NULL);
	if (status)
		snprintf(note, sizeof(note), "%s",
			 status < 0 ? "stopped" : "failed");
	view_line(lg, "  ", status ? "\xe2\x9c\x97" : "\xe2\x9c\x93",
		  status ? RED : GREEN, lg->cmd ? lg->cmd : "", note,
		  now_ms() - lg->cmd_start);
	if (status && lg->cmd_out.len) {
		write_all(&lg->term_fd, lg->cmd_out.ptr, lg->cmd_out.len, NULL);
		if (lg->cmd_out.ptr[lg->cmd_out.len - 1] != '\n')
			write_all(&lg->term_fd, "\n", 1, NULL);
		if (lg->cmd_dropped) {
			struct buf *b = &lg->scratch;

			buf_clear(b);
			buf_addf(b, "  (%zu bytes more in build.log)\n",
				 lg->cmd_dropped);
			write_all(&lg->term_fd, b->ptr, b->len, NULL);
		}
	}
	buf_clear(&lg->cmd_out);
	free(lg->cmd);
	lg->cmd = NULL;
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
		/* the view's lines end their own; a held-back output's
		 * newline goes with it */
		emit(lg, "\n", 1, !lg->pretty || lg->cmd_running);
	log_timestamp(ts);
	buf_clear(b);
	buf_addf(b, "[Container] %s %s%s\n", ts, text, status ? status : "");
	write_all(&lg->file_fd, b->ptr, b->len, &lg->file_err);
	if (!lg->quiet && lg->pretty) {
		if (!status && pretty_shows(text)) {
			buf_clear(b);
			buf_addf(b, "  %s%s%s\n", lg->color ? DIM : "", text,
				 lg->color ? RESET : "");
			write_all(&lg->term_fd, b->ptr, b->len, NULL);
		}
	} else if (!lg->quiet) {
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

void log_phase_complete_ms(struct log *lg, const char *phase,
			   const char *status, int64_t ms)
{
	bool ok = !strcmp(status, "SUCCEEDED");

	log_phase_complete(lg, phase, status);
	if (!lg->pretty || lg->quiet)
		return;
	view_line(lg, "", ok ? "\xe2\x9c\x93" : "\xe2\x9c\x97",
		  ok			      ? GREEN
		  : !strcmp(status, "FAILED") ? RED
					      : YELLOW,
		  phase, ok ? "" : status, ms);
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
	buf_release(&lg->cmd_out);
	free(lg->cmd);
	lg->cmd = NULL;
}
