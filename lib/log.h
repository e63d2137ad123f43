/*
 * log: the build log, as CodeBuild's agent writes it. Agent lines carry
 * "[Container] YYYY/MM/DD HH:MM:SS.uuuuuu " (UTC); the commands' own
 * output passes raw in between. Everything goes to the terminal (or
 * whatever stdout is) and to build.log, through the secret mask.
 *
 *   struct log lg;
 *   log_init(&lg, STDOUT_FILENO, logfd, &mask);
 *   log_agent(&lg, "Entering phase %s", "BUILD");
 *   log_output(&lg, data, n);          -- raw command output
 *   log_status(&lg, "BUILD", "FAILED");
 *   log_release(&lg);                  -- flushes; fds stay the caller's
 *
 * Colour (status words, a dim prefix) only when term_fd is a terminal and
 * NO_COLOR is unset; build.log never has colour. A write error on the
 * terminal (a closed pipe) stops terminal output but not the file; one
 * on the file (a full disk) stops writing the file and is kept in
 * file_err, for the build to report.
 *
 * The terminal view (log_set_pretty; build.log keeps CodeBuild's lines):
 * one line per command and per phase, each with a mark (a check, a
 * cross), its name and its duration; a command's output is held back and
 * shown in full only when it fails; of the agent's other lines only
 * warnings, pauses and skips are shown.
 */
#ifndef SW_LOG_H
#define SW_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "mask.h"

struct log {
	int term_fd; /* -1: none */
	int file_fd; /* -1: none */
	bool color;
	bool quiet; /* -q: command output and agent lines only to the file */
	struct mask *mask; /* may be NULL */
	bool at_bol; /* the last byte written was a newline */
	int file_err; /* errno of the first failed write to file_fd, or 0 */
	struct buf scratch;
	/* the terminal view */
	bool pretty;
	bool cmd_running;
	char *cmd; /* its first line */
	int64_t cmd_start; /* monotonic ms */
	struct buf cmd_out; /* its output, held back (capped) */
	size_t cmd_dropped; /* bytes past the cap */
};

void log_init(struct log *lg, int term_fd, int file_fd, struct mask *mask);
void log_release(struct log *lg);

/* One agent line; a newline is added. */
void log_agent(struct log *lg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "Phase complete: <phase> State: <status>" with the status coloured. */
void log_phase_complete(struct log *lg, const char *phase, const char *status);

/* The terminal view instead of CodeBuild's lines on term_fd. */
void log_set_pretty(struct log *lg, bool on);

/* "Running command <cmd>", and the view's line for it. */
void log_command(struct log *lg, const char *cmd);
/* The command ended with exit status status (-1: killed by a timeout or a
 * stop): the view's mark and duration, and on failure its output. */
void log_command_done(struct log *lg, int status);

/* log_phase_complete, with the phase's duration for the view. */
void log_phase_complete_ms(struct log *lg, const char *phase,
			   const char *status, int64_t ms);

/* Raw command output; may end mid-line. */
void log_output(struct log *lg, const char *data, size_t len);
/* Emit what the mask still holds (end of a command). */
void log_output_flush(struct log *lg);

/* Format "YYYY/MM/DD HH:MM:SS.uuuuuu" for the current time (UTC). */
void log_timestamp(char out[32]);

#endif
