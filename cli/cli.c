#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cache.h"
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

int cli_bundle_size_option(const char *cmd, const char *s, uint64_t *n)
{
	uint64_t v;

	if (cache_parse_size(s, &v) < 0 || !v)
		return cli_usage_error(cmd,
				       "--max-bundle-size must be a size such "
				       "as 10G or 512M, not '%s'",
				       s);
	*n = v;
	return 0;
}

int cli_bundle_ratio_option(const char *cmd, const char *s, uint64_t *n)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!*s || *end || *s == '-' || errno || v < 1 || v > 1000000000)
		return cli_usage_error(cmd,
				       "--max-bundle-ratio must be a number "
				       "from 1 to 1000000000, not '%s'",
				       s);
	*n = v;
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
