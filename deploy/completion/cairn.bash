# bash completion for the cairn CLI. Install:
#   cp deploy/completion/cairn.bash /etc/bash_completion.d/cairn   (or source it)
_cairn() {
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion || return
    else
        COMPREPLY=()
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi

    local global="--coordinator-cert --coordinator-policy --era-config --insecure -i --nonce --accepted-tcb-statuses --accepted-advisories --help -h"
    # Flags that take a file argument: complete file names.
    case $prev in
        --coordinator-cert|--coordinator-policy|--era-config|-o|--output|-r|--recoverydata)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --nonce|--accepted-tcb-statuses|--accepted-advisories)
            return ;;
    esac

    # The command path typed so far (words that are not flags or their values).
    local path="" i w skip=0
    for ((i = 1; i < cword; i++)); do
        w=${words[i]}
        if ((skip)); then skip=0; continue; fi
        case $w in
            --coordinator-cert|--coordinator-policy|--era-config|--nonce|--accepted-tcb-statuses|--accepted-advisories|-o|--output|-r|--recoverydata) skip=1 ;;
            -*) ;;
            *) path="$path $w" ;;
        esac
    done
    path=${path# }

    local subs="" flags=""
    case $path in
        "") subs="status manifest certificate package-info version help" ;;
        manifest) subs="set get verify signature log" ;;
        certificate) subs="root intermediate chain" ;;
        "manifest set"*) flags="--recoverydata -r" ;;
        "manifest get"*) flags="--signature -s --output -o" ;;
        "manifest log"*) flags="--output -o" ;;
        "certificate "*) flags="--output -o" ;;
        package-info*) flags="--json" ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$flags $global" -- "$cur"))
    elif [ -n "$subs" ]; then
        COMPREPLY=($(compgen -W "$subs" -- "$cur"))
    else
        # Manifests, .sig files and enclave binaries, or an address.
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
complete -F _cairn cairn
