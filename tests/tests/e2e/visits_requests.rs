//! Visit requests: automatic confirmation on the first free preference, a coordinator's
//! decisions (confirm a rank, decline, propose), the family's answers, withdrawal,
//! cancellation around the cut-off, amendments that keep the reference, and the history; on
//! the visitor lists, another family's member is as unknown as an id that names nobody.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use reguide_tests::protocol::visits::{
    Channel, DeclineReason, SessionTemplate, SupportNeed, VisitRequest, VisitStatus, VisitType,
};
use reguide_tests::protocol::{AccountId, MemberId, PrisonId};
use reguide_tests::visits::{
    REQUESTS, choice, next_weekday, request_body, table_rules, template_body, today, with,
};
use reguide_tests::{DemoUser, TestApp, assert_error, both_backends, expect_json, expect_status};
use serde_json::{Value, json};
use uuid::Uuid;

/// A refused request: body, rules to set first (over the base ones), status, code, field.
type BadCase = (
    Value,
    Option<Value>,
    u16,
    &'static str,
    Option<&'static str>,
);

/// The kinds and actors of a request's history, checking the sequence numbers run 1, 2, 3…
fn history(visit: &VisitRequest) -> Vec<(String, Option<AccountId>)> {
    let seqs: Vec<i32> = visit.events.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=visit.events.len() as i32).collect::<Vec<_>>(),
        "{visit:?}"
    );
    assert!(
        visit.events.windows(2).all(|w| w[0].at <= w[1].at),
        "events out of time order"
    );
    visit
        .events
        .iter()
        .map(|e| (e.kind.clone(), e.actor_account_id))
        .collect()
}

/// Members in a stable order: the API does not keep the order visitors were named in.
fn sorted(members: &[MemberId]) -> Vec<MemberId> {
    let mut members = members.to_vec();
    members.sort_by_key(|m| m.to_string());
    members
}

fn kinds(visit: &VisitRequest) -> Vec<&str> {
    visit.events.iter().map(|e| e.kind.as_str()).collect()
}

async fn booked(
    app: &TestApp,
    token: &str,
    prison: PrisonId,
    template: Uuid,
    date: NaiveDate,
) -> i32 {
    app.slot(token, prison, template, date, VisitType::Table)
        .await
        .booked
}

async fn decide(app: &TestApp, token: &str, id: Uuid, decision: Value) -> reqwest::Response {
    app.post_json(&format!("{REQUESTS}/{id}/decision"), Some(token), &decision)
        .await
}

async fn act(
    app: &TestApp,
    token: &str,
    id: Uuid,
    action: &str,
    body: Option<&Value>,
) -> reqwest::Response {
    let path = format!("{REQUESTS}/{id}/{action}");
    match body {
        Some(body) => app.post_json(&path, Some(token), body).await,
        None => app.post_empty(&path, Some(token)).await,
    }
}

both_backends! {
    async fn haren_confirms_the_first_preference_with_a_free_place(app: TestApp) {
        let v = app.visits_demo().await;
        let haren = v.demo.haren;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let fatima = app.login_as(DemoUser::FamilyMember).await;
        let t = app.table_session(&coordinator, haren, Weekday::Fri, 1).await;
        let d1 = next_weekday(Weekday::Fri, 3);
        let (d2, d3) = (d1 + Duration::weeks(1), d1 + Duration::weeks(2));

        // Another family takes the only place of the first choice.
        let other = app.new_visiting_family(&admin, haren, "Family of Haren 1").await;
        let filler = app.request_visit(&admin, &other.table_request(t.id, d1)).await;
        assert_eq!((filler.status, filler.channel), (VisitStatus::Confirmed, Channel::Phone));

        let mut body = request_body(
            v.a.id,
            v.a.detainee,
            "table",
            &[(t.id, d1), (t.id, d2), (t.id, d3)],
            &[v.a.member("Fatima Benali"), v.a.member("Salma Benali")],
        );
        body["support_needs"] = json!(["wheelchair", "other"]);
        body["support_note"] = json!("  A booster seat for Salma  ");
        let visit = app.request_visit(&fatima, &body).await;
        assert_eq!(visit.status, VisitStatus::Confirmed);
        assert_eq!((visit.channel, visit.prison_id, visit.family_id), (Channel::App, haren, v.a.id));
        let slot = visit.slot.clone().expect("a confirmed slot");
        assert_eq!((slot.template_id, slot.date), (t.id, d2), "the second choice");
        assert_eq!(slot.starts_at.format("%H:%M").to_string(), "14:00");
        assert_eq!(visit.preferences.len(), 3);
        assert_eq!(sorted(&visit.visitors), sorted(&[v.a.member("Fatima Benali"), v.a.member("Salma Benali")]));
        assert_eq!(visit.support_needs, vec![SupportNeed::Wheelchair, SupportNeed::Other]);
        assert_eq!(visit.support_note.as_deref(), Some("A booster seat for Salma"));
        assert!(visit.reference.starts_with("V-") && visit.reference.len() == 8, "{}", visit.reference);
        let fatima_id = v.demo.account(DemoUser::FamilyMember);
        assert_eq!(
            history(&visit),
            vec![("requested".to_owned(), Some(fatima_id)), ("confirmed".to_owned(), None)]
        );
        assert_eq!(visit.events[1].detail["rank"], json!(2));
        assert_eq!(visit.events[1].detail["automatic"], json!(true));
        for (date, count) in [(d1, 1), (d2, 1), (d3, 0)] {
            assert_eq!(booked(&app, &fatima, haren, t.id, date).await, count, "{date}");
        }
        assert_eq!(app.visit_request(&fatima, visit.id).await.reference, visit.reference);

        // No free place in any preference: the request waits for the coordinator.
        let late = app.new_visiting_family(&admin, haren, "Family of Haren 2").await;
        let waiting = app.request_visit(&admin, &late.table_request(t.id, d1)).await;
        assert_eq!(waiting.status, VisitStatus::Pending);
        assert!(waiting.slot.is_none());
        assert_eq!(kinds(&waiting), vec!["requested"]);
        assert_eq!(booked(&app, &fatima, haren, t.id, d1).await, 1);
        let queue: Vec<VisitRequest> = expect_json(
            app.get(&format!("{REQUESTS}?prison_id={haren}&status=pending"), Some(&coordinator)).await,
            200,
        )
        .await;
        assert!(queue.iter().any(|r| r.id == waiting.id) && queue.iter().all(|r| r.status == VisitStatus::Pending));
        assert_error(
            app.get(&format!("{REQUESTS}?status=lost"), Some(&coordinator)).await,
            400,
            "invalid_value",
        )
        .await;
    }

    async fn brugge_requests_wait_for_the_coordinator(app: TestApp) {
        let v = app.visits_demo().await;
        let brugge = v.demo.brugge;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let (els_member, lotte) = (v.b.member("Els Janssens"), v.b.member("Lotte Janssens"));
        let els = app.enrol_member(&social, v.b.id, els_member).await;
        let els_id = app.me(&els).await.account_id;
        let coordinator_id = v.demo.account(DemoUser::Coordinator);

        let t = app.table_session(&coordinator, brugge, Weekday::Tue, 2).await;
        let u = app.table_session(&coordinator, brugge, Weekday::Thu, 2).await;
        let w = app.table_session(&coordinator, brugge, Weekday::Fri, 2).await;
        let z = app.table_session(&coordinator, brugge, Weekday::Sat, 1).await;
        let d = next_weekday(Weekday::Tue, 3);
        let e = next_weekday(Weekday::Thu, 3);
        let f = next_weekday(Weekday::Fri, 3);
        let s = next_weekday(Weekday::Sat, 3);
        let ask = |prefs: &[(Uuid, NaiveDate)]| request_body(v.b.id, v.b.detainee, "table", prefs, &[els_member, lotte]);

        // Confirm the second choice.
        let r1 = app.request_visit(&els, &ask(&[(t.id, d), (u.id, e), (t.id, d + Duration::weeks(1))])).await;
        assert_eq!((r1.status, r1.slot.is_none()), (VisitStatus::Pending, true));
        let r1: VisitRequest = expect_json(decide(&app, &coordinator, r1.id, json!({ "action": "confirm", "rank": 2 })).await, 200).await;
        assert_eq!(r1.status, VisitStatus::Confirmed);
        let slot = r1.slot.clone().expect("slot");
        assert_eq!((slot.template_id, slot.date), (u.id, e));
        assert_eq!(booked(&app, &els, brugge, u.id, e).await, 1);
        assert_eq!(booked(&app, &els, brugge, t.id, d).await, 0);
        assert_eq!(
            history(&r1),
            vec![("requested".to_owned(), Some(els_id)), ("confirmed".to_owned(), Some(coordinator_id))]
        );
        assert_error(decide(&app, &coordinator, r1.id, json!({ "action": "confirm", "rank": 1 })).await, 409, "invalid_status").await;

        // Decline: "other" needs a note.
        let r2 = app.request_visit(&els, &ask(&[(t.id, d + Duration::weeks(2))])).await;
        for note in [json!(null), json!("   ")] {
            let error = assert_error(
                decide(&app, &coordinator, r2.id, json!({ "action": "decline", "reason": "other", "note": note })).await,
                400,
                "note_required",
            )
            .await;
            assert_eq!(error.field.as_deref(), Some("note"));
        }
        assert_eq!(app.visit_request(&els, r2.id).await.status, VisitStatus::Pending);
        let error = assert_error(decide(&app, &coordinator, r2.id, json!({ "action": "maybe" })).await, 400, "invalid_value").await;
        assert!(error.field.is_some());
        let r2: VisitRequest = expect_json(
            decide(&app, &coordinator, r2.id, json!({ "action": "decline", "reason": "other", "note": "The detained person has a hearing that day" })).await,
            200,
        )
        .await;
        assert_eq!(r2.status, VisitStatus::Declined);
        assert_eq!(r2.decline_reason, Some(DeclineReason::Other));
        assert_eq!(r2.decline_note.as_deref(), Some("The detained person has a hearing that day"));
        assert_eq!(kinds(&r2), vec!["requested", "declined"]);

        // Propose another slot; the place is held; the family accepts.
        let r3 = app.request_visit(&els, &ask(&[(u.id, e + Duration::weeks(1))])).await;
        let r3: VisitRequest = expect_json(
            decide(&app, &coordinator, r3.id, json!({ "action": "propose", "slot": choice(w.id, f) })).await,
            200,
        )
        .await;
        assert_eq!(r3.status, VisitStatus::Proposed);
        assert_eq!(r3.slot.as_ref().map(|s| (s.template_id, s.date)), Some((w.id, f)));
        assert_eq!(booked(&app, &els, brugge, w.id, f).await, 1, "held while proposed");
        let r3: VisitRequest = expect_json(act(&app, &els, r3.id, "accept", None).await, 200).await;
        assert_eq!(r3.status, VisitStatus::Confirmed);
        assert_eq!(r3.slot.as_ref().map(|s| (s.template_id, s.date)), Some((w.id, f)));
        assert_eq!(booked(&app, &els, brugge, w.id, f).await, 1, "accepting takes no second place");
        assert_eq!(
            history(&r3),
            vec![
                ("requested".to_owned(), Some(els_id)),
                ("proposed".to_owned(), Some(coordinator_id)),
                ("proposal_accepted".to_owned(), Some(els_id)),
            ]
        );
        assert_error(act(&app, &els, r3.id, "accept", None).await, 409, "invalid_status").await;

        // Ranks that do not exist; then the family withdraws.
        let r4 = app.request_visit(&els, &ask(&[(u.id, e + Duration::weeks(2))])).await;
        for rank in [0, 2, 4] {
            let error = assert_error(
                decide(&app, &coordinator, r4.id, json!({ "action": "confirm", "rank": rank })).await,
                400,
                "no_such_preference",
            )
            .await;
            assert_eq!(error.field.as_deref(), Some("rank"));
        }
        assert_error(act(&app, &els, r4.id, "cancel", Some(&json!({}))).await, 409, "use_withdraw").await;
        let r4: VisitRequest = expect_json(act(&app, &els, r4.id, "withdraw", None).await, 200).await;
        assert_eq!((r4.status, kinds(&r4)), (VisitStatus::Withdrawn, vec!["requested", "withdrawn"]));
        assert_error(act(&app, &els, r4.id, "withdraw", None).await, 409, "invalid_status").await;
        assert_error(decide(&app, &coordinator, r4.id, json!({ "action": "confirm", "rank": 1 })).await, 409, "invalid_status").await;
        assert_error(act(&app, &els, r1.id, "withdraw", None).await, 409, "use_cancel").await;

        // Withdrawing a proposal gives the held place back.
        let r5 = app.request_visit(&els, &ask(&[(w.id, f + Duration::weeks(1))])).await;
        let later = f + Duration::weeks(2);
        expect_json::<VisitRequest>(
            decide(&app, &coordinator, r5.id, json!({ "action": "propose", "slot": choice(w.id, later) })).await,
            200,
        )
        .await;
        assert_eq!(booked(&app, &els, brugge, w.id, later).await, 1);
        let r5: VisitRequest = expect_json(act(&app, &social, r5.id, "withdraw", None).await, 200).await;
        assert_eq!((r5.status, r5.slot.is_none()), (VisitStatus::Withdrawn, true));
        assert_eq!(booked(&app, &els, brugge, w.id, later).await, 0, "the held place is back");

        // Full and blocked slots.
        let other = app.new_visiting_family(&admin, brugge, "Family of Brugge 1").await;
        let filler = app.request_visit(&admin, &other.table_request(z.id, s)).await;
        expect_json::<VisitRequest>(decide(&app, &coordinator, filler.id, json!({ "action": "confirm", "rank": 1 })).await, 200).await;
        let r6 = app.request_visit(&els, &ask(&[(t.id, d + Duration::weeks(2))])).await;
        // Not a slot the family already has.
        assert_error(
            decide(&app, &coordinator, r6.id, json!({ "action": "propose", "slot": choice(w.id, f) })).await,
            409,
            "duplicate_request",
        )
        .await;
        assert_eq!(booked(&app, &els, brugge, w.id, f).await, 1);
        assert_error(
            decide(&app, &coordinator, r6.id, json!({ "action": "propose", "slot": choice(z.id, s) })).await,
            409,
            "slot_full",
        )
        .await;
        assert_eq!(booked(&app, &els, brugge, z.id, s).await, 1);
        let block = json!({ "date": d + Duration::weeks(2), "template_id": t.id, "reason": "Lockdown drill" });
        expect_json::<Value>(
            app.post_json(&format!("/api/v1/prisons/{brugge}/blocked-dates"), Some(&coordinator), &block).await,
            201,
        )
        .await;
        assert_error(decide(&app, &coordinator, r6.id, json!({ "action": "confirm", "rank": 1 })).await, 409, "slot_blocked").await;
        let error = assert_error(
            decide(&app, &coordinator, r6.id, json!({ "action": "propose", "slot": choice(t.id, d + Duration::weeks(2)) })).await,
            400,
            "slot_blocked",
        )
        .await;
        assert_eq!(error.field.as_deref(), Some("slot"));
        let r6 = app.visit_request(&els, r6.id).await;
        assert_eq!((r6.status, r6.flagged), (VisitStatus::Pending, true));
        assert_eq!(kinds(&r6), vec!["requested", "flagged"]);
    }

    async fn families_cancel_until_the_cutoff_and_staff_with_a_reason(app: TestApp) {
        let v = app.visits_demo().await;
        let haren = v.demo.haren;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let fatima = app.login_as(DemoUser::FamilyMember).await;
        // Families cancel in the app until a week before.
        app.set_rules(&coordinator, haren, &with(&table_rules(true), json!({ "cancel_cutoff_hours": 168 }))).await;
        let near = today() + Duration::days(3);
        let t = app.table_session(&coordinator, haren, near.weekday(), 3).await;
        let far = near + Duration::weeks(2);
        let visitor = [v.a.member("Fatima Benali")];

        let soon = app.request_visit(&fatima, &request_body(v.a.id, v.a.detainee, "table", &[(t.id, near)], &visitor)).await;
        assert_eq!(soon.status, VisitStatus::Confirmed);
        assert_error(act(&app, &fatima, soon.id, "cancel", Some(&json!({}))).await, 409, "cancellation_cutoff_passed").await;
        assert_error(
            act(&app, &fatima, soon.id, "cancel", Some(&json!({ "reason": "ill" }))).await,
            409,
            "cancellation_cutoff_passed",
        )
        .await;
        assert_eq!(app.visit_request(&fatima, soon.id).await.status, VisitStatus::Confirmed);
        assert_eq!(booked(&app, &fatima, haren, t.id, near).await, 1);

        let later = app.request_visit(&fatima, &request_body(v.a.id, v.a.detainee, "table", &[(t.id, far)], &visitor)).await;
        assert_eq!(booked(&app, &fatima, haren, t.id, far).await, 1);
        let later: VisitRequest = expect_json(act(&app, &fatima, later.id, "cancel", None).await, 200).await;
        assert_eq!((later.status, later.cancel_reason.as_deref()), (VisitStatus::Cancelled, None));
        assert_eq!(booked(&app, &fatima, haren, t.id, far).await, 0, "the place is free again");
        let fatima_id = v.demo.account(DemoUser::FamilyMember);
        assert_eq!(
            history(&later),
            vec![
                ("requested".to_owned(), Some(fatima_id)),
                ("confirmed".to_owned(), None),
                ("cancelled".to_owned(), Some(fatima_id)),
            ]
        );
        assert_eq!(later.events[2].detail["by"], json!("family"));
        assert_error(act(&app, &fatima, later.id, "cancel", Some(&json!({}))).await, 409, "invalid_status").await;
        // Cancelled, the slot can be asked for again.
        let again = app.request_visit(&fatima, &request_body(v.a.id, v.a.detainee, "table", &[(t.id, far)], &visitor)).await;
        assert_eq!(again.status, VisitStatus::Confirmed);

        // Staff cancel at any time, but say why.
        for body in [json!({}), json!({ "reason": "  " })] {
            let error = assert_error(act(&app, &coordinator, soon.id, "cancel", Some(&body)).await, 400, "reason_required").await;
            assert_eq!(error.field.as_deref(), Some("reason"));
        }
        let long = json!({ "reason": "x".repeat(301) });
        assert_error(act(&app, &coordinator, soon.id, "cancel", Some(&long)).await, 400, "invalid_value").await;
        let soon: VisitRequest = expect_json(
            act(&app, &coordinator, soon.id, "cancel", Some(&json!({ "reason": "The detained person was transferred" }))).await,
            200,
        )
        .await;
        assert_eq!(soon.status, VisitStatus::Cancelled);
        assert_eq!(soon.cancel_reason.as_deref(), Some("The detained person was transferred"));
        let last = soon.events.last().expect("events");
        assert_eq!((last.kind.as_str(), last.actor_account_id), ("cancelled", Some(v.demo.account(DemoUser::Coordinator))));
        assert_eq!(last.detail["by"], json!("staff"));
        assert_eq!(booked(&app, &fatima, haren, t.id, near).await, 0);
    }

    async fn amendments_move_a_visit_and_keep_its_reference(app: TestApp) {
        let v = app.visits_demo().await;
        let haren = v.demo.haren;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let fatima = app.login_as(DemoUser::FamilyMember).await;
        let t = app.table_session(&coordinator, haren, Weekday::Fri, 2).await;
        let d = next_weekday(Weekday::Fri, 3);
        let (d2, d3) = (d + Duration::weeks(1), d + Duration::weeks(2));
        let (fatima_m, salma) = (v.a.member("Fatima Benali"), v.a.member("Salma Benali"));
        let visit = app.request_visit(&fatima, &request_body(v.a.id, v.a.detainee, "table", &[(t.id, d)], &[fatima_m])).await;
        let amend = |body: Value| {
            let app = &app;
            let coordinator = coordinator.clone();
            async move { act(app, &coordinator, visit.id, "amend", Some(&body)).await }
        };

        let moved: VisitRequest = expect_json(amend(json!({ "slot": choice(t.id, d2), "reason": "Room closed for works" })).await, 200).await;
        assert_eq!((moved.id, moved.reference.as_str(), moved.status), (visit.id, visit.reference.as_str(), VisitStatus::Confirmed));
        assert_eq!(moved.slot.as_ref().map(|s| s.date), Some(d2));
        assert_eq!(booked(&app, &fatima, haren, t.id, d).await, 0);
        assert_eq!(booked(&app, &fatima, haren, t.id, d2).await, 1);
        let last = moved.events.last().expect("events");
        assert_eq!(last.kind, "amended");
        assert_eq!(last.detail["reason"], json!("Room closed for works"));
        assert_eq!(last.detail["slot"], choice(t.id, d2));

        for (body, status, code, field) in [
            (json!({ "slot": choice(t.id, d3), "reason": "" }), 400, "reason_required", Some("reason")),
            (json!({ "slot": choice(t.id, d3) }), 400, "missing_field", Some("reason")),
            (json!({ "reason": "Nothing really" }), 400, "nothing_to_change", None),
            (json!({ "visitors": [salma], "reason": "Only Salma" }), 400, "child_without_adult", Some("visitors")),
            (json!({ "slot": choice(t.id, d + Duration::days(1)), "reason": "Wrong day" }), 400, "no_such_slot", Some("slot")),
        ] {
            let error = assert_error(amend(body.clone()).await, status, code).await;
            if field.is_some() {
                assert_eq!(error.field.as_deref(), field, "{body}");
            }
        }
        // A full slot refuses the move and nothing changes.
        for n in 0..2 {
            let other = app.new_visiting_family(&admin, haren, &format!("Family of Haren {n}")).await;
            app.request_visit(&admin, &other.table_request(t.id, d3)).await;
        }
        assert_error(amend(json!({ "slot": choice(t.id, d3), "reason": "Try" })).await, 409, "slot_full").await;
        let unchanged = app.visit_request(&fatima, visit.id).await;
        assert_eq!(unchanged.slot.as_ref().map(|s| s.date), Some(d2));
        assert_eq!(booked(&app, &fatima, haren, t.id, d2).await, 1);
        assert_eq!(booked(&app, &fatima, haren, t.id, d3).await, 2);

        let changed: VisitRequest = expect_json(
            amend(json!({ "visitors": [fatima_m, salma], "support_needs": ["interpreter"], "reason": "Salma comes too" })).await,
            200,
        )
        .await;
        assert_eq!(sorted(&changed.visitors), sorted(&[fatima_m, salma]));
        // A form sent back whole names the slot the visit already has: that is no move, even
        // when the slot is full.
        let neighbour = app.new_visiting_family(&admin, haren, "Family of Haren 2").await;
        app.request_visit(&admin, &neighbour.table_request(t.id, d2)).await;
        assert_eq!(booked(&app, &fatima, haren, t.id, d2).await, 2);
        let changed: VisitRequest = expect_json(
            amend(json!({ "slot": choice(t.id, d2), "support_needs": ["interpreter"], "reason": "Interpreter" })).await,
            200,
        )
        .await;
        assert_eq!(changed.slot.as_ref().map(|s| s.date), Some(d2));
        assert_eq!(booked(&app, &fatima, haren, t.id, d2).await, 2);
        assert_eq!(changed.support_needs, vec![SupportNeed::Interpreter]);
        assert_eq!(changed.reference, visit.reference);
        let coordinator_id = v.demo.account(DemoUser::Coordinator);
        assert_eq!(
            history(&changed),
            vec![
                ("requested".to_owned(), Some(v.demo.account(DemoUser::FamilyMember))),
                ("confirmed".to_owned(), None),
                ("amended".to_owned(), Some(coordinator_id)),
                ("amended".to_owned(), Some(coordinator_id)),
                ("amended".to_owned(), Some(coordinator_id)),
            ]
        );

        // Families ask; only the prison amends.
        assert_error(
            act(&app, &fatima, visit.id, "amend", Some(&json!({ "slot": choice(t.id, d), "reason": "Mine" }))).await,
            403,
            "forbidden",
        )
        .await;
    }

    async fn bad_requests_get_their_own_code_and_store_nothing(app: TestApp) {
        let v = app.visits_demo().await;
        let haren = v.demo.haren;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let fatima = app.login_as(DemoUser::FamilyMember).await;
        let base_rules = with(&table_rules(true), json!({ "min_notice_hours": 48 }));
        app.set_rules(&coordinator, haren, &base_rules).await;

        let mut long_ago = template_body(Weekday::Fri, "14:00", &[("table", 5)]);
        long_ago["valid_from"] = json!(today() - Duration::days(60));
        let t: SessionTemplate = app.create_template(&coordinator, haren, &long_ago).await;
        let tomorrow = today() + Duration::days(1);
        let tt = app.table_session(&coordinator, haren, tomorrow.weekday(), 5).await;
        let d = next_weekday(Weekday::Fri, 4);
        let blocked = d + Duration::weeks(1);
        expect_json::<Value>(
            app.post_json(
                &format!("/api/v1/prisons/{haren}/blocked-dates"),
                Some(&coordinator),
                &json!({ "date": blocked, "template_id": t.id, "reason": "Inspection" }),
            )
            .await,
            201,
        )
        .await;
        let (f, k, s) = (v.a.member("Fatima Benali"), v.a.member("Karim Benali"), v.a.member("Salma Benali"));
        let els = v.b.member("Els Janssens");
        let body = |prefs: &[(Uuid, NaiveDate)], visitors: &[MemberId]| request_body(v.a.id, v.a.detainee, "table", prefs, visitors);
        let ok = body(&[(t.id, d)], &[f]);

        let count = || {
            let app = &app;
            let admin = admin.clone();
            async move { app.visit_requests(&admin, v.a.id).await.len() }
        };
        let before = count().await;

        // (body, rules if not the base ones, status, code, field)
        let cases: Vec<BadCase> = vec![
            (with(&ok, json!({ "detainee_id": Uuid::new_v4() })), None, 400, "unknown_detainee", Some("detainee_id")),
            (with(&ok, json!({ "detainee_id": v.b.detainee })), None, 400, "detainee_not_linked", Some("detainee_id")),
            (with(&ok, json!({ "visit_type": "video" })), None, 400, "visit_type_not_offered", Some("visit_type")),
            (with(&ok, json!({ "visit_type": "family_day" })), None, 400, "use_family_day_registration", Some("visit_type")),
            (with(&ok, json!({ "visit_type": "closed" })), None, 400, "no_such_slot", Some("preferences[0]")),
            (body(&[(t.id, d + Duration::days(1))], &[f]), None, 400, "no_such_slot", Some("preferences[0]")),
            (body(&[(Uuid::new_v4(), d)], &[f]), None, 400, "no_such_slot", Some("preferences[0]")),
            (body(&[(tt.id, tomorrow)], &[f]), None, 400, "outside_booking_window", Some("preferences[0]")),
            (body(&[(t.id, d + Duration::weeks(5))], &[f]), None, 400, "outside_booking_window", Some("preferences[0]")),
            (body(&[(t.id, d), (t.id, d + Duration::weeks(5))], &[f]), None, 400, "outside_booking_window", Some("preferences[1]")),
            (body(&[(t.id, blocked)], &[f]), None, 400, "slot_blocked", Some("preferences[0]")),
            (body(&[(t.id, d - Duration::weeks(3))], &[f]), None, 400, "slot_in_past", Some("preferences[0]")),
            (
                body(&[(t.id, d)], &[f, k, s]),
                Some(json!({ "max_visitors": 2, "max_adults": 2, "max_children": 2 })),
                400,
                "too_many_visitors",
                Some("visitors"),
            ),
            (body(&[(t.id, d)], &[f, k]), Some(json!({ "max_adults": 1 })), 400, "too_many_adults", Some("visitors")),
            (body(&[(t.id, d)], &[f, s]), Some(json!({ "max_children": 0 })), 400, "too_many_children", Some("visitors")),
            (body(&[(t.id, d)], &[f, els]), None, 400, "visitor_not_in_family", Some("visitors[1]")),
            (body(&[(t.id, d)], &[MemberId(Uuid::new_v4())]), None, 400, "visitor_not_in_family", Some("visitors[0]")),
            (body(&[(t.id, d)], &[s]), None, 400, "child_without_adult", Some("visitors")),
            (body(&[(t.id, d), (t.id, d)], &[f]), None, 400, "duplicate_preference", Some("preferences[1]")),
            (body(&[(t.id, d)], &[f, f]), None, 400, "duplicate_visitor", Some("visitors[1]")),
            (body(&[(t.id, d)], &[]), None, 400, "no_visitors", Some("visitors")),
            (body(&[], &[f]), None, 400, "invalid_preferences", Some("preferences")),
            (
                body(&[(t.id, d), (t.id, d + Duration::weeks(2)), (t.id, d + Duration::weeks(3)), (tt.id, tomorrow)], &[f]),
                None,
                400,
                "invalid_preferences",
                Some("preferences"),
            ),
            (with(&ok, json!({ "channel": "phone" })), None, 400, "invalid_channel", Some("channel")),
            (with(&ok, json!({ "support_needs": ["other"] })), None, 400, "note_required", Some("support_note")),
            (with(&ok, json!({ "support_needs": ["pram", "pram"] })), None, 400, "invalid_value", Some("support_needs[1]")),
            (with(&ok, json!({ "support_needs": ["jetpack"] })), None, 400, "invalid_value", Some("support_needs[0]")),
            (with(&ok, json!({ "support_note": "x".repeat(501) })), None, 400, "invalid_value", Some("support_note")),
            (with(&ok, json!({ "urgent": true })), None, 400, "unknown_field", Some("urgent")),
            (with(&ok, json!({ "family_id": v.b.id })), None, 404, "family_not_found", None),
        ];
        for (case, rules, status, code, field) in &cases {
            app.set_rules(&coordinator, haren, &with(&base_rules, rules.clone().unwrap_or(json!({})))).await;
            let error = assert_error(app.post_json(REQUESTS, Some(&fatima), case).await, *status, code).await;
            if field.is_some() {
                assert_eq!(error.field.as_deref(), *field, "{case}");
            }
            assert_eq!(count().await, before, "{code}: a refused request was stored");
        }
        app.set_rules(&coordinator, haren, &base_rules).await;

        // A visitor the prison refused.
        app.decide_visitor(&coordinator, v.a.detainee, k, "refused", "kinship_proof").await;
        let error = assert_error(app.post_json(REQUESTS, Some(&fatima), &body(&[(t.id, d)], &[f, k])).await, 400, "visitor_not_approved").await;
        assert_eq!(error.field.as_deref(), Some("visitors[1]"));
        app.decide_visitor(&coordinator, v.a.detainee, k, "pending", "kinship_proof").await;
        assert_error(app.post_json(REQUESTS, Some(&fatima), &body(&[(t.id, d)], &[f, k])).await, 400, "visitor_not_approved").await;
        assert_eq!(count().await, before);

        // Unsupervised visits are for close family: a cousin, even approved, may not come.
        let cousin: Value = expect_json(
            app.post_json(
                &format!("/api/v1/families/{}/members", v.a.id),
                Some(&admin),
                &json!({ "display_name": "Yasmine Benali", "relation": "other_family", "preferred_language": "fr", "birth_date": "1995-02-03" }),
            )
            .await,
            201,
        )
        .await;
        let cousin = MemberId(cousin["id"].as_str().expect("id").parse().expect("uuid"));
        let approve = |basis: &str| json!({ "status": "approved", "basis": basis });
        let visitors_path = format!("/api/v1/detainees/{}/visitors/{cousin}", v.a.detainee);
        let error = assert_error(
            app.request(reqwest::Method::PUT, &visitors_path, Some(&coordinator), Some(&approve("kinship_proof"))).await,
            400,
            "kinship_not_close",
        )
        .await;
        assert_eq!(error.field.as_deref(), Some("basis"));
        app.decide_visitor(&coordinator, v.a.detainee, cousin, "approved", "director_approval").await;
        let thursday: Vec<SessionTemplate> = expect_json(
            app.get(&format!("/api/v1/prisons/{haren}/session-templates"), Some(&fatima)).await,
            200,
        )
        .await;
        let chambre = thursday
            .iter()
            .find(|t| t.weekday == 4 && t.capacities.iter().any(|c| c.visit_type == VisitType::Unsupervised))
            .expect("Haren's unsupervised session");
        let th = next_weekday(Weekday::Thu, 4);
        let unsupervised = |visitors: &[MemberId]| request_body(v.a.id, v.a.detainee, "unsupervised", &[(chambre.id, th)], visitors);
        let error = assert_error(
            app.post_json(REQUESTS, Some(&fatima), &unsupervised(&[f, cousin])).await,
            400,
            "visitor_not_close_family",
        )
        .await;
        assert_eq!(error.field.as_deref(), Some("visitors[1]"));
        assert_eq!(count().await, before);
        // The cousin may come to a table visit, and close family to the unsupervised one.
        let table = app.request_visit(&fatima, &body(&[(t.id, d)], &[f, cousin])).await;
        assert_eq!(table.status, VisitStatus::Confirmed);
        let private = app.request_visit(&fatima, &unsupervised(&[f])).await;
        assert_eq!(private.status, VisitStatus::Pending, "unsupervised visits wait for the coordinator");
        assert_eq!(count().await, before + 2);

        // One family, one request per slot.
        let error = assert_error(app.post_json(REQUESTS, Some(&fatima), &body(&[(t.id, d)], &[f])).await, 409, "duplicate_request").await;
        assert!(!error.message.is_empty());
        assert_error(
            app.post_json(REQUESTS, Some(&fatima), &body(&[(t.id, d + Duration::weeks(2)), (t.id, d)], &[f])).await,
            409,
            "duplicate_request",
        )
        .await;
        assert_eq!(count().await, before + 2);
        assert_eq!(booked(&app, &fatima, haren, t.id, d).await, 1);
    }

    async fn visits_stay_manageable_when_the_prison_stops_offering_their_type(app: TestApp) {
        let v = app.visits_demo().await;
        let haren = v.demo.haren;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let fatima = app.login_as(DemoUser::FamilyMember).await;
        let t = app.session(&coordinator, haren, Weekday::Fri, "10:00", &[("closed", 3)]).await;
        let d = next_weekday(Weekday::Fri, 3);
        let closed = |date: NaiveDate| request_body(v.a.id, v.a.detainee, "closed", &[(t.id, date)], &[v.a.member("Fatima Benali")]);
        let waiting = app.request_visit(&fatima, &closed(d)).await;
        let by_staff = app.request_visit(&fatima, &closed(d + Duration::weeks(1))).await;
        let by_family = app.request_visit(&fatima, &closed(d + Duration::weeks(2))).await;
        for visit in [&by_staff, &by_family] {
            expect_json::<VisitRequest>(decide(&app, &coordinator, visit.id, json!({ "action": "confirm", "rank": 1 })).await, 200).await;
        }
        expect_status(app.delete(&format!("/api/v1/prisons/{haren}/rules/closed"), Some(&coordinator)).await, 204).await;
        assert_error(app.post_json(REQUESTS, Some(&fatima), &closed(d + Duration::weeks(3))).await, 400, "visit_type_not_offered").await;

        // What was asked for before is still answered, and what was booked can be cancelled.
        let declined: VisitRequest = expect_json(
            decide(&app, &coordinator, waiting.id, json!({ "action": "decline", "reason": "restriction" })).await,
            200,
        )
        .await;
        assert_eq!(declined.status, VisitStatus::Declined);
        let cancelled: VisitRequest = expect_json(
            act(&app, &coordinator, by_staff.id, "cancel", Some(&json!({ "reason": "No more closed visits" }))).await,
            200,
        )
        .await;
        assert_eq!(cancelled.status, VisitStatus::Cancelled);
        let cancelled: VisitRequest = expect_json(act(&app, &fatima, by_family.id, "cancel", Some(&json!({}))).await, 200).await;
        assert_eq!(cancelled.status, VisitStatus::Cancelled);
        let slots = app.slots(&fatima, haren, d, d + Duration::weeks(2)).await;
        assert!(slots.iter().filter(|s| s.template_id == t.id).all(|s| s.booked == 0), "{slots:?}");
    }

    async fn a_preference_that_has_passed_cannot_be_confirmed(app: TestApp) {
        let v = app.visits_demo().await;
        let brugge = v.demo.brugge;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let t = app.table_session(&coordinator, brugge, Weekday::Fri, 3).await;
        let d = next_weekday(Weekday::Fri, 3);
        let visit = app
            .request_visit(&social, &request_body(v.b.id, v.b.detainee, "table", &[(t.id, d)], &[v.b.member("Els Janssens")]))
            .await;
        // The request waited too long: its day is over.
        let past = d - Duration::weeks(2);
        let moved = app.execute_sql(&format!(
            "UPDATE visit_request_preferences SET date = '{past}' WHERE request_id = '{}'",
            visit.id
        ));
        assert_eq!(moved, 1);
        assert_error(decide(&app, &coordinator, visit.id, json!({ "action": "confirm", "rank": 1 })).await, 409, "slot_in_past").await;
        let visit = app.visit_request(&social, visit.id).await;
        assert_eq!((visit.status, visit.slot.is_none()), (VisitStatus::Pending, true));
        expect_json::<VisitRequest>(
            decide(&app, &coordinator, visit.id, json!({ "action": "decline", "reason": "outside_booking_window" })).await,
            200,
        )
        .await;
    }

    async fn visitors_of_another_family_answer_as_unknown_members(app: TestApp) {
        let v = app.visits_demo().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let fatima = app.login_as(DemoUser::FamilyMember).await;
        // Karim's detained relative, in Haren; Nadia belongs to family C, held in Lantin.
        let detainee = v.a.detainee;
        let nadia = v.c.member("Nadia El Idrissi");
        let nobody = MemberId(Uuid::new_v4());
        let answer = |resp: reqwest::Response| async move {
            let status = resp.status().as_u16();
            (status, resp.text().await.expect("a body"))
        };
        let approve = json!({ "status": "approved", "basis": "kinship_proof" });
        let decide = |token: &str, member: MemberId| {
            let path = format!("/api/v1/detainees/{detainee}/visitors/{member}");
            let (app, approve, token) = (&app, &approve, token.to_owned());
            async move { app.request(reqwest::Method::PUT, &path, Some(&token), Some(approve)).await }
        };
        let ask = |token: &str, member: MemberId| {
            let path = format!("/api/v1/detainees/{detainee}/visitors/{member}/ask");
            let (app, token) = (&app, token.to_owned());
            async move { app.post_empty(&path, Some(&token)).await }
        };
        // Those who run Haren decide; the family and its social worker ask.
        for (who, token) in [("coordinator", &coordinator), ("admin", &admin)] {
            let hidden = answer(decide(token, nadia).await).await;
            let missing = answer(decide(token, nobody).await).await;
            assert_eq!(hidden, missing, "deciding as {who}");
            assert_error(decide(token, nadia).await, 404, "member_not_found").await;
        }
        for (who, token) in [("family", &fatima), ("social worker", &social), ("coordinator", &coordinator), ("admin", &admin)] {
            let hidden = answer(ask(token, nadia).await).await;
            let missing = answer(ask(token, nobody).await).await;
            assert_eq!(hidden, missing, "asking as {who}");
            assert_error(ask(token, nadia).await, 404, "member_not_found").await;
        }
        let list: Vec<Value> = expect_json(app.get(&format!("/api/v1/detainees/{detainee}/visitors"), Some(&admin)).await, 200).await;
        assert!(list.iter().all(|w| w["member_id"] != nadia.to_string().as_str()), "Nadia was not put on the list: {list:?}");
    }
}
