#!/usr/bin/env python3
"""Makes the reference values of tests/test_compat.py by running the InternVid demo's own functions.

The demo notebook (OpenGVLab/InternVideo, `Data/InternVid/demo.ipynb`) loads a model with
`get_viclip(size, pretrain)` and calls `retrieve_text(frames, texts, models, topk)`, which runs
`frames2tensor`, `get_vid_feat`, `get_text_feat_dict` and the model's `get_predict_label`. This script
imports those functions, unmodified, from a checkout of that repository and runs them on a small
random model and synthetic frames, then writes what they returned. It is run once, by hand; its
outputs are committed beside it, so the tests need neither PyTorch nor the original code.

    git clone https://github.com/OpenGVLab/InternVideo && git -C InternVideo checkout 3965eef
    python -m venv venv && venv/bin/pip install torch==2.12.1 einops timm ftfy regex opencv-python-headless safetensors
    venv/bin/python generate.py --internvid InternVideo/Data/InternVid

What is not the demo's own code, and why:
- The original `ViCLIP` class builds ViCLIP-L/14 or B/16. Its two builder methods are replaced
  (`build_vision_encoder`, `build_text_encoder`) so that they build the original `VisionTransformer`
  and `CLIP_TEXT` classes at the small sizes of `config.json`, as the released builders do (in eval
  mode). Everything the demo calls is the original code.
- The weights are random (seeded, `init_weights`), written as the released checkpoints are
  (`torch.save({'model': state_dict})`) for `get_viclip` to load, and as `model.safetensors` for
  viclip. The input size is 224, the demo's `frames2tensor` default, so `retrieve_text` runs as
  published; 32-pixel patches keep the model small.
- `device` is the CPU (the demo's default is CUDA).

Outputs (in this folder): `config.json`, `model.safetensors`, `values.safetensors`. The frames are
made by `inputs.py`, which the tests import too (integer arithmetic, no random generator).
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from inputs import CAPTIONS, frames  # the inputs, shared with the tests (no PyTorch there)

HERE = Path(__file__).resolve().parent
SEED = 20261207

CONFIG = {
    "embed_dim": 16,
    "vision": {"input_resolution": 224, "patch_size": 32, "width": 32, "layers": 2, "heads": 4, "num_frames": 8},
    "text": {"context_length": 32, "vocab_size": 49408, "width": 8, "layers": 2, "heads": 2},
}

def init_weights(model: torch.nn.Module) -> None:
    """Every parameter drawn from a seeded generator with a scale that keeps activations near unit
    size (the constructors leave `proj`, `text_projection` and the text positions uninitialised)."""
    g = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, p in model.named_parameters():
            n = torch.randn(p.shape, generator=g)
            if name == "temp":
                p.fill_(0.01)
            elif "ln" in name and name.endswith("weight"):
                p.copy_(1 + 0.1 * n)
            elif name.endswith("bias"):
                p.copy_(0.02 * n)
            elif name.endswith("conv1.weight"):
                p.copy_(n * (3 * p.shape[-1] * p.shape[-2]) ** -0.5)
            elif name.endswith("token_embedding.weight"):
                p.copy_(0.5 * n)
            elif name.endswith("temporal_positional_embedding"):
                p.copy_(0.5 * n * p.shape[-1] ** -0.5)
            elif p.ndim >= 2 and ("proj" in name or "c_fc" in name) and "embedding" not in name:
                fan_in = p.shape[0] if name.endswith(("vision_encoder.proj", "text_projection")) else p.shape[-1]
                p.copy_(n * fan_in**-0.5)
            else:
                p.copy_(n * p.shape[-1] ** -0.5)


def patch_builders(orig_viclip) -> None:
    """Replaces the two builder methods of the original `ViCLIP` so they build the config's sizes."""
    from viclip.viclip_text import CLIP_TEXT
    from viclip.viclip_vision import VisionTransformer

    v, t, e = CONFIG["vision"], CONFIG["text"], CONFIG["embed_dim"]

    def build_vision_encoder(self):
        return VisionTransformer(
            input_resolution=v["input_resolution"], patch_size=v["patch_size"], width=v["width"],
            layers=v["layers"], heads=v["heads"], output_dim=e, kernel_size=1,
            num_frames=v["num_frames"], drop_path=0.1, checkpoint_num=24,
        ).eval()

    def build_text_encoder(self):
        return CLIP_TEXT(e, self.max_txt_l, t["vocab_size"], t["width"], t["heads"], t["layers"], 0).eval()

    orig_viclip.build_vision_encoder = build_vision_encoder
    orig_viclip.build_text_encoder = build_text_encoder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--internvid", required=True, help="Data/InternVid of an OpenGVLab/InternVideo checkout at 3965eef")
    ap.add_argument("--out", default=str(HERE))
    args = ap.parse_args()
    sys.path.insert(0, str(Path(args.internvid).resolve()))
    import viclip as demo  # the demo's package: Data/InternVid/viclip/__init__.py
    from viclip.viclip import ViCLIP

    torch.set_num_threads(1)
    out = Path(args.out)
    cpu = torch.device("cpu")
    patch_builders(ViCLIP)

    # The weights, written as a released checkpoint for the demo's loader and for viclip.
    seed_model = ViCLIP(tokenizer=None, size="l", pretrain=None)
    init_weights(seed_model)
    state = {k: v.contiguous() for k, v in seed_model.state_dict().items()}
    pth = out / "model.pth.tmp"
    torch.save({"model": state}, pth)
    save_file(state, str(out / "model.safetensors"))
    (out / "config.json").write_text(json.dumps(CONFIG, indent=1) + "\n")

    models = demo.get_viclip("l", str(pth))  # the demo's loader: torch.load(p)['model']
    pth.unlink()
    clip, tokenizer = models["viclip"], models["tokenizer"]

    values = {}
    fa, fb = frames("a"), frames("b")
    ta = demo.frames2tensor(fa, device=cpu)  # (1, 8, 3, 224, 224), the defaults
    tb = demo.frames2tensor(fb, fnum=8, target_size=(48, 48), device=cpu)
    # The 224 tensor is large: every 7th row and column from 3, plus its sum in float64.
    values["f2t_a_sub"] = ta[..., 3::7, 3::7].contiguous()
    values["f2t_a_sum"] = ta.double().sum().reshape(1)
    values["f2t_a_abs_sum"] = ta.double().abs().sum().reshape(1)
    values["f2t_b_48"] = tb.contiguous()
    tb224 = demo.frames2tensor(fb, device=cpu)
    values["vid_feat"] = torch.cat([demo.get_vid_feat(ta, clip), demo.get_vid_feat(tb224, clip)]).contiguous()

    d = demo.get_text_feat_dict(CAPTIONS, clip, tokenizer, {})
    distinct = list(dict.fromkeys(CAPTIONS))
    values["text_feat"] = torch.cat([d[c] for c in distinct]).contiguous()

    # Distinct captions: a repeated one would tie with itself, an order no reference can fix.
    for name, fr in (("a", fa), ("b", fb)):
        texts, probs = demo.retrieve_text(fr, distinct, models=models, topk=5, device=cpu)
        values[f"retrieve_{name}_idx"] = torch.tensor([distinct.index(t) for t in texts], dtype=torch.int64)
        values[f"retrieve_{name}_probs"] = torch.from_numpy(np.ascontiguousarray(probs))
        # A top-5 order that float noise could flip would make a flaky reference: the logits
        # (100 x cosine) of neighbours must differ by more than 1e-3.
        gaps = -np.diff(np.log(probs.astype(np.float64)))
        assert np.all(gaps > 1e-3), f"near tie in retrieve_text({name}): {probs}"

    probs, idx = clip.get_predict_label(values["vid_feat"], values["text_feat"], top=5)
    values["predict_probs"] = probs.contiguous()
    values["predict_idx"] = idx.contiguous()
    save_file(values, str(out / "values.safetensors"), metadata={"captions": json.dumps(CAPTIONS)})
    for k, v in values.items():
        print(f"{k}: {tuple(v.shape)} {v.dtype}")


if __name__ == "__main__":
    main()
