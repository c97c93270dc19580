//! Caseloads: which social workers follow which families. An administrator assigns a family to
//! a worker, or a worker asks for it and an administrator approves. Workers of several services
//! may share a family.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::visits::wire_enum;
use crate::{AccountId, FamilyId};

wire_enum!(
    /// The service a social worker follows a family for.
    WorkerService {
        JusticeHouse = "justice_house",
        PrisonPsychosocial = "prison_psychosocial",
        Cpas = "cpas",
        Ngo = "ngo",
        Other = "other",
    }
);

wire_enum!(
    /// Where a worker's request for a family stands.
    CaseloadRequestStatus {
        Pending = "pending",
        Approved = "approved",
        Refused = "refused",
    }
);

/// `POST /api/v1/caseload-requests`: a social worker asks to follow a family.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewCaseloadRequest {
    pub family_id: FamilyId,
    pub service: WorkerService,
    /// Why (a referral by the justice house…), for the administrator.
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CaseloadRequest {
    pub id: uuid::Uuid,
    pub account_id: AccountId,
    pub family_id: FamilyId,
    pub service: WorkerService,
    pub reason: Option<String>,
    pub status: CaseloadRequestStatus,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<AccountId>,
}

/// `POST /api/v1/admin/caseload-requests/{id}/decision`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CaseloadDecision {
    pub approve: bool,
}

/// `GET /api/v1/caseload`: one line per family a social worker follows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CaseloadFamily {
    pub family_id: FamilyId,
    pub label: String,
    /// The service the worker follows the family for, when known.
    pub service: Option<WorkerService>,
    pub open_steps: u32,
    pub overdue_steps: u32,
    /// Appointments the family proposed that wait for this worker's answer.
    pub appointments_to_answer: u32,
    /// The next agreed (or tentative) appointment of the family with this worker.
    pub next_appointment: Option<DateTime<Utc>>,
}
