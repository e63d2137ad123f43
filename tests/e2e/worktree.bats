#!/usr/bin/env bats
# A git work tree with uncommitted changes: cloned (committed state, with a
# warning) by default, copied as it is with --worktree.

load helpers

setup_repo() {
	REPO="$T/repo"
	mkdir -p "$REPO"
	git -C "$REPO" init -q
	cat >"$REPO/buildspec.yml" <<'EOF2'
version: 0.2
phases:
  build:
    commands:
      - echo "FILE=$(cat file.txt)"
      - echo "REV=$CODEBUILD_RESOLVED_SOURCE_VERSION"
      - echo "UNTRACKED=$(cat new.txt 2>/dev/null || echo none)"
EOF2
	echo committed >"$REPO/file.txt"
	git -C "$REPO" add .
	git -C "$REPO" -c user.name=t -c user.email=t@e commit -qm one
	HEAD=$(git -C "$REPO" rev-parse HEAD)
}

@test "a clone of a dirty work tree builds the commit and says so" {
	setup_repo
	echo changed >"$REPO/file.txt"
	run "$SLIPWAY" build "$REPO" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"FILE=committed"* ]]
	[[ "$output" == *"REV=$HEAD"* ]]
	[[ "$output" == *"has uncommitted changes"*"--worktree"* ]]
}

@test "a clean work tree gives no warning, even with its state dir inside" {
	setup_repo
	cd "$REPO"
	run "$SLIPWAY" build
	[ "$status" -eq 0 ]
	[ -d .slipway/builds ]
	run "$SLIPWAY" build
	[ "$status" -eq 0 ]
	[[ "$output" != *"uncommitted"* ]]
}

@test "--worktree builds uncommitted and untracked files with HEAD's variables" {
	setup_repo
	echo changed >"$REPO/file.txt"
	echo fresh >"$REPO/new.txt"
	run "$SLIPWAY" build "$REPO" --worktree --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"FILE=changed"* ]]
	[[ "$output" == *"UNTRACKED=fresh"* ]]
	[[ "$output" == *"REV=$HEAD"* ]]
	[[ "$output" != *"which a clone leaves out"* ]]
}

@test "--worktree refuses --ref and plain directories" {
	setup_repo
	run "$SLIPWAY" build "$REPO" --worktree --ref HEAD --state-dir "$STATE"
	[ "$status" -eq 2 ]
	[[ "$output" == *"--ref and --worktree"* ]]
	mkdir -p "$T/plain"
	cp "$REPO/buildspec.yml" "$T/plain/"
	run "$SLIPWAY" build "$T/plain" --worktree --state-dir "$STATE"
	[ "$status" -eq 2 ]
	[[ "$output" == *"not a git work tree"* ]]
}
