#!/usr/bin/env python3
"""Side-by-side timing of viclip (Rust, candle) and PyTorch on the same CPU, same weights, same inputs.

The PyTorch side is the forward of docs/reference/architecture.md §2-§3 written with torch.nn.functional, attention through
F.scaled_dot_product_attention (the strongest plain-PyTorch baseline); it runs the original's full
32-position text context. Both models stay resident; rounds alternate Rust, PyTorch, Rust, ... so that
machine noise hits both alike. Prints per-round seconds, the best and median of each, the ratio
viclip / PyTorch, and the agreement of the outputs.

  pip install torch safetensors numpy
  python3 benches/compare_pytorch.py --model b16 --what video --rounds 5
  python3 benches/compare_pytorch.py --model l14 --what text --batch 64
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parent.parent

CONFIGS = {
    "l14": dict(embed=768, res=224, patch=14, vw=1024, vl=24, vh=16, frames=8, tw=768, tl=12, th=12),
    "b16": dict(embed=512, res=224, patch=16, vw=768, vl=12, vh=12, frames=8, tw=512, tl=12, th=8),
}


def block_shapes(prefix, w):
    return {
        f"{prefix}.attn.in_proj_weight": (3 * w, w), f"{prefix}.attn.in_proj_bias": (3 * w,),
        f"{prefix}.attn.out_proj.weight": (w, w), f"{prefix}.attn.out_proj.bias": (w,),
        f"{prefix}.ln_1.weight": (w,), f"{prefix}.ln_1.bias": (w,),
        f"{prefix}.mlp.c_fc.weight": (4 * w, w), f"{prefix}.mlp.c_fc.bias": (4 * w,),
        f"{prefix}.mlp.c_proj.weight": (w, 4 * w), f"{prefix}.mlp.c_proj.bias": (w,),
        f"{prefix}.ln_2.weight": (w,), f"{prefix}.ln_2.bias": (w,),
    }


def state_dict_shapes(c):
    g = c["res"] // c["patch"]
    s = {"temp": ()}
    v, t = "vision_encoder", "text_encoder"
    s.update({
        f"{v}.class_embedding": (c["vw"],), f"{v}.positional_embedding": (g * g + 1, c["vw"]),
        f"{v}.temporal_positional_embedding": (1, c["frames"], c["vw"]), f"{v}.proj": (c["vw"], c["embed"]),
        f"{v}.conv1.weight": (c["vw"], 3, 1, c["patch"], c["patch"]),
        f"{v}.ln_pre.weight": (c["vw"],), f"{v}.ln_pre.bias": (c["vw"],),
        f"{v}.ln_post.weight": (c["vw"],), f"{v}.ln_post.bias": (c["vw"],),
        f"{t}.positional_embedding": (32, c["tw"]), f"{t}.text_projection": (c["tw"], c["embed"]),
        f"{t}.token_embedding.weight": (49408, c["tw"]),
        f"{t}.ln_final.weight": (c["tw"],), f"{t}.ln_final.bias": (c["tw"],),
    })
    for i in range(c["vl"]):
        s.update(block_shapes(f"{v}.transformer.resblocks.{i}", c["vw"]))
    for i in range(c["tl"]):
        s.update(block_shapes(f"{t}.transformer.resblocks.{i}", c["tw"]))
    return s


def random_state_dict(c, seed=0):
    gen = torch.Generator().manual_seed(seed)
    sd = {}
    for name, shape in state_dict_shapes(c).items():
        if name == "temp":
            sd[name] = torch.tensor(0.01)
        elif ".ln_" in name and name.endswith(".weight"):
            sd[name] = torch.ones(shape)
        elif ".ln_" in name and name.endswith(".bias"):
            sd[name] = torch.zeros(shape)
        else:
            sd[name] = torch.randn(shape, generator=gen) * 0.02
    return sd


def block(sd, p, x, heads, causal):
    b, l, w = x.shape
    h = F.layer_norm(x, (w,), sd[f"{p}.ln_1.weight"], sd[f"{p}.ln_1.bias"], 1e-5)
    qkv = F.linear(h, sd[f"{p}.attn.in_proj_weight"], sd[f"{p}.attn.in_proj_bias"])
    q, k, v = qkv.view(b, l, 3, heads, w // heads).permute(2, 0, 3, 1, 4)
    a = F.scaled_dot_product_attention(q, k, v, is_causal=causal).transpose(1, 2).reshape(b, l, w)
    x = x + F.linear(a, sd[f"{p}.attn.out_proj.weight"], sd[f"{p}.attn.out_proj.bias"])
    h = F.layer_norm(x, (w,), sd[f"{p}.ln_2.weight"], sd[f"{p}.ln_2.bias"], 1e-5)
    h = F.linear(h, sd[f"{p}.mlp.c_fc.weight"], sd[f"{p}.mlp.c_fc.bias"])
    h = h * torch.sigmoid(1.702 * h)
    return x + F.linear(h, sd[f"{p}.mlp.c_proj.weight"], sd[f"{p}.mlp.c_proj.bias"])


def vision(sd, c, x):
    """x [B, T, 3, H, W] -> [B, E] (docs/reference/architecture.md §2.1)."""
    v = "vision_encoder"
    b, t, _, hgt, wid = x.shape
    w, p = c["vw"], c["patch"]
    y = F.conv2d(x.reshape(b * t, 3, hgt, wid), sd[f"{v}.conv1.weight"][:, :, 0], stride=p)
    g2 = y.shape[2] * y.shape[3]
    y = y.flatten(2).transpose(1, 2) + sd[f"{v}.positional_embedding"][1:]
    temporal = sd[f"{v}.temporal_positional_embedding"]
    temporal = temporal.mean(1) if t == 1 else temporal[0]
    y = (y.reshape(b, t, g2, w) + temporal.reshape(1, t, 1, w)).transpose(1, 2).reshape(b, g2 * t, w)
    cls = (sd[f"{v}.class_embedding"] + sd[f"{v}.positional_embedding"][0]).expand(b, 1, w)
    y = F.layer_norm(torch.cat([cls, y], 1), (w,), sd[f"{v}.ln_pre.weight"], sd[f"{v}.ln_pre.bias"], 1e-5)
    for i in range(c["vl"]):
        y = block(sd, f"{v}.transformer.resblocks.{i}", y, c["vh"], False)
    y = F.layer_norm(y[:, 0], (w,), sd[f"{v}.ln_post.weight"], sd[f"{v}.ln_post.bias"], 1e-5)
    return y @ sd[f"{v}.proj"]


def text(sd, c, ids):
    """ids [N, 32] int64 -> [N, E] (docs/reference/architecture.md §3), over the full context like the original."""
    t = "text_encoder"
    x = sd[f"{t}.token_embedding.weight"][ids] + sd[f"{t}.positional_embedding"]
    for i in range(c["tl"]):
        x = block(sd, f"{t}.transformer.resblocks.{i}", x, c["th"], True)
    x = F.layer_norm(x, (c["tw"],), sd[f"{t}.ln_final.weight"], sd[f"{t}.ln_final.bias"], 1e-5)
    return x[torch.arange(x.shape[0]), ids.argmax(-1)] @ sd[f"{t}.text_projection"]


def caption_ids(n):
    dev = json.loads((ROOT / "tests/fixtures/tokenizer_dev.json").read_text())["captions"]
    rows = [c["input_ids_ctx32"] for c in dev[60:]]  # the sentence-like part, after the edge cases
    return np.array((rows * math.ceil(n / len(rows)))[:n], dtype=np.int64)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=CONFIGS, default="b16")
    ap.add_argument("--what", choices=["video", "text"], default="video")
    ap.add_argument("--batch", type=int, default=None, help="clips (default 1) or captions (default 64)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--workdir", default="/tmp/viclip-compare")
    ap.add_argument("--binary", default=None, help="prebuilt forward_server (default: cargo build --release)")
    args = ap.parse_args()
    c = CONFIGS[args.model]
    batch = args.batch or (64 if args.what == "text" else 1)
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)

    weights = work / f"{args.model}.safetensors"
    sd = random_state_dict(c)
    if not weights.exists():
        save_file({k: v.contiguous() for k, v in sd.items()}, str(weights))
    inp = work / f"{args.what}-{batch}.npy"
    if args.what == "video":
        x = torch.randn(batch, c["frames"], 3, c["res"], c["res"], generator=torch.Generator().manual_seed(1))
        np.save(inp, x.numpy())
        torch_fwd = lambda: vision(sd, c, x)  # noqa: E731
        flop = 2 * vision_macs(c) * batch
    else:
        ids = torch.from_numpy(caption_ids(batch))
        np.save(inp, ids.numpy())
        torch_fwd = lambda: text(sd, c, ids)  # noqa: E731
        flop = 2 * text_macs(c, 32) * batch

    binary = args.binary
    if binary is None:
        subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "forward_server"], cwd=ROOT, check=True)
        binary = ROOT / "target/release/examples/forward_server"
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
    preset = {"l14": "viclip-l14", "b16": "viclip-b16"}[args.model]
    rust = subprocess.Popen([str(binary), str(weights), preset, args.what, str(inp)], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    print(rust.stdout.readline().strip(), f"torch_threads={torch.get_num_threads()}", f"torch={torch.__version__}")

    def rust_run():
        rust.stdin.write("run\n")
        rust.stdin.flush()
        return float(rust.stdout.readline().split()[1])

    def torch_run():
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = torch_fwd()
        return time.perf_counter() - t0, out

    rust_run()
    torch_run()  # warm-up, not counted
    rs, ts = [], []
    for r in range(args.rounds):
        rs.append(rust_run())
        t, out = torch_run()
        ts.append(t)
        print(f"round {r}: viclip {rs[-1]:.3f} s   pytorch {t:.3f} s")
    out_path = work / "rust_out.npy"
    rust.stdin.write(f"save {out_path}\nquit\n")
    rust.stdin.flush()
    rust.stdout.readline()
    rust.wait()
    got = torch.from_numpy(np.load(out_path))
    diff = (got - out).abs().max().item()
    cos = F.cosine_similarity(got, out, dim=-1).min().item()
    med_r, med_t = statistics.median(rs), statistics.median(ts)
    print(f"\n{args.model} {args.what} batch {batch}, {args.threads} threads, {flop / 1e9:.0f} GFLOP per call")
    print(f"viclip : best {min(rs):.3f} s  median {med_r:.3f} s  ({flop / med_r / 1e9:.1f} GFLOP/s)")
    print(f"pytorch: best {min(ts):.3f} s  median {med_t:.3f} s  ({flop / med_t / 1e9:.1f} GFLOP/s)")
    print(f"ratio viclip/pytorch: median {med_r / med_t:.3f}  best {min(rs) / min(ts):.3f}")
    print(f"outputs: max abs diff {diff:.2e}, min cosine {cos:.7f}")
    if not cos > 0.9999:
        sys.exit("outputs disagree")


def vision_macs(c):
    g = c["res"] // c["patch"]
    l, w = 1 + g * g * c["frames"], c["vw"]
    per_layer = l * w * 3 * w + 2 * l * l * w + l * w * w + 2 * l * w * 4 * w
    return c["vl"] * per_layer + g * g * c["frames"] * 3 * c["patch"] ** 2 * w + w * c["embed"]


def text_macs(c, l):
    w = c["tw"]
    return c["tl"] * (l * w * 3 * w + 2 * l * l * w + l * w * w + 2 * l * w * 4 * w) + w * c["embed"]


if __name__ == "__main__":
    main()
