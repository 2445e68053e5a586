"""embed_texts of 256 captions and embed_videos of 8 clips through Python (`import viclip`),
through the Rust API (examples/rust_api.rs) and, with --pytorch, through plain PyTorch
(benches/compare_pytorch.py's forward: torch.nn.functional with SDPA attention), side by side in one
run, on one model with random weights at a released model's shapes (examples/random_checkpoint.rs),
on the CPU.

    python bench/bench_python.py [--config viclip-b16] [--rounds 3] [--repeat 3] [--pytorch]

Build both Rust sides in the same cargo profile first (the example binary path is printed; set
VICLIP_RUST_API to choose it). Each round runs the Rust side, then the Python side, then PyTorch,
`repeat` calls each after an untimed first one, median per side; the table gives the median over
rounds. PyTorch gets the token ids from `viclip.ViClip.tokenize` (it has no tokenizer of its own
here), so its text time leaves tokenization out; it uses as many threads as the machine has cores,
as rayon does.
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
    ap.add_argument("--pytorch", action="store_true", help="also time plain PyTorch (needs torch)")
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

    torch_side = pytorch_side(weights, args.config, model.tokenize(captions), videos, args.repeat) if args.pytorch else None

    # Untimed first calls, as the Rust side makes in each run.
    want_t, want_v = model.embed_texts(captions), model.embed_videos(videos)
    if torch_side:
        agreement = torch_side(want_t, want_v)
    rust, py, pt = [], [], []
    for _ in range(args.rounds):
        r = subprocess.run([str(exe), str(weights), args.config, str(work / "captions.json"),
                            str(work / "videos.npy"), str(work), str(args.repeat)],
                           check=True, capture_output=True, text=True)
        rust.append(json.loads(r.stdout))
        py.append(py_side())
        if torch_side:
            pt.append(torch_side())
    print(f"model {args.config} (random weights), CPU, {os.cpu_count()} cores, "
          f"{args.rounds} rounds x {args.repeat} calls, medians")
    head = f"{'call':<28}{'Rust API':>12}{'Python':>12}{'Python vs Rust':>16}"
    print(head + (f"{'PyTorch':>12}{'Python / PyTorch':>18}" if pt else ""))
    for key, label in (("embed_texts_s", "embed_texts (256 captions)"), ("embed_videos_s", "embed_videos (8 clips)")):
        r = statistics.median(x[key] for x in rust)
        p = statistics.median(x[key] for x in py)
        line = f"{label:<28}{r:>11.3f}s{p:>11.3f}s{100 * (p - r) / r:>+15.1f}%"
        if pt:
            t = statistics.median(x[key] for x in pt)
            line += f"{t:>11.3f}s{p / t:>18.2f}"
        print(line)
    if pt:
        print(f"agreement with PyTorch (unit embeddings, max abs diff): texts {agreement[0]:.2e}, "
              f"videos {agreement[1]:.2e}")
    for f in work.iterdir():
        f.unlink()
    work.rmdir()


def pytorch_side(weights, config, ids, videos, repeat):
    """A function timing benches/compare_pytorch.py's forward on the same weights and inputs; called
    with viclip's outputs it checks them instead and returns the max abs differences."""
    import importlib.util

    import torch
    from safetensors.torch import load_file

    spec = importlib.util.spec_from_file_location("compare_pytorch", REPO / "benches" / "compare_pytorch.py")
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    c = ref.CONFIGS[{"viclip-b16": "b16", "viclip-l14": "l14"}[config]]
    sd = load_file(str(weights))
    torch.set_num_threads(os.cpu_count())
    ids_t, videos_t = torch.from_numpy(ids), torch.from_numpy(videos)

    def unit(x):
        return torch.nn.functional.normalize(x, dim=-1).numpy()

    def run(want_t=None, want_v=None):
        out = {}
        with torch.inference_mode():
            for name, call in (("embed_texts_s", lambda: ref.text(sd, c, ids_t)),
                               ("embed_videos_s", lambda: ref.vision(sd, c, videos_t))):
                times = []
                for _ in range(1 if want_t is not None else repeat):
                    t = time.perf_counter()
                    y = call()
                    times.append(time.perf_counter() - t)
                out[name] = (statistics.median(times), y)
        if want_t is not None:
            return (float(np.abs(unit(out["embed_texts_s"][1]) - want_t).max()),
                    float(np.abs(unit(out["embed_videos_s"][1]) - want_v).max()))
        return {k: v[0] for k, v in out.items()}

    return run


if __name__ == "__main__":
    main()
