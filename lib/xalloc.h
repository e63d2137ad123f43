/*
 * xalloc: allocation that cannot fail. On exhaustion the process aborts
 * with a message; callers never test for NULL (tmux xmalloc.c).
 *
 * BUG(fmt, ...) reports a broken invariant and aborts.
 */
#ifndef SW_XALLOC_H
#define SW_XALLOC_H

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
/* Grow *ptr to hold at least `want` elements of `size`; *alloc is updated. */
void *xgrow(void *ptr, size_t size, size_t want, size_t *alloc);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* NULL stays NULL. */
char *xstrdup_or_null(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap);

#define ALLOC_GROW(arr, want, alloc)                                           \
	((arr) = xgrow((arr), sizeof(*(arr)), (want), &(alloc)))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define BUG(...) bug_fl(__FILE__, __LINE__, __VA_ARGS__)
void bug_fl(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

#endif
