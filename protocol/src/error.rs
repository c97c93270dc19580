//! The error body every failing API call answers with.

use serde::{Deserialize, Serialize};

/// `{"error": "<stable_snake_case_code>", "message": "..."}`. Clients switch on `error`; the
/// message is for humans and may change. `field` names the input that was wrong, where one was.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// Stable snake_case code, e.g. `invalid_credentials`, `family_not_found`.
    pub error: String,
    /// Human-readable explanation.
    pub message: String,
    /// The input field that was wrong, when one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}
