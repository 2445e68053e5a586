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
