//! The waiting list of full slots: who may join, the place held for the first family when one
//! frees, accepting it, passing it on when declined or expired.

use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc, Weekday};
use reguide_tests::protocol::visits::{
    VisitRequest, VisitStatus, VisitType, WaitlistEntry, WaitlistStatus,
};
use reguide_tests::visits::{REQUESTS, VisitingFamily, WAITLIST, next_weekday, waitlist_body};
use reguide_tests::{DemoUser, TestApp, assert_error, both_backends, expect_json, expect_status};
use serde_json::json;
use uuid::Uuid;

async fn join(
    app: &TestApp,
    token: &str,
    family: &VisitingFamily,
    template: Uuid,
    date: chrono::NaiveDate,
) -> WaitlistEntry {
    let body = waitlist_body(
        family.id,
        family.detainee,
        template,
        date,
        &[family.visitor()],
    );
    expect_json(app.post_json(WAITLIST, Some(token), &body).await, 201).await
}

async fn cancel(app: &TestApp, token: &str, visit: Uuid) -> VisitRequest {
    app.visit_action(
        token,
        visit,
        "cancel",
        &json!({ "reason": "Family cannot come" }),
    )
    .await
}

both_backends! {
    async fn a_freed_place_goes_to_the_first_family_waiting(app: TestApp) {
        let mut app = app;
        let v = app.visits_demo().await;
        let haren = v.demo.haren;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let fatima = app.login_as(DemoUser::FamilyMember).await;
        let t = app.table_session(&coordinator, haren, Weekday::Fri, 2).await;
        let d = next_weekday(Weekday::Fri, 3);
        let families = app.new_visiting_families(&admin, haren, "Waiting family", 7, 7).await;
        let [x, y, z, w, u, q, late] = <[VisitingFamily; 7]>::try_from(families).expect("seven families");
        let mut a = v.a.clone();
        a.members.retain(|name, _| name == "Fatima Benali");

        let vx = app.request_visit(&admin, &x.table_request(t.id, d)).await;
        assert_eq!(vx.status, VisitStatus::Confirmed);
        let body = waitlist_body(a.id, a.detainee, t.id, d, &[a.visitor()]);
        assert_error(app.post_json(WAITLIST, Some(&fatima), &body).await, 409, "slot_not_full").await;
        let vy = app.request_visit(&admin, &y.table_request(t.id, d)).await;
        assert_eq!(vy.status, VisitStatus::Confirmed);
        assert_eq!(app.slot(&fatima, haren, t.id, d, VisitType::Table).await.open, 0);

        // Three families wait, in order.
        let ea = join(&app, &fatima, &a, t.id, d).await;
        assert_eq!((ea.status, ea.position, ea.family_id), (WaitlistStatus::Waiting, Some(1), a.id));
        assert_eq!((ea.slot.template_id, ea.slot.date, ea.visitors.clone()), (t.id, d, vec![a.visitor()]));
        let ez = join(&app, &admin, &z, t.id, d).await;
        let ew = join(&app, &admin, &w, t.id, d).await;
        assert_eq!((ez.position, ew.position), (Some(2), Some(3)));
        assert_error(app.post_json(WAITLIST, Some(&fatima), &body).await, 409, "already_waiting").await;
        // A family that already has this visit does not wait for it a second time.
        let again = waitlist_body(x.id, x.detainee, t.id, d, &[x.visitor()]);
        assert_error(app.post_json(WAITLIST, Some(&admin), &again).await, 409, "duplicate_request").await;
        // The rules of requests hold on the list too.
        let bad = waitlist_body(a.id, a.detainee, t.id, d, &[v.a.member("Salma Benali")]);
        assert_error(app.post_json(WAITLIST, Some(&fatima), &bad).await, 400, "child_without_adult").await;
        let listed: Vec<WaitlistEntry> =
            expect_json(app.get(&format!("{WAITLIST}?family_id={}", a.id), Some(&fatima)).await, 200).await;
        assert_eq!(listed.iter().map(|e| e.id).collect::<Vec<_>>(), vec![ea.id]);
        let queue: Vec<WaitlistEntry> =
            expect_json(app.get(&format!("{WAITLIST}?prison_id={haren}"), Some(&coordinator)).await, 200).await;
        assert_eq!(queue.iter().map(|e| e.id).collect::<Vec<_>>(), vec![ea.id, ez.id, ew.id]);
        assert_error(app.get(&format!("{WAITLIST}?prison_id={haren}"), Some(&fatima)).await, 403, "forbidden").await;
        assert_error(app.get(WAITLIST, Some(&coordinator)).await, 400, "invalid_query").await;

        // X cancels: the place is held for A, not open to anyone else.
        cancel(&app, &admin, vx.id).await;
        let ea = app.waitlist_entry(&fatima, ea.id).await;
        assert_eq!((ea.status, ea.position), (WaitlistStatus::Offered, None));
        let expires = ea.offer_expires_at.expect("an offer has an end");
        let hold = expires - Utc::now();
        assert!(hold > Duration::hours(23) && hold <= Duration::hours(24), "held for a day: {hold}");
        let slot = app.slot(&fatima, haren, t.id, d, VisitType::Table).await;
        assert_eq!((slot.booked, slot.open), (2, 0), "the place is held");
        assert_eq!(app.waitlist_entry(&admin, ez.id).await.position, Some(1));
        let pushy = app.request_visit(&admin, &late.table_request(t.id, d)).await;
        assert_eq!(pushy.status, VisitStatus::Pending, "the held place is not for the next request");

        // A takes it.
        let visit: VisitRequest = expect_json(app.post_empty(&format!("{WAITLIST}/{}/accept", ea.id), Some(&fatima)).await, 200).await;
        assert_eq!(visit.status, VisitStatus::Confirmed);
        assert_eq!(visit.slot.as_ref().map(|s| (s.template_id, s.date)), Some((t.id, d)));
        assert_eq!((visit.family_id, visit.visitors.clone()), (a.id, vec![a.visitor()]));
        assert_eq!(visit.events.len(), 1);
        assert_eq!(visit.events[0].kind, "waitlist_offer_accepted");
        assert_eq!(visit.events[0].actor_account_id, Some(v.demo.account(DemoUser::FamilyMember)));
        let ea = app.waitlist_entry(&fatima, ea.id).await;
        assert_eq!((ea.status, ea.request_id), (WaitlistStatus::Accepted, Some(visit.id)));
        assert_eq!(app.slot(&fatima, haren, t.id, d, VisitType::Table).await.booked, 2);
        assert!(app.visit_requests(&fatima, a.id).await.iter().any(|r| r.id == visit.id));
        assert_error(app.post_empty(&format!("{WAITLIST}/{}/accept", ea.id), Some(&fatima)).await, 409, "no_offer").await;
        assert_error(app.delete(&format!("{WAITLIST}/{}", ea.id), Some(&fatima)).await, 409, "invalid_status").await;

        // Y cancels: Z is offered the place, turns it down, and W gets it.
        cancel(&app, &admin, vy.id).await;
        assert_eq!(app.waitlist_entry(&admin, ez.id).await.status, WaitlistStatus::Offered);
        let eu = join(&app, &admin, &u, t.id, d).await;
        assert_eq!(eu.position, Some(2), "behind W");
        expect_status(app.delete(&format!("{WAITLIST}/{}", ez.id), Some(&admin)).await, 204).await;
        assert_eq!(app.waitlist_entry(&admin, ez.id).await.status, WaitlistStatus::Declined);
        let ew = app.waitlist_entry(&admin, ew.id).await;
        assert_eq!(ew.status, WaitlistStatus::Offered);
        assert_eq!(app.waitlist_entry(&admin, eu.id).await.position, Some(1));
        assert_eq!(app.slot(&fatima, haren, t.id, d, VisitType::Table).await.booked, 2);

        // W lets the offer run out: the next write on the list passes the place to U, and W can
        // no longer take it.
        let expire = |entry: Uuid| {
            format!("UPDATE visit_waitlist SET offer_expires_at = '2020-01-01 00:00:00' WHERE id = '{entry}'")
        };
        assert_eq!(app.execute_sql(&expire(ew.id)), 1);
        let eq = join(&app, &admin, &q, t.id, d).await;
        assert_eq!(app.waitlist_entry(&admin, ew.id).await.status, WaitlistStatus::Expired);
        assert_eq!(app.waitlist_entry(&admin, eu.id).await.status, WaitlistStatus::Offered, "the next family gets the place");
        assert_eq!(eq.position, Some(1));
        assert_error(app.post_empty(&format!("{WAITLIST}/{}/accept", ew.id), Some(&admin)).await, 409, "no_offer").await;
        assert_eq!(app.slot(&fatima, haren, t.id, d, VisitType::Table).await.booked, 2);

        // Offers also run out when nobody writes: the server's periodic sweep (run at start).
        assert_eq!(app.execute_sql(&expire(eu.id)), 1);
        app.restart().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let started = Instant::now();
        while app.waitlist_entry(&admin, eu.id).await.status == WaitlistStatus::Offered {
            assert!(started.elapsed() < StdDuration::from_secs(10), "the expired offer was never swept");
            tokio::time::sleep(StdDuration::from_millis(100)).await;
        }
        assert_eq!(app.waitlist_entry(&admin, eu.id).await.status, WaitlistStatus::Expired);
        assert_eq!(app.waitlist_entry(&admin, eq.id).await.status, WaitlistStatus::Offered);
        assert_eq!(app.slot(&fatima, haren, t.id, d, VisitType::Table).await.booked, 2);

        // Q declines; nobody waits any more, so the place opens.
        expect_status(app.delete(&format!("{WAITLIST}/{}", eq.id), Some(&admin)).await, 204).await;
        let slot = app.slot(&fatima, haren, t.id, d, VisitType::Table).await;
        assert_eq!((slot.booked, slot.open), (1, 1));
        let pending: Vec<VisitRequest> = expect_json(
            app.get(&format!("{REQUESTS}?family_id={}", late.id), Some(&admin)).await,
            200,
        )
        .await;
        assert_eq!(pending[0].status, VisitStatus::Pending, "a pending request is not confirmed by a freed place");
    }

    async fn leaving_the_waiting_list_keeps_the_order(app: TestApp) {
        let v = app.visits_demo().await;
        let haren = v.demo.haren;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let t = app.table_session(&coordinator, haren, Weekday::Sat, 1).await;
        let d = next_weekday(Weekday::Sat, 3);
        let families = app.new_visiting_families(&admin, haren, "Queue family", 4, 4).await;
        app.request_visit(&admin, &families[0].table_request(t.id, d)).await;
        let mut entries = Vec::new();
        for family in &families[1..] {
            entries.push(join(&app, &admin, family, t.id, d).await);
        }
        assert_eq!(entries.iter().map(|e| e.position).collect::<Vec<_>>(), vec![Some(1), Some(2), Some(3)]);
        expect_status(app.delete(&format!("{WAITLIST}/{}", entries[0].id), Some(&coordinator)).await, 204).await;
        let first = app.waitlist_entry(&admin, entries[0].id).await;
        assert_eq!((first.status, first.position), (WaitlistStatus::Cancelled, None));
        assert_eq!(app.waitlist_entry(&admin, entries[1].id).await.position, Some(1));
        assert_eq!(app.waitlist_entry(&admin, entries[2].id).await.position, Some(2));
        // Someone else's entry is not there at all.
        let fatima = app.login_as(DemoUser::FamilyMember).await;
        assert_error(app.get(&format!("{WAITLIST}/{}", entries[1].id), Some(&fatima)).await, 404, "waitlist_entry_not_found").await;
        assert_error(app.delete(&format!("{WAITLIST}/{}", entries[1].id), Some(&fatima)).await, 404, "waitlist_entry_not_found").await;
        assert_error(app.get(&format!("{WAITLIST}/{}", Uuid::new_v4()), Some(&admin)).await, 404, "waitlist_entry_not_found").await;
    }
}
