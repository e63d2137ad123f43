#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void err_vset(struct sw_err *e, int code, const char *fmt, va_list ap)
{
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	e->code = code;
}

int err_set(struct sw_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e || e->code)
		return -1;
	va_start(ap, fmt);
	err_vset(e, code, fmt, ap);
	va_end(ap);
	return -1;
}

int err_sys(struct sw_err *e, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	size_t len;

	if (!e || e->code)
		return -1;
	va_start(ap, fmt);
	err_vset(e, ERR_SYSTEM, fmt, ap);
	va_end(ap);
	len = strlen(e->msg);
	snprintf(e->msg + len, sizeof(e->msg) - len, ": %s", strerror(saved));
	errno = saved;
	return -1;
}

void err_prefix(struct sw_err *e, const char *fmt, ...)
{
	char old[sizeof(e->msg)];
	va_list ap;
	int n;

	if (!e || !e->code)
		return;
	memcpy(old, e->msg, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(e->msg) - 3)
		return;
	memcpy(e->msg + n, ": ", 2);
	n += 2;
	memcpy(e->msg + n, old, sizeof(e->msg) - (size_t)n - 1);
	e->msg[sizeof(e->msg) - 1] = '\0';
}

void err_clear(struct sw_err *e)
{
	e->code = 0;
	e->msg[0] = '\0';
}
