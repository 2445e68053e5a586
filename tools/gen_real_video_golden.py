#!/usr/bin/env python3
"""Reference outputs for `crates/viclip-cli/tests/it/real_video.rs`: how the two original pipelines read real-looking videos.

Videos are generated with the ffmpeg CLI from fixed lavfi sources with single-threaded, bitexact encoders
(the same argument lists are stored in the manifest and replayed by the test, which checks the SHA-256 of
every file it makes, so an encoder that drifts is reported as such instead of as a decoding error).

For each video two readers run, as the original code calls them:

* demo (`cv2.VideoCapture` + `frames2tensor`): every frame `cap.read()` returns (BGR -> RGB), then
  `frames[::n // T][:T]`, then `cv2.resize(frame, (S, S))` (INTER_LINEAR);
* evaluation (decord `VideoReader` + "middle" sampling + torchvision `Resize((S, S), BICUBIC)` without
  antialias): `get_batch(indices)` RGB, resized here with a NumPy float32 re-implementation of PyTorch's
  CPU `upsample_bicubic2d` (A = -0.75, align_corners=False, rows then columns), clamp, round half to even.

Stored: `manifest.json` (arguments, hashes, frame counts, sampled indices, native sizes and the SHA-256 of
each sampled native RGB frame per reader) and `frames.safetensors.gz` (the resized uint8 frames,
`{name}.demo` and `{name}.eval`, `(T, S, S, 3)`).

  python3 -m venv /tmp/refvenv
  /tmp/refvenv/bin/pip install opencv-python-headless==5.0.0.93 decord==0.6.0 numpy
  /tmp/refvenv/bin/python tools/gen_real_video_golden.py tests/fixtures/real_video
"""
import gzip
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile

import cv2
import decord
import numpy as np

T, S = 8, 112

# Single-threaded, bitexact encodes: the bytes depend only on the encoder versions.
BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1", "-threads", "1"]
X264 = ["-c:v", "libx264", "-preset", "veryfast", "-x264-params", "threads=1"]
X265 = ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "pools=1:frame-threads=1:log-level=none"]


def src(size, rate, frames, kind="testsrc2"):
    return ["-f", "lavfi", "-i", f"{kind}=size={size}:rate={rate}", "-frames:v", str(frames)]


def bt(tag):
    return ["-colorspace", tag, "-color_primaries", tag if tag != "smpte170m" else "smpte170m",
            "-color_trc", tag if tag != "smpte170m" else "smpte170m"]


# name -> (file name, ffmpeg argument lists run in order; `{out}`, `{tmp}`, `{tmp2}` are replaced, patch or
# None)
VIDEOS = {
    "h264_bt709_720p": ("a.mp4", [src("1280x720", 30, 16) + X264 + ["-bf", "3", "-pix_fmt", "yuv420p"]
                                  + bt("bt709") + ["-color_range", "tv"] + BITEXACT + ["{out}"]], None),
    # Untagged HD: FFmpeg's default matrix (BT.601) whatever the size.
    "h264_untagged_720p": ("a.mp4", [src("1280x720", 30, 8) + X264 + ["-pix_fmt", "yuv420p"] + BITEXACT
                                     + ["{out}"]], None),
    "h264_untagged": ("a.mp4", [src("320x240", 25, 20) + X264 + ["-pix_fmt", "yuv420p"] + BITEXACT + ["{out}"]], None),
    "h264_bt601": ("a.mp4", [src("320x240", 25, 12) + X264 + ["-pix_fmt", "yuv420p"] + bt("smpte170m")
                             + BITEXACT + ["{out}"]], None),
    # The other matrices swscale knows, tagged on 8-bit H.264.
    "h264_bt2020": ("a.mp4", [src("320x240", 25, 8) + X264 + ["-pix_fmt", "yuv420p", "-colorspace", "bt2020nc"]
                              + BITEXACT + ["{out}"]], None),
    "h264_smpte240m": ("a.mp4", [src("320x240", 25, 8) + X264 + ["-pix_fmt", "yuv420p", "-colorspace",
                                                                  "smpte240m"] + BITEXACT + ["{out}"]], None),
    "h264_fcc": ("a.mp4", [src("320x240", 25, 8) + X264 + ["-pix_fmt", "yuv420p", "-colorspace", "fcc"]
                           + BITEXACT + ["{out}"]], None),
    "h264_full_range": ("a.mp4", [src("320x240", 25, 12) + X264 + ["-pix_fmt", "yuvj420p"] + BITEXACT
                                  + ["{out}"]], None),
    "h264_bt709_full_range": ("a.mp4", [src("320x240", 25, 12) + X264 + ["-pix_fmt", "yuv420p", "-color_range",
                                        "pc"] + bt("bt709") + BITEXACT + ["{out}"]], None),
    "rot90": ("a.mp4", [src("320x180", 10, 10) + X264 + ["-pix_fmt", "yuv420p"] + BITEXACT + ["{out}"]], "rot90"),
    "rot180": ("a.mp4", [src("320x180", 10, 10) + X264 + ["-pix_fmt", "yuv420p"] + BITEXACT + ["{out}"]], "rot180"),
    "rot270_bt709": ("a.mp4", [src("320x180", 10, 10) + X264 + ["-pix_fmt", "yuv420p"] + bt("bt709") + BITEXACT
                               + ["{out}"]], "rot270"),
    "hflip": ("a.mp4", [src("320x180", 10, 10) + X264 + ["-pix_fmt", "yuv420p"] + BITEXACT + ["{out}"]], "hflip"),
    "vfr": ("a.mkv", [src("320x240", 10, 20) + ["-vf", "setpts=if(lt(N\\,8)\\,N*0.05\\,0.4+(N-8)*0.2)/TB",
                                                "-fps_mode", "vfr"] + X264 + ["-pix_fmt", "yuv420p"] + BITEXACT
                      + ["{out}"]], None),
    "sar_720x480": ("a.mp4", [src("720x480", 30, 10) + ["-vf", "setsar=32/27"] + X264 + ["-pix_fmt", "yuv420p"]
                              + BITEXACT + ["{out}"]], None),
    "hevc_8bit": ("a.mp4", [src("320x240", 25, 12) + X265 + ["-pix_fmt", "yuv420p", "-tag:v", "hvc1"] + BITEXACT
                            + ["{out}"]], None),
    "hevc_10bit": ("a.mp4", [src("320x240", 25, 12) + X265 + ["-pix_fmt", "yuv420p10le", "-tag:v", "hvc1"]
                             + bt("bt709") + BITEXACT + ["{out}"]], None),
    "h264_high10": ("a.mp4", [src("320x240", 25, 12) + X264 + ["-pix_fmt", "yuv420p10le"] + BITEXACT
                              + ["{out}"]], None),
    # testsrc2 only makes even sizes: crop to an odd one.
    "vp9_odd": ("a.webm", [src("322x184", 25, 12) + ["-vf", "format=rgb24,crop=321:183:0:0", "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used",
                                                      "8", "-b:v", "300k", "-pix_fmt", "yuv420p"] + BITEXACT
                           + ["{out}"]], None),
    # 10-bit VP9 (profile 2): no chroma location in the stream, swscale's default siting in both readers.
    "vp9_10bit": ("a.webm", [src("320x240", 25, 10) + ["-c:v", "libvpx-vp9", "-deadline", "realtime",
                                                        "-cpu-used", "8", "-b:v", "500k", "-pix_fmt",
                                                        "yuv420p10le"] + BITEXACT + ["{out}"]], None),
    "av1": ("a.mp4", [src("320x240", 25, 12) + ["-c:v", "libaom-av1", "-cpu-used", "8", "-b:v", "300k",
                                                 "-row-mt", "0", "-pix_fmt", "yuv420p"] + BITEXACT + ["{out}"]],
            None),
    "mpeg4_avi": ("a.avi", [src("320x240", 25, 12) + ["-c:v", "mpeg4", "-bf", "2", "-q:v", "4"] + BITEXACT
                            + ["{out}"]], None),
    "mjpeg_mov": ("a.mov", [src("320x240", 25, 10) + ["-c:v", "mjpeg", "-q:v", "3", "-pix_fmt", "yuvj420p"]
                            + BITEXACT + ["{out}"]], None),
    # 72 frames in one GOP; the stream copy starting at 0.4 s keeps the GOP from its keyframe and hides the
    # first 12 frames with an edit list.
    "edit_list": ("a.mp4", [src("320x240", 30, 72) + X264 + ["-g", "72", "-bf", "0", "-pix_fmt", "yuv420p"]
                            + BITEXACT + ["{tmp}"],
                            ["-ss", "0.4", "-i", "{tmp}", "-c", "copy"] + BITEXACT + ["{out}"]], None),
    # The colour tags change mid-stream (untagged limited range, then bt709 full range): raw H.264 joined
    # byte for byte, then muxed; every frame is converted with its own tags.
    "tag_change": ("a.mkv", [src("320x240", 25, 10) + X264 + ["-bf", "0", "-pix_fmt", "yuv420p"] + BITEXACT
                             + ["-f", "h264", "{tmp}"],
                             src("320x240", 25, 10) + X264 + ["-bf", "0", "-pix_fmt", "yuv420p"] + bt("bt709")
                             + ["-color_range", "pc"] + BITEXACT + ["-f", "h264", "{tmp2}"],
                             ["-fflags", "+genpts", "-r", "25", "-f", "h264", "-i", "concat:{tmp}|{tmp2}", "-c",
                              "copy"] + BITEXACT + ["{out}"]], None),
    "start_offset": ("a.mkv", [src("320x240", 25, 12) + X264 + ["-pix_fmt", "yuv420p", "-output_ts_offset", "2.5"]
                               + BITEXACT + ["{out}"]], None),
    "frames8": ("a.mp4", [src("160x120", 25, 8) + X264 + ["-pix_fmt", "yuv420p"] + BITEXACT + ["{out}"]], None),
    "frames9": ("a.mp4", [src("160x120", 25, 9) + X264 + ["-pix_fmt", "yuv420p"] + BITEXACT + ["{out}"]], None),
}

# Display matrices written into the mp4 `tkhd` box (9 big-endian 32-bit values, 16.16 / 2.30 fixed point).
ONE, W = 0x10000, 0x40000000
MATRICES = {
    "rot90": [0, ONE, 0, -ONE, 0, 0, 0, 0, W],
    "rot180": [-ONE, 0, 0, 0, -ONE, 0, 0, 0, W],
    "rot270": [0, -ONE, 0, ONE, 0, 0, 0, 0, W],
    "hflip": [-ONE, 0, 0, 0, ONE, 0, 0, 0, W],
}


def patch_tkhd(data, name):
    """The first `tkhd` (version 0) box's matrix sits 44 bytes after its type field."""
    i = data.find(b"tkhd")
    assert i > 0 and data[i + 4] == 0, "expected a version-0 tkhd box"
    return data[: i + 44] + struct.pack(">9i", *MATRICES[name]) + data[i + 80:]


def make(name, d):
    fname, cmds, patch = VIDEOS[name]
    out = os.path.join(d, name + os.path.splitext(fname)[1])
    tmp = os.path.join(d, name + ".tmp" + os.path.splitext(fname)[1])
    tmp2 = os.path.join(d, name + ".tmp2" + os.path.splitext(fname)[1])
    for c in cmds:
        args = [a.replace("{out}", out).replace("{tmp}", tmp).replace("{tmp2}", tmp2) for a in c]
        subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y"] + args, check=True)
    if patch:
        with open(out, "rb") as f:
            data = patch_tkhd(f.read(), patch)
        with open(out, "wb") as f:
            f.write(data)
    return out


def sha(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def middle_indices(n, t):
    """The evaluation code's `get_frame_indices(t, n, sample="middle")`."""
    acc = min(t, n)
    iv = np.linspace(start=0, stop=n, num=acc + 1).astype(int)
    idx = [int((iv[i] + iv[i + 1] - 1) // 2) for i in range(acc)]
    return idx + [idx[-1]] * (t - len(idx))


def cubic_weights(out, inp):
    """PyTorch's bicubic source indices and weights (align_corners=False, A = -0.75), float32."""
    a = np.float32(-0.75)
    scale = np.float32(inp / out)
    x = (np.arange(out, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    x0 = np.floor(x)
    t = (x - x0).astype(np.float32)

    def c1(v):  # |v| <= 1
        return ((a + 2) * v - (a + 3)) * v * v + 1

    def c2(v):  # 1 < |v| < 2
        return ((a * v - 5 * a) * v + 8 * a) * v - 4 * a

    w = np.stack([c2(t + 1), c1(t), c1(1 - t), c2(2 - t)], -1).astype(np.float32)
    idx = np.clip(x0.astype(np.int64)[:, None] + np.arange(-1, 3)[None, :], 0, inp - 1)
    return idx, w


def resize_bicubic(img, s):
    """uint8 (H, W, 3) -> (s, s, 3) as torchvision's tensor path on uint8 without antialias."""
    h, w, _ = img.shape
    src = img.astype(np.float32)
    yi, wy = cubic_weights(s, h)
    xi, wx = cubic_weights(s, w)
    rows = np.zeros((s, 4, s, 3), np.float32)
    for k in range(4):  # interpolate along x for each of the 4 source rows
        acc = np.zeros((s, s, 3), np.float32)
        for j in range(4):
            acc = acc + src[yi[:, k]][:, xi[:, j]] * wx[None, :, j, None]
        rows[:, k] = acc
    out = np.zeros((s, s, 3), np.float32)
    for k in range(4):
        out = out + rows[:, k] * wy[:, k, None, None]
    return np.round(np.clip(out, 0, 255)).astype(np.uint8)


def demo(path):
    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(np.ascontiguousarray(f[:, :, ::-1]))
    n = len(frames)
    if n < T:  # frames2tensor asserts len(frames) >= T
        return None, f"cv2.VideoCapture read {n} frames"
    step = n // T
    idx = list(range(0, n, step))[:T]
    sampled = [frames[i] for i in idx]
    resized = np.stack([cv2.resize(f, (S, S)) for f in sampled])
    return (n, idx, sampled, resized), None


def evaluation(path):
    try:
        vr = decord.VideoReader(path, num_threads=1)
        n = len(vr)
        idx = middle_indices(n, T)
        batch = vr.get_batch(idx).asnumpy()
    except Exception as e:  # noqa: BLE001 (decord raises its own error types)
        msg = str(e).splitlines()[0]
        return None, "decord: " + msg[msg.find("ERROR"):][:120]  # without the log line's time stamp
    return (n, idx, list(batch), np.stack([resize_bicubic(f, S) for f in batch])), None


def write_safetensors_gz(path, tensors):
    header, blobs, off = {}, [], 0
    for k in sorted(tensors):
        b = np.ascontiguousarray(tensors[k]).tobytes()
        header[k] = {"dtype": "U8", "shape": list(tensors[k].shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main(outdir):
    os.makedirs(outdir, exist_ok=True)
    manifest = {"T": T, "S": S, "opencv": cv2.__version__, "decord": decord.__version__, "videos": {}}
    tensors = {}
    with tempfile.TemporaryDirectory() as d:
        for name, (fname, cmds, patch) in VIDEOS.items():
            path = make(name, d)
            with open(path, "rb") as f:
                vid_sha = hashlib.sha256(f.read()).hexdigest()
            entry = {"ext": os.path.splitext(fname)[1], "commands": cmds, "patch": patch, "sha256": vid_sha}
            de, err = demo(path)
            if de is None:
                entry["demo"] = {"error": err}
            else:
                n, idx, sampled, resized = de
                entry["demo"] = {"frames": n, "indices": idx, "size": list(sampled[0].shape[:2]),
                                 "sha256": [sha(f) for f in sampled]}
                tensors[f"{name}.demo"] = resized
            ev, err = evaluation(path)
            if ev is None:
                entry["eval"] = {"error": err}
            else:
                n2, idx2, sampled2, resized2 = ev
                entry["eval"] = {"frames": n2, "indices": idx2, "size": list(sampled2[0].shape[:2]),
                                 "sha256": [sha(f) for f in sampled2]}
                tensors[f"{name}.eval"] = resized2
            manifest["videos"][name] = entry
            print(name, entry["demo"], entry["eval"].get("frames"), entry["eval"].get("error", ""),
                  file=sys.stderr)
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    write_safetensors_gz(os.path.join(outdir, "frames.safetensors.gz"), tensors)


if __name__ == "__main__":
    main(sys.argv[1])
