//! What each domain event sends and schedules. Every function runs in the transaction of the
//! event it reports, so the message exists exactly when the event does.
//!
//! | event | message | to | calendar | reminder |
//! |---|---|---|---|---|
//! | visit confirmed (decision, automatic, proposal or offer accepted, amended) | `visit_confirmed` | family | add/update | 18:00 the day before |
//! | another slot proposed | `visit_proposed` | family | | |
//! | request declined | `visit_declined` | family | | |
//! | visit cancelled or withdrawn after a calendar entry went out | `visit_cancelled` | family | remove | called off |
//! | a place offered from the waiting list | `waitlist_offer` | family | | |
//! | family-day registration registered (also promoted) | `family_day_registered` | family | add | 18:00 the day before |
//! | registration or day cancelled | `family_day_cancelled` | family | remove | called off |
//! | appointment proposed by a worker | `appointment_proposed` | family | | |
//! | appointment asked for by the family | `appointment_request` (answer links) | worker | | |
//! | appointment accepted | `appointment_confirmed` | family and worker | add | 18:00 the day before, family |
//! | appointment declined | `appointment_declined` | who proposed | | called off |
//! | appointment cancelled | `appointment_cancelled` | family and worker | remove | called off |
//! | a family step with a due date | | | | `step_reminder` 09:00 three days before |
//! | enrolment code issued with `?email=true` | `enrolment_code` | the member | | |

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use reguide_protocol::appointments::{AppointmentDetail, AppointmentReply};
use reguide_protocol::doc::status::{AppointmentStatus, StepStatus, step_status};
use reguide_protocol::doc::{NextActor, StepSummary, keys, read_collection};
use reguide_protocol::family_days::RegistrationStatus;
use reguide_protocol::time::local_instant;
use reguide_protocol::visits::{DeclineReason, PrisonDetail, VisitStatus, pick};
use reguide_protocol::{AccountId, FamilyId, Language, MemberId};

use super::templates::{Values, word};
use super::{
    CalendarEvent, Kind, Outgoing, PUBLIC_URL, Recipient, account_recipient, cancel_pending,
    family_recipients, format, ics, member_recipient,
};
use crate::db::schema::{accounts, families, outbox};
use crate::db::{DbConn, to_naive};
use crate::error::{ApiError, ApiResult};
use crate::visits::rules;

/// Where families without a prison's zone live.
const HOME: Tz = reguide_protocol::time::DEFAULT_TIME_ZONE;

/// When to remind of something on `day` in `zone`: 18:00 the evening before, if that is
/// still ahead of `now`.
pub fn evening_before(zone: Tz, day: NaiveDate, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let before = day.pred_opt()?;
    let at = local_instant(zone, before, NaiveTime::from_hms_opt(18, 0, 0)?).with_timezone(&Utc);
    ahead(Some(at), now)
}

/// A reminder time, if it is still ahead.
fn ahead(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    at.filter(|at| *at > now)
}

fn values(pairs: &[(&'static str, String)]) -> Values {
    pairs.iter().cloned().collect()
}

fn family_label(conn: &mut DbConn, family: FamilyId) -> ApiResult<String> {
    Ok(families::table
        .find(family.to_string())
        .select(families::label)
        .first(conn)?)
}

fn account_name(conn: &mut DbConn, account: AccountId) -> ApiResult<String> {
    Ok(accounts::table
        .find(account.to_string())
        .select(accounts::display_name)
        .first::<String>(conn)
        .optional()?
        .unwrap_or_default())
}

/// Enqueues `message` with values that depend on each recipient's language.
fn send(
    conn: &mut DbConn,
    recipients: &[Recipient],
    mut message: Outgoing,
    values: impl Fn(Language) -> Values,
) -> ApiResult<()> {
    let mut by_language: BTreeMap<Language, Vec<Recipient>> = BTreeMap::new();
    for r in recipients {
        by_language.entry(r.language).or_default().push(r.clone());
    }
    // One SEQUENCE for one version of a calendar entry, whoever receives it.
    let mut sequence = None;
    for (language, group) in by_language {
        message.values = values(language);
        sequence = Some(enqueue_with_sequence(conn, &group, &message, sequence)?);
    }
    Ok(())
}

fn enqueue_with_sequence(
    conn: &mut DbConn,
    recipients: &[Recipient],
    message: &Outgoing,
    sequence: Option<Option<i32>>,
) -> ApiResult<Option<i32>> {
    super::enqueue_at(conn, recipients, message, sequence.flatten()).map(|(_, s)| s)
}

// ------------------------------------------------------------------ visits

/// A visit request's history gained `event`.
pub fn visit(conn: &mut DbConn, request: &str, event: &str, now: DateTime<Utc>) -> ApiResult<()> {
    let kind = match event {
        "confirmed" | "proposal_accepted" | "waitlist_offer_accepted" | "amended" => {
            Kind::VisitConfirmed
        }
        "proposed" => Kind::VisitProposed,
        "declined" => Kind::VisitDeclined,
        "cancelled" | "withdrawn" => Kind::VisitCancelled,
        _ => return Ok(()),
    };
    let visit = crate::visits::requests::load_one(conn, request)?;
    let topic = format!("visit:{}", visit.id);
    let uid = format!("visit-{}@reguide", visit.id);
    if kind != Kind::VisitConfirmed {
        cancel_pending(conn, &topic)?;
    }
    if kind == Kind::VisitConfirmed && visit.status != VisitStatus::Confirmed {
        return Ok(());
    }
    if kind == Kind::VisitCancelled && !ics::was_sent(conn, &uid)? {
        return Ok(());
    }
    let recipients = family_recipients(conn, visit.family_id)?;
    if recipients.is_empty() {
        return Ok(());
    }
    let prison = rules::load_detail(conn, visit.prison_id)?;
    let zone: Tz = prison.time_zone.parse().unwrap_or(HOME);
    match kind {
        Kind::VisitDeclined => {
            let reason = visit.decline_reason.unwrap_or(DeclineReason::Other);
            let note = visit.decline_note.clone().unwrap_or_default();
            let reference = visit.reference.clone();
            send(conn, &recipients, outgoing(kind, &topic), |lang| {
                values(&[
                    ("reference", reference.clone()),
                    (
                        "reason",
                        word(lang, &format!("decline_{}", reason.as_str())),
                    ),
                    ("note", note.clone()),
                ])
            })
        }
        _ => {
            let Some(slot) = visit.slot.clone() else {
                return Ok(());
            };
            let starts = slot.starts_at.naive_local();
            let ends = slot.ends_at.naive_local();
            let fill = |lang: Language| {
                let mut v = values(&[
                    ("date", format::date(lang, slot.date)),
                    ("start", format::time(starts.time())),
                    ("end", format::time(ends.time())),
                    ("place", prison.name.clone()),
                    ("address", prison.address.clone()),
                    ("room", slot.room.clone()),
                    ("reference", visit.reference.clone()),
                    ("note", visit.cancel_reason.clone().unwrap_or_default()),
                ]);
                v.extend(prison_advice(&prison, lang));
                v
            };
            let mut message = outgoing(kind, &topic);
            if kind.calendar().is_some() {
                message.calendar = Some(CalendarEvent {
                    uid,
                    zone,
                    starts,
                    ends,
                    location: format!("{}, {}", prison.name, prison.address),
                    description: visit.reference.clone(),
                });
            }
            let reminder = (kind == Kind::VisitConfirmed)
                .then(|| (Kind::VisitReminder, evening_before(zone, slot.date, now)));
            send_and_remind(conn, &recipients, message, reminder, fill)
        }
    }
}

/// Sends `message`; with a reminder kind, calls off the reminders already scheduled about its
/// topic and schedules the new one, when its time is still ahead.
fn send_and_remind(
    conn: &mut DbConn,
    recipients: &[Recipient],
    message: Outgoing,
    reminder: Option<(Kind, Option<DateTime<Utc>>)>,
    fill: impl Fn(Language) -> Values,
) -> ApiResult<()> {
    let topic = message.topic.clone();
    send(conn, recipients, message, &fill)?;
    if let Some((kind, at)) = reminder {
        cancel_pending(conn, &topic)?;
        if let Some(at) = at {
            let mut reminder = outgoing(kind, &topic);
            reminder.send_after = Some(at);
            send(conn, recipients, reminder, fill)?;
        }
    }
    Ok(())
}

/// What a prison asks of its visitors, in `lang`.
fn prison_advice(prison: &PrisonDetail, lang: Language) -> [(&'static str, String); 2] {
    [
        (
            "arrival_advice",
            pick(&prison.arrival_advice, lang)
                .unwrap_or_default()
                .to_owned(),
        ),
        (
            "what_to_bring",
            pick(&prison.what_to_bring, lang)
                .unwrap_or_default()
                .to_owned(),
        ),
    ]
}

fn outgoing(kind: Kind, topic: &str) -> Outgoing {
    Outgoing {
        kind,
        topic: topic.to_owned(),
        values: Values::new(),
        calendar: None,
        send_after: None,
    }
}

/// A place of a full slot was offered to the family of waiting-list entry `entry`.
pub fn waitlist_offer(conn: &mut DbConn, entry: &str) -> ApiResult<()> {
    let entry = crate::visits::waitlist::load_one(conn, entry)?;
    let recipients = family_recipients(conn, entry.family_id)?;
    if recipients.is_empty() {
        return Ok(());
    }
    let prison = rules::load_detail(conn, entry.prison_id)?;
    let zone: Tz = prison.time_zone.parse().unwrap_or(HOME);
    let templates = crate::visits::slots::load_templates(conn, &entry.prison_id.to_string())?;
    let Some(template) = templates.iter().find(|t| t.id == entry.slot.template_id) else {
        return Ok(());
    };
    let (start, end) = (template.starts_at, template.ends_at);
    let expires = entry.offer_expires_at;
    let topic = format!("waitlist:{}", entry.id);
    send(
        conn,
        &recipients,
        outgoing(Kind::WaitlistOffer, &topic),
        |lang| {
            values(&[
                ("date", format::date(lang, entry.slot.date)),
                ("start", format::time(start)),
                ("end", format::time(end)),
                ("place", prison.name.clone()),
                (
                    "expires",
                    expires
                        .map(|at| format::instant(lang, zone, at))
                        .unwrap_or_default(),
                ),
            ])
        },
    )
}

// ------------------------------------------------------------------ family days

/// A family-day registration changed: registered (also from the waiting list) or cancelled
/// (by the family, by staff, or with its day).
pub fn family_day_registration(
    conn: &mut DbConn,
    registration: &str,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let id: uuid::Uuid = registration
        .parse()
        .map_err(|e| ApiError::internal(anyhow::anyhow!("a registration id: {e}")))?;
    let reg = crate::family_days::load_registration(conn, id)?;
    let day = crate::family_days::load_day(conn, reg.family_day_id)?;
    let wire = crate::family_days::day_wire(conn, &day)?;
    let topic = format!("family_day:{}", reg.id);
    let uid = format!("family-day-{}@reguide", reg.id);
    let kind = match reg.status {
        RegistrationStatus::Registered => Kind::FamilyDayRegistered,
        RegistrationStatus::Cancelled => {
            cancel_pending(conn, &topic)?;
            if !ics::was_sent(conn, &uid)? {
                return Ok(());
            }
            Kind::FamilyDayCancelled
        }
        _ => return Ok(()),
    };
    let recipients = family_recipients(conn, reg.family_id)?;
    if recipients.is_empty() {
        return Ok(());
    }
    let prison = rules::load_detail(conn, wire.prison_id)?;
    let zone: Tz = prison.time_zone.parse().unwrap_or(HOME);
    let starts = wire.starts_at.naive_local();
    let ends = wire.ends_at.naive_local();
    let people = (reg.adults + reg.children).to_string();
    let fill = |lang: Language| {
        let mut v = values(&[
            ("title", wire.title.clone()),
            ("date", format::date(lang, wire.date)),
            ("start", format::time(starts.time())),
            ("end", format::time(ends.time())),
            ("place", prison.name.clone()),
            ("address", prison.address.clone()),
            ("people", people.clone()),
        ]);
        v.extend(prison_advice(&prison, lang));
        v
    };
    let mut message = outgoing(kind, &topic);
    message.calendar = Some(CalendarEvent {
        uid,
        zone,
        starts,
        ends,
        location: format!("{}, {}", prison.name, prison.address),
        description: wire.programme.clone(),
    });
    let reminder = (kind == Kind::FamilyDayRegistered).then(|| {
        (
            Kind::FamilyDayReminder,
            evening_before(zone, wire.date, now),
        )
    });
    send_and_remind(conn, &recipients, message, reminder, fill)
}

// ------------------------------------------------------------------ appointments

/// An appointment of `family` was made or changed (`before` is `None` for a new one), by a
/// worker through the API or by the family through sync.
pub fn appointment(
    conn: &mut DbConn,
    family: FamilyId,
    before: Option<&AppointmentDetail>,
    after: &AppointmentDetail,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let status_changed = before.is_none_or(|b| b.status != after.status);
    let reproposed = before.is_some_and(|b| {
        after.status == AppointmentStatus::Proposed
            && (b.starts_at != after.starts_at || b.proposed_by != after.proposed_by)
    });
    if !status_changed && !reproposed {
        return Ok(());
    }
    let topic = format!("appointment:{family}:{}", after.id);
    let uid = format!("appointment-{family}-{}@reguide", after.id);
    cancel_pending(conn, &topic)?;
    let worker = after.with_account;
    let worker_name = account_name(conn, worker)?;
    let label = family_label(conn, family)?;
    let family_side = family_recipients(conn, family)?;
    let worker_side: Vec<Recipient> = account_recipient(conn, worker)?.into_iter().collect();
    let local = after.starts_at.with_timezone(&HOME).naive_local();
    let fill = |other: &str, lang: Language| {
        values(&[
            ("other", other.to_owned()),
            ("date", format::date(lang, local.date())),
            ("start", format::time(local.time())),
            ("place", after.place.clone()),
            ("purpose", after.purpose.clone()),
            ("note", String::new()),
        ])
    };
    let by_family = after.proposed_by == "family";
    match after.status {
        AppointmentStatus::Proposed if by_family => {
            let accept = crate::links::mint_appointment_answer(
                conn,
                family,
                &after.id,
                worker,
                AppointmentReply::Accepted,
            )?;
            let decline = crate::links::mint_appointment_answer(
                conn,
                family,
                &after.id,
                worker,
                AppointmentReply::Declined,
            )?;
            let expires = now + Duration::days(crate::links::LINK_DAYS);
            send(
                conn,
                &worker_side,
                outgoing(Kind::AppointmentRequest, &topic),
                |lang| {
                    let mut v = fill(&label, lang);
                    v.insert("accept_link", format!("{PUBLIC_URL}/links/{accept}"));
                    v.insert("decline_link", format!("{PUBLIC_URL}/links/{decline}"));
                    v.insert("expires", format::instant(lang, HOME, expires));
                    v
                },
            )
        }
        AppointmentStatus::Proposed => send(
            conn,
            &family_side,
            outgoing(Kind::AppointmentProposed, &topic),
            |lang| fill(&worker_name, lang),
        ),
        AppointmentStatus::Accepted => {
            let mut message = outgoing(Kind::AppointmentConfirmed, &topic);
            message.calendar = Some(CalendarEvent {
                uid,
                zone: HOME,
                starts: local,
                ends: local + Duration::hours(1),
                location: after.place.clone(),
                description: after.purpose.clone(),
            });
            send(conn, &family_side, message.clone(), |lang| {
                fill(&worker_name, lang)
            })?;
            send(conn, &worker_side, message, |lang| fill(&label, lang))?;
            if let Some(at) = evening_before(HOME, local.date(), now) {
                let mut reminder = outgoing(Kind::AppointmentReminder, &topic);
                reminder.send_after = Some(at);
                send(conn, &family_side, reminder, |lang| {
                    fill(&worker_name, lang)
                })?;
            }
            Ok(())
        }
        AppointmentStatus::Declined => {
            // Declined: news to the side that proposed.
            let (to, other) = if by_family {
                (&family_side, &worker_name)
            } else {
                (&worker_side, &label)
            };
            send(
                conn,
                to,
                outgoing(Kind::AppointmentDeclined, &topic),
                |lang| fill(other, lang),
            )
        }
        AppointmentStatus::Cancelled => {
            let mut message = outgoing(Kind::AppointmentCancelled, &topic);
            if ics::was_sent(conn, &uid)? {
                message.calendar = Some(CalendarEvent {
                    uid,
                    zone: HOME,
                    starts: local,
                    ends: local + Duration::hours(1),
                    location: after.place.clone(),
                    description: after.purpose.clone(),
                });
            }
            send(conn, &family_side, message.clone(), |lang| {
                fill(&worker_name, lang)
            })?;
            send(conn, &worker_side, message, |lang| fill(&label, lang))
        }
        _ => Ok(()),
    }
}

// ------------------------------------------------------------------ steps

/// The step reminders a family's document calls for: one at 09:00 three days before the due
/// date (or on the day, if that is nearer) of each open step the family is to act on; none for
/// the others. Pure, so that it runs on the document a write has just stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepReminder {
    pub step: String,
    pub title: String,
    pub due: Option<NaiveDate>,
    pub at: Option<DateTime<Utc>>,
}

pub fn plan_step_reminders(
    doc: &automerge::Automerge,
    now: DateTime<Utc>,
) -> ApiResult<Vec<StepReminder>> {
    let steps: BTreeMap<String, StepSummary> = read_collection(doc, keys::STEPS)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("reading the steps: {e}")))?;
    let nine = NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default();
    Ok(steps
        .into_values()
        .map(|step| {
            let open = step_status(&step.events) != StepStatus::Done;
            let at = match (open && step.next_actor == NextActor::Family, step.due_date) {
                (true, Some(due)) => {
                    let early = due
                        .checked_sub_signed(Duration::days(3))
                        .map(|d| local_instant(HOME, d, nine).with_timezone(&Utc));
                    let on_the_day = local_instant(HOME, due, nine).with_timezone(&Utc);
                    ahead(early, now).or(ahead(Some(on_the_day), now))
                }
                _ => None,
            };
            StepReminder {
                step: step.id,
                title: step.title,
                due: step.due_date,
                at,
            }
        })
        .collect())
}

/// Brings the pending step reminders of `family` in line with `plan`: unchanged ones stay,
/// moved ones are called off and scheduled again, those no longer wanted are called off.
pub fn step_reminders(conn: &mut DbConn, family: FamilyId, plan: &[StepReminder]) -> ApiResult<()> {
    let mut recipients = None;
    // The family's pending step reminders, read once: most writes change no due date.
    let prefix = format!("step:{family}:");
    let pending: BTreeMap<String, chrono::NaiveDateTime> = outbox::table
        .filter(outbox::topic.like(format!("{prefix}%")))
        .filter(outbox::state.eq(super::worker::PENDING))
        .filter(outbox::kind.eq(Kind::StepReminder.as_str()))
        .select((outbox::topic, outbox::send_after))
        .load(conn)?
        .into_iter()
        .collect();
    for wanted in plan {
        let topic = format!("{prefix}{}", wanted.step);
        if pending.get(&topic).copied() == wanted.at.map(to_naive) {
            continue;
        }
        cancel_pending(conn, &topic)?;
        let (Some(at), Some(due)) = (wanted.at, wanted.due) else {
            continue;
        };
        if recipients.is_none() {
            recipients = Some(family_recipients(conn, family)?);
        }
        let to = recipients.as_deref().unwrap_or_default();
        let mut reminder = outgoing(Kind::StepReminder, &topic);
        reminder.send_after = Some(at);
        send(conn, to, reminder, |lang| {
            values(&[
                ("title", wanted.title.clone()),
                ("due", format::date(lang, due)),
            ])
        })?;
    }
    Ok(())
}

// ------------------------------------------------------------------ enrolment

/// Sends a new enrolment code to the member it is for; `no_email_address` if they have none.
pub fn enrolment_code(
    conn: &mut DbConn,
    member: MemberId,
    code: &str,
    expires: DateTime<Utc>,
) -> ApiResult<()> {
    let recipient = member_recipient(conn, member)?.ok_or_else(|| {
        ApiError::invalid(
            "no_email_address",
            "email",
            "this member has no email address; give them the code on paper",
        )
    })?;
    let topic = format!("enrolment:{member}");
    send(
        conn,
        &[recipient],
        outgoing(Kind::EnrolmentCode, &topic),
        |lang| {
            values(&[
                ("code", code.to_owned()),
                ("expires", format::instant(lang, HOME, expires)),
            ])
        },
    )
}
