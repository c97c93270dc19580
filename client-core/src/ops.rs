//! What a family does, offline: typed reads of the family document and writes checked against
//! the write policy (the same code the server validates with) before they commit, each durable
//! before it returns.

use chrono::Utc;
use reguide_protocol::MemberId;
use reguide_protocol::doc::status::{
    AppointmentEventKind, AppointmentStatus, RegistrationState, StepStatus, appointment_status,
    checklist_item_ticked, invitation_rsvp, registration_status, step_status, visit_request_slot,
    visit_request_status,
};
use reguide_protocol::doc::write::{
    self, NewDocAppointment, NewDocRegistration, NewDocVisitRequest,
};
use reguide_protocol::doc::{
    Appointment, DocRegistration, DocVisitRequest, FamilyDoc, Invitation, Rsvp, Step, Writer,
};
use reguide_protocol::visits::{SlotChoice, VisitStatus};

use crate::client::Client;
use crate::error::{ClientError, ClientResult};

/// A visit request with its status folded from its events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisitRequestView {
    pub request: DocVisitRequest,
    pub status: VisitStatus,
    /// The slot it holds or is offered.
    pub slot: Option<SlotChoice>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrationView {
    pub registration: DocRegistration,
    pub state: RegistrationState,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepView {
    pub step: Step,
    pub status: StepStatus,
    /// Open and past its due date, today in the family's time zone.
    pub overdue: bool,
    /// Checklist item ids with whether each is ticked.
    pub ticked: Vec<(String, bool)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppointmentView {
    pub appointment: Appointment,
    pub status: AppointmentStatus,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvitationView {
    pub invitation: Invitation,
    pub answer: Option<Rsvp>,
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

impl Client {
    /// The whole family document, typed.
    pub fn family(&self) -> ClientResult<FamilyDoc> {
        let doc = self.store.document().ok_or(ClientError::NotSyncedYet)?;
        Ok(FamilyDoc::read(doc)?)
    }

    /// Visit requests, newest first, with their statuses.
    pub fn visit_requests(&self) -> ClientResult<Vec<VisitRequestView>> {
        let mut list: Vec<VisitRequestView> = self
            .family()?
            .visit_requests
            .into_values()
            .map(|request| VisitRequestView {
                status: visit_request_status(&request.events),
                slot: visit_request_slot(&request.events),
                request,
            })
            .collect();
        list.sort_by_key(|v| std::cmp::Reverse(v.request.created_at));
        Ok(list)
    }

    pub fn visit_request(&self, id: &str) -> ClientResult<VisitRequestView> {
        self.visit_requests()?
            .into_iter()
            .find(|v| v.request.id == id)
            .ok_or(ClientError::NotFound {
                what: "this visit request",
            })
    }

    pub fn registrations(&self) -> ClientResult<Vec<RegistrationView>> {
        Ok(self
            .family()?
            .family_day_registrations
            .into_values()
            .map(|registration| RegistrationView {
                state: registration_status(&registration.events),
                registration,
            })
            .collect())
    }

    /// The family's steps, by category, then due date (undated last), then title.
    pub fn steps(&self) -> ClientResult<Vec<StepView>> {
        let today = Utc::now().with_timezone(&self.time_zone).date_naive();
        let mut list: Vec<StepView> = self
            .family()?
            .steps
            .into_values()
            .map(|step| {
                let status = step_status(&step.events);
                StepView {
                    overdue: crate::agenda::is_overdue(step.due_date, status, today),
                    status,
                    ticked: step
                        .checklist
                        .iter()
                        .map(|(id, item)| (id.clone(), checklist_item_ticked(&item.events)))
                        .collect(),
                    step,
                }
            })
            .collect();
        list.sort_by(|a, b| {
            let key = |v: &StepView| {
                (
                    v.step.category.clone(),
                    v.step.due_date.is_none(),
                    v.step.due_date,
                    v.step.title.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        Ok(list)
    }

    pub fn appointments(&self) -> ClientResult<Vec<AppointmentView>> {
        let mut list: Vec<AppointmentView> = self
            .family()?
            .appointments
            .into_values()
            .map(|appointment| AppointmentView {
                status: appointment_status(&appointment.events),
                appointment,
            })
            .collect();
        list.sort_by_key(|a| a.appointment.starts_at);
        Ok(list)
    }

    pub fn invitations(&self) -> ClientResult<Vec<InvitationView>> {
        let mut list: Vec<InvitationView> = self
            .family()?
            .invitations
            .into_values()
            .map(|invitation| InvitationView {
                answer: invitation_rsvp(&invitation.answers),
                invitation,
            })
            .collect();
        list.sort_by_key(|i| i.invitation.starts_at);
        Ok(list)
    }

    /// Runs a policy-checked write as this device's member, durably.
    fn write<T>(
        &mut self,
        edit: impl FnOnce(
            &mut automerge::transaction::Transaction<'_>,
            MemberId,
        ) -> Result<T, reguide_protocol::doc::DocError>,
    ) -> ClientResult<T> {
        let member = self.require_session()?.member_id;
        if self.store.document().is_none() {
            return Err(ClientError::NotSyncedYet);
        }
        let writer = Writer::FamilyDevice { member_id: member };
        self.store.edit(|doc| {
            write::checked(doc, writer, |tx| edit(tx, member)).map_err(ClientError::from)
        })
    }

    /// Asks for a visit (one to three preferred slots); returns the request's id.
    pub fn request_visit(&mut self, request: NewDocVisitRequest) -> ClientResult<String> {
        if request.preferences.is_empty() || request.preferences.len() > 3 {
            return Err(ClientError::Invalid {
                code: "invalid_value",
                field: "preferences",
                message: "give one to three preferred slots".into(),
            });
        }
        if request.visitors.is_empty() {
            return Err(ClientError::Invalid {
                code: "invalid_value",
                field: "visitors",
                message: "name who will visit".into(),
            });
        }
        self.write(|tx, member| write::request_visit(tx, member, request, now_ms()))
    }

    /// Withdraws a request that is not confirmed yet (a confirmed one is cancelled).
    pub fn withdraw_visit(&mut self, request_id: &str) -> ClientResult<String> {
        self.write(|tx, member| write::ask_to_withdraw_visit(tx, member, request_id, now_ms()))
    }

    /// Cancels a confirmed visit (the prison's cut-off applies when the server receives it).
    pub fn cancel_visit(&mut self, request_id: &str) -> ClientResult<String> {
        self.write(|tx, member| write::ask_to_cancel_visit(tx, member, request_id, now_ms()))
    }

    /// Accepts the slot a coordinator proposed.
    pub fn accept_proposal(&mut self, request_id: &str) -> ClientResult<String> {
        self.write(|tx, member| write::accept_proposal(tx, member, request_id, now_ms()))
    }

    /// Registers for a family day (on its waiting list when it is full); returns the id.
    pub fn register_for_family_day(
        &mut self,
        registration: NewDocRegistration,
    ) -> ClientResult<String> {
        if registration.adults < 1 {
            return Err(ClientError::Invalid {
                code: "invalid_value",
                field: "adults",
                message: "a family comes with at least one adult".into(),
            });
        }
        if registration.children < 0 {
            return Err(ClientError::Invalid {
                code: "invalid_value",
                field: "children",
                message: "children cannot be negative".into(),
            });
        }
        self.write(|tx, member| write::register_for_family_day(tx, member, registration, now_ms()))
    }

    pub fn cancel_registration(&mut self, registration_id: &str) -> ClientResult<String> {
        self.write(|tx, member| {
            write::ask_to_cancel_registration(tx, member, registration_id, now_ms())
        })
    }

    /// Ticks or unticks an item of one of the family's own steps.
    pub fn tick_item(
        &mut self,
        step_id: &str,
        item_id: &str,
        ticked: bool,
    ) -> ClientResult<String> {
        self.write(|tx, member| write::tick_item(tx, member, step_id, item_id, ticked, now_ms()))
    }

    /// Adds a note to a step.
    pub fn add_note(&mut self, step_id: &str, text: &str) -> ClientResult<String> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > 2000 {
            return Err(ClientError::Invalid {
                code: "invalid_value",
                field: "text",
                message: "a note has 1 to 2,000 characters".into(),
            });
        }
        self.write(|tx, member| write::add_note(tx, member, step_id, text, now_ms()))
    }

    /// Proposes an appointment to a social worker; returns its id.
    pub fn propose_appointment(&mut self, appointment: NewDocAppointment) -> ClientResult<String> {
        self.write(|tx, member| write::propose_appointment(tx, member, appointment, now_ms()))
    }

    /// Accepts, declines or tentatively accepts an appointment.
    pub fn answer_appointment(
        &mut self,
        appointment_id: &str,
        answer: AppointmentEventKind,
    ) -> ClientResult<String> {
        self.write(|tx, member| {
            write::answer_appointment(tx, member, appointment_id, answer, now_ms())
        })
    }

    /// Answers a Living Lab invitation addressed to this device's member.
    pub fn answer_invitation(
        &mut self,
        invitation_id: &str,
        answer: Rsvp,
        note: Option<String>,
    ) -> ClientResult<()> {
        self.write(|tx, member| {
            write::answer_invitation(tx, member, invitation_id, answer, note, now_ms())
        })
    }
}
