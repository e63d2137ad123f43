/*
 * migrations: the store's schema as numbered steps, oldest first.
 *
 *   for (size_t i = 0; i < store_migrations_nr; i++)
 *           if (store_migrations[i].version > current) apply it
 *
 * Version n is store_migrations[n - 1]. A step is only ever appended: a
 * released step is never edited, as databases made by it exist. The SQL
 * is what SQLite and PostgreSQL both accept (TEXT, BIGINT, REFERENCES ..
 * ON DELETE CASCADE, no AUTOINCREMENT), so that one list serves both;
 * where they differ (a rowid, a type), the step has a text of its own
 * for PostgreSQL in store_migrations_pg (same version, run instead). Lists "in put order" are ORDER BY rowid in SQLite and
 * ORDER BY ord (a BIGSERIAL column the PostgreSQL text adds) there.
 */
#ifndef SW_MIGRATIONS_H
#define SW_MIGRATIONS_H

#include <stddef.h>

struct store_migration {
	int version;
	const char *sql; /* statements separated by ';' */
};

extern const struct store_migration store_migrations[];
extern const size_t store_migrations_nr;
extern const struct store_migration store_migrations_pg[];
extern const size_t store_migrations_pg_nr;

/* The text of m for PostgreSQL (pg 1) or SQLite (pg 0). */
const char *store_migration_sql(const struct store_migration *m, int pg);

#endif
