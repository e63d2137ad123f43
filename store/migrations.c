/*
 * The schema, one numbered step at a time (see migrations.h).
 */
#include "migrations.h"
#include "xalloc.h"
#include "banned.h"

/* Version 2, with the order of put that SQLite keeps as rowid. */
#define V2                                                                     \
	"CREATE TABLE executions ("                                            \
	" id TEXT PRIMARY KEY,"                                                \
	" pipeline TEXT NOT NULL,"                                             \
	" pipeline_file TEXT,"                                                 \
	" status TEXT NOT NULL,"                                               \
	" status_summary TEXT,"                                                \
	" trigger_type TEXT,"                                                  \
	" trigger_detail TEXT,"                                                \
	" variables TEXT,"                                                     \
	" start_ms BIGINT NOT NULL DEFAULT 0,"                                 \
	" end_ms BIGINT NOT NULL DEFAULT 0);"                                  \
	"CREATE INDEX executions_pipeline"                                     \
	" ON executions (pipeline, start_ms);"                                 \
	"CREATE TABLE stages ("                                                \
	" execution_id TEXT NOT NULL"                                          \
	"  REFERENCES executions (id) ON DELETE CASCADE,"                      \
	" stage TEXT NOT NULL,"                                                \
	" status TEXT NOT NULL,"                                               \
	" start_ms BIGINT NOT NULL DEFAULT 0,"                                 \
	" end_ms BIGINT NOT NULL DEFAULT 0,"                                   \
	" PRIMARY KEY (execution_id, stage));"                                 \
	"CREATE TABLE actions ("                                               \
	" execution_id TEXT NOT NULL"                                          \
	"  REFERENCES executions (id) ON DELETE CASCADE,"                      \
	" stage TEXT NOT NULL,"                                                \
	" action TEXT NOT NULL,"                                               \
	" attempt BIGINT NOT NULL,"                                            \
	" status TEXT NOT NULL,"                                               \
	" start_ms BIGINT NOT NULL DEFAULT 0,"                                 \
	" end_ms BIGINT NOT NULL DEFAULT 0,"                                   \
	" external_id TEXT,"                                                   \
	" output_variables TEXT,"                                              \
	" error TEXT,"                                                         \
	" PRIMARY KEY (execution_id, stage, action, attempt));"                \
	"CREATE INDEX actions_external ON actions (external_id);"              \
	"CREATE TABLE approvals ("                                             \
	" execution_id TEXT NOT NULL"                                          \
	"  REFERENCES executions (id) ON DELETE CASCADE,"                      \
	" stage TEXT NOT NULL,"                                                \
	" action TEXT NOT NULL,"                                               \
	" status TEXT NOT NULL,"                                               \
	" summary TEXT,"                                                       \
	" who TEXT,"                                                           \
	" created_ms BIGINT NOT NULL DEFAULT 0,"                               \
	" expires_ms BIGINT NOT NULL DEFAULT 0,"                               \
	" decided_ms BIGINT NOT NULL DEFAULT 0,"                               \
	" PRIMARY KEY (execution_id, stage, action));"                         \
	"CREATE INDEX approvals_status ON approvals (status, expires_ms);"     \
	"CREATE TABLE events ("                                                \
	" execution_id TEXT NOT NULL"                                          \
	"  REFERENCES executions (id) ON DELETE CASCADE,"                      \
	" seq BIGINT NOT NULL,"                                                \
	" time_ms BIGINT NOT NULL,"                                            \
	" body TEXT NOT NULL,"                                                 \
	" PRIMARY KEY (execution_id, seq))"

const struct store_migration store_migrations[] = {
	{ 1, "CREATE TABLE meta ("
	     " key TEXT PRIMARY KEY,"
	     " value TEXT NOT NULL);"
	     "CREATE TABLE builds ("
	     " id TEXT PRIMARY KEY,"
	     " project TEXT NOT NULL,"
	     " number BIGINT NOT NULL,"
	     " status TEXT NOT NULL,"
	     " start_ms BIGINT NOT NULL DEFAULT 0,"
	     " end_ms BIGINT NOT NULL DEFAULT 0,"
	     " source_version TEXT,"
	     " report_path TEXT,"
	     " reason TEXT);"
	     "CREATE INDEX builds_project ON builds (project, end_ms);"
	     "CREATE TABLE deployments ("
	     " id TEXT PRIMARY KEY,"
	     " application TEXT NOT NULL,"
	     " deployment_group TEXT NOT NULL,"
	     " status TEXT NOT NULL,"
	     " start_ms BIGINT NOT NULL DEFAULT 0,"
	     " end_ms BIGINT NOT NULL DEFAULT 0,"
	     " report_path TEXT,"
	     " hosts_succeeded BIGINT NOT NULL DEFAULT 0,"
	     " hosts_total BIGINT NOT NULL DEFAULT 0,"
	     " creator TEXT);"
	     "CREATE INDEX deployments_application"
	     " ON deployments (application, end_ms)" },
	{ 2, V2 },
	{ 3, "CREATE TABLE webhook_deliveries ("
	     " forge TEXT NOT NULL,"
	     " id TEXT NOT NULL,"
	     " received_ms BIGINT NOT NULL,"
	     " PRIMARY KEY (forge, id));"
	     "CREATE INDEX webhook_deliveries_received"
	     " ON webhook_deliveries (received_ms);"
	     "CREATE TABLE poll_heads ("
	     " source TEXT NOT NULL,"
	     " ref TEXT NOT NULL,"
	     " commit_id TEXT NOT NULL,"
	     " seen_ms BIGINT NOT NULL,"
	     " PRIMARY KEY (source, ref))" },
	{ 4, "CREATE TABLE jobs ("
	     " id TEXT PRIMARY KEY,"
	     " kind TEXT NOT NULL,"
	     " spec TEXT NOT NULL,"
	     " labels TEXT,"
	     " status TEXT NOT NULL,"
	     " owner TEXT,"
	     " lease_ms BIGINT NOT NULL DEFAULT 0,"
	     " attempt BIGINT NOT NULL DEFAULT 1,"
	     " outcome TEXT,"
	     " result TEXT,"
	     " reason TEXT,"
	     " enqueued_ms BIGINT NOT NULL DEFAULT 0,"
	     " started_ms BIGINT NOT NULL DEFAULT 0,"
	     " ended_ms BIGINT NOT NULL DEFAULT 0);"
	     "CREATE INDEX jobs_status ON jobs (status, enqueued_ms);"
	     "CREATE INDEX jobs_lease ON jobs (status, lease_ms)" },
	{ 5, "ALTER TABLE jobs ADD COLUMN fallback TEXT" },
};

const size_t store_migrations_nr = ARRAY_SIZE(store_migrations);

/* The steps whose text PostgreSQL runs instead, by version. */
const struct store_migration store_migrations_pg[] = {
	{ 2, V2 ";ALTER TABLE stages ADD COLUMN ord BIGSERIAL;"
		"ALTER TABLE actions ADD COLUMN ord BIGSERIAL;"
		"ALTER TABLE approvals ADD COLUMN ord BIGSERIAL" },
	/* a job queued (inserted, or taken back) wakes the workers that
	 * LISTEN (store_job_listen()); one notice per transaction */
	{ 5, "ALTER TABLE jobs ADD COLUMN fallback TEXT;"
	     "CREATE FUNCTION slipway_jobs_notify() RETURNS trigger"
	     " LANGUAGE plpgsql AS $$BEGIN"
	     " PERFORM pg_notify('slipway_jobs', ''); RETURN NULL; END$$;"
	     "CREATE TRIGGER jobs_queued AFTER INSERT OR UPDATE OF status"
	     " ON jobs FOR EACH ROW WHEN (NEW.status = 'queued')"
	     " EXECUTE PROCEDURE slipway_jobs_notify()" },
};

const size_t store_migrations_pg_nr = ARRAY_SIZE(store_migrations_pg);

const char *store_migration_sql(const struct store_migration *m, int pg)
{
	for (size_t i = 0; pg && i < store_migrations_pg_nr; i++)
		if (store_migrations_pg[i].version == m->version)
			return store_migrations_pg[i].sql;
	return m->sql;
}
