/*
 * hello: greets whoever is named on the command line, or the world.
 * VERSION is set by the build (cc -DVERSION=1.0.7).
 */
#include <stdio.h>
#include <string.h>

#ifndef VERSION
#define VERSION 0.0.0
#endif
#define STR(x) #x
#define XSTR(x) STR(x)

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("hello %s\n", XSTR(VERSION));
		return 0;
	}
	printf("hello, %s!\n", argc > 1 ? argv[1] : "world");
	return 0;
}
