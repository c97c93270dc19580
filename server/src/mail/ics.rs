//! Calendar entries (RFC 5545, iTIP `REQUEST` and `CANCEL`), attached to messages about visits,
//! family days and appointments so that phones add, update and remove the event by themselves.
//!
//! Times are written in the prison's (or the family's) time zone with a `VTIMEZONE` built from
//! the time-zone database: the zone's transitions from a year before the event to a year after,
//! so the entry reads right in any calendar. The `UID` is stable per event and `SEQUENCE` grows
//! with each message about it ([`next_sequence`]).

use chrono::{DateTime, Duration, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::{OffsetName, Tz};
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::calendar_sequences;
use crate::error::ApiResult;

/// What the entry asks of the calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Add the event, or update it when the `UID` is known.
    Request,
    /// Remove it.
    Cancel,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "REQUEST",
            Self::Cancel => "CANCEL",
        }
    }
}

/// One event, in local time of `zone`.
#[derive(Clone, Debug)]
pub struct Event {
    pub uid: String,
    pub sequence: i32,
    pub method: Method,
    pub zone: Tz,
    pub starts: NaiveDateTime,
    pub ends: NaiveDateTime,
    pub summary: String,
    pub location: String,
    pub description: String,
    /// Who sends it (the server's address), and its display name.
    pub organizer: (String, String),
    /// Who it is for.
    pub attendee: (String, String),
    pub stamp: DateTime<Utc>,
}

/// The next `SEQUENCE` of the entry `uid`: 0 the first time, then one more each time.
pub fn next_sequence(conn: &mut DbConn, uid: &str) -> ApiResult<i32> {
    let upsert = diesel::insert_into(calendar_sequences::table)
        .values((
            calendar_sequences::uid.eq(uid),
            calendar_sequences::sequence.eq(0),
        ))
        .on_conflict(calendar_sequences::uid)
        .do_update()
        .set(calendar_sequences::sequence.eq(calendar_sequences::sequence + 1));
    // One statement on either backend, so concurrent messages about one event never clash.
    match conn {
        DbConn::Postgres(pg) => upsert.execute(pg)?,
        DbConn::Sqlite(sqlite) => upsert.execute(sqlite)?,
    };
    Ok(calendar_sequences::table
        .find(uid)
        .select(calendar_sequences::sequence)
        .first(conn)?)
}

/// Whether a calendar entry `uid` was ever sent (a cancellation only goes where an entry went).
pub fn was_sent(conn: &mut DbConn, uid: &str) -> ApiResult<bool> {
    let n: i64 = calendar_sequences::table
        .find(uid)
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// TEXT value escaping (RFC 5545 3.3.11).
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            // TEXT takes no control character but the tab (RFC 5545, 3.3.11).
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A parameter value: quoted, without the characters a quoted value may not hold.
fn param(value: &str) -> String {
    let clean: String = value
        .chars()
        .filter(|c| !matches!(c, '"' | '\r' | '\n') && !c.is_control())
        .collect();
    format!("\"{clean}\"")
}

/// Folds a content line at 75 octets, never inside a UTF-8 character (RFC 5545 3.1).
fn fold(line: &str, out: &mut String) {
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
}

fn local(at: NaiveDateTime) -> String {
    at.format("%Y%m%dT%H%M%S").to_string()
}

fn offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.abs();
    format!("{sign}{:02}{:02}", s / 3600, (s % 3600) / 60)
}

fn utc_offset(zone: Tz, at: DateTime<Utc>) -> i32 {
    zone.offset_from_utc_datetime(&at.naive_utc())
        .fix()
        .local_minus_utc()
}

/// The instants in `[from, to)` at which `zone`'s offset changes, to the minute.
fn transitions(zone: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut found = Vec::new();
    let mut at = from;
    let mut before = utc_offset(zone, at);
    while at < to {
        let next = at + Duration::hours(1);
        let after = utc_offset(zone, next);
        if after != before {
            // The change lies in (at, next]: find its minute.
            let (mut lo, mut hi) = (at, next);
            while hi - lo > Duration::minutes(1) {
                let mid = lo + (hi - lo) / 2;
                if utc_offset(zone, mid) == before {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            found.push(hi);
            before = after;
        }
        at = next;
    }
    found
}

fn vtimezone(zone: Tz, around: NaiveDateTime, out: &mut String) {
    let centre = Utc.from_utc_datetime(&around);
    let from = centre - Duration::days(366);
    let to = centre + Duration::days(366);
    fold("BEGIN:VTIMEZONE", out);
    fold(&format!("TZID:{}", zone.name()), out);
    let changes = transitions(zone, from, to);
    if changes.is_empty() {
        let seconds = utc_offset(zone, centre);
        let name = zone
            .offset_from_utc_datetime(&around)
            .abbreviation()
            .unwrap_or("")
            .to_owned();
        fold("BEGIN:STANDARD", out);
        fold("DTSTART:19700101T000000", out);
        fold(&format!("TZOFFSETFROM:{}", offset(seconds)), out);
        fold(&format!("TZOFFSETTO:{}", offset(seconds)), out);
        if !name.is_empty() {
            fold(&format!("TZNAME:{name}"), out);
        }
        fold("END:STANDARD", out);
    }
    for change in changes {
        let from_secs = utc_offset(zone, change - Duration::minutes(1));
        let to_secs = utc_offset(zone, change);
        // DTSTART is the onset in the local time that was in force before it.
        let onset = change.naive_utc() + Duration::seconds(i64::from(from_secs));
        let component = if to_secs > from_secs {
            "DAYLIGHT"
        } else {
            "STANDARD"
        };
        let name = zone
            .offset_from_utc_datetime(&change.naive_utc())
            .abbreviation()
            .unwrap_or("")
            .to_owned();
        fold(&format!("BEGIN:{component}"), out);
        fold(&format!("DTSTART:{}", local(onset)), out);
        fold(&format!("TZOFFSETFROM:{}", offset(from_secs)), out);
        fold(&format!("TZOFFSETTO:{}", offset(to_secs)), out);
        if !name.is_empty() {
            fold(&format!("TZNAME:{name}"), out);
        }
        fold(&format!("END:{component}"), out);
    }
    fold("END:VTIMEZONE", out);
}

/// The iCalendar object of `event`, with CRLF line ends.
pub fn build(event: &Event) -> String {
    let mut out = String::with_capacity(2048);
    let tzid = event.zone.name();
    fold("BEGIN:VCALENDAR", &mut out);
    fold("VERSION:2.0", &mut out);
    fold("PRODID:-//reguide//reguide server//EN", &mut out);
    fold("CALSCALE:GREGORIAN", &mut out);
    fold(&format!("METHOD:{}", event.method.as_str()), &mut out);
    vtimezone(event.zone, event.starts, &mut out);
    fold("BEGIN:VEVENT", &mut out);
    fold(&format!("UID:{}", event.uid), &mut out);
    fold(&format!("SEQUENCE:{}", event.sequence), &mut out);
    fold(
        &format!("DTSTAMP:{}", event.stamp.format("%Y%m%dT%H%M%SZ")),
        &mut out,
    );
    fold(
        &format!("DTSTART;TZID={tzid}:{}", local(event.starts)),
        &mut out,
    );
    fold(
        &format!("DTEND;TZID={tzid}:{}", local(event.ends)),
        &mut out,
    );
    fold(&format!("SUMMARY:{}", text(&event.summary)), &mut out);
    if !event.location.is_empty() {
        fold(&format!("LOCATION:{}", text(&event.location)), &mut out);
    }
    if !event.description.is_empty() {
        fold(
            &format!("DESCRIPTION:{}", text(&event.description)),
            &mut out,
        );
    }
    fold(
        &format!(
            "ORGANIZER;CN={}:mailto:{}",
            param(&event.organizer.1),
            event.organizer.0
        ),
        &mut out,
    );
    fold(
        &format!(
            "ATTENDEE;CN={};ROLE=REQ-PARTICIPANT:mailto:{}",
            param(&event.attendee.1),
            event.attendee.0
        ),
        &mut out,
    );
    let status = match event.method {
        Method::Request => "CONFIRMED",
        Method::Cancel => "CANCELLED",
    };
    fold(&format!("STATUS:{status}"), &mut out);
    fold("TRANSP:OPAQUE", &mut out);
    fold("END:VEVENT", &mut out);
    fold("END:VCALENDAR", &mut out);
    out
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn event() -> Event {
        let day = NaiveDate::from_ymd_opt(2027, 3, 27).expect("a date");
        Event {
            uid: "visit-1@reguide.example".into(),
            sequence: 2,
            method: Method::Request,
            zone: chrono_tz::Europe::Brussels,
            starts: day.and_hms_opt(14, 0, 0).expect("a time"),
            ends: day.and_hms_opt(15, 30, 0).expect("a time"),
            summary: "Visit, table; room 2".into(),
            location: "Rue de l'Institut 1, 1130 Haren".into(),
            description: "Arrive 30 minutes early.\nBring your identity card.".into(),
            organizer: ("no-reply@reguide.example".into(), "reguide".into()),
            attendee: ("fatima@example.org".into(), "Fatima \"B\"".into()),
            stamp: Utc
                .with_ymd_and_hms(2027, 3, 1, 9, 0, 0)
                .single()
                .expect("an instant"),
        }
    }

    #[test]
    fn lines_end_in_crlf_and_fold_at_75_octets() {
        let mut long = event();
        long.description = "é".repeat(200);
        let ics = build(&long);
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
        for line in ics.split("\r\n") {
            assert!(line.len() <= 75, "{line:?}");
        }
        // Unfolding gives back the whole value.
        let unfolded = ics.replace("\r\n ", "");
        assert!(unfolded.contains(&format!("DESCRIPTION:{}", "é".repeat(200))));
    }

    #[test]
    fn control_characters_never_reach_a_text_value() {
        assert_eq!(text("a\u{0}b\u{7}c\u{1b}[31md\te\r\nf"), "abc[31md\te\\nf");
    }

    #[test]
    fn text_is_escaped_and_times_are_local_with_their_zone() {
        let ics = build(&event());
        assert!(ics.contains("SUMMARY:Visit\\, table\\; room 2\r\n"));
        assert!(
            ics.contains("DESCRIPTION:Arrive 30 minutes early.\\nBring your identity card.\r\n")
        );
        assert!(ics.contains("DTSTART;TZID=Europe/Brussels:20270327T140000\r\n"));
        assert!(ics.contains("DTEND;TZID=Europe/Brussels:20270327T153000\r\n"));
        assert!(
            ics.contains("ATTENDEE;CN=\"Fatima B\";ROLE=REQ-PARTICIPANT:mailto:fatima@example.org")
        );
        assert!(ics.contains("METHOD:REQUEST\r\n") && ics.contains("STATUS:CONFIRMED\r\n"));
    }

    #[test]
    fn the_time_zone_holds_the_transitions_around_the_event() {
        let ics = build(&event());
        // 2026-10-25 back to winter time, 2027-03-28 to summer time, 2027-10-31 back.
        assert!(ics.contains(
            "BEGIN:STANDARD\r\nDTSTART:20261025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"
        ));
        assert!(ics.contains(
            "BEGIN:DAYLIGHT\r\nDTSTART:20270328T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n"
        ));
        assert!(ics.contains("DTSTART:20271031T030000\r\n"));
    }

    #[test]
    fn a_zone_without_daylight_saving_has_one_standard_part() {
        let mut e = event();
        e.zone = chrono_tz::Asia::Kolkata;
        let ics = build(&e);
        assert!(ics.contains("TZOFFSETFROM:+0530\r\nTZOFFSETTO:+0530\r\n"));
        assert_eq!(ics.matches("BEGIN:STANDARD").count(), 1);
        assert!(!ics.contains("DAYLIGHT"));
    }

    #[test]
    fn a_cancellation_says_so() {
        let mut e = event();
        e.method = Method::Cancel;
        let ics = build(&e);
        assert!(ics.contains("METHOD:CANCEL\r\n") && ics.contains("STATUS:CANCELLED\r\n"));
    }
}
