"""Type stubs of the compiled module `viclip._viclip` (checked against it by tests/test_stubs.py)."""

import os
from typing import Any, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

PathLike = Union[str, os.PathLike]
Time = Union[float, int, str]
Span = Optional[Tuple[Time, Optional[Time]]]
Source = Union[PathLike, Tuple[PathLike, Optional[Sequence[Span]]], npt.ArrayLike]

class ViClip:
    @staticmethod
    def from_files(
        weights: PathLike,
        config: str = "viclip-l14",
        *,
        device: str = "cpu",
        dtype: str = "f32",
        batch_size: Optional[int] = None,
        text_batch_size: Optional[int] = None,
    ) -> "ViClip": ...
    @staticmethod
    def from_pretrained(
        name: str,
        *,
        device: str = "cpu",
        dtype: str = "f32",
        batch_size: Optional[int] = None,
        text_batch_size: Optional[int] = None,
    ) -> "ViClip": ...
    def embed_texts(self, texts: Sequence[str], *, normalize: bool = True) -> npt.NDArray[np.float32]: ...
    def tokenize(self, texts: Sequence[str]) -> npt.NDArray[np.int64]: ...
    def embed_videos(self, videos: npt.ArrayLike, *, normalize: bool = True) -> npt.NDArray[np.float32]: ...
    def embed_images(self, images: npt.ArrayLike, *, normalize: bool = True) -> npt.NDArray[np.float32]: ...
    def embed_clips(
        self,
        source: Union[Source, Sequence[Source]],
        spans: Optional[Sequence[Span]] = None,
        *,
        sampling: str = "middle",
        resize: str = "bicubic",
        batch_size: Optional[int] = None,
        decode_threads: Optional[int] = None,
        aesthetic: Optional["AestheticScorer"] = None,
        aesthetic_frames: int = 4,
        aesthetic_reduce: str = "max",
    ) -> List["Clip"]: ...
    def score_stream(
        self,
        items: Iterable[Tuple[Any, ...]],
        *,
        aesthetic: Optional["AestheticScorer"] = None,
        sampling: str = "middle",
        resize: str = "bicubic",
        batch_size: Optional[int] = None,
        text_batch_size: Optional[int] = None,
        decode_threads: Optional[int] = None,
        aesthetic_frames: int = 4,
        aesthetic_reduce: str = "max",
    ) -> "ScoreStream": ...
    @property
    def embedding_dim(self) -> int: ...
    @property
    def num_frames(self) -> int: ...
    @property
    def input_size(self) -> int: ...
    @property
    def context_length(self) -> int: ...
    @property
    def batch_size(self) -> int: ...
    @property
    def text_batch_size(self) -> int: ...
    @property
    def weights(self) -> Optional[str]: ...
    @property
    def identity(self) -> Optional[str]: ...

class AestheticScorer:
    @staticmethod
    def from_files(
        clip_weights: PathLike,
        head: PathLike,
        clip_config: str = "clip-vit-l14",
        *,
        head_kind: Optional[str] = None,
        device: str = "cpu",
        dtype: str = "f32",
        batch_size: int = 32,
    ) -> "AestheticScorer": ...
    def score_images(self, images: Iterable[Any]) -> npt.NDArray[np.float32]: ...
    def score_clips(
        self,
        source: Union[Source, Sequence[Source]],
        spans: Optional[Sequence[Span]] = None,
        *,
        frames: int = 4,
        reduce: str = "max",
        decode_threads: Optional[int] = None,
    ) -> List["Clip"]: ...
    @property
    def image_size(self) -> int: ...

class Clip:
    @property
    def index(self) -> int: ...
    @property
    def source_index(self) -> int: ...
    @property
    def source(self) -> str: ...
    @property
    def span(self) -> str: ...
    @property
    def embedding(self) -> Optional[npt.NDArray[np.float32]]: ...
    @property
    def info(self) -> Optional[dict]: ...
    @property
    def aesthetic(self) -> Optional[float]: ...
    @property
    def aesthetic_frames(self) -> Optional[Tuple[List[int], List[float]]]: ...
    @property
    def aesthetic_error(self) -> Optional[Exception]: ...
    @property
    def error(self) -> Optional[Exception]: ...
    @property
    def ok(self) -> bool: ...

class Scored:
    @property
    def index(self) -> int: ...
    @property
    def sim(self) -> Optional[float]: ...
    @property
    def aesthetic(self) -> Optional[float]: ...
    @property
    def aesthetic_error(self) -> Optional[Exception]: ...
    @property
    def info(self) -> Optional[dict]: ...
    @property
    def error(self) -> Optional[Exception]: ...
    @property
    def ok(self) -> bool: ...

class ScoreStream(Iterator[Scored]):
    """Lazily scored items, in input order. Ctrl-C while waiting, ``close()`` or leaving a ``with``
    block stops the scoring at its next video batch."""

    def __iter__(self) -> "ScoreStream": ...
    def __next__(self) -> Scored: ...
    def close(self) -> None:
        """Stops scoring and waits for the scoring thread to end; iterating then stops."""
    def __enter__(self) -> "ScoreStream": ...
    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool: ...

def frames_to_tensor(
    frames: Any, num_frames: int = 8, size: int = 224, *, bgr: bool = False
) -> npt.NDArray[np.float32]: ...
def _pools_started_in() -> Optional[int]: ...
