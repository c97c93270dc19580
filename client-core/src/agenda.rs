//! What is coming for the family: the visits ahead with what the prison asks of visitors, and
//! the reminders the shell shows as local notifications in the next days.
//!
//! Both are computed from the family document, with the reference cache for what the document
//! does not hold (a slot's hours, the prison's advice in the member's language), in the
//! family's time zone. They are pure functions of their inputs ([`upcoming_visits`],
//! [`reminders`]); [`Client`] feeds them the stored data and the clock.
//!
//! | reminder | when (family's time zone) | about |
//! |---|---|---|
//! | `visit` | 18:00 the day before | a confirmed visit the member comes to, with what to bring |
//! | `family_day` | 18:00 the day before | a family day the family is registered for |
//! | `step_due_soon` / `step_due_today` | 09:00 three days before / on the due date | an open step |
//! | `appointment` / `appointment_soon` | 18:00 the day before / an hour before | an accepted or tentative appointment |
//! | `living_lab` | 18:00 the day before | a session the member accepted (or may come to) |

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use reguide_protocol::doc::Rsvp;
use reguide_protocol::doc::status::{
    AppointmentStatus, RegistrationState, StepStatus, appointment_status, invitation_rsvp,
    registration_status, step_status, visit_request_slot, visit_request_status,
};
use reguide_protocol::time::local_instant;
use reguide_protocol::visits::{SlotChoice, VisitStatus, VisitType, pick};
use reguide_protocol::{Language, MemberId, PrisonId};

use crate::client::Client;
use crate::error::{ClientError, ClientResult};
use crate::ops::FamilyData;
use crate::reference::ReferenceCache;

/// Evening reminders, the day before.
const EVENING: NaiveTime = match NaiveTime::from_hms_opt(18, 0, 0) {
    Some(time) => time,
    None => panic!("a valid time"),
};
/// Step reminders, in the morning.
const MORNING: NaiveTime = match NaiveTime::from_hms_opt(9, 0, 0) {
    Some(time) => time,
    None => panic!("a valid time"),
};
/// A step is recalled this many days before it is due, and on the day.
pub const STEP_DAYS_BEFORE: i64 = 3;
/// An appointment is recalled this long before it starts, besides the evening before.
pub const APPOINTMENT_LEAD: Duration = Duration::hours(1);

/// A visit ahead: requested, offered or confirmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpcomingVisit {
    pub request_id: String,
    pub status: VisitStatus,
    pub visit_type: VisitType,
    pub prison_id: PrisonId,
    /// The slot held (confirmed) or offered (proposed); for a pending request, the first
    /// preference.
    pub slot: SlotChoice,
    pub visitors: Vec<MemberId>,
    /// The slot's hours and room, when the reference cache holds the slot (its next weeks).
    pub starts_at: Option<DateTime<FixedOffset>>,
    pub ends_at: Option<DateTime<FixedOffset>>,
    pub room: Option<String>,
    /// From the reference cache, in the member's language (else English, else any).
    pub prison_name: Option<String>,
    pub address: Option<String>,
    pub arrival_advice: Option<String>,
    pub what_to_bring: Option<String>,
}

/// What a reminder is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReminderKind {
    Visit,
    FamilyDay,
    StepDueSoon,
    StepDueToday,
    Appointment,
    AppointmentSoon,
    LivingLab,
}

impl ReminderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Visit => "visit",
            Self::FamilyDay => "family_day",
            Self::StepDueSoon => "step_due_soon",
            Self::StepDueToday => "step_due_today",
            Self::Appointment => "appointment",
            Self::AppointmentSoon => "appointment_soon",
            Self::LivingLab => "living_lab",
        }
    }
}

/// A local notification for the shell to schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reminder {
    /// `<kind>:<entry id>`: the same reminder has the same key on every call, so the shell
    /// replaces what it scheduled instead of doubling it, and drops what is no longer listed.
    pub key: String,
    pub kind: ReminderKind,
    /// When to show it.
    pub notify_at: DateTime<Utc>,
    /// The visit request, registration, step, appointment or invitation it is about.
    pub entry_id: String,
    /// The day it is about (a step's due date), in the time zone of the place.
    pub date: NaiveDate,
    /// When it starts, where known.
    pub starts_at: Option<DateTime<Utc>>,
    /// The prison's name, the family day's or session's title, the step's title, the
    /// appointment's purpose.
    pub title: String,
    /// The prison's address or the appointment's place.
    pub place: Option<String>,
    /// Visits and family days: what to bring (the identity card), in the member's language.
    pub what_to_bring: Option<String>,
}

/// The visits of the family ahead of `now` (today's included until they end), soonest first.
pub fn upcoming_visits(
    doc: &FamilyData,
    member: MemberId,
    reference: Option<&ReferenceCache>,
    tz: Tz,
    now: DateTime<Utc>,
) -> Vec<UpcomingVisit> {
    let today = now.with_timezone(&tz).date_naive();
    let language = language_of(doc, member);
    let mut visits: Vec<UpcomingVisit> = doc
        .visit_requests
        .values()
        .filter_map(|request| {
            let status = visit_request_status(&request.events);
            let slot = match status {
                VisitStatus::Confirmed | VisitStatus::Proposed => {
                    visit_request_slot(&request.events)?
                }
                VisitStatus::Pending => *request.preferences.first()?,
                _ => return None,
            };
            let prison = reference.and_then(|r| r.prison(request.prison_id));
            let held = prison.and_then(|p| {
                p.slots.iter().find(|s| {
                    s.template_id == slot.template_id
                        && s.date == slot.date
                        && s.visit_type == request.visit_type
                })
            });
            if slot.date < today || held.is_some_and(|s| s.ends_at <= now) {
                return None;
            }
            let detail = prison.map(|p| &p.prison);
            Some(UpcomingVisit {
                request_id: request.id.clone(),
                status,
                visit_type: request.visit_type,
                prison_id: request.prison_id,
                slot,
                visitors: request.visitors.clone(),
                starts_at: held.map(|s| s.starts_at),
                ends_at: held.map(|s| s.ends_at),
                room: held.map(|s| s.room.clone()),
                prison_name: detail.map(|d| d.name.clone()),
                address: detail.map(|d| d.address.clone()),
                arrival_advice: detail
                    .and_then(|d| pick(&d.arrival_advice, language))
                    .map(str::to_owned),
                what_to_bring: detail
                    .and_then(|d| pick(&d.what_to_bring, language))
                    .map(str::to_owned),
            })
        })
        .collect();
    visits.sort_by(|a, b| {
        (a.slot.date, a.starts_at, &a.request_id).cmp(&(b.slot.date, b.starts_at, &b.request_id))
    });
    visits
}

/// The reminders to show after `now` and up to `days` days ahead, for `member`, soonest first.
pub fn reminders(
    doc: &FamilyData,
    member: MemberId,
    reference: Option<&ReferenceCache>,
    tz: Tz,
    now: DateTime<Utc>,
    days: u32,
) -> Vec<Reminder> {
    let until = now + Duration::days(i64::from(days));
    let language = language_of(doc, member);
    // Dates and instants come from the document: at the ends of the calendar there is no day
    // before, and no reminder.
    let evening_before = |date: NaiveDate| date.pred_opt().map(|eve| at(tz, eve, EVENING));
    let mut out = Vec::new();
    let mut add =
        |kind: ReminderKind, notify_at: Option<DateTime<Utc>>, entry: &str, rest: Details| {
            let Some(notify_at) = notify_at else { return };
            if notify_at > now && notify_at <= until {
                out.push(Reminder {
                    key: format!("{}:{entry}", kind.as_str()),
                    kind,
                    notify_at,
                    entry_id: entry.to_owned(),
                    date: rest.date,
                    starts_at: rest.starts_at,
                    title: rest.title,
                    place: rest.place,
                    what_to_bring: rest.what_to_bring,
                });
            }
        };

    // Confirmed visits this member comes to.
    for visit in upcoming_visits(doc, member, reference, tz, now) {
        if visit.status != VisitStatus::Confirmed || !visit.visitors.contains(&member) {
            continue;
        }
        add(
            ReminderKind::Visit,
            evening_before(visit.slot.date),
            &visit.request_id,
            Details {
                date: visit.slot.date,
                starts_at: visit.starts_at.map(|t| t.with_timezone(&Utc)),
                title: visit.prison_name.unwrap_or_default(),
                place: visit.address,
                what_to_bring: visit.what_to_bring,
            },
        );
    }

    // Family days the family is registered for (their date and place come from the cache).
    for registration in doc.registrations.values() {
        if registration_status(&registration.events) != RegistrationState::Registered {
            continue;
        }
        let Some((prison, day)) = reference.and_then(|r| {
            r.prisons.iter().find_map(|p| {
                p.family_days
                    .iter()
                    .find(|d| d.id == registration.family_day_id && !d.cancelled)
                    .map(|d| (p, d))
            })
        }) else {
            continue;
        };
        add(
            ReminderKind::FamilyDay,
            evening_before(day.date),
            &registration.id,
            Details {
                date: day.date,
                starts_at: Some(day.starts_at.with_timezone(&Utc)),
                title: day.title.clone(),
                place: Some(prison.prison.address.clone()),
                what_to_bring: pick(&prison.prison.what_to_bring, language).map(str::to_owned),
            },
        );
    }

    // Open steps with a due date.
    for step in doc.steps.values() {
        let Some(due) = step.due_date else { continue };
        if !step_status(&step.events).is_open() {
            continue;
        }
        let details = || Details {
            date: due,
            starts_at: None,
            title: step.title.clone(),
            place: None,
            what_to_bring: None,
        };
        add(
            ReminderKind::StepDueSoon,
            due.checked_sub_signed(Duration::days(STEP_DAYS_BEFORE))
                .map(|day| at(tz, day, MORNING)),
            &step.id,
            details(),
        );
        add(
            ReminderKind::StepDueToday,
            Some(at(tz, due, MORNING)),
            &step.id,
            details(),
        );
    }

    // Appointments agreed (or tentatively).
    for appointment in doc.appointments.values() {
        if !matches!(
            appointment_status(&appointment.events),
            AppointmentStatus::Accepted | AppointmentStatus::Tentative
        ) {
            continue;
        }
        let Some(starts) = DateTime::from_timestamp_millis(appointment.starts_at) else {
            continue;
        };
        let date = starts.with_timezone(&tz).date_naive();
        let details = || Details {
            date,
            starts_at: Some(starts),
            title: appointment.purpose.clone(),
            place: Some(appointment.place.clone()),
            what_to_bring: None,
        };
        add(
            ReminderKind::Appointment,
            evening_before(date),
            &appointment.id,
            details(),
        );
        add(
            ReminderKind::AppointmentSoon,
            starts.checked_sub_signed(APPOINTMENT_LEAD),
            &appointment.id,
            details(),
        );
    }

    // Living Lab sessions this member said yes (or maybe) to, unless called off.
    const CANCELLED_SESSION: &str = "cancelled";
    for invitation in doc.invitations.values() {
        if invitation.member_id != member
            || invitation.place.as_deref() == Some(CANCELLED_SESSION)
            || !matches!(
                invitation_rsvp(&invitation.answers),
                Some(Rsvp::Accepted | Rsvp::Tentative)
            )
        {
            continue;
        }
        let Some(starts) = DateTime::from_timestamp_millis(invitation.starts_at) else {
            continue;
        };
        let date = starts.with_timezone(&tz).date_naive();
        add(
            ReminderKind::LivingLab,
            evening_before(date),
            &invitation.id,
            Details {
                date,
                starts_at: Some(starts),
                title: invitation.title.clone(),
                place: None,
                what_to_bring: None,
            },
        );
    }

    out.sort_by(|a, b| (a.notify_at, &a.key).cmp(&(b.notify_at, &b.key)));
    out
}

/// Whether an open step is past its due date on `today`.
pub fn is_overdue(due: Option<NaiveDate>, status: StepStatus, today: NaiveDate) -> bool {
    status.is_open() && due.is_some_and(|due| due < today)
}

struct Details {
    date: NaiveDate,
    starts_at: Option<DateTime<Utc>>,
    title: String,
    place: Option<String>,
    what_to_bring: Option<String>,
}

fn at(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    local_instant(tz, date, time).with_timezone(&Utc)
}

pub(crate) fn language_of(doc: &FamilyData, member: MemberId) -> Language {
    doc.members
        .get(&member.to_string())
        .map_or(Language::En, |m| m.language)
}

/// Parses an IANA time zone name (`Europe/Brussels`).
pub fn parse_time_zone(name: &str) -> ClientResult<Tz> {
    name.parse().map_err(|_| ClientError::Invalid {
        code: "invalid_time_zone",
        field: "time_zone",
        message: format!("{name:?} is not a time zone name such as Europe/Brussels"),
    })
}

impl Client {
    /// The zone reminders and due dates are computed in (Europe/Brussels unless the shell
    /// sets the phone's).
    pub fn set_time_zone(&mut self, name: &str) -> ClientResult<()> {
        self.time_zone = parse_time_zone(name)?;
        Ok(())
    }

    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// The signed-in member's language, as the family document says (English before the
    /// first sync).
    pub fn language(&self) -> ClientResult<Language> {
        let member = self.require_session()?.member_id;
        match self.family_data() {
            Ok(data) => Ok(language_of(&data, member)),
            Err(ClientError::NotSyncedYet) => Ok(Language::En),
            Err(e) => Err(e),
        }
    }

    /// The family's visits ahead, with the prison's advice, soonest first.
    pub fn upcoming_visits(&self) -> ClientResult<Vec<UpcomingVisit>> {
        let member = self.require_session()?.member_id;
        let doc = self.family_data()?;
        let reference = self.shared_reference()?;
        Ok(upcoming_visits(
            &doc,
            member,
            reference.as_deref(),
            self.time_zone,
            Utc::now(),
        ))
    }

    /// What to show as local notifications in the next `days` days.
    pub fn reminders(&self, days: u32) -> ClientResult<Vec<Reminder>> {
        let member = self.require_session()?.member_id;
        let doc = self.family_data()?;
        let reference = self.shared_reference()?;
        Ok(reminders(
            &doc,
            member,
            reference.as_deref(),
            self.time_zone,
            Utc::now(),
            days,
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeZone;
    use reguide_protocol::api::Family;
    use reguide_protocol::doc::{
        Appointment, Author, DocMember, DocRegistration, DocVisitRequest, Event, Invitation,
        InvitationAnswer, NextActor, StepOwner, StepSummary,
    };
    use reguide_protocol::family_days::FamilyDay;
    use reguide_protocol::visits::{PrisonDetail, Slot};
    use reguide_protocol::{DetaineeId, FamilyId};

    use super::*;
    use crate::reference::PrisonReference;

    const BRUSSELS: Tz = chrono_tz::Europe::Brussels;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .expect("instant")
    }

    struct World {
        doc: FamilyData,
        reference: ReferenceCache,
        fatima: MemberId,
        karim: MemberId,
        prison: PrisonId,
        template: uuid::Uuid,
    }

    fn world() -> World {
        let (fatima, karim, prison) = (MemberId::new(), MemberId::new(), PrisonId::new());
        let mut doc = FamilyData {
            family_id: FamilyId::new(),
            members: BTreeMap::new(),
            visit_requests: BTreeMap::new(),
            registrations: BTreeMap::new(),
            steps: BTreeMap::new(),
            appointments: BTreeMap::new(),
            invitations: BTreeMap::new(),
        };
        for (id, name, language) in [
            (fatima, "Fatima", Language::Fr),
            (karim, "Karim", Language::Nl),
        ] {
            doc.members.insert(
                id.to_string(),
                DocMember {
                    display_name: name.into(),
                    relation: "family".into(),
                    language,
                },
            );
        }
        let text = |fr: &str, nl: &str| {
            BTreeMap::from([(Language::Fr, fr.to_owned()), (Language::Nl, nl.to_owned())])
        };
        let detail = PrisonDetail {
            id: prison,
            name: "Prison de Haren".into(),
            city: "Bruxelles".into(),
            address: "Witloofstraat 1, 1130 Brussel".into(),
            time_zone: "Europe/Brussels".into(),
            languages: vec![Language::Fr, Language::Nl],
            contact_phone: None,
            contact_email: None,
            arrival_advice: text("Arrivez 30 minutes avant.", "Kom 30 minuten vooraf."),
            what_to_bring: text("Votre carte d'identité.", "Uw identiteitskaart."),
            accessibility: BTreeMap::new(),
            rules: Vec::new(),
        };
        let reference = ReferenceCache {
            fetched_at: utc(2027, 3, 1, 8, 0),
            family: Family {
                id: doc.family_id,
                label: "Benali".into(),
                created_at: utc(2027, 1, 1, 0, 0),
                members: Vec::new(),
                detainees: Vec::new(),
                closed_at: None,
            },
            prisons: vec![PrisonReference {
                prison: detail,
                slots: Vec::new(),
                family_days: Vec::new(),
            }],
        };
        World {
            doc,
            reference,
            fatima,
            karim,
            prison,
            template: uuid::Uuid::new_v4(),
        }
    }

    impl World {
        /// A visit request on `day` at 14:00 local, with `events` after `requested`.
        fn visit(&mut self, id: &str, day: NaiveDate, visitors: Vec<MemberId>, decision: &str) {
            let slot = SlotChoice {
                template_id: self.template,
                date: day,
            };
            let mut events = vec![Event::new("requested", 1, Author::Member(self.fatima))];
            if !decision.is_empty() {
                let mut event = Event::new(decision, 2, Author::Server);
                event.slot = Some(slot);
                events.push(event);
            }
            self.doc.visit_requests.insert(
                id.into(),
                DocVisitRequest {
                    id: id.into(),
                    detainee_id: DetaineeId::new(),
                    prison_id: self.prison,
                    visit_type: VisitType::Table,
                    preferences: vec![slot],
                    visitors,
                    support_needs: Vec::new(),
                    support_note: None,
                    requested_by: self.fatima,
                    created_at: 1,
                    events,
                },
            );
            let starts =
                local_instant(BRUSSELS, day, NaiveTime::from_hms_opt(14, 0, 0).expect("t"));
            self.reference.prisons[0].slots.push(Slot {
                template_id: self.template,
                date: day,
                visit_type: VisitType::Table,
                starts_at: starts,
                ends_at: starts + Duration::hours(1),
                room: "B".into(),
                capacity: 10,
                booked: 1,
                open: 9,
                bookable: true,
                blocked: false,
            });
        }

        fn step(&mut self, id: &str, due: NaiveDate, events: Vec<Event>) {
            self.doc.steps.insert(
                id.into(),
                StepSummary {
                    id: id.into(),
                    title: format!("Step {id}"),
                    category: "identity_documents".into(),
                    owner: StepOwner::Family,
                    due_date: Some(due),
                    next_actor: NextActor::Family,
                    events,
                },
            );
        }
    }

    fn keyed(list: &[Reminder]) -> Vec<(String, DateTime<Utc>)> {
        list.iter().map(|r| (r.key.clone(), r.notify_at)).collect()
    }

    #[test]
    fn a_visit_the_member_comes_to_is_recalled_the_evening_before_across_dst() {
        let mut w = world();
        // Sunday 28 March 2027: summer time starts in Brussels.
        w.visit("on-dst-day", date(2027, 3, 28), vec![w.fatima], "confirmed");
        w.visit("day-after", date(2027, 3, 29), vec![w.fatima], "confirmed");
        w.visit("karim-only", date(2027, 3, 29), vec![w.karim], "confirmed");
        w.visit("pending", date(2027, 3, 30), vec![w.fatima], "");
        w.visit("declined", date(2027, 3, 30), vec![w.fatima], "declined");
        let now = utc(2027, 3, 25, 12, 0);
        let list = reminders(&w.doc, w.fatima, Some(&w.reference), BRUSSELS, now, 7);
        assert_eq!(
            keyed(&list),
            vec![
                // 18:00 winter time (UTC+1) on Saturday; 18:00 summer time (UTC+2) on Sunday.
                ("visit:on-dst-day".into(), utc(2027, 3, 27, 17, 0)),
                ("visit:day-after".into(), utc(2027, 3, 28, 16, 0)),
            ]
        );
        let first = &list[0];
        assert_eq!(first.title, "Prison de Haren");
        assert_eq!(
            first.what_to_bring.as_deref(),
            Some("Votre carte d'identité.")
        );
        assert_eq!(
            first.starts_at,
            Some(utc(2027, 3, 28, 12, 0)),
            "14:00 summer time"
        );
        // Karim reads the same visit in his language.
        let karims = reminders(&w.doc, w.karim, Some(&w.reference), BRUSSELS, now, 7);
        assert_eq!(
            keyed(&karims),
            vec![("visit:karim-only".into(), utc(2027, 3, 28, 16, 0))]
        );
        assert_eq!(
            karims[0].what_to_bring.as_deref(),
            Some("Uw identiteitskaart.")
        );
        // Outside the window, or already past: nothing.
        assert!(reminders(&w.doc, w.fatima, Some(&w.reference), BRUSSELS, now, 1).is_empty());
        let late = utc(2027, 3, 28, 17, 0);
        assert!(reminders(&w.doc, w.fatima, Some(&w.reference), BRUSSELS, late, 7).is_empty());
    }

    #[test]
    fn upcoming_visits_carry_the_prisons_advice_and_leave_the_past_out() {
        let mut w = world();
        w.visit("past", date(2027, 3, 1), vec![w.fatima], "confirmed");
        w.visit("today-over", date(2027, 3, 10), vec![w.fatima], "confirmed");
        w.visit("proposed", date(2027, 3, 20), vec![w.fatima], "proposed");
        w.visit("pending", date(2027, 3, 12), vec![w.fatima], "");
        w.visit("withdrawn", date(2027, 3, 12), vec![w.fatima], "withdrawn");
        // 10 March, 16:00 local: today's 14:00 visit is over.
        let now = utc(2027, 3, 10, 15, 0);
        let list = upcoming_visits(&w.doc, w.karim, Some(&w.reference), BRUSSELS, now);
        let ids: Vec<&str> = list.iter().map(|v| v.request_id.as_str()).collect();
        assert_eq!(ids, ["pending", "proposed"]);
        assert_eq!(list[1].status, VisitStatus::Proposed);
        assert_eq!(
            list[0].arrival_advice.as_deref(),
            Some("Kom 30 minuten vooraf.")
        );
        assert_eq!(list[0].room.as_deref(), Some("B"));
        // Without a reference cache the visits are still listed, without what only it knows
        // (today's too: without its hours it cannot be known to be over).
        let bare = upcoming_visits(&w.doc, w.karim, None, BRUSSELS, now);
        let ids: Vec<&str> = bare.iter().map(|v| v.request_id.as_str()).collect();
        assert_eq!(ids, ["today-over", "pending", "proposed"]);
        assert_eq!(
            (bare[1].starts_at, bare[1].what_to_bring.as_deref()),
            (None, None)
        );
    }

    #[test]
    fn steps_are_recalled_before_their_due_date_and_overdue_after_it() {
        let mut w = world();
        // Due on 1 March 2027 (after February's 28 days) and on 1 March 2028 (after the 29th).
        w.step("march", date(2027, 3, 1), Vec::new());
        w.step("leap", date(2028, 3, 1), Vec::new());
        w.step(
            "done",
            date(2027, 3, 1),
            vec![Event::new("done", 5, Author::Server)],
        );
        let now = utc(2027, 2, 20, 12, 0);
        let list = reminders(&w.doc, w.fatima, None, BRUSSELS, now, 14);
        assert_eq!(
            keyed(&list),
            vec![
                ("step_due_soon:march".into(), utc(2027, 2, 26, 8, 0)),
                ("step_due_today:march".into(), utc(2027, 3, 1, 8, 0)),
            ]
        );
        let leap = reminders(
            &w.doc,
            w.fatima,
            None,
            BRUSSELS,
            utc(2028, 2, 20, 12, 0),
            14,
        );
        assert_eq!(leap[0].key, "step_due_soon:leap");
        assert_eq!(
            leap[0].notify_at,
            utc(2028, 2, 27, 8, 0),
            "29 February counts"
        );

        assert!(!is_overdue(
            Some(date(2027, 3, 1)),
            StepStatus::Todo,
            date(2027, 3, 1)
        ));
        assert!(is_overdue(
            Some(date(2027, 3, 1)),
            StepStatus::Todo,
            date(2027, 3, 2)
        ));
        assert!(!is_overdue(
            Some(date(2027, 3, 1)),
            StepStatus::Done,
            date(2027, 4, 2)
        ));
        assert!(!is_overdue(None, StepStatus::Todo, date(2027, 4, 2)));
        // The day turns at local midnight: 23:30 UTC on 1 March is already 2 March in Brussels.
        let late = utc(2027, 3, 1, 23, 30)
            .with_timezone(&BRUSSELS)
            .date_naive();
        assert!(is_overdue(Some(date(2027, 3, 1)), StepStatus::Todo, late));
    }

    #[test]
    fn appointments_family_days_and_living_labs_are_recalled_when_agreed() {
        let mut w = world();
        let starts = utc(2027, 10, 31, 9, 0); // 10:00 in Brussels, the day winter time returns
        let appointment = |id: &str, answer: &str| Appointment {
            id: id.into(),
            with_account: reguide_protocol::AccountId::new(),
            starts_at: starts.timestamp_millis(),
            place: "CPAS".into(),
            purpose: "Integration income".into(),
            step_id: None,
            events: vec![
                Event::new("proposed", 1, Author::Server),
                Event::new(answer, 2, Author::Member(w.fatima)),
            ],
        };
        w.doc
            .appointments
            .insert("agreed".into(), appointment("agreed", "accepted"));
        w.doc
            .appointments
            .insert("refused".into(), appointment("refused", "declined"));
        let invitation = |id: &str, member: MemberId, answer: Option<Rsvp>| Invitation {
            id: id.into(),
            session_id: "s".into(),
            member_id: member,
            title: "Living Lab".into(),
            starts_at: starts.timestamp_millis(),
            answers: answer
                .map(|answer| InvitationAnswer {
                    answer,
                    note: None,
                    at: 3,
                    by: Author::Member(member),
                })
                .into_iter()
                .collect(),
            place: None,
            summary: None,
        };
        w.doc.invitations.insert(
            "yes".into(),
            invitation("yes", w.fatima, Some(Rsvp::Accepted)),
        );
        w.doc.invitations.insert(
            "unanswered".into(),
            invitation("unanswered", w.fatima, None),
        );
        w.doc.invitations.insert(
            "karims".into(),
            invitation("karims", w.karim, Some(Rsvp::Accepted)),
        );
        // Accepted, then the session was called off: no reminder.
        let mut called_off = invitation("called_off", w.fatima, Some(Rsvp::Accepted));
        called_off.place = Some("cancelled".into());
        w.doc.invitations.insert("called_off".into(), called_off);
        let day_id = uuid::Uuid::new_v4();
        let day_start = local_instant(
            BRUSSELS,
            date(2027, 10, 30),
            NaiveTime::from_hms_opt(10, 0, 0).expect("t"),
        );
        w.reference.prisons[0].family_days.push(FamilyDay {
            id: day_id,
            prison_id: w.prison,
            title: "Family day".into(),
            date: date(2027, 10, 30),
            starts_at: day_start,
            ends_at: day_start + Duration::hours(6),
            programme: String::new(),
            capacity_families: 10,
            capacity_people: 40,
            registered_families: 1,
            registered_people: 3,
            waiting_families: 0,
            min_child_age: 0,
            max_child_age: 18,
            registration_deadline: utc(2027, 10, 20, 12, 0),
            cancelled: false,
        });
        w.doc.registrations.insert(
            "reg".into(),
            DocRegistration {
                id: "reg".into(),
                family_day_id: day_id,
                adults: 1,
                children: 2,
                requested_by: w.fatima,
                events: vec![
                    Event::new("requested", 1, Author::Member(w.fatima)),
                    Event::new("registered", 2, Author::Server),
                ],
            },
        );
        let list = reminders(
            &w.doc,
            w.fatima,
            Some(&w.reference),
            BRUSSELS,
            utc(2027, 10, 25, 0, 0),
            10,
        );
        assert_eq!(
            keyed(&list),
            vec![
                ("family_day:reg".into(), utc(2027, 10, 29, 16, 0)),
                // 18:00 summer time on Saturday 30 October.
                ("appointment:agreed".into(), utc(2027, 10, 30, 16, 0)),
                ("living_lab:yes".into(), utc(2027, 10, 30, 16, 0)),
                ("appointment_soon:agreed".into(), utc(2027, 10, 31, 8, 0)),
            ]
        );
        assert_eq!(
            list[0].what_to_bring.as_deref(),
            Some("Votre carte d'identité.")
        );
        assert_eq!(list[1].place.as_deref(), Some("CPAS"));
    }

    #[test]
    fn dates_at_the_ends_of_the_calendar_give_no_reminder_and_no_panic() {
        let mut w = world();
        w.visit("first-day", NaiveDate::MIN, vec![w.fatima], "confirmed");
        w.visit("last-day", NaiveDate::MAX, vec![w.fatima], "confirmed");
        w.step("min", NaiveDate::MIN, Vec::new());
        w.step("max", NaiveDate::MAX, Vec::new());
        for (n, starts_at) in [i64::MIN, i64::MAX, 0].into_iter().enumerate() {
            w.doc.appointments.insert(
                n.to_string(),
                Appointment {
                    id: n.to_string(),
                    with_account: reguide_protocol::AccountId::new(),
                    starts_at,
                    place: String::new(),
                    purpose: String::new(),
                    step_id: None,
                    events: vec![Event::new("accepted", 1, Author::Member(w.fatima))],
                },
            );
        }
        for now in [utc(2027, 1, 1, 0, 0), DateTime::<Utc>::MIN_UTC] {
            let list = reminders(&w.doc, w.fatima, Some(&w.reference), BRUSSELS, now, 30);
            assert!(list.iter().all(|r| r.notify_at > now));
            let _ = upcoming_visits(&w.doc, w.fatima, Some(&w.reference), BRUSSELS, now);
        }
    }

    #[test]
    fn a_time_zone_is_named_or_refused() {
        assert_eq!(parse_time_zone("Europe/Brussels").expect("zone"), BRUSSELS);
        let err = parse_time_zone("Mars/Olympus").expect_err("refused");
        assert_eq!(err.code(), "invalid_time_zone");
    }
}
