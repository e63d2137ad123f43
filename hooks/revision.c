#include "revision.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "xalloc.h"
#include "banned.h"

void revision_check_release(struct revision_check *rc)
{
	appspec_release(&rc->spec);
	strvec_release(&rc->notes);
	rc->kind = BUNDLE_UNKNOWN;
}

/* Where a location written in the appspec lies under root. */
static char *in_bundle(const char *root, const char *loc)
{
	while (*loc == '/')
		loc++;
	return fs_join(root, *loc ? loc : ".");
}

static int check_contents(const char *root, const char *shown,
			  struct revision_check *rc, struct sw_err *e)
{
	const struct appspec *a = &rc->spec;

	for (int ev = 0; ev < APPSPEC_NEVENTS; ev++) {
		for (size_t i = 0; i < a->hooks[ev].nr; i++) {
			const struct appspec_script *s =
				&a->hooks[ev].scripts[i];
			char *p = in_bundle(root, s->location);
			struct stat st;
			int bad = stat(p, &st) < 0 ? 1 : !S_ISREG(st.st_mode);

			if (!bad && !(st.st_mode & 0111))
				strvec_pushf(&rc->notes,
					     "%s:%d:%d: %s script '%s' is not "
					     "executable (the agent makes it "
					     "so before it runs it)",
					     shown, s->line, s->col,
					     appspec_event_name(
						     (enum appspec_event)ev),
					     s->location);
			free(p);
			if (bad)
				return err_set(e, ERR_SPEC,
					       "%s:%d:%d: %s script '%s' %s "
					       "in the bundle",
					       shown, s->line, s->col,
					       appspec_event_name(
						       (enum appspec_event)ev),
					       s->location,
					       bad == 1 ? "does not exist"
							: "is not a file");
		}
	}
	for (size_t i = 0; i < a->nr_files; i++) {
		char *p = in_bundle(root, a->files[i].source);
		bool there = fs_exists(p);

		free(p);
		if (!there)
			return err_set(e, ERR_SPEC,
				       "%s:%d:%d: files source '%s' does not "
				       "exist in the bundle",
				       shown, a->files[i].line, a->files[i].col,
				       a->files[i].source);
	}
	return 0;
}

int revision_check(const char *bundle, const char *name,
		   const struct bundle_opts *o, const char *scratch,
		   struct revision_check *rc, struct sw_err *e)
{
	struct bundle_opts dflt = BUNDLE_OPTS_INIT;
	struct bundle_info info = BUNDLE_INFO_INIT;
	struct sw_err ignored = SW_ERR_INIT;
	char *tmp = NULL, *dest = NULL, *shown = NULL, *root = NULL;
	const char *base;
	int ret = -1;

	if (!name)
		name = bundle;
	if (!o)
		o = &dflt;
	if (bundle_detect(bundle, &rc->kind, e) < 0) {
		err_prefix(e, "bundle %s", name);
		return -1;
	}
	{
		const char *dir = scratch ? scratch : getenv("TMPDIR");

		if (!dir || !*dir)
			dir = "/tmp";
		if (fs_mkdir_p(dir, 0755, e) < 0)
			goto out;
		tmp = xasprintf("%s/slipway-check.XXXXXX", dir);
		if (!mkdtemp(tmp)) {
			err_sys(e, "cannot create a directory in '%s'", dir);
			free(tmp);
			tmp = NULL;
			goto out;
		}
	}
	/* as a host unpacks it (a directory too: the same checks, a copy) */
	dest = fs_join(tmp, "bundle");
	if (bundle_unpack(bundle, dest, o, &info, e) < 0)
		goto out;
	root = xstrdup(dest);
	base = strrchr(info.appspec, '/') + 1;
	if (rc->kind == BUNDLE_DIRECTORY)
		shown = fs_join(name, base);
	else
		shown = xasprintf("bundle %s: %s", name, base);
	if (appspec_load_as(info.appspec, shown, &rc->spec, e) < 0)
		goto out;
	for (size_t i = 0; i < rc->spec.warnings.nr; i++)
		strvec_push(&rc->notes, rc->spec.warnings.v[i]);
	if (check_contents(root, shown, rc, e) < 0)
		goto out;
	ret = 0;
out:
	if (ret < 0)
		revision_check_release(rc);
	if (tmp)
		fs_remove_tree(tmp, &ignored);
	bundle_info_release(&info);
	free(tmp);
	free(dest);
	free(shown);
	free(root);
	return ret;
}
