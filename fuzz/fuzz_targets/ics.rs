//! `reguide_server::mail::ics::build` on arbitrary events, checked against RFC 5545:
//!
//! - the object ends with CRLF; every physical line is at most 75 octets and holds no CR or LF;
//! - unfolded, every content line is `NAME[;PARAM=VALUE…]:VALUE`, holds no control character
//!   but HTAB, and `BEGIN`/`END` pair up, VCALENDAR outermost;
//! - the VEVENT has exactly its properties, in order; TEXT values (SUMMARY, LOCATION,
//!   DESCRIPTION) unescape to the input (a CR dropped), `UID` is the input, `CN` parameters are
//!   quoted and hold what the input holds but quotes and control characters;
//! - it never panics.
//!
//! By default inputs stay within what the server passes: a `UID` of its own making, e-mail
//! addresses without spaces or control characters, texts without control characters but line
//! breaks and tabs (what `text::line` and `text::free_text` let through), dates of years 1900 to
//! 2199. `REGUIDE_FUZZ_FULL_RANGE=1` lifts these limits: any text anywhere, any date chrono
//! can hold.

#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use libfuzzer_sys::fuzz_target;
use reguide_server::mail::ics::{Event, Method, build};

#[derive(Arbitrary, Debug)]
struct Input {
    uid: String,
    uid_number: u128,
    sequence: i32,
    cancel: bool,
    zone: u16,
    day: i32,
    second: u32,
    minutes: u16,
    stamp: i64,
    summary: String,
    location: String,
    description: String,
    organizer: (String, String),
    attendee: (String, String),
}

fn full_range() -> bool {
    static FULL: OnceLock<bool> = OnceLock::new();
    *FULL.get_or_init(|| std::env::var_os("REGUIDE_FUZZ_FULL_RANGE").is_some_and(|v| v != "0"))
}

/// Day 1 of the common era is 0001-01-01; this is 1900-01-01.
const DAY_1900: i32 = 693_596;
const DAYS_300_YEARS: i32 = 109_572;

fn text(raw: &str) -> String {
    if full_range() {
        raw.to_owned()
    } else {
        raw.chars()
            .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
            .collect()
    }
}

fn address(raw: &str) -> String {
    if full_range() {
        raw.to_owned()
    } else {
        raw.chars()
            .filter(|c| c.is_ascii_graphic() && !matches!(c, '"' | '(' | ')' | ',' | ':' | ';' | '<' | '>' | '[' | '\\' | ']'))
            .collect()
    }
}

fn event(input: &Input) -> Option<Event> {
    let zones = &chrono_tz::TZ_VARIANTS;
    let zone = zones[usize::from(input.zone) % zones.len()];
    let (day, stamp) = if full_range() {
        (input.day, input.stamp)
    } else {
        (
            DAY_1900 + input.day.rem_euclid(DAYS_300_YEARS),
            input.stamp.rem_euclid(i64::from(DAYS_300_YEARS) * 86_400) - 70 * 365 * 86_400,
        )
    };
    let starts: NaiveDateTime = NaiveDate::from_num_days_from_ce_opt(day)?
        .and_hms_opt(0, 0, 0)?
        .checked_add_signed(Duration::seconds(i64::from(input.second % 86_400)))?;
    let ends = starts
        .checked_add_signed(Duration::minutes(i64::from(input.minutes)))
        .unwrap_or(starts);
    let uid = if full_range() {
        input.uid.clone()
    } else {
        format!("visit-{}@reguide", uuid::Uuid::from_u128(input.uid_number))
    };
    Some(Event {
        uid,
        sequence: input.sequence,
        method: if input.cancel { Method::Cancel } else { Method::Request },
        zone,
        starts,
        ends,
        summary: text(&input.summary),
        location: text(&input.location),
        description: text(&input.description),
        organizer: (address(&input.organizer.0), text(&input.organizer.1)),
        attendee: (address(&input.attendee.0), text(&input.attendee.1)),
        stamp: DateTime::<Utc>::from_timestamp(stamp, 0).unwrap_or_default(),
    })
}

fuzz_target!(|input: Input| {
    let Some(event) = event(&input) else {
        return;
    };
    let ics = build(&event);
    check(&event, &ics);
});

/// One content line, parsed.
struct Line<'a> {
    name: &'a str,
    params: Vec<(&'a str, &'a str)>,
    value: &'a str,
}

fn parse(line: &str) -> Result<Line<'_>, String> {
    let end = line
        .find([':', ';'])
        .ok_or_else(|| format!("no value: {line:?}"))?;
    let name = &line[..end];
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_uppercase() || c == '-') {
        return Err(format!("not a property name: {line:?}"));
    }
    let mut rest = &line[end..];
    let mut params = Vec::new();
    while let Some(after) = rest.strip_prefix(';') {
        let eq = after.find('=').ok_or_else(|| format!("a parameter without =: {line:?}"))?;
        let pname = &after[..eq];
        let after = &after[eq + 1..];
        let (pvalue, next) = if let Some(quoted) = after.strip_prefix('"') {
            let close = quoted.find('"').ok_or_else(|| format!("an unclosed quote: {line:?}"))?;
            (&quoted[..close], &quoted[close + 1..])
        } else {
            let stop = after.find([';', ':']).ok_or_else(|| format!("no value: {line:?}"))?;
            if after[..stop].contains(',') || after[..stop].contains('"') {
                return Err(format!("an unquoted parameter needing quotes: {line:?}"));
            }
            (&after[..stop], &after[stop..])
        };
        params.push((pname, pvalue));
        rest = next;
    }
    let value = rest
        .strip_prefix(':')
        .ok_or_else(|| format!("no ':' after the parameters: {line:?}"))?;
    Ok(Line { name, params, value })
}

/// The inverse of TEXT escaping (RFC 5545 3.3.11): fails on a bare `;` or `,`, or an unknown
/// escape.
fn unescape(value: &str) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\\') => out.push('\\'),
                Some(';') => out.push(';'),
                Some(',') => out.push(','),
                Some('n' | 'N') => out.push('\n'),
                other => return Err(format!("an unknown escape \\{other:?} in {value:?}")),
            },
            ';' | ',' => return Err(format!("an unescaped {c:?} in {value:?}")),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn check(event: &Event, ics: &str) {
    assert!(ics.ends_with("\r\n"), "does not end with CRLF");
    let physical: Vec<&str> = ics[..ics.len() - 2].split("\r\n").collect();
    for line in &physical {
        assert!(line.len() <= 75, "a line of {} octets: {line:?}", line.len());
        assert!(!line.contains(['\r', '\n']), "a bare CR or LF in {line:?}");
    }
    // Unfold: a line starting with a space continues the one before.
    let mut lines: Vec<String> = Vec::new();
    for line in physical {
        match (line.strip_prefix(' '), lines.last_mut()) {
            (Some(rest), Some(last)) => last.push_str(rest),
            (Some(_), None) => panic!("the object starts with a continuation line"),
            (None, _) => lines.push(line.to_owned()),
        }
    }
    let mut stack: Vec<&str> = Vec::new();
    let mut vevent: Vec<Line<'_>> = Vec::new();
    let mut parsed = Vec::new();
    for line in &lines {
        assert!(
            !line.chars().any(|c| c.is_control() && c != '\t'),
            "a control character in a content line: {line:?}"
        );
        parsed.push(parse(line).unwrap_or_else(|e| panic!("{e}")));
    }
    for (n, line) in parsed.into_iter().enumerate() {
        match line.name {
            "BEGIN" => stack.push(line.value),
            "END" => {
                assert_eq!(stack.pop(), Some(line.value), "END:{} out of place", line.value);
                if stack.is_empty() {
                    assert_eq!(n + 1, lines.len(), "content after END:VCALENDAR");
                }
            }
            _ if stack.last() == Some(&"VEVENT") => vevent.push(line),
            _ => assert!(!stack.is_empty(), "a property outside VCALENDAR: {}", line.name),
        }
    }
    assert!(stack.is_empty(), "unclosed components: {stack:?}");
    assert_eq!(lines.first().map(String::as_str), Some("BEGIN:VCALENDAR"));

    let mut expected = vec!["UID", "SEQUENCE", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY"];
    if !event.location.is_empty() {
        expected.push("LOCATION");
    }
    if !event.description.is_empty() {
        expected.push("DESCRIPTION");
    }
    expected.extend(["ORGANIZER", "ATTENDEE", "STATUS", "TRANSP"]);
    let names: Vec<&str> = vevent.iter().map(|l| l.name).collect();
    assert_eq!(names, expected, "the VEVENT's properties");

    let cn = |raw: &str| -> String {
        raw.chars().filter(|c| !matches!(c, '"') && !c.is_control()).collect()
    };
    for line in &vevent {
        match line.name {
            "UID" => assert_eq!(line.value, event.uid),
            "SEQUENCE" => assert_eq!(line.value, event.sequence.to_string()),
            "SUMMARY" | "LOCATION" | "DESCRIPTION" => {
                let input = match line.name {
                    "SUMMARY" => &event.summary,
                    "LOCATION" => &event.location,
                    _ => &event.description,
                };
                let value = unescape(line.value).unwrap_or_else(|e| panic!("{}: {e}", line.name));
                assert_eq!(value, input.replace('\r', ""), "{} does not read back", line.name);
            }
            "DTSTART" | "DTEND" => {
                assert_eq!(line.params, vec![("TZID", event.zone.name())]);
            }
            "ORGANIZER" | "ATTENDEE" => {
                let (address, name) = if line.name == "ORGANIZER" {
                    &event.organizer
                } else {
                    &event.attendee
                };
                assert_eq!(line.params.first(), Some(&("CN", cn(name).as_str())));
                assert_eq!(line.value, format!("mailto:{address}"));
            }
            _ => {}
        }
    }
}
