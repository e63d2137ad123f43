/*
 * lazylib: libcurl and libxml2 loaded the first time they are called.
 *
 * Every slipway command used to map 53 shared libraries at start-up, 33
 * of them for libcurl (notification URLs) and libxml2 (test reports),
 * which most commands never call: about half of the start-up cost of a
 * one-command build. lazylib.c defines the functions of theirs that
 * slipway calls, under their own names; the first call dlopen()s the
 * library (by its soname) and each function forwards to the real one
 * (found with dlsym). Linked with --as-needed, the program then carries
 * no DT_NEEDED entry for either library; a call to a function lazylib
 * does not define keeps the library linked as before (correct, only not
 * lazy): add it to lazylib.c.
 *
 * When a library cannot be loaded, one line on stderr says so and the
 * functions fail as the library would fail to start: NULL handles,
 * CURLE_FAILED_INIT, no document.
 */
#ifndef SW_LAZYLIB_H
#define SW_LAZYLIB_H

/* The sonames loaded. */
#define LAZYLIB_CURL "libcurl.so.4"
#define LAZYLIB_XML2 "libxml2.so.2"

#endif
