#!/usr/bin/env bats
# A git work tree builds as it is by default: tracked files as they are,
# untracked files git does not ignore, never ignored files, the state
# directory or -o's directory. --committed builds the last commit (a clean
# clone, with a warning about what it leaves out); --worktree is accepted.

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
      - echo "LISTING=$(find . -path ./.git -prune -o -type f -print | sort | tr '\n' ' ')"
EOF2
	echo committed >"$REPO/file.txt"
	git -C "$REPO" add .
	git -C "$REPO" -c user.name=t -c user.email=t@e commit -qm one
	HEAD=$(git -C "$REPO" rev-parse HEAD)
}

@test "a dirty work tree builds as it is by default, with HEAD's variables" {
	setup_repo
	echo changed >"$REPO/file.txt"
	echo fresh >"$REPO/new.txt"
	run "$SLIPWAY" build "$REPO" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"FILE=changed"* ]]
	[[ "$output" == *"UNTRACKED=fresh"* ]]
	[[ "$output" == *"REV=$HEAD"* ]]
	[[ "$output" == *"uncommitted changes included"*"--committed"* ]]
	[[ "$output" != *"which a clone leaves out"* ]]
}

@test "--committed builds the last commit and says what it leaves out" {
	setup_repo
	echo changed >"$REPO/file.txt"
	echo fresh >"$REPO/new.txt"
	run "$SLIPWAY" build "$REPO" --committed --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"FILE=committed"* ]]
	[[ "$output" == *"UNTRACKED=none"* ]]
	[[ "$output" == *"REV=$HEAD"* ]]
	[[ "$output" == *"has uncommitted changes, which --committed leaves out"* ]]
}

@test "ignored files, the state dir and -o's dir are never copied" {
	setup_repo
	cat >"$REPO/.gitignore" <<'EOF2'
*.log
build/
EOF2
	mkdir -p "$REPO/build" "$REPO/sub/build" "$REPO/vendor"
	echo x >"$REPO/debug.log"
	echo x >"$REPO/build/out.o"
	echo x >"$REPO/sub/build/deep.o"
	echo x >"$REPO/vendor/lib.c"
	# a tracked file inside an ignored directory is still the project's
	echo kept >"$REPO/build/tracked.txt"
	git -C "$REPO" add -f build/tracked.txt .gitignore
	git -C "$REPO" -c user.name=t -c user.email=t@e commit -qm two
	cd "$REPO"
	run "$SLIPWAY" build --state-dir st -o artifacts-out
	[ "$status" -eq 0 ]
	run "$SLIPWAY" build --state-dir st -o artifacts-out
	[ "$status" -eq 0 ]
	listing=$(printf '%s\n' "$output" | sed -n 's/^LISTING=//p')
	[ "$listing" = "./.gitignore ./build/tracked.txt ./buildspec.yml ./file.txt ./vendor/lib.c " ]
}

@test "a plain directory leaves out its state dir and -o's dir too" {
	mkdir -p "$PROJ/src"
	echo x >"$PROJ/src/a.c"
	cat >"$PROJ/buildspec.yml" <<'EOF2'
version: 0.2
phases:
  build:
    commands:
      - echo "LISTING=$(find . -type f | sort | tr '\n' ' ')"
EOF2
	cd "$PROJ"
	run "$SLIPWAY" build --state-dir st -o out
	[ "$status" -eq 0 ]
	run "$SLIPWAY" build --state-dir st -o out
	[ "$status" -eq 0 ]
	listing=$(printf '%s\n' "$output" | sed -n 's/^LISTING=//p')
	[ "$listing" = "./buildspec.yml ./src/a.c " ]
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
	[[ "$output" != *"Warning"* ]]
}

@test "uncommitted means what git shows: not ignored files, a touched file or the state dir" {
	setup_repo
	echo '*.log' >"$REPO/.gitignore"
	git -C "$REPO" add .gitignore
	git -C "$REPO" -c user.name=t -c user.email=t@e commit -qm ignore
	mkdir -p "$REPO/logs" "$REPO/.slipway/builds"
	echo x >"$REPO/logs/debug.log"
	echo x >"$REPO/.slipway/builds/x"
	touch -d '+1 hour' "$REPO/file.txt"
	run "$SLIPWAY" build "$REPO" --committed --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" != *"uncommitted"* ]]
	# a file deep in a new directory
	mkdir -p "$REPO/new/deep"
	echo n >"$REPO/new/deep/n.txt"
	run "$SLIPWAY" build "$REPO" --committed --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"has uncommitted changes, which --committed leaves out"* ]]
	# a file rewritten with its size kept
	rm -r "$REPO/new"
	echo COMMITTED >"$REPO/file.txt"
	run "$SLIPWAY" build "$REPO" --committed --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"has uncommitted changes, which --committed leaves out"* ]]
}

@test "--ref builds the commit; --worktree is accepted, not with --ref or --committed" {
	setup_repo
	echo changed >"$REPO/file.txt"
	run "$SLIPWAY" build "$REPO" --ref HEAD --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"FILE=committed"* ]]
	run "$SLIPWAY" build "$REPO" --worktree --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"FILE=changed"* ]]
	run "$SLIPWAY" build "$REPO" --worktree --ref HEAD --state-dir "$STATE"
	[ "$status" -eq 2 ]
	[[ "$output" == *"--ref and --worktree"* ]]
	run "$SLIPWAY" build "$REPO" --worktree --committed --state-dir "$STATE"
	[ "$status" -eq 2 ]
	[[ "$output" == *"--worktree and --committed"* ]]
	mkdir -p "$T/plain"
	cp "$REPO/buildspec.yml" "$T/plain/"
	run "$SLIPWAY" build "$T/plain" --worktree --state-dir "$STATE"
	[ "$status" -eq 0 ]
}

@test "slipway run keeps building the commit" {
	setup_repo
	echo changed >"$REPO/file.txt"
	printf 'application: a\ndeployment-group: g\nhosts:\n  - name: h\n' \
		>"$T/group.yml"
	run "$SLIPWAY" run "$REPO" --group "$T/group.yml" --state-dir "$STATE"
	[[ "$output" == *"FILE=committed"* ]]
	[[ "$output" == *"which a clone leaves out"* ]]
}

@test "a linked work tree gets a .git of its own: git works in the build, the user's repository is left alone" {
	setup_repo
	git -C "$REPO" tag v1
	git -C "$REPO" worktree add -q "$T/linked" 2>/dev/null
	cat >"$T/linked/buildspec.yml" <<'EOF2'
version: 0.2
phases:
  build:
    commands:
      - echo "HEAD=$(git rev-parse HEAD)"
      - echo "DESCRIBE=$(git describe --tags)"
      - echo "CHANGED=$(git status --porcelain | tr '\n' ' ')"
      - git add -A && git -c user.name=b -c user.email=b@e commit -qm build
      - echo "COMMITTED=$(git rev-parse HEAD)"
EOF2
	echo changed >"$T/linked/file.txt"
	local before
	before=$(git -C "$T/linked" status --porcelain; git -C "$REPO" for-each-ref)
	run "$SLIPWAY" build "$T/linked" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"HEAD=$HEAD"* ]]
	[[ "$output" == *"DESCRIBE=v1"* ]]
	[[ "$output" == *"CHANGED= M buildspec.yml  M file.txt "* ]]
	[[ "$output" == *"COMMITTED="* ]]
	[[ "$output" != *"COMMITTED=$HEAD"* ]]
	# the build's commit went to its own .git: the user's index, refs
	# and objects are as they were
	[ "$(git -C "$T/linked" status --porcelain; git -C "$REPO" for-each-ref)" = "$before" ]
	[ "$(git -C "$T/linked" rev-parse HEAD)" = "$HEAD" ]
	committed=$(printf '%s\n' "$output" | sed -n 's/^COMMITTED=//p')
	! git -C "$REPO" cat-file -e "$committed" 2>/dev/null || false
}
