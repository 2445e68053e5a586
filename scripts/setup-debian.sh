#!/usr/bin/env bash
# Installs the system packages viclip builds against on Debian/Ubuntu: FFmpeg's libraries and headers
# for the default `video` feature (ffmpeg-next), pkg-config and clang for its bindings, and the ffmpeg
# CLI that the tests use to generate videos; Slurm (slurmctld, slurmd, clients) and munge, which the
# job-array test (crates/viclip-cli/tests/it/slurm_array.rs) starts by itself as root (no daemon runs after install);
# chromium, the headless browser of the `viclip view` page test (crates/viclip-cli/tests/it/view/);
# python3-venv and python3-dev for the Python package (`pip install ./crates/viclip-py`, crates/viclip-py/ci.sh).
# Idempotent: does nothing when everything is present.
set -euo pipefail
pkgs=(ffmpeg libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
      libavfilter-dev libavdevice-dev pkg-config libclang-dev clang
      slurm-wlm munge chromium python3-venv python3-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: system packages present"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
