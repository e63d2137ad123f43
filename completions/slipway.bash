# bash completion for slipway. Installed by `make install` as
# $(PREFIX)/share/bash-completion/completions/slipway; or source it.
#
# Commands come from `slipway --help`, options from `slipway CMD --help`,
# ids (for show and report) from `slipway history --json`, so the
# completion follows the program. Values: files for FILE and DIR
# options and for SOURCE and BUNDLE, the known words for the options that
# take one.

_slipway_words() { # the options in a --help text
	sed -n 's/^ *\(-[a-zA-Z], \)\{0,1\}\(--[a-z][a-z-]*\).*/\2/p'
}

# The state directory the command line names (--state-dir DIR), if any.
_slipway_state() {
	local i
	for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
		if [ "${COMP_WORDS[i]}" = --state-dir ]; then
			printf '%s\n' "${COMP_WORDS[i + 1]}"
			return
		fi
	done
}

# What `slipway show` takes, from the state directory: every record's id
# and each build's PROJECT#N (slipway history --json, read without jq).
_slipway_ids() {
	local st
	st=$(_slipway_state)
	slipway history --json ${st:+--state-dir "$st"} 2>/dev/null |
		awk -F'"' '$2 == "id" { print $4 } $2 == "project" { p = $4 }
			$2 == "number" { n = $3; gsub(/[^0-9]/, "", n); print p "#" n }'
}

# The projects (applications, pipelines) of the state directory.
_slipway_projects() {
	local st
	st=$(_slipway_state)
	slipway history --json ${st:+--state-dir "$st"} 2>/dev/null |
		awk -F'"' '$2 == "project" { sub(/\/.*/, "", $4); print $4 }' |
		sort -u
}

_slipway() {
	local cur prev cmd words_opts
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	cmd=${COMP_WORDS[1]}

	# deploy -e/--events: lifecycle events, comma-separated
	if [ "$prev" = --events ] || { [ "$prev" = -e ] && [ "$cmd" = deploy ]; }; then
		local done_part=${cur%,*} ev
		[ "$done_part" = "$cur" ] && done_part= || done_part+=,
		for ev in ApplicationStop DownloadBundle BeforeInstall Install \
			AfterInstall ApplicationStart ValidateService \
			BeforeBlockTraffic AfterBlockTraffic BeforeAllowTraffic \
			AfterAllowTraffic; do
			[[ "$ev" == "${cur##*,}"* ]] && COMPREPLY+=("$done_part$ev")
		done
		return
	fi
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "$(slipway --help 2>/dev/null |
			sed -n 's/^  \([a-z][a-z]*\)  .*/\1/p') help --help --version" \
			-- "$cur"))
		return
	fi
	case $prev in
	--shell)
		COMPREPLY=($(compgen -W "sh bash" -- "$cur"))
		return
		;;
	--packaging)
		COMPREPLY=($(compgen -W "zip tar.gz tar.zst none" -- "$cur"))
		return
		;;
	--isolation)
		COMPREPLY=($(compgen -W "dir sandbox auto" -- "$cur"))
		return
		;;
	--host-network)
		COMPREPLY=($(compgen -W "private host" -- "$cur"))
		return
		;;
	--file-exists-behavior)
		COMPREPLY=($(compgen -W "DISALLOW OVERWRITE RETAIN" -- "$cur"))
		return
		;;
	--config)
		COMPREPLY=($(compgen -W "CodeDeployDefault.OneAtATime
			CodeDeployDefault.HalfAtATime CodeDeployDefault.AllAtOnce" \
			-- "$cur"))
		return
		;;
	--project)
		[ "$cmd" = history ] &&
			COMPREPLY=($(compgen -W "$(_slipway_projects)" -- "$cur"))
		return
		;;
	--status)
		COMPREPLY=($(compgen -W "SUCCEEDED FAILED FAULT TIMED_OUT STOPPED
			IN_PROGRESS Succeeded Failed Stopped InProgress Ready" -- "$cur"))
		return
		;;
	--since)
		return
		;;
	--db)
		COMPREPLY=($(compgen -W "sqlite: postgres:// postgresql://" -- "$cur"))
		return
		;;
	--root | --state-dir | --deployment-root | -o | --artifacts)
		COMPREPLY=($(compgen -d -- "$cur"))
		return
		;;
	--break)
		COMPREPLY=($(compgen -W "on-failure always install pre_build build
			post_build" -- "$cur"))
		return
		;;
	--output)
		COMPREPLY=($(compgen -W "pretty codebuild" -- "$cur"))
		return
		;;
	--from | --phase)
		COMPREPLY=($(compgen -W "install pre_build build post_build" \
			-- "$cur"))
		return
		;;
	--group | --env-file | --secrets-file | --report | --html | -b | \
		--buildspec | --pipelines | --token-file | --port-file | \
		--shared-dir)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--ref | --timeout | -e | --env | --deployment-id | --rollback-of | --application | \
		--deployment-group | --deployment-group-id | --host | --ssh | \
		--max-revisions | --max-size | -n | --limit | --secrets-command | \
		--secret-env | --parameter-env | \
		--max-bundle-size | --max-bundle-ratio | --keep | --older-than | \
		--secondary-source | --revision | -v | --variable | --summary | --reason | \
		--listen | --workers | --max-body | --grace | --request-timeout | \
		--public-url | --name | --slots | --labels | --server | --lease | --probe)
		return
		;;
	esac
	if [[ "$cur" == -* ]]; then
		words_opts=$(slipway "$cmd" --help 2>/dev/null | _slipway_words)
		case $cmd in # the commands that use the store take --db
		build | deploy | run | pipeline | history | show | report | prune | serve)
			words_opts="$words_opts --db" ;;
		esac
		COMPREPLY=($(compgen -W "$words_opts --help" -- "$cur"))
		return
	fi
	case $cmd in
	cache)
		if [ "$COMP_CWORD" -eq 2 ]; then
			COMPREPLY=($(compgen -W "ls prune clear" -- "$cur"))
			return
		fi
		;;
	lb)
		if [ "$COMP_CWORD" -eq 2 ]; then
			COMPREPLY=($(compgen -W "status stop" -- "$cur"))
		fi
		return
		;;
	deploy)
		# a bundle, or continue|stop and a deployment of ./.slipway
		if [ "$COMP_CWORD" -eq 2 ]; then
			COMPREPLY=($(compgen -W "continue stop" -- "$cur")
				$(compgen -f -- "$cur"))
			return
		elif [ "$COMP_CWORD" -eq 3 ] && [[ "${COMP_WORDS[2]}" == @(continue|stop) ]]; then
			COMPREPLY=($(compgen -W "$(ls \
				"${SLIPWAY_STATE_DIR:-.slipway}/deployments" 2>/dev/null)" \
				-- "$cur"))
			return
		fi
		;;
	host)
		if [ "$COMP_CWORD" -eq 2 ]; then
			COMPREPLY=($(compgen -W "ls start stop rm exec" -- "$cur"))
		elif [ "$COMP_CWORD" -eq 3 ] || [ "${COMP_WORDS[2]}" != exec ]; then
			# the hosts of ./.slipway (or $SLIPWAY_STATE_DIR)
			COMPREPLY=($(compgen -W "$(ls \
				"${SLIPWAY_STATE_DIR:-.slipway}/hosts" 2>/dev/null)" \
				-- "$cur"))
		else
			COMPREPLY=($(compgen -c -- "$cur"))
		fi
		return
		;;
	pipeline)
		if [ "$COMP_CWORD" -eq 2 ]; then
			COMPREPLY=($(compgen -W "start approve reject retry stop show ls" \
				-- "$cur"))
		elif [ "$COMP_CWORD" -eq 3 ] && [ "${COMP_WORDS[2]}" != start ] &&
			[ "${COMP_WORDS[2]}" != ls ]; then
			# the executions of ./.slipway (or $SLIPWAY_STATE_DIR)
			COMPREPLY=($(compgen -W "$(ls \
				"${SLIPWAY_STATE_DIR:-.slipway}/executions" 2>/dev/null)" \
				-- "$cur"))
		else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		return
		;;
	report)
		# a pipeline execution of ./.slipway (or $SLIPWAY_STATE_DIR)
		if [ "$COMP_CWORD" -eq 2 ] && [[ "$cur" == pe-* ]]; then
			COMPREPLY=($(compgen -W "$(ls \
				"${SLIPWAY_STATE_DIR:-.slipway}/executions" 2>/dev/null)" \
				-- "$cur"))
		elif [ "$COMP_CWORD" -eq 2 ]; then
			COMPREPLY=($(compgen -W "$(_slipway_ids)" -- "$cur"))
		fi
		return
		;;
	show)
		# ids of ./.slipway (or --state-dir, $SLIPWAY_STATE_DIR); ':'
		# in an id is a word break to bash: complete what follows it
		local ids
		ids=$(_slipway_ids)
		if [[ "$cur" == *:* && "$COMP_WORDBREAKS" == *:* ]]; then
			COMPREPLY=($(compgen -W "$ids" -- "$cur" |
				sed "s/^${cur%:*}://"))
		else
			COMPREPLY=($(compgen -W "$ids" -- "$cur"))
		fi
		return
		;;
	help)
		COMPREPLY=($(compgen -W "$(slipway --help 2>/dev/null |
			sed -n 's/^  \([a-z][a-z]*\)  .*/\1/p')" -- "$cur"))
		return
		;;
	history | plan)
		return
		;;
	esac
	COMPREPLY=($(compgen -f -- "$cur"))
}

complete -o filenames -F _slipway slipway
