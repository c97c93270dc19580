//! The family document: one Automerge document per family, edited offline on every device of
//! every member and held authoritatively by the server.
//!
//! The rules that make this safe live here, in one place, so that a phone checks exactly what
//! the server will check:
//!
//! - [`schema`]: what the document holds (schema version 1) and typed access to it through
//!   autosurgeon. Reference data that changes often (prisons, rules, open slots) is *not* in the
//!   document: Automerge keeps every change forever.
//! - [`status`]: where a visit request, a registration, an appointment… stands, as a pure
//!   function of the *set* of its events. State changes are appended events, never overwritten
//!   fields, so concurrent offline edits merge to the same status everywhere.
//! - [`policy`]: which paths a family device may write and which only the server may write,
//!   checked on the diff between the document before and after a set of changes.
//! - [`mod@write`]: typed write helpers that make only changes the policy accepts (family side) and
//!   the server's own writes (decisions, steps, invitations…).
//! - [`mod@upgrade`]: moving an older document to the current schema version.
//!
//! Nothing here does I/O; callers own storage, clocks and transport. Functions that read
//! document data never panic on it: malformed data is an error or a policy violation.

pub mod erase;
pub mod incoming;
pub mod policy;
pub mod schema;
mod shape;
pub mod status;
pub mod upgrade;
pub mod write;

/// What the typed readers ([`read_entry`], [`read_collection`]) read into.
pub use autosurgeon::Hydrate;
pub use policy::{
    PolicyViolation, Writer, check_authorship, check_change, check_patches, check_patches_since,
};
pub use schema::*;
pub use upgrade::upgrade;

/// Everything that can go wrong reading or writing a family document. Each case has a stable
/// snake_case [`code`](DocError::code) that clients and the server may switch on.
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    /// Automerge refused an operation (e.g. an object id from another document).
    #[error("document operation failed: {0}")]
    Automerge(Box<automerge::AutomergeError>),
    /// The document does not have the shape of the schema.
    #[error("the document does not match the schema: {0}")]
    Schema(Box<autosurgeon::HydrateError>),
    /// Writing a typed value into the document failed.
    #[error("could not write into the document: {0}")]
    Reconcile(Box<autosurgeon::ReconcileError>),
    /// The path names nothing in the document (no such request, step, invitation…).
    #[error("nothing at {path}")]
    NotFound { path: String },
    /// The document was written by a newer version of reguide than this one.
    #[error("schema version {found} is newer than the supported {supported}")]
    SchemaTooNew { found: u64, supported: u64 },
    /// `schema_version` is there but not a non-negative integer.
    #[error("schema_version is not a non-negative integer")]
    InvalidSchemaVersion,
    /// The write would break the write policy; nothing was written.
    #[error(transparent)]
    Forbidden(#[from] PolicyViolation),
}

// The foreign errors are boxed to keep `Result<_, DocError>` small.
impl From<automerge::AutomergeError> for DocError {
    fn from(err: automerge::AutomergeError) -> Self {
        Self::Automerge(Box::new(err))
    }
}

impl From<autosurgeon::HydrateError> for DocError {
    fn from(err: autosurgeon::HydrateError) -> Self {
        Self::Schema(Box::new(err))
    }
}

impl From<autosurgeon::ReconcileError> for DocError {
    fn from(err: autosurgeon::ReconcileError) -> Self {
        Self::Reconcile(Box::new(err))
    }
}

impl DocError {
    /// The stable snake_case code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Automerge(_) => "document_error",
            Self::Schema(_) => "schema_mismatch",
            Self::Reconcile(_) => "document_write_failed",
            Self::NotFound { .. } => "not_found",
            Self::SchemaTooNew { .. } => "schema_too_new",
            Self::InvalidSchemaVersion => "invalid_schema_version",
            Self::Forbidden(violation) => violation.code,
        }
    }
}
