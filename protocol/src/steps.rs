//! Administrative steps and their regional templates: the API's wire types.
//!
//! A step lives in the family's document (`doc::Step`); social workers read and change it
//! through these types, and the server writes the change into the document, with an event that
//! names who acted.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::doc::status::StepStatus;
use crate::doc::{NextActor, StepOwner};
use crate::visits::{LocalizedText, wire_enum};
use crate::{AccountId, Language};

wire_enum!(
    /// What a step is about.
    StepCategory {
        Housing = "housing",
        IdentityDocuments = "identity_documents",
        Income = "income",
        HealthInsurance = "health_insurance",
        Employment = "employment",
        Bank = "bank",
        Education = "education",
        Psychosocial = "psychosocial",
        Legal = "legal",
        ChildrenCivilStatus = "children_civil_status",
        Debts = "debts",
        Other = "other",
    }
);

wire_enum!(
    /// The regions whose agencies and procedures templates follow.
    Region {
        Brussels = "brussels",
        Flanders = "flanders",
        Wallonia = "wallonia",
        GermanSpeaking = "german_speaking",
    }
);

/// `POST /api/v1/families/{id}/steps`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewStep {
    pub title: String,
    pub category: StepCategory,
    #[serde(default)]
    pub description: String,
    /// Who ticks the checklist: `family` (the default) or `worker`.
    #[serde(default = "family_owner")]
    pub owner: StepOwner,
    #[serde(default)]
    pub next_actor: NextActor,
    #[serde(default)]
    pub agency: Option<String>,
    #[serde(default)]
    pub due_date: Option<NaiveDate>,
    /// The checklist's items, in order.
    #[serde(default)]
    pub checklist: Vec<String>,
    #[serde(default)]
    pub documents: Vec<String>,
}

fn family_owner() -> StepOwner {
    StepOwner::Family
}

/// `PATCH /api/v1/families/{id}/steps/{step_id}`: what to change; what is absent stays.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StepChanges {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub category: Option<StepCategory>,
    #[serde(default)]
    pub next_actor: Option<NextActor>,
    /// `""` removes the agency.
    #[serde(default)]
    pub agency: Option<String>,
    #[serde(default)]
    pub due_date: Option<NaiveDate>,
    /// Removes the due date.
    #[serde(default)]
    pub clear_due_date: bool,
    #[serde(default)]
    pub documents: Option<Vec<String>>,
    /// Items to add at the end of the checklist.
    #[serde(default)]
    pub add_checklist: Vec<String>,
    #[serde(default)]
    pub status: Option<StepStatus>,
    /// Why the step is blocked (required with `status: blocked`), or a comment on the new
    /// status.
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST …/steps/{step_id}/checklist/{item_id}`: a worker ticks an item of a step.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TickItem {
    pub ticked: bool,
}

/// `POST …/steps/{step_id}/notes`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewNote {
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ChecklistEntry {
    pub id: String,
    pub label: String,
    pub ticked: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NoteEntry {
    pub id: String,
    /// The family member who wrote it, or `server` for staff.
    pub by: String,
    pub staff_account: Option<AccountId>,
    pub at: DateTime<Utc>,
    pub text: String,
}

/// One change in a step's history: who did what, when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    /// `created`, a status (`in_progress`, `blocked`…), `updated`, `ticked`, `unticked`.
    pub kind: String,
    pub detail: Option<String>,
    /// A family member's id, or `server`.
    pub by: String,
    pub staff_account: Option<AccountId>,
}

/// A step as workers see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StepDetail {
    pub id: String,
    pub title: String,
    pub category: String,
    pub owner: StepOwner,
    pub description: String,
    pub due_date: Option<NaiveDate>,
    pub next_actor: NextActor,
    pub agency: Option<String>,
    pub documents: Vec<String>,
    pub status: StepStatus,
    pub blocked_reason: Option<String>,
    /// Open and past its due date, today in Brussels.
    pub overdue: bool,
    pub template: Option<String>,
    pub checklist: Vec<ChecklistEntry>,
    pub notes: Vec<NoteEntry>,
    pub history: Vec<HistoryEntry>,
}

/// A step of a template, in every language it is shipped in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TemplateStep {
    /// Unique within its template.
    pub key: String,
    pub category: StepCategory,
    pub title: LocalizedText,
    pub description: LocalizedText,
    pub next_actor: NextActor,
    pub agency: Option<LocalizedText>,
    /// Due this many days after the template is applied; none for no deadline.
    pub due_in_days: Option<i64>,
    pub checklist: Vec<LocalizedText>,
    pub documents: Vec<LocalizedText>,
}

/// A set of steps a social worker applies to a family in one action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StepTemplate {
    /// Stable: `brussels-release-first-month`.
    pub key: String,
    pub region: Region,
    pub title: LocalizedText,
    pub description: LocalizedText,
    pub steps: Vec<TemplateStep>,
}

/// `POST /api/v1/families/{id}/steps/from-template`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ApplyTemplate {
    pub template: String,
    /// The language the steps are written in; the family's first member's by default.
    #[serde(default)]
    pub language: Option<Language>,
}
