//! Visits, the prison side: practical information, visit rules, weekly sessions, blocked dates
//! and the slots computed from them (in the prison's time zone, across DST changes).

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use reguide_tests::protocol::Language;
use reguide_tests::protocol::visits::{
    BlockedDate, PrisonDetail, SessionTemplate, Slot, VisitRules, VisitType,
};
use reguide_tests::visits::{next_weekday, request_body, table_rules, template_body, today, with};
use reguide_tests::{DemoUser, TestApp, assert_error, both_backends, expect_json, expect_status};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

fn prison_path(prison: impl std::fmt::Display) -> String {
    format!("/api/v1/prisons/{prison}")
}

fn rules_of(detail: &PrisonDetail, visit_type: VisitType) -> Option<&VisitRules> {
    detail.rules.iter().find(|r| r.visit_type == visit_type)
}

fn haren_info() -> Value {
    json!({
        "name": "Prison de Haren",
        "city": "Haren",
        "address": "Rue du Witloof 1, 1130 Bruxelles",
        "languages": ["fr", "nl", "en"],
        "contact_phone": "+32 2 000 11 99",
        "contact_email": "visites.haren@example.org",
        "arrival_advice": { "fr": "Arrivez 45 minutes avant.", "nl": "Kom 45 minuten vooraf." },
        "what_to_bring": { "fr": "Votre carte d'identité." },
        "accessibility": {},
    })
}

async fn put(app: &TestApp, path: &str, token: &str, body: &Value) -> reqwest::Response {
    app.request(Method::PUT, path, Some(token), Some(body))
        .await
}

both_backends! {
    async fn coordinator_updates_prison_information_and_rules(app: TestApp) {
        let demo = app.demo_data().await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let family = app.login_as(DemoUser::FamilyMember).await;
        let haren = prison_path(demo.haren);

        let updated: PrisonDetail =
            expect_json(put(&app, &haren, &coordinator, &haren_info()).await, 200).await;
        assert_eq!(updated.contact_email.as_deref(), Some("visites.haren@example.org"));
        let seen: PrisonDetail = expect_json(app.get(&haren, Some(&family)).await, 200).await;
        assert_eq!(seen.name, "Prison de Haren");
        assert_eq!(seen.address, "Rue du Witloof 1, 1130 Bruxelles");
        assert_eq!(seen.languages, vec![Language::Fr, Language::Nl, Language::En]);
        assert_eq!(seen.contact_phone.as_deref(), Some("+32 2 000 11 99"));
        assert_eq!(
            seen.arrival_advice.get(&Language::Nl).map(String::as_str),
            Some("Kom 45 minuten vooraf.")
        );
        assert_eq!(seen.what_to_bring.len(), 1);
        assert!(seen.accessibility.is_empty(), "emptied texts stay empty");
        assert_error(app.get(&haren, None).await, 401, "unauthenticated").await;

        // Rules of closed visits change; those of table visits stay as they were.
        let closed = json!({
            "visit_type": "closed", "min_notice_hours": 48, "max_days_ahead": 21,
            "max_visitors": 2, "max_adults": 2, "max_children": 1, "adult_from_age": 16,
            "auto_confirm": false, "cancel_cutoff_hours": 48,
        });
        let rules_path = format!("{haren}/rules");
        let detail: PrisonDetail = expect_json(put(&app, &rules_path, &coordinator, &closed).await, 200).await;
        let expected: VisitRules = serde_json::from_value(closed.clone()).expect("rules");
        assert_eq!(rules_of(&detail, VisitType::Closed), Some(&expected));
        let seen: PrisonDetail = expect_json(app.get(&haren, Some(&family)).await, 200).await;
        assert_eq!(rules_of(&seen, VisitType::Closed), Some(&expected));
        let table: VisitRules = serde_json::from_value(table_rules(true)).expect("rules");
        assert_eq!(rules_of(&seen, VisitType::Table), Some(&table));

        // A new visit type is offered, then no longer.
        let video = with(&table_rules(true), json!({ "visit_type": "video" }));
        let detail: PrisonDetail = expect_json(put(&app, &rules_path, &coordinator, &video).await, 200).await;
        assert!(rules_of(&detail, VisitType::Video).is_some());
        let video_path = format!("{rules_path}/video");
        expect_status(app.delete(&video_path, Some(&coordinator)).await, 204).await;
        let seen: PrisonDetail = expect_json(app.get(&haren, Some(&family)).await, 200).await;
        assert!(rules_of(&seen, VisitType::Video).is_none());
        assert_error(app.delete(&video_path, Some(&coordinator)).await, 404, "visit_rules_not_found").await;

        // Nonsense rules are refused with the field at fault, and change nothing.
        let mut missing = table_rules(true);
        missing.as_object_mut().expect("object").remove("auto_confirm");
        let cases = [
            (with(&table_rules(true), json!({ "max_adults": 4 })), "invalid_value", "max_adults"),
            (with(&table_rules(true), json!({ "min_notice_hours": -1 })), "invalid_value", "min_notice_hours"),
            (with(&table_rules(true), json!({ "max_days_ahead": 0 })), "invalid_value", "max_days_ahead"),
            (with(&table_rules(true), json!({ "max_visitors": 0 })), "invalid_value", "max_visitors"),
            (with(&table_rules(true), json!({ "max_children": 4 })), "invalid_value", "max_children"),
            (with(&table_rules(true), json!({ "adult_from_age": 30 })), "invalid_value", "adult_from_age"),
            (with(&table_rules(true), json!({ "cancel_cutoff_hours": -5 })), "invalid_value", "cancel_cutoff_hours"),
            (
                with(&table_rules(true), json!({ "min_notice_hours": 720, "max_days_ahead": 7 })),
                "invalid_value",
                "min_notice_hours",
            ),
            (with(&table_rules(true), json!({ "visit_type": "family_day" })), "invalid_value", "visit_type"),
            (with(&table_rules(true), json!({ "visit_type": "picnic" })), "invalid_value", "visit_type"),
            (with(&table_rules(true), json!({ "max_visitors": "three" })), "invalid_value", "max_visitors"),
            (with(&table_rules(true), json!({ "extra": 1 })), "unknown_field", "extra"),
            (missing, "missing_field", "auto_confirm"),
        ];
        for (body, code, field) in cases {
            let error = assert_error(put(&app, &rules_path, &coordinator, &body).await, 400, code).await;
            assert_eq!(error.field.as_deref(), Some(field), "{body}");
        }
        let seen: PrisonDetail = expect_json(app.get(&haren, Some(&family)).await, 200).await;
        assert_eq!(rules_of(&seen, VisitType::Table), Some(&table));
        assert_eq!(rules_of(&seen, VisitType::Closed), Some(&expected));

        // The same for the practical information.
        let long = "x".repeat(2001);
        let cases = [
            (with(&haren_info(), json!({ "name": " " })), "invalid_value", "name"),
            (with(&haren_info(), json!({ "address": "" })), "invalid_value", "address"),
            (with(&haren_info(), json!({ "languages": [] })), "invalid_value", "languages"),
            (with(&haren_info(), json!({ "languages": ["xx"] })), "invalid_value", "languages[0]"),
            (with(&haren_info(), json!({ "contact_email": "not an address" })), "invalid_email", "contact_email"),
            (with(&haren_info(), json!({ "arrival_advice": { "fr": long } })), "invalid_value", "arrival_advice"),
        ];
        for (body, code, field) in cases {
            let error = assert_error(put(&app, &haren, &coordinator, &body).await, 400, code).await;
            assert_eq!(error.field.as_deref(), Some(field), "{body}");
        }
        let after: PrisonDetail = expect_json(app.get(&haren, Some(&family)).await, 200).await;
        assert_eq!(after.address, seen.address);
        assert_eq!(after.languages, seen.languages);

        // Lantin is not this coordinator's; nor is any prison a family member's to change.
        let lantin = prison_path(demo.lantin);
        let lantin_rules = format!("{lantin}/rules");
        assert_error(put(&app, &lantin, &coordinator, &haren_info()).await, 403, "forbidden").await;
        assert_error(put(&app, &lantin_rules, &coordinator, &table_rules(false)).await, 403, "forbidden").await;
        assert_error(app.delete(&format!("{lantin_rules}/table"), Some(&coordinator)).await, 403, "forbidden").await;
        assert_error(put(&app, &haren, &family, &haren_info()).await, 403, "forbidden").await;
        assert_error(put(&app, &rules_path, &family, &table_rules(true)).await, 403, "forbidden").await;
        let admin = app.login_as(DemoUser::Admin).await;
        let detail: PrisonDetail =
            expect_json(put(&app, &lantin_rules, &admin, &table_rules(false)).await, 200).await;
        assert!(!rules_of(&detail, VisitType::Table).expect("table rules").auto_confirm);
        let nowhere = prison_path(Uuid::new_v4());
        assert_error(put(&app, &format!("{nowhere}/rules"), &admin, &table_rules(true)).await, 404, "prison_not_found").await;
        assert_error(app.get(&nowhere, Some(&family)).await, 404, "prison_not_found").await;
    }

    async fn session_templates_are_checked_and_kept_while_booked(app: TestApp) {
        let v = app.visits_demo().await;
        let haren = v.demo.haren;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let family = app.login_as(DemoUser::FamilyMember).await;
        let templates = format!("{}/session-templates", prison_path(haren));
        let listed: Vec<SessionTemplate> = expect_json(app.get(&templates, Some(&family)).await, 200).await;
        assert_eq!(listed.len(), 5, "the demo's Haren sessions: {listed:?}");

        let valid_from = today() - Duration::days(3);
        let body = json!({
            "weekday": 5, "starts_at": "10:00", "ends_at": "11:30", "every_weeks": 2,
            "valid_from": valid_from, "room": "Salle B",
            "capacities": [{ "visit_type": "table", "capacity": 6 }, { "visit_type": "closed", "capacity": 1 }],
        });
        let made: SessionTemplate = expect_json(app.post_json(&templates, Some(&coordinator), &body).await, 201).await;
        assert_eq!((made.weekday, made.every_weeks, made.room.as_str()), (5, 2, "Salle B"));
        assert_eq!(made.starts_at.format("%H:%M").to_string(), "10:00");
        assert_eq!((made.valid_from, made.valid_to, made.prison_id), (valid_from, None, haren));
        assert_eq!(made.capacities.len(), 2);
        let listed: Vec<SessionTemplate> = expect_json(app.get(&templates, Some(&family)).await, 200).await;
        assert!(listed.contains(&made), "{listed:?}");

        let cases = [
            (json!({ "weekday": 0 }), "invalid_value", "weekday"),
            (json!({ "weekday": 8 }), "invalid_value", "weekday"),
            (json!({ "ends_at": "09:00" }), "invalid_value", "ends_at"),
            (json!({ "ends_at": "10:00" }), "invalid_value", "ends_at"),
            (json!({ "every_weeks": 0 }), "invalid_value", "every_weeks"),
            (json!({ "every_weeks": 9 }), "invalid_value", "every_weeks"),
            (json!({ "valid_to": valid_from - Duration::days(1) }), "invalid_value", "valid_to"),
            (json!({ "capacities": [] }), "invalid_value", "capacities"),
            (json!({ "capacities": [{ "visit_type": "table", "capacity": -1 }] }), "invalid_value", "capacities[0].capacity"),
            (
                json!({ "capacities": [{ "visit_type": "table", "capacity": 1 }, { "visit_type": "table", "capacity": 2 }] }),
                "invalid_value",
                "capacities[1].visit_type",
            ),
            (json!({ "capacities": [{ "visit_type": "family_day", "capacity": 5 }] }), "invalid_value", "capacities[0].visit_type"),
            (json!({ "room": "  " }), "invalid_value", "room"),
            (json!({ "starts_at": "25:00" }), "invalid_value", "starts_at"),
            (json!({ "seats": 3 }), "unknown_field", "seats"),
        ];
        for (change, code, field) in cases {
            let body = with(&body, change);
            let error = assert_error(app.post_json(&templates, Some(&coordinator), &body).await, 400, code).await;
            assert_eq!(error.field.as_deref(), Some(field), "{body}");
        }
        let after: Vec<SessionTemplate> = expect_json(app.get(&templates, Some(&family)).await, 200).await;
        assert_eq!(after.len(), listed.len(), "a refused template was stored");

        // Lantin's sessions are not this coordinator's.
        let lantin_templates = format!("{}/session-templates", prison_path(v.demo.lantin));
        let lantin: Vec<SessionTemplate> = expect_json(app.get(&lantin_templates, Some(&coordinator)).await, 200).await;
        let lantin_one = format!("/api/v1/session-templates/{}", lantin[0].id);
        assert_error(app.post_json(&lantin_templates, Some(&coordinator), &body).await, 403, "forbidden").await;
        assert_error(put(&app, &lantin_one, &coordinator, &body).await, 403, "forbidden").await;
        assert_error(app.delete(&lantin_one, Some(&coordinator)).await, 403, "forbidden").await;
        assert_error(app.post_json(&templates, Some(&family), &body).await, 403, "forbidden").await;

        // A session with a booking can be neither deleted nor shrunk below it nor moved away.
        let booked = app.table_session(&coordinator, haren, Weekday::Fri, 5).await;
        let date = next_weekday(Weekday::Fri, 3);
        let visit = app
            .request_visit(
                &family,
                &request_body(v.a.id, v.a.detainee, "table", &[(booked.id, date)], &[v.a.member("Fatima Benali")]),
            )
            .await;
        let one = format!("/api/v1/session-templates/{}", booked.id);
        assert_error(app.delete(&one, Some(&coordinator)).await, 409, "template_has_bookings").await;
        let mut same = template_body(Weekday::Fri, "14:00", &[("table", 5)]);
        same["room"] = json!("Salle C");
        for change in [json!({ "capacities": [{ "visit_type": "table", "capacity": 0 }] }), json!({ "weekday": 4 })] {
            let body = with(&same, change);
            assert_error(put(&app, &one, &coordinator, &body).await, 409, "template_has_bookings").await;
        }
        let renamed: SessionTemplate = expect_json(put(&app, &one, &coordinator, &same).await, 200).await;
        assert_eq!(renamed.room, "Salle C");
        let visit = app.visit_request(&family, visit.id).await;
        assert_eq!(visit.slot.expect("a slot").room, "Salle C", "the visit follows its session");
        // Even cancelled, the visit keeps its session in its history.
        app.visit_action(&family, visit.id, "cancel", &json!({})).await;
        assert_error(app.delete(&one, Some(&coordinator)).await, 409, "template_has_bookings").await;

        // A session nobody asked for goes.
        let unused = format!("/api/v1/session-templates/{}", made.id);
        expect_status(app.delete(&unused, Some(&coordinator)).await, 204).await;
        let listed: Vec<SessionTemplate> = expect_json(app.get(&templates, Some(&family)).await, 200).await;
        assert!(listed.iter().all(|t| t.id != made.id));
        assert_error(app.delete(&unused, Some(&coordinator)).await, 404, "session_template_not_found").await;
    }

    async fn slots_show_open_places_blocks_and_the_booking_window(app: TestApp) {
        let v = app.visits_demo().await;
        let haren = v.demo.haren;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let family = app.login_as(DemoUser::FamilyMember).await;
        let template = app.table_session(&coordinator, haren, Weekday::Fri, 3).await;
        let d1 = next_weekday(Weekday::Fri, 3);
        app.request_visit(
            &family,
            &request_body(v.a.id, v.a.detainee, "table", &[(template.id, d1)], &[v.a.member("Fatima Benali")]),
        )
        .await;

        let to = d1 + Duration::days(35);
        let all = app.slots(&family, haren, d1, to).await;
        let ours: Vec<&Slot> = all.iter().filter(|s| s.template_id == template.id).collect();
        let dates: Vec<NaiveDate> = ours.iter().map(|s| s.date).collect();
        assert_eq!(dates, (0..6).map(|w| d1 + Duration::weeks(w)).collect::<Vec<_>>());
        assert_eq!((ours[0].capacity, ours[0].booked, ours[0].open), (3, 1, 2));
        assert_eq!((ours[1].booked, ours[1].open), (0, 3));
        for slot in &ours {
            assert_eq!(slot.starts_at.format("%H:%M").to_string(), "14:00", "{slot:?}");
            assert_eq!(slot.ends_at.format("%H:%M").to_string(), "15:30", "{slot:?}");
            let within = slot.date <= today() + Duration::days(28);
            assert_eq!(slot.bookable, within, "28 days ahead at most: {slot:?}");
            assert!(!slot.blocked);
        }
        assert!(all.windows(2).all(|w| w[0].starts_at <= w[1].starts_at), "slots in time order");
        // Today's (or a past) session can no longer be asked for.
        let now_template = app.table_session(&coordinator, haren, today().weekday(), 3).await;
        let soon = app.slot(&family, haren, now_template.id, today(), VisitType::Table).await;
        assert!(!soon.bookable, "under 24 h notice: {soon:?}");

        // Only one type.
        let path = format!("{}/slots?from={d1}&to={to}&type=closed", prison_path(haren));
        let closed: Vec<Slot> = expect_json(app.get(&path, Some(&family)).await, 200).await;
        assert!(!closed.is_empty() && closed.iter().all(|s| s.visit_type == VisitType::Closed));

        // A whole day blocked, and one session of another day.
        let blocked_path = format!("{}/blocked-dates", prison_path(haren));
        let d2 = d1 + Duration::weeks(1);
        let d3 = d1 + Duration::weeks(2);
        let day: BlockedDate = expect_json(
            app.post_json(&blocked_path, Some(&coordinator), &json!({ "date": d2, "reason": "Staff training" })).await,
            201,
        )
        .await;
        let other = app.table_session(&coordinator, haren, Weekday::Fri, 3).await;
        let session: BlockedDate = expect_json(
            app.post_json(
                &blocked_path,
                Some(&coordinator),
                &json!({ "date": d3, "template_id": template.id, "reason": "Room repainted" }),
            )
            .await,
            201,
        )
        .await;
        assert!(day.flagged_requests.is_empty() && day.template_id.is_none());
        assert_eq!((session.date, session.template_id), (d3, Some(template.id)));
        let slots = app.slots(&family, haren, d2, d3).await;
        for slot in &slots {
            let blocked = slot.date == d2 || slot.template_id == template.id;
            assert_eq!(slot.blocked, blocked, "{slot:?}");
            assert_eq!(slot.bookable, !blocked, "{slot:?}");
        }
        assert!(slots.iter().any(|s| s.template_id == other.id && s.date == d3 && s.bookable));
        let listed: Vec<BlockedDate> = expect_json(app.get(&blocked_path, Some(&coordinator)).await, 200).await;
        assert_eq!(listed.iter().map(|b| b.date).collect::<Vec<_>>(), vec![d2, d3]);
        expect_status(app.delete(&format!("/api/v1/blocked-dates/{}", day.id), Some(&coordinator)).await, 204).await;
        let slot = app.slot(&family, haren, template.id, d2, VisitType::Table).await;
        assert!(slot.bookable && !slot.blocked, "unblocked: {slot:?}");
        assert_error(
            app.delete(&format!("/api/v1/blocked-dates/{}", day.id), Some(&coordinator)).await,
            404,
            "blocked_date_not_found",
        )
        .await;
        assert_error(app.get(&blocked_path, Some(&family)).await, 403, "forbidden").await;

        // Blocks that make no sense.
        let lantin_templates: Vec<SessionTemplate> = expect_json(
            app.get(&format!("{}/session-templates", prison_path(v.demo.lantin)), Some(&coordinator)).await,
            200,
        )
        .await;
        let cases = [
            (json!({ "date": today() - Duration::days(2), "reason": "Too late" }), "date_in_past", "date"),
            (json!({ "date": d2, "template_id": lantin_templates[0].id, "reason": "Wrong" }), "no_such_session", "template_id"),
            (json!({ "date": d2, "reason": " " }), "invalid_value", "reason"),
        ];
        for (body, code, field) in cases {
            let error = assert_error(app.post_json(&blocked_path, Some(&coordinator), &body).await, 400, code).await;
            assert_eq!(error.field.as_deref(), Some(field), "{body}");
        }

        // Ranges: 92 days at most, and in order.
        let from = today();
        let slots_path = |to: NaiveDate| format!("{}/slots?from={from}&to={to}", prison_path(haren));
        expect_status(app.get(&slots_path(from + Duration::days(91)), Some(&family)).await, 200).await;
        for to in [from + Duration::days(92), from + Duration::days(400), from - Duration::days(1)] {
            let error = assert_error(app.get(&slots_path(to), Some(&family)).await, 400, "invalid_range").await;
            assert_eq!(error.field.as_deref(), Some("to"));
        }
        let default: Vec<Slot> =
            expect_json(app.get(&format!("{}/slots", prison_path(haren)), Some(&family)).await, 200).await;
        assert!(default.iter().all(|s| s.date >= today() - Duration::days(1) && s.date <= today() + Duration::days(28)));
        assert_error(
            app.get(&format!("{}/slots", prison_path(Uuid::new_v4())), Some(&family)).await,
            404,
            "prison_not_found",
        )
        .await;
        assert_error(app.get(&format!("{}/slots?from=tomorrow", prison_path(haren)), Some(&family)).await, 400, "invalid_query").await;
    }

    async fn slots_keep_local_time_across_dst(app: TestApp) {
        let demo = app.demo_data().await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let family = app.login_as(DemoUser::FamilyMember).await;
        let templates = format!("{}/session-templates", prison_path(demo.haren));
        let sunday = |start: &str, end: &str| json!({
            "weekday": 7, "starts_at": start, "ends_at": end, "valid_from": "2026-03-01",
            "room": format!("DST {start}"), "capacities": [{ "visit_type": "table", "capacity": 4 }],
        });
        let afternoon: SessionTemplate =
            expect_json(app.post_json(&templates, Some(&coordinator), &sunday("14:00", "15:30")).await, 201).await;
        let night: SessionTemplate =
            expect_json(app.post_json(&templates, Some(&coordinator), &sunday("02:30", "04:00")).await, 201).await;

        let raw = |from: &str, to: &str| {
            let path = format!("{}/slots?from={from}&to={to}&type=table", prison_path(demo.haren));
            let app = &app;
            let family = family.clone();
            async move {
                let slots: Vec<Value> = expect_json(app.get(&path, Some(&family)).await, 200).await;
                slots
            }
        };
        let of = |slots: &[Value], template: Uuid| -> Vec<(String, String, String, bool)> {
            slots
                .iter()
                .filter(|s| s["template_id"] == json!(template))
                .map(|s| {
                    (
                        s["date"].as_str().unwrap_or_default().to_owned(),
                        s["starts_at"].as_str().unwrap_or_default().to_owned(),
                        s["ends_at"].as_str().unwrap_or_default().to_owned(),
                        s["bookable"].as_bool().unwrap_or(true),
                    )
                })
                .collect()
        };

        // Summer time starts on Sunday 28 March 2027.
        let spring = raw("2027-03-21", "2027-04-04").await;
        let starts: Vec<_> = of(&spring, afternoon.id);
        let expected = [
            ("2027-03-21", "2027-03-21T14:00:00+01:00", "2027-03-21T15:30:00+01:00"),
            ("2027-03-28", "2027-03-28T14:00:00+02:00", "2027-03-28T15:30:00+02:00"),
            ("2027-04-04", "2027-04-04T14:00:00+02:00", "2027-04-04T15:30:00+02:00"),
        ];
        assert_eq!(starts.len(), 3, "{spring:?}");
        for ((date, start, end, bookable), (d, s, e)) in starts.iter().zip(expected) {
            assert_eq!((date.as_str(), start.as_str(), end.as_str()), (d, s, e));
            assert!(!bookable, "far beyond the booking window");
        }
        // 02:30 does not exist that night: the session starts at the first minute after the gap.
        let nights = of(&spring, night.id);
        assert_eq!(nights[1].1, "2027-03-28T03:30:00+02:00", "{nights:?}");
        assert_eq!(nights[1].2, "2027-03-28T04:00:00+02:00", "{nights:?}");

        // And ends on Sunday 31 October 2027.
        let autumn = raw("2027-10-24", "2027-11-07").await;
        let starts: Vec<String> = of(&autumn, afternoon.id).into_iter().map(|s| s.1).collect();
        assert_eq!(
            starts,
            vec!["2027-10-24T14:00:00+02:00", "2027-10-31T14:00:00+01:00", "2027-11-07T14:00:00+01:00"]
        );
        // 02:30 happens twice that night; the session is the first of them.
        let nights = of(&autumn, night.id);
        assert_eq!(nights[1].1, "2027-10-31T02:30:00+02:00", "{nights:?}");
    }
}
