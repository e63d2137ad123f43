/*
 * slipway: the command table and the process's one exit point.
 */
#include <stdio.h>
#include <string.h>

#include "err.h"

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("slipway %s\n", SW_VERSION);
		return 0;
	}
	fprintf(stderr, "usage: slipway <command> [options]\n");
	return ERR_USAGE;
}
