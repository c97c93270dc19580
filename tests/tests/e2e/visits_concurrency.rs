//! No overbooking: many families asking for the last places at once, coordinators confirming at
//! once, and the same change sent several times at once, on both backends.

use std::time::Instant;

use chrono::{Duration, Weekday};
use reguide_tests::protocol::visits::{
    SessionTemplate, VisitRequest, VisitStatus, VisitType, WaitlistEntry,
};
use reguide_tests::visits::{
    Fired, REQUESTS, WAITLIST, choice, next_weekday, request_body, template_body, waitlist_body,
};
use reguide_tests::{DemoUser, TestApp, both_backends, expect_json};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

/// How many answers had each status, and the error codes of the refusals.
fn tally(fired: &[Fired]) -> (Vec<u16>, Vec<String>) {
    let mut statuses: Vec<u16> = fired.iter().map(|f| f.status).collect();
    statuses.sort_unstable();
    let mut codes: Vec<String> = fired
        .iter()
        .filter_map(|f| f.code().map(str::to_owned))
        .collect();
    codes.sort();
    codes.dedup();
    (statuses, codes)
}

fn count(fired: &[Fired], status: u16) -> usize {
    fired.iter().filter(|f| f.status == status).count()
}

fn same_call(
    n: usize,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Vec<(Method, String, Option<String>, Option<Value>)> {
    (0..n)
        .map(|_| {
            (
                method.clone(),
                path.to_owned(),
                Some(token.to_owned()),
                body.clone(),
            )
        })
        .collect()
}

both_backends! {
    async fn two_hundred_families_ask_for_ten_places_at_once(app: TestApp) {
        let demo = app.demo_data().await;
        let haren = demo.haren;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let t = app.table_session(&coordinator, haren, Weekday::Fri, 10).await;
        let d = next_weekday(Weekday::Fri, 3);

        let started = Instant::now();
        let families = app.new_visiting_families(&admin, haren, "Crowd family", 200, 25).await;
        eprintln!("{:?}: 200 families made in {:?}", app.backend, started.elapsed());

        let started = Instant::now();
        let calls = families
            .iter()
            .map(|f| (Method::POST, REQUESTS.to_owned(), Some(admin.clone()), Some(f.table_request(t.id, d))))
            .collect();
        let fired = app.fire(calls).await;
        eprintln!("{:?}: 200 requests answered in {:?}", app.backend, started.elapsed());
        assert_eq!(count(&fired, 201), 200, "every request is taken: {:?}", tally(&fired));
        let status = |f: &Fired| f.body["status"].as_str().unwrap_or_default().to_owned();
        let confirmed: Vec<&Fired> = fired.iter().filter(|f| status(f) == "confirmed").collect();
        let pending = fired.iter().filter(|f| status(f) == "pending").count();
        assert_eq!((confirmed.len(), pending), (10, 190));
        assert!(confirmed.iter().all(|f| f.body["slot"]["template_id"] == json!(t.id)));
        let slot = app.slot(&admin, haren, t.id, d, VisitType::Table).await;
        assert_eq!((slot.capacity, slot.booked, slot.open), (10, 10, 0));
        let listed: Vec<VisitRequest> = expect_json(
            app.get(&format!("{REQUESTS}?prison_id={haren}&status=confirmed"), Some(&coordinator)).await,
            200,
        )
        .await;
        let in_slot = listed.iter().filter(|r| r.slot.as_ref().is_some_and(|s| s.template_id == t.id)).count();
        assert_eq!(in_slot, 10, "confirmed visits stored in the slot");

        // Five more places; fifty coordinators' confirmations of waiting requests at once.
        let mut bigger = template_body(Weekday::Fri, "14:00", &[("table", 15)]);
        bigger["room"] = json!(t.room);
        bigger["valid_from"] = json!(t.valid_from);
        let path = format!("/api/v1/session-templates/{}", t.id);
        let resized: SessionTemplate =
            expect_json(app.request(Method::PUT, &path, Some(&coordinator), Some(&bigger)).await, 200).await;
        assert_eq!(resized.capacities[0].capacity, 15);
        assert_eq!(app.slot(&admin, haren, t.id, d, VisitType::Table).await.open, 5);
        let waiting: Vec<Uuid> = fired
            .iter()
            .filter(|f| status(f) == "pending")
            .take(50)
            .map(|f| f.body["id"].as_str().expect("id").parse().expect("uuid"))
            .collect();
        let calls = waiting
            .iter()
            .map(|id| {
                let path = format!("{REQUESTS}/{id}/decision");
                (Method::POST, path, Some(coordinator.clone()), Some(json!({ "action": "confirm", "rank": 1 })))
            })
            .collect();
        let fired = app.fire(calls).await;
        assert_eq!((count(&fired, 200), count(&fired, 409)), (5, 45), "{:?}", tally(&fired));
        assert!(fired.iter().filter(|f| f.status == 409).all(|f| f.code() == Some("slot_full")));
        let slot = app.slot(&admin, haren, t.id, d, VisitType::Table).await;
        assert_eq!((slot.capacity, slot.booked, slot.open), (15, 15, 0));
        let listed: Vec<VisitRequest> = expect_json(
            app.get(&format!("{REQUESTS}?prison_id={haren}&status=confirmed"), Some(&coordinator)).await,
            200,
        )
        .await;
        assert_eq!(listed.iter().filter(|r| r.slot.as_ref().is_some_and(|s| s.template_id == t.id)).count(), 15);
    }

    async fn the_same_change_sent_ten_times_happens_once(app: TestApp) {
        let v = app.visits_demo().await;
        let (haren, brugge) = (v.demo.haren, v.demo.brugge);
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let fatima = app.login_as(DemoUser::FamilyMember).await;
        let t = app.table_session(&coordinator, haren, Weekday::Fri, 3).await;
        let d = next_weekday(Weekday::Fri, 3);
        let booked = |template: Uuid, date| {
            let app = &app;
            let admin = admin.clone();
            let prison = if template == t.id { haren } else { brugge };
            async move { app.slot(&admin, prison, template, date, VisitType::Table).await.booked }
        };
        let others = app.new_visiting_families(&admin, haren, "Neighbour", 2, 2).await;

        // One family sends the same request ten times: one is taken.
        let body = request_body(v.a.id, v.a.detainee, "table", &[(t.id, d)], &[v.a.member("Fatima Benali")]);
        let fired = app.fire(same_call(10, Method::POST, REQUESTS, &fatima, Some(body))).await;
        assert_eq!((count(&fired, 201), count(&fired, 409)), (1, 9), "{:?}", tally(&fired));
        assert!(fired.iter().filter(|f| f.status == 409).all(|f| f.code() == Some("duplicate_request")));
        assert_eq!(app.visit_requests(&admin, v.a.id).await.iter().filter(|r| r.status.is_active()).count(), 2, "the demo visit and one more");
        assert_eq!(booked(t.id, d).await, 1);
        let visit: Uuid = fired.iter().find(|f| f.status == 201).expect("created").body["id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("uuid");

        // Two neighbours fill the slot; the same cancellation ten times frees one place only.
        for family in &others {
            app.request_visit(&admin, &family.table_request(t.id, d)).await;
        }
        assert_eq!(booked(t.id, d).await, 3);
        let path = format!("{REQUESTS}/{visit}/cancel");
        let fired = app.fire(same_call(10, Method::POST, &path, &coordinator, Some(json!({ "reason": "Transfer" })))).await;
        assert_eq!((count(&fired, 200), count(&fired, 409)), (1, 9), "{:?}", tally(&fired));
        assert_eq!(booked(t.id, d).await, 2, "one visit cancelled, one place freed");

        // The same confirmation ten times takes one place.
        let bt = app.table_session(&coordinator, brugge, Weekday::Fri, 3).await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let els = v.b.member("Els Janssens");
        let pending = app.request_visit(&social, &request_body(v.b.id, v.b.detainee, "table", &[(bt.id, d)], &[els])).await;
        let path = format!("{REQUESTS}/{}/decision", pending.id);
        let fired = app.fire(same_call(10, Method::POST, &path, &coordinator, Some(json!({ "action": "confirm", "rank": 1 })))).await;
        assert_eq!((count(&fired, 200), count(&fired, 409)), (1, 9), "{:?}", tally(&fired));
        assert_eq!(booked(bt.id, d).await, 1);

        // The same proposal withdrawn ten times gives one place back.
        let later = d + Duration::weeks(2);
        let neighbour = &app.new_visiting_families(&admin, brugge, "Brugge neighbour", 1, 1).await[0];
        let theirs = app.request_visit(&admin, &neighbour.table_request(bt.id, later)).await;
        app.visit_action(&coordinator, theirs.id, "decision", &json!({ "action": "confirm", "rank": 1 })).await;
        let second = app.request_visit(&social, &request_body(v.b.id, v.b.detainee, "table", &[(bt.id, d + Duration::weeks(1))], &[els])).await;
        app.visit_action(&coordinator, second.id, "decision", &json!({ "action": "propose", "slot": choice(bt.id, later) })).await;
        assert_eq!(booked(bt.id, later).await, 2);
        let path = format!("{REQUESTS}/{}/withdraw", second.id);
        let fired = app.fire(same_call(10, Method::POST, &path, &social, None)).await;
        assert_eq!((count(&fired, 200), count(&fired, 409)), (1, 9), "{:?}", tally(&fired));
        assert_eq!(booked(bt.id, later).await, 1, "the neighbour's visit keeps its place");

        // One visit moved to five sessions at once ends in one of them, holding one place.
        let targets: Vec<Uuid> = {
            let mut ids = Vec::new();
            for _ in 0..5 {
                ids.push(app.table_session(&coordinator, brugge, Weekday::Sat, 3).await.id);
            }
            ids
        };
        let s = next_weekday(Weekday::Sat, 3);
        let calls = targets
            .iter()
            .map(|target| {
                let path = format!("{REQUESTS}/{}/amend", pending.id);
                (Method::POST, path, Some(coordinator.clone()), Some(json!({ "slot": choice(*target, s), "reason": "Moved" })))
            })
            .collect();
        let fired = app.fire(calls).await;
        assert!(count(&fired, 200) >= 1, "{:?}", tally(&fired));
        let moved = app.visit_request(&admin, pending.id).await;
        let slot = moved.slot.expect("still booked");
        let mut held = 0;
        for target in &targets {
            let n = app.slot(&admin, brugge, *target, s, VisitType::Table).await.booked;
            assert_eq!(n, i32::from(*target == slot.template_id), "session {target}");
            held += n;
        }
        assert_eq!(held, 1);
        assert_eq!(booked(bt.id, d).await, 0, "the old place is free");

        // The same offer accepted ten times makes one visit.
        let w = app.table_session(&coordinator, haren, Weekday::Sat, 1).await;
        let crowd = app.new_visiting_families(&admin, haren, "Sat family", 2, 2).await;
        let first = app.request_visit(&admin, &crowd[0].table_request(w.id, s)).await;
        let entry: WaitlistEntry = expect_json(
            app.post_json(WAITLIST, Some(&admin), &waitlist_body(crowd[1].id, crowd[1].detainee, w.id, s, &[crowd[1].visitor()])).await,
            201,
        )
        .await;
        app.visit_action(&admin, first.id, "cancel", &json!({ "reason": "Ill" })).await;
        let path = format!("{WAITLIST}/{}/accept", entry.id);
        let fired = app.fire(same_call(10, Method::POST, &path, &admin, None)).await;
        assert_eq!((count(&fired, 200), count(&fired, 409)), (1, 9), "{:?}", tally(&fired));
        let visits = app.visit_requests(&admin, crowd[1].id).await;
        assert_eq!(visits.iter().filter(|r| r.status == VisitStatus::Confirmed).count(), 1, "{visits:?}");
        assert_eq!(app.slot(&admin, haren, w.id, s, VisitType::Table).await.booked, 1);
    }

    async fn the_waiting_list_holds_under_concurrent_joins(app: TestApp) {
        let demo = app.demo_data().await;
        let haren = demo.haren;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let t = app.table_session(&coordinator, haren, Weekday::Fri, 2).await;
        let d = next_weekday(Weekday::Fri, 3);
        let mut families = app.new_visiting_families(&admin, haren, "Offer family", 15, 15).await;
        let eager = families.pop().expect("a family");
        let (holders, rest) = families.split_at(2);
        let (waiting, joiners) = rest.split_at(2);
        let mut visits = Vec::new();
        for family in holders {
            visits.push(app.request_visit(&admin, &family.table_request(t.id, d)).await);
        }
        let mut entries = Vec::new();
        for family in waiting {
            let body = waitlist_body(family.id, family.detainee, t.id, d, &[family.visitor()]);
            entries.push(expect_json::<WaitlistEntry>(app.post_json(WAITLIST, Some(&admin), &body).await, 201).await);
        }
        app.visit_action(&admin, visits[0].id, "cancel", &json!({ "reason": "Ill" })).await;
        assert_eq!(app.waitlist_entry(&admin, entries[0].id).await.status, reguide_tests::protocol::visits::WaitlistStatus::Offered);
        app.execute_sql(&format!(
            "UPDATE visit_waitlist SET offer_expires_at = '2020-01-01 00:00:00' WHERE id = '{}'",
            entries[0].id
        ));

        // Ten families join at once; each join first passes expired offers on.
        let calls = joiners
            .iter()
            .map(|f| {
                let body = waitlist_body(f.id, f.detainee, t.id, d, &[f.visitor()]);
                (Method::POST, WAITLIST.to_owned(), Some(admin.clone()), Some(body))
            })
            .collect();
        let fired = app.fire(calls).await;
        assert_eq!(count(&fired, 201), 10, "the slot stays full: {:?}", tally(&fired));
        use reguide_tests::protocol::visits::WaitlistStatus;
        assert_eq!(app.waitlist_entry(&admin, entries[0].id).await.status, WaitlistStatus::Expired);
        assert_eq!(app.waitlist_entry(&admin, entries[1].id).await.status, WaitlistStatus::Offered);
        let slot = app.slot(&admin, haren, t.id, d, VisitType::Table).await;
        assert_eq!((slot.booked, slot.open), (2, 0), "one confirmed visit and one held place");
        let open: Vec<WaitlistEntry> =
            expect_json(app.get(&format!("{WAITLIST}?prison_id={haren}"), Some(&coordinator)).await, 200).await;
        let offered: Vec<_> = open.iter().filter(|e| e.status == WaitlistStatus::Offered).map(|e| e.id).collect();
        assert_eq!(offered, vec![entries[1].id], "one place, one offer");
        assert_eq!(open.len(), 11, "the second family and the ten who joined");

        // One family joining ten times at once is on the list once.
        let body = waitlist_body(eager.id, eager.detainee, t.id, d, &[eager.visitor()]);
        let fired = app.fire(same_call(10, Method::POST, WAITLIST, &admin, Some(body))).await;
        assert_eq!((count(&fired, 201), count(&fired, 409)), (1, 9), "{:?}", tally(&fired));
        assert!(fired.iter().filter(|f| f.status == 409).all(|f| f.code() == Some("already_waiting")));
    }
}
