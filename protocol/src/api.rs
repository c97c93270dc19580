//! JSON wire types of the `/api/v1` endpoints. Requests refuse unknown fields, so a typo in a
//! client is an error and never silently ignored.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    AccountId, DetaineeId, DeviceId, FamilyId, Language, MemberId, PrisonId, Role, RoleGrantId,
};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// `GET /health` and `GET /ready`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Health {
    pub status: String,
}

// ---------------------------------------------------------------- auth

/// `POST /api/v1/auth/login`. `email` also accepts the username given at enrolment to people
/// who have no email address.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// Names the device to enrol ("Amina's phone"); without it the token is a plain session.
    #[serde(default)]
    pub device_name: Option<String>,
    /// Signs in again on a device this account enrolled before (after its token expired): the
    /// token is that device's and the device keeps its id and Automerge actor id, so the changes
    /// it made offline still sync. When the device is not this account's or was revoked, a new
    /// device is enrolled instead (with `device_name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<DeviceId>,
}

/// A bearer token and what it is bound to.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenResponse {
    /// Opaque; send as `Authorization: Bearer <token>`. Shown once, stored hashed.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub account_id: AccountId,
    /// Set when the token belongs to an enrolled device.
    pub device: Option<Device>,
}

/// `POST /api/v1/auth/enrol`: redeem a one-time code handed out by a social worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EnrolRequest {
    pub code: String,
    pub password: String,
    pub device_name: String,
    /// Optional: people without an email address sign in with the username they get back.
    #[serde(default)]
    pub email: Option<String>,
}

/// The answer to a successful enrolment.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EnrolResponse {
    #[serde(flatten)]
    pub session: TokenResponse,
    /// Signs in like an email address; the only login name of people without one.
    pub username: String,
    pub family_id: FamilyId,
    pub member_id: MemberId,
}

/// An enrolled device. Each has its own token and its own Automerge actor id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Device {
    pub id: DeviceId,
    pub name: String,
    /// Hex Automerge actor id this device must sign its changes with.
    pub actor_id: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// `GET /api/v1/me`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Me {
    pub account_id: AccountId,
    pub email: Option<String>,
    pub username: String,
    pub display_name: String,
    pub preferred_language: Language,
    pub roles: Vec<RoleGrant>,
    /// Families this account belongs to as a family member.
    pub member_of: Vec<Membership>,
    /// Families in this account's caseload as a social worker.
    pub caseload: Vec<FamilyId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Membership {
    pub family_id: FamilyId,
    pub member_id: MemberId,
}

// ---------------------------------------------------------------- roles and accounts

/// A role held by an account, with its scope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RoleGrant {
    pub id: RoleGrantId,
    pub role: Role,
    /// Set for `coordinator`.
    pub prison_id: Option<PrisonId>,
    /// Set for `family_member`.
    pub family_id: Option<FamilyId>,
}

/// A role to grant. `coordinator` needs `prison_id`; the others take no scope (a family member
/// is made by linking an account to a member, through enrolment).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewRoleGrant {
    pub role: Role,
    #[serde(default)]
    pub prison_id: Option<PrisonId>,
}

/// `POST /api/v1/admin/accounts`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewAccount {
    pub email: String,
    pub display_name: String,
    /// At least 10 characters.
    pub password: String,
    #[serde(default)]
    pub preferred_language: Option<Language>,
    #[serde(default)]
    pub roles: Vec<NewRoleGrant>,
}

/// `PATCH /api/v1/admin/accounts/{id}`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AccountUpdate {
    #[serde(default)]
    pub display_name: Option<String>,
    /// Disabling an account also revokes all its tokens.
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// An account as an admin sees it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Account {
    pub id: AccountId,
    pub email: Option<String>,
    pub username: String,
    pub display_name: String,
    pub preferred_language: Language,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub roles: Vec<RoleGrant>,
    pub caseload: Vec<FamilyId>,
}

/// `PUT /api/v1/admin/accounts/{id}/caseload/{family_id}` has no body; this is the list form.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Caseload {
    pub account_id: AccountId,
    pub families: Vec<FamilyId>,
}

// ---------------------------------------------------------------- families

/// How a member is related to the detained person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum Relation {
    Parent,
    Partner,
    Child,
    Sibling,
    Grandparent,
    OtherFamily,
    Other,
}

impl Relation {
    pub const ALL: [Relation; 7] = [
        Self::Parent,
        Self::Partner,
        Self::Child,
        Self::Sibling,
        Self::Grandparent,
        Self::OtherFamily,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Parent => "parent",
            Self::Partner => "partner",
            Self::Child => "child",
            Self::Sibling => "sibling",
            Self::Grandparent => "grandparent",
            Self::OtherFamily => "other_family",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// `POST /api/v1/families`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewFamily {
    /// How staff refer to the family, e.g. "Family of Y. Benali".
    pub label: String,
}

/// A family with its members and the detained people it is linked to.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Family {
    pub id: FamilyId,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub members: Vec<Member>,
    pub detainees: Vec<Detainee>,
    /// When the case was closed; a closed case is deleted after the retention period unless it
    /// is reopened.
    #[serde(default)]
    pub closed_at: Option<DateTime<Utc>>,
}

/// A short line per family, for lists.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FamilySummary {
    pub id: FamilyId,
    pub label: String,
    pub member_count: i64,
}

/// `POST /api/v1/families/{id}/members`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewMember {
    pub display_name: String,
    pub relation: Relation,
    pub preferred_language: Language,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// Needed for visits: children count differently from adults.
    #[serde(default)]
    pub birth_date: Option<NaiveDate>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Member {
    pub id: MemberId,
    pub display_name: String,
    pub relation: Relation,
    pub preferred_language: Language,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub birth_date: Option<NaiveDate>,
    /// Whether this member has an account (enrolled or invited).
    pub has_account: bool,
}

/// `POST /api/v1/families/{id}/detainees`: links a detained person, creating them if the prison
/// does not know this internal number yet.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewDetainee {
    pub full_name: String,
    pub prison_id: PrisonId,
    pub internal_number: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Detainee {
    pub id: DetaineeId,
    pub full_name: String,
    pub prison_id: PrisonId,
    pub internal_number: String,
}

/// A one-time code that lets a family member set a password and enrol a device.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EnrolmentCode {
    /// Shown once; hand it over on paper. Stored hashed.
    pub code: String,
    pub member_id: MemberId,
    pub expires_at: DateTime<Utc>,
}

// ---------------------------------------------------------------- prisons

/// `POST /api/v1/admin/prisons`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewPrison {
    pub name: String,
    pub city: String,
    /// IANA time zone; Belgian prisons use `Europe/Brussels`.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
}

fn default_time_zone() -> String {
    "Europe/Brussels".to_owned()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Prison {
    pub id: PrisonId,
    pub name: String,
    pub city: String,
    pub time_zone: String,
}

// ---------------------------------------------------------------- audit

/// One line of the audit log. It names accounts and objects by id only.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_account_id: Option<AccountId>,
    /// e.g. `login_succeeded`, `login_failed`, `role_granted`, `account_created`.
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
}

/// A page of audit entries, newest first. Pass `next_before` as `before` for the next page.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next_before: Option<i64>,
}
