/*
 * libFuzzer harness for the cache manifest reader (a strict JSON reader
 * of its own, see phases/cache.c): any input must be read or refused
 * with ERR_FAILED, never crash, leak or hit undefined behaviour.
 */
#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sw_err e = SW_ERR_INIT;

	if (cache_manifest_parse((const char *)data, size, &e) < 0 &&
	    (e.code != ERR_FAILED || !e.msg[0]))
		__builtin_trap();
	return 0;
}
