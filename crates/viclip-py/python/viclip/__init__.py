"""ViCLIP (InternVid) video-text embeddings, CLIP-SIM and aesthetic scores, equal to the original
PyTorch pipelines (decoding included), without PyTorch. NumPy in and out.

>>> import viclip
>>> model = viclip.ViClip.from_files("ViClip-InternVid-10M-FLT.pth", "viclip-l14")
>>> texts = model.embed_texts(["a dog plays in the snow", "a man cooks dinner"])   # (2, 768)
>>> clips = model.embed_clips("video.mp4", [(0, 4), (12.5, 16)])                    # 2 x Clip
>>> sims = [c.embedding @ texts.T for c in clips if c.ok]

The GIL is released while viclip decodes or runs a model, Ctrl-C raises ``KeyboardInterrupt``
between batches, and errors are :class:`viclip.Error` subclasses (see :mod:`viclip.errors`). Worker
processes must be started with ``spawn`` (not ``fork``) once viclip has run in the parent.
"""

import os as _os
import warnings as _warnings

from . import compat, errors
from ._viclip import (
    AestheticScorer,
    Clip,
    Scored,
    ScoreStream,
    ViClip,
    __version__,
)
from ._viclip import frames_to_tensor as _frames_to_tensor
from ._viclip import _pools_started_in
from .errors import (
    CheckpointError,
    ClipError,
    ConfigError,
    DecodeError,
    DeviceError,
    DownloadError,
    Error,
    FileNotFoundError,
    ForkError,
    InvalidInputError,
    IOError,
    ModelError,
)

__all__ = [
    "ViClip",
    "AestheticScorer",
    "Clip",
    "Scored",
    "ScoreStream",
    "compat",
    "errors",
    "Error",
    "FileNotFoundError",
    "IOError",
    "InvalidInputError",
    "CheckpointError",
    "ConfigError",
    "DecodeError",
    "ClipError",
    "DeviceError",
    "DownloadError",
    "ModelError",
    "ForkError",
    "__version__",
]


def _warn_after_fork() -> None:
    # viclip's thread pools do not survive fork(): say so in the child at once, not at its first
    # call (which raises ForkError).
    parent = _pools_started_in()
    if parent is not None and parent != _os.getpid():
        _warnings.warn(
            f"viclip: this process was fork()ed from process {parent} after viclip ran there; "
            "viclip cannot run in this process (its thread pools do not survive fork). Start "
            "workers with multiprocessing.get_context('spawn') or "
            "DataLoader(..., multiprocessing_context='spawn').",
            RuntimeWarning,
            stacklevel=2,
        )


if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(after_in_child=_warn_after_fork)
