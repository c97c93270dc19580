//! The bindings as the shells get them: Kotlin, Swift and Python generated from the built
//! library, and the generated Python driven against a real server (on SQLite and PostgreSQL)
//! through a family's day: sign in, ask for a visit, lose the server, keep working, come back,
//! see the coordinator's decision; and wrong inputs raising the right errors.

use std::path::Path;
use std::process::Command;

use chrono::Weekday;
use reguide_tests::phones::blocking;
use reguide_tests::visits::{next_weekday, table_rules};
use reguide_tests::{Backend, DEMO_PASSWORD, DemoUser, TestApp, both_backends, expect_json};
use serde_json::{Value, json};
use uniffi::TargetLanguage;

mod support;

use support::{generate, python_package};

#[test]
fn kotlin_swift_and_python_bindings_are_generated() {
    let out = tempfile::tempdir().expect("dir");
    generate(
        vec![
            TargetLanguage::Kotlin,
            TargetLanguage::Swift,
            TargetLanguage::Python,
        ],
        out.path(),
    );
    for (file, expected) in [
        ("uniffi/reguide_ffi/reguide_ffi.kt", "class Companion"),
        (
            "uniffi/reguide_ffi/reguide_ffi.kt",
            "interface CompanionListener",
        ),
        ("uniffi/reguide_ffi/reguide_ffi.kt", "suspend fun `syncNow`"),
        ("reguide_ffi.swift", "open class Companion"),
        ("reguide_ffi.swift", "func syncNow() async throws"),
        (
            "reguide_ffiFFI.h",
            "uniffi_reguide_ffi_fn_method_companion_overview",
        ),
        ("reguide_ffiFFI.modulemap", "reguide_ffiFFI"),
        ("reguide_ffi.py", "class Companion"),
    ] {
        let text = std::fs::read_to_string(out.path().join(file))
            .unwrap_or_else(|e| panic!("{file} was not generated: {e}"));
        assert!(text.contains(expected), "{file} lacks {expected:?}");
    }
}

/// Runs one phase of `tests/python/companion.py`; returns the JSON it printed.
fn python(package: &Path, phase: &str, args: &Value) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/companion.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(phase)
        .arg(args.to_string())
        .env("PYTHONPATH", package)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "phase {phase} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("phase {phase} printed {stdout:?}: {e}"))
}

both_backends! {
    async fn python_drives_a_family_day_through_the_bindings(backend: Backend) {
        let mut app = TestApp::spawn(backend).await;
        let v = app.visits_demo().await;
        let package = python_package();
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        // Haren's coordinator decides on table visits (no automatic confirmation).
        app.set_rules(&coordinator, v.demo.haren, &table_rules(false)).await;
        let session = app.table_session(&coordinator, v.demo.haren, Weekday::Fri, 2).await;
        let date = next_weekday(Weekday::Fri, 3);
        let day: Value = {
            let when = chrono::Utc::now().date_naive() + chrono::Duration::days(30);
            let deadline = (when - chrono::Duration::days(2)).and_hms_opt(12, 0, 0).expect("t").and_utc();
            let body = json!({
                "title": "Family day", "date": when, "starts_at": "10:00", "ends_at": "16:00",
                "programme": "Games", "capacity_families": 5, "capacity_people": 30,
                "registration_deadline": deadline,
            });
            let path = format!("/api/v1/prisons/{}/family-days", v.demo.haren);
            expect_json(app.post_json(&path, Some(&coordinator), &body).await, 201).await
        };
        let folders = tempfile::tempdir().expect("dir");
        let mut args = json!({
            "dir": folders.path().join("fatima"),
            "url": app.address,
            "email": DemoUser::FamilyMember.email(),
            "staff_email": DemoUser::Coordinator.email(),
            "password": DEMO_PASSWORD,
            "member": v.a.member("Fatima Benali").to_string(),
            "detainee": v.a.detainee.to_string(),
            "prison": v.demo.haren.to_string(),
            "template": session.id.to_string(),
            "date": date.to_string(),
            "family_day": day["id"],
        });
        let dir = package.path().to_path_buf();
        let run = |phase: &'static str, args: Value| {
            let dir = dir.clone();
            blocking(move || python(&dir, phase, &args))
        };

        let online = run("online", args.clone()).await;
        let request: uuid::Uuid = online["request"].as_str().and_then(|s| s.parse().ok()).expect("id");
        args["request"] = online["request"].clone();

        // The server goes away; the phone keeps working.
        app.stop().await;
        let offline = run("offline", args.clone()).await;
        args["registration"] = offline["registration"].clone();

        // It comes back (elsewhere); the coordinator confirms the visit.
        app.restart().await;
        args["url"] = json!(app.address);
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        app.visit_action(&coordinator, request, "decision", &json!({ "action": "confirm", "rank": 1 })).await;
        run("back", args.clone()).await;
        let fatima = app.login_as(DemoUser::FamilyMember).await;
        let visit = app.visit_request(&fatima, request).await;
        assert_eq!(visit.status, reguide_tests::protocol::visits::VisitStatus::Confirmed);

        run("invalid", args).await;
    }
}
