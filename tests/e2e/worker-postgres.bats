#!/usr/bin/env bats
# The tests of worker.bats and worker-fleet.bats (one server, three
# workers, leases lost and taken back, labels, the server restarted
# mid-run, a lost deployment rolled back) again with the store on
# PostgreSQL: a tests/pg.sh server, workers claiming with SKIP LOCKED.

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

@test "worker-postgres: every worker test passes with the store on PostgreSQL" {
	run env WORKER_PG_URL="$PG_BASE" bats --tap "$BATS_TEST_DIRNAME/worker.bats"
	echo "$output" # shown when the test fails
	[ "$status" -eq 0 ]
	[[ "$output" == 1..* ]]
	! printf '%s\n' "$output" | grep -q '^not ok' || false
	[ "$(printf '%s\n' "$output" | grep -c '^ok ')" -ge 6 ]
}

@test "worker-postgres: the fleet test passes with the store on PostgreSQL" {
	run env WORKER_PG_URL="$PG_BASE" bats --tap "$BATS_TEST_DIRNAME/worker-fleet.bats"
	echo "$output" # shown when the test fails
	[ "$status" -eq 0 ]
	[[ "$output" == 1..* ]]
	! printf '%s\n' "$output" | grep -q '^not ok' || false
	[ "$(printf '%s\n' "$output" | grep -c '^ok ')" -ge 2 ]
}
