//! The web admin's rules over plain HTTP, as a browser without JavaScript meets them: its
//! cookies and security headers, CSRF protection, when sessions end, who may open which page,
//! forms refused with their problem shown, the language switch and the day list's CSV.
//! `web_browser.rs` drives the same pages in a real browser; `web_admin_matrix/` holds the
//! whole table of who may open every page and send every form.

use reguide_tests::protocol::visits::VisitStatus;
use reguide_tests::web::{SESSION_COOKIE, SIGN_IN_COOKIE, WebSession, input_value, set_cookie};
use reguide_tests::{DEMO_PASSWORD, DemoUser, TestApp, both_backends};
use reqwest::{StatusCode, header};

fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn assert_strict_cookie(set_cookie: &str) {
    for part in ["Path=/", "Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(set_cookie.contains(part), "{set_cookie} lacks {part}");
    }
    assert!(set_cookie.starts_with("__Host-"), "{set_cookie}");
    assert!(!set_cookie.contains("Domain"), "{set_cookie}");
}

/// The request's status as the API tells it.
async fn status_of(app: &TestApp, id: uuid::Uuid) -> VisitStatus {
    let admin = app.login_as(DemoUser::Admin).await;
    app.visit_request(&admin, id).await.status
}

both_backends! {
    async fn pages_come_with_strict_cookies_and_security_headers(app: TestApp) {
        let resp = app.web_get("/admin/sign-in", None).await;
        assert_eq!(resp.status(), 200);
        let headers = resp.headers().clone();
        let policy = headers.get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(policy.contains("default-src 'none'"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(!policy.contains("script-src"), "no script is allowed at all: {policy}");
        assert_eq!(headers.get(header::X_FRAME_OPTIONS).and_then(|v| v.to_str().ok()), Some("DENY"));
        assert_eq!(headers.get(header::X_CONTENT_TYPE_OPTIONS).and_then(|v| v.to_str().ok()), Some("nosniff"));
        assert_eq!(headers.get(header::REFERRER_POLICY).and_then(|v| v.to_str().ok()), Some("same-origin"));
        let (_, sign_in_cookie) = set_cookie(&resp, SIGN_IN_COOKIE).expect("a sign-in cookie");
        assert_strict_cookie(&sign_in_cookie);
        let html = resp.text().await.expect("page");
        assert!(!html.contains("<script"), "no script on the page");
        assert!(html.contains("<label for=\"login\">") && html.contains("id=\"login\""));

        let resp = app.web_sign_in_raw(DemoUser::Coordinator.email(), DEMO_PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&resp), "/admin");
        let (cookie, session_cookie) = set_cookie(&resp, SESSION_COOKIE).expect("a session cookie");
        assert_strict_cookie(&session_cookie);
        let session = WebSession { cookie };
        let home = app.web_page("/admin", &session).await;
        assert!(home.contains("href=\"/admin/visits\"") && home.contains("href=\"/admin/prisons\""));
        for other in ["/admin/audit", "/admin/accounts", "/admin/caseload", "/admin/living-labs"] {
            assert!(!home.contains(&format!("href=\"{other}\"")), "a coordinator is not offered {other}");
        }

        // The stylesheet comes from the binary.
        let css = app.web_get("/admin/static/admin.css", None).await;
        assert_eq!(css.status(), 200);
        assert!(css.headers()[header::CONTENT_TYPE].to_str().expect("type").starts_with("text/css"));
        assert!(css.text().await.expect("css").contains("@media print"));
    }

    async fn forms_without_their_token_or_from_another_site_change_nothing(app: TestApp) {
        let request = app.pending_visit().await;
        let path = format!("/admin/visits/{}/decision", request.id);

        // Signing in: the form's token must match its cookie, and come from this site.
        let token = app.web_sign_in_token().await;
        let login = [("login", DemoUser::Coordinator.email()), ("password", DEMO_PASSWORD)];
        let with = |csrf: &'static str| [("csrf", csrf), login[0], login[1]];
        let no_cookie = app.web_post("/admin/sign-in", None, &[], &with("x")).await;
        assert_eq!(no_cookie.status(), StatusCode::FORBIDDEN);
        let wrong = app.web_post("/admin/sign-in", None, &[(SIGN_IN_COOKIE, &token)], &with("0000")).await;
        assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
        let form = [("csrf", token.as_str()), login[0], login[1]];
        let elsewhere = app.web_post_from("/admin/sign-in", None, &[(SIGN_IN_COOKIE, &token)], &form, Some("https://evil.example")).await;
        assert_eq!(elsewhere.status(), StatusCode::FORBIDDEN);
        for refused in [no_cookie, wrong, elsewhere] {
            assert!(set_cookie(&refused, SESSION_COOKIE).is_none(), "no session for a refused form");
        }

        let session = app.web_sign_in(DemoUser::Coordinator).await;
        let page = app.web_page(&format!("/admin/visits/{}", request.id), &session).await;
        let csrf = input_value(&page, "csrf").expect("the forms carry a token");
        let confirm = |csrf: &str| vec![("csrf".to_owned(), csrf.to_owned()), ("action".into(), "confirm".into()), ("rank".into(), "1".into())];
        let send = |form: Vec<(String, String)>, origin: Option<&'static str>, session: WebSession| {
            let app = &app;
            let path = path.clone();
            async move {
                let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let origin = origin.map(str::to_owned).unwrap_or_else(|| app.address.clone());
                app.web_post_from(&path, Some(&session), &[], &form, Some(&origin)).await.status()
            }
        };
        // No token, a wrong one, another session's, and the right one from another site.
        let other = app.web_sign_in(DemoUser::Coordinator).await;
        let others_csrf = input_value(&app.web_page("/admin/visits", &other).await, "csrf").expect("token");
        assert_ne!(others_csrf, csrf, "each session has its own token");
        assert_eq!(send(vec![("action".into(), "confirm".into()), ("rank".into(), "1".into())], None, session.clone()).await, StatusCode::FORBIDDEN);
        assert_eq!(send(confirm("f00d"), None, session.clone()).await, StatusCode::FORBIDDEN);
        assert_eq!(send(confirm(&others_csrf), None, session.clone()).await, StatusCode::FORBIDDEN);
        assert_eq!(send(confirm(&csrf), Some("https://evil.example"), session.clone()).await, StatusCode::FORBIDDEN);
        assert_eq!(status_of(&app, request.id).await, VisitStatus::Pending, "nothing changed");

        // The right token from this site decides.
        assert_eq!(send(confirm(&csrf), None, session.clone()).await, StatusCode::SEE_OTHER);
        assert_eq!(status_of(&app, request.id).await, VisitStatus::Confirmed);
    }

    async fn sessions_end_on_sign_out_after_inactivity_and_at_the_latest_after_hours(app: TestApp) {
        // Signing out ends the session in the database, not only in the browser.
        let session = app.web_sign_in(DemoUser::Admin).await;
        let page = app.web_page("/admin", &session).await;
        let csrf = input_value(&page, "csrf").expect("token");
        let out = app.web_post("/admin/sign-out", Some(&session), &[], &[("csrf", &csrf)]).await;
        assert_eq!(out.status(), StatusCode::SEE_OTHER);
        let (cleared, header) = set_cookie(&out, SESSION_COOKIE).expect("the cookie is cleared");
        assert!(cleared.is_empty() && header.contains("Max-Age=0"), "{header}");
        let after = app.web_get("/admin/audit", Some(&session)).await;
        assert_eq!(after.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&after), "/admin/sign-in?next=/admin/audit");
        let form_after = app.web_post("/admin/sign-out", Some(&session), &[], &[("csrf", &csrf)]).await;
        assert_eq!(location(&form_after), "/admin/sign-in?next=/admin", "a form is not sent again after signing in");

        // Unused for longer than the idle limit: ended, and stays ended.
        let idle = app.web_sign_in(DemoUser::Admin).await;
        app.web_page("/admin/audit", &idle).await;
        let minutes = app.config.auth.web_idle_minutes + 1;
        let past = (chrono::Utc::now() - chrono::Duration::minutes(minutes)).naive_utc();
        let changed = app.execute_sql(&format!(
            "UPDATE api_tokens SET last_used_at = '{}' WHERE web = TRUE AND revoked_at IS NULL",
            past.format("%Y-%m-%d %H:%M:%S")
        ));
        assert_eq!(changed, 1);
        assert_eq!(app.web_get("/admin/audit", Some(&idle)).await.status(), StatusCode::SEE_OTHER);
        app.execute_sql("UPDATE api_tokens SET last_used_at = CURRENT_TIMESTAMP WHERE web = TRUE");
        assert_eq!(app.web_get("/admin/audit", Some(&idle)).await.status(), StatusCode::SEE_OTHER, "revoked, not just stale");

        // In use all along, but past its absolute end.
        let busy = app.web_sign_in(DemoUser::Admin).await;
        app.web_page("/admin/audit", &busy).await;
        app.execute_sql("UPDATE api_tokens SET expires_at = CURRENT_TIMESTAMP WHERE web = TRUE AND revoked_at IS NULL");
        assert_eq!(app.web_get("/admin/audit", Some(&busy)).await.status(), StatusCode::SEE_OTHER);

        // The two kinds of token never stand in for each other.
        let bearer = app.login_as(DemoUser::Admin).await;
        let as_cookie = WebSession { cookie: bearer.clone() };
        assert_eq!(app.web_get("/admin/audit", Some(&as_cookie)).await.status(), StatusCode::SEE_OTHER);
        let web = app.web_sign_in(DemoUser::Admin).await;
        assert_eq!(app.get("/api/v1/me", Some(&web.cookie)).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.get("/api/v1/me", Some(&bearer)).await.status(), StatusCode::OK);
    }

    async fn families_cannot_open_the_admin(app: TestApp) {
        let resp = app.web_sign_in_raw(DemoUser::FamilyMember.email(), DEMO_PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert!(set_cookie(&resp, SESSION_COOKIE).is_none_or(|(value, _)| value.is_empty()));
        let html = resp.text().await.expect("page");
        // No language chosen and none asked for by the browser: Dutch.
        assert!(html.contains("Gezinnen gebruiken de reguide-app"), "families are sent to the app: {html}");

        // Their app's token is no key to the admin either; nor is no cookie at all.
        let token = app.login_as(DemoUser::FamilyMember).await;
        let demo = app.demo_data().await;
        for path in [
            "/admin".to_owned(),
            "/admin/visits".to_owned(),
            format!("/admin/families/{}", demo.family_a),
            "/admin/caseload".to_owned(),
            "/admin/audit".to_owned(),
        ] {
            let with_token = app.web_get(&path, Some(&WebSession { cookie: token.clone() })).await;
            assert_eq!(with_token.status(), StatusCode::SEE_OTHER, "{path}");
            assert!(location(&with_token).starts_with("/admin/sign-in?next="), "{path}");
            assert_eq!(app.web_get(&path, None).await.status(), StatusCode::SEE_OTHER, "{path}");
        }

        // A session opened while Fatima held a staff role, taken back since: turned away, and
        // ended where it is stored, not only in the browser.
        let admin = app.login_as(DemoUser::Admin).await;
        let roles = format!("/api/v1/admin/accounts/{}/roles", demo.account(DemoUser::FamilyMember));
        let grant: serde_json::Value =
            reguide_tests::expect_json(app.post_json(&roles, Some(&admin), &serde_json::json!({ "role": "facilitator" })).await, 201).await;
        let session = app.web_sign_in(DemoUser::FamilyMember).await;
        let grant = format!("{roles}/{}", grant["id"].as_str().expect("a grant id"));
        assert_eq!(app.delete(&grant, Some(&admin)).await.status(), StatusCode::NO_CONTENT);
        let turned_away = app.web_get("/admin/living-labs", Some(&session)).await;
        assert_eq!(turned_away.status(), StatusCode::FORBIDDEN);
        let (cleared, _) = set_cookie(&turned_away, SESSION_COOKIE).expect("the cookie is cleared");
        assert!(cleared.is_empty());
        // The old cookie, sent again (a copy kept, another tab), is a signed-out visitor's…
        let replayed = app.web_get("/admin/living-labs", Some(&session)).await;
        assert_eq!(replayed.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&replayed), "/admin/sign-in?next=/admin/living-labs");
        // …even once the account is staff again: that takes signing in anew.
        reguide_tests::expect_json::<serde_json::Value>(app.post_json(&roles, Some(&admin), &serde_json::json!({ "role": "facilitator" })).await, 201).await;
        assert_eq!(app.web_get("/admin/living-labs", Some(&session)).await.status(), StatusCode::SEE_OTHER);
        app.web_page("/admin/living-labs", &app.web_sign_in(DemoUser::FamilyMember).await).await;

        // A wrong password shows the form again, with the problem linked to the field.
        let wrong = app.web_sign_in_raw(DemoUser::Coordinator.email(), "not the password").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        let html = wrong.text().await.expect("page");
        assert!(html.contains("class=\"error-summary\"") && html.contains("href=\"#login\""), "{html}");
        assert!(html.contains(&format!("value=\"{}\"", DemoUser::Coordinator.email())), "what was typed stays");
    }

    async fn every_page_shows_only_what_the_role_allows(app: TestApp) {
        let demo = app.demo_data().await;
        let lab = {
            let facilitator = app.login_as(DemoUser::Facilitator).await;
            let labs: Vec<serde_json::Value> = reguide_tests::expect_json(app.get("/api/v1/living-labs", Some(&facilitator)).await, 200).await;
            labs[0]["id"].as_str().expect("the demo session").to_owned()
        };
        let (haren, lantin) = (demo.haren, demo.lantin);
        let (a, c) = (demo.family_a, demo.family_c);
        // (page, [admin, coordinator, social worker, facilitator]): 200 shown, 403 refused,
        // 404 as if it did not exist.
        let matrix: Vec<(String, [u16; 4])> = vec![
            ("/admin".into(), [200, 200, 200, 200]),
            ("/admin/visits".into(), [200, 200, 403, 403]),
            ("/admin/prisons".into(), [200, 200, 403, 403]),
            (format!("/admin/prisons/{haren}/week"), [200, 200, 403, 403]),
            (format!("/admin/prisons/{haren}/day"), [200, 200, 403, 403]),
            (format!("/admin/prisons/{lantin}/day"), [200, 403, 403, 403]),
            (format!("/admin/prisons/{haren}/day.csv"), [200, 200, 403, 403]),
            ("/admin/caseload".into(), [403, 403, 200, 403]),
            (format!("/admin/families/{a}"), [404, 403, 200, 403]),
            (format!("/admin/families/{c}"), [404, 403, 404, 403]),
            ("/admin/living-labs".into(), [200, 403, 403, 200]),
            (format!("/admin/living-labs/{lab}"), [200, 404, 404, 200]),
            (format!("/admin/prisons/{haren}"), [200, 200, 403, 403]),
            (format!("/admin/prisons/{lantin}"), [200, 403, 403, 403]),
            (format!("/admin/prisons/{haren}/visitors"), [200, 200, 403, 403]),
            (format!("/admin/prisons/{lantin}/visitors"), [200, 403, 403, 403]),
            (format!("/admin/prisons/{haren}/family-days"), [200, 200, 403, 403]),
            ("/admin/accounts".into(), [200, 403, 403, 403]),
            (format!("/admin/accounts/{}", demo.account(DemoUser::Coordinator)), [200, 403, 403, 403]),
            ("/admin/email".into(), [200, 403, 403, 403]),
            ("/admin/privacy".into(), [200, 403, 403, 403]),
            ("/admin/audit".into(), [200, 403, 403, 403]),
            ("/admin/no-such-page".into(), [404, 404, 404, 404]),
        ];
        let users = [DemoUser::Admin, DemoUser::Coordinator, DemoUser::SocialWorker, DemoUser::Facilitator];
        let mut sessions = Vec::new();
        for user in users {
            sessions.push(app.web_sign_in(user).await);
        }
        let mut wrong = Vec::new();
        for (path, expected) in &matrix {
            for (i, user) in users.iter().enumerate() {
                let resp = app.web_get(path, Some(&sessions[i])).await;
                let status = resp.status().as_u16();
                let html = resp.text().await.unwrap_or_default();
                if status != expected[i] {
                    wrong.push(format!("{user:?} {path}: {status}, expected {}", expected[i]));
                }
                if status != 200 && !path.ends_with(".csv") {
                    assert!(html.contains("<h1>"), "{path}: an error is a page in words");
                }
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");

        // What a page shows stays within the scope: a coordinator's queue lists their prisons.
        let coordinator = &sessions[1];
        let queue = app.web_page("/admin/visits", coordinator).await;
        assert!(queue.contains("Prison de Haren") && queue.contains("Gevangenis Brugge"));
        assert!(!queue.contains("Lantin"), "Lantin is not this coordinator's");
    }

    async fn a_refused_decision_shows_its_problem_next_to_the_field(app: TestApp) {
        let request = app.pending_visit().await;
        let session = app.web_sign_in(DemoUser::Coordinator).await;
        let page = app.web_page(&format!("/admin/visits/{}", request.id), &session).await;
        let csrf = input_value(&page, "csrf").expect("token");
        let path = format!("/admin/visits/{}/decision", request.id);
        let resp = app.web_post(&path, Some(&session), &[], &[("csrf", &csrf), ("action", "decline"), ("reason", "")]).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let html = resp.text().await.expect("page");
        assert!(html.contains("class=\"error-summary\""), "{html}");
        assert!(html.contains("href=\"#reason\"") && html.contains("id=\"reason\""), "linked to the field");
        assert_eq!(status_of(&app, request.id).await, VisitStatus::Pending);
        // A note carrying the NUL character (which PostgreSQL cannot store) is refused with a
        // page, not an error of the database.
        let resp = app.web_post(&path, Some(&session), &[], &[("csrf", &csrf), ("action", "decline"), ("reason", "no_capacity"), ("note", "a\u{0}b")]).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert!(resp.text().await.expect("page").contains("<html"), "a page");
        assert_eq!(status_of(&app, request.id).await, VisitStatus::Pending);

        // Declined with a reason: the family is told, the queue says so.
        let resp = app.web_post(&path, Some(&session), &[], &[("csrf", &csrf), ("action", "decline"), ("reason", "no_capacity"), ("note", "Try next week")]).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&resp), "/admin/visits?done=declined");
        let queue = app.web_page("/admin/visits?done=declined", &session).await;
        assert!(queue.contains("role=\"status\""), "a notice says what happened");
        assert_eq!(status_of(&app, request.id).await, VisitStatus::Declined);
        // Deciding twice is refused in words, and changes nothing.
        let again = app.web_post(&path, Some(&session), &[], &[("csrf", &csrf), ("action", "confirm"), ("rank", "1")]).await;
        assert_eq!(again.status(), StatusCode::BAD_REQUEST);
        assert_eq!(status_of(&app, request.id).await, VisitStatus::Declined);
    }

    async fn the_admin_speaks_dutch_french_english_german_and_arabic(app: TestApp) {
        let session = app.web_sign_in(DemoUser::Coordinator).await;
        let cookie = |lang: &str| format!("{SESSION_COOKIE}={}; __Host-reguide-language={lang}", session.cookie);
        let switch = app.web_get("/admin/language/fr?back=/admin/visits", Some(&session)).await;
        assert_eq!(switch.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&switch), "/admin/visits");
        assert!(set_cookie(&switch, "__Host-reguide-language").is_some_and(|(v, _)| v == "fr"));
        let page = |lang: &'static str| {
            let app = &app;
            let cookie = cookie(lang);
            async move {
                let resp = app.client.get(app.url("/admin/visits")).header(header::COOKIE, cookie).send().await.expect("page");
                assert_eq!(resp.status(), 200);
                resp.text().await.expect("html")
            }
        };
        let french = page("fr").await;
        assert!(french.contains("<html lang=\"fr\" dir=\"ltr\">") && french.contains("Demandes de visite"), "{french}");
        let dutch = page("nl").await;
        assert!(dutch.contains("<html lang=\"nl\" dir=\"ltr\">") && dutch.contains("Bezoekaanvragen"), "{dutch}");
        let arabic = page("ar").await;
        assert!(arabic.contains("<html lang=\"ar\" dir=\"rtl\">"), "Arabic is right to left");
        assert!(page("de").await.contains("<html lang=\"de\" dir=\"ltr\">"));

        // Only the admin's own pages are come back to.
        let away = app.web_get("/admin/language/nl?back=https://evil.example/", None).await;
        assert_eq!(location(&away), "/admin");
        let scheme_relative = app.web_get("/admin/language/nl?back=//evil.example", None).await;
        assert_eq!(location(&scheme_relative), "/admin");
        assert_eq!(app.web_get("/admin/language/xx", None).await.status(), StatusCode::NOT_FOUND);
    }

    async fn the_day_list_prints_with_passes_and_downloads_as_csv(app: TestApp) {
        let request = app.pending_visit().await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let decided = app.post_json(&format!("/api/v1/visit-requests/{}/decision", request.id), Some(&coordinator), &serde_json::json!({ "action": "confirm", "rank": 1 })).await;
        assert_eq!(decided.status(), 200);
        let date = request.preferences[0].date;
        let session = app.web_sign_in(DemoUser::Coordinator).await;
        let day = app.web_page(&format!("/admin/prisons/{}/day?date={date}", request.prison_id), &session).await;
        assert!(day.contains(&request.reference), "the visit is on the list");
        assert!(day.contains("class=\"pass\""), "with its visitor pass");
        assert!(day.contains("Fatima Benali"));
        let csv = app.web_get(&format!("/admin/prisons/{}/day.csv?date={date}", request.prison_id), Some(&session)).await;
        assert_eq!(csv.status(), 200);
        assert!(csv.headers()[header::CONTENT_DISPOSITION].to_str().expect("header").contains(&format!("visits-{date}.csv")));
        assert!(csv.text().await.expect("csv").contains(&request.reference));

        // Called off: a reason is needed, in words for the family.
        let page = app.web_page(&format!("/admin/visits/{}", request.id), &session).await;
        let csrf = input_value(&page, "csrf").expect("token");
        let cancel = format!("/admin/visits/{}/cancel", request.id);
        let bare = app.web_post(&cancel, Some(&session), &[], &[("csrf", &csrf), ("reason", " ")]).await;
        assert_eq!(bare.status(), StatusCode::BAD_REQUEST);
        assert!(bare.text().await.expect("page").contains("href=\"#cancel_reason\""));
        assert_eq!(status_of(&app, request.id).await, VisitStatus::Confirmed);
        let called_off = app.web_post(&cancel, Some(&session), &[], &[("csrf", &csrf), ("reason", "The visiting room is closed for works")]).await;
        assert_eq!(called_off.status(), StatusCode::SEE_OTHER);
        assert_eq!(status_of(&app, request.id).await, VisitStatus::Cancelled);

        // Both readings are in the audit log, which an administrator filters by action.
        let admin = app.web_sign_in(DemoUser::Admin).await;
        let log = app.web_page("/admin/audit?action=day_list_viewed", &admin).await;
        assert_eq!(log.matches("<td class=\"mono\">day_list_viewed</td>").count(), 2, "{log}");
        let bad = app.web_get("/admin/audit?from=yesterday", Some(&admin)).await;
        assert_eq!(bad.status(), 200);
        assert!(bad.text().await.expect("page").contains("href=\"#from\""), "a bad date is shown at its field");
    }
}

/// When the family's case was closed, as the API tells an administrator.
async fn closed_at(
    app: &TestApp,
    admin: &str,
    family: reguide_tests::protocol::FamilyId,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let path = format!("/api/v1/families/{family}");
    let record: reguide_tests::protocol::api::Family =
        reguide_tests::expect_json(app.get(&path, Some(admin)).await, 200).await;
    record.closed_at
}

/// The CSRF token of an admin page (every form of a session carries the same one).
async fn csrf_of(app: &TestApp, path: &str, session: &WebSession) -> String {
    input_value(&app.web_page(path, session).await, "csrf").expect("a form token")
}

both_backends! {
    async fn a_social_worker_closes_and_reopens_a_case_from_the_family_page(app: TestApp) {
        let demo = app.demo_data().await;
        let family = demo.family_a;
        let admin = app.login_as(DemoUser::Admin).await;
        let session = app.web_sign_in(DemoUser::SocialWorker).await;
        let page = format!("/admin/families/{family}");
        let csrf = csrf_of(&app, &page, &session).await;
        assert!(app.web_page(&page, &session).await.contains(&format!("/admin/families/{family}/close")));

        // A coordinator, who only reads the family, cannot close its case.
        let coordinator = app.web_sign_in(DemoUser::Coordinator).await;
        let coordinator_csrf = csrf_of(&app, "/admin/visits", &coordinator).await;
        let refused = app.web_post(&format!("{page}/close"), Some(&coordinator), &[], &[("csrf", &coordinator_csrf)]).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(closed_at(&app, &admin, family).await.is_none());

        let resp = app.web_post(&format!("{page}/close"), Some(&session), &[], &[("csrf", &csrf)]).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&resp), format!("{page}?done=case_closed"));
        let html = app.web_page(&format!("{page}?done=case_closed"), &session).await;
        assert!(html.contains("role=\"status\""), "a notice says what happened");
        assert!(html.contains(&format!("{page}/reopen")), "the page offers to reopen");
        assert!(closed_at(&app, &admin, family).await.is_some());
        // Closing twice is refused in words, on the page.
        let again = app.web_post(&format!("{page}/close"), Some(&session), &[], &[("csrf", &csrf)]).await;
        assert!(again.status().is_client_error(), "{}", again.status());
        assert!(again.text().await.expect("page").contains("class=\"error-summary\""));

        let resp = app.web_post(&format!("{page}/reopen"), Some(&session), &[], &[("csrf", &csrf)]).await;
        assert_eq!(location(&resp), format!("{page}?done=case_reopened"));
        assert!(closed_at(&app, &admin, family).await.is_none());
    }

    async fn an_administrator_closing_a_case_sees_it_in_the_familys_audit_entries(app: TestApp) {
        // Family C is in nobody's caseload: its page, which shows its steps, is nobody's.
        let family = app.demo_data().await.family_c;
        let admin = app.login_as(DemoUser::Admin).await;
        let session = app.web_sign_in(DemoUser::Admin).await;
        let csrf = csrf_of(&app, "/admin/audit", &session).await;
        let page = format!("/admin/families/{family}");
        assert_eq!(app.web_get(&page, Some(&session)).await.status(), StatusCode::NOT_FOUND);
        let entries = format!("/admin/audit?object={family}");
        let send = |action: &'static str| {
            let (app, session, csrf) = (&app, &session, &csrf);
            let path = format!("{page}/{action}");
            async move { app.web_post(&path, Some(session), &[], &[("csrf", csrf)]).await }
        };

        let resp = send("close").await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&resp), format!("{entries}&done=case_closed"));
        let html = app.web_page(&location(&resp), &session).await;
        assert!(html.contains("role=\"status\""), "a notice says what happened");
        assert!(html.contains("<td class=\"mono\">case_closed</td>"), "the closing is the family's newest entry");
        assert!(closed_at(&app, &admin, family).await.is_some());

        // Closing twice is refused in words, on the same page.
        let again = send("close").await;
        assert_eq!(again.status(), StatusCode::BAD_REQUEST);
        let html = again.text().await.expect("page");
        assert!(html.contains("class=\"error-summary\"") && html.contains("href=\"#object\""), "{html}");
        // In the administrator's language (Dutch), not the API's English.
        assert!(html.contains("Het dossier van dit gezin is al afgesloten."), "{html}");
        assert!(html.contains("<td class=\"mono\">case_closed</td>"), "beside the family's entries");

        let resp = send("reopen").await;
        assert_eq!(location(&resp), format!("{entries}&done=case_reopened"));
        let html = app.web_page(&location(&resp), &session).await;
        assert!(html.contains("role=\"status\"") && html.contains("<td class=\"mono\">case_reopened</td>"));
        assert!(closed_at(&app, &admin, family).await.is_none());
        let open = send("reopen").await;
        assert_eq!(open.status(), StatusCode::BAD_REQUEST);
        let html = open.text().await.expect("page");
        assert!(html.contains("class=\"error-summary\""));
        assert!(html.contains("Het dossier van dit gezin is open"), "{html}");
        assert!(closed_at(&app, &admin, family).await.is_none());
    }

    async fn a_coordinator_sets_up_a_prison_through_its_pages(app: TestApp) {
        let demo = app.demo_data().await;
        let haren = demo.haren;
        let session = app.web_sign_in(DemoUser::Coordinator).await;
        let page = format!("/admin/prisons/{haren}");
        let csrf = csrf_of(&app, &page, &session).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;

        // Rules: a number that is not one is shown at its field; nothing is stored.
        let rules = |notice: &'static str| vec![
            ("csrf", csrf.clone()), ("visit_type", "video".into()), ("min_notice_hours", notice.into()),
            ("max_days_ahead", "21".into()), ("max_visitors", "2".into()), ("max_adults", "2".into()),
            ("max_children", "1".into()), ("adult_from_age", "16".into()), ("cancel_cutoff_hours", "12".into()),
        ];
        let send = |path: String, form: Vec<(&'static str, String)>| {
            let app = &app;
            let session = session.clone();
            async move {
                let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                app.web_post(&path, Some(&session), &[], &form).await
            }
        };
        let bad = send(format!("{page}/rules"), rules("soon")).await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        assert!(bad.text().await.expect("page").contains("href=\"#min_notice_hours\""));
        let detail: serde_json::Value = reguide_tests::expect_json(app.get(&format!("/api/v1/prisons/{haren}"), Some(&coordinator)).await, 200).await;
        assert!(!detail["rules"].as_array().expect("rules").iter().any(|r| r["visit_type"] == "video"));
        let good = send(format!("{page}/rules"), rules("48")).await;
        assert_eq!(good.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&good), format!("{page}?done=saved"));
        let detail: serde_json::Value = reguide_tests::expect_json(app.get(&format!("/api/v1/prisons/{haren}"), Some(&coordinator)).await, 200).await;
        let video = detail["rules"].as_array().expect("rules").iter().find(|r| r["visit_type"] == "video").cloned().expect("video rules");
        assert_eq!((video["min_notice_hours"].as_i64(), video["auto_confirm"].as_bool()), (Some(48), Some(false)));

        // A weekly session, then a blocked date, lifted again; the session removed.
        let room = reguide_tests::visits::fresh_room();
        let session_form = vec![
            ("csrf", csrf.clone()), ("weekday", "5".into()), ("starts_at", "10:00".into()), ("ends_at", "11:30".into()),
            ("every_weeks", "1".into()), ("valid_from", reguide_tests::visits::today().to_string()), ("valid_to", String::new()),
            ("room", room.clone()), ("table", "6".into()), ("closed", String::new()), ("unsupervised", "0".into()), ("video", "2".into()),
        ];
        assert_eq!(send(format!("{page}/sessions"), session_form).await.status(), StatusCode::SEE_OTHER);
        let templates: Vec<serde_json::Value> = reguide_tests::expect_json(app.get(&format!("/api/v1/prisons/{haren}/session-templates"), Some(&coordinator)).await, 200).await;
        let made = templates.iter().find(|t| t["room"] == room.as_str()).cloned().expect("the new session");
        assert_eq!(made["capacities"].as_array().map(Vec::len), Some(2), "table and video; zero and empty offer nothing");
        let template_id = made["id"].as_str().expect("id").to_owned();
        let html = app.web_page(&page, &session).await;
        assert!(html.contains(&room), "the session is listed");

        let date = reguide_tests::visits::next_weekday(chrono::Weekday::Fri, 10);
        let block = vec![("csrf", csrf.clone()), ("date", date.to_string()), ("session", template_id.clone()), ("reason", "Staff training".into())];
        assert_eq!(send(format!("{page}/blocked"), block).await.status(), StatusCode::SEE_OTHER);
        let blocked: Vec<serde_json::Value> = reguide_tests::expect_json(app.get(&format!("/api/v1/prisons/{haren}/blocked-dates"), Some(&coordinator)).await, 200).await;
        let entry = blocked.iter().find(|b| b["reason"] == "Staff training").cloned().expect("blocked");
        let lift = send(format!("/admin/blocked/{}/delete", entry["id"].as_str().expect("id")), vec![("csrf", csrf.clone())]).await;
        assert_eq!(lift.status(), StatusCode::SEE_OTHER);
        let blocked: Vec<serde_json::Value> = reguide_tests::expect_json(app.get(&format!("/api/v1/prisons/{haren}/blocked-dates"), Some(&coordinator)).await, 200).await;
        assert!(!blocked.iter().any(|b| b["reason"] == "Staff training"));
        assert_eq!(send(format!("/admin/sessions/{template_id}/delete"), vec![("csrf", csrf.clone())]).await.status(), StatusCode::SEE_OTHER);
        let templates: Vec<serde_json::Value> = reguide_tests::expect_json(app.get(&format!("/api/v1/prisons/{haren}/session-templates"), Some(&coordinator)).await, 200).await;
        assert!(!templates.iter().any(|t| t["room"] == room.as_str()));

        // The practical information families read, per language; a missing name is refused.
        let info = |name: &'static str| vec![
            ("csrf", csrf.clone()), ("name", name.to_owned()), ("city", "Haren".into()), ("address", "Rue de la Prison 1, 1130 Haren".into()),
            ("languages", "fr".into()), ("languages", "nl".into()), ("contact_phone", "02 000 00 00".into()), ("contact_email", "visits@haren.example".into()),
            ("arrival_advice_nl", "Kom 30 minuten vooraf.".into()), ("arrival_advice_fr", "Venez 30 minutes avant.".into()), ("arrival_advice_en", String::new()),
            ("what_to_bring_nl", "Uw identiteitskaart.".into()), ("accessibility_fr", "Accès de plain-pied.".into()),
        ];
        let no_name = send(format!("{page}/info"), info(" ")).await;
        assert_eq!(no_name.status(), StatusCode::BAD_REQUEST);
        assert!(no_name.text().await.expect("page").contains("href=\"#name\""));
        assert_eq!(send(format!("{page}/info"), info("Prison de Haren")).await.status(), StatusCode::SEE_OTHER);
        let detail: serde_json::Value = reguide_tests::expect_json(app.get(&format!("/api/v1/prisons/{haren}"), Some(&coordinator)).await, 200).await;
        assert_eq!(detail["arrival_advice"]["nl"], "Kom 30 minuten vooraf.");
        assert!(detail["arrival_advice"].get("en").is_none(), "an empty text is no text");
        assert_eq!(detail["languages"], serde_json::json!(["fr", "nl"]));
        assert_eq!(detail["contact_email"], "visits@haren.example");

        // Another prison's set-up is not this coordinator's, to see or to change.
        let lantin = format!("/admin/prisons/{}", demo.lantin);
        assert_eq!(app.web_get(&lantin, Some(&session)).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(send(format!("{lantin}/rules"), rules("48")).await.status(), StatusCode::FORBIDDEN);
        let audit_entries = app.execute_sql("UPDATE audit_log SET action = action WHERE action IN ('visit_rules_set', 'session_template_created', 'date_blocked', 'date_unblocked', 'session_template_deleted')");
        assert_eq!(audit_entries, 5, "each change is in the audit log");
        assert_eq!(app.execute_sql("UPDATE audit_log SET action = action WHERE action = 'prison_updated'"), 1);
    }

    async fn coordinators_approve_visitors_and_follow_family_days(app: TestApp) {
        let v = app.visits_demo().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        // A new member of the Benali family asks to visit.
        let member: serde_json::Value = reguide_tests::expect_json(app.post_json(&format!("/api/v1/families/{}/members", v.a.id), Some(&social),
            &serde_json::json!({ "display_name": "Yasmine Benali", "relation": "other_family", "preferred_language": "fr" })).await, 201).await;
        let member_id = member["id"].as_str().expect("id").to_owned();
        let asked = app.post_empty(&format!("/api/v1/detainees/{}/visitors/{member_id}/ask", v.a.detainee), Some(&social)).await;
        assert_eq!(asked.status(), 200);

        let session = app.web_sign_in(DemoUser::Coordinator).await;
        let page = format!("/admin/prisons/{}/visitors", v.demo.haren);
        let html = app.web_page(&page, &session).await;
        assert!(html.contains("Yasmine Benali"), "waiting for a decision");
        assert!(html.contains("value=\"director_approval\""), "not close family: the director decides");
        let csrf = input_value(&html, "csrf").expect("token");
        let path = format!("/admin/detainees/{}/visitors/{member_id}", v.a.detainee);
        let prison = v.demo.haren.to_string();
        let approved = app.web_post(&path, Some(&session), &[], &[("csrf", &csrf), ("decision", "approve"), ("basis", "director_approval"), ("prison", &prison)]).await;
        assert_eq!(approved.status(), StatusCode::SEE_OTHER);
        let list: Vec<serde_json::Value> = reguide_tests::expect_json(app.get(&format!("/api/v1/detainees/{}/visitors", v.a.detainee), Some(&admin)).await, 200).await;
        let entry = list.iter().find(|e| e["member_id"] == member_id.as_str()).expect("on the list");
        assert_eq!(entry["status"], "approved");
        assert!(!app.web_page(&page, &session).await.contains("Yasmine Benali"), "no longer waiting");

        // A family day with one family registered; the day page lists it, reading is recorded.
        let date = reguide_tests::visits::today() + chrono::Duration::days(30);
        let deadline = (date - chrono::Duration::days(2)).and_hms_opt(12, 0, 0).expect("time").and_utc();
        let day: serde_json::Value = reguide_tests::expect_json(app.post_json(&format!("/api/v1/prisons/{}/family-days", v.demo.haren), Some(&admin), &serde_json::json!({
            "title": "Summer family day", "date": date, "starts_at": "10:00", "ends_at": "16:00",
            "programme": "Games", "capacity_families": 4, "capacity_people": 20, "registration_deadline": deadline,
        })).await, 201).await;
        let fatima = app.login_as(DemoUser::FamilyMember).await;
        let registered = app.post_json(&format!("/api/v1/family-days/{}/registrations", day["id"].as_str().expect("id")), Some(&fatima),
            &serde_json::json!({ "family_id": v.a.id, "adults": 2, "children": 1, "wait_if_full": false })).await;
        assert_eq!(registered.status(), 201);
        let days = app.web_page(&format!("/admin/prisons/{}/family-days", v.demo.haren), &session).await;
        assert!(days.contains("Summer family day") && days.contains("1 / 4"));
        // A new day planned from the page; a closing time that is not one is shown at its field.
        let page = format!("/admin/prisons/{}/family-days", v.demo.haren);
        let token = input_value(&days, "csrf").expect("token");
        let later = (reguide_tests::visits::today() + chrono::Duration::days(40)).to_string();
        let closes = format!("{}T12:00", reguide_tests::visits::today() + chrono::Duration::days(35));
        let plan = |deadline: &str| vec![("csrf", token.clone()), ("title", "Autumn family day".to_owned()), ("date", later.clone()), ("starts_at", "10:00".to_owned()), ("ends_at", "15:00".to_owned()), ("families", "6".to_owned()), ("people", "24".to_owned()), ("deadline", deadline.to_owned()), ("programme", "Games".to_owned())];
        let bad = plan("tomorrow");
        let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let refused = app.web_post(&page, Some(&session), &[], &bad).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert!(refused.text().await.expect("page").contains("href=\"#deadline\""));
        let good = plan(&closes);
        let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(app.web_post(&page, Some(&session), &[], &good).await.status(), StatusCode::SEE_OTHER);
        assert!(app.web_page(&page, &session).await.contains("Autumn family day"));
        let one = app.web_page(&format!("/admin/family-days/{}", day["id"].as_str().expect("id")), &session).await;
        assert!(one.contains(reguide_tests::FAMILY_A_LABEL));
        let csv = app.web_get(&format!("/admin/family-days/{}/registrations.csv", day["id"].as_str().expect("id")), Some(&session)).await;
        assert_eq!(csv.status(), 200);
        assert!(csv.text().await.expect("csv").contains(reguide_tests::FAMILY_A_LABEL));
        // Called off from its page: the day is cancelled for everyone.
        let day_id = day["id"].as_str().expect("id");
        let token = input_value(&one, "csrf").expect("token");
        let off = app.web_post(&format!("/admin/family-days/{day_id}/cancel"), Some(&session), &[], &[("csrf", &token)]).await;
        assert_eq!(off.status(), StatusCode::SEE_OTHER);
        let after: serde_json::Value = reguide_tests::expect_json(app.get(&format!("/api/v1/family-days/{day_id}"), Some(&admin)).await, 200).await;
        assert_eq!(after["cancelled"], true);

        // Lantin's family days are not this coordinator's.
        assert_eq!(app.web_get(&format!("/admin/prisons/{}/family-days", v.demo.lantin), Some(&session)).await.status(), StatusCode::FORBIDDEN);
    }

    async fn administrators_manage_roles_prisons_and_undelivered_email(app: TestApp) {
        let demo = app.demo_data().await;
        let session = app.web_sign_in(DemoUser::Admin).await;
        let csrf = csrf_of(&app, "/admin/prisons", &session).await;

        // A prison: a missing name is shown at its field; then it is made.
        let bad = app.web_post("/admin/prisons", Some(&session), &[], &[("csrf", &csrf), ("name", " "), ("city", "Namur"), ("time_zone", "Europe/Brussels")]).await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        assert!(bad.text().await.expect("page").contains("href=\"#name\""));
        let made = app.web_post("/admin/prisons", Some(&session), &[], &[("csrf", &csrf), ("name", "Prison de Namur"), ("city", "Namur"), ("time_zone", "")]).await;
        assert_eq!(made.status(), StatusCode::SEE_OTHER);
        let prison = location(&made).trim_start_matches("/admin/prisons/").split('?').next().expect("id").to_owned();
        assert!(app.web_page("/admin/prisons", &session).await.contains("Prison de Namur"));

        // The facilitator also coordinates it; the role is taken back again.
        let facilitator = demo.account(DemoUser::Facilitator);
        let account = format!("/admin/accounts/{facilitator}");
        let granted = app.web_post(&format!("{account}/roles"), Some(&session), &[], &[("csrf", &csrf), ("role", "coordinator"), ("prison", &prison)]).await;
        assert_eq!(granted.status(), StatusCode::SEE_OTHER);
        let html = app.web_page(&account, &session).await;
        assert!(html.contains("Prison de Namur"), "the grant names its prison");
        // The revoke button in the line that names the new prison.
        let line = html.split("<li>").find(|li| li.contains("Prison de Namur")).expect("the grant's line");
        let grant = line.split(&format!("/admin/accounts/{facilitator}/roles/")).nth(1).and_then(|rest| rest.split('/').next()).expect("a grant to revoke").to_owned();
        let coordinates = app.web_sign_in(DemoUser::Facilitator).await;
        assert_eq!(app.web_get(&format!("/admin/prisons/{prison}"), Some(&coordinates)).await.status(), 200);
        let revoked = app.web_post(&format!("{account}/roles/{grant}/revoke"), Some(&session), &[], &[("csrf", &csrf)]).await;
        assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
        // Role changes apply to sessions at once, the next page they open.
        assert_eq!(app.web_get(&format!("/admin/prisons/{prison}"), Some(&coordinates)).await.status(), StatusCode::FORBIDDEN);
        // The last administrator keeps the role.
        let me = format!("/admin/accounts/{}", demo.account(DemoUser::Admin));
        let mine = app.web_page(&me, &session).await;
        let admin_grant = mine.split(&format!("{me}/roles/")).nth(1).and_then(|rest| rest.split('/').next()).expect("the admin grant").to_owned();
        let refused = app.web_post(&format!("{me}/roles/{admin_grant}/revoke"), Some(&session), &[], &[("csrf", &csrf)]).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert!(refused.text().await.expect("page").contains("class=\"error-summary\""), "refused in words");
        assert_eq!(app.web_get("/admin/audit", Some(&session)).await.status(), 200, "still an administrator");

        // A new staff account: a weak password is refused at its field; then it is made and signs in.
        let weak = app.web_post("/admin/accounts", Some(&session), &[], &[("csrf", &csrf), ("display_name", "Jan Peeters"), ("email", "jan@example.org"), ("language", "nl"), ("password", "short"), ("role", "coordinator"), ("prison", &prison)]).await;
        assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
        assert!(weak.text().await.expect("page").contains("href=\"#password\""));
        let made = app.web_post("/admin/accounts", Some(&session), &[], &[("csrf", &csrf), ("display_name", "Jan Peeters"), ("email", "jan@example.org"), ("language", "nl"), ("password", "a long first password"), ("role", "coordinator"), ("prison", &prison)]).await;
        assert_eq!(made.status(), StatusCode::SEE_OTHER);
        assert!(location(&made).starts_with("/admin/accounts/"));
        let jan = app.web_sign_in_raw("jan@example.org", "a long first password").await;
        assert_eq!(jan.status(), StatusCode::SEE_OTHER, "the new coordinator signs in");
        let again = app.web_post("/admin/accounts", Some(&session), &[], &[("csrf", &csrf), ("display_name", "Jan Peeters"), ("email", "jan@example.org"), ("language", "nl"), ("password", "a long first password"), ("role", "coordinator"), ("prison", &prison)]).await;
        assert_eq!(again.status(), StatusCode::BAD_REQUEST, "the address is taken: said in words");

        // A caseload is a social worker's scope: family C joins Hanne's, then leaves it.
        let worker = format!("/admin/accounts/{}", demo.account(DemoUser::SocialWorker));
        let family_c = demo.family_c.to_string();
        let social = app.web_sign_in(DemoUser::SocialWorker).await;
        assert!(!app.web_page("/admin/caseload", &social).await.contains(reguide_tests::FAMILY_C_LABEL));
        let added = app.web_post(&format!("{worker}/caseload"), Some(&session), &[], &[("csrf", &csrf), ("family", &family_c)]).await;
        assert_eq!(added.status(), StatusCode::SEE_OTHER);
        assert!(app.web_page("/admin/caseload", &social).await.contains(reguide_tests::FAMILY_C_LABEL));
        assert_eq!(app.web_get(&format!("/admin/families/{family_c}"), Some(&social)).await.status(), 200, "the scope follows at once");
        let removed = app.web_post(&format!("{worker}/caseload/{family_c}/remove"), Some(&session), &[], &[("csrf", &csrf)]).await;
        assert_eq!(removed.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.web_get(&format!("/admin/families/{family_c}"), Some(&social)).await.status(), 404);
        // Asked for by the worker, approved on the accounts page.
        let social_token = app.login_as(DemoUser::SocialWorker).await;
        let asked = app.post_json("/api/v1/caseload-requests", Some(&social_token), &serde_json::json!({ "family_id": demo.family_c, "service": "cpas", "reason": "Referred by the CPAS" })).await;
        assert_eq!(asked.status(), 201);
        let accounts = app.web_page("/admin/accounts", &session).await;
        assert!(accounts.contains("Referred by the CPAS") && accounts.contains(reguide_tests::FAMILY_C_LABEL), "waiting for a decision");
        let request = accounts.split("/admin/caseload-requests/").nth(1).and_then(|rest| rest.split('"').next()).expect("a decision form").to_owned();
        let approved = app.web_post(&format!("/admin/caseload-requests/{request}"), Some(&session), &[], &[("csrf", &csrf), ("decision", "approve")]).await;
        assert_eq!(approved.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.web_get(&format!("/admin/families/{family_c}"), Some(&social)).await.status(), 200, "approved: in the caseload");
        assert!(!app.web_page("/admin/accounts", &session).await.contains("Referred by the CPAS"), "decided");

        // Only a social worker has a caseload.
        let coordinator = format!("/admin/accounts/{}", demo.account(DemoUser::Coordinator));
        let refused = app.web_post(&format!("{coordinator}/caseload"), Some(&session), &[], &[("csrf", &csrf), ("family", &family_c)]).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);

        // Email that could not be delivered is listed and sent again.
        let pending = app.web_page("/admin/email?state=pending", &session).await;
        assert!(pending.contains("<td class=\"mono\">"), "the demo's email waiting to go out is listed");
        assert!(!pending.contains("/retry\""), "no retry button outside the dead letters");
        let made_dead = app.execute_sql("UPDATE outbox SET state = 'dead', last_error = '550 mailbox unavailable' WHERE state = 'pending'");
        assert!(made_dead > 0, "the demo has pending email");
        let dead = app.web_page("/admin/email", &session).await;
        assert!(dead.contains("550 mailbox unavailable"));
        let message = dead.split("/admin/email/").nth(1).and_then(|rest| rest.split('/').next()).expect("a retry button").to_owned();
        let retried = app.web_post(&format!("/admin/email/{message}/retry"), Some(&session), &[], &[("csrf", &csrf)]).await;
        assert_eq!(retried.status(), StatusCode::SEE_OTHER);
        let admin = app.login_as(DemoUser::Admin).await;
        let still_dead: Vec<serde_json::Value> = reguide_tests::expect_json(app.get("/api/v1/admin/outbox?state=dead", Some(&admin)).await, 200).await;
        assert!(!still_dead.iter().any(|m| m["id"] == message.as_str()), "it goes out again");
        let again = app.web_post(&format!("/admin/email/{message}/retry"), Some(&session), &[], &[("csrf", &csrf)]).await;
        assert_eq!(again.status(), StatusCode::CONFLICT, "only a dead message is sent again");
    }

    async fn facilitators_record_attendance_and_publish_a_summary(app: TestApp) {
        let facilitator = app.login_as(DemoUser::Facilitator).await;
        let labs: Vec<serde_json::Value> = reguide_tests::expect_json(app.get("/api/v1/living-labs", Some(&facilitator)).await, 200).await;
        let lab = labs[0]["id"].as_str().expect("the demo session").to_owned();
        let session = app.web_sign_in(DemoUser::Facilitator).await;
        // Planning a session: a date that is not one is shown at its field; then it is listed.
        let token = csrf_of(&app, "/admin/living-labs", &session).await;
        let plan = |date: String| [("csrf", token.clone()), ("title", "Living Lab: the first visit".to_owned()), ("date", date), ("starts_at", "14:00".to_owned()), ("ends_at", "16:00".to_owned()), ("place", "Maison de justice".to_owned()), ("capacity", "10".to_owned())];
        let send = |form: [(&'static str, String); 7]| {
            let app = &app;
            let session = session.clone();
            async move {
                let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                app.web_post("/admin/living-labs", Some(&session), &[], &form).await
            }
        };
        let bad = send(plan("soon".to_owned())).await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        assert!(bad.text().await.expect("page").contains("href=\"#date\""));
        let later = (chrono::Utc::now().date_naive() + chrono::Duration::days(20)).to_string();
        assert_eq!(send(plan(later)).await.status(), StatusCode::SEE_OTHER);
        assert!(app.web_page("/admin/living-labs", &session).await.contains("Living Lab: the first visit"));
        let page = format!("/admin/living-labs/{lab}");
        let before = app.web_page(&page, &session).await;
        assert!(!before.contains("/attendance\""), "no attendance before the session");
        let csrf = input_value(&before, "csrf").expect("token");
        // The session took place.
        assert_eq!(app.execute_sql(&format!("UPDATE living_labs SET date = '2026-01-05' WHERE id = '{lab}'")), 1);
        let html = app.web_page(&page, &session).await;
        assert!(html.contains(&format!("action=\"/admin/living-labs/{lab}/attendance\"")));
        assert!(!html.contains("/invitations\""), "no invitations after the start");
        // A summary before attendance is refused in words.
        let early = app.web_post(&format!("{page}/summary"), Some(&session), &[], &[("csrf", &csrf), ("summary", "We agreed."), ("next_steps", "")]).await;
        assert_eq!(early.status(), StatusCode::BAD_REQUEST);
        let early = early.text().await.expect("page");
        assert!(early.contains("class=\"error-summary\"") && early.contains("href=\"#summary\""), "{early}");
        let fatima = html.split("name=\"attended\" value=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("an invitation").to_owned();
        let marked = app.web_post(&format!("{page}/attendance"), Some(&session), &[], &[("csrf", &csrf), ("attended", &fatima)]).await;
        assert_eq!(marked.status(), StatusCode::SEE_OTHER);
        let published = app.web_post(&format!("{page}/summary"), Some(&session), &[], &[("csrf", &csrf), ("summary", "A housing desk at release."), ("next_steps", "Ask the municipality.")]).await;
        assert_eq!(published.status(), StatusCode::SEE_OTHER);
        let after = app.web_page(&page, &session).await;
        assert!(after.contains("A housing desk at release.") && after.contains("checked"), "{after}");
        // Another session's attendance is not the social worker's to record.
        let social = app.web_sign_in(DemoUser::SocialWorker).await;
        let social_csrf = csrf_of(&app, "/admin/caseload", &social).await;
        let refused = app.web_post(&format!("{page}/attendance"), Some(&social), &[], &[("csrf", &social_csrf), ("attended", &fatima)]).await;
        assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    }
}

both_backends! {
    async fn data_requests_are_asked_for_and_an_administrator_hands_over_a_copy(app: TestApp) {
        let v = app.visits_demo().await;
        let fatima = v.a.member("Fatima Benali");
        let karim = v.a.member("Karim Benali");
        let family = app.login_as(DemoUser::FamilyMember).await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let ask = |token: String, member, kind: &'static str| {
            let app = &app;
            async move {
                app.post_json("/api/v1/privacy-requests", Some(&token), &serde_json::json!({ "member_id": member, "kind": kind })).await
            }
        };
        // Fatima asks for her own data; asking again is the same request.
        let first: serde_json::Value = reguide_tests::expect_json(ask(family.clone(), fatima, "export").await, 201).await;
        let again: serde_json::Value = reguide_tests::expect_json(ask(family.clone(), fatima, "export").await, 201).await;
        assert_eq!(first["id"], again["id"]);
        // Not for another member, nor for a coordinator; a social worker for their caseload.
        reguide_tests::assert_error(ask(family.clone(), karim, "export").await, 404, "family_not_found").await;
        reguide_tests::assert_error(ask(coordinator.clone(), fatima, "erasure").await, 404, "family_not_found").await;
        let erasure: serde_json::Value = reguide_tests::expect_json(ask(social.clone(), karim, "erasure").await, 201).await;
        reguide_tests::assert_error(app.get("/api/v1/admin/privacy-requests", Some(&social)).await, 403, "forbidden").await;

        // The administrator's page lists both, by name.
        let admin = app.web_sign_in(DemoUser::Admin).await;
        let page = app.web_page("/admin/privacy", &admin).await;
        assert!(page.contains("Fatima Benali") && page.contains("Karim Benali"), "{page}");
        let csrf = input_value(&page, "csrf").expect("token");
        let id = first["id"].as_str().expect("id");
        let json = app.web_post(&format!("/admin/privacy/{id}/export"), Some(&admin), &[], &[("csrf", &csrf), ("format", "json")]).await;
        assert_eq!(json.status(), 200);
        assert!(json.headers()[header::CONTENT_DISPOSITION].to_str().expect("header").contains("attachment"));
        let copy: serde_json::Value = json.json().await.expect("JSON");
        assert_eq!(copy["member"]["display_name"], "Fatima Benali");
        assert_eq!(copy["family"]["label"], reguide_tests::FAMILY_A_LABEL);
        assert_eq!(copy["account"]["email"], DemoUser::FamilyMember.email());
        assert!(copy["visit_requests"].as_array().is_some_and(|v| !v.is_empty()), "her visits");
        assert!(copy["visit_requests"].as_array().expect("visits").iter().all(|v| v["events"].as_array().is_some_and(|e| !e.is_empty())), "each with what happened to it");
        assert!(copy["family_document"]["steps"].is_object(), "the family document");
        assert!(copy["family_document_history"].as_array().is_some_and(|h| !h.is_empty()), "with its history");
        assert!(copy["audit_log"].as_array().is_some_and(|a| a.iter().any(|e| e["action"] == "login_succeeded" && e["by_them"] == true)));
        // Karim's record is not in Fatima's copy.
        assert!(!copy["member"].to_string().contains("Karim"));
        let html = app.web_post(&format!("/admin/privacy/{id}/export"), Some(&admin), &[], &[("csrf", &csrf), ("format", "html")]).await;
        assert_eq!(html.status(), 200);
        let html = html.text().await.expect("page");
        assert!(html.contains("Fatima Benali") && html.contains("<html lang=\"fr\""), "in her language");
        let admin_token = app.login_as(DemoUser::Admin).await;
        let list: Vec<serde_json::Value> = reguide_tests::expect_json(app.get("/api/v1/admin/privacy-requests", Some(&admin_token)).await, 200).await;
        let done = list.iter().find(|r| r["id"] == id).expect("listed");
        assert_eq!(done["state"], "done");
        // Recorded by the request's id, never the member's.
        let log = app.web_page("/admin/audit?action=member_data_exported", &admin).await;
        assert_eq!(log.matches(&format!("privacy_request {id}")).count(), 2, "each copy is recorded");

        // A refusal needs a reason, shown at its field; then it is kept.
        let erasure_id = erasure["id"].as_str().expect("id");
        let bare = app.web_post(&format!("/admin/privacy/{erasure_id}/refuse"), Some(&admin), &[], &[("csrf", &csrf), ("note", " ")]).await;
        assert_eq!(bare.status(), StatusCode::BAD_REQUEST);
        assert!(bare.text().await.expect("page").contains(&format!("href=\"#note-{erasure_id}\"")));
        let refused = app.web_post(&format!("/admin/privacy/{erasure_id}/refuse"), Some(&admin), &[], &[("csrf", &csrf), ("note", "A visit is under way; ask again after it.")]).await;
        assert_eq!(refused.status(), StatusCode::SEE_OTHER);
        let list: Vec<serde_json::Value> = reguide_tests::expect_json(app.get("/api/v1/admin/privacy-requests", Some(&admin_token)).await, 200).await;
        let refused = list.iter().find(|r| r["id"] == erasure_id).expect("listed");
        assert_eq!((refused["state"].as_str(), refused["note"].as_str()), (Some("refused"), Some("A visit is under way; ask again after it.")));
        let twice = app.web_post(&format!("/admin/privacy/{erasure_id}/refuse"), Some(&admin), &[], &[("csrf", &csrf), ("note", "again")]).await;
        assert_eq!(twice.status(), StatusCode::BAD_REQUEST, "decided already, shown in words");

        // Asked again, the erasure is carried out once the administrator ticks the confirmation.
        let again: serde_json::Value = reguide_tests::expect_json(ask(social.clone(), karim, "erasure").await, 201).await;
        let again_id = again["id"].as_str().expect("id");
        assert_ne!(again_id, erasure_id, "a new request after a refusal");
        let unticked = app.web_post(&format!("/admin/privacy/{again_id}/erase"), Some(&admin), &[], &[("csrf", &csrf)]).await;
        assert_eq!(unticked.status(), StatusCode::BAD_REQUEST);
        assert!(unticked.text().await.expect("page").contains(&format!("href=\"#confirm-{again_id}\"")));
        let family_of = |token: String| {
            let app = &app;
            async move {
                let family: reguide_tests::protocol::api::Family = reguide_tests::expect_json(app.get(&format!("/api/v1/families/{}", v.a.id), Some(&token)).await, 200).await;
                family.members.iter().any(|m| m.id == karim)
            }
        };
        assert!(family_of(admin_token.clone()).await, "not erased without the tick");
        let erased = app.web_post(&format!("/admin/privacy/{again_id}/erase"), Some(&admin), &[], &[("csrf", &csrf), ("confirm", "yes")]).await;
        assert_eq!(erased.status(), StatusCode::SEE_OTHER);
        assert!(!family_of(admin_token.clone()).await, "erased");
        let after = app.web_page("/admin/privacy", &admin).await;
        assert!(!after.contains("Karim Benali"), "his name is gone");
        assert_eq!(after.matches("<tr>").count(), 1 + 3, "the three requests stay listed");
    }
}
