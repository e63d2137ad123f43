# Shared by the worker suites (load after helpers and serve_helpers): a
# pipeline of CodeBuild actions, workers on the server's store, and the
# job queue read with sqlite3 or psql.
#
#   wk_setup N </dev/null  $T/repo, $T/pl/web.yml with N builds
#   wk_start NAME [opts]   a worker, its pid in WK_<NAME>
#   jobs_sql SQL           the store's answer; wait_sql SQL VALUE
#   action_json ID STAGE ACTION

# WORKER_PG_URL (a tests/pg.sh server; worker-postgres.bats sets it): the
# same tests with the store on PostgreSQL, each in a database of its own,
# named to every process by SLIPWAY_DB.
if [ -n "${WORKER_PG_URL:-}" ]; then
	eval "sqlite_$(declare -f setup)"
	setup() {
		sqlite_setup
		local db
		db=w$BATS_TEST_NUMBER$(basename "$BATS_TEST_FILENAME" .bats | tr -cd a-z)
		psql -q "$WORKER_PG_URL" -c "CREATE DATABASE $db" >/dev/null
		export SLIPWAY_DB=${WORKER_PG_URL/\/slipway\?//$db?}
	}
fi

# A git repository $T/repo whose buildspec runs $T/build.sh, and the
# pipeline $T/pl/web.yml: Source, then a Build stage of $1 CodeBuild
# actions (B1..Bn, project app), then what stdin adds.
wk_setup() {
	local n=${1:-1} i
	mkdir -p "$T/repo" "$T/pl"
	printf '%s alice\n' "$TOK" >"$T/tokens"
	[ -f "$T/build.sh" ] || echo "echo built" >"$T/build.sh"
	(
		cd "$T/repo"
		git init -q -b main
		cat >buildspec.yml <<EOB
version: 0.2
phases:
  build:
    commands:
      - sh $T/build.sh
EOB
		git add -A
		git -c user.email=t@example.com -c user.name=t commit -qm init
	)
	{
		cat <<EOB
pipeline:
  name: web
  executionMode: PARALLEL
  stages:
    - name: Source
      actions:
        - name: Src
          actionTypeId: {category: Source, owner: AWS, provider: CodeCommit, version: "1"}
          configuration: {RepositoryName: app, BranchName: main}
          outputArtifacts: [{name: Src}]
    - name: Build
      actions:
EOB
		for i in $(seq "$n"); do
			cat <<EOB
        - name: B$i
          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}
          configuration: {ProjectName: app}
          inputArtifacts: [{name: Src}]
EOB
		done
		cat
		cat <<EOB
slipway:
  sources: {app: $T/repo}
  projects: {app: {${PROJECT_OPTS:-}}}
EOB
	} >"$T/pl/web.yml"
}

# wk_start NAME [options]: a worker on the server's store, its own state
# directory $T/NAME, its log $T/NAME.log; its pid in WK_<NAME>.
wk_start() {
	local name=$1
	shift
	"$SLIPWAY" worker --db "${SLIPWAY_DB:-$STATE/slipway.db}" --state-dir "$T/$name" \
		--name "$name" "$@" 2>>"$T/$name.log" &
	eval "WK_$name=$!"
	wait_line "$T/$name.log" "worker $name: ready"
}

start_execution() {
	api POST /api/pipelines/web/executions | jq -r .pipelineExecutionId
}

jobs_sql() {
	if [ -n "${SLIPWAY_DB:-}" ]; then
		psql -qAt "$SLIPWAY_DB" -c "$1"
	else
		sqlite3 -cmd ".timeout 30000" "$STATE/slipway.db" "$1"
	fi
}

# Wait (up to 60 s) until the SQL query's answer is $2.
wait_sql() {
	local i v
	for i in $(seq 600); do
		v=$(jobs_sql "$1" 2>/dev/null) || true
		[ "$v" = "$2" ] && return 0
		sleep 0.1
	done
	echo "'$1' gives '$v', not '$2'" >&2
	return 1
}

# wait_status against $ADDR (the server may not listen on loopback).
wait_status_at() {
	local i s
	for i in $(seq 600); do
		s=$(curl -s -H "Authorization: Bearer $TOK" \
			"http://${ADDR:-127.0.0.1}:$PORT/api/executions/$1" |
			jq -r .pipelineExecution.status)
		[ "$s" = "$2" ] && return 0
		sleep 0.1
	done
	echo "execution $1 is $s, not $2" >&2
	return 1
}

action_json() { # ID STAGE ACTION: the action's latestExecution
	"$SLIPWAY" pipeline show "$1" --state-dir "$STATE" --json |
		jq -c ".stageStates[] | select(.stageName == \"$2\") | .actionStates[] | select(.actionName == \"$3\") | .latestExecution"
}
