#!/bin/sh
# `conda` of the continuumio/miniconda3 stand-in (conda.Dockerfile): NOT conda. It imitates the
# layout conda leaves (env prefixes with their own python, a pkgs/ cache that `conda clean`
# removes) for the subcommands the fixtures use; packages come from PyPI through the env's pip.
set -eu
BASE=/opt/conda
sub=${1:-}
[ $# -gt 0 ] && shift

target=$BASE
pkgs=""
while [ $# -gt 0 ]; do
    case "$1" in
        -y|--yes|-q|--quiet|--no-capture-output) ;;
        -c|--channel) shift ;;
        -n|--name) shift; [ "$1" = base ] && target=$BASE || target=$BASE/envs/$1 ;;
        -p|--prefix) shift; target=$1 ;;
        -a|-afy|-ay|-ya|-fy|-f|--all|--force-pkgs-dirs) ;;
        -*) echo "conda stand-in: option $1 not imitated" >&2; exit 2 ;;
        *) pkgs="$pkgs $1" ;;
    esac
    shift
done

pip_specs() {  # conda specs (numpy=1.26, python=3.11) as pip requirements; python itself is the env's
    for spec in $pkgs; do
        name=${spec%%[=<>]*}
        [ "$name" = python ] && continue
        version=${spec#"$name"}
        version=${version#=}
        case "$version" in
            "") echo "$name" ;;
            =*|\<*|\>*) echo "$name$version" ;;
            *) echo "$name==$version.*" ;;
        esac
    done
}

install() {
    specs=$(pip_specs)
    [ -n "$specs" ] || return 0
    mkdir -p "$BASE/pkgs"
    # shellcheck disable=SC2086  # one word per spec
    "$target/bin/python" -m pip download -q -d "$BASE/pkgs" $specs
    # shellcheck disable=SC2086
    "$target/bin/python" -m pip install -q --no-index --find-links "$BASE/pkgs" $specs
}

case "$sub" in
    install) install ;;
    create)
        [ "$target" != "$BASE" ] || { echo "conda stand-in: create needs -n or -p" >&2; exit 2; }
        mkdir -p "$target/bin" "$target/lib" "$target/conda-meta"
        cp -a "$BASE/bin/python3.11" "$BASE/bin/python3" "$BASE/bin/python" "$BASE/bin/pip" "$target/bin/"
        cp -a "$BASE/lib/." "$target/lib/"
        sed -i "1s|^#!$BASE/bin/python.*|#!$target/bin/python|" "$target/bin/pip"
        install ;;
    clean) rm -rf "${BASE:?}/pkgs" ;;
    *) echo "conda stand-in: \`conda $sub\` is not imitated" >&2; exit 2 ;;
esac
