#!/usr/bin/env bats
# The store: builds are indexed in <state>/slipway.db as they start and
# end; `slipway history` is a query of it, the same lines as the reports
# give; a state directory made before the store is imported once; a store
# that fails never fails a build; racing builds all get their row.

load helpers

db() {
	sqlite3 -bail "$STATE/slipway.db" "$@"
}

trivial() {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "$GREETING"
EOF
}

@test "a build is recorded with its status, number and reason" {
	trivial
	sw_build
	[ "$status" -eq 0 ]
	id=$(rj .id)
	[ "$(db "SELECT status, number FROM builds WHERE id = '$id'")" = "SUCCEEDED|1" ]
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - exit 3
EOF
	sw_build
	[ "$status" -eq 1 ]
	id=$(rj .id)
	run db "SELECT status, number, reason, end_ms >= start_ms FROM builds WHERE id = '$id'"
	[ "$output" = "FAILED|2|$(rj .statusReason)|1" ]
}

@test "history from the store prints what the reports print, and a state directory without a store is imported once" {
	trivial
	sw_build
	sw_build
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - false
EOF
	sw_build
	[ "$status" -eq 1 ]
	run "$SLIPWAY" history --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 4 ]
	from_store=$output
	[[ ${lines[3]} == *" build "*" proj#3 "*" FAILED "*"phase BUILD"* ]]
	# as a state directory made before the store: the reports only
	rm -f "$STATE"/slipway.db*
	run "$SLIPWAY" history --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[ "$output" = "$from_store" ]
	[ "$(db 'SELECT count(*) FROM builds')" -eq 3 ]
	[ "$(db "SELECT value FROM meta WHERE key = 'imported-state-dir'")" = 1 ]
	run "$SLIPWAY" history --state-dir "$STATE" -n 2
	[ "${#lines[@]}" -eq 3 ]
	[ "${lines[2]}" = "$(echo "$from_store" | tail -n 1)" ]
}

@test "a store that is not a database is kept aside and the build goes on" {
	trivial
	sw_build
	[ "$status" -eq 0 ]
	head -c 8192 /dev/urandom >"$STATE/slipway.db"
	rm -f "$STATE/slipway.db-wal" "$STATE/slipway.db-shm"
	sw_build
	[ "$status" -eq 0 ]
	[[ $output == *"warning: '$STATE/slipway.db' was not a database"* ]]
	ls "$STATE"/slipway.db.corrupt-*
	run "$SLIPWAY" history --state-dir "$STATE"
	[ "$status" -eq 0 ]
	# the new store imported the first build from its report
	[ "${#lines[@]}" -eq 3 ]
	[[ ${lines[1]} == *" proj#1 "*" SUCCEEDED "* ]]
	[[ ${lines[2]} == *" proj#2 "*" SUCCEEDED "* ]]
}

@test "a store that cannot be written warns and the build succeeds; history reads the reports" {
	trivial
	mkdir -p "$STATE/slipway.db"
	sw_build
	[ "$status" -eq 0 ]
	[[ $output == *"warning: cannot record build $(rj .id) in the store"* ]]
	[ "$(rj .buildStatus)" = SUCCEEDED ]
	run "$SLIPWAY" history --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ $output == *"reading the reports instead"* ]]
	[[ $output == *" proj#1 "*" SUCCEEDED "* ]]
}

@test "racing builds each get their row, none is refused for a locked database" {
	trivial
	local pids='' i
	for i in 1 2 3 4 5 6; do
		"$SLIPWAY" build "$PROJ" --state-dir "$STATE" --quiet \
			>"$T/out.$i" 2>&1 3>&- &
		pids="$pids $!"
	done
	for i in $pids; do
		wait "$i"
	done
	run grep -il 'locked\|warning' "$T"/out.1 "$T"/out.2 "$T"/out.3 \
		"$T"/out.4 "$T"/out.5 "$T"/out.6
	[ "$status" -eq 1 ]
	[ "$(db "SELECT count(*) FROM builds WHERE status = 'SUCCEEDED'")" -eq 6 ]
	[ "$(db 'SELECT group_concat(number) FROM (SELECT number FROM builds ORDER BY number)')" = "1,2,3,4,5,6" ]
	run "$SLIPWAY" history --state-dir "$STATE"
	[ "${#lines[@]}" -eq 7 ]
}

@test "a build killed with SIGKILL stays IN_PROGRESS in the store and history calls it FAULT" {
	spec <<EOF
version: 0.2
phases:
  build:
    commands:
      - sleep 1000.$MARK
EOF
	sw_build_bg
	wait_for_marker
	run "$SLIPWAY" history --state-dir "$STATE"
	[[ ${lines[1]} == *" proj#1 "*" IN_PROGRESS "* ]]
	kill -KILL "$SW_PID"
	wait "$SW_PID" || true
	for p in $(pgrep -f "sleep 1000\\.$MARK"); do
		kill -KILL "$p" 2>/dev/null || true
	done
	[ "$(db 'SELECT status FROM builds')" = IN_PROGRESS ]
	run "$SLIPWAY" history --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ ${lines[1]} == *" proj#1 "*" FAULT "*"ended without a report"* ]]
	# and the store still takes the next build
	trivial
	sw_build
	[ "$status" -eq 0 ]
	[ "$(db "SELECT count(*) FROM builds")" -eq 2 ]
}

@test "prune removes the rows of what it removes" {
	trivial
	sw_build
	sw_build
	sw_build
	last=$(rj .id)
	run "$SLIPWAY" prune --state-dir "$STATE" --keep 1
	[ "$status" -eq 0 ]
	[ "$(db 'SELECT id FROM builds')" = "$last" ]
	run "$SLIPWAY" history --state-dir "$STATE"
	[ "${#lines[@]}" -eq 2 ]
}
