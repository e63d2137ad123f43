#include "envfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "xalloc.h"
#include "banned.h"

/* An env file larger than this is a mistake, not a configuration. */
#define ENVFILE_MAX (16u << 20)

/* Bytes of a bad name quoted in a message. */
#define NAME_QUOTE_MAX 64

bool env_name_valid(const char *s, size_t len)
{
	size_t i;

	if (!len)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];
		bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			     c == '_';

		if (!alpha && (i == 0 || c < '0' || c > '9'))
			return false;
	}
	return true;
}

static void set_var(struct strvec *names, struct strvec *values,
		    const char *name, size_t nlen, const char *val, size_t vlen)
{
	char *n = xstrndup(name, nlen);
	long at = strvec_find(names, n);

	if (at >= 0) {
		free(values->v[at]);
		values->v[at] = xstrndup(val, vlen);
		free(n);
		return;
	}
	strvec_push_nodup(names, n);
	strvec_push_nodup(values, xstrndup(val, vlen));
}

int envfile_parse(const char *file, const char *data, size_t len,
		  struct strvec *names, struct strvec *values, struct sw_err *e)
{
	const char *p = data, *end = data + len;
	size_t lineno = 0;

	if (memchr(data, '\0', len))
		return err_set(e, ERR_SPEC, "%s: contains a NUL byte", file);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *s = p, *eq;

		lineno++;
		p = nl ? nl + 1 : end;
		if (eol > s && eol[-1] == '\r')
			eol--;
		while (s < eol && (*s == ' ' || *s == '\t' || *s == '\r' ||
				   *s == '\f' || *s == '\v'))
			s++;
		if (s == eol || *s == '#')
			continue;
		eq = memchr(s, '=', (size_t)(eol - s));
		if (!eq)
			return err_set(
				e, ERR_SPEC,
				"%s:%zu: invalid line: expected NAME=VALUE",
				file, lineno);
		if (!env_name_valid(s, (size_t)(eq - s))) {
			size_t n = (size_t)(eq - s);

			return err_set(
				e, ERR_SPEC,
				"%s:%zu: invalid line: bad variable "
				"name '%.*s%s': expected NAME=VALUE",
				file, lineno,
				(int)(n > NAME_QUOTE_MAX ? NAME_QUOTE_MAX : n),
				s, n > NAME_QUOTE_MAX ? "..." : "");
		}
		set_var(names, values, s, (size_t)(eq - s), eq + 1,
			(size_t)(eol - eq - 1));
	}
	return 0;
}

static int read_file(const char *path, struct buf *b, struct sw_err *e)
{
	char tmp[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret = -1;

	if (fd < 0)
		return err_sys(e, "cannot open env file '%s'", path);
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_sys(e, "cannot read env file '%s'", path);
			goto out;
		}
		if (!n)
			break;
		if (b->len + (size_t)n > ENVFILE_MAX) {
			err_set(e, ERR_SPEC, "%s: env file larger than %u MiB",
				path, ENVFILE_MAX >> 20);
			goto out;
		}
		buf_add(b, tmp, (size_t)n);
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

int envfile_load(const char *path, struct strvec *names, struct strvec *values,
		 struct sw_err *e)
{
	struct buf b = BUF_INIT;
	int ret = -1;

	if (read_file(path, &b, e) < 0)
		goto out;
	ret = envfile_parse(path, b.ptr ? b.ptr : "", b.len, names, values, e);
out:
	buf_release(&b);
	return ret;
}

int env_parse_assignment(const char *arg, char **name, char **value,
			 struct sw_err *e)
{
	const char *eq = strchr(arg, '=');

	*name = NULL;
	*value = NULL;
	if (!eq && env_name_valid(arg, strlen(arg)) &&
	    strlen(arg) <= NAME_QUOTE_MAX)
		return err_set(e, ERR_USAGE,
			       "invalid environment assignment '%s': expected "
			       "NAME=VALUE",
			       arg);
	/* anything else without '=' is not quoted: it may be a secret */
	if (!eq)
		return err_set(e, ERR_USAGE,
			       "invalid environment assignment: expected "
			       "NAME=VALUE");
	if (!env_name_valid(arg, (size_t)(eq - arg))) {
		size_t n = (size_t)(eq - arg);

		return err_set(e, ERR_USAGE,
			       "invalid environment variable name '%.*s%s': "
			       "expected NAME=VALUE",
			       (int)(n > NAME_QUOTE_MAX ? NAME_QUOTE_MAX : n),
			       arg, n > NAME_QUOTE_MAX ? "..." : "");
	}
	*name = xstrndup(arg, (size_t)(eq - arg));
	*value = xstrdup(eq + 1);
	return 0;
}
