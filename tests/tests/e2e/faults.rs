//! Faults: a server instance in a process of its own, killed with SIGKILL (`kill -9`) at a
//! random moment while families book the last places through it, then started again. What it
//! acknowledged stays, no slot is overbooked, no place is held without a confirmed visit, and
//! the other instance serves throughout.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::Weekday;
use reguide_tests::protocol::visits::{VisitRequest, VisitType};
use reguide_tests::visits::{REQUESTS, next_weekday};
use reguide_tests::{DemoUser, TestApp, both_backends, expect_json};
use serde_json::Value;
use uuid::Uuid;

/// A delay between 5 and 155 ms, different at every call: where in the burst the kill lands.
fn random_delay() -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    Duration::from_millis(5 + u64::from(nanos % 150))
}

both_backends! {
    async fn a_killed_instance_loses_no_acknowledged_booking_and_never_overbooks(app: TestApp) {
        const ROUNDS: usize = 3;
        const PER_ROUND: usize = 20;
        let demo = app.demo_data().await;
        let haren = demo.haren;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let t = app.table_session(&coordinator, haren, Weekday::Fri, 10).await;
        let d = next_weekday(Weekday::Fri, 3);
        let families = app.new_visiting_families(&admin, haren, "Fault family", ROUNDS * PER_ROUND, 20).await;
        let mut node = app.spawn_process_instance().await;

        let (mut acknowledged, mut cut_off) = (Vec::<Uuid>::new(), 0);
        for (round, batch) in families.chunks(PER_ROUND).enumerate() {
            let mut asks = tokio::task::JoinSet::new();
            for family in batch {
                let request = app
                    .client
                    .post(node.url(REQUESTS))
                    .bearer_auth(&admin)
                    .json(&family.table_request(t.id, d));
                asks.spawn(async move {
                    let resp = request.send().await.ok()?;
                    let status = resp.status().as_u16();
                    let body: Value = resp.json().await.ok()?;
                    Some((status, body))
                });
            }
            let delay = random_delay();
            tokio::time::sleep(delay).await;
            node.kill();
            let mut answered = 0;
            while let Some(done) = asks.join_next().await {
                match done.expect("the request task ran") {
                    Some((201, body)) => {
                        answered += 1;
                        let id = body["id"].as_str().and_then(|id| id.parse().ok());
                        acknowledged.push(id.expect("an acknowledged request has an id"));
                    }
                    Some((status, body)) => panic!("round {round}: unexpected answer {status}: {body}"),
                    None => cut_off += 1,
                }
            }
            eprintln!("{:?} round {round}: killed after {delay:?}, {answered} acknowledged", app.backend);
            // The other instance served all along; the killed one comes back on the same data.
            app.assert_healthy().await;
            node.restart().await;
            node.assert_healthy().await;
        }
        eprintln!("{:?}: {} acknowledged, {cut_off} cut off by the kills", app.backend, acknowledged.len());

        // Every acknowledged request is stored, as it was answered.
        for id in &acknowledged {
            let stored: VisitRequest = app.visit_request(&admin, *id).await;
            assert_eq!(stored.id, *id);
        }
        // No overbooking, and the slot's counter is exactly the confirmed visits in it: no
        // place held by a request cut off half-way, none given without a place.
        let slot = app.slot(&admin, haren, t.id, d, VisitType::Table).await;
        assert!(slot.booked <= slot.capacity, "{slot:?}");
        let confirmed: Vec<VisitRequest> = expect_json(
            app.get(&format!("{REQUESTS}?prison_id={haren}&status=confirmed"), Some(&coordinator)).await,
            200,
        )
        .await;
        let in_slot = confirmed
            .iter()
            .filter(|r| r.slot.as_ref().is_some_and(|s| s.template_id == t.id && s.date == d))
            .count();
        assert_eq!(in_slot, slot.booked as usize, "places held = confirmed visits");
        // Booking goes on through the restarted instance.
        let late = app.new_visiting_family(&admin, haren, "Late family").await;
        let resp = node.post_json(REQUESTS, Some(&admin), &late.table_request(t.id, d)).await;
        assert_eq!(resp.status().as_u16(), 201);
    }
}
