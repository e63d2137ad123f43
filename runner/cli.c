#include "cli.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "banned.h"

int cli_parse_duration(const char *s, int64_t *ms)
{
	int64_t total = 0;
	bool any = false;

	if (!s || !*s)
		return -1;
	while (*s) {
		char *end;
		double v;
		int64_t unit;

		if (!isdigit((unsigned char)*s) && *s != '.')
			return -1;
		v = strtod(s, &end);
		if (end == s || v < 0 || v > 1e7)
			return -1;
		switch (*end) {
		case '\0':
			if (any)
				return -1; /* "1h30" is ambiguous */
			unit = 60000; /* bare: minutes */
			break;
		case 's':
			unit = 1000;
			end++;
			break;
		case 'm':
			unit = 60000;
			end++;
			break;
		case 'h':
			unit = 3600000;
			end++;
			break;
		default:
			return -1;
		}
		total += (int64_t)(v * (double)unit);
		any = true;
		s = end;
	}
	if (total <= 0)
		return -1;
	*ms = total;
	return 0;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nsee 'slipway %s --help'\n", cmd);
	return ERR_USAGE;
}
