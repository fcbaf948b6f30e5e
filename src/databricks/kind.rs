//! TEMPORARY (replaced by the client branch's `ErrorKind` in error.rs when merged).

use super::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Unauthenticated,
    PermissionDenied,
    NotFound,
    AlreadyExists,
    InvalidRequest,
    Unavailable,
    Sql,
    HostNotAllowed,
    UnexpectedResponse,
    Configuration,
    Other,
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Unauthenticated { .. } | Error::OAuth { .. } => ErrorKind::Unauthenticated,
            Error::PermissionDenied { .. } => ErrorKind::PermissionDenied,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Error::InvalidParameter { .. } => ErrorKind::InvalidRequest,
            Error::Sql { .. } => ErrorKind::Sql,
            Error::Config(_) => ErrorKind::Configuration,
            Error::Protocol { .. } => ErrorKind::UnexpectedResponse,
            e if e.is_retryable() => ErrorKind::Unavailable,
            _ => ErrorKind::Other,
        }
    }

    pub fn sql_state(&self) -> Option<&str> {
        match self {
            Error::Sql { sql_state, .. } => sql_state.as_deref(),
            _ => None,
        }
    }
}
