#!/usr/bin/env bash
# Builds the Python package into a fresh virtual environment and runs its pytest suite.
#
#   crates/viclip-py/ci.sh            # from anywhere; .ci/run calls it
#
# Environment: PYTHON (default python3), VICLIP_PY_PROFILE (cargo profile of the extension, default
# `dev`: dependencies are optimised in it too, and it shares the compiled crates of `cargo test`;
# `release` for a wheel as users get it), CARGO_TARGET_DIR (reused when set). Needs what
# scripts/setup-debian.sh installs (python3-venv, python3-dev, FFmpeg's dev libraries, ffmpeg).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
profile="${VICLIP_PY_PROFILE:-dev}"
venv="$(mktemp -d "${TMPDIR:-/tmp}/viclip-py-ci.XXXXXX")"
trap 'rm -rf "$venv"' EXIT

start=$(date +%s)
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
# The build backend (maturin) comes from PyPI through the package's pyproject.toml.
"$venv/bin/pip" install --quiet numpy pytest pillow   # pillow: the PIL-image inputs test
"$venv/bin/pip" install --quiet "$here" --config-settings=build-args="--profile $profile"
# The Rust API's side of tests/test_parity.py.
(cd "$here" && cargo build --quiet --profile "$profile" -p viclip-py --example rust_api)
built=$(date +%s)
echo "viclip-py: built and installed in $((built - start)) s (profile $profile)"

target="${CARGO_TARGET_DIR:-$(cd "$here/../.." && pwd)/target}"
dir="$profile"; [ "$profile" = dev ] && dir=debug
export VICLIP_RUST_API="$target/$dir/examples/rust_api"

# Run from the tests' folder so `import viclip` is the installed package, not the source tree.
cd "$here/tests"
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
echo "viclip-py: tests took $(($(date +%s) - built)) s"
