#!/usr/bin/env bash
# Create .venv in this checkout and install requirements.txt into it. Safe to run again.
#   ./setup.sh [--dev]          install (--dev adds the test tools)
#   source ./setup.sh [--dev]   the same, and leaves the venv active in your shell
# Set PYTHON to choose the interpreter (default: python3, 3.9 or newer).

_cnnbench_setup() {
    local dev=0 arg
    for arg in "$@"; do
        case "$arg" in
            --dev) dev=1 ;;
            -h|--help) sed -n '2,5p' "${BASH_SOURCE[0]}"; return 0 ;;
            *) echo "setup.sh: unknown option '$arg' (expected --dev)" >&2; return 2 ;;
        esac
    done
    local root python venv
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)" || return 1
    python="${PYTHON:-python3}"
    venv="$root/.venv"
    if ! command -v "$python" >/dev/null 2>&1; then
        echo "setup.sh: '$python' not found; install Python 3.9+ or set PYTHON" >&2
        return 1
    fi
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))'; then
        echo "setup.sh: $("$python" --version 2>&1) is too old; Python 3.9+ is needed" >&2
        return 1
    fi
    if [ ! -x "$venv/bin/python" ]; then
        echo "Creating $venv"
        "$python" -m venv "$venv" || { echo "setup.sh: could not create $venv (is python3-venv installed?)" >&2; return 1; }
    fi
    local requirements="$root/requirements.txt"
    [ "$dev" = 1 ] && requirements="$root/requirements-dev.txt"
    echo "Installing $(basename "$requirements") into $venv"
    "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$requirements" \
        || { echo "setup.sh: pip install failed (see above)" >&2; return 1; }
    "$venv/bin/python" -c 'import torch, torchvision; print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, CUDA available: {torch.cuda.is_available()}")' \
        || { echo "setup.sh: torch does not import in $venv" >&2; return 1; }
    echo "Ready: $venv/bin/python alexnet/alexnet_benchmark.py"
}

if (return 0 2>/dev/null); then
    # Sourced: never exit the caller's shell; activate the venv on success; pass the status back.
    _cnnbench_done() { local status=$1; unset -f _cnnbench_setup _cnnbench_done; return "$status"; }
    _cnnbench_setup "$@" && . "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/.venv/bin/activate"
    _cnnbench_done $?
    return $?
else
    _cnnbench_setup "$@"
    exit $?
fi
