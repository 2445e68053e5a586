"""The InternVid demo notebook's functions (``Data/InternVid/viclip/__init__.py``) on viclip, so
the published notebook's flow runs with ``from viclip import compat`` in place of the original
model code, without PyTorch, giving the same results.

>>> from viclip.compat import get_viclip, retrieve_text, _frame_from_video
>>> import cv2
>>> frames = [x for x in _frame_from_video(cv2.VideoCapture("example1.mp4"))]   # BGR uint8
>>> models = get_viclip("l", "ViClip-InternVid-10M-FLT.pth")
>>> texts, probs = retrieve_text(frames, ["a dog", "a cat", "a man"], models=models, topk=2)

Differences: tensors are NumPy arrays (``torch.from_numpy`` turns them into tensors), ``device``
arguments are accepted and ignored (the device is chosen when the model is loaded), and
``tokenizer`` entries are ``None`` (the model tokenizes by itself).
"""

from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ._viclip import ViClip
from ._viclip import frames_to_tensor as _frames_to_tensor
from .errors import InvalidInputError

__all__ = [
    "get_viclip",
    "get_text_feat_dict",
    "get_vid_feat",
    "frames2tensor",
    "retrieve_text",
    "get_predict_label",
    "_frame_from_video",
    "v_mean",
    "v_std",
]

#: ImageNet mean and std the demo normalises with, shaped (1, 1, 3) as in the demo.
v_mean = np.array([0.485, 0.456, 0.406]).reshape(1, 1, 3)
v_std = np.array([0.229, 0.224, 0.225]).reshape(1, 1, 3)

_SIZES = {"l": "viclip-l14", "b": "viclip-b16"}


def get_viclip(size: str = "l", pretrain: str = "ViClip-InternVid-10M-FLT.pth", **load: Any) -> Dict[str, Any]:
    """``{'viclip': model, 'tokenizer': None}`` as the demo's ``get_viclip``: ``size`` ``'l'``
    (ViCLIP-L/14) or ``'b'`` (ViCLIP-B/16), ``pretrain`` the checkpoint file; ``load`` goes to
    :meth:`viclip.ViClip.from_files` (``device``, ``dtype``, batch sizes)."""
    if size not in _SIZES:
        raise InvalidInputError(f"size {size!r}: the demo's sizes are 'l' (ViCLIP-L/14) and 'b' (ViCLIP-B/16)")
    return {"viclip": ViClip.from_files(pretrain, _SIZES[size], **load), "tokenizer": None}


def get_text_feat_dict(
    texts: Sequence[str], clip: ViClip, tokenizer: Any = None, text_feat_d: Optional[Dict[str, np.ndarray]] = None
) -> Dict[str, np.ndarray]:
    """Adds each caption's unit embedding ``(1, E)`` to ``text_feat_d`` (captions already there are
    not embedded again) and returns it, as the demo does. Unlike the demo's, the default dict is a
    new one per call (the demo's ``{}`` default is shared between calls)."""
    d = {} if text_feat_d is None else text_feat_d
    todo = [t for t in dict.fromkeys(texts) if t not in d]
    if todo:
        for t, row in zip(todo, clip.embed_texts(todo)):
            d[t] = row[None, :]
    return d


def get_vid_feat(frames: Any, clip: ViClip) -> np.ndarray:
    """Unit video embeddings ``(B, E)`` of ``frames2tensor`` output ``(B, T, 3, S, S)``."""
    return clip.embed_videos(frames)


def frames2tensor(
    vid_list: Sequence[np.ndarray], fnum: int = 8, target_size: Tuple[int, int] = (224, 224), device: Any = None
) -> np.ndarray:
    """The demo's ``frames2tensor`` on a list of BGR uint8 frames (as OpenCV reads them):
    ``fnum`` frames at stride ``len // fnum`` from the first, flipped to RGB, resized by OpenCV's
    bilinear filter (bit-exact, without OpenCV), ImageNet-normalised in float64, as a
    ``(1, fnum, 3, H, W)`` float32 array. ``device`` is ignored."""
    del device
    w, h = target_size
    if w != h:
        raise InvalidInputError(f"target_size {target_size}: ViCLIP takes square frames; give (S, S)")
    if len(vid_list) < fnum:
        # The demo asserts len(vid_list) >= fnum.
        raise InvalidInputError(f"{len(vid_list)} frames, frames2tensor needs at least fnum={fnum}")
    return _frames_to_tensor(vid_list, fnum, w, bgr=True)


def get_predict_label(clip_feature: np.ndarray, text_feats_tensor: np.ndarray, top: int = 5) -> Tuple[np.ndarray, np.ndarray]:
    """``softmax(100 · v · tᵀ)`` and its ``top`` largest entries per row: ``(probs, indices)``,
    each ``(B, top)``, as the model's ``get_predict_label``."""
    v = np.asarray(clip_feature, dtype=np.float32)
    t = np.asarray(text_feats_tensor, dtype=np.float32)
    logits = np.float32(100.0) * (v @ t.T)
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs = e / e.sum(axis=-1, keepdims=True)
    # Largest first; ties keep the lower index first (a stable sort of the negated values).
    idx = np.argsort(-probs, axis=-1, kind="stable")[:, :top]
    return np.take_along_axis(probs, idx, axis=-1), idx


def retrieve_text(
    frames: Sequence[np.ndarray],
    texts: Sequence[str],
    models: Optional[Dict[str, Any]] = None,
    topk: int = 5,
    device: Any = None,
) -> Tuple[List[str], np.ndarray]:
    """The demo's ``retrieve_text``: the ``topk`` captions that best match the clip of BGR
    ``frames`` and their probabilities ``(topk,)``, from ``models = get_viclip(...)``."""
    del device
    if not models or models.get("viclip") is None:
        raise InvalidInputError("retrieve_text needs models={'viclip': ...}: load one with compat.get_viclip")
    clip: ViClip = models["viclip"]
    frames_tensor = frames2tensor(frames, fnum=clip.num_frames, target_size=(clip.input_size, clip.input_size))
    vid_feat = get_vid_feat(frames_tensor, clip)
    text_feat_d = get_text_feat_dict(texts, clip)
    text_feats_tensor = np.concatenate([text_feat_d[t] for t in texts], 0)
    probs, idxs = get_predict_label(vid_feat, text_feats_tensor, top=topk)
    return [texts[i] for i in idxs[0].tolist()], probs[0]


def _frame_from_video(video: Any) -> Iterator[np.ndarray]:
    """The frames of an opened ``cv2.VideoCapture``, BGR, as the demo reads them."""
    while video.isOpened():
        success, frame = video.read()
        if success:
            yield frame
        else:
            break
