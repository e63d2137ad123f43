/*
 * libFuzzer harness for the buildspec parser (and the yaml loader under
 * it): any input must give either a model or an ERR_SPEC error, never a
 * crash, a leak or undefined behaviour.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buildspec.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buildspec bs = BUILDSPEC_INIT;
	struct sw_err e = SW_ERR_INIT;

	if (buildspec_parse("fuzz.yml", (const char *)data, size, &bs, &e) <
	    0) {
		if (e.code != ERR_SPEC || !e.msg[0] ||
		    strncmp(e.msg, "fuzz.yml:", 9))
			__builtin_trap();
		return 0;
	}
	if (!bs.version || e.code)
		__builtin_trap();
	buildspec_release(&bs);
	return 0;
}
