//! What a family does, offline: typed reads of the family document and writes checked against
//! the write policy (the same code the server validates with) before they commit, each durable
//! before it returns.

use chrono::Utc;
use std::collections::BTreeMap;
use std::sync::Arc;

use automerge::{Automerge, Patch};
use reguide_protocol::doc::DocError;

use reguide_protocol::doc::status::{
    AppointmentEventKind, AppointmentStatus, RegistrationState, StepStatus, appointment_status,
    checklist_item_ticked, invitation_rsvp, registration_status, step_status, visit_request_slot,
    visit_request_status,
};
use reguide_protocol::doc::write::{
    self, NewDocAppointment, NewDocRegistration, NewDocVisitRequest,
};
use reguide_protocol::doc::{
    Appointment, DocMember, DocRegistration, DocVisitRequest, FamilyDoc, Invitation, Rsvp, Step,
    StepSummary, Writer, keys, read_collection, read_entry, read_family_id, touched_entries,
};
use reguide_protocol::visits::{SlotChoice, VisitStatus};
use reguide_protocol::{FamilyId, MemberId};

use crate::client::Client;
use crate::error::{ClientError, ClientResult};

/// Whether the latest `proposed` of an appointment's events is the server's (a social worker's
/// proposal, which the family answers) rather than the family's own.
fn last_proposal_by_server(events: &[reguide_protocol::doc::Event]) -> bool {
    events
        .iter()
        .filter(|e| e.kind == AppointmentEventKind::Proposed.as_str())
        .max_by(|a, b| reguide_protocol::doc::status::event_order(a, b))
        .is_some_and(|e| e.by.is_server())
}

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

/// The family's data without the steps' checklists and notes: what the lists, the overview and
/// the agenda read. Each collection is read on its own; the notes, which grow every day a family
/// follows a step, are read only with the step they belong to ([`Client::steps`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FamilyData {
    pub family_id: FamilyId,
    pub members: BTreeMap<String, DocMember>,
    pub visit_requests: BTreeMap<String, DocVisitRequest>,
    pub registrations: BTreeMap<String, DocRegistration>,
    pub steps: BTreeMap<String, StepSummary>,
    pub appointments: BTreeMap<String, Appointment>,
    pub invitations: BTreeMap<String, Invitation>,
}

impl FamilyData {
    /// Reads one entry again from `doc` (or drops it when it is gone).
    fn read_again(&mut self, doc: &Automerge, collection: &str, id: &str) -> Result<(), DocError> {
        fn entry<T: autosurgeon::Hydrate>(
            map: &mut BTreeMap<String, T>,
            doc: &Automerge,
            collection: &str,
            id: &str,
        ) -> Result<(), DocError> {
            match read_entry(doc, collection, id)? {
                Some(value) => map.insert(id.to_owned(), value),
                None => map.remove(id),
            };
            Ok(())
        }
        match collection {
            keys::MEMBERS => entry(&mut self.members, doc, collection, id),
            keys::VISIT_REQUESTS => entry(&mut self.visit_requests, doc, collection, id),
            keys::FAMILY_DAY_REGISTRATIONS => entry(&mut self.registrations, doc, collection, id),
            keys::STEPS => entry(&mut self.steps, doc, collection, id),
            keys::APPOINTMENTS => entry(&mut self.appointments, doc, collection, id),
            keys::INVITATIONS => entry(&mut self.invitations, doc, collection, id),
            // A collection of a newer schema: nothing of it is kept.
            _ => Ok(()),
        }
    }
}

/// What the app's first screen shows, in one read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overview {
    pub family_id: FamilyId,
    pub member_id: MemberId,
    pub members: BTreeMap<String, DocMember>,
    /// The soonest visit ahead (confirmed, offered or requested).
    pub next_visit: Option<crate::agenda::UpcomingVisit>,
    /// Visits ahead: requested and not answered yet, offered another slot (the family should
    /// answer), confirmed.
    pub visits_pending: usize,
    pub visits_proposed: usize,
    pub visits_confirmed: usize,
    pub open_steps: usize,
    pub overdue_steps: usize,
    /// Appointments a social worker proposed that wait for the family's answer.
    pub appointments_to_answer: usize,
    /// This member's Living Lab invitations not answered yet, for sessions ahead.
    pub invitations_to_answer: usize,
    pub sync: crate::sync::SyncStatus,
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

impl Client {
    /// The whole family document, typed (steps with their notes: it costs with the document's
    /// history; lists read [`Client::family_data`]).
    pub fn family(&self) -> ClientResult<FamilyDoc> {
        Ok(FamilyDoc::read(self.doc()?)?)
    }

    fn doc(&self) -> ClientResult<&automerge::Automerge> {
        self.store.document().ok_or(ClientError::NotSyncedYet)
    }

    /// Every collection of the family document but the steps' checklists and notes. Read again
    /// only when the document changed since the last call.
    pub fn family_data(&self) -> ClientResult<Arc<FamilyData>> {
        let doc = self.doc()?;
        let heads = doc.get_heads();
        if let Some((read_at, data)) = &*self.data_cache.borrow()
            && *read_at == heads
        {
            return Ok(Arc::clone(data));
        }
        let data = Arc::new(FamilyData {
            family_id: read_family_id(doc)?,
            members: read_collection(doc, keys::MEMBERS)?,
            visit_requests: read_collection(doc, keys::VISIT_REQUESTS)?,
            registrations: read_collection(doc, keys::FAMILY_DAY_REGISTRATIONS)?,
            steps: read_collection(doc, keys::STEPS)?,
            appointments: read_collection(doc, keys::APPOINTMENTS)?,
            invitations: read_collection(doc, keys::INVITATIONS)?,
        });
        *self.data_cache.borrow_mut() = Some((heads, Arc::clone(&data)));
        Ok(data)
    }

    /// The first screen: the next visit, what waits for an answer, what is overdue, sync.
    pub fn overview(&self) -> ClientResult<Overview> {
        let member = self.require_session()?.member_id;
        let data = self.family_data()?;
        let reference = self.shared_reference()?;
        let now = Utc::now();
        let ahead = crate::agenda::upcoming_visits(
            &data,
            member,
            reference.as_deref(),
            self.time_zone,
            now,
        );
        let count = |status| ahead.iter().filter(|v| v.status == status).count();
        let today = now.with_timezone(&self.time_zone).date_naive();
        let steps = data
            .steps
            .values()
            .map(|s| (s.due_date, step_status(&s.events)));
        let open_steps = steps.clone().filter(|(_, s)| s.is_open()).count();
        let overdue_steps = steps
            .filter(|(due, status)| crate::agenda::is_overdue(*due, *status, today))
            .count();
        let appointments_to_answer = data
            .appointments
            .values()
            .filter(|a| {
                appointment_status(&a.events) == AppointmentStatus::Proposed
                    && last_proposal_by_server(&a.events)
            })
            .count();
        let invitations_to_answer = data
            .invitations
            .values()
            .filter(|i| {
                i.member_id == member
                    && invitation_rsvp(&i.answers).is_none()
                    && i.starts_at > now.timestamp_millis()
                    && i.place.as_deref() != Some("cancelled")
            })
            .count();
        Ok(Overview {
            family_id: data.family_id,
            member_id: member,
            visits_pending: count(VisitStatus::Pending),
            visits_proposed: count(VisitStatus::Proposed),
            visits_confirmed: count(VisitStatus::Confirmed),
            next_visit: ahead.into_iter().next(),
            members: data.members.clone(),
            open_steps,
            overdue_steps,
            appointments_to_answer,
            invitations_to_answer,
            sync: self.sync_status(),
        })
    }

    /// Visit requests, newest first, with their statuses.
    pub fn visit_requests(&self) -> ClientResult<Vec<VisitRequestView>> {
        let requests: BTreeMap<String, DocVisitRequest> =
            read_collection(self.doc()?, keys::VISIT_REQUESTS)?;
        let mut list: Vec<VisitRequestView> = requests
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
        let request: DocVisitRequest =
            read_entry(self.doc()?, keys::VISIT_REQUESTS, id)?.ok_or(ClientError::NotFound {
                what: "this visit request",
            })?;
        Ok(VisitRequestView {
            status: visit_request_status(&request.events),
            slot: visit_request_slot(&request.events),
            request,
        })
    }

    pub fn registrations(&self) -> ClientResult<Vec<RegistrationView>> {
        let registrations: BTreeMap<String, DocRegistration> =
            read_collection(self.doc()?, keys::FAMILY_DAY_REGISTRATIONS)?;
        Ok(registrations
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
        let steps: BTreeMap<String, Step> = read_collection(self.doc()?, keys::STEPS)?;
        let mut list: Vec<StepView> = steps
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
        let appointments: BTreeMap<String, Appointment> =
            read_collection(self.doc()?, keys::APPOINTMENTS)?;
        let mut list: Vec<AppointmentView> = appointments
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
        let invitations: BTreeMap<String, Invitation> =
            read_collection(self.doc()?, keys::INVITATIONS)?;
        let mut list: Vec<InvitationView> = invitations
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
        let mut read_at = Vec::new();
        let (out, patches) = self.store.edit(|doc| {
            read_at = doc.get_heads();
            write::checked_with_patches(doc, writer, |tx| edit(tx, member))
                .map_err(ClientError::from)
        })?;
        self.refresh_data(&read_at, &patches);
        Ok(out)
    }

    /// Brings the kept family data from `read_at` to the document's heads by reading again
    /// only the entries `patches` touched (a note re-reads its step, not the hundred others);
    /// when that cannot be done, the data is read whole at the next call.
    pub(crate) fn refresh_data(&self, read_at: &[automerge::ChangeHash], patches: &[Patch]) {
        let mut cache = self.data_cache.borrow_mut();
        let refreshed = match (cache.as_mut(), self.store.document()) {
            (Some((heads, data)), Some(doc)) if heads.as_slice() == read_at => {
                touched_entries(patches).is_some_and(|touched| {
                    let data = Arc::make_mut(data);
                    let all_read = touched
                        .iter()
                        .all(|(collection, id)| data.read_again(doc, collection, id).is_ok());
                    *heads = doc.get_heads();
                    all_read
                })
            }
            _ => false,
        };
        if !refreshed {
            *cache = None;
        }
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

#[cfg(test)]
mod tests {
    use reguide_protocol::doc::write::{self as doc_write, EventList, NewDocRegistration};
    use reguide_protocol::doc::{Author, Event};
    use reguide_protocol::sync::{ResponseKind, SyncResponse, server_actor};
    use reguide_protocol::visits::{SlotChoice, VisitType};
    use reguide_protocol::{DetaineeId, PrisonId};

    use super::*;
    use crate::fixture;

    /// The family data read whole, without what the client keeps.
    fn read_whole(client: &Client) -> FamilyData {
        *client.data_cache.borrow_mut() = None;
        (*client.family_data().expect("data")).clone()
    }

    #[test]
    fn the_kept_family_data_follows_writes_and_synced_changes_entry_by_entry() {
        let dir = tempfile::tempdir().expect("dir");
        let fx = fixture::family_document(40).expect("document");
        let member = fx.member;
        fx.store(dir.path()).expect("store");
        let mut client = Client::open(dir.path(), None, "http://127.0.0.1:9").expect("open");
        client.family_data().expect("first read");

        let check = |client: &mut Client, what: &str| {
            let heads = client.store.document().expect("doc").get_heads();
            let cached = client
                .data_cache
                .borrow()
                .as_ref()
                .map(|(at, _)| at.clone());
            assert_eq!(
                cached,
                Some(heads),
                "after {what}: kept up to date, not dropped"
            );
            let kept = (*client.family_data().expect("data")).clone();
            assert_eq!(kept, read_whole(client), "after {what}");
        };
        client
            .add_note(&fixture::step_id(3), "a note")
            .expect("note");
        check(&mut client, "a note");
        let request = client
            .request_visit(NewDocVisitRequest {
                detainee_id: DetaineeId::new(),
                prison_id: PrisonId::new(),
                visit_type: VisitType::Table,
                preferences: vec![SlotChoice {
                    template_id: uuid::Uuid::new_v4(),
                    date: chrono::NaiveDate::from_ymd_opt(2027, 3, 5).expect("date"),
                }],
                visitors: vec![member],
                support_needs: vec![],
                support_note: None,
            })
            .expect("request");
        check(&mut client, "a visit request");
        client
            .register_for_family_day(NewDocRegistration {
                family_day_id: uuid::Uuid::new_v4(),
                adults: 2,
                children: 0,
            })
            .expect("register");
        check(&mut client, "a registration");
        client.withdraw_visit(&request).expect("withdraw");
        check(&mut client, "an intent");
        client
            .tick_item(&fixture::step_id(3), "no-such-item", true)
            .expect_err("no such item");
        check(&mut client, "a refused write");

        // The server's changes, as a sync brings them: a decision and a new step.
        let mut server = client
            .store
            .document()
            .expect("doc")
            .fork()
            .with_actor(server_actor());
        let before = server.get_heads();
        let mut tx = server.transaction();
        let declined = Event::new("declined", 5, Author::Server);
        doc_write::append_event(&mut tx, EventList::VisitRequest(&request), &declined)
            .expect("event");
        let mut step = read_entry::<Step, _>(&tx, keys::STEPS, &fixture::step_id(0))
            .expect("read")
            .expect("step");
        step.id = "new-step".into();
        step.notes.clear();
        doc_write::put_entry(&mut tx, keys::STEPS, "new-step", &step).expect("step");
        tx.commit();
        client
            .absorb(&SyncResponse {
                kind: ResponseKind::Changes,
                heads: server.get_heads(),
                data: server.save_after(&before),
            })
            .expect("absorb");
        check(&mut client, "the server's changes");
        let data = client.family_data().expect("data");
        assert!(data.steps.contains_key("new-step"));
        assert_eq!(
            visit_request_status(&data.visit_requests[&request].events),
            VisitStatus::Declined,
            "the server's decision beats the family's intent"
        );
    }
}
