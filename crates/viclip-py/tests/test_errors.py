"""The exception hierarchy: every error a viclip.Error and the built-in that fits."""

import builtins

import numpy as np
import pytest

import viclip
from conftest import TINY, TINY_CONFIG, TINY_WEIGHTS


def test_hierarchy():
    for name in viclip.errors.__all__:
        assert issubclass(getattr(viclip, name), viclip.Error)
    assert issubclass(viclip.FileNotFoundError, builtins.FileNotFoundError)
    assert issubclass(viclip.InvalidInputError, ValueError)
    assert issubclass(viclip.CheckpointError, ValueError)
    assert issubclass(viclip.ModelError, RuntimeError)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        viclip.ViClip.from_files(tmp_path / "nope.pth", str(TINY_CONFIG))
    assert isinstance(e.value, viclip.FileNotFoundError) and "nope.pth" in str(e.value)


def test_wrong_config_is_a_checkpoint_error():
    with pytest.raises(viclip.CheckpointError) as e:
        viclip.ViClip.from_files(TINY_WEIGHTS, "viclip-b16")
    assert "model.safetensors" in str(e.value)


def test_unknown_config():
    with pytest.raises(viclip.ConfigError):
        viclip.ViClip.from_files(TINY_WEIGHTS, "viclip-xxl")


def test_bad_device_and_batch():
    with pytest.raises(viclip.Error):
        viclip.ViClip.from_files(TINY_WEIGHTS, str(TINY_CONFIG), device="tpu")
    with pytest.raises(ValueError, match="batch size"):
        viclip.ViClip.from_files(TINY_WEIGHTS, str(TINY_CONFIG), batch_size=0)


def test_wrong_shapes_are_value_errors(model):
    with pytest.raises(viclip.InvalidInputError, match="frames are 64x64"):
        model.embed_videos(np.zeros((1, 8, 3, 64, 64), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        model.embed_videos(np.full((1, 8, 3, 112, 112), np.nan, np.float32))
    with pytest.raises(viclip.InvalidInputError):
        model.embed_images(np.zeros((1, 8, 3, 112, 112), np.float32))
    with pytest.raises(viclip.InvalidInputError):
        model.embed_videos("not an array")
    with pytest.raises(TypeError):
        model.embed_texts("a str is not a list")


def test_trainstyle_checkpoint_loads():
    m = viclip.ViClip.from_files(TINY / "model_trainstyle.pth", str(TINY_CONFIG))
    assert m.embedding_dim == 48


def test_sizes_past_the_bounds_are_refused_before_allocating(model, video):
    # A 100000 x 100000 target would be 960 GB of float32: refused by name, not an aborted process.
    frames = [np.zeros((20, 30, 3), np.uint8)] * 8
    with pytest.raises(viclip.InvalidInputError, match="100000"):
        viclip.compat.frames2tensor(frames, 8, (100000, 100000))
    with pytest.raises(viclip.InvalidInputError, match="frames per clip"):
        viclip._viclip.frames_to_tensor(frames * 200, 1600, 224)
    with pytest.raises(ValueError, match="aesthetic frames"):
        model.score_stream([(str(video), "a caption")], aesthetic_frames=10**12).__next__()
