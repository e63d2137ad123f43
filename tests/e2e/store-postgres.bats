#!/usr/bin/env bats
# The store on PostgreSQL (--db postgres://...): builds, deployments and
# pipeline executions are rows there and nowhere else; history and
# pipeline ls read them; racing processes all get theirs in; a store
# that goes away is a clear error and exit 111. The server is started by
# tests/pg.sh (a Unix socket in a temporary directory), each test in a
# database of its own.

load helpers

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
	local db=t$BATS_TEST_NUMBER
	psql -q "$PG_BASE" -c "CREATE DATABASE $db" >/dev/null
	DB=${PG_BASE/\/slipway\?//$db?}
}

# A failed test may leave its build waiting on the fifo: let it end.
eval "helpers_$(declare -f teardown)"
teardown() {
	if [ -p "$T/go" ] && [ -n "${SW_PID:-}" ] && kill -0 "$SW_PID" 2>/dev/null; then
		timeout 5 sh -c 'echo go >"$1"' _ "$T/go" || true
		wait "$SW_PID" || true
	fi
	helpers_teardown
}

sql() {
	psql -qAt "$DB" -c "$1"
}

trivial() {
	spec <<'EOF2'
version: 0.2
phases:
  build:
    commands:
      - echo built
EOF2
}

@test "store-postgres: builds are rows in PostgreSQL and not in a local file; history reads them" {
	trivial
	sw_build --db "$DB"
	[ "$status" -eq 0 ]
	id=$(rj .id)
	[ "$(sql "SELECT status, number FROM builds WHERE id = '$id'")" = "SUCCEEDED|1" ]
	[ ! -e "$STATE/slipway.db" ]
	# SLIPWAY_DB is the same as --db
	SLIPWAY_DB=$DB sw_build
	[ "$status" -eq 0 ]
	[ "$(sql "SELECT count(*) FROM builds")" -eq 2 ]
	[ ! -e "$STATE/slipway.db" ]
	run "$SLIPWAY" history --db "$DB" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[[ ${lines[2]} == *" build "*" proj#2 "*" SUCCEEDED "* ]]
	run "$SLIPWAY" history --db="$DB" --state-dir "$STATE" --json
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "$output" | jq length)" -eq 2 ]
}

@test "store-postgres: a bad --db is a usage error" {
	run "$SLIPWAY" history --db mysql://x --state-dir "$STATE"
	[ "$status" -eq 2 ]
	[ "$output" = "error: --db: 'mysql://x': not a store location (sqlite:PATH, postgres://... or postgresql://...)" ]
	run "$SLIPWAY" history --state-dir "$STATE" --db
	[ "$status" -eq 2 ]
	[ "$output" = "error: option '--db' requires an argument" ]
	# every command that takes it says so in its --help
	for cmd in build deploy run pipeline history show report prune serve; do
		run "$SLIPWAY" "$cmd" --help
		[ "$status" -eq 0 ]
		[[ "$output" == *"--db URL "*"sqlite:PATH"* ]]
	done
	run "$SLIPWAY" validate --help
	[[ "$output" != *"--db"* ]]
	# sqlite:PATH names a file
	trivial
	sw_build --db "sqlite:$T/other.db"
	[ "$status" -eq 0 ]
	[ "$(sqlite3 "$T/other.db" "SELECT status FROM builds")" = SUCCEEDED ]
	[ ! -e "$STATE/slipway.db" ]
}

@test "store-postgres: six racing builds all get their row" {
	trivial
	for i in 1 2 3 4 5 6; do
		"$SLIPWAY" build "$PROJ" --db "$DB" --state-dir "$STATE" \
			--report "$T/r$i.json" >"$T/out$i" 2>&1 3>&- &
	done
	wait
	for i in 1 2 3 4 5 6; do
		[ "$(jq -r .buildStatus "$T/r$i.json")" = SUCCEEDED ]
		! grep -q warning "$T/out$i" || false
	done
	[ "$(sql "SELECT count(*), count(DISTINCT number), min(number), max(number) FROM builds WHERE status = 'SUCCEEDED'")" = "6|6|1|6" ]
}

pl_setup() {
	mkdir -p "$T/repo"
	(
		cd "$T/repo"
		git init -q -b main
		cat >buildspec.yml <<'EOB'
version: 0.2
phases:
  build:
    commands:
      - mkdir -p dist && cp VERSION appspec.yml dist/
artifacts:
  base-directory: dist
  files: ['**/*']
EOB
		echo 1.2 >VERSION
		printf 'version: 0.0\nos: linux\nfiles:\n  - source: VERSION\n    destination: /srv/app\n' >appspec.yml
		git add -A
		git -c user.email=t@example.com -c user.name=t commit -qm init
	)
	printf 'application: app\ndeployment-group: staging\nhosts:\n  - name: h1\n' >"$T/fleet.yml"
	cat >"$T/pl.yml" <<'EOB'
pipeline:
  name: web
  stages:
    - name: Source
      actions:
        - name: Src
          actionTypeId: {category: Source, owner: AWS, provider: CodeCommit, version: "1"}
          configuration: {RepositoryName: app, BranchName: main}
          outputArtifacts: [{name: Src}]
    - name: Build
      actions:
        - name: Build
          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}
          configuration: {ProjectName: app-build}
          inputArtifacts: [{name: Src}]
          outputArtifacts: [{name: Built}]
    - name: Deploy
      actions:
        - name: Deploy
          actionTypeId: {category: Deploy, owner: AWS, provider: CodeDeploy, version: "1"}
          configuration: {ApplicationName: app, DeploymentGroupName: staging}
          inputArtifacts: [{name: Built}]
slipway:
  sources: {app: ./repo}
  projects: {app-build: {}}
  deployment-groups: {app/staging: fleet.yml}
EOB
}

@test "store-postgres: a pipeline execution, its build and its deployment are rows; pipeline ls and show read them" {
	pl_setup
	cd "$T"
	run "$SLIPWAY" pipeline start "$T/pl.yml" --db "$DB" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	PE=$(printf '%s\n' "$output" | grep -m1 '^pe-')
	[ "$(cat "$STATE/hosts/h1/root/srv/app/VERSION")" = 1.2 ]
	[ ! -e "$STATE/slipway.db" ]
	[ "$(sql "SELECT pipeline, status FROM executions WHERE id = '$PE'")" = "web|Succeeded" ]
	[ "$(sql "SELECT string_agg(stage || ':' || status, ' ' ORDER BY ord) FROM stages WHERE execution_id = '$PE'")" = "Source:Succeeded Build:Succeeded Deploy:Succeeded" ]
	[ "$(sql "SELECT count(*) FROM events WHERE execution_id = '$PE'")" -eq "$(wc -l <"$STATE/executions/$PE/events.jsonl")" ]
	# the build and the deployment the engine started are in the same store
	build=$(sql "SELECT external_id FROM actions WHERE execution_id = '$PE' AND stage = 'Build'")
	[ "$(sql "SELECT status FROM builds WHERE id = '$build'")" = SUCCEEDED ]
	dep=$(sql "SELECT external_id FROM actions WHERE execution_id = '$PE' AND stage = 'Deploy'")
	[ "$(sql "SELECT application, status FROM deployments WHERE id = '$dep'")" = "app|Succeeded" ]
	run "$SLIPWAY" pipeline ls "$T/pl.yml" --db "$DB" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == "$PE  Succeeded "*" web" ]]
	run "$SLIPWAY" pipeline show "$PE" --db "$DB" --state-dir "$STATE" --json
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "$output" | jq -r .pipelineExecution.status)" = Succeeded ]
	# the same state directory's SQLite store knows nothing of it
	run "$SLIPWAY" pipeline ls "$T/pl.yml" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" != *"$PE"* ]]
}

@test "store-postgres: a store that is not there is a clear error, exit 111" {
	pl_setup
	cd "$T"
	gone="postgresql://postgres:pw@/slipway?host=$T/nowhere"
	run "$SLIPWAY" pipeline start "$T/pl.yml" --db "$gone" --state-dir "$STATE"
	[ "$status" -eq 111 ]
	[[ "$output" == *"error: "*"store 'postgresql://postgres:***@/slipway?host=$T/nowhere': cannot connect: "* ]]
	[[ "$output" != *pw@* ]]
	[ ! -e "$STATE/slipway.db" ]
	[ ! -e "$STATE/hosts/h1/root/srv/app/VERSION" ]
}

@test "store-postgres: the store going away mid-run stops the execution with exit 111; nothing after it runs, nothing half-written" {
	mkdir -p "$T/repo"
	(cd "$T/repo" && git init -q -b main && echo x >f && git add f &&
		git -c user.email=t@example.com -c user.name=t commit -qm init)
	cat >"$T/pl.yml" <<EOB
pipeline:
  name: cut
  stages:
    - name: Source
      actions:
        - name: Src
          actionTypeId: {category: Source, owner: AWS, provider: CodeCommit, version: "1"}
          configuration: {RepositoryName: app, BranchName: main}
          outputArtifacts: [{name: Src}]
    - name: Cut
      actions:
        - name: Cut
          actionTypeId: {category: Invoke, owner: Custom, provider: Command, version: "1"}
          configuration: {Command: "$BATS_TEST_DIRNAME/../pg.sh down '$DB'"}
    - name: Last
      actions:
        - name: Mark
          actionTypeId: {category: Invoke, owner: Custom, provider: Command, version: "1"}
          configuration: {Command: "touch $T/last"}
slipway:
  sources: {app: ./repo}
EOB
	cd "$T"
	run "$SLIPWAY" pipeline start "$T/pl.yml" --db "$DB" --state-dir "$STATE"
	"$BATS_TEST_DIRNAME/../pg.sh" up "$DB"
	[ "$status" -eq 111 ]
	[[ "$output" == *"error: store 'postgresql://postgres@/t$BATS_TEST_NUMBER?host="*"': "*"server closed the connection"* ]]
	[ ! -e "$T/last" ]
	PE=$(printf '%s\n' "$output" | grep -m1 '^pe-')
	# what stands is what was written before it went: the action's
	# start, not its end; nothing of the stage after it
	[ "$(sql "SELECT status FROM executions WHERE id = '$PE'")" = InProgress ]
	[ "$(sql "SELECT string_agg(stage || ':' || status, ' ' ORDER BY ord) FROM actions WHERE execution_id = '$PE'")" = "Source:Succeeded Cut:InProgress" ]
	[ "$(sql "SELECT max(seq) = count(*) FROM events WHERE execution_id = '$PE'")" = t ]
}

@test "store-postgres: state directories sharing one store: each is imported once, and one's running build is not another's FAULT" {
	trivial
	sw_build # into $STATE's own SQLite store
	[ "$status" -eq 0 ]
	other=$T/other
	"$SLIPWAY" build "$PROJ" --state-dir "$other" >/dev/null 2>&1
	run "$SLIPWAY" history --db "$DB" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[ "$(sql "SELECT count(*) FROM builds")" -eq 1 ]
	run "$SLIPWAY" history --db "$DB" --state-dir "$other"
	[ "$status" -eq 0 ]
	[ "$(sql "SELECT count(*) FROM builds")" -eq 2 ]
	run "$SLIPWAY" history --db "$DB" --state-dir "$other"
	[ "$(sql "SELECT count(*) FROM builds")" -eq 2 ]
	[ "$(sql "SELECT count(*) FROM meta WHERE key LIKE 'imported-state-dir:%'")" -eq 2 ]

	# a build running from $STATE, seen from $other
	mkfifo "$T/go"
	spec <<EOF2
version: 0.2
phases:
  build:
    commands:
      - read x <"$T/go"
EOF2
	sw_build_bg --db "$DB"
	for i in $(seq 100); do
		[ "$(sql "SELECT count(*) FROM builds WHERE status = 'IN_PROGRESS'")" -eq 1 ] && break
		sleep 0.1
	done
	run "$SLIPWAY" history --db "$DB" --state-dir "$other"
	[ "$status" -eq 0 ]
	[[ "$output" == *" proj#2 "*" IN_PROGRESS "* ]]
	[[ "$output" != *FAULT* ]]
	echo go >"$T/go"
	sw_wait 30
	[ "$SW_STATUS" -eq 0 ]
	[ "$(sql "SELECT status FROM builds WHERE number = 2 AND end_ms > 0")" = SUCCEEDED ]
}
