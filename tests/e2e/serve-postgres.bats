#!/usr/bin/env bats
# slipway serve --db postgres://...: executions started through the API
# are rows in PostgreSQL, and the server serves again once a database
# that went away (a restart) is back. The server is tests/pg.sh's.

load helpers
load serve_helpers

setup_file() {
	local rc=0
	PG_BASE=$("$BATS_TEST_DIRNAME/../pg.sh" start) || rc=$?
	if [ "$rc" -eq 77 ]; then
		skip "PostgreSQL binaries (initdb, pg_ctl) not found"
	fi
	[ "$rc" -eq 0 ]
	export PG_BASE
}

teardown_file() {
	if [ -n "${PG_BASE:-}" ]; then
		"$BATS_TEST_DIRNAME/../pg.sh" stop "$PG_BASE"
	fi
}

eval "helpers_$(declare -f setup)"
setup() {
	helpers_setup
	local db=s$BATS_TEST_NUMBER
	psql -q "$PG_BASE" -c "CREATE DATABASE $db" >/dev/null
	DB=${PG_BASE/\/slipway\?//$db?}
}

sql() {
	psql -qAt "$DB" -c "$1"
}

@test "serve-postgres: an execution started through the API is a row in PostgreSQL, and nothing local" {
	sv_setup </dev/null
	sv_start --db "$DB"
	id=$(api POST /api/pipelines/web/executions | jq -r .pipelineExecutionId)
	[ "$(code)" = 200 ]
	wait_status "$id" Succeeded
	[ "$(sql "SELECT pipeline, status, trigger_detail FROM executions WHERE id = '$id'")" = "web|Succeeded|api:alice" ]
	[ "$(sql "SELECT string_agg(stage || '/' || action || ':' || status, ' ' ORDER BY ord) FROM actions WHERE execution_id = '$id'")" = "Source/Src:Succeeded Build/Step:Succeeded" ]
	[ ! -e "$STATE/slipway.db" ]
	run api GET "/api/pipelines/web/executions"
	[ "$(echo "$output" | jq -r '.pipelineExecutionSummaries[0].pipelineExecutionId')" = "$id" ]
	sv_stop
	[ "$SV_STATUS" = 0 ]
}

@test "serve-postgres: the database restarting does not leave the server broken" {
	sv_setup </dev/null
	sv_start --db "$DB"
	id=$(api POST /api/pipelines/web/executions | jq -r .pipelineExecutionId)
	wait_status "$id" Succeeded
	# its pooled connections are now ended by the server
	"$BATS_TEST_DIRNAME/../pg.sh" down "$DB"
	run api GET "/api/executions/$id"
	[ "$(code)" != 200 ]
	"$BATS_TEST_DIRNAME/../pg.sh" up "$DB"
	run api GET "/api/executions/$id"
	[ "$(code)" = 200 ]
	[ "$(echo "$output" | jq -r .pipelineExecution.status)" = Succeeded ]
	id2=$(api POST /api/pipelines/web/executions | jq -r .pipelineExecutionId)
	[ "$(code)" = 200 ]
	wait_status "$id2" Succeeded
	[ "$(sql "SELECT count(*) FROM executions WHERE status = 'Succeeded'")" -eq 2 ]
	sv_stop
	[ "$SV_STATUS" = 0 ]
}
