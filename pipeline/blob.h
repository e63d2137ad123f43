/*
 * blob: a directory tree as one file, to carry artifacts between
 * machines (docs/scale.md): a tar (pax restricted) of the tree, named by
 * the sha256 of its bytes.
 *
 *   char hex[65];
 *   if (blob_pack("out", "out.tar", hex, &e) < 0) ...      -- out.tar, its digest
 *   if (blob_unpack("out.tar", "copy", &e) < 0) ...        -- copy/ made
 *
 * Unpacking refuses absolute names, ".." and writing through symlinks;
 * dest must not exist (it is made in a temporary name, then renamed).
 * Both return 0 or -1 with *e set (ERR_SYSTEM; ERR_SPEC for a bad tar).
 */
#ifndef SW_PIPELINE_BLOB_H
#define SW_PIPELINE_BLOB_H

#include "err.h"

int blob_pack(const char *dir, const char *tar, char hex[65], struct sw_err *e);
int blob_unpack(const char *tar, const char *dest, struct sw_err *e);

/* Whether s is 64 lowercase hex digits. */
int blob_is_digest(const char *s);

#endif
