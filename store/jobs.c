/*
 * What every store shares about the job queue (see store.h): which
 * worker may run which job.
 */
#include <stdbool.h>
#include <string.h>

#include "store.h"
#include "banned.h"

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The next name of a comma-separated list at *p: [*b, *b + *n). */
static bool next_name(const char **p, const char **b, size_t *n)
{
	const char *s = *p, *end;

	while (*s) {
		while (blank(*s) || *s == ',')
			s++;
		end = s;
		while (*end && *end != ',')
			end++;
		*p = end;
		*n = (size_t)(end - s);
		while (*n && blank(s[*n - 1]))
			(*n)--;
		*b = s;
		if (*n)
			return true;
		s = end;
	}
	*p = s;
	return false;
}

static bool has_name(const char *labels, const char *name, size_t n)
{
	const char *p = labels, *b;
	size_t m;

	while (labels && next_name(&p, &b, &m))
		if (m == n && !memcmp(b, name, n))
			return true;
	return false;
}

int store_job_labels_match(const char *wanted, const char *labels)
{
	const char *p = wanted, *b;
	size_t n;

	while (wanted && next_name(&p, &b, &n))
		if (!has_name(labels, b, n))
			return 0;
	return 1;
}
