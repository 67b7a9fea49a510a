use std::io;

/// Why a scan could not run at all. Problems with single inputs are reported and counted in the
/// [`crate::Summary`] instead, so the other inputs are still scanned.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// Options that do not fit together, or a bad value.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Engine(#[from] guardline_detect::Error),
    #[error("key: {0}")]
    Key(String),
    #[error("{path}: {source}")]
    Path {
        path: String,
        #[source]
        source: io::Error,
    },
    /// Writing the report or the redacted output failed (a closed pipe, a full disk).
    #[error("writing output: {0}")]
    Output(#[source] io::Error),
}

impl ScanError {
    /// The reader of standard output went away (`guardline scan … | head`): not worth a message.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, ScanError::Output(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// Why one input could not be scanned to its end.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Csv(String),
    /// Writing the redacted copy failed.
    #[error("writing redacted output: {0}")]
    Write(#[source] io::Error),
    #[error("cancelled")]
    Cancelled,
}

impl From<csv::Error> for InputError {
    fn from(e: csv::Error) -> Self {
        if !e.is_io_error() {
            return InputError::Csv(e.to_string());
        }
        match e.into_kind() {
            csv::ErrorKind::Io(io) => InputError::Io(io),
            other => InputError::Csv(format!("{other:?}")),
        }
    }
}
