"""Clips of video files on the clip engine, and the streaming scorer, through Python."""

import numpy as np
import pytest

import viclip


def test_clips_in_order_with_info(model, video):
    clips = model.embed_clips(str(video), [(0, 1), ("00:00:01", "00:00:02.5"), (1.5, None)])
    assert [c.index for c in clips] == [0, 1, 2]
    for c in clips:
        assert c.ok and c.error is None, c.error
        assert c.embedding.shape == (48,) and c.embedding.dtype == np.float32
        assert abs(float(np.linalg.norm(c.embedding)) - 1) < 1e-5
        assert len(c.info["frame_indices"]) == 8 and c.info["sampling"] == "middle"
    assert clips[1].span.startswith("span [00:00:01.000")


def test_a_failed_clip_is_its_own_entry(model, video, tmp_path):
    missing = tmp_path / "missing.mp4"
    clips = model.embed_clips([(str(video), [(0, 1), (50, 51)]), str(missing), (str(video), [(0, 1)])])
    assert [c.ok for c in clips] == [True, False, False, True]
    assert isinstance(clips[1].error, viclip.ClipError) and isinstance(clips[1].error, ValueError)
    assert isinstance(clips[2].error, viclip.FileNotFoundError) and isinstance(clips[2].error, FileNotFoundError)
    assert "missing.mp4" in str(clips[2].error)
    np.testing.assert_array_equal(clips[0].embedding, clips[3].embedding)


def test_frames_in_memory_equal_the_preprocessed_path(model, inputs, outputs):
    # Frames in memory with the demo's sampling and resize give the original's end-to-end embedding.
    frames = inputs["raw0.frames_rgb_u8"]
    [c] = model.embed_clips([frames], sampling="demo", resize="cv2-linear")
    assert np.max(np.abs(c.embedding - outputs["raw_video_embeds"][0])) <= 1e-4


def test_bad_options_raise(model, video):
    with pytest.raises(viclip.InvalidInputError):
        model.embed_clips(str(video), sampling="sideways")
    with pytest.raises(ValueError):
        model.embed_clips(str(video), batch_size=0)
    with pytest.raises(viclip.InvalidInputError):
        model.embed_clips(str(video), [("soon", "later")])
    # Not a time: refused, not saturated into another span (NaN became 0 s).
    for bad in [(float("nan"), 1), (0, float("inf")), (1e300, 1e301), (float("nan"), None)]:
        with pytest.raises(viclip.InvalidInputError, match="not a time in seconds"):
            model.embed_clips(str(video), [bad])
    # Frames per clip the model does not take: one error at the start, not one per clip.
    with pytest.raises(viclip.InvalidInputError, match="uniform"):
        model.embed_clips(str(video), [(0, 1)], sampling="uniform(1000)")


def test_stream_scores_lazily_in_order(model, video, captions):
    embedded = model.embed_clips(str(video), [(0, 1), (1, 2)])
    texts = model.embed_texts(["a test pattern", "colour bars"])

    def items():
        yield (str(video), (0, 1), "a test pattern")
        yield (str(video), (50, 51), "past the end")
        yield (str(video), (1, 2), "colour bars")
        yield (str(video), (0, 1), "")

    got = list(model.score_stream(items()))
    assert [s.index for s in got] == [0, 1, 2, 3]
    assert [s.ok for s in got] == [True, False, True, False]
    assert got[0].sim == pytest.approx(float(embedded[0].embedding @ texts[0]), abs=1e-6)
    assert got[2].sim == pytest.approx(float(embedded[1].embedding @ texts[1]), abs=1e-6)
    assert isinstance(got[1].error, viclip.ClipError)
    assert isinstance(got[3].error, viclip.InvalidInputError)


def test_stream_raises_the_iterables_error_after_the_items_before_it(model, video):
    def items():
        yield (str(video), (0, 1), "a test pattern")
        raise RuntimeError("the table ended badly")

    it = model.score_stream(items())
    assert next(it).ok
    with pytest.raises(RuntimeError, match="ended badly"):
        next(it)


def test_stream_bad_item_is_a_typed_error(model):
    with pytest.raises(viclip.InvalidInputError, match="item 0"):
        list(model.score_stream([42]))


def test_stream_as_a_context_manager_closes_on_exit(model, video):
    def items():
        while True:  # endless: only closing ends it
            yield (str(video), (0, 1), "a test pattern")

    with model.score_stream(items(), batch_size=1) as stream:
        first = next(stream)
    assert first.ok
    with pytest.raises(StopIteration):
        next(stream)
    stream.close()  # closing twice is harmless
