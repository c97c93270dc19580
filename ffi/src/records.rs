//! The plain records and enums the shells see, and their conversions from and to the client
//! core's types. Ids are strings (UUIDs), dates `YYYY-MM-DD` strings, instants `SystemTime`
//! (a `Date` in Swift, an `Instant` in Kotlin, a `datetime` in Python).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, NaiveDate, TimeZone};
use reguide_client_core::ops::{
    AppointmentView, InvitationView, RegistrationView, StepView, VisitRequestView,
};
use reguide_client_core::protocol::doc::status::{
    AppointmentEventKind, AppointmentStatus as CoreAppointmentStatus,
    RegistrationState as CoreRegistrationState, StepStatus as CoreStepStatus,
};
use reguide_client_core::protocol::doc::{DocMember, Rsvp as CoreRsvp, StepOwner};
use reguide_client_core::protocol::visits::{
    SlotChoice, SupportNeed as CoreSupportNeed, VisitStatus as CoreVisitStatus,
    VisitType as CoreVisitType, WaitlistStatus as CoreWaitlistStatus,
};
use reguide_client_core::{ReferenceCache, ReminderKind as CoreReminderKind};

use crate::error::{CompanionError, CompanionResult};

/// An enum of the shells mirroring one of the core's, variant for variant.
macro_rules! mirror_enum {
    ($(#[$meta:meta])* $name:ident = $core:ident { $($variant:ident),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
        pub enum $name { $($variant),* }

        impl From<$core> for $name {
            fn from(value: $core) -> Self {
                match value { $($core::$variant => Self::$variant),* }
            }
        }

        impl From<$name> for $core {
            fn from(value: $name) -> Self {
                match value { $($name::$variant => Self::$variant),* }
            }
        }
    };
}

mirror_enum!(
    VisitType = CoreVisitType {
        Table,
        Closed,
        Unsupervised,
        Video,
        FamilyDay
    }
);
mirror_enum!(
    VisitStatus = CoreVisitStatus {
        Pending,
        Proposed,
        Confirmed,
        Declined,
        Withdrawn,
        Cancelled
    }
);
mirror_enum!(
    SupportNeed = CoreSupportNeed {
        Wheelchair,
        Interpreter,
        HearingSupport,
        VisualSupport,
        Pram,
        Other
    }
);
mirror_enum!(
    RegistrationState = CoreRegistrationState {
        Requested,
        Waiting,
        Registered,
        Declined,
        Cancelled
    }
);
mirror_enum!(
    StepStatus = CoreStepStatus {
        Todo,
        InProgress,
        WaitingOnAgency,
        Blocked,
        Done
    }
);
mirror_enum!(
    AppointmentStatus = CoreAppointmentStatus {
        Proposed,
        Accepted,
        Declined,
        Tentative,
        Cancelled
    }
);
mirror_enum!(
    Rsvp = CoreRsvp {
        Accepted,
        Declined,
        Tentative
    }
);
mirror_enum!(
    WaitlistStatus = CoreWaitlistStatus {
        Waiting,
        Offered,
        Accepted,
        Declined,
        Expired,
        Cancelled
    }
);
mirror_enum!(
    ReminderKind = CoreReminderKind {
        Visit,
        FamilyDay,
        StepDueSoon,
        StepDueToday,
        Appointment,
        AppointmentSoon,
        LivingLab,
    }
);

/// How the family answers an appointment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum AppointmentAnswer {
    Accepted,
    Declined,
    Tentative,
}

impl From<AppointmentAnswer> for AppointmentEventKind {
    fn from(answer: AppointmentAnswer) -> Self {
        match answer {
            AppointmentAnswer::Accepted => Self::Accepted,
            AppointmentAnswer::Declined => Self::Declined,
            AppointmentAnswer::Tentative => Self::Tentative,
        }
    }
}

// ---- Conversions of ids, dates and instants ------------------------------------------------

pub(crate) fn parse_id<T: From<uuid::Uuid>>(field: &str, text: &str) -> CompanionResult<T> {
    uuid::Uuid::parse_str(text)
        .map(T::from)
        .map_err(|_| CompanionError::invalid("invalid_id", field, format!("{text:?} is not an id")))
}

pub(crate) fn parse_date(field: &str, text: &str) -> CompanionResult<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        CompanionError::invalid(
            "invalid_date",
            field,
            format!("{text:?} is not a YYYY-MM-DD date"),
        )
    })
}

pub(crate) fn instant<Tz: TimeZone>(at: DateTime<Tz>) -> SystemTime {
    let millis = at.timestamp_millis();
    match u64::try_from(millis) {
        Ok(after) => UNIX_EPOCH + Duration::from_millis(after),
        Err(_) => UNIX_EPOCH - Duration::from_millis(millis.unsigned_abs()),
    }
}

pub(crate) fn from_millis(millis: i64) -> SystemTime {
    DateTime::from_timestamp_millis(millis).map_or(UNIX_EPOCH, instant)
}

pub(crate) fn to_millis(field: &str, at: SystemTime) -> CompanionResult<i64> {
    let out_of_range =
        || CompanionError::invalid("invalid_value", field, "the instant is out of range");
    match at.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).map_err(|_| out_of_range()),
        Err(before) => i64::try_from(before.duration().as_millis())
            .map(|m| -m)
            .map_err(|_| out_of_range()),
    }
}

// ---- Records --------------------------------------------------------------------------------

/// A slot: a weekly session (its template) on a date.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SlotPick {
    pub template_id: String,
    /// `YYYY-MM-DD`, in the prison's time zone.
    pub date: String,
}

impl From<SlotChoice> for SlotPick {
    fn from(slot: SlotChoice) -> Self {
        Self {
            template_id: slot.template_id.to_string(),
            date: slot.date.to_string(),
        }
    }
}

impl SlotPick {
    pub(crate) fn parse(&self, field: &str) -> CompanionResult<SlotChoice> {
        Ok(SlotChoice {
            template_id: parse_id(field, &self.template_id)?,
            date: parse_date(field, &self.date)?,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Member {
    pub id: String,
    pub display_name: String,
    pub relation: String,
    /// `nl`, `fr`, `de`, `en` or `ar`.
    pub language: String,
}

pub(crate) fn members(list: &std::collections::BTreeMap<String, DocMember>) -> Vec<Member> {
    list.iter()
        .map(|(id, m)| Member {
            id: id.clone(),
            display_name: m.display_name.clone(),
            relation: m.relation.clone(),
            language: m.language.code().to_owned(),
        })
        .collect()
}

/// A visit to ask for: one to three preferred slots, who comes, what support they need.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct NewVisit {
    pub detainee_id: String,
    pub prison_id: String,
    pub visit_type: VisitType,
    pub preferences: Vec<SlotPick>,
    pub visitors: Vec<String>,
    pub support_needs: Vec<SupportNeed>,
    pub support_note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Visit {
    pub id: String,
    pub detainee_id: String,
    pub prison_id: String,
    pub visit_type: VisitType,
    pub status: VisitStatus,
    /// The slot held (confirmed) or offered (proposed).
    pub slot: Option<SlotPick>,
    pub preferences: Vec<SlotPick>,
    pub visitors: Vec<String>,
    pub requested_by: String,
    pub created_at: SystemTime,
}

impl From<VisitRequestView> for Visit {
    fn from(v: VisitRequestView) -> Self {
        let r = v.request;
        Self {
            id: r.id,
            detainee_id: r.detainee_id.to_string(),
            prison_id: r.prison_id.to_string(),
            visit_type: r.visit_type.into(),
            status: v.status.into(),
            slot: v.slot.map(SlotPick::from),
            preferences: r.preferences.into_iter().map(SlotPick::from).collect(),
            visitors: r.visitors.iter().map(ToString::to_string).collect(),
            requested_by: r.requested_by.to_string(),
            created_at: from_millis(r.created_at),
        }
    }
}

/// A visit ahead, with what the prison asks of visitors in the member's language.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct UpcomingVisit {
    pub request_id: String,
    pub status: VisitStatus,
    pub visit_type: VisitType,
    pub prison_id: String,
    pub slot: SlotPick,
    pub visitors: Vec<String>,
    pub starts_at: Option<SystemTime>,
    pub ends_at: Option<SystemTime>,
    pub room: Option<String>,
    pub prison_name: Option<String>,
    pub address: Option<String>,
    pub arrival_advice: Option<String>,
    pub what_to_bring: Option<String>,
}

impl From<reguide_client_core::UpcomingVisit> for UpcomingVisit {
    fn from(v: reguide_client_core::UpcomingVisit) -> Self {
        Self {
            request_id: v.request_id,
            status: v.status.into(),
            visit_type: v.visit_type.into(),
            prison_id: v.prison_id.to_string(),
            slot: v.slot.into(),
            visitors: v.visitors.iter().map(ToString::to_string).collect(),
            starts_at: v.starts_at.map(instant),
            ends_at: v.ends_at.map(instant),
            room: v.room,
            prison_name: v.prison_name,
            address: v.address,
            arrival_advice: v.arrival_advice,
            what_to_bring: v.what_to_bring,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SyncState {
    /// Changes on this device the server has not acknowledged yet.
    pub pending_changes: bool,
    pub last_success: Option<SystemTime>,
    /// The code of the last failure, until a sync succeeds.
    pub last_error: Option<String>,
    /// When a background scheduler should try next.
    pub next_attempt: SystemTime,
}

impl From<reguide_client_core::SyncStatus> for SyncState {
    fn from(s: reguide_client_core::SyncStatus) -> Self {
        Self {
            pending_changes: s.pending_changes,
            last_success: s.last_success.map(instant),
            last_error: s.last_error,
            next_attempt: instant(s.next_attempt),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    pub sent_bytes: u64,
    pub received_bytes: u64,
    /// The server sent the whole document (a first sync, or a recovery).
    pub full_document: bool,
    /// The family's data changed on this device.
    pub changed: bool,
}

impl From<reguide_client_core::SyncOutcome> for SyncReport {
    fn from(o: reguide_client_core::SyncOutcome) -> Self {
        Self {
            sent_bytes: o.sent_bytes as u64,
            received_bytes: o.received_bytes as u64,
            full_document: o.full_document,
            changed: o.changed,
        }
    }
}

/// The app's first screen, in one call.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Overview {
    pub family_id: String,
    pub member_id: String,
    pub members: Vec<Member>,
    pub next_visit: Option<UpcomingVisit>,
    pub visits_pending: u32,
    pub visits_proposed: u32,
    pub visits_confirmed: u32,
    pub open_steps: u32,
    pub overdue_steps: u32,
    pub appointments_to_answer: u32,
    pub invitations_to_answer: u32,
    pub sync: SyncState,
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl From<reguide_client_core::Overview> for Overview {
    fn from(o: reguide_client_core::Overview) -> Self {
        Self {
            family_id: o.family_id.to_string(),
            member_id: o.member_id.to_string(),
            members: members(&o.members),
            next_visit: o.next_visit.map(UpcomingVisit::from),
            visits_pending: count(o.visits_pending),
            visits_proposed: count(o.visits_proposed),
            visits_confirmed: count(o.visits_confirmed),
            open_steps: count(o.open_steps),
            overdue_steps: count(o.overdue_steps),
            appointments_to_answer: count(o.appointments_to_answer),
            invitations_to_answer: count(o.invitations_to_answer),
            sync: o.sync.into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct NewRegistration {
    pub family_day_id: String,
    pub adults: u32,
    pub children: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Registration {
    pub id: String,
    pub family_day_id: String,
    pub adults: u32,
    pub children: u32,
    pub state: RegistrationState,
}

impl From<RegistrationView> for Registration {
    fn from(v: RegistrationView) -> Self {
        let r = v.registration;
        Self {
            id: r.id,
            family_day_id: r.family_day_id.to_string(),
            adults: u32::try_from(r.adults).unwrap_or(0),
            children: u32::try_from(r.children).unwrap_or(0),
            state: v.state.into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ChecklistItem {
    pub id: String,
    pub label: String,
    pub ticked: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Note {
    pub id: String,
    /// A member id, or `server` for a note written by staff.
    pub by: String,
    pub at: SystemTime,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Step {
    pub id: String,
    pub title: String,
    pub category: String,
    /// Whether the family ticks its checklist (`family`) or the worker does (`worker`).
    pub owner: String,
    pub description: String,
    pub due_date: Option<String>,
    pub status: StepStatus,
    pub overdue: bool,
    pub checklist: Vec<ChecklistItem>,
    pub notes: Vec<Note>,
}

impl From<StepView> for Step {
    fn from(v: StepView) -> Self {
        let s = v.step;
        let labels = &s.checklist;
        Self {
            checklist: v
                .ticked
                .into_iter()
                .map(|(id, ticked)| ChecklistItem {
                    label: labels.get(&id).map(|i| i.label.clone()).unwrap_or_default(),
                    id,
                    ticked,
                })
                .collect(),
            notes: s
                .notes
                .iter()
                .map(|n| Note {
                    id: n.id.clone(),
                    by: n.by.to_text(),
                    at: from_millis(n.at),
                    text: n.text.clone(),
                })
                .collect(),
            id: s.id,
            title: s.title,
            category: s.category,
            owner: match s.owner {
                StepOwner::Family => "family",
                StepOwner::Worker => "worker",
            }
            .to_owned(),
            description: s.description,
            due_date: s.due_date.map(|d| d.to_string()),
            status: v.status.into(),
            overdue: v.overdue,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct NewAppointment {
    /// The social worker's account.
    pub with_account: String,
    pub starts_at: SystemTime,
    pub place: String,
    pub purpose: String,
    pub step_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Appointment {
    pub id: String,
    pub with_account: String,
    pub starts_at: SystemTime,
    pub place: String,
    pub purpose: String,
    pub step_id: Option<String>,
    pub status: AppointmentStatus,
}

impl From<AppointmentView> for Appointment {
    fn from(v: AppointmentView) -> Self {
        let a = v.appointment;
        Self {
            id: a.id,
            with_account: a.with_account.to_string(),
            starts_at: from_millis(a.starts_at),
            place: a.place,
            purpose: a.purpose,
            step_id: a.step_id,
            status: v.status.into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Invitation {
    pub id: String,
    pub session_id: String,
    /// The member invited; only they answer.
    pub member_id: String,
    pub title: String,
    pub starts_at: SystemTime,
    pub answer: Option<Rsvp>,
    /// After an acceptance, the server's word: `held` (a place is kept for the member) or
    /// `waiting` (the session is full; the member is on its waiting list).
    pub place: Option<String>,
}

impl From<InvitationView> for Invitation {
    fn from(v: InvitationView) -> Self {
        let i = v.invitation;
        Self {
            id: i.id,
            session_id: i.session_id,
            member_id: i.member_id.to_string(),
            title: i.title,
            starts_at: from_millis(i.starts_at),
            answer: v.answer.map(Rsvp::from),
            place: i.place,
        }
    }
}

/// A local notification to schedule.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Reminder {
    /// The same on every call for the same reminder: replace, do not double.
    pub key: String,
    pub kind: ReminderKind,
    pub notify_at: SystemTime,
    pub entry_id: String,
    pub date: String,
    pub starts_at: Option<SystemTime>,
    pub title: String,
    pub place: Option<String>,
    pub what_to_bring: Option<String>,
}

impl From<reguide_client_core::Reminder> for Reminder {
    fn from(r: reguide_client_core::Reminder) -> Self {
        Self {
            key: r.key,
            kind: r.kind.into(),
            notify_at: instant(r.notify_at),
            entry_id: r.entry_id,
            date: r.date.to_string(),
            starts_at: r.starts_at.map(instant),
            title: r.title,
            place: r.place,
            what_to_bring: r.what_to_bring,
        }
    }
}

/// A slot of a prison in the next weeks, and how full it is.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct OpenSlot {
    pub slot: SlotPick,
    pub visit_type: VisitType,
    pub starts_at: SystemTime,
    pub ends_at: SystemTime,
    pub room: String,
    pub capacity: i32,
    pub open: i32,
    /// Whether a request made now may name it (else: full, blocked, or outside the window).
    pub bookable: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct FamilyDay {
    pub id: String,
    pub title: String,
    pub date: String,
    pub starts_at: SystemTime,
    pub ends_at: SystemTime,
    pub programme: String,
    pub families_left: i32,
    pub waiting_families: i64,
    pub registration_deadline: SystemTime,
    pub cancelled: bool,
}

/// A prison where someone of the family is held: its advice in the member's language, its
/// slots and family days.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Prison {
    pub id: String,
    pub name: String,
    pub city: String,
    pub address: String,
    pub time_zone: String,
    pub contact_phone: Option<String>,
    pub arrival_advice: Option<String>,
    pub what_to_bring: Option<String>,
    pub accessibility: Option<String>,
    pub slots: Vec<OpenSlot>,
    pub family_days: Vec<FamilyDay>,
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Detainee {
    pub id: String,
    pub full_name: String,
    pub prison_id: String,
}

/// What the device knows of the world around the family, as of `fetched_at`.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Reference {
    pub fetched_at: SystemTime,
    pub detainees: Vec<Detainee>,
    pub prisons: Vec<Prison>,
}

pub(crate) fn reference(
    cache: ReferenceCache,
    language: reguide_client_core::protocol::Language,
) -> Reference {
    use reguide_client_core::protocol::visits::pick;
    let text = |t: &reguide_client_core::protocol::visits::LocalizedText| {
        pick(t, language).map(str::to_owned)
    };
    Reference {
        fetched_at: instant(cache.fetched_at),
        detainees: cache
            .family
            .detainees
            .iter()
            .map(|d| Detainee {
                id: d.id.to_string(),
                full_name: d.full_name.clone(),
                prison_id: d.prison_id.to_string(),
            })
            .collect(),
        prisons: cache
            .prisons
            .iter()
            .map(|p| Prison {
                id: p.prison.id.to_string(),
                name: p.prison.name.clone(),
                city: p.prison.city.clone(),
                address: p.prison.address.clone(),
                time_zone: p.prison.time_zone.clone(),
                contact_phone: p.prison.contact_phone.clone(),
                arrival_advice: text(&p.prison.arrival_advice),
                what_to_bring: text(&p.prison.what_to_bring),
                accessibility: text(&p.prison.accessibility),
                slots: p
                    .slots
                    .iter()
                    .map(|s| OpenSlot {
                        slot: SlotPick {
                            template_id: s.template_id.to_string(),
                            date: s.date.to_string(),
                        },
                        visit_type: s.visit_type.into(),
                        starts_at: instant(s.starts_at),
                        ends_at: instant(s.ends_at),
                        room: s.room.clone(),
                        capacity: s.capacity,
                        open: s.open,
                        bookable: s.bookable,
                    })
                    .collect(),
                family_days: p
                    .family_days
                    .iter()
                    .map(|d| FamilyDay {
                        id: d.id.to_string(),
                        title: d.title.clone(),
                        date: d.date.to_string(),
                        starts_at: instant(d.starts_at),
                        ends_at: instant(d.ends_at),
                        programme: d.programme.clone(),
                        families_left: (d.capacity_families - d.registered_families).max(0),
                        waiting_families: d.waiting_families,
                        registration_deadline: instant(d.registration_deadline),
                        cancelled: d.cancelled,
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// A place on the waiting list of a full slot.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct WaitlistEntry {
    pub id: String,
    pub prison_id: String,
    pub visit_type: VisitType,
    pub slot: SlotPick,
    pub status: WaitlistStatus,
    /// 1 = next in line, while waiting.
    pub position: Option<i64>,
    /// An offered place is held until then.
    pub offer_expires_at: Option<SystemTime>,
    /// The confirmed visit, once an offer is taken.
    pub request_id: Option<String>,
}

impl From<reguide_client_core::protocol::visits::WaitlistEntry> for WaitlistEntry {
    fn from(e: reguide_client_core::protocol::visits::WaitlistEntry) -> Self {
        Self {
            id: e.id.to_string(),
            prison_id: e.prison_id.to_string(),
            visit_type: e.visit_type.into(),
            slot: e.slot.into(),
            status: e.status.into(),
            position: e.position,
            offer_expires_at: e.offer_expires_at.map(instant),
            request_id: e.request_id.map(|id| id.to_string()),
        }
    }
}

/// What to wait for: a full slot, for a detained person, with who would come.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct NewWaitlistEntry {
    pub detainee_id: String,
    pub visit_type: VisitType,
    pub slot: SlotPick,
    pub visitors: Vec<String>,
}
