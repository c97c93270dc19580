//! The registration list of a family day as CSV, for the people who prepare the day (the
//! kitchen counts plates from it).
//!
//! RFC 4180: comma-separated, CRLF line ends, a header row, fields quoted when they hold a
//! comma, a quote, or a line break (quotes doubled). The file starts with a UTF-8 byte order
//! mark, without which spreadsheet programs read accented names as Latin-1. Text that families
//! typed (labels, notes) and that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is
//! prefixed with `'`, so a spreadsheet shows it instead of running it as a formula.

use chrono_tz::Tz;
use reguide_protocol::family_days::Registration;

use crate::csv::{defuse, quote};

/// The columns, in order.
pub const HEADER: [&str; 9] = [
    "status",
    "position",
    "family",
    "adults",
    "children",
    "people",
    "note",
    "registered_at",
    "registration_id",
];

/// The CSV document of a day's registrations; times of registration are local to `tz`.
pub fn registrations_csv(registrations: &[Registration], tz: Tz) -> String {
    let mut out = String::from("\u{feff}");
    push_row(&mut out, HEADER.iter().map(|h| (*h).to_owned()));
    for r in registrations {
        push_row(
            &mut out,
            [
                r.status.as_str().to_owned(),
                r.position.map(|p| p.to_string()).unwrap_or_default(),
                defuse(&r.family_label),
                r.adults.to_string(),
                r.children.to_string(),
                (r.adults + r.children).to_string(),
                defuse(r.note.as_deref().unwrap_or_default()),
                r.created_at
                    .with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M")
                    .to_string(),
                r.id.to_string(),
            ],
        );
    }
    out
}

fn push_row(out: &mut String, fields: impl IntoIterator<Item = String>) {
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&quote(&field));
    }
    out.push_str("\r\n");
}
