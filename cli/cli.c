#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "err.h"
#include "strvec.h"
#include "suggest.h"
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

int cli_unknown_option(const char *cmd, const char *arg,
		       const char *const *names)
{
	size_t nr = 0, len = strcspn(arg, "=");
	const char *s;

	while (names && names[nr])
		nr++;
	s = suggest_closest(arg, len, names, nr);
	if (s)
		return cli_usage_error(cmd,
				       "unknown option '%.*s' (did you mean "
				       "'%s'?)",
				       (int)len, arg, s);
	return cli_usage_error(cmd, "unknown option '%.*s'", (int)len, arg);
}

int cli_unknown_subcommand(const char *cmd, const char *sub,
			   const char *const *subs)
{
	size_t nr = 0;
	const char *s;

	while (subs[nr])
		nr++;
	s = suggest_closest(sub, strlen(sub), subs, nr);
	if (s)
		return cli_usage_error(cmd,
				       "unknown subcommand '%s' (did you mean "
				       "'%s'?)",
				       sub, s);
	return cli_usage_error(cmd, "unknown subcommand '%s'", sub);
}

int cli_bad_option(const char *cmd, const char *arg, const struct option *opts)
{
	struct strvec names = STRVEC_INIT;
	size_t len = strcspn(arg, "=");
	int ret;

	for (const struct option *o = opts; o && o->name; o++) {
		if (arg[0] == '-' && arg[1] == '-' &&
		    strlen(o->name) == len - 2 &&
		    !strncmp(arg + 2, o->name, len - 2) &&
		    o->has_arg == required_argument)
			return cli_usage_error(
				cmd, "option '--%s' needs a value", o->name);
		if (arg[0] == '-' && arg[1] && arg[1] != '-' && !arg[2] &&
		    o->val == arg[1] && o->has_arg == required_argument)
			return cli_usage_error(cmd, "option '%s' needs a value",
					       arg);
	}
	for (const struct option *o = opts; o && o->name; o++)
		strvec_pushf(&names, "--%s", o->name);
	ret = cli_unknown_option(cmd, arg, (const char *const *)names.v);
	strvec_release(&names);
	return ret;
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
