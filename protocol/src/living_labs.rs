//! Living Labs: recurring meetings where families, the professionals around returnees and
//! researchers reflect on cases and co-create solutions. Facilitators plan sessions and invite
//! accounts, family members and people outside reguide; everyone answers, families offline.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::doc::Rsvp;
use crate::visits::wire_enum;
use crate::{AccountId, FamilyId, Language, MemberId, Role};

wire_enum!(
    /// The part someone takes in a Living Lab.
    ParticipantRole {
        Family = "family",
        Judge = "judge",
        Lawyer = "lawyer",
        JusticeAssistant = "justice_assistant",
        PrisonDirector = "prison_director",
        FrontlineStaff = "frontline_staff",
        LocalPolice = "local_police",
        Psychosocial = "psychosocial",
        ReligiousCounsellor = "religious_counsellor",
        Academic = "academic",
        CivilSociety = "civil_society",
        Municipality = "municipality",
        SocialWorker = "social_worker",
    }
);

wire_enum!(
    /// What someone needs to take part.
    Need {
        Interpreter = "interpreter",
        Childcare = "childcare",
        Accessibility = "accessibility",
        Other = "other",
    }
);

wire_enum!(
    /// Where an acceptance stands: a place is held, or it waits for one.
    Place {
        None = "none",
        Held = "held",
        Waiting = "waiting",
    }
);

wire_enum!(
    /// How often a series repeats.
    Repeat {
        Weekly = "weekly",
        Monthly = "monthly",
    }
);

/// `POST /api/v1/living-labs`: one session, or with `repeat` a series of them.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewLivingLab {
    pub title: String,
    #[serde(default)]
    pub theme: String,
    #[serde(default)]
    pub description: String,
    pub date: NaiveDate,
    /// Local time, `HH:MM`, in `time_zone`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "14:00"))]
    pub starts_at: NaiveTime,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "16:30"))]
    pub ends_at: NaiveTime,
    /// An IANA zone; `Europe/Brussels` when not given.
    #[serde(default)]
    pub time_zone: Option<String>,
    pub place: String,
    #[serde(default)]
    pub online_link: Option<String>,
    pub capacity: i32,
    #[serde(default)]
    pub languages: Vec<Language>,
    #[serde(default)]
    pub accessibility: String,
    #[serde(default)]
    pub agenda: Vec<String>,
    /// Other facilitators who run it with the creator.
    #[serde(default)]
    pub facilitators: Vec<AccountId>,
    /// Repeat it: `count` sessions in all, the first on `date`.
    #[serde(default)]
    pub repeat: Option<Repetition>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Repetition {
    pub every: Repeat,
    /// 2 to 24.
    pub count: u32,
}

/// A session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LivingLab {
    pub id: uuid::Uuid,
    pub series_id: Option<uuid::Uuid>,
    pub title: String,
    pub theme: String,
    pub description: String,
    pub date: NaiveDate,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub starts_at: DateTime<chrono::FixedOffset>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub ends_at: DateTime<chrono::FixedOffset>,
    pub time_zone: String,
    pub place: String,
    pub online_link: Option<String>,
    pub capacity: i32,
    /// Places held by acceptances.
    pub taken: i32,
    pub waiting: i64,
    pub languages: Vec<Language>,
    pub accessibility: String,
    pub agenda: Vec<String>,
    pub facilitators: Vec<AccountId>,
    pub cancelled: bool,
}

/// Someone outside reguide, invited by email.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Guest {
    pub email: String,
    pub name: String,
    pub role: ParticipantRole,
    #[serde(default)]
    pub language: Option<Language>,
}

/// `POST /api/v1/living-labs/{id}/invitations`: who to invite. Anyone already invited is left
/// as they are.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewInvitations {
    /// Staff accounts, one by one.
    #[serde(default)]
    pub accounts: Vec<AccountId>,
    /// Every account holding one of these roles.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// The members with an account or an email address of every family in this social
    /// worker's caseload.
    #[serde(default)]
    pub caseload_of: Option<AccountId>,
    /// Family members, one by one.
    #[serde(default)]
    pub members: Vec<MemberId>,
    #[serde(default)]
    pub guests: Vec<Guest>,
    /// The part the invited accounts take (members are `family`); default `frontline_staff`.
    #[serde(default)]
    pub role: Option<ParticipantRole>,
}

/// An invitation and its answer, as facilitators see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LabInvitation {
    pub id: uuid::Uuid,
    pub living_lab_id: uuid::Uuid,
    pub role: ParticipantRole,
    pub name: String,
    /// `account`, `member` or `guest`.
    pub kind: String,
    pub account_id: Option<AccountId>,
    pub member_id: Option<MemberId>,
    pub family_id: Option<FamilyId>,
    pub email: Option<String>,
    pub language: Language,
    pub answer: Option<Rsvp>,
    pub place: Place,
    /// 1 = next to get a place (while waiting).
    pub position: Option<i64>,
    pub note: Option<String>,
    pub needs: Vec<Need>,
    pub answered_at: Option<DateTime<Utc>>,
    pub attended: Option<bool>,
}

/// `POST /api/v1/living-labs/{id}/answer`: a staff account answers its own invitation.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LabAnswer {
    pub answer: Rsvp,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub needs: Vec<Need>,
}

/// A session with everyone invited, for its facilitators.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LabOverview {
    pub living_lab: LivingLab,
    pub invitations: Vec<LabInvitation>,
    pub accepted: i64,
    pub declined: i64,
    pub tentative: i64,
    pub not_answered: i64,
    /// How many asked for each need.
    pub needs: Vec<(Need, i64)>,
}

/// `PUT /api/v1/living-labs/{id}/attendance`: the invitations that attended; the others did not.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Attendance {
    pub attended: Vec<uuid::Uuid>,
}

/// What was agreed and the next steps: `PUT` by facilitators, `GET` by those who attended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LabSummary {
    pub summary: String,
    #[serde(default)]
    pub next_steps: String,
}
