//! Who may do what in the web admin: every route under `/admin` (every page and every form) ×
//! every caller × an own or another's object, as one table, like `authz_matrix.rs` for the API.
//!
//! The table is the specification. Every cell runs against a real server with a real session
//! and the form's CSRF token. A form that is refused must change nothing and one that is allowed
//! must really act (the object is looked at through the API before and after) and lead to a
//! page the caller may open. A cell's object is made fresh when the previous call on it
//! succeeded (refusals share one). A hidden object must answer exactly as a missing one. All
//! mismatches are printed, then the test fails once.
//!
//! This file is the table and the test that runs it; `fixtures.rs` makes the sessions and the
//! objects the cells work on, `requests.rs` sends each cell's call and reads its answer.

mod fixtures;
mod requests;

use std::collections::HashMap;

use reguide_tests::{DemoUser, TestApp, both_backends};

use fixtures::{Fixture, setup};
use requests::words;

/// The callers, in the order of the table's columns. `None` is signed out. The family member
/// holds a web session (opened while they held a staff role, taken back since): the admin must
/// turn it away at the door and end it, so each cell that does so is followed by a new one.
const CALLERS: [Option<DemoUser>; 6] = [
    None,
    Some(DemoUser::FamilyMember),
    Some(DemoUser::Facilitator),
    Some(DemoUser::SocialWorker),
    Some(DemoUser::Coordinator),
    Some(DemoUser::Admin),
];

/// Pages are read in English, so that an answer is told by its words.
const LANGUAGE_COOKIE: (&str, &str) = ("__Host-reguide-language", "en");
const NOT_STAFF_TITLE: &str = "This site is for staff";
const FORBIDDEN_TITLE: &str = "You cannot open this page";
const NOT_FOUND_TITLE: &str = "Page not found";
const CSRF_TITLE: &str = "The form has expired";
/// The router's own answer for an address that is no page: a `404` of a route must be the
/// route's refusal, not a wrong address in this table.
const NO_SUCH_PAGE: &str = "There is no such page.";

/// What a caller gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// `200`: the page (or the file).
    Shown,
    /// `303` onwards after a form that acted (or a public redirect).
    Done,
    /// `303` to the sign-in page.
    ToSignIn,
    /// `403` for an account without a staff role, its session cookie cleared.
    NotStaff,
    /// `403`: the role may not.
    Refused,
    /// `404`: as if the object did not exist.
    Hidden,
    /// `400`: the form's page again, or an error page, with the problem in words.
    Invalid,
    /// `401`: the sign-in form again, for a wrong password.
    WrongPassword,
    /// `403` for a bad CSRF token: never expected, a mistake of the table's requests.
    Csrf,
    Status(u16),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Route {
    Stylesheet,
    SignInForm,
    SignIn,
    Language,
    NoSuchPage,
    Home,
    Queue,
    QueueOfPrison,
    Request,
    Decide,
    CancelVisit,
    Prisons,
    Week,
    Day,
    DayCsv,
    Prison,
    SetInfo,
    SetRules,
    AddSession,
    RemoveSession,
    Block,
    Unblock,
    Visitors,
    DecideVisitor,
    FamilyDays,
    PlanFamilyDay,
    FamilyDay,
    FamilyDayCsv,
    CancelFamilyDay,
    Caseload,
    Family,
    ApplyTemplate,
    AnswerAppointment,
    EnrolmentCode,
    AskPrivacy,
    CloseCase,
    ReopenCase,
    Labs,
    PlanLab,
    Lab,
    Invite,
    Attendance,
    Summary,
    Accounts,
    CreateAccount,
    DecideCaseloadRequest,
    Account,
    GrantRole,
    RevokeRole,
    AddToCaseload,
    RemoveFromCaseload,
    CreatePrison,
    Email,
    RetryEmail,
    Audit,
    Privacy,
    ExportData,
    RefusePrivacy,
    Erase,
    SignOut,
}

/// The object of the call. Own: family A (in the social worker's caseload, someone held in
/// Haren, which the coordinator runs), Haren and what is Haren's, a Living Lab the facilitator
/// runs. Other: family C (nobody's caseload, held in Lantin, nobody's prison but the admin's),
/// Lantin, a Living Lab the administrator planned. Unknown: an id that names nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Object {
    /// The route takes no object, or one only administrators reach.
    Fixed,
    Own,
    Other,
    Unknown,
    /// Own family or detained person in the address, another family's member with it.
    Mixed,
    /// Own family or detained person in the address, an id that names no member with it: what
    /// `Mixed` must look like where the member is hidden.
    UnknownMember,
}

use Object::*;
use Outcome::*;
use Route::*;

/// Public: the same for everyone.
const ANYONE: [Outcome; 6] = [Shown; 6];
/// Every member of staff.
const STAFF: [Outcome; 6] = [ToSignIn, NotStaff, Shown, Shown, Shown, Shown];
/// A prison's own pages and forms: its coordinators and administrators; prisons are no
/// secret, so others are refused rather than told it does not exist.
const MANAGERS: [Outcome; 6] = [ToSignIn, NotStaff, Refused, Refused, Shown, Shown];
const MANAGERS_ACT: [Outcome; 6] = [ToSignIn, NotStaff, Refused, Refused, Done, Done];
const ADMIN: [Outcome; 6] = [ToSignIn, NotStaff, Refused, Refused, Refused, Shown];
const ADMIN_ACT: [Outcome; 6] = [ToSignIn, NotStaff, Refused, Refused, Refused, Done];
const ADMIN_HIDDEN: [Outcome; 6] = [ToSignIn, NotStaff, Refused, Refused, Refused, Hidden];
/// An object nobody but the administrator sees (or, Unknown, nobody at all).
const HIDDEN_BUT_ADMIN: [Outcome; 6] = [ToSignIn, NotStaff, Hidden, Hidden, Hidden, Done];
const HIDDEN: [Outcome; 6] = [ToSignIn, NotStaff, Hidden, Hidden, Hidden, Hidden];

#[rustfmt::skip]
const MATRIX: &[(Route, Object, [Outcome; 6])] = &[
    //                                  anon     family    facil.   social   coord.   admin
    (Stylesheet,            Fixed,   ANYONE),
    (SignInForm,            Fixed,   ANYONE),
    // Signed out: a wrong password. The others sign in with their own.
    (SignIn,                Fixed,   [WrongPassword, NotStaff, Done, Done, Done, Done]),
    (Language,              Fixed,   [Done; 6]),
    (NoSuchPage,            Fixed,   [Hidden; 6]),
    (Home,                  Fixed,   STAFF),
    // Coordinators' visits.
    (Queue,                 Fixed,   MANAGERS),
    (QueueOfPrison,         Own,     MANAGERS),
    (QueueOfPrison,         Other,   ADMIN),
    (QueueOfPrison,         Unknown, ADMIN),
    // The social worker sees the family's request (API) but does not decide it.
    (Request,               Own,     [ToSignIn, NotStaff, Hidden, Refused, Shown, Shown]),
    (Request,               Other,   [ToSignIn, NotStaff, Hidden, Hidden, Hidden, Shown]),
    (Request,               Unknown, HIDDEN),
    (Decide,                Own,     [ToSignIn, NotStaff, Hidden, Refused, Done, Done]),
    (Decide,                Other,   HIDDEN_BUT_ADMIN),
    (Decide,                Unknown, HIDDEN),
    (CancelVisit,           Own,     [ToSignIn, NotStaff, Hidden, Refused, Done, Done]),
    (CancelVisit,           Other,   HIDDEN_BUT_ADMIN),
    (CancelVisit,           Unknown, HIDDEN),
    (Prisons,               Fixed,   MANAGERS),
    (Week,                  Own,     MANAGERS),
    (Week,                  Other,   ADMIN),
    (Week,                  Unknown, ADMIN_HIDDEN),
    (Day,                   Own,     MANAGERS),
    (Day,                   Other,   ADMIN),
    (Day,                   Unknown, ADMIN_HIDDEN),
    (DayCsv,                Own,     MANAGERS),
    (DayCsv,                Other,   ADMIN),
    (DayCsv,                Unknown, ADMIN_HIDDEN),
    // A prison's set-up.
    (Prison,                Own,     MANAGERS),
    (Prison,                Other,   ADMIN),
    (Prison,                Unknown, ADMIN_HIDDEN),
    (SetInfo,               Own,     MANAGERS_ACT),
    (SetInfo,               Other,   ADMIN_ACT),
    (SetInfo,               Unknown, ADMIN_HIDDEN),
    (SetRules,              Own,     MANAGERS_ACT),
    (SetRules,              Other,   ADMIN_ACT),
    (SetRules,              Unknown, ADMIN_HIDDEN),
    (AddSession,            Own,     MANAGERS_ACT),
    (AddSession,            Other,   ADMIN_ACT),
    (AddSession,            Unknown, ADMIN_HIDDEN),
    (RemoveSession,         Own,     MANAGERS_ACT),
    (RemoveSession,         Other,   ADMIN_ACT),
    (RemoveSession,         Unknown, HIDDEN),
    (Block,                 Own,     MANAGERS_ACT),
    (Block,                 Other,   ADMIN_ACT),
    (Block,                 Unknown, ADMIN_HIDDEN),
    (Unblock,               Own,     MANAGERS_ACT),
    (Unblock,               Other,   ADMIN_ACT),
    (Unblock,               Unknown, HIDDEN),
    (Visitors,              Own,     MANAGERS),
    (Visitors,              Other,   ADMIN),
    (Visitors,              Unknown, ADMIN_HIDDEN),
    // The social worker sees the detained person through the family; deciding is the prison's.
    (DecideVisitor,         Own,     [ToSignIn, NotStaff, Hidden, Refused, Done, Done]),
    (DecideVisitor,         Other,   HIDDEN_BUT_ADMIN),
    (DecideVisitor,         Unknown, HIDDEN),
    // A member of a family not linked to the detained person is not found, as an unknown one:
    // those who run the prison learn nothing of other families' members.
    (DecideVisitor,         Mixed,   [ToSignIn, NotStaff, Hidden, Refused, Hidden, Hidden]),
    (DecideVisitor,         UnknownMember, [ToSignIn, NotStaff, Hidden, Refused, Hidden, Hidden]),
    (FamilyDays,            Own,     MANAGERS),
    (FamilyDays,            Other,   ADMIN),
    (FamilyDays,            Unknown, ADMIN_HIDDEN),
    (PlanFamilyDay,         Own,     MANAGERS_ACT),
    (PlanFamilyDay,         Other,   ADMIN_ACT),
    (PlanFamilyDay,         Unknown, HIDDEN),
    (FamilyDay,             Own,     MANAGERS),
    (FamilyDay,             Other,   ADMIN),
    (FamilyDay,             Unknown, HIDDEN),
    (FamilyDayCsv,          Own,     MANAGERS),
    (FamilyDayCsv,          Other,   ADMIN),
    (FamilyDayCsv,          Unknown, HIDDEN),
    (CancelFamilyDay,       Own,     MANAGERS_ACT),
    (CancelFamilyDay,       Other,   ADMIN_ACT),
    (CancelFamilyDay,       Unknown, HIDDEN),
    // Social workers' pages. A family's page shows its steps, which are its social workers'
    // alone: administrators included, anyone else finds no such family.
    (Caseload,              Fixed,   [ToSignIn, NotStaff, Refused, Shown, Refused, Refused]),
    (Family,                Own,     [ToSignIn, NotStaff, Refused, Shown, Refused, Hidden]),
    (Family,                Other,   [ToSignIn, NotStaff, Refused, Hidden, Refused, Hidden]),
    (Family,                Unknown, [ToSignIn, NotStaff, Refused, Hidden, Refused, Hidden]),
    (ApplyTemplate,         Own,     [ToSignIn, NotStaff, Hidden, Done, Hidden, Hidden]),
    (ApplyTemplate,         Other,   HIDDEN),
    (ApplyTemplate,         Unknown, HIDDEN),
    (AnswerAppointment,     Own,     [ToSignIn, NotStaff, Hidden, Done, Hidden, Hidden]),
    (AnswerAppointment,     Other,   HIDDEN),
    (AnswerAppointment,     Unknown, HIDDEN),
    // The family record: managed by its social workers and administrators, read by the
    // coordinators of its prisons. The code is shown on a page of its own.
    (EnrolmentCode,         Own,     [ToSignIn, NotStaff, Hidden, Shown, Refused, Shown]),
    (EnrolmentCode,         Other,   [ToSignIn, NotStaff, Hidden, Hidden, Hidden, Shown]),
    (EnrolmentCode,         Unknown, HIDDEN),
    (EnrolmentCode,         Mixed,   [ToSignIn, NotStaff, Hidden, Hidden, Refused, Hidden]),
    (EnrolmentCode,         UnknownMember, [ToSignIn, NotStaff, Hidden, Hidden, Refused, Hidden]),
    (AskPrivacy,            Own,     [ToSignIn, NotStaff, Hidden, Done, Hidden, Done]),
    (AskPrivacy,            Other,   HIDDEN_BUT_ADMIN),
    (AskPrivacy,            Unknown, HIDDEN),
    (AskPrivacy,            Mixed,   HIDDEN_BUT_ADMIN),
    (AskPrivacy,            UnknownMember, HIDDEN),
    (CloseCase,             Own,     [ToSignIn, NotStaff, Hidden, Done, Refused, Done]),
    (CloseCase,             Other,   HIDDEN_BUT_ADMIN),
    (CloseCase,             Unknown, HIDDEN),
    (ReopenCase,            Own,     [ToSignIn, NotStaff, Hidden, Done, Refused, Done]),
    (ReopenCase,            Other,   HIDDEN_BUT_ADMIN),
    (ReopenCase,            Unknown, HIDDEN),
    // Living Labs: those who run a session (the administrator runs every one).
    (Labs,                  Fixed,   [ToSignIn, NotStaff, Shown, Refused, Refused, Shown]),
    (PlanLab,               Fixed,   [ToSignIn, NotStaff, Done, Refused, Refused, Done]),
    (Lab,                   Own,     [ToSignIn, NotStaff, Shown, Hidden, Hidden, Shown]),
    (Lab,                   Other,   [ToSignIn, NotStaff, Hidden, Hidden, Hidden, Shown]),
    (Lab,                   Unknown, HIDDEN),
    (Invite,                Own,     [ToSignIn, NotStaff, Done, Hidden, Hidden, Done]),
    (Invite,                Other,   HIDDEN_BUT_ADMIN),
    (Invite,                Unknown, HIDDEN),
    (Attendance,            Own,     [ToSignIn, NotStaff, Done, Hidden, Hidden, Done]),
    (Attendance,            Other,   HIDDEN_BUT_ADMIN),
    (Attendance,            Unknown, HIDDEN),
    (Summary,               Own,     [ToSignIn, NotStaff, Done, Hidden, Hidden, Done]),
    (Summary,               Other,   HIDDEN_BUT_ADMIN),
    (Summary,               Unknown, HIDDEN),
    // Administrators' pages.
    (Accounts,              Fixed,   ADMIN),
    (CreateAccount,         Fixed,   ADMIN_ACT),
    (DecideCaseloadRequest, Fixed,   ADMIN_ACT),
    (DecideCaseloadRequest, Unknown, ADMIN_HIDDEN),
    (Account,               Fixed,   ADMIN),
    (Account,               Unknown, ADMIN_HIDDEN),
    (GrantRole,             Fixed,   ADMIN_ACT),
    (GrantRole,             Unknown, ADMIN_HIDDEN),
    (RevokeRole,            Fixed,   ADMIN_ACT),
    (RevokeRole,            Unknown, ADMIN_HIDDEN),
    (AddToCaseload,         Fixed,   ADMIN_ACT),
    (AddToCaseload,         Unknown, ADMIN_HIDDEN),
    (RemoveFromCaseload,    Fixed,   ADMIN_ACT),
    (RemoveFromCaseload,    Unknown, ADMIN_HIDDEN),
    (CreatePrison,          Fixed,   ADMIN_ACT),
    (Email,                 Fixed,   ADMIN),
    (RetryEmail,            Fixed,   ADMIN_ACT),
    (RetryEmail,            Unknown, ADMIN_HIDDEN),
    (Audit,                 Fixed,   ADMIN),
    (Privacy,               Fixed,   ADMIN),
    // The copy is a file (200), not a redirect.
    (ExportData,            Fixed,   ADMIN),
    (ExportData,            Unknown, ADMIN_HIDDEN),
    (RefusePrivacy,         Fixed,   ADMIN_ACT),
    (RefusePrivacy,         Unknown, ADMIN_HIDDEN),
    (Erase,                 Fixed,   ADMIN_ACT),
    (Erase,                 Unknown, ADMIN_HIDDEN),
    // Last, as it ends the sessions the table uses.
    (SignOut,               Fixed,   [ToSignIn, NotStaff, Done, Done, Done, Done]),
];

both_backends! {
    async fn web_admin_access_matrix(app: TestApp) {
        let mut context = setup(&app).await;
        let mut mismatches = Vec::new();
        let mut checked = 0;
        let mut watched = 0;
        let mut n = 0;
        // The 404 pages of hidden and of unknown objects, per route, caller and object.
        let mut not_found: HashMap<(Route, usize, Object), String> = HashMap::new();
        for &(route, object, expected) in MATRIX {
            let mut fixture: Option<Fixture> = None;
            let mut before: Option<String> = None;
            for (column, &expected) in expected.iter().enumerate() {
                n += 1;
                if fixture.is_none() {
                    fixture = Some(context.prepare(&app, route, object).await);
                    before = None;
                }
                let f = fixture.clone().expect("prepared");
                if before.is_none() || route == SignOut {
                    before = context.probe(&app, route, column, &f).await;
                }
                let answer = context.send(&app, route, column, &f, n).await;
                let after = context.probe(&app, route, column, &f).await;
                checked += 1;
                let who = CALLERS[column].map_or("signed out".to_owned(), |u| format!("{u:?}"));
                let (method, path, _) = context.call(route, &f, n);
                let cell = format!("{route:?} on {object:?} as {who}: {method} {path}");
                let allowed = matches!(answer.outcome, Shown | Done);
                if allowed {
                    // The object may be used up: the next cell gets a new one.
                    fixture = None;
                }
                if answer.outcome != expected {
                    mismatches.push(format!("{cell}: expected {expected:?}, got {:?}: {}", answer.outcome, words(&answer.body)));
                }
                if let (Some(before), Some(after)) = (&before, &after) {
                    watched += 1;
                    if allowed && before == after {
                        mismatches.push(format!("{cell}: answered {:?} but changed nothing", answer.outcome));
                    }
                    if !allowed && before != after {
                        mismatches.push(format!("{cell}: refused ({:?}) but changed {before} into {after}", answer.outcome));
                    }
                }
                before = after;
                // A form that acted leads to a page the caller may open (the language switch goes
                // back to any page, which the caller may not).
                if answer.outcome == Done && !matches!(route, SignIn | Language) {
                    let landed = context.open(&app, column, &answer.location).await;
                    if landed != Shown {
                        mismatches.push(format!("{cell}: acted, then led to {} which answers {landed:?}", answer.location));
                    }
                }
                // A session turned away has ended where it is stored, not only in the browser:
                // sent again, it is nobody's. The next cell gets a new one.
                if answer.outcome == NotStaff && route != SignIn {
                    let replayed = context.open(&app, column, "/admin").await;
                    if replayed != ToSignIn {
                        mismatches.push(format!("{cell}: turned away, but the session still answers {replayed:?}"));
                    }
                    context.renew_family_session(&app).await;
                }
                if route == SignIn && answer.session_set != (answer.outcome == Done) {
                    mismatches.push(format!("{cell}: {:?} with a session: {}", answer.outcome, answer.session_set));
                }
                if answer.outcome == Hidden {
                    if route != NoSuchPage && answer.body.contains(NO_SUCH_PAGE) {
                        mismatches.push(format!("{cell}: the router's 404, not the route's"));
                    }
                    if matches!(object, Other | Unknown | Mixed | UnknownMember) {
                        not_found.insert((route, column, object), answer.body);
                    }
                }
            }
        }
        // What one may not see answers exactly as what does not exist.
        let mut compared = 0;
        for ((route, column, object), hidden) in &not_found {
            let missing = match object {
                Other => Unknown,
                Mixed => UnknownMember,
                _ => continue,
            };
            if let Some(missing) = not_found.get(&(*route, *column, missing)) {
                compared += 1;
                if missing != hidden {
                    mismatches.push(format!(
                        "{route:?} on {object:?} as {:?}: a hidden object's page differs from \
                         {missing:?}'s",
                        CALLERS[*column]
                    ));
                }
            }
        }

        for mismatch in &mismatches {
            eprintln!("MISMATCH {mismatch}");
        }
        assert!(
            mismatches.is_empty(),
            "{} mismatches in {checked} cells of the web admin (listed above)",
            mismatches.len()
        );
        assert_eq!(checked, MATRIX.len() * CALLERS.len());
        assert!(watched > 0 && compared > 0, "the checks of state and of hidden objects ran");
        let mut routes: Vec<Route> = MATRIX.iter().map(|r| r.0).collect();
        routes.dedup();
        eprintln!(
            "{} routes, {} rows, {checked} cells: {watched} with the object watched, {compared} \
             hidden objects compared with unknown ones",
            routes.len(),
            MATRIX.len()
        );
    }
}
