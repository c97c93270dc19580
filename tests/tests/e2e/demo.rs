//! `--demo`: seeds an empty database once, leaves a demo database alone, and refuses to touch a
//! database that holds real data.

use reguide_server::db;
use reguide_server::demo::{self, Seeded};
use reguide_tests::{Backend, DemoUser, TestApp, both_backends};

fn seed(app: &TestApp) -> anyhow::Result<Seeded> {
    let pool = db::connect(app.database_url(), 1)?;
    let mut conn = pool.get()?;
    demo::seed(&mut conn)
}

both_backends! {
    async fn demo_data_is_seeded_once(app: TestApp) {
        // The harness started this server with demo data: a second seeding changes nothing.
        assert_eq!(seed(&app).expect("seed again"), Seeded::AlreadyThere);
        let admin = app.login_as(DemoUser::Admin).await;
        let families: Vec<serde_json::Value> =
            reguide_tests::expect_json(app.get("/api/v1/families", Some(&admin)).await, 200).await;
        assert_eq!(families.len(), 3, "no family seeded twice");
    }

    async fn demo_refuses_a_database_with_real_data(backend: Backend) {
        let empty = TestApp::spawn_empty(backend).await;
        empty.execute_sql(
            "INSERT INTO prisons (id, name, city, time_zone, created_at) \
             VALUES ('7d1c1a8e-8f55-4a43-9d0c-0e0e0e0e0e0e', 'Real prison', 'Namur', 'Europe/Brussels', '2026-01-01 10:00:00')",
        );
        let refused = seed(&empty).expect_err("real data must not be mixed with demo data");
        assert!(refused.to_string().contains("refused"), "{refused}");
        // Nothing was added: still the one real prison and no account.
        assert_eq!(empty.execute_sql("UPDATE prisons SET city = city"), 1);
        assert_eq!(empty.execute_sql("UPDATE accounts SET disabled = disabled"), 0);
    }
}
