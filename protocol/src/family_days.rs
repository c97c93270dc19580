//! Family days: events at a prison that families register for.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::visits::wire_enum;
use crate::{FamilyId, PrisonId};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

wire_enum!(
    /// Where a family's registration stands.
    RegistrationStatus {
        Registered = "registered",
        Waiting = "waiting",
        Cancelled = "cancelled",
    }
);

/// `POST /api/v1/prisons/{id}/family-days`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewFamilyDay {
    pub title: String,
    pub date: NaiveDate,
    /// Local time in the prison's zone, `HH:MM`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "10:00"))]
    pub starts_at: NaiveTime,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "16:00"))]
    pub ends_at: NaiveTime,
    #[serde(default)]
    pub programme: String,
    pub capacity_families: i32,
    pub capacity_people: i32,
    /// Children from this age …
    #[serde(default)]
    pub min_child_age: i32,
    /// … up to this age may come.
    #[serde(default = "max_child_age")]
    pub max_child_age: i32,
    pub registration_deadline: DateTime<Utc>,
}

fn max_child_age() -> i32 {
    17
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FamilyDay {
    pub id: uuid::Uuid,
    pub prison_id: PrisonId,
    pub title: String,
    pub date: NaiveDate,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub starts_at: DateTime<chrono::FixedOffset>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub ends_at: DateTime<chrono::FixedOffset>,
    pub programme: String,
    pub capacity_families: i32,
    pub capacity_people: i32,
    pub registered_families: i32,
    pub registered_people: i32,
    pub waiting_families: i64,
    pub min_child_age: i32,
    pub max_child_age: i32,
    pub registration_deadline: DateTime<Utc>,
    pub cancelled: bool,
}

/// `POST /api/v1/family-days/{id}/registrations`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewRegistration {
    pub family_id: FamilyId,
    pub adults: i32,
    pub children: i32,
    /// Put the family on the waiting list when the day is full (otherwise a full day is an
    /// error).
    #[serde(default)]
    pub wait_if_full: bool,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Registration {
    pub id: uuid::Uuid,
    pub family_day_id: uuid::Uuid,
    pub family_id: FamilyId,
    pub family_label: String,
    pub adults: i32,
    pub children: i32,
    pub status: RegistrationStatus,
    /// 1 = next in line (while waiting).
    pub position: Option<i64>,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// `PATCH /api/v1/family-days/{id}`: change what changed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FamilyDayUpdate {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub programme: Option<String>,
    /// Never below the families registered.
    #[serde(default)]
    pub capacity_families: Option<i32>,
    /// Never below the people registered.
    #[serde(default)]
    pub capacity_people: Option<i32>,
    /// Before the day starts; a time in the past closes registration now.
    #[serde(default)]
    pub registration_deadline: Option<DateTime<Utc>>,
}
