"""embed_texts of 256 captions and embed_videos of 8 clips through Python (`import viclip`) and
through the Rust API (examples/rust_api.rs), side by side in one run, on one model with random
weights at a released model's shapes (examples/random_checkpoint.rs), on the CPU.

    python bench/bench_python.py [--config viclip-b16] [--rounds 3] [--repeat 3]

Build both sides in the same cargo profile first (the example binary path is printed; set
VICLIP_RUST_API to choose it). Each round runs the Rust side then the Python side, `repeat` calls
each after an untimed first one, median per side; the table gives the median over rounds and
Python's difference.
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

import viclip

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="viclip-b16")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", default="release", help="the cargo profile folder of the example")
    args = ap.parse_args()
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    exe = Path(os.environ.get("VICLIP_RUST_API", target / args.profile / "examples" / "rust_api"))
    maker = exe.with_name("random_checkpoint")
    work = Path(tempfile.mkdtemp(prefix="viclip-bench-"))
    weights = work / f"{args.config}.safetensors"
    subprocess.run([str(maker), args.config, str(weights)], check=True)

    model = viclip.ViClip.from_files(weights, args.config)
    rng = np.random.default_rng(0)
    words = "a dog cat man woman plays runs cooks in the snow kitchen park at night with red ball".split()
    captions = [" ".join(rng.choice(words, size=12)) for _ in range(256)]
    s = model.input_size
    videos = rng.standard_normal((8, model.num_frames, 3, s, s), dtype=np.float32)
    (work / "captions.json").write_text(json.dumps(captions))
    np.save(work / "videos.npy", videos)

    def py_side():
        out = {}
        for name, call in (("embed_texts_s", lambda: model.embed_texts(captions)),
                           ("embed_videos_s", lambda: model.embed_videos(videos))):
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                call()
                times.append(time.perf_counter() - t)
            out[name] = statistics.median(times)
        return out

    # Untimed first calls, as the Rust side makes in each run.
    model.embed_texts(captions)
    model.embed_videos(videos)
    rust, py = [], []
    for _ in range(args.rounds):
        r = subprocess.run([str(exe), str(weights), args.config, str(work / "captions.json"),
                            str(work / "videos.npy"), str(work), str(args.repeat)],
                           check=True, capture_output=True, text=True)
        rust.append(json.loads(r.stdout))
        py.append(py_side())
    print(f"model {args.config} (random weights), CPU, {os.cpu_count()} cores, "
          f"{args.rounds} rounds x {args.repeat} calls, medians")
    print(f"{'call':<28}{'Rust API':>12}{'Python':>12}{'Python vs Rust':>16}")
    for key, label in (("embed_texts_s", "embed_texts (256 captions)"), ("embed_videos_s", "embed_videos (8 clips)")):
        r = statistics.median(x[key] for x in rust)
        p = statistics.median(x[key] for x in py)
        print(f"{label:<28}{r:>11.3f}s{p:>11.3f}s{100 * (p - r) / r:>+15.1f}%")
    for f in work.iterdir():
        f.unlink()
    work.rmdir()


if __name__ == "__main__":
    main()
