//! Demo data for trying reguide and for its walkthroughs: three Belgian prisons, three families
//! with members speaking nl, fr and ar, and one account per staff role plus a family member.
//! Refuses to touch a database that holds anything but demo data.

use chrono::NaiveDate;
use diesel::prelude::*;
use reguide_protocol::api::Relation;
use reguide_protocol::{AccountId, FamilyId, Language, Role};

use crate::accounts::{self, EmailAddress, NewAccountRow};
use crate::auth::password;
use crate::db::DbConn;
use crate::db::schema::{
    accounts as accounts_t, families as families_t, family_members, instance_meta,
    prisons as prisons_t,
};
use crate::error::ApiError;
use crate::families::{self, MemberInput};
use crate::prisons;

mod visits_demo;

pub const DEMO_PASSWORD: &str = "reguide-demo";

/// The demo accounts, as printed at start and listed in the README.
pub const DEMO_ACCOUNTS: [(&str, &str); 5] = [
    ("admin@example.org", "administrator"),
    (
        "coordinator@example.org",
        "visit coordinator (Haren, Brugge)",
    ),
    (
        "social@example.org",
        "social worker (Benali, Janssens families)",
    ),
    ("facilitator@example.org", "Living Lab facilitator"),
    ("family@example.org", "family member (Fatima Benali)"),
];

const MARKER: &str = "demo_data";

/// What [`seed`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Seeded {
    Created,
    AlreadyThere,
}

/// Seeds the demo data on an empty database; does nothing on a demo database; refuses on a
/// database with real data.
pub fn seed(conn: &mut DbConn) -> anyhow::Result<Seeded> {
    let marked: i64 = instance_meta::table
        .filter(instance_meta::key.eq(MARKER))
        .count()
        .get_result(conn)?;
    if marked > 0 {
        return Ok(Seeded::AlreadyThere);
    }
    let holds_data: i64 = accounts_t::table.count().get_result::<i64>(conn)?
        + families_t::table.count().get_result::<i64>(conn)?
        + prisons_t::table.count().get_result::<i64>(conn)?;
    if holds_data > 0 {
        anyhow::bail!(
            "--demo refused: this database already holds data that is not demo data; \
             use an empty database (or another data folder) for the demo"
        );
    }
    // Hash once: every demo account shares the password, and argon2 is slow by design.
    let hash = password::hash(DEMO_PASSWORD)?;
    conn.write(|conn| insert_demo(conn, &hash).map_err(|e| anyhow::anyhow!("{e}")))?;
    Ok(Seeded::Created)
}

fn insert_demo(conn: &mut DbConn, hash: &str) -> Result<(), ApiError> {
    let tz = chrono_tz::Europe::Brussels;
    let haren = prisons::create_prison(conn, "Prison de Haren", "Haren", tz)?;
    let brugge = prisons::create_prison(conn, "Gevangenis Brugge", "Brugge", tz)?;
    let lantin = prisons::create_prison(conn, "Prison de Lantin", "Lantin", tz)?;

    let account = |conn: &mut DbConn, email: &str, name: &str, lang: Language| {
        accounts::insert_account(
            conn,
            NewAccountRow {
                email: Some(EmailAddress::parse(email, "email")?),
                username: email.to_owned(),
                display_name: name.to_owned(),
                language: lang,
                password_hash: hash.to_owned(),
            },
        )
    };
    let admin = account(conn, "admin@example.org", "An Peeters", Language::Nl)?;
    let coordinator = account(
        conn,
        "coordinator@example.org",
        "Sophie Lambert",
        Language::Fr,
    )?;
    let social = account(conn, "social@example.org", "Hanne De Smet", Language::Nl)?;
    let facilitator = account(conn, "facilitator@example.org", "Marc Dubois", Language::Fr)?;
    let family_account = account(conn, "family@example.org", "Fatima Benali", Language::Fr)?;

    accounts::grant_role(conn, admin, Role::Admin, None, None)?;
    accounts::grant_role(conn, coordinator, Role::Coordinator, Some(haren.id), None)?;
    accounts::grant_role(conn, coordinator, Role::Coordinator, Some(brugge.id), None)?;
    accounts::grant_role(conn, social, Role::SocialWorker, None, None)?;
    accounts::grant_role(conn, facilitator, Role::Facilitator, None, None)?;

    let member = |name: &str, relation, language, birth: Option<(i32, u32, u32)>| MemberInput {
        display_name: name.to_owned(),
        relation,
        language,
        email: None,
        phone: None,
        birth_date: birth.and_then(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d)),
    };

    let benali = families::create_family(conn, "Family of Y. Benali")?;
    families::link_detainee(conn, benali, "Youssef Benali", haren.id, "HAR-2291")?;
    let fatima = families::add_member(
        conn,
        benali,
        member(
            "Fatima Benali",
            Relation::Parent,
            Language::Fr,
            Some((1968, 4, 2)),
        ),
    )?;
    families::add_member(
        conn,
        benali,
        member(
            "Karim Benali",
            Relation::Parent,
            Language::Ar,
            Some((1965, 9, 17)),
        ),
    )?;
    families::add_member(
        conn,
        benali,
        member(
            "Salma Benali",
            Relation::Sibling,
            Language::Fr,
            Some((2014, 6, 21)),
        ),
    )?;
    diesel::update(family_members::table.find(fatima.id.to_string()))
        .set((
            family_members::account_id.eq(family_account.to_string()),
            family_members::email.eq("family@example.org"),
        ))
        .execute(conn)?;
    accounts::grant_role(conn, family_account, Role::FamilyMember, None, Some(benali))?;

    let janssens = families::create_family(conn, "Family of T. Janssens")?;
    families::link_detainee(conn, janssens, "Thomas Janssens", brugge.id, "BRG-0457")?;
    families::add_member(
        conn,
        janssens,
        member(
            "Els Janssens",
            Relation::Partner,
            Language::Nl,
            Some((1990, 1, 30)),
        ),
    )?;
    families::add_member(
        conn,
        janssens,
        member(
            "Lotte Janssens",
            Relation::Child,
            Language::Nl,
            Some((2018, 11, 3)),
        ),
    )?;

    let el_idrissi = families::create_family(conn, "Family of M. El Idrissi")?;
    families::link_detainee(conn, el_idrissi, "Mehdi El Idrissi", lantin.id, "LAN-1180")?;
    families::add_member(
        conn,
        el_idrissi,
        member(
            "Nadia El Idrissi",
            Relation::Partner,
            Language::Ar,
            Some((1992, 3, 8)),
        ),
    )?;

    accounts::assign_caseload(conn, social, benali)?;
    accounts::assign_caseload(conn, social, janssens)?;

    visits_demo::seed(conn, &[haren.id, brugge.id, lantin.id], social)?;
    steps_demo(conn, benali, social)?;
    living_lab_demo(conn, facilitator, fatima.id, social)?;

    diesel::insert_into(instance_meta::table)
        .values((instance_meta::key.eq(MARKER), instance_meta::value.eq("1")))
        .execute(conn)?;
    Ok(())
}

/// The monthly Living Lab on housing after release, run by the facilitator: Fatima and the
/// social worker are invited, with a judge and a researcher outside reguide (their invitations,
/// with answer links, are in the mail folder).
fn living_lab_demo(
    conn: &mut DbConn,
    facilitator: AccountId,
    fatima: reguide_protocol::MemberId,
    social: AccountId,
) -> Result<(), ApiError> {
    use reguide_protocol::living_labs::{
        Guest, NewInvitations, NewLivingLab, ParticipantRole, Repeat, Repetition,
    };
    let today = crate::steps::today();
    let new = NewLivingLab {
        title: "Living Lab : le logement après la libération".into(),
        theme: "Logement".into(),
        description: "Deux situations de familles, et ce qui aiderait à trouver un logement \
                      dans le premier mois."
            .into(),
        date: today + chrono::Duration::days(14),
        starts_at: chrono::NaiveTime::from_hms_opt(14, 0, 0).unwrap_or_default(),
        ends_at: chrono::NaiveTime::from_hms_opt(16, 30, 0).unwrap_or_default(),
        time_zone: None,
        place: "Maison de justice de Bruxelles, salle 3".into(),
        online_link: None,
        capacity: 12,
        languages: vec![Language::Fr, Language::Nl],
        accessibility: "Accessible en fauteuil roulant.".into(),
        agenda: vec![
            "Accueil".into(),
            "Deux situations".into(),
            "Ce que nous convenons".into(),
        ],
        facilitators: Vec::new(),
        repeat: Some(Repetition {
            every: Repeat::Monthly,
            count: 3,
        }),
    };
    let sessions = crate::living_labs::create(conn, facilitator, &new, today)?;
    let Some(first) = sessions.first() else {
        return Ok(());
    };
    let lab = crate::living_labs::load(conn, *first)?;
    let guest = |email: &str, name: &str, role, language| Guest {
        email: email.into(),
        name: name.into(),
        role,
        language: Some(language),
    };
    let who = NewInvitations {
        accounts: vec![social],
        members: vec![fatima],
        role: Some(ParticipantRole::SocialWorker),
        guests: vec![
            guest(
                "judge@example.org",
                "Rechter Peeters",
                ParticipantRole::Judge,
                Language::Nl,
            ),
            guest(
                "researcher@example.org",
                "Dr. Amal Haddad",
                ParticipantRole::Academic,
                Language::En,
            ),
        ],
        ..NewInvitations::default()
    };
    crate::living_labs::invite(conn, &lab, &who, chrono::Utc::now())?;
    Ok(())
}

/// Fatima Benali's family, released last month into Brussels: the social worker applied the
/// Brussels template, in French, and added the housing file the walkthrough ticks.
fn steps_demo(conn: &mut DbConn, family: FamilyId, social: AccountId) -> Result<(), ApiError> {
    use reguide_protocol::doc::NextActor;
    use reguide_protocol::steps::{NewStep, StepCategory};
    let template = crate::steps::templates::get(conn, "brussels-first-month")?;
    let today = crate::steps::today();
    let at = chrono::Utc::now().timestamp_millis();
    crate::sync::store::edit_as_server(conn, family, |tx| {
        crate::steps::write::apply_template(tx, &template, Language::Fr, today, social, at)?;
        let housing = NewStep {
            title: "Logement : dossier d'aide au loyer au CPAS".into(),
            category: StepCategory::Housing,
            description: "Le CPAS peut avancer la garantie locative. Envoyez-lui les documents \
                          ci-dessous."
                .into(),
            owner: reguide_protocol::doc::StepOwner::Family,
            next_actor: NextActor::Family,
            agency: Some("CPAS de Bruxelles".into()),
            due_date: today.checked_add_signed(chrono::Duration::days(10)),
            checklist: vec![
                "Copie du contrat de bail envoyée".into(),
                "Attestation de revenus envoyée".into(),
            ],
            documents: vec!["Carte d'identité".into(), "Contrat de bail".into()],
        };
        crate::steps::write::create(tx, housing, None, social, at)?;
        Ok(())
    })
}
