/*
 * strvec: a NULL-terminated, growable array of owned strings, usable as
 * argv or envp.
 *
 *   struct strvec v = STRVEC_INIT;
 *   strvec_push(&v, "sh");
 *   strvec_pushf(&v, "-c%s", x);
 *   execve(v.v[0], v.v, env);      -- v.v is never NULL
 *   strvec_release(&v);
 *
 * A zeroed struct strvec (v == NULL, nr == 0) is also valid and empty;
 * STRVEC_INIT is needed only where v must be a usable argv at once.
 */
#ifndef SW_STRVEC_H
#define SW_STRVEC_H

#include <stddef.h>

extern const char *strvec_empty[];

struct strvec {
	char **v;
	size_t nr;
	size_t alloc;
};

#define STRVEC_INIT                                                            \
	{                                                                      \
		(char **)strvec_empty, 0, 0                                    \
	}

void strvec_init(struct strvec *sv);
/* Copies s. Returns the stored copy. */
const char *strvec_push(struct strvec *sv, const char *s);
const char *strvec_pushf(struct strvec *sv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Takes ownership of s (malloc'd). */
void strvec_push_nodup(struct strvec *sv, char *s);
void strvec_pushv(struct strvec *sv, const char *const *v);
/* Remove and free the last element. */
void strvec_pop(struct strvec *sv);
/* Index of s or -1. */
long strvec_find(const struct strvec *sv, const char *s);
void strvec_clear(struct strvec *sv);
void strvec_release(struct strvec *sv);

#endif
