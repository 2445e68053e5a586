"""Shared fixtures: the repository's golden data (tests/fixtures) and the tiny golden model."""

import json
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

import viclip

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures"
TINY = FIXTURES / "tiny_a"
TINY_WEIGHTS = TINY / "model.safetensors"
TINY_CONFIG = TINY / "index.json"

_DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "U8": np.uint8}


def load_safetensors(path: Path) -> dict:
    """All tensors of a .safetensors file as NumPy arrays (the format is a JSON header and raw
    little-endian data; read here so the tests need no extra package)."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    out = {}
    for key, meta in header.items():
        if key == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        out[key] = np.frombuffer(data[a:b], dtype=_DTYPES[meta["dtype"]]).reshape(meta["shape"])
    return out


@pytest.fixture(scope="session")
def model() -> viclip.ViClip:
    return viclip.ViClip.from_files(TINY_WEIGHTS, str(TINY_CONFIG))


@pytest.fixture(scope="session")
def inputs() -> dict:
    return load_safetensors(TINY / "inputs.safetensors")


@pytest.fixture(scope="session")
def outputs() -> dict:
    return load_safetensors(TINY / "outputs_f32.safetensors")


@pytest.fixture(scope="session")
def intermediates() -> dict:
    return load_safetensors(TINY / "intermediates.safetensors")


@pytest.fixture(scope="session")
def captions() -> list:
    return [c["text"] for c in json.loads((TINY / "captions.json").read_text())["captions"]]


@pytest.fixture(scope="session")
def video(tmp_path_factory) -> Path:
    """A 3-second 160x120 test video at 25 fps (ffmpeg's testsrc2), made once."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("the ffmpeg CLI is needed to make the test video (scripts/setup-debian.sh)")
    path = tmp_path_factory.mktemp("video") / "testsrc.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=3",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )
    return path
