//! Prisons' visit rules, sessions, slots and visit requests, as the API carries them.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AccountId, DetaineeId, FamilyId, Language, MemberId, PrisonId};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// Text in several languages, keyed by language code: `{"fr": "…", "nl": "…"}`.
pub type LocalizedText = BTreeMap<Language, String>;

/// Picks the text for `lang`, falling back to English, then to any language there is.
pub fn pick(text: &LocalizedText, lang: Language) -> Option<&str> {
    text.get(&lang)
        .or_else(|| text.get(&Language::En))
        .or_else(|| text.values().next())
        .map(String::as_str)
}

macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[cfg_attr(feature = "openapi", derive(ToSchema))]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$(Self::$variant),*];

            /// The stable name, as stored and sent on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),* }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum!(
    /// Kinds of visit. `unsupervised` is the Belgian "ongestoord bezoek" / "visite hors
    /// surveillance" (close family, at least monthly). Family days are booked as events of their
    /// own, not through visit requests.
    VisitType {
        Table = "table",
        Closed = "closed",
        Unsupervised = "unsupervised",
        Video = "video",
        FamilyDay = "family_day",
    }
);

wire_enum!(
    /// Where a visit request stands.
    VisitStatus {
        Pending = "pending",
        Proposed = "proposed",
        Confirmed = "confirmed",
        Declined = "declined",
        Withdrawn = "withdrawn",
        Cancelled = "cancelled",
    }
);

impl VisitStatus {
    /// Whether the request still holds or seeks a place.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Pending | Self::Proposed | Self::Confirmed)
    }
}

wire_enum!(
    /// How a request reached the prison.
    Channel {
        App = "app",
        Phone = "phone",
        InPerson = "in_person",
        Detainee = "detainee",
    }
);

wire_enum!(
    /// Why a coordinator declined a request.
    DeclineReason {
        NoCapacity = "no_capacity",
        VisitorNotApproved = "visitor_not_approved",
        Restriction = "restriction",
        OutsideBookingWindow = "outside_booking_window",
        Other = "other",
    }
);

wire_enum!(
    /// Help a visitor needs on the day.
    SupportNeed {
        Wheelchair = "wheelchair",
        Interpreter = "interpreter",
        HearingSupport = "hearing_support",
        VisualSupport = "visual_support",
        Pram = "pram",
        Other = "other",
    }
);

wire_enum!(
    /// A member's standing on a detained person's visitor list.
    ApprovalStatus {
        Approved = "approved",
        Pending = "pending",
        Refused = "refused",
    }
);

wire_enum!(
    /// Why a visitor is (to be) on the list: close family on proof of kinship, others after the
    /// prison director's approval.
    ApprovalBasis {
        KinshipProof = "kinship_proof",
        DirectorApproval = "director_approval",
    }
);

wire_enum!(
    /// Where a waiting-list entry stands.
    WaitlistStatus {
        Waiting = "waiting",
        Offered = "offered",
        Accepted = "accepted",
        Declined = "declined",
        Expired = "expired",
        Cancelled = "cancelled",
    }
);

/// How a prison runs one visit type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VisitRules {
    pub visit_type: VisitType,
    /// A request must come at least this many hours before the visit starts.
    pub min_notice_hours: i32,
    /// And at most this many days ahead.
    pub max_days_ahead: i32,
    pub max_visitors: i32,
    pub max_adults: i32,
    pub max_children: i32,
    /// From this age a visitor counts as an adult.
    pub adult_from_age: i32,
    /// Confirm at once while places remain; otherwise every request waits for a coordinator.
    pub auto_confirm: bool,
    /// Families may cancel until this many hours before the visit.
    pub cancel_cutoff_hours: i32,
}

/// A prison with everything a family needs to prepare a visit.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PrisonDetail {
    pub id: PrisonId,
    pub name: String,
    pub city: String,
    pub address: String,
    pub time_zone: String,
    pub languages: Vec<Language>,
    pub contact_phone: Option<String>,
    pub contact_email: Option<String>,
    /// e.g. "Come 30 minutes early."
    pub arrival_advice: LocalizedText,
    /// e.g. "Your identity card. No phones inside."
    pub what_to_bring: LocalizedText,
    pub accessibility: LocalizedText,
    pub rules: Vec<VisitRules>,
}

/// `PUT /api/v1/prisons/{id}`: the practical information of a prison.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PrisonInfo {
    pub name: String,
    pub city: String,
    pub address: String,
    pub languages: Vec<Language>,
    #[serde(default)]
    pub contact_phone: Option<String>,
    #[serde(default)]
    pub contact_email: Option<String>,
    #[serde(default)]
    pub arrival_advice: LocalizedText,
    #[serde(default)]
    pub what_to_bring: LocalizedText,
    #[serde(default)]
    pub accessibility: LocalizedText,
}

/// Places of one visit type in a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SessionCapacity {
    pub visit_type: VisitType,
    pub capacity: i32,
}

/// `POST /api/v1/prisons/{id}/session-templates`: a weekly visiting session.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewSessionTemplate {
    /// ISO weekday: 1 = Monday … 7 = Sunday.
    pub weekday: u8,
    /// Local time in the prison's zone, `HH:MM`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "14:00"))]
    pub starts_at: NaiveTime,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "15:30"))]
    pub ends_at: NaiveTime,
    /// 1 = every week, 2 = every other week (counted from `valid_from`)…
    #[serde(default = "one")]
    pub every_weeks: u8,
    pub valid_from: NaiveDate,
    #[serde(default)]
    pub valid_to: Option<NaiveDate>,
    pub room: String,
    pub capacities: Vec<SessionCapacity>,
}

fn one() -> u8 {
    1
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SessionTemplate {
    pub id: uuid::Uuid,
    pub prison_id: PrisonId,
    pub weekday: u8,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "14:00"))]
    pub starts_at: NaiveTime,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "15:30"))]
    pub ends_at: NaiveTime,
    pub every_weeks: u8,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub room: String,
    pub capacities: Vec<SessionCapacity>,
}

/// `POST /api/v1/prisons/{id}/blocked-dates`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewBlockedDate {
    pub date: NaiveDate,
    /// Block one session only; without it the whole prison is closed for visits that day.
    #[serde(default)]
    pub template_id: Option<uuid::Uuid>,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BlockedDate {
    pub id: uuid::Uuid,
    pub prison_id: PrisonId,
    pub date: NaiveDate,
    pub template_id: Option<uuid::Uuid>,
    pub reason: String,
    /// Visit requests on that date that were flagged for the coordinator.
    pub flagged_requests: Vec<uuid::Uuid>,
}

/// One session on one date: a place to ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SlotChoice {
    pub template_id: uuid::Uuid,
    pub date: NaiveDate,
}

/// A slot and how full it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Slot {
    pub template_id: uuid::Uuid,
    pub date: NaiveDate,
    pub visit_type: VisitType,
    /// With the prison's UTC offset on that date.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub starts_at: DateTime<FixedOffset>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub ends_at: DateTime<FixedOffset>,
    pub room: String,
    pub capacity: i32,
    pub booked: i32,
    pub open: i32,
    /// Whether a request made now may name this slot (booking window, not blocked).
    pub bookable: bool,
    pub blocked: bool,
}

/// `POST /api/v1/visit-requests`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewVisitRequest {
    pub family_id: FamilyId,
    pub detainee_id: DetaineeId,
    pub visit_type: VisitType,
    /// One to three slots, most wanted first.
    pub preferences: Vec<SlotChoice>,
    /// Family members who will come; all on the detained person's visitor list.
    pub visitors: Vec<MemberId>,
    #[serde(default)]
    pub support_needs: Vec<SupportNeed>,
    #[serde(default)]
    pub support_note: Option<String>,
    /// How the request arrived; families' own requests are always `app`.
    #[serde(default)]
    pub channel: Option<Channel>,
}

/// A slot as booked, with its times.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BookedSlot {
    pub template_id: uuid::Uuid,
    pub date: NaiveDate,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub starts_at: DateTime<FixedOffset>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub ends_at: DateTime<FixedOffset>,
    pub room: String,
}

/// One entry in a visit request's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VisitEvent {
    pub seq: i32,
    pub at: DateTime<Utc>,
    pub actor_account_id: Option<AccountId>,
    /// `requested`, `confirmed`, `proposed`, `proposal_accepted`, `declined`, `withdrawn`,
    /// `cancelled`, `amended`, `flagged`, `waitlist_offer_accepted`.
    pub kind: String,
    pub detail: serde_json::Value,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VisitRequest {
    pub id: uuid::Uuid,
    pub reference: String,
    pub family_id: FamilyId,
    pub detainee_id: DetaineeId,
    pub prison_id: PrisonId,
    pub visit_type: VisitType,
    pub status: VisitStatus,
    pub channel: Channel,
    pub preferences: Vec<SlotChoice>,
    pub visitors: Vec<MemberId>,
    pub support_needs: Vec<SupportNeed>,
    pub support_note: Option<String>,
    /// The confirmed slot, or the one a coordinator proposes (held until the family answers).
    pub slot: Option<BookedSlot>,
    pub decline_reason: Option<DeclineReason>,
    pub decline_note: Option<String>,
    pub cancel_reason: Option<String>,
    /// Set when a blocked date or another change needs a coordinator's attention.
    pub flagged: bool,
    pub created_at: DateTime<Utc>,
    pub events: Vec<VisitEvent>,
}

/// `POST /api/v1/visit-requests/{id}/decision`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum Decision {
    /// Confirm the family's preference of this rank (1 = first choice).
    Confirm { rank: u8 },
    Decline {
        reason: DeclineReason,
        #[serde(default)]
        note: Option<String>,
    },
    /// Offer another slot; a place is held until the family accepts or declines.
    Propose { slot: SlotChoice },
}

/// `POST /api/v1/visit-requests/{id}/cancel`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Cancellation {
    /// Required from staff; optional from families.
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /api/v1/visit-requests/{id}/amend` (staff): change what changed, keep the reference.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Amendment {
    /// Move a confirmed visit to this slot.
    #[serde(default)]
    pub slot: Option<SlotChoice>,
    #[serde(default)]
    pub visitors: Option<Vec<MemberId>>,
    #[serde(default)]
    pub support_needs: Option<Vec<SupportNeed>>,
    #[serde(default)]
    pub support_note: Option<String>,
    pub reason: String,
}

/// `PUT /api/v1/detainees/{id}/visitors/{member_id}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VisitorDecision {
    pub status: ApprovalStatus,
    pub basis: ApprovalBasis,
    #[serde(default)]
    pub note: Option<String>,
}

/// A family member on (or asking to be on) a detained person's visitor list.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ApprovedVisitor {
    pub member_id: MemberId,
    pub family_id: FamilyId,
    pub display_name: String,
    pub status: ApprovalStatus,
    pub basis: ApprovalBasis,
    pub decided_at: Option<DateTime<Utc>>,
}

/// `POST /api/v1/waitlist`: ask to be told when a place opens in a full slot.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewWaitlistEntry {
    pub family_id: FamilyId,
    pub detainee_id: DetaineeId,
    pub visit_type: VisitType,
    pub slot: SlotChoice,
    pub visitors: Vec<MemberId>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WaitlistEntry {
    pub id: uuid::Uuid,
    pub family_id: FamilyId,
    pub detainee_id: DetaineeId,
    pub prison_id: PrisonId,
    pub visit_type: VisitType,
    pub slot: SlotChoice,
    pub visitors: Vec<MemberId>,
    pub status: WaitlistStatus,
    /// 1 = next in line (while waiting).
    pub position: Option<i64>,
    pub offer_expires_at: Option<DateTime<Utc>>,
    /// The confirmed visit, once an offer is accepted.
    pub request_id: Option<uuid::Uuid>,
    pub created_at: DateTime<Utc>,
}

/// One visit in a coordinator's day list.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DayVisit {
    pub request_id: uuid::Uuid,
    pub reference: String,
    pub visit_type: VisitType,
    pub family_label: String,
    pub detainee_name: String,
    pub detainee_number: String,
    pub visitors: Vec<DayVisitor>,
    pub support_needs: Vec<SupportNeed>,
    pub support_note: Option<String>,
    pub flagged: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DayVisitor {
    pub member_id: MemberId,
    pub display_name: String,
    /// Age on the day of the visit, where the birth date is known.
    pub age: Option<u32>,
}

/// A session of the day with its visits.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DaySession {
    pub template_id: uuid::Uuid,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub starts_at: DateTime<FixedOffset>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub ends_at: DateTime<FixedOffset>,
    pub room: String,
    pub blocked: bool,
    pub visits: Vec<DayVisit>,
}

/// `GET /api/v1/prisons/{id}/day?date=`: the visits of one day, by session and room.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DayView {
    pub prison_id: PrisonId,
    pub prison_name: String,
    pub date: NaiveDate,
    pub sessions: Vec<DaySession>,
}
