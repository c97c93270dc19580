//! Email that is never lost: a transactional outbox.
//!
//! A message is written to the `outbox` table by [`enqueue`], in the same database transaction
//! as the event that causes it (a visit confirmed, an appointment proposed…), already rendered
//! in its recipient's language ([`templates`]). If the event's transaction rolls back, so does
//! the message; if it commits, the message is there for the [`worker`], which delivers it
//! through SMTP (lettre) or, with no SMTP configured, writes it as an `.eml` file in the data
//! folder. Failed attempts back off exponentially; after the configured number of attempts the
//! message is dead, listed for administrators, who can send it again ([`api`]).
//!
//! Reminders are scheduled, not computed at send time: they are rows whose `send_after` lies
//! ahead, and [`cancel_pending`] calls them off by topic when what they remind of is cancelled
//! or moved ([`events`] decides what each domain event sends and schedules).
//!
//! Addresses and names are personal data: they live in the outbox row only, never in logs; logs
//! name messages by id and kind.

pub mod api;
pub mod events;
pub mod format;
pub mod ics;
pub mod templates;
pub mod worker;

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use reguide_protocol::{AccountId, FamilyId, Language, MemberId};
use serde::{Deserialize, Serialize};

use crate::db::schema::{accounts, family_members, mail_opt_outs, outbox};
use crate::db::{DbConn, now, to_naive};
use crate::error::ApiResult;

/// Stands for the server's public address in stored messages (links), replaced when the
/// message is sent: an event's transaction writes the message without knowing the address it
/// is served under.
pub const PUBLIC_URL: &str = "\u{1}public-url\u{1}";

/// Every kind of message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    VisitConfirmed,
    VisitProposed,
    VisitDeclined,
    VisitCancelled,
    WaitlistOffer,
    VisitReminder,
    FamilyDayRegistered,
    FamilyDayCancelled,
    FamilyDayReminder,
    AppointmentProposed,
    AppointmentRequest,
    AppointmentConfirmed,
    AppointmentDeclined,
    AppointmentCancelled,
    AppointmentReminder,
    StepReminder,
    EnrolmentCode,
    LivingLabInvitation,
    LivingLabInvitationGuest,
    LivingLabConfirmed,
    LivingLabCancelled,
    LivingLabReminder,
}

impl Kind {
    pub const ALL: [Kind; 22] = [
        Self::VisitConfirmed,
        Self::VisitProposed,
        Self::VisitDeclined,
        Self::VisitCancelled,
        Self::WaitlistOffer,
        Self::VisitReminder,
        Self::FamilyDayRegistered,
        Self::FamilyDayCancelled,
        Self::FamilyDayReminder,
        Self::AppointmentProposed,
        Self::AppointmentRequest,
        Self::AppointmentConfirmed,
        Self::AppointmentDeclined,
        Self::AppointmentCancelled,
        Self::AppointmentReminder,
        Self::StepReminder,
        Self::EnrolmentCode,
        Self::LivingLabInvitation,
        Self::LivingLabInvitationGuest,
        Self::LivingLabConfirmed,
        Self::LivingLabCancelled,
        Self::LivingLabReminder,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::VisitConfirmed => "visit_confirmed",
            Self::VisitProposed => "visit_proposed",
            Self::VisitDeclined => "visit_declined",
            Self::VisitCancelled => "visit_cancelled",
            Self::WaitlistOffer => "waitlist_offer",
            Self::VisitReminder => "visit_reminder",
            Self::FamilyDayRegistered => "family_day_registered",
            Self::FamilyDayCancelled => "family_day_cancelled",
            Self::FamilyDayReminder => "family_day_reminder",
            Self::AppointmentProposed => "appointment_proposed",
            Self::AppointmentRequest => "appointment_request",
            Self::AppointmentConfirmed => "appointment_confirmed",
            Self::AppointmentDeclined => "appointment_declined",
            Self::AppointmentCancelled => "appointment_cancelled",
            Self::AppointmentReminder => "appointment_reminder",
            Self::StepReminder => "step_reminder",
            Self::EnrolmentCode => "enrolment_code",
            Self::LivingLabInvitation => "living_lab_invitation",
            Self::LivingLabInvitationGuest => "living_lab_invitation_guest",
            Self::LivingLabConfirmed => "living_lab_confirmed",
            Self::LivingLabCancelled => "living_lab_cancelled",
            Self::LivingLabReminder => "living_lab_reminder",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Reminders may be turned off; news of a decision, a cancellation, an offer, a request to
    /// answer or a code may not.
    pub fn is_essential(self) -> bool {
        !self.is_reminder()
    }

    pub fn is_reminder(self) -> bool {
        matches!(
            self,
            Self::VisitReminder
                | Self::FamilyDayReminder
                | Self::AppointmentReminder
                | Self::StepReminder
                | Self::LivingLabReminder
        )
    }

    /// The calendar entry the message carries, if any.
    pub fn calendar(self) -> Option<ics::Method> {
        match self {
            Self::VisitConfirmed
            | Self::FamilyDayRegistered
            | Self::AppointmentConfirmed
            | Self::LivingLabConfirmed => Some(ics::Method::Request),
            Self::VisitCancelled
            | Self::FamilyDayCancelled
            | Self::AppointmentCancelled
            | Self::LivingLabCancelled => Some(ics::Method::Cancel),
            _ => None,
        }
    }

    /// The placeholders its templates may use.
    pub fn placeholders(self) -> &'static [&'static str] {
        match self {
            Self::VisitConfirmed => &[
                "name",
                "date",
                "start",
                "end",
                "place",
                "address",
                "room",
                "reference",
                "arrival_advice",
                "what_to_bring",
            ],
            Self::VisitProposed => &["name", "date", "start", "end", "place", "reference"],
            Self::VisitDeclined => &["name", "reference", "reason", "note"],
            Self::VisitCancelled => &["name", "date", "start", "place", "reference", "note"],
            Self::WaitlistOffer => &["name", "date", "start", "end", "place", "expires"],
            Self::VisitReminder => &[
                "name",
                "date",
                "start",
                "place",
                "address",
                "arrival_advice",
                "what_to_bring",
            ],
            Self::FamilyDayRegistered => &[
                "name", "title", "date", "start", "end", "place", "address", "people",
            ],
            Self::FamilyDayCancelled => &["name", "title", "date", "place"],
            Self::FamilyDayReminder => &[
                "name",
                "title",
                "date",
                "start",
                "place",
                "address",
                "arrival_advice",
                "what_to_bring",
            ],
            Self::AppointmentProposed => &["name", "other", "date", "start", "place", "purpose"],
            Self::AppointmentRequest => &[
                "name",
                "other",
                "date",
                "start",
                "place",
                "purpose",
                "accept_link",
                "decline_link",
                "expires",
            ],
            Self::AppointmentConfirmed => &["name", "other", "date", "start", "place", "purpose"],
            Self::AppointmentDeclined => &["name", "other", "date", "start", "purpose", "note"],
            Self::AppointmentCancelled => &["name", "other", "date", "start", "purpose"],
            Self::AppointmentReminder => &["name", "other", "date", "start", "place", "purpose"],
            Self::StepReminder => &["name", "title", "due"],
            Self::EnrolmentCode => &["name", "code", "expires"],
            Self::LivingLabInvitation => &[
                "name",
                "title",
                "date",
                "start",
                "end",
                "place",
                "description",
            ],
            Self::LivingLabInvitationGuest => &[
                "name",
                "title",
                "date",
                "start",
                "end",
                "place",
                "description",
                "accept_link",
                "tentative_link",
                "decline_link",
            ],
            Self::LivingLabConfirmed | Self::LivingLabReminder => {
                &["name", "title", "date", "start", "end", "place"]
            }
            Self::LivingLabCancelled => &["name", "title", "date", "start"],
        }
    }
}

/// Who a message goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// `member:<id>` or `account:<id>`: whose preferences apply.
    pub key: String,
    pub address: String,
    pub name: String,
    pub language: Language,
}

fn language(code: &str) -> Language {
    Language::from_code(code).unwrap_or(Language::En)
}

/// id, name, language, own address, account's address.
type MemberRow = (String, String, String, Option<String>, Option<String>);

/// The members of `family` who have an email address (their own, or their account's).
pub fn family_recipients(conn: &mut DbConn, family: FamilyId) -> ApiResult<Vec<Recipient>> {
    let rows: Vec<MemberRow> = family_members::table
        .left_join(accounts::table.on(family_members::account_id.eq(accounts::id.nullable())))
        .filter(family_members::family_id.eq(family.to_string()))
        .order(family_members::created_at.asc())
        .select((
            family_members::id,
            family_members::display_name,
            family_members::preferred_language,
            family_members::email,
            accounts::email.nullable(),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, name, lang, own, account)| {
            let address = own.or(account).filter(|a| !a.trim().is_empty())?;
            Some(Recipient {
                key: format!("member:{id}"),
                address,
                name,
                language: language(&lang),
            })
        })
        .collect())
}

/// One member, if they have an address.
pub fn member_recipient(conn: &mut DbConn, member: MemberId) -> ApiResult<Option<Recipient>> {
    let family: Option<String> = family_members::table
        .find(member.to_string())
        .select(family_members::family_id)
        .first(conn)
        .optional()?;
    let Some(family) = family.and_then(|f| f.parse().ok()) else {
        return Ok(None);
    };
    let key = format!("member:{member}");
    Ok(family_recipients(conn, FamilyId(family))?
        .into_iter()
        .find(|r| r.key == key))
}

/// A staff account, if it has an address and is not disabled.
pub fn account_recipient(conn: &mut DbConn, account: AccountId) -> ApiResult<Option<Recipient>> {
    let row: Option<(Option<String>, String, String)> = accounts::table
        .find(account.to_string())
        .filter(accounts::disabled.eq(false))
        .select((
            accounts::email,
            accounts::display_name,
            accounts::preferred_language,
        ))
        .first(conn)
        .optional()?;
    Ok(row.and_then(|(address, name, lang)| {
        Some(Recipient {
            key: format!("account:{account}"),
            address: address.filter(|a| !a.trim().is_empty())?,
            name,
            language: language(&lang),
        })
    }))
}

/// A calendar entry to attach, kept as data until the message is sent (the organizer is the
/// sending server, the attendee the recipient).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarSpec {
    pub uid: String,
    pub sequence: i32,
    pub cancel: bool,
    pub zone: String,
    pub starts: NaiveDateTime,
    pub ends: NaiveDateTime,
    pub summary: String,
    pub location: String,
    pub description: String,
}

/// A calendar entry before its title (from the template) and sequence (from the database).
#[derive(Clone, Debug)]
pub struct CalendarEvent {
    pub uid: String,
    pub zone: Tz,
    pub starts: NaiveDateTime,
    pub ends: NaiveDateTime,
    pub location: String,
    pub description: String,
}

/// A message to write.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub kind: Kind,
    pub topic: String,
    pub values: templates::Values,
    pub calendar: Option<CalendarEvent>,
    /// When it may go; `None` for at once.
    pub send_after: Option<DateTime<Utc>>,
}

/// Whether `recipient` turned `kind` off.
pub fn opted_out(conn: &mut DbConn, recipient: &str, kind: Kind) -> ApiResult<bool> {
    if kind.is_essential() {
        return Ok(false);
    }
    let n: i64 = mail_opt_outs::table
        .filter(mail_opt_outs::recipient_key.eq(recipient))
        .filter(mail_opt_outs::kind.eq(kind.as_str()))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Writes `message` for each of `recipients` (in the caller's transaction), rendered in each
/// one's language; skips those who turned this kind off. Returns how many were written.
pub fn enqueue(
    conn: &mut DbConn,
    recipients: &[Recipient],
    message: &Outgoing,
) -> ApiResult<usize> {
    enqueue_at(conn, recipients, message, None).map(|(n, _)| n)
}

/// [`enqueue`], with the calendar entry's `sequence` when another part of the same change
/// already took one; returns the number written and the sequence used.
pub fn enqueue_at(
    conn: &mut DbConn,
    recipients: &[Recipient],
    message: &Outgoing,
    sequence: Option<i32>,
) -> ApiResult<(usize, Option<i32>)> {
    let mut written = 0;
    let now = now();
    let sequence = match (&message.calendar, message.kind.calendar(), sequence) {
        (Some(_), Some(_), Some(sequence)) => Some(sequence),
        (Some(event), Some(_), None) if !recipients.is_empty() => {
            Some(ics::next_sequence(conn, &event.uid)?)
        }
        _ => None,
    };
    for recipient in recipients {
        if opted_out(conn, &recipient.key, message.kind)? {
            continue;
        }
        let mut values = message.values.clone();
        values.insert("name", recipient.name.clone());
        let rendered = templates::render(message.kind, recipient.language, &values);
        let calendar = match (&message.calendar, message.kind.calendar(), sequence) {
            (Some(event), Some(method), Some(sequence)) => Some(
                serde_json::to_string(&CalendarSpec {
                    uid: event.uid.clone(),
                    sequence,
                    cancel: method == ics::Method::Cancel,
                    zone: event.zone.name().to_owned(),
                    starts: event.starts,
                    ends: event.ends,
                    summary: rendered.calendar.clone().unwrap_or_default(),
                    location: event.location.clone(),
                    description: event.description.clone(),
                })
                .map_err(|e| crate::error::ApiError::internal(anyhow::anyhow!(e)))?,
            ),
            _ => None,
        };
        let send_after = message.send_after.map(to_naive).unwrap_or(now);
        diesel::insert_into(outbox::table)
            .values((
                outbox::id.eq(uuid::Uuid::new_v4().to_string()),
                outbox::kind.eq(message.kind.as_str()),
                outbox::topic.eq(&message.topic),
                outbox::recipient_key.eq(&recipient.key),
                outbox::to_address.eq(&recipient.address),
                outbox::to_name.eq(&recipient.name),
                outbox::language.eq(recipient.language.code()),
                outbox::subject.eq(&rendered.subject),
                outbox::body_text.eq(&rendered.text),
                outbox::body_html.eq(&rendered.html),
                outbox::calendar.eq(calendar),
                outbox::state.eq(worker::PENDING),
                outbox::attempts.eq(0),
                outbox::send_after.eq(send_after),
                outbox::next_attempt_at.eq(send_after),
                outbox::created_at.eq(now),
            ))
            .execute(conn)?;
        written += 1;
    }
    Ok((written, sequence))
}

/// Calls off the pending reminders about `topic` (the event was cancelled or moved).
pub fn cancel_pending(conn: &mut DbConn, topic: &str) -> ApiResult<usize> {
    let reminders: Vec<&str> = Kind::ALL
        .into_iter()
        .filter(|k| k.is_reminder())
        .map(Kind::as_str)
        .collect();
    Ok(diesel::update(
        outbox::table
            .filter(outbox::topic.eq(topic))
            .filter(outbox::state.eq(worker::PENDING))
            .filter(outbox::kind.eq_any(reminders)),
    )
    .set(outbox::state.eq(worker::CANCELLED))
    .execute(conn)?)
}
