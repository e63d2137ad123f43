# fish completion for slipway. Installed by `make install` as
# $(PREFIX)/share/fish/vendor_completions.d/slipway.fish; or copy it to
# ~/.config/fish/completions/.
#
# As the bash completion does: commands from `slipway --help`, options
# from `slipway CMD --help`, ids (for show and report) and projects from
# `slipway history --json`, hosts and executions from the state directory.

function __slipway_state
    set -l words (commandline -opc)
    for i in (seq (count $words))
        if test "$words[$i]" = --state-dir; and test $i -lt (count $words)
            echo $words[(math $i + 1)]
            return
        end
    end
    if set -q SLIPWAY_STATE_DIR
        echo $SLIPWAY_STATE_DIR
    else
        echo .slipway
    end
end

function __slipway_commands
    slipway --help 2>/dev/null | sed -n 's/^  \([a-z][a-z]*\)  .*/\1/p'
    echo help
end

function __slipway_cmd
    set -l words (commandline -opc)
    test (count $words) -ge 2; and echo $words[2]
end

function __slipway_options
    set -l cmd (__slipway_cmd)
    slipway $cmd --help 2>/dev/null |
        sed -n 's/^ *\(-[a-zA-Z], \)\{0,1\}\(--[a-z][a-z-]*\).*/\2/p'
end

function __slipway_ids
    slipway history --json --state-dir (__slipway_state) 2>/dev/null |
        awk -F'"' '$2 == "id" { print $4 } $2 == "project" { p = $4 }
            $2 == "number" { n = $3; gsub(/[^0-9]/, "", n); print p "#" n }'
end

function __slipway_projects
    slipway history --json --state-dir (__slipway_state) 2>/dev/null |
        awk -F'"' '$2 == "project" { sub(/\/.*/, "", $4); print $4 }' | sort -u
end

function __slipway_entries -a sub
    ls (__slipway_state)/$sub 2>/dev/null
end

# true when the command line holds only "slipway" and the word at hand
function __slipway_needs_command
    test (count (commandline -opc)) -eq 1
end

function __slipway_using -a name
    set -l c (__slipway_cmd)
    test "$c" = "$name"
end

function __slipway_arg_index -a n # the word at hand is argument n (1 = command)
    test (count (commandline -opc)) -eq $n
end

complete -c slipway -f
complete -c slipway -n __slipway_needs_command -a '(__slipway_commands)'
complete -c slipway -n 'not __slipway_needs_command; and string match -q -- "-*" (commandline -ct)' -a '(__slipway_options)'
complete -c slipway -n '__slipway_using help; and __slipway_arg_index 2' -a '(__slipway_commands)'
complete -c slipway -n '__slipway_using show; and __slipway_arg_index 2' -a '(__slipway_ids)'
complete -c slipway -n '__slipway_using report; and __slipway_arg_index 2' -a '(__slipway_ids)'
complete -c slipway -n '__slipway_using cache; and __slipway_arg_index 2' -a 'ls prune clear'
complete -c slipway -n '__slipway_using host; and __slipway_arg_index 2' -a 'ls start stop rm exec'
complete -c slipway -n '__slipway_using host; and not __slipway_arg_index 2' -a '(__slipway_entries hosts)'
complete -c slipway -n '__slipway_using pipeline; and __slipway_arg_index 2' -a 'start approve reject retry stop show ls'
complete -c slipway -n '__slipway_using deploy; and __slipway_arg_index 2' -a 'continue stop'
complete -c slipway -n '__slipway_using deploy; and __slipway_arg_index 3; and contains -- (commandline -opc)[3] continue stop' -a '(__slipway_entries deployments)'
complete -c slipway -n '__slipway_using pipeline; and __slipway_arg_index 3' -a '(__slipway_entries executions)'
complete -c slipway -n '__slipway_using history' -l project -x -a '(__slipway_projects)'
complete -c slipway -n '__slipway_using history' -l status -x -a 'SUCCEEDED FAILED FAULT TIMED_OUT STOPPED IN_PROGRESS Succeeded Failed Stopped InProgress Ready'
complete -c slipway -l state-dir -x -a '(__fish_complete_directories)'
complete -c slipway -n 'contains -- (__slipway_cmd) build deploy run pipeline history show report prune serve worker' -l db -x -d 'the store: sqlite:PATH or postgres://...'
complete -c slipway -l shell -x -a 'sh bash'
complete -c slipway -l packaging -x -a 'zip tar.gz tar.zst none'
complete -c slipway -l isolation -x -a 'dir sandbox auto'
complete -c slipway -l file-exists-behavior -x -a 'DISALLOW OVERWRITE RETAIN'
complete -c slipway -n '__slipway_using build; or __slipway_using deploy; or __slipway_using run; or __slipway_using validate; or __slipway_using plan' -F
