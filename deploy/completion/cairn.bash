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

    local global="--coordinator-cert --coordinator-policy --era-config --insecure -i --nonce --namespace -n
                  --accepted-tcb-statuses --accepted-advisories --save-sgx-quote --help -h"
    # Flags whose value is a file, and flags whose value is something else.
    local file_flags="--coordinator-cert --coordinator-policy --era-config --save-sgx-quote -o --output -r --recoverydata -c --cert
                      -k --key --coordinator-pub-key -p --policy --root --crl --tcb-info --qe-identity --ak --pcrs
                      --eventlog --ccel-table --nonce-file --pkcs11-config --uki --linux --osrel --cmdline --initrd
                      --splash --dtb --uname --pcrpkey --ak-root --pcr-signature"
    local value_flags="--nonce --accepted-tcb-statuses --accepted-advisories --from-pem --package -t --type --time
                       --report-data --namespace -n --pkcs11-key-id --pkcs11-key-label --pkcs11-cert-id --pkcs11-cert-label
                       --bank --phase"
    local p11="--pkcs11-config --pkcs11-key-id --pkcs11-key-label"
    local p11u="$p11 --pkcs11-cert-id --pkcs11-cert-label"
    local first=${words[1]}
    for ((i = 1; i < cword; i++)); do case ${words[i]} in -*) ;; *) first=${words[i]}; break ;; esac; done
    if [[ " $file_flags " == *" $prev "* ]] || { [[ $first == recover-with-signature ]] && [[ $prev == -s || $prev == --signature ]]; } \
        || { [[ $first == evidence ]] && [[ $prev == --signature ]]; }; then
        COMPREPLY=($(compgen -f -- "$cur"))
        return
    fi
    if [[ " $value_flags " == *" $prev "* ]]; then
        [[ $prev == -t || $prev == --type ]] && COMPREPLY=($(compgen -W "sgx tdx snp tpm" -- "$cur"))
        [[ $prev == --bank ]] && COMPREPLY=($(compgen -W "sha1 sha256 sha384 sha512" -- "$cur"))
        [[ $prev == --phase ]] && COMPREPLY=($(compgen -W "enter-initrd enter-initrd:leave-initrd
            enter-initrd:leave-initrd:sysinit enter-initrd:leave-initrd:sysinit:ready" -- "$cur"))
        return
    fi

    # The command path typed so far (words that are not flags or their values).
    local path="" i w skip=0
    for ((i = 1; i < cword; i++)); do
        w=${words[i]}
        if ((skip)); then skip=0; continue; fi
        if [[ $w == -* ]]; then
            [[ " $file_flags $value_flags " == *" ${w%%=*} "* && $w != *=* ]] && skip=1
            continue
        fi
        path="$path $w"
    done
    path=${path# }

    local subs="" flags=""
    case $path in
        "") subs="status manifest certificate secret recover recover-with-signature package-info evidence tpm version help" ;;
        manifest) subs="set get verify signature log update" ;;
        "manifest update") subs="apply acknowledge cancel get" ;;
        certificate) subs="root intermediate chain" ;;
        secret) subs="set get" ;;
        evidence) subs="verify eventlog" ;;
        tpm) subs="predict" ;;
        recover-with-signature) subs="public-key encrypt-secret sign-secret" ;;
        "manifest set"*) flags="--recoverydata -r" ;;
        "manifest get"*) flags="--signature -s --display-update -u --output -o --keep-cert" ;;
        "manifest log"*) flags="--output -o" ;;
        "manifest update get"*) flags="--missing --output -o" ;;
        "manifest update"*) flags="--cert -c --key -k --recoverydata -r $p11u" ;;
        "certificate "*) flags="--output -o" ;;
        "secret set"*) flags="--cert -c --key -k --from-pem $p11u" ;;
        "secret get"*) flags="--cert -c --key -k --output -o $p11u" ;;
        "recover-with-signature"*) flags="--signature -s --key -k --coordinator-pub-key --output -o $p11" ;;
        recover*) flags="--key -k $p11" ;;
        package-info*) flags="--json" ;;
        "evidence verify"*) flags="--type -t --time --report-data --nonce-file --policy -p --package --cert --root
                                   --crl --tcb-info --qe-identity --require-collateral --ak --signature --pcrs
                                   --eventlog --ccel-table" ;;
        "evidence eventlog"*) flags="--ccel --tcg --ccel-table" ;;
        "tpm predict"*) flags="--uki --linux --osrel --cmdline --initrd --splash --dtb --uname --pcrpkey --bank --phase
                               --json -j --pin-pcrpkey --ak-root" ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$flags $global" -- "$cur"))
    elif [ -n "$subs" ]; then
        COMPREPLY=($(compgen -W "$subs" -- "$cur"))
    else
        # Manifests, secrets, .sig files, evidence and enclave binaries, or an address.
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
complete -F _cairn cairn
