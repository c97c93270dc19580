//! Email: a person's preferences, and the outbox as administrators see it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::Language;

/// One kind of message and whether the person receives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EmailKindSetting {
    /// e.g. `visit_reminder`.
    pub kind: String,
    /// Essential messages (decisions, cancellations, offers, codes) cannot be turned off.
    pub essential: bool,
    pub enabled: bool,
}

/// `GET /api/v1/me/email`: where and in which language the signed-in person gets email, and
/// which kinds they turned off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EmailPreferences {
    pub address: Option<String>,
    pub language: Language,
    pub kinds: Vec<EmailKindSetting>,
}

/// `PUT /api/v1/me/email`: the language, and the non-essential kinds to turn off (all others
/// are on).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EmailPreferencesUpdate {
    #[serde(default)]
    pub language: Option<Language>,
    pub turned_off: Vec<String>,
}

/// A message in the outbox, for administrators.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OutboxMessage {
    pub id: String,
    pub kind: String,
    /// `pending`, `sent`, `dead` or `cancelled`.
    pub state: String,
    pub to_address: String,
    pub language: Language,
    pub subject: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub send_after: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}
