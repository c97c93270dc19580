//! The one error the shells see, converted from the client core's in one place, and the guard
//! that turns a panic inside into that error instead of letting it cross the boundary.

use std::panic::{AssertUnwindSafe, catch_unwind};

use reguide_client_core::ClientError;

/// What went wrong, by what the shell does about it. Every variant carries the stable `code`
/// the client core and the server use (`network_unavailable`, `session_expired`,
/// `step_not_family_owned`, `invalid_value`, `wrong_key`…).
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum CompanionError {
    /// No answer from the server, or an answer that is not the server's (a captive portal):
    /// the change is kept and sync is tried again later.
    #[error("offline ({code}): {message}")]
    Offline { code: String, message: String },
    /// Nobody is signed in, the password is wrong, or the session ended: sign in again.
    #[error("unauthorized ({code}): {message}")]
    Unauthorized { code: String, message: String },
    /// The family may not do this (the write policy's or the server's reason in `code`;
    /// `path` names the place in the family's data a policy refusal is about).
    #[error("not allowed ({code}): {message}")]
    NotAllowed {
        code: String,
        path: Option<String>,
        message: String,
    },
    /// The input is wrong: `field` names which one.
    #[error("invalid {field} ({code}): {message}")]
    InvalidInput {
        code: String,
        field: String,
        message: String,
    },
    /// The data folder could not be used, is damaged, or the key does not open it.
    #[error("storage ({code}): {message}")]
    Storage { code: String, message: String },
    /// The server refused for another reason, or failed (`status` is the HTTP status).
    #[error("server ({code}, {status}): {message}")]
    Server {
        status: u16,
        code: String,
        message: String,
    },
    /// A fault inside the library (a bug): reported, never a crash of the app.
    #[error("internal error: {message}")]
    Internal { message: String },
}

pub type CompanionResult<T> = Result<T, CompanionError>;

impl CompanionError {
    pub(crate) fn invalid(code: &str, field: &str, message: impl Into<String>) -> Self {
        Self::InvalidInput {
            code: code.to_owned(),
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl From<ClientError> for CompanionError {
    fn from(e: ClientError) -> Self {
        let code = e.code().to_owned();
        let message = e.to_string();
        match e {
            ClientError::Store(_) => Self::Storage { code, message },
            ClientError::Network(_) | ClientError::UnexpectedResponse => {
                Self::Offline { code, message }
            }
            ClientError::NotSyncedYet => Self::Offline { code, message },
            ClientError::SessionExpired | ClientError::NotSignedIn => {
                Self::Unauthorized { code, message }
            }
            ClientError::Refused(violation) => Self::NotAllowed {
                code,
                path: Some(violation.path),
                message,
            },
            ClientError::Invalid { field, .. } => Self::InvalidInput {
                code,
                field: field.to_owned(),
                message,
            },
            ClientError::NotFound { .. } => Self::InvalidInput {
                code,
                field: "id".to_owned(),
                message,
            },
            ClientError::Document(_) => Self::Storage { code, message },
            ClientError::Server {
                status,
                field,
                message,
                ..
            } => match status {
                401 => Self::Unauthorized { code, message },
                403 => Self::NotAllowed {
                    code,
                    path: None,
                    message,
                },
                400 | 422 => Self::InvalidInput {
                    code,
                    field: field.unwrap_or_default(),
                    message,
                },
                _ => Self::Server {
                    status,
                    code,
                    message,
                },
            },
        }
    }
}

/// Runs `f`; a panic inside becomes [`CompanionError::Internal`].
pub(crate) fn guard<T>(f: impl FnOnce() -> CompanionResult<T>) -> CompanionResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(panic) => Err(CompanionError::Internal {
            message: panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_becomes_an_internal_error() {
        let err = guard::<()>(|| panic!("boom")).expect_err("caught");
        assert!(matches!(err, CompanionError::Internal { message } if message == "boom"));
        let err = guard::<()>(|| panic!("{} went wrong", 2)).expect_err("caught");
        assert!(matches!(err, CompanionError::Internal { message } if message == "2 went wrong"));
        assert_eq!(guard(|| Ok(7)).expect("no panic"), 7);
    }

    #[test]
    fn every_core_error_has_its_kind_and_code() {
        use reguide_client_core::StoreError;
        let cases: Vec<(ClientError, &str, &str)> = vec![
            (
                ClientError::Network("down".into()),
                "Offline",
                "network_unavailable",
            ),
            (
                ClientError::UnexpectedResponse,
                "Offline",
                "unexpected_response",
            ),
            (ClientError::NotSyncedYet, "Offline", "not_synced_yet"),
            (
                ClientError::SessionExpired,
                "Unauthorized",
                "session_expired",
            ),
            (ClientError::NotSignedIn, "Unauthorized", "not_signed_in"),
            (
                ClientError::Store(StoreError::WrongKey),
                "Storage",
                "wrong_key",
            ),
            (
                ClientError::Invalid {
                    code: "invalid_value",
                    field: "text",
                    message: "empty".into(),
                },
                "InvalidInput",
                "invalid_value",
            ),
            (
                ClientError::NotFound { what: "this step" },
                "InvalidInput",
                "not_found",
            ),
            (
                ClientError::Server {
                    status: 403,
                    code: "not_a_family_member".into(),
                    message: "staff".into(),
                    field: None,
                },
                "NotAllowed",
                "not_a_family_member",
            ),
            (
                ClientError::Server {
                    status: 409,
                    code: "already_waiting".into(),
                    message: "twice".into(),
                    field: None,
                },
                "Server",
                "already_waiting",
            ),
        ];
        for (core, kind, code) in cases {
            let converted = CompanionError::from(core);
            let (got_kind, got_code) = match &converted {
                CompanionError::Offline { code, .. } => ("Offline", code),
                CompanionError::Unauthorized { code, .. } => ("Unauthorized", code),
                CompanionError::NotAllowed { code, .. } => ("NotAllowed", code),
                CompanionError::InvalidInput { code, .. } => ("InvalidInput", code),
                CompanionError::Storage { code, .. } => ("Storage", code),
                CompanionError::Server { code, .. } => ("Server", code),
                CompanionError::Internal { .. } => ("Internal", &String::new()),
            };
            assert_eq!((got_kind, got_code.as_str()), (kind, code), "{converted}");
        }
    }
}
