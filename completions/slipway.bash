# bash completion for slipway. Installed by `make install` as
# $(PREFIX)/share/bash-completion/completions/slipway; or source it.
#
# Commands come from `slipway --help`, options from `slipway CMD --help`,
# so the completion follows the program. Values: files for FILE and DIR
# options and for SOURCE and BUNDLE, the known words for the options that
# take one.

_slipway_words() { # the options in a --help text
	sed -n 's/^ *\(-[a-zA-Z], \)\{0,1\}\(--[a-z][a-z-]*\).*/\2/p'
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
			sed -n 's/^  \([a-z][a-z]*\)  .*/\1/p') --help --version" \
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
	--root | --state-dir | --deployment-root | -o | --artifacts)
		COMPREPLY=($(compgen -d -- "$cur"))
		return
		;;
	--group | --env-file | --secrets-file | --report | --html | -b | \
		--buildspec)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--ref | --timeout | -e | --env | --deployment-id | --application | \
		--deployment-group | --deployment-group-id | --host | --ssh | \
		--max-revisions | --max-size | -n | --limit | --secrets-command | \
		--secret-env | --parameter-env | \
		--max-bundle-size | --max-bundle-ratio | --keep | --older-than | \
		--secondary-source | --revision | -v | --variable | --summary | --reason | \
		--probe)
		return
		;;
	esac
	if [[ "$cur" == -* ]]; then
		words_opts=$(slipway "$cmd" --help 2>/dev/null | _slipway_words)
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
		fi
		return
		;;
	history | show | plan)
		return
		;;
	esac
	COMPREPLY=($(compgen -f -- "$cur"))
}

complete -o filenames -F _slipway slipway
