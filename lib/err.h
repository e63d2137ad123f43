/*
 * err: the one error carrier passed last to every fallible function.
 *
 *   struct sw_err e = SW_ERR_INIT;
 *   if (thing_do(..., &e) < 0) {
 *           fprintf(stderr, "error: %s\n", e.msg);
 *           return e.code;          -- an exit status from enum err_code
 *   }
 *
 * Functions return 0 on success, -1 on failure with *e filled. err_set()
 * never overwrites an error already set: the first root cause wins, and
 * callers add context with err_prefix() on the way up.
 */
#ifndef SW_ERR_H
#define SW_ERR_H

#include <stdarg.h>

/* Also the process exit statuses (DESIGN.md "Exit status"). */
enum err_code {
	ERR_OK = 0,
	ERR_FAILED = 1, /* the build or deployment failed or was stopped */
	ERR_USAGE = 2, /* bad command line */
	ERR_SPEC = 3, /* invalid buildspec, appspec, group or input file */
	ERR_TIMEOUT = 4, /* timed out */
	ERR_SYSTEM = 111 /* disk, fork, library */
};

struct sw_err {
	int code;
	char msg[1024];
};

#define SW_ERR_INIT                                                            \
	{                                                                      \
		0                                                              \
	}

/* Set the error unless one is already set. Always returns -1. */
int err_set(struct sw_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* err_set(ERR_SYSTEM) with ": strerror(errno)" appended. Returns -1. */
int err_sys(struct sw_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prepend "<context>: " to the message already set. */
void err_prefix(struct sw_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Reset for reuse. */
void err_clear(struct sw_err *e);

#endif
