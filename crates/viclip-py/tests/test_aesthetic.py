"""The aesthetic scorer through Python on the golden tiny CLIP and LAION heads
(tests/fixtures/aesthetic), with the Rust tests' threshold (tests/aesthetic_golden.rs SCORE_TOL)."""

import numpy as np
import pytest

import viclip
from conftest import FIXTURES, load_safetensors

AES = FIXTURES / "aesthetic"
SCORE_TOL = 1e-4
HEADS = [("v1", "aes_v1.pth"), ("v2", "aes_v2.pth"), ("v2relu", "aes_v2relu.pth")]


@pytest.fixture(scope="module")
def golden():
    return load_safetensors(AES / "inputs.safetensors"), load_safetensors(AES / "outputs.safetensors")


def scorer(head):
    return viclip.AestheticScorer.from_files(AES / "clip_vision.safetensors", AES / head, str(AES / "config.json"))


@pytest.mark.parametrize("name,head", HEADS)
def test_images(golden, name, head):
    inputs, outputs = golden
    images = [inputs[f"img{i}.rgb"] for i in range(6)]
    got = scorer(head).score_images(images)
    assert got.dtype == np.float32 and got.shape == (6,)
    assert np.max(np.abs(got - outputs[f"batch.score_{name}"].ravel())) <= SCORE_TOL


def test_pil_images(golden):
    Image = pytest.importorskip("PIL.Image")
    inputs, outputs = golden
    s = scorer("aes_v2.pth")
    rgb = [Image.fromarray(np.ascontiguousarray(inputs[f"img{i}.rgb"])) for i in range(6)]
    rgba = [im.convert("RGBA") for im in rgb]  # converted back to RGB by the scorer
    want = outputs["batch.score_v2"].ravel()
    assert np.max(np.abs(s.score_images(rgb) - want)) <= SCORE_TOL
    assert np.max(np.abs(s.score_images(rgba) - want)) <= SCORE_TOL


@pytest.mark.parametrize("name,head", HEADS)
def test_clips_from_frames_in_memory(golden, name, head):
    inputs, outputs = golden
    clips = scorer(head).score_clips([inputs[f"clip{c}.frames"] for c in range(3)], frames=4, reduce="max")
    for c, clip in enumerate(clips):
        assert clip.ok and clip.embedding is None
        idx, frame_scores = clip.aesthetic_frames
        assert idx == inputs["clips.frame_indices"][c].tolist()
        assert np.max(np.abs(np.array(frame_scores) - outputs[f"clips.score_{name}"][c])) <= SCORE_TOL
        assert abs(clip.aesthetic - outputs[f"clips.score_{name}.max"][c]) <= SCORE_TOL


def test_clip_aesthetic_with_the_embedding(model, video):
    s = scorer("aes_v2.pth")
    [c] = model.embed_clips(str(video), [(0, 2)], aesthetic=s)
    [alone] = s.score_clips(str(video), [(0, 2)])
    assert c.ok and c.embedding.shape == (48,)
    assert c.aesthetic == alone.aesthetic
    short = model.embed_clips([np.zeros((2, 32, 32, 3), np.uint8)], aesthetic=s, aesthetic_frames=4)[0]
    # Two frames cannot give four: the clip is embedded, its aesthetic score is an error.
    assert short.ok and short.aesthetic is None and isinstance(short.aesthetic_error, viclip.ClipError)


def test_bad_inputs(golden):
    s = scorer("aes_v1.pth")
    with pytest.raises(viclip.InvalidInputError, match="image 0"):
        s.score_images([np.zeros((8, 8), np.uint8)])
    with pytest.raises(viclip.InvalidInputError):
        s.score_images([np.zeros((8, 8, 3), np.float32)])
    with pytest.raises(viclip.FileNotFoundError):
        viclip.AestheticScorer.from_files(AES / "nope.safetensors", AES / "aes_v1.pth", str(AES / "config.json"))


def test_batch_size_outside_its_range_is_refused():
    for n in (0, 10**12):
        with pytest.raises(viclip.InvalidInputError, match="aesthetic batch size"):
            viclip.AestheticScorer.from_files(AES / "clip_vision.safetensors", AES / "aes_v1.pth",
                                              str(AES / "config.json"), batch_size=n)
