/*
 * slipway validate FILE...: check buildspecs without running anything.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buildspec.h"
#include "cli.h"
#include "err.h"
#include "banned.h"

static const char validate_usage[] =
	"usage: slipway validate FILE...\n"
	"\n"
	"Check buildspec files: YAML syntax, the schema of versions 0.1 and\n"
	"0.2, batch sections. Prints 'FILE: ok' or 'error: FILE:LINE:COL: "
	"...'\n"
	"and warnings for unknown keys. Nothing is run or written.\n"
	"\n"
	"  -h, --help   this help\n"
	"\n"
	"Exit status: 0 all valid, 2 usage error or unreadable file,\n"
	"3 a file is invalid.\n";

static int count_phases(const struct buildspec *bs)
{
	int n = 0;

	for (int i = 0; i < BS_NPHASES; i++)
		n += bs->phases[i].present;
	return n;
}

int cmd_validate(int argc, char **argv)
{
	int status = 0;

	if (argc < 2)
		return cli_usage_error("validate", "no file given");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(validate_usage, stdout);
			return 0;
		}
		if (argv[i][0] == '-' && argv[i][1])
			return cli_usage_error("validate",
					       "unknown option '%s'", argv[i]);
	}
	for (int i = 1; i < argc; i++) {
		struct buildspec bs = BUILDSPEC_INIT;
		struct sw_err e = SW_ERR_INIT;

		if (access(argv[i], R_OK) < 0) {
			fprintf(stderr, "error: cannot read '%s'\n", argv[i]);
			if (!status)
				status = ERR_USAGE;
			continue;
		}
		if (buildspec_load(argv[i], &bs, &e) < 0) {
			fprintf(stderr, "error: %s\n", e.msg);
			status = e.code == ERR_SPEC ? ERR_SPEC : e.code;
			continue;
		}
		for (size_t w = 0; w < bs.warnings.nr; w++)
			fprintf(stderr, "warning: %s\n", bs.warnings.v[w]);
		if (bs.batch.type != BS_BATCH_NONE)
			printf("%s: ok (buildspec %s, %d phases, batch)\n",
			       argv[i], bs.version, count_phases(&bs));
		else
			printf("%s: ok (buildspec %s, %d phases)\n", argv[i],
			       bs.version, count_phases(&bs));
		buildspec_release(&bs);
	}
	return status;
}
