"""The exceptions viclip raises: every one is a :class:`viclip.Error`, and also the built-in
exception that fits, so ``except FileNotFoundError`` and ``except ValueError`` keep working.

=========================  ============================  =========================================
class                      also a                        raised for
=========================  ============================  =========================================
``Error``                  ``Exception``                 the base of all of them
``FileNotFoundError``      ``builtins.FileNotFoundError``  a checkpoint, config or image not there
``IOError``                ``OSError``                   any other failure to read or write a file
``InvalidInputError``      ``ValueError``                a wrong shape, dtype, value or option
``CheckpointError``        ``ValueError``                a checkpoint that does not fit the config
``ConfigError``            ``ValueError``                a bad config file or preset name
``DecodeError``            ``ValueError``                a video or image that cannot be decoded
``ClipError``              ``ValueError``                a span outside its video, too few frames
``DeviceError``            ``RuntimeError``              a device or resource that is not there
``DownloadError``          ``ConnectionError``           a checkpoint that cannot be downloaded
``ModelError``             ``RuntimeError``              the model failing, or an internal bug
``ForkError``              ``RuntimeError``              use in a ``fork()`` child after the parent
                                                         started viclip's thread pools
=========================  ============================  =========================================

Ctrl-C during a call raises the built-in :class:`KeyboardInterrupt`, as everywhere in Python.
"""

import builtins

__all__ = [
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
]


class Error(Exception):
    """Base class of every exception viclip raises; its message is the library's, naming the
    file, tensor, row or option and what would fix it."""


class FileNotFoundError(Error, builtins.FileNotFoundError):
    """A file viclip was asked to read does not exist."""


class IOError(Error, builtins.OSError):
    """Reading or writing a file failed for another reason than its absence."""


class InvalidInputError(Error, builtins.ValueError):
    """An input has the wrong shape, dtype or content, or an option a value it does not allow."""


class CheckpointError(Error, builtins.ValueError):
    """A checkpoint cannot be read or does not match the config (missing, unexpected or
    mis-shaped tensors, a wrong checksum, an unknown aesthetic head)."""


class ConfigError(Error, builtins.ValueError):
    """A config file or preset name is invalid."""


class DecodeError(Error, builtins.ValueError):
    """A video or image cannot be opened or decoded."""


class ClipError(Error, builtins.ValueError):
    """A clip does not fit its video (span outside it) or has too few frames for the sampling."""


class DeviceError(Error, builtins.RuntimeError):
    """The device asked for is not available, or the system refused a resource (threads)."""


class DownloadError(Error, builtins.ConnectionError):
    """A released checkpoint could not be downloaded."""


class ModelError(Error, builtins.RuntimeError):
    """The model failed while computing, or an internal invariant broke (a bug: please report)."""


class ForkError(Error, builtins.RuntimeError):
    """viclip was used in this process's parent before ``fork()``: its thread pools do not
    survive a fork. Start worker processes with ``spawn`` (``multiprocessing.get_context("spawn")``,
    ``DataLoader(..., multiprocessing_context="spawn")``)."""
