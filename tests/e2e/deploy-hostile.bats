#!/usr/bin/env bats
# slipway deploy against hostile bundles and hosts: a bundle that would
# write outside its archive, or is not a bundle at all, is refused with
# exit 3 and a message naming the entry, before any hook runs (not even
# the previous revision's ApplicationStop), with nothing installed and
# nothing left behind; symbolic links in the host root never take the
# install (or the removal of the previous install) outside the root.

load helpers
load deploy_helpers

# A previous, good revision whose ApplicationStop would run first.
prior() {
	rev r0 r0
	std_appspec r0 ApplicationStop BeforeInstall
	sw_deploy "$T/r0"
	[ "$status" -eq 0 ]
	D0=$DEP
	mkdir -p "$OUT"
	echo victim >"$OUT/victim"
	: >"$HOOKLOG"
	BEFORE=$(host_snapshot)
	OUT_BEFORE=$(find "$OUT" -printf '%P %y %s\n')
}

# The deployment just run was refused before any host got the bundle:
# exit 3, the message (on stderr) holds WANT, no hook ran, nothing changed on the host or outside it,
# the refused deployment's directory is gone.
refused() { # WANT
	same "$status" 3
	[[ "$stderr" == *"$1"* ]] || {
		echo "--- stderr lacks '$1': $stderr" >&2
		return 1
	}
	hooks_are ""
	same "$(host_snapshot)" "$BEFORE"
	same "$(find "$OUT" -printf '%P %y %s\n')" "$OUT_BEFORE"
	same "$(dep_dirs)" "$D0"
	ptr_is last "$DR/$DG/$D0"
	ptr_is recent "$DR/$DG/$D0"
	# no staging directory, no in-flight marker left
	local f left=
	for f in "$DR/$DG/$D0"/.[!.]* "$DR/$DG"/.[!.]* \
		"$DR/ongoing-deployment"/*; do
		[ -e "$f" ] || [ -L "$f" ] || continue
		left+="$f "
	done
	same "$left" ""
	deployment_is Failed
	same "$RCODE" INVALID_REVISION
	# checked before any host got it: the host was never contacted
	same "$(jq -r '.instances[0].status' "$REPORT")" Skipped
	same "$EVENTS" ""
}

@test "zip-slip: a '..' entry in a tar or a zip is refused, nothing written" {
	prior
	py_bundle <<PY
bundle("$T/slip.tar", "tar")
base()
add("../evil", b"x")
bundle("$T/slip.zip", "zip")
base()
add("app/../../../../../../../../../../../..$OUT/evil", b"x")
PY
	sw_deploy "$T/slip.tar"
	refused "entry '../evil' has a '..' component"
	[ ! -e "$DR/$DG/evil" ]
	sw_deploy "$T/slip.zip"
	refused "entry 'app/../../../../../../../../../../../..$OUT/evil' has a '..' component"
	[ ! -e "$OUT/evil" ]
}

@test "absolute entries in a tar or a zip are refused" {
	prior
	py_bundle <<PY
bundle("$T/abs.tar", "tar")
base()
add("$OUT/abs", b"x")
bundle("$T/abs.zip", "zip")
base()
add("$OUT/abs", b"x")
PY
	sw_deploy "$T/abs.tar"
	refused "entry '$OUT/abs' is an absolute path"
	sw_deploy "$T/abs.zip"
	refused "entry '$OUT/abs' is an absolute path"
	[ ! -e "$OUT/abs" ]
}

@test "a symbolic link out of the bundle, and a file written through it, are refused" {
	prior
	local up=../../../../../../../../../../../..$OUT
	py_bundle <<PY
# absolute target, then a file through it
bundle("$T/sym.tar", "tar")
base()
add("link", kind="symlink", link="$OUT")
add("link/evil", b"x")
# relative target climbing out, in a zip: alone, then written through
bundle("$T/sym.zip", "zip")
base()
add("up", kind="symlink", link="$up")
bundle("$T/sym2.zip", "zip")
base()
add("up", kind="symlink", link="$up")
add("up/evil", b"x")
# a link that stays inside is fine alone, but nothing goes through it
bundle("$T/in.tar", "tar")
base()
add("in", kind="symlink", link="app")
add("in/evil", b"x")
PY
	sw_deploy "$T/sym.tar"
	refused "entry 'link' is a symbolic link to the absolute path '$OUT'"
	sw_deploy "$T/sym.zip"
	refused "entry 'up' is a symbolic link to '$up', outside the bundle"
	sw_deploy "$T/sym2.zip"
	refused "entry 'up/evil' is inside a symbolic link 'up'"
	sw_deploy "$T/in.tar"
	refused "entry 'in/evil' is inside a symbolic link 'in'"
	[ ! -e "$OUT/evil" ]
}

@test "a hard link to /etc/passwd is refused" {
	prior
	local links
	links=$(stat -c %h /etc/passwd)
	py_bundle <<PY
bundle("$T/hard.tar", "tar")
base()
add("pw", kind="hardlink", link="/etc/passwd")
bundle("$T/hard2.tar", "tar")
base()
add("pw", kind="hardlink", link="../../../../../../../../../../etc/passwd")
PY
	sw_deploy "$T/hard.tar"
	refused "entry 'pw' is a hard link to '/etc/passwd', not an earlier file of the bundle"
	sw_deploy "$T/hard2.tar"
	refused "entry 'pw' is a hard link to '../../../../../../../../../../etc/passwd', not an earlier file of the bundle"
	same "$(stat -c %h /etc/passwd)" "$links"
}

@test "device and fifo entries are refused" {
	prior
	py_bundle <<PY
for k in ("chr", "blk", "fifo"):
    bundle("$T/%s.tar" % k, "tar")
    base()
    add("app/dev", kind=k)
PY
	sw_deploy "$T/chr.tar"
	refused "entry 'app/dev' is a character device"
	sw_deploy "$T/blk.tar"
	refused "entry 'app/dev' is a block device"
	sw_deploy "$T/fifo.tar"
	refused "entry 'app/dev' is a fifo"
}

@test "more than 1000000 entries, implied parent directories included, are refused" {
	prior
	# 25001 listed entries imply 1025000 directories: a 13 MB tar
	"$PYTHON" - "$T/many.tar" <<'PY'
import io, sys, tarfile
deep = "/".join(["a"] * 40)
ap = b"version: 0.0\nos: linux\n"
with tarfile.open(sys.argv[1], "w", format=tarfile.USTAR_FORMAT) as t:
    ti = tarfile.TarInfo("appspec.yml")
    ti.size = len(ap)
    t.addfile(ti, io.BytesIO(ap))
    for i in range(25000):
        t.addfile(tarfile.TarInfo("%05x/%s/f" % (i, deep)))
PY
	sw_deploy "$T/many.tar"
	refused "more than 1000000 entries"
	rm -f "$T/many.tar"
}

@test "a bundle of 3000 files within the bounds unpacks whole" {
	"$PYTHON" - "$T/ok.tgz" <<'PY'
import io, sys, tarfile
ap = b"version: 0.0\nos: linux\n"
with tarfile.open(sys.argv[1], "w:gz") as t:
    ti = tarfile.TarInfo("appspec.yml")
    ti.size = len(ap)
    t.addfile(ti, io.BytesIO(ap))
    for i in range(3000):
        data = b"%d\n" % i
        ti = tarfile.TarInfo("d%02d/f%04d" % (i % 30, i))
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
PY
	sw_deploy "$T/ok.tgz"
	[ "$status" -eq 0 ]
	local a=$DR/$DG/$DEP/deployment-archive
	same "$(find "$a" -type f | wc -l)" 3001
	same "$(find "$a" -mindepth 1 -type d | wc -l)" 30
	file_is "$a/d29/f2999" 2999
}

# A revision whose app/big.bin is 5 MiB of zeros, as a zip and a tgz.
bomb_rev() {
	rev bomb bomb
	std_appspec bomb BeforeInstall
	head -c 5M /dev/zero >"$T/bomb/app/big.bin"
	(cd "$T/bomb" && zip -qr ../bomb.zip .)
	tar -czf "$T/bomb.tgz" -C "$T/bomb" .
}

@test "a bundle that unpacks past --max-bundle-size is refused, naming the entry" {
	prior
	bomb_rev
	sw_deploy "$T/bomb.zip" --max-bundle-size 1M
	refused "bomb.zip': entry 'app/big.bin' expands the bundle past 1 MiB (--max-bundle-size)"
	sw_deploy "$T/bomb.tgz" --max-bundle-size 1M
	refused "bomb.tgz': entry 'app/big.bin' expands the bundle past 1 MiB (--max-bundle-size)"
	sw_deploy "$T/bomb" --max-bundle-size 1M
	refused "entry 'app/big.bin' expands the bundle past 1 MiB (--max-bundle-size)"
	# within the bound it deploys
	sw_deploy "$T/bomb.zip" --max-bundle-size 6M
	same "$status" 0
	same "$(stat -c %s "$HOST/var/www/html/big.bin")" 5242880
}

@test "a bundle that unpacks past --max-bundle-ratio times its size is refused" {
	prior
	bomb_rev
	sw_deploy "$T/bomb.zip" --max-bundle-ratio 100
	refused "bomb.zip': entry 'app/big.bin' expands the bundle past 100 times its size of "
	sw_deploy "$T/bomb.tgz" --max-bundle-ratio 100
	refused "bomb.tgz': entry 'app/big.bin' expands the bundle past 100 times its size of "
	run "$SLIPWAY" deploy "$T/bomb.zip" --max-bundle-ratio 0
	same "$status" 2
	[[ "$output" == *"--max-bundle-ratio must be a number from 1 to 1000000000, not '0'"* ]]
	run "$SLIPWAY" deploy "$T/bomb.zip" --max-bundle-size 10X
	same "$status" 2
	[[ "$output" == *"--max-bundle-size must be a size such as 10G or 512M, not '10X'"* ]]
}

@test "a zip whose headers understate its sizes is stopped by the bytes written" {
	prior
	bomb_rev
	# the local header and the central directory both say 100 bytes
	"$PYTHON" - "$T/bomb.zip" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
# signature, offsets of the name length, the name, the uncompressed size
for sig, len_at, name_at, size_at in ((b"PK\x03\x04", 26, 30, 22),
                                      (b"PK\x01\x02", 28, 46, 24)):
    i = b.find(sig)
    while i >= 0:
        n = struct.unpack("<H", b[i + len_at:i + len_at + 2])[0]
        if b[i + name_at:i + name_at + n] == b"app/big.bin":
            b[i + size_at:i + size_at + 4] = struct.pack("<I", 100)
        i = b.find(sig, i + 4)
open(sys.argv[1], "wb").write(b)
PY
	unzip -l "$T/bomb.zip" | grep -q ' 100 .*app/big.bin'
	sw_deploy "$T/bomb.zip" --max-bundle-size 1M
	refused "entry 'app/big.bin' expands the bundle past 1 MiB (--max-bundle-size)"
}

@test "a tar whose header declares 11 GiB is refused by the default bound, before a byte is written" {
	prior
	"$PYTHON" - "$T/huge.tar" <<'PY'
import io, sys, tarfile
ap = b"version: 0.0\nos: linux\n"
with open(sys.argv[1], "wb") as f:
    ti = tarfile.TarInfo("appspec.yml")
    ti.size = len(ap)
    f.write(ti.tobuf(tarfile.GNU_FORMAT) + ap + b"\0" * (512 - len(ap)))
    ti = tarfile.TarInfo("huge.bin")
    ti.size = 11 << 30
    f.write(ti.tobuf(tarfile.GNU_FORMAT))
    f.write(b"\0" * 4096)
PY
	sw_deploy "$T/huge.tar"
	refused "huge.tar': entry 'huge.bin' expands the bundle past 10 GiB (--max-bundle-size)"
}

@test "a zip whose central directory is cut short is refused, as unzip refuses it" {
	prior
	bomb_rev
	local n
	for n in 1 22 40; do
		head -c -$n "$T/bomb.zip" >"$T/cut.zip"
		! unzip -tq "$T/cut.zip" >/dev/null 2>&1 || false
		sw_deploy "$T/cut.zip"
		refused "cut.zip': corrupt zip archive: no central directory"
	done
}

@test "a file that is no archive is refused: empty, random bytes, text" {
	prior
	: >"$T/empty.zip"
	sw_deploy "$T/empty.zip"
	refused "not a zip, tar or tar.gz bundle (found an empty file)"
	head -c 4096 /dev/urandom >"$T/random.tgz"
	# random bytes that happen to look like gzip or zip are not random
	printf 'R' | dd of="$T/random.tgz" bs=1 count=1 conv=notrunc 2>/dev/null
	sw_deploy "$T/random.tgz"
	refused "not a zip, tar or tar.gz bundle"
	[[ "$stderr" == *"random.tgz"* ]]
	printf 'version: 0.0\nos: linux\n' >"$T/appspec.tar"
	sw_deploy "$T/appspec.tar"
	refused "not a zip, tar or tar.gz bundle"
}

@test "a bundle without an appspec is refused" {
	prior
	rev noapp noapp
	sw_deploy "$T/noapp"
	refused "did not find an AppSpec file within the unpacked revision directory at revision-relative path 'appspec.yml'"
	tar -czf "$T/noapp.tgz" -C "$T/noapp" .
	sw_deploy "$T/noapp.tgz"
	refused "did not find an AppSpec file"
	[[ "$stderr" == *"noapp.tgz"* ]]
}

@test "a malformed appspec is refused with its line and column" {
	prior
	rev bad bad
	printf 'version: 0.0\nos: linux\nhooks:\n\tBeforeInstall:\n' \
		>"$T/bad/appspec.yml"
	sw_deploy "$T/bad"
	refused "$T/bad/appspec.yml:4:1: "
	tar -czf "$T/bad.tgz" -C "$T/bad" .
	sw_deploy "$T/bad.tgz"
	refused "bundle $T/bad.tgz: appspec.yml:4:1: "
	printf 'version: 0.0\nos: linux\nfiles:\n  - source: app\n' \
		>"$T/bad/appspec.yml"
	sw_deploy "$T/bad"
	refused "$T/bad/appspec.yml:4:"
}

# ---- the host root ---------------------------------------------------------

@test "an appspec validate refuses is refused by deploy with exit 3: over 16 MiB, a path past PATH_MAX or NAME_MAX" {
	prior
	rev big big
	std_appspec big BeforeInstall
	# a comment makes it 17 MiB of valid YAML
	head -c 17M /dev/zero | tr '\0' '#' >>"$T/big/appspec.yml"
	run "$SLIPWAY" validate "$T/big/appspec.yml"
	same "$status" 3
	[[ "$output" == *"appspec.yml: file too large (over 16 MiB)"* ]]
	sw_deploy "$T/big"
	refused "$T/big/appspec.yml: file too large (over 16 MiB)"
	(cd "$T/big" && zip -qr "$T/big.zip" .)
	sw_deploy "$T/big.zip"
	refused "bundle $T/big.zip: appspec.yml: file too large (over 16 MiB)"

	rev long long
	"$PYTHON" - "$T/long/appspec.yml" <<'PY'
import sys
dest = "/srv/" + "/".join(["d" * 200] * 50000)
open(sys.argv[1], "w").write("version: 0.0\nos: linux\nfiles:\n"
                             "  - source: app\n    destination: " + dest + "\n")
PY
	run "$SLIPWAY" validate "$T/long/appspec.yml"
	same "$status" 3
	[[ "$output" == *"appspec.yml:5:18: 'files[0].destination' is 10050004 bytes long, more than 4095 (PATH_MAX)"* ]]
	sw_deploy "$T/long"
	refused "appspec.yml:5:18: 'files[0].destination' is 10050004 bytes long, more than 4095 (PATH_MAX)"
	printf 'version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: /srv/%s\n' \
		"$(printf 'n%.0s' $(seq 256))" >"$T/long/appspec.yml"
	sw_deploy "$T/long"
	refused "'files[0].destination' has a component of 256 bytes, more than 255 (NAME_MAX)"
}

@test "a symbolic link in the host root resolves inside it: absolute" {
	mkdir -p "$OUT" "$HOST$OUT"
	ln -s "$OUT" "$HOST/var"
	rev r1 r1
	std_appspec r1
	sw_deploy "$T/r1"
	[ "$status" -eq 0 ]
	file_is "$HOST$OUT/www/html/index.html" "r1 index"
	same "$(ls -A "$OUT")" ""
	cleanup_is "/var/www
/var/www/html
/var/www/html/about.html
/var/www/html/css
/var/www/html/css/site.css
/var/www/html/index.html"
	# the next install removes through the same link, inside the root
	echo keep >"$OUT/index.html"
	rev r2 r2
	rm "$T/r2/app/about.html"
	std_appspec r2
	sw_deploy "$T/r2"
	[ "$status" -eq 0 ]
	[ ! -e "$HOST$OUT/www/html/about.html" ]
	file_is "$HOST$OUT/www/html/index.html" "r2 index"
	same "$(ls -A "$OUT")" index.html
	file_is "$OUT/index.html" keep
}

@test "a symbolic link in the host root resolves inside it: relative, climbing" {
	mkdir -p "$OUT" "$HOST$OUT"
	ln -s "../../../../../../../../../../../..$OUT" "$HOST/var"
	rev r1 r1
	std_appspec r1
	sw_deploy "$T/r1"
	[ "$status" -eq 0 ]
	file_is "$HOST$OUT/www/html/css/site.css" "r1 css"
	same "$(ls -A "$OUT")" ""
}

@test "a symbolic link in the host root to a place missing inside it fails Install, nothing written outside" {
	mkdir -p "$OUT"
	ln -s "$OUT" "$HOST/var"
	rev r1 r1
	std_appspec r1 AfterInstall
	sw_deploy "$T/r1"
	[ "$status" -eq 1 ]
	ev_is Install Failed
	hooks_are ""
	same "$(ls -A "$OUT")" ""
	same "$(readlink "$HOST/var")" "$OUT"
}

@test "OVERWRITE replaces a symbolic link at a destination, never writes through it" {
	mkdir -p "$OUT" "$HOST/var/www/html"
	echo victim >"$OUT/victim"
	ln -s "$OUT/victim" "$HOST/var/www/html/index.html"
	ln -s "../../../../../../../../../..$OUT/victim" \
		"$HOST/var/www/html/about.html"
	rev r1 r1
	std_appspec r1
	sw_deploy "$T/r1" --file-exists-behavior OVERWRITE
	[ "$status" -eq 0 ]
	[ ! -L "$HOST/var/www/html/index.html" ]
	[ ! -L "$HOST/var/www/html/about.html" ]
	file_is "$HOST/var/www/html/index.html" "r1 index"
	file_is "$HOST/var/www/html/about.html" "r1 about"
	file_is "$OUT/victim" victim
}

@test "the previous install's cleanup list cannot remove anything outside the host root" {
	rev r1 r1
	std_appspec r1
	sw_deploy "$T/r1"
	[ "$status" -eq 0 ]
	mkdir -p "$OUT/dir"
	echo victim >"$OUT/victim"
	echo victim >"$OUT/dir/victim"
	# a link to outside in the host, and hostile entries in the list
	ln -s "$OUT" "$HOST/var/www/out"
	ln -s "$OUT/victim" "$HOST/var/www/html/victim-link"
	printf '%s\n' "/../../../../../../../../../..$OUT/victim" \
		"/var/www/out/victim" "/var/www/out/dir" \
		"/var/www/html/victim-link" >>"$INSTR/$DG-cleanup"
	rev r2 r2
	std_appspec r2
	sw_deploy "$T/r2"
	[ "$status" -eq 0 ]
	file_is "$OUT/victim" victim
	file_is "$OUT/dir/victim" victim
	# the link itself was CodeDeploy's to remove, not what it points to
	[ ! -e "$HOST/var/www/html/victim-link" ]
	[ ! -L "$HOST/var/www/html/victim-link" ]
	file_is "$HOST/var/www/html/index.html" "r2 index"
}

@test "deep names that imply millions of parent bytes are refused before memory runs out" {
	prior
	"$PYTHON" - "$T/deep.tar" <<'PY'
import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w")
for i in range(200):
    ti = tarfile.TarInfo("d%03d/" % i + "/".join(["a"] * 1995) + "/f")
    t.addfile(ti, io.BytesIO(b""))
t.close()
PY
	sw_deploy "$T/deep.tar"
	refused "add up to more than 256 MiB"
}
