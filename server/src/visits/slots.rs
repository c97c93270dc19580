//! Slots: which sessions run on which dates, how full they are, and taking and giving back
//! places.
//!
//! Slots are computed, not stored: a weekly template plus a date gives a slot, in the prison's
//! time zone, so a 14:00 session stays 14:00 local on the days DST starts and ends. Only the
//! place counter of a slot is a row (`visit_slots`), created on first booking; taking a place
//! is one conditional `UPDATE … WHERE booked < capacity`, which is what makes overbooking
//! impossible on both backends.

use std::collections::HashMap;

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveTime, Offset, TimeZone, Utc,
};
use chrono_tz::Tz;
use diesel::prelude::*;
use reguide_protocol::visits::{Slot, VisitRules, VisitType};
use uuid::Uuid;

use crate::db::DbConn;
use crate::db::schema::{blocked_dates, session_capacities, session_templates, visit_slots};
use crate::error::{ApiError, ApiResult, is_unique_violation};

/// A weekly session, as the slot computation needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateSpec {
    pub id: Uuid,
    /// ISO weekday, 1 = Monday.
    pub weekday: u8,
    pub starts_at: NaiveTime,
    pub ends_at: NaiveTime,
    pub every_weeks: u8,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub room: String,
    pub capacities: Vec<(VisitType, i32)>,
}

impl TemplateSpec {
    /// Whether this session runs on `date`: right weekday, inside its validity, and in rhythm
    /// (every n weeks counted from its first run on or after `valid_from`).
    pub fn runs_on(&self, date: NaiveDate) -> bool {
        if date.weekday().number_from_monday() != u32::from(self.weekday)
            || date < self.valid_from
            || self.valid_to.is_some_and(|end| date > end)
        {
            return false;
        }
        let offset = (i64::from(self.weekday)
            - i64::from(self.valid_from.weekday().number_from_monday()))
        .rem_euclid(7);
        let first = self.valid_from + Duration::days(offset);
        let weeks = (date - first).num_days() / 7;
        weeks % i64::from(self.every_weeks.max(1)) == 0
    }

    pub fn capacity(&self, visit_type: VisitType) -> Option<i32> {
        self.capacities
            .iter()
            .find(|(t, _)| *t == visit_type)
            .map(|(_, c)| *c)
            .filter(|c| *c > 0)
    }
}

pub use reguide_protocol::time::local_instant;

/// The key of a slot's place counter; also the id of its `visit_slots` row.
pub fn slot_key(template: Uuid, date: NaiveDate, visit_type: VisitType) -> String {
    format!("{template}:{date}:{}", visit_type.as_str())
}

/// Everything slot computation reads, loaded once per call.
#[derive(Debug)]
pub struct SlotInputs {
    pub tz: Tz,
    pub templates: Vec<TemplateSpec>,
    /// Blocked dates: `(date, None)` blocks the prison, `(date, Some(template))` one session.
    pub blocked: Vec<(NaiveDate, Option<Uuid>)>,
    /// Place counters by (template, date, type): (capacity, booked).
    pub counters: HashMap<(Uuid, NaiveDate, VisitType), (i32, i32)>,
    pub rules: HashMap<VisitType, VisitRules>,
}

impl SlotInputs {
    pub fn is_blocked(&self, template: Uuid, date: NaiveDate) -> bool {
        self.blocked
            .iter()
            .any(|(d, t)| *d == date && t.is_none_or(|t| t == template))
    }

    /// The slots from `from` to `to` (inclusive) as seen at `now`, in date and time order.
    ///
    /// This runs on every slots request, so the time-zone work is done per day rather than per
    /// slot: a day with no offset change maps local times with one fixed offset; only the two
    /// change days a year resolve each time through the zone rules.
    pub fn slots(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        only: Option<VisitType>,
        now: DateTime<Utc>,
    ) -> Vec<Slot> {
        let today = now.with_timezone(&self.tz).date_naive();
        // The booking window of each visit type, as the earliest start and the last date.
        let windows: Vec<(VisitType, DateTime<Utc>, NaiveDate)> = self
            .rules
            .values()
            .map(|r| {
                (
                    r.visit_type,
                    now + Duration::hours(i64::from(r.min_notice_hours)),
                    today + Duration::days(i64::from(r.max_days_ahead)),
                )
            })
            .collect();
        let noon_offset = |date: NaiveDate| {
            self.tz
                .offset_from_utc_datetime(&date.and_time(NaiveTime::MIN + Duration::hours(12)))
                .fix()
        };
        let mut out = Vec::new();
        let mut date = from;
        let (mut before, mut current) = (noon_offset(from - Duration::days(1)), noon_offset(from));
        while date <= to {
            let after = noon_offset(date + Duration::days(1));
            // No change between yesterday's and tomorrow's noon: today has one offset.
            let steady = (before == after).then_some(current);
            let at = |time: NaiveTime| match steady {
                Some(offset) => fixed_instant(offset, date, time),
                None => local_instant(self.tz, date, time),
            };
            for template in self.templates.iter().filter(|t| t.runs_on(date)) {
                let starts_at = at(template.starts_at);
                let ends_at = at(template.ends_at);
                let blocked = self.is_blocked(template.id, date);
                for &(visit_type, template_capacity) in &template.capacities {
                    if template_capacity <= 0 || only.is_some_and(|o| o != visit_type) {
                        continue;
                    }
                    let (capacity, booked) = self
                        .counters
                        .get(&(template.id, date, visit_type))
                        .copied()
                        .unwrap_or((template_capacity, 0));
                    let bookable = !blocked
                        && starts_at > now
                        && windows.iter().any(|(t, earliest, last)| {
                            *t == visit_type && starts_at >= *earliest && date <= *last
                        });
                    out.push(Slot {
                        template_id: template.id,
                        date,
                        visit_type,
                        starts_at,
                        ends_at,
                        room: template.room.clone(),
                        capacity,
                        booked,
                        open: (capacity - booked).max(0),
                        bookable,
                        blocked,
                    });
                }
            }
            (before, current) = (current, after);
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
        out.sort_by(|a, b| (a.starts_at, a.room.as_str()).cmp(&(b.starts_at, b.room.as_str())));
        out
    }
}

/// A local time on a date with a known fixed offset.
fn fixed_instant(offset: FixedOffset, date: NaiveDate, time: NaiveTime) -> DateTime<FixedOffset> {
    let utc = date.and_time(time) - Duration::seconds(i64::from(offset.local_minus_utc()));
    DateTime::from_naive_utc_and_offset(utc, offset)
}

/// Why a slot cannot be asked for now, if it cannot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowError {
    InPast,
    TooLate,
    TooFarAhead,
}

/// Checks the prison's booking window: at least `min_notice_hours` before the start, at most
/// `max_days_ahead` days (counted in the prison's calendar) ahead.
pub fn window_check(
    rules: &VisitRules,
    tz: Tz,
    starts_at: DateTime<FixedOffset>,
    now: DateTime<Utc>,
) -> Result<(), WindowError> {
    if starts_at <= now {
        return Err(WindowError::InPast);
    }
    if starts_at < now + Duration::hours(i64::from(rules.min_notice_hours)) {
        return Err(WindowError::TooLate);
    }
    let today = now.with_timezone(&tz).date_naive();
    if starts_at.with_timezone(&tz).date_naive()
        > today + Duration::days(i64::from(rules.max_days_ahead))
    {
        return Err(WindowError::TooFarAhead);
    }
    Ok(())
}

/// Loads a prison's templates with their capacities.
pub fn load_templates(conn: &mut DbConn, prison: &str) -> ApiResult<Vec<TemplateSpec>> {
    type Row = (
        String,
        i32,
        String,
        String,
        i32,
        NaiveDate,
        Option<NaiveDate>,
        String,
        Option<String>,
        Option<i32>,
    );
    // One round trip: each template with each of its capacities.
    let rows: Vec<Row> = session_templates::table
        .left_join(session_capacities::table)
        .filter(session_templates::prison_id.eq(prison))
        .order((
            session_templates::weekday.asc(),
            session_templates::starts_at.asc(),
            session_templates::id.asc(),
        ))
        .select((
            session_templates::id,
            session_templates::weekday,
            session_templates::starts_at,
            session_templates::ends_at,
            session_templates::every_weeks,
            session_templates::valid_from,
            session_templates::valid_to,
            session_templates::room,
            session_capacities::visit_type.nullable(),
            session_capacities::capacity.nullable(),
        ))
        .load(conn)?;
    let mut templates: Vec<TemplateSpec> = Vec::new();
    for (id, weekday, starts, ends, every, from, to, room, visit_type, capacity) in rows {
        let id = parse_uuid(&id)?;
        if templates.last().is_none_or(|t| t.id != id) {
            templates.push(TemplateSpec {
                id,
                weekday: weekday as u8,
                starts_at: parse_time(&starts)?,
                ends_at: parse_time(&ends)?,
                every_weeks: every as u8,
                valid_from: from,
                valid_to: to,
                room,
                capacities: Vec::new(),
            });
        }
        if let (Some(t), Some(c), Some(template)) = (
            visit_type.as_deref().and_then(VisitType::parse),
            capacity,
            templates.last_mut(),
        ) {
            template.capacities.push((t, c));
        }
    }
    for t in &mut templates {
        t.capacities.sort();
    }
    Ok(templates)
}

/// Loads blocked dates and place counters for a date range.
pub fn load_inputs(
    conn: &mut DbConn,
    prison: &str,
    tz: Tz,
    rules: HashMap<VisitType, VisitRules>,
    from: NaiveDate,
    to: NaiveDate,
) -> ApiResult<SlotInputs> {
    let templates = load_templates(conn, prison)?;
    let blocked = blocked_dates::table
        .filter(blocked_dates::prison_id.eq(prison))
        .filter(blocked_dates::date.between(from, to))
        .select((blocked_dates::date, blocked_dates::template_id))
        .load::<(NaiveDate, Option<String>)>(conn)?
        .into_iter()
        .map(|(d, t)| Ok((d, t.as_deref().map(parse_uuid).transpose()?)))
        .collect::<ApiResult<_>>()?;
    let counters = visit_slots::table
        .filter(visit_slots::prison_id.eq(prison))
        .filter(visit_slots::date.between(from, to))
        .select((
            visit_slots::template_id,
            visit_slots::date,
            visit_slots::visit_type,
            visit_slots::capacity,
            visit_slots::booked,
        ))
        .load::<(String, NaiveDate, String, i32, i32)>(conn)?
        .into_iter()
        .filter_map(|(template, date, visit_type, c, b)| {
            let key = (template.parse().ok()?, date, VisitType::parse(&visit_type)?);
            Some((key, (c, b)))
        })
        .collect();
    Ok(SlotInputs {
        tz,
        templates,
        blocked,
        counters,
        rules,
    })
}

/// Takes one place of a slot if one is free; returns the counter's id when it did. Must run
/// inside a write transaction.
pub fn take_place(
    conn: &mut DbConn,
    prison: &str,
    template: &TemplateSpec,
    date: NaiveDate,
    visit_type: VisitType,
) -> ApiResult<Option<String>> {
    let key = slot_key(template.id, date, visit_type);
    let exists: i64 = visit_slots::table.find(&key).count().get_result(conn)?;
    if exists == 0 {
        let capacity = template.capacity(visit_type).unwrap_or(0);
        // A savepoint: losing the race to create the counter must not abort the transaction.
        let created = conn.transaction(|c| {
            diesel::insert_into(visit_slots::table)
                .values((
                    visit_slots::id.eq(&key),
                    visit_slots::prison_id.eq(prison),
                    visit_slots::template_id.eq(template.id.to_string()),
                    visit_slots::date.eq(date),
                    visit_slots::visit_type.eq(visit_type.as_str()),
                    visit_slots::capacity.eq(capacity),
                    visit_slots::booked.eq(0),
                ))
                .execute(c)
        });
        match created {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let taken = diesel::update(
        visit_slots::table
            .find(&key)
            .filter(visit_slots::booked.lt(visit_slots::capacity)),
    )
    .set(visit_slots::booked.eq(visit_slots::booked + 1))
    .execute(conn)?;
    Ok((taken == 1).then_some(key))
}

/// Gives a place back.
pub fn release_place(conn: &mut DbConn, slot: &str) -> ApiResult<()> {
    diesel::update(
        visit_slots::table
            .find(slot)
            .filter(visit_slots::booked.gt(0)),
    )
    .set(visit_slots::booked.eq(visit_slots::booked - 1))
    .execute(conn)?;
    Ok(())
}

/// Splits a slot key back into template, date and type.
pub fn parse_slot_key(key: &str) -> ApiResult<(Uuid, NaiveDate, VisitType)> {
    let mut parts = key.splitn(3, ':');
    let corrupt = || ApiError::internal(anyhow::anyhow!("malformed slot key in the database"));
    let template = parts
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(corrupt)?;
    let date = parts
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(corrupt)?;
    let visit_type = parts
        .next()
        .and_then(VisitType::parse)
        .ok_or_else(corrupt)?;
    Ok((template, date, visit_type))
}

pub fn parse_uuid(s: &str) -> ApiResult<Uuid> {
    s.parse()
        .map_err(|_| ApiError::internal(anyhow::anyhow!("malformed id in the database")))
}

pub fn parse_time(s: &str) -> ApiResult<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M")
        .map_err(|_| ApiError::internal(anyhow::anyhow!("malformed time in the database")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(weekday: u8, every_weeks: u8, from: NaiveDate) -> TemplateSpec {
        TemplateSpec {
            id: Uuid::from_u128(7),
            weekday,
            starts_at: NaiveTime::from_hms_opt(14, 0, 0).expect("time"),
            ends_at: NaiveTime::from_hms_opt(15, 30, 0).expect("time"),
            every_weeks,
            valid_from: from,
            valid_to: None,
            room: "A".into(),
            capacities: vec![(VisitType::Table, 10)],
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    #[test]
    fn fourteen_hundred_stays_local_across_dst() {
        let tz = chrono_tz::Europe::Brussels;
        let two_pm = NaiveTime::from_hms_opt(14, 0, 0).expect("time");
        // Sunday 29 March 2026: summer time starts; Sunday 25 October 2026: it ends.
        let spring = local_instant(tz, date(2026, 3, 29), two_pm);
        let before = local_instant(tz, date(2026, 3, 28), two_pm);
        let autumn = local_instant(tz, date(2026, 10, 25), two_pm);
        assert_eq!(spring.to_rfc3339(), "2026-03-29T14:00:00+02:00");
        assert_eq!(before.to_rfc3339(), "2026-03-28T14:00:00+01:00");
        assert_eq!(autumn.to_rfc3339(), "2026-10-25T14:00:00+01:00");
        // 02:30 does not exist on the spring day: the slot moves to 03:30 local.
        let gap = local_instant(
            tz,
            date(2026, 3, 29),
            NaiveTime::from_hms_opt(2, 30, 0).expect("t"),
        );
        assert_eq!(gap.to_rfc3339(), "2026-03-29T03:30:00+02:00");
    }

    #[test]
    fn slot_times_match_the_zone_rules_every_day_of_the_year() {
        let mut templates = Vec::new();
        for weekday in 1..=7 {
            for (i, (h, m)) in [(0, 30), (2, 30), (14, 0), (23, 45)]
                .into_iter()
                .enumerate()
            {
                templates.push(TemplateSpec {
                    id: Uuid::from_u128(u128::from(weekday) * 10 + i as u128),
                    starts_at: NaiveTime::from_hms_opt(h, m, 0).expect("time"),
                    ends_at: NaiveTime::from_hms_opt(h, m, 0).expect("time")
                        + Duration::minutes(10),
                    ..template(weekday, 1, date(2026, 1, 1))
                });
            }
        }
        let inputs = SlotInputs {
            tz: chrono_tz::Europe::Brussels,
            templates: templates.clone(),
            blocked: vec![],
            counters: HashMap::new(),
            rules: HashMap::new(),
        };
        let now = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("now");
        let slots = inputs.slots(date(2026, 1, 1), date(2026, 12, 31), None, now);
        assert_eq!(slots.len(), 365 * 4);
        for slot in slots {
            let t = templates
                .iter()
                .find(|t| t.id == slot.template_id)
                .expect("template");
            assert_eq!(
                slot.starts_at,
                local_instant(inputs.tz, slot.date, t.starts_at),
                "{}",
                slot.date
            );
        }
    }

    #[test]
    fn templates_run_on_their_weekday_in_rhythm() {
        // Wednesday 2 December 2026, every other week, starting from a Monday.
        let t = template(3, 2, date(2026, 11, 30));
        assert!(t.runs_on(date(2026, 12, 2)));
        assert!(!t.runs_on(date(2026, 12, 9)));
        assert!(t.runs_on(date(2026, 12, 16)));
        assert!(!t.runs_on(date(2026, 12, 3)), "wrong weekday");
        assert!(!t.runs_on(date(2026, 11, 25)), "before valid_from");
        let weekly = TemplateSpec {
            valid_to: Some(date(2026, 12, 10)),
            ..template(3, 1, date(2026, 11, 30))
        };
        assert!(weekly.runs_on(date(2026, 12, 9)));
        assert!(!weekly.runs_on(date(2026, 12, 16)), "after valid_to");
    }

    #[test]
    fn slots_show_counters_blocks_and_the_booking_window() {
        let t = template(3, 1, date(2026, 11, 1));
        let rules = VisitRules {
            visit_type: VisitType::Table,
            min_notice_hours: 24,
            max_days_ahead: 15,
            max_visitors: 3,
            max_adults: 3,
            max_children: 2,
            adult_from_age: 18,
            auto_confirm: true,
            cancel_cutoff_hours: 24,
        };
        let mut counters = HashMap::new();
        counters.insert((t.id, date(2026, 12, 2), VisitType::Table), (10, 10));
        let inputs = SlotInputs {
            tz: chrono_tz::Europe::Brussels,
            templates: vec![t.clone()],
            blocked: vec![(date(2026, 12, 9), None)],
            counters,
            rules: [(VisitType::Table, rules)].into_iter().collect(),
        };
        // Tuesday 1 December 2026, 10:00 UTC.
        let now = Utc
            .with_ymd_and_hms(2026, 12, 1, 10, 0, 0)
            .single()
            .expect("now");
        let slots = inputs.slots(date(2026, 12, 1), date(2026, 12, 31), None, now);
        let dates: Vec<_> = slots.iter().map(|s| s.date).collect();
        assert_eq!(
            dates,
            vec![
                date(2026, 12, 2),
                date(2026, 12, 9),
                date(2026, 12, 16),
                date(2026, 12, 23),
                date(2026, 12, 30)
            ]
        );
        assert_eq!((slots[0].open, slots[0].booked), (0, 10), "full");
        assert!(slots[0].bookable, "full but inside the window");
        assert!(slots[1].blocked && !slots[1].bookable);
        assert!(slots[2].bookable && slots[2].open == 10);
        assert!(!slots[3].bookable, "more than 15 days ahead");
        let late = Utc
            .with_ymd_and_hms(2026, 12, 1, 14, 0, 0)
            .single()
            .expect("now");
        assert!(
            !inputs.slots(date(2026, 12, 2), date(2026, 12, 2), None, late)[0].bookable,
            "under 24 h notice"
        );
        assert!(
            inputs
                .slots(
                    date(2026, 12, 1),
                    date(2026, 12, 31),
                    Some(VisitType::Closed),
                    now
                )
                .is_empty()
        );
    }
}
