"""viclip.compat against the InternVid demo's own functions. Two references, both the original
code's outputs, so no PyTorch is needed here:
- the golden tiny model (tests/fixtures/tiny_a), whose files hold what the original
  `frames2tensor`, `get_vid_features`, `get_text_features` and `get_predict_label` returned;
- compat/values.safetensors, written by compat/generate.py, which calls the demo's `get_viclip`,
  `frames2tensor`, `get_vid_feat`, `get_text_feat_dict` and `retrieve_text` as published
  (input size 224, its defaults) on compat/model.safetensors and the frames of compat/inputs.py.
Thresholds as the Rust tests' (tests/it/preprocess_golden.rs PIXEL_TOL, tests/it/golden_model.rs EMB_TOL)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from conftest import load_safetensors

import viclip
from viclip import compat

PIXEL_TOL = 1e-6
EMB_TOL = 1e-4


def bgr_frames(inputs, i):
    # The generator passed frame[..., ::-1] (BGR, as cv2 reads it) to the original frames2tensor.
    return [f[..., ::-1] for f in inputs[f"raw{i}.frames_rgb_u8"]]


@pytest.mark.parametrize("i", [0, 1, 2])
def test_frames2tensor_equals_the_demo(inputs, i):
    got = compat.frames2tensor(bgr_frames(inputs, i), fnum=8, target_size=(112, 112))
    assert got.shape == (1, 8, 3, 112, 112) and got.dtype == np.float32
    assert np.max(np.abs(got - inputs[f"raw{i}.preprocessed"])) <= PIXEL_TOL


def test_get_vid_feat_and_text_feats(model, inputs, outputs, captions):
    frames = np.concatenate([compat.frames2tensor(bgr_frames(inputs, i), 8, (112, 112)) for i in range(3)])
    vid = compat.get_vid_feat(frames, model)
    assert np.max(np.abs(vid - outputs["raw_video_embeds"])) <= EMB_TOL
    d = compat.get_text_feat_dict(captions, model)
    texts = np.concatenate([d[t] for t in captions])
    # Captions 9 and 10 embed equally (10 is 9 truncated); a dict keeps one entry per text.
    assert np.max(np.abs(texts - outputs["text_embeds"])) <= EMB_TOL


def test_retrieve_text_equals_the_demo(model, inputs, outputs, captions):
    # Caption 10 is caption 9 cut at 32 tokens: the same embedding, so their order is a tie that
    # float noise decides; it is left out.
    texts = captions[:10]
    keep = list(range(10))
    for i in range(3):
        want_probs = outputs["raw_probs_demo"][i]
        got_texts, got_probs = compat.retrieve_text(bgr_frames(inputs, i), texts, models={"viclip": model}, topk=5)
        # The original's probabilities over the same captions, renormalised over the distinct ones.
        ref = want_probs[keep] / want_probs[keep].sum()
        order = np.argsort(-ref, kind="stable")[:5]
        assert got_texts == [texts[j] for j in order]
        assert np.max(np.abs(got_probs - ref[order])) <= EMB_TOL


def test_get_predict_label_matches_top5(outputs):
    probs, idx = compat.get_predict_label(outputs["video_embeds"], outputs["text_embeds"], top=5)
    ref = outputs["probs_demo"]
    for row in range(3):
        # Captions 9 and 10 tokenize identically, so their probabilities tie and either order is
        # right (as tests/golden_model.rs): the reference's probability of our index at each rank
        # must be the one of its own index there.
        ours, theirs = ref[row][idx[row]], ref[row][outputs["top5_idx"][row]]
        assert np.max(np.abs(ours - theirs)) <= 1e-7
    assert np.max(np.abs(probs - outputs["top5_probs"])) <= EMB_TOL


def test_frames2tensor_refuses_what_the_demo_asserts(inputs):
    with pytest.raises(viclip.InvalidInputError):
        compat.frames2tensor(bgr_frames(inputs, 1)[:3], fnum=8, target_size=(112, 112))
    with pytest.raises(ValueError):
        compat.frames2tensor(bgr_frames(inputs, 1), fnum=8, target_size=(112, 100))


# --- Against the demo's functions themselves (compat/generate.py ran them; compat/README.md) ---

COMPAT = Path(__file__).resolve().parent / "compat"


def _compat_inputs():
    spec = importlib.util.spec_from_file_location("compat_inputs", COMPAT / "inputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DEMO = _compat_inputs()
DISTINCT = list(dict.fromkeys(DEMO.CAPTIONS))


@pytest.fixture(scope="module")
def demo_model():
    return viclip.ViClip.from_files(COMPAT / "model.safetensors", str(COMPAT / "config.json"))


@pytest.fixture(scope="module")
def demo_values():
    return load_safetensors(COMPAT / "values.safetensors")


def test_frames2tensor_at_the_demos_default_size_equals_the_demo(demo_values):
    # 90x160 frames upsampled to the default 224x224, fnum 8.
    got = compat.frames2tensor(DEMO.frames("a"))
    assert got.shape == (1, 8, 3, 224, 224) and got.dtype == np.float32
    assert np.max(np.abs(got[..., 3::7, 3::7] - demo_values["f2t_a_sub"])) <= PIXEL_TOL
    # One pixel off by one level moves a sum by ~0.017: the sums check every pixel.
    assert abs(got.astype(np.float64).sum() - demo_values["f2t_a_sum"][0]) <= 1e-3
    assert abs(np.abs(got.astype(np.float64)).sum() - demo_values["f2t_a_abs_sum"][0]) <= 1e-3


def test_frames2tensor_downsampling_equals_the_demo(demo_values):
    got = compat.frames2tensor(DEMO.frames("b"), fnum=8, target_size=(48, 48))
    assert np.max(np.abs(got - demo_values["f2t_b_48"])) <= PIXEL_TOL


def test_get_vid_feat_and_get_text_feat_dict_equal_the_demo(demo_model, demo_values):
    vid = np.concatenate([compat.get_vid_feat(compat.frames2tensor(DEMO.frames(k)), demo_model) for k in "ab"])
    assert np.max(np.abs(vid - demo_values["vid_feat"])) <= EMB_TOL
    d = compat.get_text_feat_dict(DEMO.CAPTIONS, demo_model)
    assert list(d) == DISTINCT  # one entry per distinct caption, in first-seen order
    texts = np.concatenate([d[t] for t in DISTINCT])
    assert np.max(np.abs(texts - demo_values["text_feat"])) <= EMB_TOL


@pytest.mark.parametrize("kind", ["a", "b"])
def test_retrieve_text_equals_the_demo(demo_model, demo_values, kind):
    texts, probs = compat.retrieve_text(DEMO.frames(kind), DISTINCT, models={"viclip": demo_model}, topk=5)
    assert texts == [DISTINCT[i] for i in demo_values[f"retrieve_{kind}_idx"]]
    want = demo_values[f"retrieve_{kind}_probs"]
    assert probs.shape == (5,)
    assert np.allclose(probs, want, rtol=1e-3, atol=1e-7), (probs, want)


def test_get_predict_label_equals_the_demo(demo_values):
    probs, idx = compat.get_predict_label(demo_values["vid_feat"], demo_values["text_feat"], top=5)
    assert np.array_equal(idx, demo_values["predict_idx"])
    assert np.allclose(probs, demo_values["predict_probs"], rtol=1e-5, atol=1e-7)


def test_frames2tensor_reads_only_the_frames_the_demo_samples():
    # As the demo (`vid_list[::step][:fnum]`, then only those resized), the other frames are never
    # read: a long video's list costs the sampled frames' copies only. Here they are not even frames.
    frames = DEMO.frames("a")  # 27 frames: step 3, frames 0, 3, ..., 21
    picked = set(range(0, 24, 3))
    sparse = [f if i in picked else None for i, f in enumerate(frames)]
    want = compat.frames2tensor(frames)
    np.testing.assert_array_equal(compat.frames2tensor(sparse), want)
    # The same through a (T, H, W, 3) array.
    np.testing.assert_array_equal(compat.frames2tensor(np.stack(frames)), want)
