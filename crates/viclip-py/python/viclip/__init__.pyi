from . import compat as compat
from . import errors as errors
from ._viclip import AestheticScorer as AestheticScorer
from ._viclip import Clip as Clip
from ._viclip import Scored as Scored
from ._viclip import ScoreStream as ScoreStream
from ._viclip import ViClip as ViClip
from ._viclip import __version__ as __version__
from .errors import CheckpointError as CheckpointError
from .errors import ClipError as ClipError
from .errors import ConfigError as ConfigError
from .errors import DecodeError as DecodeError
from .errors import DeviceError as DeviceError
from .errors import DownloadError as DownloadError
from .errors import Error as Error
from .errors import FileNotFoundError as FileNotFoundError
from .errors import ForkError as ForkError
from .errors import InvalidInputError as InvalidInputError
from .errors import IOError as IOError
from .errors import ModelError as ModelError

__all__: list
