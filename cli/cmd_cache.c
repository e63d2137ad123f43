/*
 * slipway cache ls|prune|clear: the build caches in the state directory.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "cli.h"
#include "state.h"
#include "xalloc.h"
#include "banned.h"

static const char cache_usage[] =
	"usage: slipway cache ls [--state-dir DIR]\n"
	"       slipway cache prune --max-size SIZE [--state-dir DIR]\n"
	"       slipway cache clear [--state-dir DIR]\n"
	"\n"
	"List, prune or clear the build caches (the buildspec 'cache'\n"
	"section) kept in the state directory.\n"
	"\n"
	"  ls                        one line per entry, most recently used "
	"first:\n"
	"                            key (or project), version, files, size,\n"
	"                            the disk its overlay tree takes (- for "
	"none),\n"
	"                            created, last used, health (ok, or the\n"
	"                            objects missing or modified: the next "
	"save\n"
	"                            repairs or replaces the entry)\n"
	"  prune                     drop the trees of entries gone, the "
	"entries\n"
	"                            least recently used until their objects\n"
	"                            fit SIZE, then the trees of those kept\n"
	"                            until objects and trees fit, then\n"
	"                            unused objects and temp files left by\n"
	"                            killed builds; says how many bytes it\n"
	"                            reclaimed\n"
	"  clear                     remove every entry and object\n"
	"\n"
	"      --max-size SIZE       prune: 500M, 2G, 1.5G, 10K or bytes "
	"(K, M,\n"
	"                            G, T are powers of 1024)\n"
	"      --state-dir DIR       state directory (default .slipway or\n"
	"                            $SLIPWAY_STATE_DIR)\n"
	"  -h, --help                this help\n"
	"\n"
	"Examples:\n"
	"  slipway cache ls\n"
	"  slipway cache prune --max-size 2G\n"
	"\n"
	"Exit status: 0 succeeded, 2 usage error, 111 system error.\n";

enum { OPT_STATE_DIR = 256, OPT_MAX_SIZE };

static const struct option cache_options[] = {
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "max-size", required_argument, NULL, OPT_MAX_SIZE },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static void human(char *out, size_t n, uint64_t b)
{
	static const char *const u[] = { "B", "K", "M", "G", "T" };
	double v = (double)b;
	size_t i = 0;

	while (v >= 1024 && i + 1 < ARRAY_SIZE(u)) {
		v /= 1024;
		i++;
	}
	if (!i)
		snprintf(out, n, "%" PRIu64 "B", b);
	else
		snprintf(out, n, v < 10 ? "%.1f%s" : "%.0f%s", v, u[i]);
}

static void when(char *out, size_t n, int64_t ns)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	if (!ns || !localtime_r(&t, &tm) ||
	    !strftime(out, n, "%Y-%m-%d %H:%M", &tm))
		snprintf(out, n, "-");
}

static int do_ls(struct cache *c)
{
	struct cache_entry_info *v;
	struct sw_err e = SW_ERR_INIT;
	char **names;
	size_t n, kw = 3;

	if (cache_list(c, &v, &n, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		return ERR_SYSTEM;
	}
	if (!n) {
		fprintf(stderr, "no cache entries in %s\n", c->dir);
		return 0;
	}
	names = xcalloc(n, sizeof(*names));
	for (size_t i = 0; i < n; i++) {
		if (v[i].key)
			names[i] = xstrdup(v[i].key);
		else if (v[i].project)
			names[i] = xasprintf("(project %s)", v[i].project);
		else
			names[i] = xstrdup("(unreadable)");
		/* the key column is as wide as the widest key: a long key
		 * pushes the columns right, never out of line */
		if (strlen(names[i]) > kw)
			kw = strlen(names[i]);
	}
	printf("%-*s  %-12s %8s %8s %8s  %-16s  %-16s  %s\n", (int)kw, "KEY",
	       "VERSION", "FILES", "SIZE", "TREE", "CREATED", "LAST USED",
	       "HEALTH");
	for (size_t i = 0; i < n; i++) {
		char size[16], tree[16], created[32], used[32], *health;

		human(size, sizeof(size), v[i].bytes);
		if (v[i].trees)
			human(tree, sizeof(tree), v[i].tree_bytes);
		else
			snprintf(tree, sizeof(tree), "-");
		when(created, sizeof(created), v[i].created_ns);
		when(used, sizeof(used), v[i].last_used_ns);
		if (v[i].unreadable)
			health = xstrdup("damaged: manifest unreadable");
		else if (v[i].missing || v[i].modified)
			health = xasprintf(
				"damaged: %zu of %zu objects missing "
				"or modified",
				v[i].missing + v[i].modified, v[i].objects);
		else
			health = xstrdup("ok");
		printf("%-*s  %-12.12s %8zu %8s %8s  %-16s  %-16s  %s\n",
		       (int)kw, names[i], v[i].version, v[i].files, size, tree,
		       created, used, health);
		free(names[i]);
		free(health);
	}
	free(names);
	cache_entries_free(v, n);
	return 0;
}

int cmd_cache(int argc, char **argv)
{
	struct state st = STATE_INIT;
	struct cache c = CACHE_INIT;
	struct sw_err e = SW_ERR_INIT;
	const char *state_dir = NULL, *verb, *max = NULL;
	uint64_t max_bytes = 0;
	int ch, status = ERR_USAGE;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", cache_options, NULL)) != -1) {
		switch (ch) {
		case OPT_STATE_DIR:
			state_dir = optarg;
			break;
		case OPT_MAX_SIZE:
			max = optarg;
			if (cache_parse_size(optarg, &max_bytes) < 0)
				return cli_usage_error(
					"cache",
					"--max-size: '%s' is not a size "
					"(500M, 2G, bytes)",
					optarg);
			break;
		case 'h':
			fputs(cache_usage, stdout);
			return 0;
		default:
			return cli_bad_option("cache", argv[optind - 1],
					      cache_options);
		}
	}
	if (optind >= argc)
		return cli_usage_error("cache", "ls, prune or clear expected");
	verb = argv[optind];
	if (strcmp(verb, "ls") && strcmp(verb, "prune") &&
	    strcmp(verb, "clear"))
		return cli_unknown_subcommand(
			"cache", verb,
			(const char *const[]){ "ls", "prune", "clear", NULL });
	if (argc - optind > 1)
		return cli_usage_error("cache", "too many arguments: '%s'",
				       argv[optind + 1]);
	if (!strcmp(verb, "prune") && !max)
		return cli_usage_error("cache", "prune needs --max-size SIZE");
	if (strcmp(verb, "prune") && max)
		return cli_usage_error("cache", "--max-size is for prune only");
	if (state_open(&st, state_dir, &e) < 0 ||
	    cache_open(&c, st.dir, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		status = e.code ? e.code : ERR_SYSTEM;
		goto out;
	}
	if (!strcmp(verb, "ls")) {
		status = do_ls(&c);
	} else if (!strcmp(verb, "prune")) {
		struct cache_prune_result r;
		char before[16], after[16], temps[16], freed[16];
		char tbefore[16], tafter[16];

		if (cache_prune(&c, max_bytes, &r, &e) < 0) {
			fprintf(stderr, "error: %s\n", e.msg);
			status = ERR_SYSTEM;
			goto out;
		}
		human(before, sizeof(before), r.bytes_before);
		human(after, sizeof(after), r.bytes_after);
		human(temps, sizeof(temps), r.temps_bytes);
		human(tbefore, sizeof(tbefore), r.trees_before);
		human(tafter, sizeof(tafter), r.trees_after);
		human(freed, sizeof(freed),
		      r.bytes_before - r.bytes_after + r.temps_bytes +
			      (r.trees_before - r.trees_after));
		printf("pruned %zu entries, %zu objects, %zu trees, %zu temp "
		       "files (%s): objects %s -> %s, trees %s -> %s, %s "
		       "reclaimed\n",
		       r.entries_removed, r.objects_removed, r.trees_removed,
		       r.temps_removed, temps, before, after, tbefore, tafter,
		       freed);
		status = 0;
	} else {
		if (cache_clear(&c, &e) < 0) {
			fprintf(stderr, "error: %s\n", e.msg);
			status = ERR_SYSTEM;
			goto out;
		}
		printf("cleared %s\n", c.dir);
		status = 0;
	}
out:
	cache_release(&c);
	state_release(&st);
	return status;
}
