#!/usr/bin/env bats
# Recycled source trees: a retired build's tree becomes a later build's,
# with only what differs written and what the source lacks removed, and
# it ends up exactly as a fresh checkout or copy would be, whatever the
# previous build's commands did to it. SLIPWAY_KEEP_BUILDS=1 retires a
# build's tree at the next build.

load helpers

export GIT_AUTHOR_NAME=e2e GIT_AUTHOR_EMAIL=e2e@example.invalid
export GIT_COMMITTER_NAME=e2e GIT_COMMITTER_EMAIL=e2e@example.invalid
export GIT_CONFIG_NOSYSTEM=1
export SLIPWAY_KEEP_BUILDS=1

g() {
	git -C "$REPO" -c init.defaultBranch=main "$@" >/dev/null 2>&1
}

# $REPO: files of each kind; with MESS=1 the build changes its tree the
# way builds do (and a few ways they rarely do).
make_repo() {
	REPO=$T/repo
	git -c init.defaultBranch=main init -q "$REPO"
	cat >"$REPO/buildspec.yml" <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "SAME=$(cat same.txt)"
      - echo "HEAD=$(git rev-parse HEAD)"
      - echo "STATUS=$(git status --porcelain --ignored | wc -l)"
      - |
        if [ "$MESS" = 1 ]; then
          mkdir -p out && echo built >out/app.bin
          echo junk >untracked.txt
          cp -p same.txt ../ref && printf HELLO >same.txt && touch -r ../ref same.txt
          chmod +x plain.txt
          echo more >>keep.txt
          rm -f link && ln -s elsewhere link
          rm -rf dir && echo file >dir
          rm run.sh
          git -c user.name=b -c user.email=b@b commit -qam mess
        fi
EOF
	printf 'out/\n' >"$REPO/.gitignore"
	printf hello >"$REPO/same.txt"
	echo plain >"$REPO/plain.txt"
	echo keep >"$REPO/keep.txt"
	printf '#!/bin/sh\n' >"$REPO/run.sh"
	chmod +x "$REPO/run.sh"
	ln -s keep.txt "$REPO/link"
	mkdir "$REPO/dir"
	echo inner >"$REPO/dir/inner.txt"
	for i in $(seq 20); do echo "$i" >"$REPO/n$i.txt"; done
	g add -A && g commit -q -m first
}

rbuild() { # options...
	rm -f "$REPORT"
	run "$SLIPWAY" build "$@" --state-dir "$STATE" --report "$REPORT"
	LOG=
	if [ -f "$REPORT" ]; then
		LOG=$(jq -r .logs.location "$REPORT")
	fi
}

# Wait (at most 10 s) for the tree prepared after a build.
wait_spare() {
	for i in $(seq 100); do
		ls "$STATE"/sources/*.spare/[0-9a-f]*.* >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# Each entry of a tree but .git: path, type, mode bits, link target, and
# the content's hash for files.
listing() {
	(cd "$1" && find . -path ./.git -prune -o -mindepth 1 -printf '%p %y %m %l\n' |
		sort && find . -path ./.git -prune -o -type f -print0 |
		sort -z | xargs -0 sha1sum)
}

@test "a retired tree recycled for the same commit writes nothing and keeps every file" {
	make_repo
	rbuild "$REPO" --committed
	[ "$status" -eq 0 ]
	wait_spare
	first=$(src_of "$LOG")
	ino=$(stat -c %i "$first/n7.txt")
	rbuild "$REPO" --committed # takes the prepared tree, retires the first
	[ "$status" -eq 0 ]
	buildlog | grep -q 'checked out (spare)'
	[ ! -e "$first" ]
	rbuild "$REPO" --committed
	[ "$status" -eq 0 ]
	buildlog | grep -q 'checked out (recycled: 0 written, 28 kept, 1 removed)'
	src=$(src_of "$LOG")
	[ "$(stat -c %i "$src/n7.txt")" = "$ino" ]
	[ "$(printed STATUS)" = 0 ]
	[ "$(printed HEAD)" = "$(git -C "$REPO" rev-parse HEAD)" ]
}

@test "a recycled tree is a fresh checkout of the new commit whatever the last build did to it" {
	make_repo
	rbuild "$REPO" --committed -e MESS=1
	[ "$status" -eq 0 ]
	wait_spare
	rbuild "$REPO" --committed
	[ "$status" -eq 0 ]
	# the messed-up tree waits in the pool; the commit moves on
	echo changed >"$REPO/n1.txt"
	g rm -q n2.txt
	echo new >"$REPO/new.txt"
	g add -A && g commit -q -m second
	rbuild "$REPO" --committed
	[ "$status" -eq 0 ]
	buildlog | grep -q 'checked out (recycled: '
	src=$(src_of "$LOG")
	git clone -q "$REPO" "$T/fresh"
	[ "$(listing "$src")" = "$(listing "$T/fresh")" ]
	# the file rewritten with its size and mtime kept is restored
	[ "$(printed SAME)" = hello ]
	[ ! -e "$src/out" ]
	[ ! -e "$src/untracked.txt" ]
	[ "$(readlink "$src/link")" = keep.txt ]
	[ "$(printed STATUS)" = 0 ]
	[ "$(printed HEAD)" = "$(git -C "$REPO" rev-parse HEAD)" ]
	[ "$(git -C "$src" log --format=%s | head -n 1)" = second ]
	# files unchanged between the commits and untouched were kept
	written=$(buildlog | sed -n 's/.*recycled: \([0-9]*\) written.*/\1/p')
	[ "$written" -lt 10 ]
}

@test "a work tree built as it is: a retired copy is brought up to date, whatever either side did" {
	make_repo
	cd "$REPO"
	rbuild . --worktree -e MESS=1
	[ "$status" -eq 0 ]
	# the build's commit is in the copy only
	[ "$(git -C "$REPO" log --format=%s | head -n 1)" = first ]
	rbuild . --worktree
	[ "$status" -eq 0 ]
	buildlog | grep -q 'Source copy: copy in'
	# the work tree changes: a file keeping its size and mtime included
	echo changed >n1.txt
	rm n2.txt
	chmod +x n3.txt
	cp -p n4.txt "$T/ref" && echo 5 >n4.txt && touch -r "$T/ref" n4.txt
	mkdir -p sub && echo s >sub/s.txt
	ln -sf n5.txt n6.txt
	rbuild . --worktree
	[ "$status" -eq 0 ]
	buildlog | grep -q 'Source copy: recycled: '
	src=$(src_of "$LOG")
	[ "$(cat "$src/n4.txt")" = 5 ]
	[ "$(listing "$src")" = "$(listing "$REPO")" ]
	# .git as it is too: the build's commit is gone from the copy
	[ "$(git -C "$src" log --format=%s | head -n 1)" = first ]
}

@test "a recycled work-tree copy leaves out what a fresh copy does: ignored files, the state dir, -o's dir" {
	make_repo
	cd "$REPO"
	wbuild() { # options...
		rm -f "$REPORT"
		run "$SLIPWAY" build . --state-dir st -o art --report "$REPORT" "$@"
		LOG=
		if [ -f "$REPORT" ]; then
			LOG=$(jq -r .logs.location "$REPORT")
		fi
	}
	mkdir -p out art
	echo ignored >out/ignored.bin
	echo old >art/old.zip
	wbuild
	[ "$status" -eq 0 ]
	wbuild
	[ "$status" -eq 0 ]
	buildlog | grep -q 'Source copy: copy in'
	echo changed >n1.txt
	echo again >out/again.bin
	wbuild
	[ "$status" -eq 0 ]
	buildlog | grep -q 'Source copy: recycled: '
	src=$(src_of "$LOG")
	[ "$(cat "$src/n1.txt")" = changed ]
	[ ! -e "$src/out" ]
	[ ! -e "$src/st" ]
	[ ! -e "$src/art" ]
	recycled=$(listing "$src")
	# a whole copy, made afresh, holds the same
	wbuild --no-cache
	[ "$status" -eq 0 ]
	buildlog | grep -q 'Source copy: copy in'
	[ "$(listing "$(src_of "$LOG")")" = "$recycled" ]
}

@test "a tree with submodules or .gitattributes is not recycled, and still right" {
	make_repo
	printf '*.txt text\n' >"$REPO/.gitattributes"
	g add -A && g commit -q -m attrs
	rbuild "$REPO" --committed -e MESS=1
	[ "$status" -eq 0 ]
	rbuild "$REPO" --committed
	[ "$status" -eq 0 ]
	rbuild "$REPO" --committed
	[ "$status" -eq 0 ]
	! buildlog | grep -q 'recycled' || false
	[ "$(printed SAME)" = hello ]
	[ "$(printed STATUS)" = 0 ]
	# the refused tree went to the trash, not to the next build
	[ -z "$(ls "$STATE"/sources/*.spare/ | grep '^used\.')" ] ||
		[ "$(ls "$STATE"/sources/*.spare/ | grep -c '^used\.')" -le 2 ]
}

@test "slipway prune takes the trees waiting to be recycled" {
	make_repo
	for i in 1 2 3; do
		rbuild "$REPO" --committed
		[ "$status" -eq 0 ]
	done
	ls "$STATE"/sources/*.spare/ | grep -q '^used\.'
	run "$SLIPWAY" prune --state-dir "$STATE"
	[ "$status" -eq 0 ]
	# (a spare still being prepared may land after it: not checked)
	[ -z "$(ls "$STATE"/sources/*.spare/ | grep '^used\.')" ]
	# the next build writes its tree afresh and still builds
	rbuild "$REPO" --committed
	[ "$status" -eq 0 ]
	[ "$(printed SAME)" = hello ]
}

@test "SLIPWAY_KEEP_IGNORED=1 keeps the retired build's ignored outputs, nothing else" {
	make_repo
	rbuild "$REPO" --committed -e MESS=1
	[ "$status" -eq 0 ]
	wait_spare
	rbuild "$REPO" --committed
	[ "$status" -eq 0 ]
	SLIPWAY_KEEP_IGNORED=1 rbuild "$REPO" --committed
	[ "$status" -eq 0 ]
	buildlog | grep -q 'checked out (recycled: '
	src=$(src_of "$LOG")
	[ "$(cat "$src/out/app.bin")" = built ]
	[ ! -e "$src/untracked.txt" ]
	[ "$(printed SAME)" = hello ]
	[ "$(printed STATUS)" = 1 ] # the ignored out/ only
	git -C "$src" status --porcelain --ignored | grep -qx '!! out/'
}
