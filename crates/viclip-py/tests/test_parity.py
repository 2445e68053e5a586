"""Python gives exactly what the Rust API gives on the same inputs: the `rust_api` example
(examples/rust_api.rs, `viclip::ViClip::embed_texts` / `embed_videos`) writes its embeddings as
.npy, compared here bit for bit. ci.sh builds the example; elsewhere set VICLIP_RUST_API to it."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, TINY_CONFIG, TINY_WEIGHTS


def rust_api() -> Path:
    env = os.environ.get("VICLIP_RUST_API")
    if env:
        return Path(env)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    for profile in ("debug", "release"):
        p = target / profile / "examples" / "rust_api"
        if p.exists():
            return p
    pytest.skip("build it: cargo build -p viclip-py --example rust_api (or set VICLIP_RUST_API)")


def test_python_equals_rust_exactly(model, inputs, captions, tmp_path):
    exe = rust_api()
    (tmp_path / "captions.json").write_text(json.dumps(captions))
    np.save(tmp_path / "videos.npy", inputs["videos"])
    subprocess.run(
        [str(exe), str(TINY_WEIGHTS), str(TINY_CONFIG), str(tmp_path / "captions.json"),
         str(tmp_path / "videos.npy"), str(tmp_path)],
        check=True, capture_output=True,
    )
    np.testing.assert_array_equal(model.embed_texts(captions), np.load(tmp_path / "text_embeddings.npy"))
    np.testing.assert_array_equal(model.embed_videos(inputs["videos"]), np.load(tmp_path / "video_embeddings.npy"))
