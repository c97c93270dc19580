//! Statuses as pure functions of events.
//!
//! Devices edit offline and Automerge merges their appended events in whatever order they
//! arrive, so a status must not depend on the order of the list: every function here depends
//! only on the *set* of events. Each fold gives every event a fixed precedence by kind and takes
//! the greatest by `(precedence, at, id)` (then `kind` and `by`, so that even two events with the
//! same id order the same way everywhere). The same set gives the same status on every device and
//! on the server, whatever the order of merges.
//!
//! # Visit requests
//!
//! Family devices write *intents* (`withdraw_requested`, `cancel_requested`,
//! `proposal_accepted`); the server writes *decisions* (`proposed`, `confirmed`, `declined`,
//! `withdrawn`, `cancelled`, …). Precedence, lowest first:
//!
//! | rank | kinds | status |
//! |---|---|---|
//! | 0 | `requested` | pending |
//! | 1 | `proposed` | proposed |
//! | 2 | `proposal_accepted` (family; counts only if a `proposed` exists) | confirmed |
//! | 3 | `confirmed`, `waitlist_offer_accepted` | confirmed |
//! | 4 | `withdraw_requested` / `cancel_requested` (family) | withdrawn / cancelled |
//! | 5 | `declined` / `withdrawn` / `cancelled` (server) | declined / withdrawn / cancelled |
//!
//! `amended` and `flagged` do not change the status. Why this order:
//!
//! - **A family's "we won't come" beats a concurrent confirmation.** A family that withdraws a
//!   pending request offline while a coordinator confirms it ends *withdrawn* on every device and
//!   on the server, whichever merged first, because the family's intent is the newer knowledge
//!   about whether the visit will take place, and a place must not stay held for a family that
//!   said it will not come. When the server receives the intent it gives the place back and
//!   writes the matching decision (`withdrawn` for `withdraw_requested`, `cancelled` for
//!   `cancel_requested`), so the status does not move again.
//! - **The server's final word beats the family's intent.** A decision of rank 5 ends the
//!   request whatever intents arrive later or concurrently.
//! - **The server may refuse an intent** (e.g. a cancellation after the prison's cut-off) by
//!   writing `intent_refused` with `refers_to` = the intent's id: that intent then no longer
//!   counts and the status falls back (to *confirmed* for a refused cancellation).
//! - Events of server kinds count only when `by` is the server; the write policy already keeps
//!   devices from writing them, this keeps the fold honest on a copy that was not validated.
//!
//! The other folds follow the same pattern and are documented on each function.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use super::schema::{Event, InvitationAnswer, Rsvp};
use crate::visits::{SlotChoice, VisitStatus, wire_enum};

wire_enum!(
    /// The kinds of a visit request's events.
    VisitEventKind {
        Requested = "requested",
        WithdrawRequested = "withdraw_requested",
        CancelRequested = "cancel_requested",
        ProposalAccepted = "proposal_accepted",
        Proposed = "proposed",
        Confirmed = "confirmed",
        WaitlistOfferAccepted = "waitlist_offer_accepted",
        Declined = "declined",
        Withdrawn = "withdrawn",
        Cancelled = "cancelled",
        Amended = "amended",
        Flagged = "flagged",
        IntentRefused = "intent_refused",
    }
);

impl VisitEventKind {
    /// Kinds a family device may append to an existing request (`requested` only opens one).
    pub fn family_may_append(self) -> bool {
        matches!(
            self,
            Self::WithdrawRequested | Self::CancelRequested | Self::ProposalAccepted
        )
    }

    /// Family kinds are intents; all others are the server's decisions.
    pub fn is_family_kind(self) -> bool {
        self == Self::Requested || self.family_may_append()
    }
}

wire_enum!(
    /// The kinds of a family-day registration's events.
    RegistrationEventKind {
        Requested = "requested",
        CancelRequested = "cancel_requested",
        Waitlisted = "waitlisted",
        Registered = "registered",
        Declined = "declined",
        Cancelled = "cancelled",
        IntentRefused = "intent_refused",
    }
);

impl RegistrationEventKind {
    pub fn family_may_append(self) -> bool {
        self == Self::CancelRequested
    }

    pub fn is_family_kind(self) -> bool {
        matches!(self, Self::Requested | Self::CancelRequested)
    }
}

wire_enum!(
    /// Where a family-day registration stands, as the family document knows it. Unlike
    /// [`crate::family_days::RegistrationStatus`] it has `requested` (written offline, not yet
    /// answered by the server) and `declined` (the server could not take it).
    RegistrationState {
        Requested = "requested",
        Waiting = "waiting",
        Registered = "registered",
        Declined = "declined",
        Cancelled = "cancelled",
    }
);

wire_enum!(
    /// The kinds of an appointment's events.
    AppointmentEventKind {
        Proposed = "proposed",
        Accepted = "accepted",
        Declined = "declined",
        Tentative = "tentative",
        Cancelled = "cancelled",
    }
);

impl AppointmentEventKind {
    /// Answers a family device may append (`proposed` only opens an appointment).
    pub fn family_may_append(self) -> bool {
        matches!(self, Self::Accepted | Self::Declined | Self::Tentative)
    }

    pub fn is_family_kind(self) -> bool {
        self == Self::Proposed || self.family_may_append()
    }
}

wire_enum!(
    /// Where an appointment stands.
    AppointmentStatus {
        Proposed = "proposed",
        Accepted = "accepted",
        Declined = "declined",
        Tentative = "tentative",
        Cancelled = "cancelled",
    }
);

wire_enum!(
    /// The kinds of a checklist item's events.
    ChecklistEventKind {
        Ticked = "ticked",
        Unticked = "unticked",
    }
);

wire_enum!(
    /// The kinds of a step's own events; the server writes them all. A status kind sets the
    /// step's status (`detail`: why it is blocked, or a comment); `updated` records a change of
    /// its other fields (`detail`: which); every event names the staff account that acted.
    StepEventKind {
        Created = "created",
        Todo = "todo",
        InProgress = "in_progress",
        WaitingOnAgency = "waiting_on_agency",
        Blocked = "blocked",
        Done = "done",
        Updated = "updated",
    }
);

wire_enum!(
    /// Where an administrative step stands.
    StepStatus {
        Todo = "todo",
        InProgress = "in_progress",
        WaitingOnAgency = "waiting_on_agency",
        Blocked = "blocked",
        Done = "done",
    }
);

impl StepStatus {
    /// Whether something is still to be done (every status but `done`).
    pub fn is_open(self) -> bool {
        self != Self::Done
    }

    /// The event kind that sets this status.
    pub fn event_kind(self) -> StepEventKind {
        match self {
            Self::Todo => StepEventKind::Todo,
            Self::InProgress => StepEventKind::InProgress,
            Self::WaitingOnAgency => StepEventKind::WaitingOnAgency,
            Self::Blocked => StepEventKind::Blocked,
            Self::Done => StepEventKind::Done,
        }
    }
}

/// The total order that breaks ties between events of equal precedence: later `at` wins, then
/// greater `id`, then the other fields, so that the order never depends on list positions (two
/// events equal in every field are the same event).
pub fn event_order(a: &Event, b: &Event) -> Ordering {
    (
        a.at,
        &a.id,
        &a.kind,
        a.by,
        &a.refers_to,
        &a.detail,
        a.staff_account,
        a.slot,
    )
        .cmp(&(
            b.at,
            &b.id,
            &b.kind,
            b.by,
            &b.refers_to,
            &b.detail,
            b.staff_account,
            b.slot,
        ))
}

/// The greatest of `candidates` by `(rank, event_order)`.
fn winner<'a, T: Copy>(candidates: impl Iterator<Item = (u8, &'a Event, T)>) -> Option<T> {
    candidates
        .max_by(|(ra, a, _), (rb, b, _)| ra.cmp(rb).then_with(|| event_order(a, b)))
        .map(|(_, _, value)| value)
}

/// Whether `event` was refused by a server `intent_refused` among `events`.
fn refused(events: &[Event], event: &Event, refusal_kind: &str) -> bool {
    events.iter().any(|e| {
        e.kind == refusal_kind && e.by.is_server() && e.refers_to.as_deref() == Some(&event.id)
    })
}

/// A visit request's status; see the module documentation for the precedence and its reasons.
/// With no event it knows, a request is pending.
pub fn visit_request_status(events: &[Event]) -> VisitStatus {
    use VisitEventKind as K;
    let counted = |e: &&Event| -> Option<K> {
        let kind = K::parse(&e.kind)?;
        if !kind.is_family_kind() && !e.by.is_server() {
            return None;
        }
        if kind.family_may_append() && refused(events, e, K::IntentRefused.as_str()) {
            return None;
        }
        Some(kind)
    };
    let proposed = events.iter().any(|e| counted(&e) == Some(K::Proposed));
    let ranked = events.iter().filter_map(|e| {
        let (rank, status) = match counted(&e)? {
            K::Requested => (0, VisitStatus::Pending),
            K::Proposed => (1, VisitStatus::Proposed),
            K::ProposalAccepted if proposed => (2, VisitStatus::Confirmed),
            K::Confirmed | K::WaitlistOfferAccepted => (3, VisitStatus::Confirmed),
            K::WithdrawRequested => (4, VisitStatus::Withdrawn),
            K::CancelRequested => (4, VisitStatus::Cancelled),
            K::Declined => (5, VisitStatus::Declined),
            K::Withdrawn => (5, VisitStatus::Withdrawn),
            K::Cancelled => (5, VisitStatus::Cancelled),
            K::ProposalAccepted | K::Amended | K::Flagged | K::IntentRefused => return None,
        };
        Some((rank, e, status))
    });
    winner(ranked).unwrap_or(VisitStatus::Pending)
}

/// The slot a visit request holds or is offered: the slot of the latest server event that names
/// one (`proposed`, `confirmed`, `waitlist_offer_accepted`, `amended`), by `(at, id)`. `None`
/// when no such event names a slot, or when the request is no longer active.
pub fn visit_request_slot(events: &[Event]) -> Option<SlotChoice> {
    use VisitEventKind as K;
    if !visit_request_status(events).is_active() {
        return None;
    }
    let with_slot = events.iter().filter_map(|e| {
        let kind = K::parse(&e.kind)?;
        let names_slot = matches!(
            kind,
            K::Proposed | K::Confirmed | K::WaitlistOfferAccepted | K::Amended
        );
        (names_slot && e.by.is_server()).then_some((0, e, e.slot?))
    });
    winner(with_slot)
}

/// Family intents the server has not acted on yet: not refused, not answered by a server event
/// that `refers_to` them, and not overtaken by a final decision (`declined`, `withdrawn`,
/// `cancelled`), nor, for a `proposal_accepted`, by a confirmation. This is what the server has
/// to act on when a sync brings them. Sorted by [`event_order`].
pub fn open_visit_intents(events: &[Event]) -> Vec<&Event> {
    use VisitEventKind as K;
    let by_server = |kinds: &[K]| {
        events
            .iter()
            .any(|e| e.by.is_server() && K::parse(&e.kind).is_some_and(|k| kinds.contains(&k)))
    };
    let finished = by_server(&[K::Declined, K::Withdrawn, K::Cancelled]);
    let confirmed = by_server(&[K::Confirmed, K::WaitlistOfferAccepted]);
    let answered = |intent: &Event| {
        events
            .iter()
            .any(|e| e.by.is_server() && e.refers_to.as_deref() == Some(&intent.id))
    };
    let mut open: Vec<&Event> = events
        .iter()
        .filter(|e| match K::parse(&e.kind) {
            Some(K::ProposalAccepted) => !finished && !confirmed && !answered(e),
            Some(kind) if kind.family_may_append() => !finished && !answered(e),
            _ => false,
        })
        .collect();
    open.sort_by(|a, b| event_order(a, b));
    open
}

/// A family-day registration's status.
///
/// | rank | kinds | state |
/// |---|---|---|
/// | 0 | `requested` (family) | requested |
/// | 1 | `waitlisted` | waiting |
/// | 2 | `registered` | registered |
/// | 3 | `cancel_requested` (family, unless refused by `intent_refused`) | cancelled |
/// | 4 | `declined` / `cancelled` (server) | declined / cancelled |
///
/// As for visits, a family's cancellation beats a concurrent registration (the server gives
/// the places back when it receives it) and the server's final word beats the family's intent.
pub fn registration_status(events: &[Event]) -> RegistrationState {
    use RegistrationEventKind as K;
    let ranked = events.iter().filter_map(|e| {
        let kind = K::parse(&e.kind)?;
        if !kind.is_family_kind() && !e.by.is_server() {
            return None;
        }
        let (rank, state) = match kind {
            K::Requested => (0, RegistrationState::Requested),
            K::Waitlisted => (1, RegistrationState::Waiting),
            K::Registered => (2, RegistrationState::Registered),
            K::CancelRequested => {
                if refused(events, e, K::IntentRefused.as_str()) {
                    return None;
                }
                (3, RegistrationState::Cancelled)
            }
            K::Declined => (4, RegistrationState::Declined),
            K::Cancelled => (4, RegistrationState::Cancelled),
            K::IntentRefused => return None,
        };
        Some((rank, e, state))
    });
    winner(ranked).unwrap_or(RegistrationState::Requested)
}

/// Cancellation requests the server has not acted on yet: not answered by a server event that
/// `refers_to` them (`cancelled` or `intent_refused`) and not overtaken by a final `declined` or
/// `cancelled`. Sorted by [`event_order`].
pub fn open_registration_intents(events: &[Event]) -> Vec<&Event> {
    use RegistrationEventKind as K;
    let finished = events
        .iter()
        .any(|e| e.by.is_server() && matches!(K::parse(&e.kind), Some(K::Declined | K::Cancelled)));
    let answered = |intent: &Event| {
        events
            .iter()
            .any(|e| e.by.is_server() && e.refers_to.as_deref() == Some(&intent.id))
    };
    let mut open: Vec<&Event> = events
        .iter()
        .filter(|e| K::parse(&e.kind) == Some(K::CancelRequested) && !finished && !answered(e))
        .collect();
    open.sort_by(|a, b| event_order(a, b));
    open
}

/// An appointment's status: `cancelled` by the server ends it; otherwise the latest (by
/// `(at, id)`) of `proposed`, `accepted`, `declined` and `tentative` counts, so that either side
/// may change its answer and a new proposal (written by the server with the new time) asks
/// again. With no event it knows, an appointment is proposed.
pub fn appointment_status(events: &[Event]) -> AppointmentStatus {
    use AppointmentEventKind as K;
    let ranked = events.iter().filter_map(|e| {
        let (rank, status) = match K::parse(&e.kind)? {
            K::Cancelled if e.by.is_server() => (1, AppointmentStatus::Cancelled),
            K::Cancelled => return None,
            K::Proposed => (0, AppointmentStatus::Proposed),
            K::Accepted => (0, AppointmentStatus::Accepted),
            K::Declined => (0, AppointmentStatus::Declined),
            K::Tentative => (0, AppointmentStatus::Tentative),
        };
        Some((rank, e, status))
    });
    winner(ranked).unwrap_or(AppointmentStatus::Proposed)
}

/// Whether a checklist item is ticked: the latest of `ticked` and `unticked` by `(at, id)`;
/// unticked when there is none.
pub fn checklist_item_ticked(events: &[Event]) -> bool {
    let ranked = events.iter().filter_map(|e| {
        let ticked = match ChecklistEventKind::parse(&e.kind)? {
            ChecklistEventKind::Ticked => true,
            ChecklistEventKind::Unticked => false,
        };
        Some((0, e, ticked))
    });
    winner(ranked).unwrap_or(false)
}

/// A step's status: that of the latest status event by `(at, id)`; `todo` when there is none.
/// Only the server's events count.
pub fn step_status(events: &[Event]) -> StepStatus {
    step_state(events).0
}

/// [`step_status`] with the deciding event's `detail` (why a step is blocked).
pub fn step_state(events: &[Event]) -> (StepStatus, Option<&str>) {
    use StepEventKind as K;
    let ranked = events.iter().filter(|e| e.by.is_server()).filter_map(|e| {
        let status = match K::parse(&e.kind)? {
            K::Created | K::Updated => return None,
            K::Todo => StepStatus::Todo,
            K::InProgress => StepStatus::InProgress,
            K::WaitingOnAgency => StepStatus::WaitingOnAgency,
            K::Blocked => StepStatus::Blocked,
            K::Done => StepStatus::Done,
        };
        Some((0, e, (status, e.detail.as_deref())))
    });
    winner(ranked).unwrap_or((StepStatus::Todo, None))
}

/// The answer that counts: the latest by `(at, by)` (then the answer and the note, so that even
/// two answers of the same instant by the same member order the same way everywhere). `None`
/// before any answer.
pub fn invitation_answer(answers: &[InvitationAnswer]) -> Option<&InvitationAnswer> {
    answers
        .iter()
        .max_by(|a, b| (a.at, a.by, a.answer, &a.note).cmp(&(b.at, b.by, b.answer, &b.note)))
}

/// The answer of [`invitation_answer`], as its value.
pub fn invitation_rsvp(answers: &[InvitationAnswer]) -> Option<Rsvp> {
    invitation_answer(answers).map(|a| a.answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemberId;
    use crate::doc::schema::Author;
    use proptest::prelude::*;

    fn ev(kind: &str, at: i64, id: &str, by: Author) -> Event {
        Event {
            id: id.to_owned(),
            ..Event::new(kind, at, by)
        }
    }

    fn family() -> Author {
        Author::Member(MemberId(uuid::Uuid::from_u128(7)))
    }

    #[test]
    fn a_family_withdrawal_and_a_concurrent_confirmation_end_withdrawn_everywhere() {
        // The coordinator's confirmation is *later* by the clock: precedence, not time, decides.
        let requested = ev("requested", 1, "a", family());
        let withdraw = ev("withdraw_requested", 10, "b", family());
        let confirmed = ev("confirmed", 20, "c", Author::Server);
        let device_order = [requested.clone(), withdraw.clone(), confirmed.clone()];
        let server_order = [requested, confirmed, withdraw.clone()];
        assert_eq!(visit_request_status(&device_order), VisitStatus::Withdrawn);
        assert_eq!(visit_request_status(&server_order), VisitStatus::Withdrawn);
        assert_eq!(open_visit_intents(&server_order), vec![&withdraw]);
        // The server then honours the intent with the matching decision: nothing moves.
        let mut settled = server_order.to_vec();
        settled.push(Event {
            refers_to: Some("b".into()),
            ..ev("withdrawn", 30, "d", Author::Server)
        });
        assert_eq!(visit_request_status(&settled), VisitStatus::Withdrawn);
        assert!(open_visit_intents(&settled).is_empty());
    }

    #[test]
    fn a_cancellation_request_and_a_concurrent_confirmation_end_cancelled_everywhere() {
        let events = [
            ev("requested", 1, "a", family()),
            ev("proposed", 2, "b", Author::Server),
            ev("proposal_accepted", 3, "c", family()),
            ev("cancel_requested", 4, "d", family()),
            ev("confirmed", 5, "e", Author::Server),
        ];
        assert_eq!(visit_request_status(&events), VisitStatus::Cancelled);
        let mut reversed = events.to_vec();
        reversed.reverse();
        assert_eq!(visit_request_status(&reversed), VisitStatus::Cancelled);
    }

    #[test]
    fn a_refused_cancellation_no_longer_counts() {
        let mut events = vec![
            ev("requested", 1, "a", family()),
            ev("confirmed", 2, "b", Author::Server),
            ev("cancel_requested", 3, "c", family()),
        ];
        assert_eq!(visit_request_status(&events), VisitStatus::Cancelled);
        events.push(Event {
            refers_to: Some("c".into()),
            detail: Some("cancellation_cutoff_passed".into()),
            ..ev("intent_refused", 4, "d", Author::Server)
        });
        assert_eq!(visit_request_status(&events), VisitStatus::Confirmed);
        assert!(open_visit_intents(&events).is_empty());
        // A refusal written by a device is ignored.
        let mut forged = events[..3].to_vec();
        forged.push(Event {
            refers_to: Some("c".into()),
            ..ev("intent_refused", 4, "d", family())
        });
        assert_eq!(visit_request_status(&forged), VisitStatus::Cancelled);
    }

    #[test]
    fn visit_statuses_follow_the_request_lifecycle() {
        let mut events = vec![ev("requested", 1, "a", family())];
        assert_eq!(visit_request_status(&events), VisitStatus::Pending);
        assert_eq!(visit_request_status(&[]), VisitStatus::Pending);
        // Accepting a proposal that does not exist does nothing.
        events.push(ev("proposal_accepted", 2, "b", family()));
        assert_eq!(visit_request_status(&events), VisitStatus::Pending);
        let slot = SlotChoice {
            template_id: uuid::Uuid::from_u128(1),
            date: chrono::NaiveDate::from_ymd_opt(2026, 5, 1).expect("date"),
        };
        events.push(Event {
            slot: Some(slot),
            ..ev("proposed", 3, "c", Author::Server)
        });
        assert_eq!(visit_request_status(&events), VisitStatus::Confirmed);
        assert_eq!(visit_request_slot(&events), Some(slot));
        events.push(ev("amended", 4, "d", Author::Server));
        events.push(ev("flagged", 5, "e", Author::Server));
        events.push(ev("some_future_kind", 6, "f", Author::Server));
        assert_eq!(visit_request_status(&events), VisitStatus::Confirmed);
        events.push(ev("declined", 7, "g", Author::Server));
        assert_eq!(visit_request_status(&events), VisitStatus::Declined);
        assert_eq!(visit_request_slot(&events), None);
        // A device cannot confirm, even if a forged event slipped into a copy.
        let forged = [
            ev("requested", 1, "a", family()),
            ev("confirmed", 2, "b", family()),
        ];
        assert_eq!(visit_request_status(&forged), VisitStatus::Pending);
    }

    #[test]
    fn registrations_appointments_checklists_steps_and_answers() {
        let reg = [
            ev("requested", 1, "a", family()),
            ev("waitlisted", 2, "b", Author::Server),
            ev("registered", 3, "c", Author::Server),
        ];
        assert_eq!(registration_status(&reg), RegistrationState::Registered);
        let mut cancelled = reg.to_vec();
        cancelled.push(ev("cancel_requested", 0, "d", family()));
        assert_eq!(
            registration_status(&cancelled),
            RegistrationState::Cancelled
        );
        cancelled.push(Event {
            refers_to: Some("d".into()),
            ..ev("intent_refused", 5, "e", Author::Server)
        });
        assert_eq!(
            registration_status(&cancelled),
            RegistrationState::Registered
        );

        let appt = [
            ev("proposed", 1, "a", family()),
            ev("tentative", 2, "b", Author::Server),
            ev("accepted", 3, "c", Author::Server),
        ];
        assert_eq!(appointment_status(&appt), AppointmentStatus::Accepted);
        let mut cancelled = appt.to_vec();
        cancelled.push(ev("cancelled", 0, "d", Author::Server));
        assert_eq!(appointment_status(&cancelled), AppointmentStatus::Cancelled);
        cancelled.push(ev("cancelled", 9, "e", family()));
        cancelled.remove(3);
        assert_eq!(appointment_status(&cancelled), AppointmentStatus::Accepted);

        assert!(!checklist_item_ticked(&[]));
        let ticks = [
            ev("ticked", 1, "a", family()),
            ev("unticked", 1, "b", family()),
        ];
        assert!(
            !checklist_item_ticked(&ticks),
            "same instant: the greater id wins"
        );

        assert_eq!(
            step_status(&[ev("created", 1, "a", Author::Server)]),
            StepStatus::Todo
        );
        let done = [
            ev("done", 2, "a", Author::Server),
            ev("in_progress", 1, "b", Author::Server),
            ev("updated", 3, "c", Author::Server),
            ev("todo", 9, "d", family()),
        ];
        assert_eq!(
            step_status(&done),
            StepStatus::Done,
            "the server's latest status"
        );
        let mut blocked = ev("blocked", 4, "e", Author::Server);
        blocked.detail = Some("waiting for the birth certificate".into());
        let mut events = done.to_vec();
        events.push(blocked);
        assert_eq!(
            step_state(&events),
            (
                StepStatus::Blocked,
                Some("waiting for the birth certificate")
            )
        );

        let member = MemberId(uuid::Uuid::from_u128(7));
        let answer = |answer, at| InvitationAnswer {
            answer,
            note: None,
            at,
            by: Author::Member(member),
        };
        assert_eq!(invitation_rsvp(&[]), None);
        let answers = [answer(Rsvp::Accepted, 5), answer(Rsvp::Declined, 3)];
        assert_eq!(invitation_rsvp(&answers), Some(Rsvp::Accepted));
    }

    // ---- Property tests: the folds depend only on the set of events ----------------------

    const VISIT_KINDS: &[&str] = &[
        "requested",
        "withdraw_requested",
        "cancel_requested",
        "proposal_accepted",
        "proposed",
        "confirmed",
        "waitlist_offer_accepted",
        "declined",
        "withdrawn",
        "cancelled",
        "amended",
        "flagged",
        "intent_refused",
        "unknown_kind",
    ];
    const REGISTRATION_KINDS: &[&str] = &[
        "requested",
        "cancel_requested",
        "waitlisted",
        "registered",
        "declined",
        "cancelled",
        "intent_refused",
    ];
    const APPOINTMENT_KINDS: &[&str] =
        &["proposed", "accepted", "declined", "tentative", "cancelled"];
    const CHECKLIST_KINDS: &[&str] = &["ticked", "unticked"];
    const STEP_KINDS: &[&str] = &[
        "created",
        "todo",
        "in_progress",
        "waiting_on_agency",
        "blocked",
        "done",
        "updated",
    ];

    /// Events with few distinct instants, ids and authors, so that ties are frequent, and with
    /// `refers_to` pointing at ids that exist.
    fn events(kinds: &'static [&'static str]) -> impl Strategy<Value = Vec<Event>> {
        let one = (
            0..kinds.len(),
            0_i64..4,
            0_u8..6,
            0_u8..3,
            proptest::option::of(0_u8..6),
        );
        proptest::collection::vec(one, 0..12).prop_map(move |raw| {
            raw.into_iter()
                .map(|(kind, at, id, by, refers_to)| Event {
                    refers_to: refers_to.map(|r| format!("e{r}")),
                    ..ev(
                        kinds[kind],
                        at,
                        &format!("e{id}"),
                        match by {
                            0 => Author::Server,
                            n => Author::Member(MemberId(uuid::Uuid::from_u128(u128::from(n)))),
                        },
                    )
                })
                .collect()
        })
    }

    fn answers() -> impl Strategy<Value = Vec<InvitationAnswer>> {
        let one = (0_usize..3, 0_i64..3, 0_u8..3, proptest::option::of(0_u8..2));
        proptest::collection::vec(one, 0..8).prop_map(|raw| {
            raw.into_iter()
                .map(|(answer, at, by, note)| InvitationAnswer {
                    answer: Rsvp::ALL[answer],
                    note: note.map(|n| format!("note {n}")),
                    at,
                    by: Author::Member(MemberId(uuid::Uuid::from_u128(u128::from(by)))),
                })
                .collect()
        })
    }

    /// `events` in a shuffled order and with some events repeated (a set, not a list).
    fn shuffled<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
        let mut out: Vec<T> = items.to_vec();
        // A small deterministic LCG: proptest already chose the seed at random.
        let mut state = seed | 1;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        for i in (1..out.len()).rev() {
            let j = usize::try_from(next()).unwrap_or(0) % (i + 1);
            out.swap(i, j);
        }
        if !items.is_empty() && next() % 2 == 0 {
            let k = usize::try_from(next()).unwrap_or(0) % items.len();
            out.push(items[k].clone());
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn visit_status_depends_only_on_the_set(events in events(VISIT_KINDS), seed: u64) {
            let other = shuffled(&events, seed);
            prop_assert_eq!(visit_request_status(&events), visit_request_status(&other));
            prop_assert_eq!(visit_request_slot(&events), visit_request_slot(&other));
            let mut a: Vec<Event> = open_visit_intents(&events).into_iter().cloned().collect();
            let mut b: Vec<Event> = open_visit_intents(&other).into_iter().cloned().collect();
            a.dedup();
            b.dedup();
            prop_assert_eq!(a, b);
        }

        #[test]
        fn a_final_server_decision_is_final(events in events(VISIT_KINDS), more in events(VISIT_KINDS), kind in 0_usize..3) {
            let decision = ["declined", "withdrawn", "cancelled"][kind];
            let mut all = events;
            all.push(ev(decision, 0, "final", Author::Server));
            let before = visit_request_status(&all);
            prop_assert!(!before.is_active());
            all.extend(more);
            prop_assert!(!visit_request_status(&all).is_active());
        }

        #[test]
        fn registration_status_depends_only_on_the_set(events in events(REGISTRATION_KINDS), seed: u64) {
            let other = shuffled(&events, seed);
            prop_assert_eq!(registration_status(&events), registration_status(&other));
            let mut a: Vec<Event> = open_registration_intents(&events).into_iter().cloned().collect();
            let mut b: Vec<Event> = open_registration_intents(&other).into_iter().cloned().collect();
            a.dedup();
            b.dedup();
            prop_assert_eq!(a, b);
        }

        #[test]
        fn appointment_status_depends_only_on_the_set(events in events(APPOINTMENT_KINDS), seed: u64) {
            prop_assert_eq!(appointment_status(&events), appointment_status(&shuffled(&events, seed)));
        }

        #[test]
        fn checklist_and_step_status_depend_only_on_the_set(
            ticks in events(CHECKLIST_KINDS),
            steps in events(STEP_KINDS),
            seed: u64,
        ) {
            prop_assert_eq!(checklist_item_ticked(&ticks), checklist_item_ticked(&shuffled(&ticks, seed)));
            prop_assert_eq!(step_status(&steps), step_status(&shuffled(&steps, seed)));
        }

        #[test]
        fn invitation_answer_depends_only_on_the_set(answers in answers(), seed: u64) {
            prop_assert_eq!(
                invitation_answer(&answers).cloned(),
                invitation_answer(&shuffled(&answers, seed)).cloned()
            );
        }
    }
}
