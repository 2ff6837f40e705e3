#!/bin/sh
# `conda` of the continuumio/miniconda3 stand-in (conda.Dockerfile), also `mamba` of the
# condaforge/miniforge3 one (miniforge.Dockerfile) and `micromamba` of the mambaorg/micromamba one
# (micromamba.Dockerfile): NOT conda. It imitates the layout conda leaves (env prefixes with their
# own python, a pkgs/ cache that `clean` removes) for the subcommands the fixtures use; packages
# come from PyPI through the env's pip:
#   install [-y] [-c CH] [-n NAME|-p PREFIX] [-f FILE] PKG[=VER]...  specs as PKG==VER.*, downloaded
#       into pkgs/ (conda's package cache) and installed from there; FILE: an environment.yml or a
#       list of specs
#   create  [-y] -n NAME|-p PREFIX [-f FILE] [python=X] [PKG...]     the base python copied into the
#       new prefix (micromamba's base has none: the stand-in's python "package" is unpacked into pkgs/
#       and copied from there), then as install
#   env create -f environment.yml [-n NAME|-p PREFIX]               create with the file's name and
#       dependencies; its `pip:` list then goes to the env's pip (which keeps its own cache, as there)
#   run [-n NAME|-p PREFIX] [--no-capture-output] CMD...            CMD with the env's bin/ first on PATH
#   clean …                                                         removes pkgs/
# The python of every env is the stand-in's (3.11): a python=X spec is not honoured. Anything else
# exits 2.
set -eu
BASE=${MAMBA_ROOT_PREFIX:-/opt/conda}
PY=python3.11
PYTHON_PKG=/usr/local/share/dockerslim/conda-python.tar.gz  # micromamba stand-in only
me=$(basename "$0")
sub=${1:-}
[ $# -gt 0 ] && shift
if [ "$sub" = env ]; then
    [ "${1:-}" = create ] || { echo "$me stand-in: \`$me env ${1:-}\` is not imitated" >&2; exit 2; }
    shift
    sub=env-create
fi

env_prefix() {  # -n NAME -> its prefix
    if [ "$1" = base ]; then echo "$BASE"; else echo "$BASE/envs/$1"; fi
}

if [ "$sub" = run ]; then
    target=$BASE
    while [ $# -gt 0 ]; do
        case "$1" in
            -n|--name) shift; target=$(env_prefix "$1") ;;
            -p|--prefix) shift; target=$1 ;;
            --no-capture-output|--live-stream|--no-banner|-s) ;;
            --) shift; break ;;
            -*) echo "$me stand-in: run option $1 not imitated" >&2; exit 2 ;;
            *) break ;;
        esac
        shift
    done
    export PATH="$target/bin:$PATH" CONDA_PREFIX="$target"
    exec "$@"
fi
if [ "$sub" = clean ]; then
    rm -rf "${BASE:?}/pkgs"
    exit 0
fi

target=""
pkgs=""
files=""
while [ $# -gt 0 ]; do
    case "$1" in
        -y|--yes|-q|--quiet) ;;
        -c|--channel) shift ;;
        -n|--name) shift; target=$(env_prefix "$1") ;;
        -p|--prefix) shift; target=$1 ;;
        -f|--file) shift; files="$files $1" ;;
        -*) echo "$me stand-in: option $1 not imitated" >&2; exit 2 ;;
        *) pkgs="$pkgs $1" ;;
    esac
    shift
done

PIP_REQS=$(mktemp)
trap 'rm -f "$PIP_REQS"' EXIT
env_file() {  # an environment.yml: "name N" and "conda SPEC" lines, its pip: list into $PIP_REQS
    awk -v reqs="$PIP_REQS" '
        /^[ \t]*(#|$)/ { next }
        /^name:/ { sub(/^name:[ \t]*/, ""); gsub(/["\047]/, ""); print "name " $0; next }
        /^dependencies:/ { deps = 1; next }
        /^[^ \t-]/ { deps = 0 }
        !deps { next }
        /^[ \t]*-[ \t]*pip:[ \t]*$/ { pip = 1; match($0, /^[ \t]*/); pipind = RLENGTH; next }
        /^[ \t]*-/ {
            match($0, /^[ \t]*/); ind = RLENGTH
            s = $0; sub(/^[ \t]*-[ \t]*/, "", s); sub(/[ \t]+#.*$/, "", s); gsub(/["\047]/, "", s)
            if (pip && ind > pipind) { print s > reqs; next }
            pip = 0
            if (s ~ /[=<>!]/) gsub(/[ \t]+/, "", s); else sub(/[ \t]+/, "=", s)
            print "conda " s
        }' "$1"
}
for f in $files; do
    case "$f" in
        *.yml|*.yaml)
            parsed=$(env_file "$f")
            name=$(echo "$parsed" | sed -n 's/^name //p')
            [ -n "$target" ] || [ -z "$name" ] || target=$(env_prefix "$name")
            pkgs="$pkgs $(echo "$parsed" | sed -n 's/^conda //p' | tr '\n' ' ')" ;;
        *) pkgs="$pkgs $(grep -v '^[[:space:]]*#' "$f" | tr '\n' ' ')" ;;
    esac
done

pip_specs() {  # conda specs (numpy=1.26, python=3.11) as pip requirements; python and pip are the env's
    for spec in $pkgs; do
        name=${spec%%[=<>!]*}
        case "$name" in python|pip) continue ;; esac
        version=${spec#"$name"}
        version=${version#=}
        case "$version" in
            "") echo "$name" ;;
            =*|\<*|\>*|!*) echo "$name$version" ;;
            *) echo "$name==$version.*" ;;
        esac
    done
}

new_python() {  # the env's python: the base's copied, or (micromamba: no base python) the python "package"
    mkdir -p "$1"
    if [ -x "$BASE/bin/$PY" ] && [ "$1" != "$BASE" ]; then
        mkdir -p "$1/bin" "$1/conda-meta"
        cp -a "$BASE/bin/$PY" "$BASE/bin/python3" "$BASE/bin/python" "$BASE/bin/pip" "$1/bin/"
        cp -a "$BASE/lib" "$BASE/conda-meta/python.json" "$1/"
    elif [ -f "$PYTHON_PKG" ]; then
        mkdir -p "$BASE/pkgs/python-3.11-dockerslim"
        tar -xzf "$PYTHON_PKG" -C "$BASE/pkgs/python-3.11-dockerslim"
        cp -a "$BASE/pkgs/python-3.11-dockerslim/." "$1/"
    else
        echo "$me stand-in: no python to put into $1" >&2; exit 2
    fi
    for f in "$1"/bin/pip*; do sed -i "1s|^#!.*python.*|#!$1/bin/python|" "$f"; done
}

install() {
    [ -x "$target/bin/$PY" ] || new_python "$target"
    specs=$(pip_specs)
    if [ -n "$specs" ]; then
        mkdir -p "$BASE/pkgs"
        # shellcheck disable=SC2086  # one word per spec
        "$target/bin/python" -m pip download -q --no-cache-dir -d "$BASE/pkgs" $specs
        # shellcheck disable=SC2086
        "$target/bin/python" -m pip install -q --no-index --find-links "$BASE/pkgs" $specs
    fi
    if [ -s "$PIP_REQS" ]; then
        "$target/bin/python" -m pip install -q -r "$PIP_REQS"
    fi
}

case "$sub" in
    install) [ -n "$target" ] || target=$BASE; install ;;
    create|env-create)
        [ -n "$target" ] && [ "$target" != "$BASE" ] || { echo "$me stand-in: $sub needs -n or -p" >&2; exit 2; }
        new_python "$target"
        install ;;
    *) echo "$me stand-in: \`$me $sub\` is not imitated" >&2; exit 2 ;;
esac
