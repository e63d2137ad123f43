/*
 * index: the builds and deployments of a state directory, recorded in
 * its store (<state>/slipway.db) as they start and as they end, so that
 * `slipway history` is a query rather than a scan of every report.
 *
 *   struct store_build row = { .id = ..., .status = "IN_PROGRESS" };
 *   index_build(&st, &row);          -- at the start, and again at the end
 *   index_deployment(&st, &drow);
 *
 *   struct store *s;
 *   if (index_open(&st, &s, &e) < 0) ...  -- for reading: the records of a
 *   ...                                      state directory older than the
 *   store_close(s);                          store are imported once
 *
 * index_build() and index_deployment() keep their SQLite connection
 * open for the process's next row (closed at exit, and in the child of
 * a fork): a build opens its store once.
 *
 * The reports stay files and stay the truth: the store indexes them. A
 * store that fails never fails a build or a deployment: index_build()
 * and index_deployment() print one warning line and return.
 */
#ifndef SW_INDEX_H
#define SW_INDEX_H

#include "state.h"
#include "store.h"

/* The store of st (store_locate()); caller frees. */
char *index_path(const struct state *st);

void index_build(const struct state *st, const struct store_build *b);
void index_deployment(const struct state *st, const struct store_deployment *d);

/*
 * Open the state's store; a file there that is not a database is kept
 * aside (a warning says where) and the index rebuilt from the reports.
 * The first open of a state directory's store imports the builds and
 * deployments found on disk that it does not hold (their reports, or
 * their logs for those without one), and notes that it did.
 */
int index_open(const struct state *st, struct store **s, struct sw_err *e);

/* Import what is on disk and not in the store (index_open does it once). */
int index_import(const struct state *st, struct store *s, struct sw_err *e);

#endif
