//! Administrative steps: a social worker applies a regional template, the family ticks and notes
//! offline and syncs, the worker sees it; statuses with their history; a family cannot change a
//! worker's step; bad input; who may see and change a family's steps, appointments and the
//! templates.

use reguide_client_core::Client;
use reguide_tests::phones::{blocking, fatimas_phone};
use reguide_tests::protocol::FamilyId;
use reguide_tests::protocol::doc::status::StepStatus;
use reguide_tests::protocol::steps::{StepDetail, StepTemplate};
use reguide_tests::{DemoData, DemoUser, TestApp, assert_error, both_backends, expect_json};
use reqwest::Method;
use serde_json::{Value, json};

fn steps_path(family: FamilyId) -> String {
    format!("/api/v1/families/{family}/steps")
}

async fn steps(app: &TestApp, token: &str, family: FamilyId) -> Vec<StepDetail> {
    expect_json(app.get(&steps_path(family), Some(token)).await, 200).await
}

async fn create(app: &TestApp, token: &str, family: FamilyId, body: Value) -> StepDetail {
    expect_json(
        app.post_json(&steps_path(family), Some(token), &body).await,
        201,
    )
    .await
}

async fn change(
    app: &TestApp,
    token: &str,
    family: FamilyId,
    step: &str,
    body: Value,
) -> reqwest::Response {
    let path = format!("{}/{step}", steps_path(family));
    app.request(Method::PATCH, &path, Some(token), Some(&body))
        .await
}

both_backends! {
    async fn a_worker_applies_a_regional_template_and_sees_what_the_family_did_offline(app: TestApp) {
        let demo = app.demo_data().await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let templates: Vec<StepTemplate> = expect_json(
            app.get("/api/v1/step-templates?region=brussels", Some(&social)).await, 200).await;
        assert!(templates.len() >= 2 && templates.iter().all(|t| t.region.as_str() == "brussels"));
        let template = &templates[0];

        let body = json!({ "template": template.key, "language": "fr" });
        let path = format!("{}/from-template", steps_path(demo.family_a));
        let created: Vec<StepDetail> =
            expect_json(app.post_json(&path, Some(&social), &body).await, 201).await;
        assert_eq!(created.len(), template.steps.len());
        let first = &template.steps[0];
        let made = created
            .iter()
            .find(|s| s.template.as_deref() == Some(&format!("{}/{}", template.key, first.key)))
            .expect("the first step");
        assert_eq!(made.title, first.title[&reguide_tests::protocol::Language::Fr]);
        assert_eq!(made.status, StepStatus::Todo);
        assert_eq!(made.checklist.len(), first.checklist.len());
        if let Some(days) = first.due_in_days {
            let today = chrono::Utc::now()
                .with_timezone(&reguide_tests::protocol::time::DEFAULT_TIME_ZONE)
                .date_naive();
            assert_eq!(made.due_date, Some(today + chrono::Duration::days(days)));
        }
        assert_eq!(made.history[0].kind, "created");
        assert_eq!(made.history[0].staff_account, Some(demo.account(DemoUser::SocialWorker)));
        let unknown = json!({ "template": "no-such-template" });
        assert_error(app.post_json(&path, Some(&social), &unknown).await, 400, "template_not_found").await;

        // The family's phone gets the steps, ticks an item and adds a note offline, then syncs.
        let folders = tempfile::tempdir().expect("dir");
        let dir = folders.path().join("fatima");
        let phone = fatimas_phone(&app, dir.clone()).await;
        let fatima = phone.session().expect("signed in").member_id.to_string();
        let (step_id, item_id) = (made.id.clone(), made.checklist[0].id.clone());
        let url = app.address.clone();
        blocking(move || {
            let listed = phone.steps().expect("steps");
            assert!(listed.iter().any(|s| s.step.id == step_id), "the steps reached the phone");
            drop(phone);
            let mut offline = Client::open(&dir, None, "http://127.0.0.1:9").expect("offline");
            offline.tick_item(&step_id, &item_id, true).expect("tick offline");
            offline.add_note(&step_id, "The town hall asks for a photo").expect("note offline");
            drop(offline);
            let mut online = Client::open(&dir, None, &url).expect("online");
            online.sync_now().expect("sync");
        })
        .await;

        let seen = steps(&app, &social, demo.family_a).await;
        let step = seen.iter().find(|s| s.id == made.id).expect("the step");
        assert!(step.checklist[0].ticked, "the worker sees the tick");
        assert_eq!(step.notes.len(), 1);
        assert_eq!(step.notes[0].text, "The town hall asks for a photo");
        assert_eq!(step.notes[0].by, fatima);
        let tick = step.history.iter().find(|h| h.kind == "ticked").expect("in the history");
        assert_eq!((tick.by.as_str(), tick.staff_account), (fatima.as_str(), None));
    }

    async fn the_demo_mother_ticks_the_rent_contract_on_her_housing_step(app: TestApp) {
        // The walkthrough "A mother, offline most of the week", on the demo data.
        let demo = app.demo_data().await;
        let folders = tempfile::tempdir().expect("dir");
        let dir = folders.path().join("fatima");
        let phone = fatimas_phone(&app, dir.clone()).await;
        let url = app.address.clone();
        let housing = blocking(move || {
            let steps = phone.steps().expect("steps");
            assert!(steps.len() >= 6, "the Brussels template and the housing file");
            let housing = steps
                .iter()
                .find(|s| s.step.title.starts_with("Logement"))
                .expect("the housing step, in French");
            let (item, _) = housing
                .step
                .checklist
                .iter()
                .find(|(_, i)| i.label == "Copie du contrat de bail envoyée")
                .expect("the item");
            let (id, item) = (housing.step.id.clone(), item.clone());
            drop(phone);
            let mut offline = Client::open(&dir, None, "http://127.0.0.1:9").expect("offline");
            offline.tick_item(&id, &item, true).expect("ticked on the bus");
            drop(offline);
            let mut online = Client::open(&dir, None, &url).expect("at the café");
            online.sync_now().expect("sync");
            id
        })
        .await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let seen = steps(&app, &social, demo.family_a).await;
        let step = seen.iter().find(|s| s.id == housing).expect("the step");
        let item = step.checklist.iter().find(|c| c.label == "Copie du contrat de bail envoyée").expect("item");
        assert!(item.ticked, "the justice assistant sees it");
    }

    async fn statuses_and_changes_are_recorded_with_who_made_them(app: TestApp) {
        let demo = app.demo_data().await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let worker = demo.account(DemoUser::SocialWorker);
        let step = create(&app, &social, demo.family_b, json!({
            "title": "Apply for the integration income", "category": "income",
            "owner": "worker", "next_actor": "social_worker", "agency": "CPAS de Bruges",
            "due_date": "2027-03-01", "checklist": ["Book an appointment", "Bring the lease"],
            "documents": ["Identity card"],
        })).await;
        assert_eq!((step.status, step.next_actor.as_str()), (StepStatus::Todo, "social_worker"));

        let moved: StepDetail = expect_json(change(&app, &social, demo.family_b, &step.id,
            json!({ "status": "in_progress" })).await, 200).await;
        assert_eq!(moved.status, StepStatus::InProgress);
        assert_error(change(&app, &social, demo.family_b, &step.id,
            json!({ "status": "blocked" })).await, 400, "reason_required").await;
        let blocked: StepDetail = expect_json(change(&app, &social, demo.family_b, &step.id,
            json!({ "status": "blocked", "reason": "Waiting for the birth certificate" })).await, 200).await;
        assert_eq!(blocked.status, StepStatus::Blocked);
        assert_eq!(blocked.blocked_reason.as_deref(), Some("Waiting for the birth certificate"));

        let edited: StepDetail = expect_json(change(&app, &social, demo.family_b, &step.id, json!({
            "title": "Apply for the integration income (CPAS)", "clear_due_date": true,
            "next_actor": "agency", "add_checklist": ["Sign the integration contract"],
            "status": "waiting_on_agency",
        })).await, 200).await;
        assert_eq!(edited.due_date, None);
        assert!(!edited.overdue);
        assert_eq!(edited.checklist.len(), 3);
        assert_eq!(edited.status, StepStatus::WaitingOnAgency);
        let updated = edited.history.iter().find(|h| h.kind == "updated").expect("updated");
        assert_eq!(updated.detail.as_deref(), Some("title, next_actor, due_date, checklist"));
        assert!(edited.history.iter().all(|h| h.staff_account == Some(worker)));
        let kinds: Vec<&str> = edited.history.iter().map(|h| h.kind.as_str()).collect();
        assert_eq!(kinds, ["created", "in_progress", "blocked", "updated", "waiting_on_agency"]);

        // The worker ticks an item of the worker's step, and notes.
        let item = edited.checklist[0].id.clone();
        let path = format!("{}/{}/checklist/{item}", steps_path(demo.family_b), step.id);
        let ticked: StepDetail =
            expect_json(app.post_json(&path, Some(&social), &json!({ "ticked": true })).await, 200).await;
        assert!(ticked.checklist.iter().find(|c| c.id == item).expect("item").ticked);
        let path = format!("{}/{}/notes", steps_path(demo.family_b), step.id);
        let noted: StepDetail =
            expect_json(app.post_json(&path, Some(&social), &json!({ "text": "Called the CPAS" })).await, 201).await;
        assert_eq!((noted.notes[0].by.as_str(), noted.notes[0].staff_account), ("server", Some(worker)));

        // An overdue step is flagged.
        let late = create(&app, &social, demo.family_b, json!({
            "title": "Renew the identity card", "category": "identity_documents",
            "due_date": "2020-01-31",
        })).await;
        assert!(late.overdue);
        let done: StepDetail = expect_json(change(&app, &social, demo.family_b, &late.id,
            json!({ "status": "done" })).await, 200).await;
        assert!(!done.overdue, "a done step is never overdue");
    }

    async fn bad_step_input_names_the_field_and_writes_nothing(app: TestApp) {
        let demo = app.demo_data().await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let family = demo.family_a;
        let before = steps(&app, &social, family).await.len();
        for (body, field, code) in [
            (json!({ "title": "  ", "category": "housing" }), "title", "invalid_value"),
            (json!({ "title": "x".repeat(201), "category": "housing" }), "title", "invalid_value"),
            (json!({ "title": "Find a flat", "category": "flats" }), "category", "invalid_value"),
            (json!({ "title": "Find a flat", "category": "housing", "due_date": "1999-12-31" }), "due_date", "invalid_date"),
            (json!({ "title": "Find a flat", "category": "housing", "checklist": [""] }), "checklist[0]", "invalid_value"),
            (json!({ "title": "Find a flat", "category": "housing", "checklist": vec!["item"; 31] }), "checklist", "too_many_items"),
            (json!({ "title": "Find a flat", "category": "housing", "colour": "red" }), "colour", "unknown_field"),
        ] {
            let resp = app.post_json(&steps_path(family), Some(&social), &body).await;
            assert_eq!(resp.status(), 400, "{body}");
            let error: Value = resp.json().await.expect("json");
            assert_eq!((error["error"].as_str(), error["field"].as_str()), (Some(code), Some(field)), "{body}");
        }
        assert_eq!(steps(&app, &social, family).await.len(), before, "nothing was written");

        let step = create(&app, &social, family, json!({ "title": "Find a flat", "category": "housing" })).await;
        assert_error(change(&app, &social, family, "no-such-step", json!({ "status": "done" })).await, 404, "step_not_found").await;
        assert_error(change(&app, &social, family, &step.id,
            json!({ "due_date": "2027-01-01", "clear_due_date": true })).await, 400, "conflicting_fields").await;
        assert_error(change(&app, &social, family, &step.id,
            json!({ "reason": "why" })).await, 400, "reason_without_status").await;
        assert_error(change(&app, &social, family, &step.id,
            json!({ "status": "finished" })).await, 400, "invalid_value").await;
        let path = format!("{}/{}/checklist/nope", steps_path(family), step.id);
        assert_error(app.post_json(&path, Some(&social), &json!({ "ticked": true })).await, 404, "item_not_found").await;
        let path = format!("{}/{}/notes", steps_path(family), step.id);
        assert_error(app.post_json(&path, Some(&social), &json!({ "text": "  " })).await, 400, "invalid_value").await;
        let unchanged = steps(&app, &social, family).await.into_iter().find(|s| s.id == step.id).expect("step");
        assert_eq!(unchanged.history.len(), 1, "only its creation: {:?}", unchanged.history);
    }

    async fn a_family_cannot_change_a_step_the_worker_owns(app: TestApp) {
        let demo = app.demo_data().await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let step = create(&app, &social, demo.family_a, json!({
            "title": "Register the children's birth", "category": "children_civil_status",
            "owner": "worker", "checklist": ["Translate the certificate"],
        })).await;
        let fatima = app.login_as(DemoUser::FamilyMember).await;
        // Not through the API…
        assert_error(change(&app, &fatima, demo.family_a, &step.id, json!({ "status": "done" })).await, 403, "forbidden").await;
        let create_body = json!({ "title": "Mine", "category": "other" });
        assert_error(app.post_json(&steps_path(demo.family_a), Some(&fatima), &create_body).await, 403, "forbidden").await;
        // …nor from the phone, whose write policy is the server's.
        let folders = tempfile::tempdir().expect("dir");
        let phone = fatimas_phone(&app, folders.path().join("fatima")).await;
        let (id, item) = (step.id.clone(), step.checklist[0].id.clone());
        blocking(move || {
            let mut phone = phone;
            let err = phone.tick_item(&id, &item, true).expect_err("refused");
            assert_eq!(err.code(), "step_not_family_owned");
            assert!(!phone.sync_status().pending_changes, "nothing was written");
            phone.add_note(&id, "We have the certificate").expect("notes are welcome");
            phone.sync_now().expect("sync");
        })
        .await;
        let seen = steps(&app, &social, demo.family_a).await;
        let seen = seen.iter().find(|s| s.id == step.id).expect("the step");
        assert_eq!(seen.notes.len(), 1, "the note arrived");
        assert!(!seen.checklist[0].ticked);
    }
}

// ---- Who may do what --------------------------------------------------------------------------

const CALLERS: [Option<DemoUser>; 6] = [
    None,
    Some(DemoUser::FamilyMember),
    Some(DemoUser::Facilitator),
    Some(DemoUser::SocialWorker),
    Some(DemoUser::Coordinator),
    Some(DemoUser::Admin),
];

#[derive(Clone, Copy, Debug)]
enum Call {
    List,
    Create,
    Apply,
    Change,
    Tick,
    Note,
    Appointments,
    Propose,
    Answer,
    ListTemplates,
    GetTemplate,
    PutTemplate,
}

#[derive(Clone, Copy, Debug)]
enum Of {
    A,
    B,
    C,
    Fixed,
}

#[rustfmt::skip]
const MATRIX: &[(Call, Of, [u16; 6])] = &[
    //                        anon  family facil. social coord. admin
    (Call::List,    Of::A, [401,  200,   404,   200,   404,   404]),
    (Call::List,    Of::B, [401,  404,   404,   200,   404,   404]),
    (Call::List,    Of::C, [401,  404,   404,   404,   404,   404]),
    (Call::Create,  Of::A, [401,  403,   404,   201,   404,   404]),
    (Call::Create,  Of::B, [401,  404,   404,   201,   404,   404]),
    (Call::Create,  Of::C, [401,  404,   404,   404,   404,   404]),
    (Call::Apply,   Of::A, [401,  403,   404,   201,   404,   404]),
    (Call::Apply,   Of::B, [401,  404,   404,   201,   404,   404]),
    (Call::Apply,   Of::C, [401,  404,   404,   404,   404,   404]),
    (Call::Change,  Of::A, [401,  403,   404,   200,   404,   404]),
    (Call::Change,  Of::B, [401,  404,   404,   200,   404,   404]),
    (Call::Change,  Of::C, [401,  404,   404,   404,   404,   404]),
    (Call::Tick,    Of::A, [401,  403,   404,   200,   404,   404]),
    (Call::Tick,    Of::B, [401,  404,   404,   200,   404,   404]),
    (Call::Tick,    Of::C, [401,  404,   404,   404,   404,   404]),
    (Call::Note,    Of::A, [401,  403,   404,   201,   404,   404]),
    (Call::Note,    Of::B, [401,  404,   404,   201,   404,   404]),
    (Call::Note,    Of::C, [401,  404,   404,   404,   404,   404]),
    (Call::Appointments, Of::A, [401, 200, 404, 200, 404, 404]),
    (Call::Appointments, Of::B, [401, 404, 404, 200, 404, 404]),
    (Call::Appointments, Of::C, [401, 404, 404, 404, 404, 404]),
    (Call::Propose, Of::A, [401, 403, 404, 201, 404, 404]),
    (Call::Propose, Of::B, [401, 404, 404, 201, 404, 404]),
    (Call::Propose, Of::C, [401, 404, 404, 404, 404, 404]),
    (Call::Answer,  Of::A, [401, 403, 404, 200, 404, 404]),
    (Call::Answer,  Of::B, [401, 404, 404, 200, 404, 404]),
    (Call::Answer,  Of::C, [401, 404, 404, 404, 404, 404]),
    (Call::ListTemplates, Of::Fixed, [401, 403, 403, 200, 403, 200]),
    (Call::GetTemplate,   Of::Fixed, [401, 403, 403, 200, 403, 200]),
    (Call::PutTemplate,   Of::Fixed, [401, 403, 403, 403, 403, 201]),
];

fn family(demo: &DemoData, of: Of) -> FamilyId {
    match of {
        Of::A => demo.family_a,
        Of::B => demo.family_b,
        Of::C => demo.family_c,
        Of::Fixed => panic!("no family"),
    }
}

both_backends! {
    async fn steps_access_matrix(app: TestApp) {
        let demo = app.demo_data().await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let template: StepTemplate =
            expect_json(app.get("/api/v1/step-templates/brussels-first-month", Some(&social)).await, 200).await;
        // A step with an item in A and B; C has no worker, so a made-up id stands there.
        let mut targets = std::collections::HashMap::new();
        for of in [Of::A, Of::B] {
            let step = create(&app, &social, family(&demo, of), json!({
                "title": "Matrix step", "category": "other", "owner": "worker", "checklist": ["x"],
            })).await;
            let appointment: Value = expect_json(app.post_json(
                &format!("/api/v1/families/{}/appointments", family(&demo, of)), Some(&social),
                &json!({ "starts_at": chrono::Utc::now() + chrono::Duration::days(2),
                         "place": "CPAS", "purpose": "Matrix" })).await, 201).await;
            let appointment = appointment["id"].as_str().expect("id").to_owned();
            targets.insert(family(&demo, of), (step.id.clone(), step.checklist[0].id.clone(), appointment));
        }
        targets.insert(demo.family_c, ("no-step".into(), "no-item".into(), "no-appointment".into()));

        let mut tokens = Vec::new();
        for caller in CALLERS {
            tokens.push(match caller {
                Some(user) => Some(app.login_as(user).await),
                None => None,
            });
        }
        let mut mismatches = Vec::new();
        let mut cells = 0;
        for (n, (call, of, expected)) in MATRIX.iter().enumerate() {
            for (column, token) in tokens.iter().enumerate() {
                let (method, path, body) = match call {
                    Call::ListTemplates => (Method::GET, "/api/v1/step-templates".to_owned(), None),
                    Call::GetTemplate => (Method::GET, format!("/api/v1/step-templates/{}", template.key), None),
                    Call::PutTemplate => {
                        let mut copy = template.clone();
                        copy.key = format!("matrix-{n}-{column}");
                        (Method::PUT, format!("/api/v1/step-templates/{}", copy.key),
                            Some(serde_json::to_value(&copy).expect("json")))
                    }
                    _ => {
                        let family = family(&demo, *of);
                        let (step, item, appointment) = &targets[&family];
                        let base = steps_path(family);
                        let meetings = format!("/api/v1/families/{family}/appointments");
                        match call {
                            Call::List => (Method::GET, base, None),
                            Call::Create => (Method::POST, base, Some(json!({ "title": "Matrix", "category": "other" }))),
                            Call::Apply => (Method::POST, format!("{base}/from-template"), Some(json!({ "template": template.key }))),
                            Call::Change => (Method::PATCH, format!("{base}/{step}"), Some(json!({ "status": "in_progress" }))),
                            Call::Tick => (Method::POST, format!("{base}/{step}/checklist/{item}"), Some(json!({ "ticked": true }))),
                            Call::Note => (Method::POST, format!("{base}/{step}/notes"), Some(json!({ "text": "Matrix" }))),
                            Call::Appointments => (Method::GET, meetings, None),
                            Call::Propose => (Method::POST, meetings, Some(json!({
                                "starts_at": chrono::Utc::now() + chrono::Duration::days(3),
                                "place": "CPAS", "purpose": "Matrix" }))),
                            Call::Answer => (Method::POST, format!("{meetings}/{appointment}/answer"),
                                Some(json!({ "answer": "cancelled" }))),
                            _ => unreachable!(),
                        }
                    }
                };
                let resp = app.request(method.clone(), &path, token.as_deref(), body.as_ref()).await;
                let status = resp.status().as_u16();
                cells += 1;
                if status != expected[column] {
                    mismatches.push(format!("{call:?} {of:?} as {:?}: {status}, wanted {}", CALLERS[column], expected[column]));
                    continue;
                }
                let code = match status {
                    401 => Some("unauthenticated"),
                    403 => Some("forbidden"),
                    404 => Some("family_not_found"),
                    _ => None,
                };
                if let Some(code) = code {
                    let error: Value = resp.json().await.expect("json");
                    if error["error"] != code {
                        mismatches.push(format!("{call:?} {of:?} as {:?}: {} instead of {code}", CALLERS[column], error["error"]));
                    }
                }
            }
        }
        assert!(mismatches.is_empty(), "{} of {cells} cells wrong:\n{}", mismatches.len(), mismatches.join("\n"));
        assert_eq!(cells, MATRIX.len() * CALLERS.len());
    }

    async fn admins_edit_templates_in_every_language(app: TestApp) {
        let admin = app.login_as(DemoUser::Admin).await;
        let mut template: StepTemplate =
            expect_json(app.get("/api/v1/step-templates/flanders-first-month", Some(&admin)).await, 200).await;
        template.steps[0].title.insert(reguide_tests::protocol::Language::Nl, "Domicilie aanvragen".into());
        let path = "/api/v1/step-templates/flanders-first-month";
        let saved: StepTemplate = expect_json(
            app.request(Method::PUT, path, Some(&admin), Some(&serde_json::to_value(&template).expect("json"))).await, 200).await;
        assert_eq!(saved, template);
        let social = app.login_as(DemoUser::SocialWorker).await;
        let read: StepTemplate = expect_json(app.get(path, Some(&social)).await, 200).await;
        assert_eq!(read.steps[0].title[&reguide_tests::protocol::Language::Nl], "Domicilie aanvragen");

        let mut missing = template.clone();
        missing.steps[1].description.remove(&reguide_tests::protocol::Language::Fr);
        let resp = app.request(Method::PUT, path, Some(&admin), Some(&serde_json::to_value(&missing).expect("json"))).await;
        assert_eq!(resp.status(), 400);
        let error: Value = resp.json().await.expect("json");
        assert_eq!((error["error"].as_str(), error["field"].as_str()), (Some("invalid_template"), Some("steps[1].description.fr")));
        let mut other = template.clone();
        other.key = "another-key".into();
        assert_error(app.request(Method::PUT, path, Some(&admin), Some(&serde_json::to_value(&other).expect("json"))).await, 400, "key_mismatch").await;
        assert_error(app.get("/api/v1/step-templates?region=mars", Some(&social)).await, 400, "invalid_value").await;
        assert_error(app.get("/api/v1/step-templates/no-such", Some(&social)).await, 404, "template_not_found").await;
    }
}
