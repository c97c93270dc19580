//! What can go wrong in the client, each with a stable code the shells show and act on.

use reguide_protocol::doc::{DocError, PolicyViolation};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The server could not be reached, or did not answer in time. Local changes are kept.
    #[error("the server could not be reached: {0}")]
    Network(String),
    /// Something answered that is not the reguide server (a captive portal's login page, a
    /// proxy's error page). Local changes are kept.
    #[error("the answer did not come from the reguide server")]
    UnexpectedResponse,
    /// The server answered with an error; `code` is its stable error code.
    #[error("the server refused ({status} {code}): {message}")]
    Server {
        status: u16,
        code: String,
        message: String,
        field: Option<String>,
    },
    /// The device's session ended (expired, revoked, signed out elsewhere): sign in again.
    #[error("the session has ended: sign in again")]
    SessionExpired,
    /// Nobody is signed in on this store.
    #[error("nobody is signed in")]
    NotSignedIn,
    /// The family document has not reached this device yet: sync once first.
    #[error("the family's data has not been downloaded yet")]
    NotSyncedYet,
    /// The operation is not allowed to a family device (the same rule the server applies).
    #[error("not allowed: {0}")]
    Refused(PolicyViolation),
    /// The input is wrong; `field` names what.
    #[error("{message}")]
    Invalid {
        code: &'static str,
        field: &'static str,
        message: String,
    },
    /// The named entry is not in the family document.
    #[error("{what} is not in the family's data")]
    NotFound { what: &'static str },
    /// The document could not be read as the family document (an app too old for it, say).
    #[error("the family's data could not be read: {0}")]
    Document(String),
}

impl ClientError {
    /// The stable code of the error.
    pub fn code(&self) -> &str {
        match self {
            Self::Store(e) => e.code(),
            Self::Network(_) => "network_unavailable",
            Self::UnexpectedResponse => "unexpected_response",
            Self::Server { code, .. } => code,
            Self::SessionExpired => "session_expired",
            Self::NotSignedIn => "not_signed_in",
            Self::NotSyncedYet => "not_synced_yet",
            Self::Refused(violation) => violation.code,
            Self::Invalid { code, .. } => code,
            Self::NotFound { .. } => "not_found",
            Self::Document(_) => "document_unreadable",
        }
    }

    /// Whether trying again later may succeed (the scheduler retries these with backoff).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Network(_) | Self::UnexpectedResponse => true,
            Self::Server { status, .. } => *status >= 500 || *status == 429,
            Self::Store(StoreError::Io { .. }) => true,
            _ => false,
        }
    }
}

impl From<DocError> for ClientError {
    fn from(e: DocError) -> Self {
        match e {
            DocError::Forbidden(violation) => Self::Refused(violation),
            DocError::NotFound { .. } => Self::NotFound { what: "this entry" },
            other => Self::Document(other.to_string()),
        }
    }
}

pub type ClientResult<T> = Result<T, ClientError>;
