//! Requests about personal data (GDPR art. 15 and 17): a copy of everything held about a family
//! member, or its erasure. Asked by the member or their social worker; carried out or refused by
//! an administrator.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::visits::wire_enum;
use crate::{FamilyId, MemberId};

wire_enum!(
    /// What is asked.
    PrivacyKind {
        Export = "export",
        Erasure = "erasure",
    }
);

wire_enum!(
    /// Where a request stands.
    PrivacyState {
        Open = "open",
        Done = "done",
        Refused = "refused",
    }
);

/// `POST /api/v1/privacy-requests`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewPrivacyRequest {
    pub member_id: MemberId,
    pub kind: PrivacyKind,
    /// Anything the administrator should know (at most 1,000 characters).
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PrivacyRequest {
    pub id: uuid::Uuid,
    pub kind: PrivacyKind,
    /// After an erasure, an id that points to nobody.
    pub member_id: MemberId,
    pub family_id: FamilyId,
    pub state: PrivacyState,
    pub note: String,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// `POST /api/v1/admin/privacy-requests/{id}/refuse`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PrivacyRefusal {
    /// Why, for the person who asked.
    pub note: String,
}
