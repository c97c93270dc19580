//! How long computing one prison's open slots for four weeks takes, with 5,000 visits already
//! booked (target: under 20 µs). Run with `cargo bench -p reguide-server --bench slots`.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{Duration as Days, NaiveDate, NaiveTime, TimeZone, Utc};
use reguide_protocol::visits::{VisitRules, VisitType};
use reguide_server::visits::slots::{SlotInputs, TemplateSpec};
use uuid::Uuid;

fn time(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("valid time")
}

fn rules(visit_type: VisitType) -> VisitRules {
    VisitRules {
        visit_type,
        min_notice_hours: 24,
        max_days_ahead: 28,
        max_visitors: 3,
        max_adults: 3,
        max_children: 2,
        adult_from_age: 18,
        auto_confirm: true,
        cancel_cutoff_hours: 24,
    }
}

fn main() {
    let start = NaiveDate::from_ymd_opt(2026, 1, 5).expect("date");
    // A busy prison: eight weekly sessions, some with several visit types.
    let sessions = [
        (
            2,
            time(14, 0),
            vec![(VisitType::Table, 10), (VisitType::Closed, 2)],
        ),
        (3, time(9, 30), vec![(VisitType::Table, 10)]),
        (
            3,
            time(14, 0),
            vec![(VisitType::Table, 10), (VisitType::Video, 4)],
        ),
        (4, time(13, 0), vec![(VisitType::Unsupervised, 1)]),
        (5, time(14, 0), vec![(VisitType::Table, 10)]),
        (6, time(9, 30), vec![(VisitType::Table, 12)]),
        (
            6,
            time(14, 0),
            vec![(VisitType::Table, 12), (VisitType::Closed, 2)],
        ),
        (7, time(10, 0), vec![(VisitType::Table, 12)]),
    ];
    let templates: Vec<TemplateSpec> = sessions
        .into_iter()
        .enumerate()
        .map(|(i, (weekday, starts_at, capacities))| TemplateSpec {
            id: Uuid::from_u128(i as u128 + 1),
            weekday,
            starts_at,
            ends_at: starts_at + Days::minutes(90),
            every_weeks: 1,
            valid_from: start,
            valid_to: None,
            room: format!("Room {}", i % 3 + 1),
            capacities,
        })
        .collect();

    // 5,000 booked visits spread over the year's slots.
    let mut counters = HashMap::new();
    let mut booked_visits = 0;
    let mut date = start;
    'fill: while date < start + Days::days(3 * 366) {
        for t in templates.iter().filter(|t| t.runs_on(date)) {
            for &(visit_type, capacity) in &t.capacities {
                let booked = capacity.min(5_000 - booked_visits);
                counters.insert((t.id, date, visit_type), (capacity, booked));
                booked_visits += booked;
                if booked_visits >= 5_000 {
                    break 'fill;
                }
            }
        }
        date += Days::days(1);
    }
    let blocked = (0..20)
        .map(|i| (start + Days::days(i * 17), None))
        .collect();
    let inputs = SlotInputs {
        tz: chrono_tz::Europe::Brussels,
        templates,
        blocked,
        counters,
        rules: [
            VisitType::Table,
            VisitType::Closed,
            VisitType::Video,
            VisitType::Unsupervised,
        ]
        .into_iter()
        .map(|t| (t, rules(t)))
        .collect(),
    };
    let now = Utc
        .with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
        .single()
        .expect("now");
    let from = NaiveDate::from_ymd_opt(2026, 3, 2).expect("date");
    let to = from + Days::days(27);
    let slots = inputs.slots(from, to, None, now);

    // Warm up, then time batches and report the median batch's per-call time.
    for _ in 0..2_000 {
        black_box(inputs.slots(black_box(from), black_box(to), None, now));
    }
    let batch = 1_000;
    let mut per_call: Vec<Duration> = (0..30)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..batch {
                black_box(inputs.slots(black_box(from), black_box(to), None, now));
            }
            started.elapsed() / batch
        })
        .collect();
    per_call.sort();
    println!(
        "slots: {} booked visits, {} slots in 4 weeks: median {:.2} µs per computation (min {:.2} µs, max {:.2} µs; target < 20 µs)",
        booked_visits,
        slots.len(),
        per_call[per_call.len() / 2].as_secs_f64() * 1e6,
        per_call[0].as_secs_f64() * 1e6,
        per_call[per_call.len() - 1].as_secs_f64() * 1e6,
    );
}
