//! The server's one error type. Every variant has a stable snake_case code on the wire; internal
//! causes are logged with the request id and never sent to the client.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use reguide_protocol::ErrorBody;

pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the input is wrong; `code` names what, `field` names where.
    #[error("{message}")]
    Invalid {
        code: &'static str,
        field: Option<Cow<'static, str>>,
        message: Cow<'static, str>,
    },
    /// 401: no valid credentials came with the request.
    #[error("sign in first: this needs a valid bearer token")]
    Unauthenticated,
    /// 401: email (or username) and password do not match an active account. Deliberately says
    /// nothing about which of the two was wrong.
    #[error("the email or password is not right")]
    InvalidCredentials,
    /// 403: signed in, but this role or scope may not do this.
    #[error("{0}")]
    Forbidden(Cow<'static, str>),
    /// 403 with its own code (and, for a write-policy violation, the path in `field`).
    #[error("{message}")]
    Refused {
        code: &'static str,
        field: Option<String>,
        message: Cow<'static, str>,
    },
    /// 404: the named thing does not exist or is not visible to the caller.
    #[error("{message}")]
    NotFound {
        code: &'static str,
        message: Cow<'static, str>,
    },
    /// 409: the request clashes with what is stored.
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: Cow<'static, str>,
    },
    /// 413.
    #[error("the request body is larger than the {limit} bytes this endpoint accepts")]
    PayloadTooLarge { limit: usize },
    /// 415.
    #[error("send the body as application/json")]
    UnsupportedMediaType,
    /// 415, for endpoints whose body is not JSON.
    #[error("send the body as {expected}")]
    UnsupportedMediaTypeOf { expected: &'static str },
    /// 429: too many failed attempts; try again after `retry_after_secs`.
    #[error("too many failed attempts; try again later")]
    TooManyAttempts { retry_after_secs: u64 },
    /// 429: this client (device, web session or address) sent more requests than it may.
    #[error("too many requests; slow down and try again later")]
    TooManyRequests { retry_after_secs: u64 },
    /// 503: the database cannot be reached.
    #[error("the service is temporarily unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// 500: a bug or an unexpected failure.
    #[error("something went wrong on our side")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn invalid(
        code: &'static str,
        field: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::Invalid {
            code,
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::Invalid {
            code,
            field: None,
            message: message.into(),
        }
    }

    pub fn not_found(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::NotFound {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }

    /// 403 with a code of its own, e.g. `device_required`.
    pub fn refused(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::Refused {
            code,
            field: None,
            message: message.into(),
        }
    }

    pub fn forbidden() -> Self {
        Self::Forbidden("your role does not allow this".into())
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }

    /// The stable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { code, .. }
            | Self::Refused { code, .. }
            | Self::NotFound { code, .. }
            | Self::Conflict { code, .. } => code,
            Self::Unauthenticated => "unauthenticated",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Forbidden(_) => "forbidden",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType | Self::UnsupportedMediaTypeOf { .. } => {
                "unsupported_media_type"
            }
            Self::TooManyAttempts { .. } => "too_many_attempts",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::Unavailable(_) => "service_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    /// Logs what went wrong on our side (nothing for the caller's mistakes). Causes are built
    /// to hold no personal data (see `redacted_db_error`).
    pub fn log_cause(&self) {
        match self {
            Self::Internal(cause) => tracing::error!(error = %cause, "internal error"),
            Self::Unavailable(cause) => tracing::warn!(error = %cause, "database unavailable"),
            _ => {}
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code().to_owned(),
            message: self.to_string(),
            field: match self {
                Self::Invalid { field, .. } => field.as_ref().map(|f| f.to_string()),
                Self::Refused { field, .. } => field.clone(),
                _ => None,
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Invalid { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthenticated | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::Refused { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType | Self::UnsupportedMediaTypeOf { .. } => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Self::TooManyAttempts { .. } | Self::TooManyRequests { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.log_cause();
        let mut response = HttpResponse::build(self.status_code()).json(self.body());
        if let Self::TooManyAttempts { retry_after_secs }
        | Self::TooManyRequests { retry_after_secs } = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        if matches!(self, Self::Unauthenticated | Self::InvalidCredentials) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            // The database went away under a pooled connection (a restart, a failover): the
            // pool replaces the connection at its next checkout; the caller may try again.
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            ) => Self::Unavailable(anyhow::anyhow!(redacted_db_error(&e))),
            e => Self::Internal(anyhow::anyhow!(redacted_db_error(&e))),
        }
    }
}

/// A description of a database error that is safe to log: PostgreSQL's messages and details can
/// quote the offending values (an email, a name), so only the kind, table and constraint remain.
pub fn redacted_db_error(e: &diesel::result::Error) -> String {
    match e {
        diesel::result::Error::DatabaseError(kind, info) => format!(
            "database error {kind:?} (table {:?}, constraint {:?})",
            info.table_name(),
            info.constraint_name()
        ),
        other => format!("database error: {other}"),
    }
}

impl From<diesel::r2d2::PoolError> for ApiError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        Self::Unavailable(e.into())
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::Internal(anyhow::anyhow!("blocking task failed: {e}"))
    }
}

/// True when a diesel error is a unique-constraint violation.
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}
