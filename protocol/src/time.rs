//! Local times in a time zone: visits, family days and reminders happen at a wall-clock time
//! of the place (a 14:00 session stays 14:00 across daylight-saving changes).

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The zone of Belgium's prisons and families, where nothing else is known.
pub const DEFAULT_TIME_ZONE: Tz = chrono_tz::Europe::Brussels;

/// A local wall-clock time on a date in `tz`, as an instant with that day's offset. In the
/// spring-forward gap (02:00–03:00 in Brussels) it moves to the first valid minute after.
pub fn local_instant(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<FixedOffset> {
    let naive = date.and_time(time);
    let resolved = tz.from_local_datetime(&naive).earliest().or_else(|| {
        naive
            .checked_add_signed(Duration::hours(1))
            .and_then(|later| tz.from_local_datetime(&later).earliest())
    });
    match resolved {
        Some(dt) => dt.fixed_offset(),
        // No zone skips two hours; fall back to reading the time as UTC rather than failing.
        None => Utc.from_utc_datetime(&naive).fixed_offset(),
    }
}
