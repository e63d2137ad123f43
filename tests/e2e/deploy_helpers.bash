# Helpers for the `slipway deploy` suites (load after helpers.bash).
#
#   load helpers
#   load deploy_helpers
#
# Every test gets a host rooted at $HOST (an appspec destination /var/www
# lands in $HOST/var/www) whose agent state is $DR, the default group $DG,
# and $HOOKLOG, which the generated hook scripts append to.
#
#   rev NAME TAG          a revision directory $T/NAME: app/{index.html,
#                         about.html,css/site.css} and scripts/ (hook.sh,
#                         hook2.sh append "TAG <event> <script>" to
#                         $HOOKLOG; fail.sh does too, then exits 3)
#   appspec NAME          write $T/NAME/appspec.yml from stdin
#   std_appspec NAME EV.. files app -> /var/www/html, scripts/hook.sh for
#                         each event EV
#   sw_deploy BUNDLE OPT..  run slipway deploy onto $HOST: sets status,
#                         output (stdout), stderr, DEP (the id) and
#                         PRINTED ("Event Status" of the event lines)
#   report_load           RSTATUS (the report's status), RCODE (its
#                         errorInformation.code), EVENTS ("Event Status"
#                         lines of the report)
#   deployment_is STATUS  the report's status
#   ev_is EVENT STATUS    the event has that status in the report
#   ev_diag EVENT FIELD   a diagnostics field of the event in $REPORT
#   file_is FILE WANT     FILE holds WANT (shown on stderr when not)
#   hooks_are WANT        what the hooks appended to $HOOKLOG
#   cleanup_is WANT       the group's cleanup file
#   ptr_is last|recent WANT  a pointer file's content
#   same GOT WANT         equal, or both shown on stderr
#   mode PATH             octal mode, e.g. 644
#   py_bundle [OUT FMT]   bundles written by python (see below)

bats_require_minimum_version 1.5.0

# The system's python starts in a tenth of the time of a version manager's
# shim.
if [ -x /usr/bin/python3 ]; then
	PYTHON=/usr/bin/python3
else
	PYTHON=python3
fi

eval "helpers_$(declare -f setup)"
eval "helpers_$(declare -f teardown)"

setup() {
	helpers_setup
	HOST=$T/host
	DR=$HOST/opt/codedeploy-agent/deployment-root
	DG=default-local-deployment-group
	INSTR=$DR/deployment-instructions
	export HOOKLOG=$T/hooks.log
	OUT=/tmp/outside-$MARK
	RUNAS_USER=
	umask 022
	mkdir -p "$HOST"
	: >"$HOOKLOG"
}

teardown() {
	helpers_teardown
	if [ -d "$OUT" ]; then
		chmod -R u+rwx "$OUT" 2>/dev/null || true
		rm -rf "$OUT"
	fi
	if [ -n "$RUNAS_USER" ]; then
		userdel "$RUNAS_USER" 2>/dev/null || true
	fi
	# modes like 0555 set by permissions rules must not stop bats'
	# own clean-up when it runs without root
	if [ "$EUID" -ne 0 ]; then
		chmod -R u+rwx "$T" 2>/dev/null || true
	fi
}

# A hook script that records that it ran (mode 0755 only with CHMOD=1,
# rev() sets the modes of its files in one go).
hook_script() { # PATH TAG [EXIT]
	printf '%s\n' '#!/bin/sh' \
		"echo \"$2 \$LIFECYCLE_EVENT \${0##*/}\" >>\"\$HOOKLOG\"" \
		"echo \"hook $2 \$LIFECYCLE_EVENT \${0##*/}\"" \
		"exit ${3:-0}" >"$1"
	if [ "${CHMOD:-1}" = 1 ]; then
		chmod 0755 "$1"
	fi
}

rev() { # NAME TAG
	local d=$T/$1

	# umask 022 (setup): directories 0755, files 0644
	mkdir -p "$d/app/css" "$d/scripts"
	echo "$2 index" >"$d/app/index.html"
	echo "$2 about" >"$d/app/about.html"
	echo "$2 css" >"$d/app/css/site.css"
	CHMOD=0 hook_script "$d/scripts/hook.sh" "$2"
	CHMOD=0 hook_script "$d/scripts/hook2.sh" "$2"
	CHMOD=0 hook_script "$d/scripts/fail.sh" "$2" 3
	chmod 0755 "$d/scripts/hook.sh" "$d/scripts/hook2.sh" \
		"$d/scripts/fail.sh"
}

# Like hook_script, and the hook's view of things (the agent's variables,
# cwd, stdin) goes to $HOOKLOG.<event>.
env_script() { # PATH TAG
	hook_script "$1" "$2"
	sed -i '$d' "$1" # drop the exit
	cat >>"$1" <<'SCRIPT'
printf '%s\n' "LIFECYCLE_EVENT=$LIFECYCLE_EVENT" \
	"DEPLOYMENT_ID=$DEPLOYMENT_ID" \
	"APPLICATION_NAME=$APPLICATION_NAME" \
	"DEPLOYMENT_GROUP_NAME=$DEPLOYMENT_GROUP_NAME" \
	"DEPLOYMENT_GROUP_ID=$DEPLOYMENT_GROUP_ID" \
	"SLIPWAY_HOST_ROOT=$SLIPWAY_HOST_ROOT" \
	"PWD=$(pwd -P)" \
	"STDIN=$(readlink /proc/$$/fd/0)" \
	"BUNDLE_VARS=$(env | grep -c '^BUNDLE_')" >"$HOOKLOG.$LIFECYCLE_EVENT"
SCRIPT
}

appspec() { # NAME
	cat >"$T/$1/appspec.yml"
}

std_appspec() { # NAME EVENT...
	local name=$1 ev

	shift
	{
		printf 'version: 0.0\nos: linux\nfiles:\n'
		printf '  - source: app\n    destination: /var/www/html\n'
		if [ $# -gt 0 ]; then
			printf 'hooks:\n'
			for ev in "$@"; do
				printf '  %s:\n    - location: scripts/hook.sh\n' \
					"$ev"
			done
		fi
	} >"$T/$name/appspec.yml"
}

sw_deploy() { # BUNDLE [options]
	local line

	# what bats' run does, without its cost (slipway runs some 80 times)
	: >"$REPORT"
	status=0
	"$SLIPWAY" deploy "$@" --root "$HOST" --state-dir "$STATE" \
		--report "$REPORT" >"$T/stdout" 2>"$T/stderr" || status=$?
	output=$(<"$T/stdout")
	stderr=$(<"$T/stderr")
	DEP='' RSTATUS='' RCODE='' EVENTS='' REPORT_LOADED=''
	if [[ "$stderr" =~ ^slipway:\ deployment\ ([^ ]+)\  ]]; then
		DEP=${BASH_REMATCH[1]}
	fi
	PRINTED=
	while IFS= read -r line; do
		if [[ "$line" =~ ^local\ \|\ ([A-Za-z]+)\ (Succeeded|Failed|Skipped)( |$) ]]; then
			PRINTED+="${PRINTED:+$'\n'}${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
		fi
	done <<<"$output"
}

# Read RSTATUS, RCODE and EVENTS from $REPORT (once per deployment).
report_load() {
	local all

	[ -z "$REPORT_LOADED" ] || return 0
	REPORT_LOADED=1
	[ -s "$REPORT" ] || return 0
	all=$(jq -r '.errorInformation.code // "", .status,
		(.instances[0].lifecycleEvents[]? |
		"\(.lifecycleEventName) \(.status)")' "$REPORT")
	RCODE=${all%%$'\n'*}
	all=${all#*$'\n'}
	RSTATUS=${all%%$'\n'*}
	EVENTS=${all#"$RSTATUS"}
	EVENTS=${EVENTS#$'\n'}
}

# The deployment has that status in $REPORT.
deployment_is() { # STATUS
	report_load
	same "$RSTATUS" "$1"
}

# The event has that status in $REPORT.
ev_is() { # EVENT STATUS
	report_load
	[[ $'\n'"$EVENTS"$'\n' == *$'\n'"$1 $2"$'\n'* ]] && return 0
	printf -- '--- %s is not %s in:\n%s\n' "$1" "$2" "$EVENTS" >&2
	return 1
}

ev_diag() {
	jq -r --arg e "$1" --arg f "$2" '.instances[0].lifecycleEvents[] |
		select(.lifecycleEventName == $e) | .diagnostics[$f]' "$REPORT"
}

# FILE holds exactly WANT (a missing FILE holds "").
file_is() { # FILE WANT
	local got=

	if [ -e "$1" ]; then
		got=$(<"$1")
	fi
	same "$got" "$2"
}

hooks_are() { # WANT
	file_is "$HOOKLOG" "$1"
}

cleanup_is() { # WANT
	file_is "$INSTR/$DG-cleanup" "$1"
}

ptr_is() { # last|recent WANT
	case $1 in
	last) file_is "$INSTR/${DG}_last_successful_install" "$2" ;;
	recent) file_is "$INSTR/${DG}_most_recent_install" "$2" ;;
	esac
}

same() { # GOT WANT
	[ "$1" = "$2" ] && return 0
	printf -- '--- got:\n%s\n--- want:\n%s\n' "$1" "$2" >&2
	return 1
}

mode() {
	stat -c %a "$1"
}

# The deployment directories of the group, by name.
dep_dirs() {
	local d out=

	for d in "$DR/$DG"/*; do
		[ -e "$d" ] || continue
		out+="${out:+$'\n'}${d##*/}"
	done
	echo "$out"
}

# Let other users reach this test's directory (bats makes its run dir 0700).
open_up() {
	local d=$T
	while [ "$d" != / ] && [ "$d" != /tmp ]; do
		chmod o+x "$d"
		d=$(dirname "$d")
	done
}

# Everything under the host root but the agent's state, with types and
# contents, to show that nothing was written there.
host_snapshot() {
	find "$HOST" -path "$HOST/opt/codedeploy-agent" -prune -o \
		\( -type f -printf '%P f %s %m\n' \) -o \
		\( -type l -printf '%P l %l\n' \) -o \( -printf '%P %y %m\n' \)
}

# Write bundles with python (tarfile and zipfile write names and types
# that tar and zip refuse to make), one python for many bundles:
#
#   py_bundle [OUT FMT] <<PY
#   bundle(OUT, FMT)      -- start a bundle (FMT tar, tgz or zip); the
#                         -- previous one is closed; OUT FMT given as
#                         -- arguments start the first one
#   base()                -- a good appspec, a hook, app/index.html
#   add(name, data=b"", mode=0o644, kind="file", link=None)
#                         -- kind: file, dir, symlink, hardlink, chr,
#                         -- blk or fifo
#   PY
read -r -d '' PY_PRELUDE <<'PRELUDE' || true
import io, sys, tarfile, time, zipfile

APPSPEC = b"""version: 0.0
os: linux
files:
  - source: app
    destination: /var/www/html
hooks:
  BeforeInstall:
    - location: scripts/hook.sh
"""
HOOK = b'#!/bin/sh\necho "hostile $LIFECYCLE_EVENT" >>"$HOOKLOG"\n'
TYPES = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE,
         "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
         "chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE,
         "fifo": tarfile.FIFOTYPE}
cur = None


def finish():
    global cur
    if cur:
        cur[1].close()
        cur = None


def bundle(out, fmt):
    global cur
    finish()
    if fmt == "zip":
        cur = (fmt, zipfile.ZipFile(out, "w"))
    else:
        cur = (fmt, tarfile.open(out, "w:gz" if fmt == "tgz" else "w",
                                 format=tarfile.GNU_FORMAT))


def add(name, data=b"", mode=0o644, kind="file", link=None):
    fmt, a = cur
    if fmt == "zip":
        zi = zipfile.ZipInfo(name, time.localtime()[:6])
        zi.create_system = 3
        if kind == "dir":
            zi.external_attr = (0o040000 | 0o755) << 16 | 0x10
            if not name.endswith("/"):
                zi.filename = name + "/"
        elif kind == "symlink":
            zi.external_attr = (0o120000 | 0o777) << 16
            data = link.encode()
        else:
            zi.external_attr = (0o100000 | mode) << 16
        a.writestr(zi, data)
        return
    ti = tarfile.TarInfo(name)
    ti.type = TYPES[kind]
    ti.mode = 0o755 if kind == "dir" else mode
    ti.mtime = int(time.time())
    if kind == "file":
        ti.size = len(data)
    if link is not None:
        ti.linkname = link
    if kind in ("chr", "blk"):
        ti.devmajor, ti.devminor = 1, 3
    a.addfile(ti, io.BytesIO(data) if kind == "file" else None)


def base():
    add("appspec.yml", APPSPEC)
    add("scripts", kind="dir")
    add("scripts/hook.sh", HOOK, mode=0o755)
    add("app", kind="dir")
    add("app/index.html", b"hostile\n")


if len(sys.argv) > 2:
    bundle(sys.argv[1], sys.argv[2])
exec(sys.stdin.read())
finish()
PRELUDE

py_bundle() { # [OUT FMT]
	"$PYTHON" -c "$PY_PRELUDE" "$@"
}
