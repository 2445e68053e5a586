#!/usr/bin/env bash
# Regenerates the demo's sample videos (160x120, 25 fps, H.264, a few seconds, tens of KB each) with the
# ffmpeg CLI's synthetic sources. The committed files are what the demo reads; encoders of other FFmpeg
# versions give other bytes, which changes nothing the demo asserts.
set -euo pipefail
cd "$(dirname "$0")"
enc=(-c:v libx264 -preset veryslow -crf 32 -pix_fmt yuv420p)
q=(-hide_banner -loglevel error -y -f lavfi)
ffmpeg "${q[@]}" -i "testsrc2=size=160x120:rate=25:duration=4" "${enc[@]}" -g 50 -bf 2 test_pattern.mp4
ffmpeg "${q[@]}" -i "mandelbrot=size=160x120:rate=25:end_pts=200" -t 3 "${enc[@]}" fractal_zoom.mp4
ffmpeg "${q[@]}" -i "life=size=160x120:rate=25:mold=10:ratio=0.1:death_color=#C83232:life_color=#00ff00" \
  -t 3 "${enc[@]}" game_of_life.mp4
# Tagged bt709 limited range, so the demo's colour column shows a tag other than the untagged default.
ffmpeg "${q[@]}" -i "gradients=size=160x120:rate=25:duration=3:speed=0.05,scale=out_color_matrix=bt709:out_range=tv,format=yuv420p" \
  "${enc[@]}" -colorspace bt709 -color_primaries bt709 -color_trc bt709 -color_range tv gradient_bt709.mp4
