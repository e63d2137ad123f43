/*
 * libFuzzer harness for the appspec parser (and the yaml loader under
 * it): any input must give either a model that holds together or an
 * ERR_SPEC error naming the file, never a crash, a leak or undefined
 * behaviour.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "appspec.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A ".." component, or an empty or "." one (a path not normalised). */
static int unclean(const char *s)
{
	while (*s) {
		size_t len = strcspn(s, "/");

		if (!len || (len == 1 && s[0] == '.' && s[1]) ||
		    (len == 2 && !memcmp(s, "..", 2)))
			return 1;
		s += len;
		if (*s == '/' && !*++s)
			return 1;
	}
	return 0;
}

/* A path that leaves its root (a ".." component) or names nothing in it
 * (only "/" and "." components). */
static int outside_or_empty(const char *s)
{
	int names = 0;

	while (*s) {
		size_t len;

		s += strspn(s, "/");
		len = strcspn(s, "/");
		if (len == 2 && !memcmp(s, "..", 2))
			return 1;
		if (len && !(len == 1 && s[0] == '.'))
			names++;
		s += len;
	}
	return !names;
}

static void check_model(const struct appspec *a)
{
	if (!a->version || strcmp(a->version, "0.0") || !a->os ||
	    strcmp(a->os, "linux"))
		__builtin_trap();
	for (size_t i = 0; i < a->nr_files; i++) {
		const struct appspec_file *f = &a->files[i];

		if (unclean(f->source) || f->destination[0] != '/' ||
		    (f->destination[1] && unclean(f->destination + 1)))
			__builtin_trap();
	}
	for (size_t i = 0; i < a->nr_permissions; i++) {
		const struct appspec_permission *p = &a->permissions[i];

		if (p->object[0] != '/' || !p->pattern[0] || !p->types ||
		    p->mode > 07777 || (p->has_context && !p->context_type))
			__builtin_trap();
	}
	for (int ev = 0; ev < APPSPEC_NEVENTS; ev++) {
		const struct appspec_hook *h = &a->hooks[ev];

		if ((h->nr || h->present) && !appspec_event_scriptable(ev))
			__builtin_trap();
		/* a location is kept as written ("./x.sh", "/x.sh") but
		 * always names something inside the bundle */
		for (size_t s = 0; s < h->nr; s++)
			if (outside_or_empty(h->scripts[s].location) ||
			    !h->scripts[s].timeout)
				__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct appspec a = APPSPEC_INIT;
	struct sw_err e = SW_ERR_INIT;

	if (appspec_parse("fuzz.yml", (const char *)data, size, &a, &e) < 0) {
		if (e.code != ERR_SPEC || !e.msg[0] ||
		    strncmp(e.msg, "fuzz.yml:", 9) || a.file || a.version)
			__builtin_trap();
		return 0;
	}
	if (e.code)
		__builtin_trap();
	check_model(&a);
	appspec_release(&a);
	return 0;
}
