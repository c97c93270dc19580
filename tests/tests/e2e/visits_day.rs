//! A coordinator's day: the visits of one prison on one date by session, with visitors' ages
//! and support needs, as JSON and CSV; and blocked dates flagging the visits already on them.

use chrono::{Duration, Weekday};
use reguide_tests::protocol::visits::{
    BlockedDate, DayView, SupportNeed, VisitRequest, VisitStatus,
};
use reguide_tests::visits::{REQUESTS, choice, next_weekday, parse_csv, request_body};
use reguide_tests::{DemoUser, TestApp, assert_error, both_backends, expect_json, expect_status};
use serde_json::json;

both_backends! {
    async fn the_day_list_shows_confirmed_visits_by_session(app: TestApp) {
        let v = app.visits_demo().await;
        let haren = v.demo.haren;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let fatima = app.login_as(DemoUser::FamilyMember).await;
        let morning = app.session(&coordinator, haren, Weekday::Fri, "09:00", &[("table", 5)]).await;
        let afternoon = app.session(&coordinator, haren, Weekday::Fri, "14:00", &[("table", 5)]).await;
        let d = next_weekday(Weekday::Fri, 3);

        let mut body = request_body(
            v.a.id,
            v.a.detainee,
            "table",
            &[(afternoon.id, d)],
            &[v.a.member("Fatima Benali"), v.a.member("Salma Benali")],
        );
        body["support_needs"] = json!(["wheelchair", "other"]);
        body["support_note"] = json!("Needs a ramp, \"please\"");
        let benali = app.request_visit(&fatima, &body).await;
        assert_eq!(benali.status, VisitStatus::Confirmed);
        // A family whose name would be a formula in a spreadsheet, with a comma.
        let tricky = app.new_visiting_family(&admin, haren, "=HYPERLINK(\"x\"), Family").await;
        let other = app.request_visit(&admin, &tricky.table_request(morning.id, d)).await;
        // Neither a cancelled nor a pending visit is on the list.
        let gone_family = app.new_visiting_family(&admin, haren, "Family of Cancelled").await;
        let gone = app.request_visit(&admin, &gone_family.table_request(morning.id, d)).await;
        app.visit_action(&admin, gone.id, "cancel", &json!({ "reason": "Ill" })).await;
        let closed = app.request_visit(
            &fatima,
            &request_body(v.a.id, v.a.detainee, "closed", &[(v_tuesday(&app, &fatima, haren).await, next_weekday(Weekday::Tue, 10))], &[v.a.member("Fatima Benali")]),
        )
        .await;
        assert_eq!(closed.status, VisitStatus::Pending);

        let day: DayView = expect_json(
            app.get(&format!("/api/v1/prisons/{haren}/day?date={d}"), Some(&coordinator)).await,
            200,
        )
        .await;
        assert_eq!((day.prison_id, day.date, day.prison_name.as_str()), (haren, d, "Prison de Haren"));
        let ours: Vec<_> = day
            .sessions
            .iter()
            .filter(|s| s.template_id == morning.id || s.template_id == afternoon.id)
            .collect();
        assert_eq!(ours.len(), 2);
        assert!(day.sessions.windows(2).all(|w| w[0].starts_at <= w[1].starts_at), "sessions in time order");
        assert_eq!(ours[0].template_id, morning.id);
        assert_eq!(ours[0].starts_at.format("%H:%M").to_string(), "09:00");
        assert_eq!(ours[0].visits.iter().map(|v| v.request_id).collect::<Vec<_>>(), vec![other.id]);
        assert_eq!(ours[1].visits.len(), 1);
        let visit = &ours[1].visits[0];
        assert_eq!((visit.request_id, visit.reference.as_str()), (benali.id, benali.reference.as_str()));
        assert_eq!((visit.detainee_name.as_str(), visit.detainee_number.as_str()), ("Youssef Benali", "HAR-2291"));
        assert_eq!(visit.family_label, "Family of Y. Benali");
        assert_eq!(visit.support_needs, vec![SupportNeed::Wheelchair, SupportNeed::Other]);
        assert_eq!(visit.support_note.as_deref(), Some("Needs a ramp, \"please\""));
        assert!(!visit.flagged && !ours[1].blocked);
        let visitors: Vec<(&str, Option<u32>)> = visit.visitors.iter().map(|p| (p.display_name.as_str(), p.age)).collect();
        let age = |born: chrono::NaiveDate| {
            let years = chrono::Datelike::year(&d) - chrono::Datelike::year(&born);
            let before_birthday = (chrono::Datelike::month(&d), chrono::Datelike::day(&d))
                < (chrono::Datelike::month(&born), chrono::Datelike::day(&born));
            Some((years - i32::from(before_birthday)) as u32)
        };
        let date = |y, m, dd| chrono::NaiveDate::from_ymd_opt(y, m, dd).expect("date");
        assert_eq!(
            visitors,
            vec![("Fatima Benali", age(date(1968, 4, 2))), ("Salma Benali", age(date(2014, 6, 21)))]
        );

        // The same as CSV: a header, one row per visit of the day.
        let resp = app.get(&format!("/api/v1/prisons/{haren}/day.csv?date={d}"), Some(&coordinator)).await;
        let content_type = resp.headers().get("content-type").and_then(|h| h.to_str().ok()).unwrap_or_default().to_owned();
        assert!(content_type.starts_with("text/csv"), "{content_type}");
        let text = expect_status(resp, 200).await;
        let rows = parse_csv(&text);
        let expected_rows: usize = day.sessions.iter().map(|s| s.visits.len()).sum();
        assert_eq!(rows.len(), 1 + expected_rows, "{text}");
        let header = &rows[0];
        assert_eq!(header[0], "date");
        assert!(rows.iter().all(|r| r.len() == header.len()), "ragged CSV: {rows:?}");
        let col = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
        let row = rows.iter().find(|r| r[col("reference")] == benali.reference).expect("the Benali row");
        assert_eq!(row[col("date")], d.to_string());
        assert_eq!(row[col("start")], "14:00");
        assert_eq!(row[col("number")], "HAR-2291");
        let salma = format!("Salma Benali ({})", age(date(2014, 6, 21)).expect("age"));
        assert!(row[col("visitors")].contains(&salma), "{row:?}");
        assert_eq!(row[col("support_note")], "Needs a ramp, \"please\"");
        let row = rows.iter().find(|r| r[col("reference")] == other.reference).expect("the other row");
        assert_eq!(row[col("family")], "'=HYPERLINK(\"x\"), Family", "formulas are defused");
        assert!(rows.iter().all(|r| r[col("reference")] != gone.reference));

        // A day without visits has its sessions and no rows.
        let empty = d + Duration::days(1);
        let text = expect_status(app.get(&format!("/api/v1/prisons/{haren}/day.csv?date={empty}"), Some(&coordinator)).await, 200).await;
        assert_eq!(parse_csv(&text).len(), 1);

        // Only the prison's coordinators and administrators.
        let lantin = v.demo.lantin;
        for path in [format!("/api/v1/prisons/{haren}/day?date={d}"), format!("/api/v1/prisons/{haren}/day.csv?date={d}")] {
            for user in [DemoUser::FamilyMember, DemoUser::SocialWorker, DemoUser::Facilitator] {
                let token = app.login_as(user).await;
                assert_error(app.get(&path, Some(&token)).await, 403, "forbidden").await;
            }
            assert_error(app.get(&path, None).await, 401, "unauthenticated").await;
            expect_status(app.get(&path, Some(&admin)).await, 200).await;
        }
        assert_error(app.get(&format!("/api/v1/prisons/{lantin}/day?date={d}"), Some(&coordinator)).await, 403, "forbidden").await;
        assert_error(app.get(&format!("/api/v1/prisons/{lantin}/day.csv?date={d}"), Some(&coordinator)).await, 403, "forbidden").await;
        assert_error(app.get(&format!("/api/v1/prisons/{haren}/day"), Some(&coordinator)).await, 400, "invalid_query").await;
    }

    async fn blocking_a_date_flags_the_visits_on_it(app: TestApp) {
        let v = app.visits_demo().await;
        let (haren, brugge) = (v.demo.haren, v.demo.brugge);
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let fatima = app.login_as(DemoUser::FamilyMember).await;
        let t = app.table_session(&coordinator, haren, Weekday::Fri, 5).await;
        let other = app.table_session(&coordinator, haren, Weekday::Fri, 5).await;
        let d = next_weekday(Weekday::Fri, 3);
        let visit = app
            .request_visit(&fatima, &request_body(v.a.id, v.a.detainee, "table", &[(t.id, d)], &[v.a.member("Fatima Benali")]))
            .await;
        assert_eq!((visit.status, visit.flagged), (VisitStatus::Confirmed, false));
        // A pending request in Brugge naming the same date.
        let bt = app.table_session(&coordinator, brugge, Weekday::Fri, 5).await;
        let pending = app
            .request_visit(&social, &request_body(v.b.id, v.b.detainee, "table", &[(bt.id, d)], &[v.b.member("Els Janssens")]))
            .await;

        // Blocking another session of the day flags nothing.
        let blocked_path = format!("/api/v1/prisons/{haren}/blocked-dates");
        let block: BlockedDate = expect_json(
            app.post_json(&blocked_path, Some(&coordinator), &json!({ "date": d, "template_id": other.id, "reason": "Works" })).await,
            201,
        )
        .await;
        assert!(block.flagged_requests.is_empty());
        assert!(!app.visit_request(&fatima, visit.id).await.flagged);

        // Blocking the whole day flags the visit.
        let block: BlockedDate = expect_json(
            app.post_json(&blocked_path, Some(&coordinator), &json!({ "date": d, "reason": "Strike" })).await,
            201,
        )
        .await;
        assert_eq!(block.flagged_requests, vec![visit.id]);
        let flagged = app.visit_request(&fatima, visit.id).await;
        assert!(flagged.flagged);
        assert_eq!(flagged.status, VisitStatus::Confirmed, "flagged, not cancelled");
        let event = flagged.events.last().expect("events");
        assert_eq!((event.kind.as_str(), event.actor_account_id), ("flagged", Some(v.demo.account(DemoUser::Coordinator))));
        assert_eq!(event.detail["blocked_date"], json!(d));
        assert_eq!(event.detail["reason"], json!("Strike"));
        assert!(!app.visit_request(&social, pending.id).await.flagged, "Brugge is not blocked");
        let queue: Vec<VisitRequest> = expect_json(
            app.get(&format!("{REQUESTS}?prison_id={haren}&flagged=true"), Some(&coordinator)).await,
            200,
        )
        .await;
        assert_eq!(queue.iter().map(|r| r.id).collect::<Vec<_>>(), vec![visit.id]);

        let day: DayView = expect_json(
            app.get(&format!("/api/v1/prisons/{haren}/day?date={d}"), Some(&coordinator)).await,
            200,
        )
        .await;
        let session = day.sessions.iter().find(|s| s.template_id == t.id).expect("the session");
        assert!(session.blocked);
        assert_eq!(session.visits.len(), 1);
        assert!(session.visits[0].flagged);
        let text = expect_status(app.get(&format!("/api/v1/prisons/{haren}/day.csv?date={d}"), Some(&coordinator)).await, 200).await;
        let rows = parse_csv(&text);
        let flagged_col = rows[0].iter().position(|h| h == "flagged").expect("flagged column");
        assert_eq!(rows[1][flagged_col], "true");

        // Pending requests that name the date are flagged too.
        let block: BlockedDate = expect_json(
            app.post_json(&format!("/api/v1/prisons/{brugge}/blocked-dates"), Some(&coordinator), &json!({ "date": d, "reason": "Strike" })).await,
            201,
        )
        .await;
        assert_eq!(block.flagged_requests, vec![pending.id]);
        assert!(app.visit_request(&social, pending.id).await.flagged);

        // Moving the visit to another day clears the flag.
        let moved = app
            .visit_action(&coordinator, visit.id, "amend", &json!({ "slot": choice(t.id, d + Duration::weeks(1)), "reason": "Strike day" }))
            .await;
        assert!(!moved.flagged);
        let queue: Vec<VisitRequest> = expect_json(
            app.get(&format!("{REQUESTS}?prison_id={haren}&flagged=true"), Some(&coordinator)).await,
            200,
        )
        .await;
        assert!(queue.is_empty(), "{queue:?}");
    }
}

/// Haren's Tuesday session (table and closed visits).
async fn v_tuesday(
    app: &TestApp,
    token: &str,
    haren: reguide_tests::protocol::PrisonId,
) -> uuid::Uuid {
    let templates: Vec<reguide_tests::protocol::visits::SessionTemplate> = expect_json(
        app.get(
            &format!("/api/v1/prisons/{haren}/session-templates"),
            Some(token),
        )
        .await,
        200,
    )
    .await;
    templates
        .iter()
        .find(|t| t.weekday == 2 && t.room == "Salle A")
        .expect("Haren's Tuesday session")
        .id
}
