/*
 * vars: "#{namespace.key}" references; see vars.h.
 */
#include "vars.h"

#include <string.h>

#include "banned.h"

static int ns_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '@' || c == '_' || c == '-';
}

int plvar_next(const char *s, size_t *pos, struct plvar_ref *r)
{
	const char *p = strstr(s + *pos, "#{");
	size_t i, ns_len, key_len;

	memset(r, 0, sizeof(*r));
	if (!p)
		return 0;
	r->start = (size_t)(p - s);
	i = r->start + 2;
	for (ns_len = 0; ns_char(s[i + ns_len]); ns_len++)
		;
	if (!ns_len || ns_len > 100 || s[i + ns_len] != '.')
		return -1;
	memcpy(r->ns, s + i, ns_len);
	i += ns_len + 1;
	for (key_len = 0; ns_char(s[i + key_len]); key_len++)
		;
	if (!key_len || key_len > 128 || s[i + key_len] != '}') {
		r->ns[0] = '\0';
		return -1;
	}
	memcpy(r->key, s + i, key_len);
	r->end = i + key_len + 1;
	*pos = r->end;
	return 1;
}
