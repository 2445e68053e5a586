"""viclip.compat against the original demo code's values. The golden tiny model's files were made
by running the original `frames2tensor`, `get_vid_features`, `get_text_features` and
`get_predict_label` (tests/fixtures/tiny_a/README.md; generator outside the repository): these are
the notebook functions' own outputs, so no PyTorch is needed here. Thresholds as the Rust tests'
(tests/preprocess_golden.rs PIXEL_TOL, tests/golden_model.rs EMB_TOL)."""

import numpy as np
import pytest

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
