//! Appointments between a family and a social worker: the API's wire types. An appointment
//! lives in the family's document (`doc::Appointment`); either side proposes, the other
//! accepts, declines, accepts tentatively or proposes another time.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::AccountId;
use crate::doc::status::AppointmentStatus;
use crate::steps::HistoryEntry;
use crate::visits::wire_enum;

/// `POST /api/v1/families/{id}/appointments`: a social worker proposes an appointment.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewAppointmentRequest {
    pub starts_at: DateTime<Utc>,
    /// Where, or how (`Phone call: 02 123 45 67`).
    pub place: String,
    pub purpose: String,
    /// The step it is about, if any.
    #[serde(default)]
    pub step_id: Option<String>,
}

wire_enum!(
    /// How the social worker answers: `other_time` proposes another time (and place) with
    /// `starts_at` (and `place`); `cancelled` calls it off, whoever proposed it.
    AppointmentReply {
        Accepted = "accepted",
        Declined = "declined",
        Tentative = "tentative",
        OtherTime = "other_time",
        Cancelled = "cancelled",
    }
);

/// `POST /api/v1/families/{id}/appointments/{appointment_id}/answer`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AppointmentAnswerRequest {
    pub answer: AppointmentReply,
    /// With `other_time`: the new time.
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    /// With `other_time`: a new place, if it changes.
    #[serde(default)]
    pub place: Option<String>,
    /// Why (a decline or a cancellation), shown to the family.
    #[serde(default)]
    pub note: Option<String>,
}

/// An appointment as social workers see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AppointmentDetail {
    pub id: String,
    pub with_account: AccountId,
    pub starts_at: DateTime<Utc>,
    pub place: String,
    pub purpose: String,
    pub step_id: Option<String>,
    pub status: AppointmentStatus,
    /// Who made the proposal standing now: `family` (the worker answers) or `worker` (the
    /// family answers).
    pub proposed_by: String,
    pub history: Vec<HistoryEntry>,
}
