#!/usr/bin/env bash
# Build CPython 3.13 with profile-guided and link-time optimisation (PGO + LTO), the way
# python.org's, Debian's and uv's interpreters are built, and make a benchmark environment on it.
#
# Why: pyenv builds CPython without PGO or LTO unless told to (PYTHON_CONFIGURE_OPTS), and the
# pyenv 3.13.0 on these machines was built so (with a shared libpython besides). ketasim's agents
# run in the interpreter; Covasim, the speed reference (docs/ODD.md), runs mostly in NumPy. So the
# build changes the ratio between them: docs/performance.md gives the table on both builds.
#
# The source is Debian's copy of the upstream release (the package registry these machines
# reach), checked against the SHA-256 that Debian's source index gives for it. About 30 minutes
# on 2 cores (the PGO training run is single-threaded). Then:
#
#   UV_PROJECT_ENVIRONMENT=.venv-opt uv run --group bench python benchmarks/bench_run.py
#
# Usage: bash benchmarks/build_python.sh [PREFIX]   (default /opt/cpython-3.13.15-pgo)
#
# The default prefix is outside pyenv on purpose: installed under ~/.pyenv/versions it would
# become what the repository's `.python-version` ("3.13") selects, for every command in the
# checkout, CI included.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=3.13.15
SHA256=1e66a7945a48390ee4c2a4268a0e4185884059a13c4aab6d148aa208deea4a76
URL="http://deb.debian.org/debian/pool/main/p/python3.13/python3.13_${VERSION}.orig.tar.xz"
PREFIX="${1:-/opt/cpython-$VERSION-pgo}"
PYTHON="$PREFIX/bin/python3.13"

if [ ! -x "$PYTHON" ]; then
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    echo "downloading CPython $VERSION source from Debian's pool ..." >&2
    curl -sSf -o "$work/src.tar.xz" "$URL"
    echo "$SHA256  $work/src.tar.xz" | sha256sum -c --quiet
    tar -xf "$work/src.tar.xz" -C "$work"
    cd "$work/Python-$VERSION"
    echo "building with PGO and LTO into $PREFIX (about 30 minutes) ..." >&2
    ./configure --prefix="$PREFIX" --enable-optimizations --with-lto=full \
        --with-ensurepip=install >"$work/configure.log" 2>&1 ||
        { tail -20 "$work/configure.log" >&2; exit 1; }
    make -j"$(nproc)" >"$work/make.log" 2>&1 || { tail -40 "$work/make.log" >&2; exit 1; }
    make install >"$work/install.log" 2>&1 || { tail -20 "$work/install.log" >&2; exit 1; }
    cd - >/dev/null
fi

"$PYTHON" -c 'import sysconfig, sys
args = sysconfig.get_config_var("CONFIG_ARGS")
assert "--enable-optimizations" in args and "--with-lto" in args, args
print(sys.version)'
UV_PROJECT_ENVIRONMENT=.venv-opt uv sync --frozen --group bench --python "$PYTHON"
echo "ready: UV_PROJECT_ENVIRONMENT=.venv-opt uv run --group bench python benchmarks/bench_run.py" >&2
