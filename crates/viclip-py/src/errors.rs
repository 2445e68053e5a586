//! viclip's errors as Python exceptions: each [`viclip::Error`] variant becomes the
//! `viclip.errors` class that fits (all subclasses of `viclip.Error` and of a built-in), carrying the
//! library's message. [`viclip::Error::Interrupted`] becomes `KeyboardInterrupt`.

use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// The `viclip.errors` class names, one per kind of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A file that is not there.
    NotFound,
    /// Any other I/O failure.
    Io,
    /// Wrong input or option.
    InvalidInput,
    /// A checkpoint that does not fit.
    Checkpoint,
    /// A bad config.
    Config,
    /// A video or image that cannot be decoded.
    Decode,
    /// A clip that does not fit its video.
    Clip,
    /// A device or resource not available.
    Device,
    /// A failed download.
    Download,
    /// The model failing, or a bug.
    Model,
    /// Use after `fork()`.
    Fork,
}

impl Kind {
    fn class_name(self) -> &'static str {
        match self {
            Kind::NotFound => "FileNotFoundError",
            Kind::Io => "IOError",
            Kind::InvalidInput => "InvalidInputError",
            Kind::Checkpoint => "CheckpointError",
            Kind::Config => "ConfigError",
            Kind::Decode => "DecodeError",
            Kind::Clip => "ClipError",
            Kind::Device => "DeviceError",
            Kind::Download => "DownloadError",
            Kind::Model => "ModelError",
            Kind::Fork => "ForkError",
        }
    }

    /// The kind of a library error.
    pub fn of(e: &viclip::Error) -> Kind {
        use viclip::Error as E;
        match e {
            E::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => Kind::NotFound,
            // A video that is not there is a decode error in the core, but a missing file to Python.
            E::Decode { path, .. } if !path.exists() => Kind::NotFound,
            E::Io { .. } => Kind::Io,
            E::InvalidInput(_) | E::Setting { .. } => Kind::InvalidInput,
            E::Checkpoint { .. }
            | E::MissingTensor { .. }
            | E::UnexpectedTensor { .. }
            | E::ShapeMismatch { .. }
            | E::UnsupportedDType { .. }
            | E::Checksum { .. }
            | E::UnknownHead { .. } => Kind::Checkpoint,
            E::Config { .. } | E::Vocab { .. } => Kind::Config,
            E::Decode { .. } | E::ImageDecode { .. } => Kind::Decode,
            E::Span { .. } | E::Sampling { .. } | E::TooFewFrames { .. } => Kind::Clip,
            E::Device { .. } | E::Resource { .. } => Kind::Device,
            E::Download { .. } => Kind::Download,
            _ => Kind::Model,
        }
    }
}

/// The exception class of `kind` from `viclip.errors` (imported once).
fn class(py: Python<'_>, kind: Kind) -> PyResult<Bound<'_, PyType>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let module = MODULE.get_or_try_init(py, || {
        PyModule::import(py, "viclip.errors").map(Bound::unbind)
    })?;
    Ok(module
        .bind(py)
        .getattr(kind.class_name())?
        .cast_into::<PyType>()?)
}

/// An exception of `kind` with `msg`.
pub fn new_err(py: Python<'_>, kind: Kind, msg: String) -> PyErr {
    match class(py, kind) {
        Ok(ty) => PyErr::from_type(ty, msg),
        Err(e) => e,
    }
}

/// The Python exception for a library error.
pub fn to_py(py: Python<'_>, e: viclip::Error) -> PyErr {
    if matches!(e, viclip::Error::Interrupted) {
        return PyKeyboardInterrupt::new_err("interrupted between two batches");
    }
    new_err(py, Kind::of(&e), e.to_string())
}

/// The exception instance (not raised) for one clip's error, for per-clip results.
pub fn to_instance(py: Python<'_>, e: viclip::Error) -> Py<PyAny> {
    to_py(py, e).into_value(py).into_any()
}

/// `viclip::Result<T>` → `PyResult<T>`.
pub trait IntoPy<T> {
    /// Maps the error to its Python exception.
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPy<T> for viclip::Result<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}

/// An [`Kind::InvalidInput`] error with `msg`.
pub fn invalid(py: Python<'_>, msg: impl Into<String>) -> PyErr {
    new_err(py, Kind::InvalidInput, msg.into())
}
