//! Demo visit data: each prison's practical advice, rules and weekly sessions, the demo
//! families on their visitor lists, a confirmed visit for the Benali family and a request
//! waiting in Brugge's queue.

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, Utc};
use diesel::prelude::*;
use reguide_protocol::visits::{
    ApprovalBasis, ApprovalStatus, Channel, LocalizedText, NewSessionTemplate, NewVisitRequest,
    PrisonInfo, SessionCapacity, SlotChoice, SupportNeed, VisitRules, VisitType,
};
use reguide_protocol::{AccountId, Language, MemberId, PrisonId};

use crate::auth::principal::parse_id;
use crate::db::DbConn;
use crate::db::schema::{family_detainees, family_members, visitor_approvals};
use crate::error::ApiResult;
use crate::visits::access::Party;
use crate::visits::{requests, rules};

fn text(pairs: &[(Language, &str)]) -> LocalizedText {
    pairs.iter().map(|(l, t)| (*l, (*t).to_owned())).collect()
}

fn time(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default()
}

fn table_rules(auto_confirm: bool) -> VisitRules {
    VisitRules {
        visit_type: VisitType::Table,
        min_notice_hours: 24,
        max_days_ahead: 28,
        max_visitors: 3,
        max_adults: 3,
        max_children: 2,
        adult_from_age: 18,
        auto_confirm,
        cancel_cutoff_hours: 24,
    }
}

fn session(
    weekday: u8,
    start: NaiveTime,
    end: NaiveTime,
    room: &str,
    caps: &[(VisitType, i32)],
) -> NewSessionTemplate {
    NewSessionTemplate {
        weekday,
        starts_at: start,
        ends_at: end,
        every_weeks: 1,
        valid_from: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap_or_default(),
        valid_to: None,
        room: room.to_owned(),
        capacities: caps
            .iter()
            .map(|&(visit_type, capacity)| SessionCapacity {
                visit_type,
                capacity,
            })
            .collect(),
    }
}

pub fn seed(conn: &mut DbConn, prisons: &[PrisonId; 3], social: AccountId) -> ApiResult<()> {
    let [haren, brugge, lantin] = *prisons;
    let arrive = text(&[
        (
            Language::Fr,
            "Arrivez 30 minutes avant la visite, à l'accueil des visiteurs.",
        ),
        (
            Language::Nl,
            "Kom 30 minuten voor het bezoek naar het bezoekersonthaal.",
        ),
        (
            Language::En,
            "Arrive 30 minutes before the visit, at the visitors' reception.",
        ),
        (
            Language::Ar,
            "احضر قبل الزيارة بثلاثين دقيقة إلى مكتب استقبال الزوار.",
        ),
    ]);
    let bring = text(&[
        (
            Language::Fr,
            "Votre carte d'identité. Pas de téléphone à l'intérieur: un casier est prévu.",
        ),
        (
            Language::Nl,
            "Uw identiteitskaart. Geen gsm binnen: er zijn lockers.",
        ),
        (
            Language::En,
            "Your identity card. No phones inside: lockers are provided.",
        ),
        (Language::Ar, "بطاقة الهوية. لا هواتف في الداخل: توجد خزائن."),
    ]);
    let step_free = text(&[
        (
            Language::Fr,
            "Accès de plain-pied; signalez un fauteuil roulant lors de la demande.",
        ),
        (
            Language::Nl,
            "Gelijkvloers toegankelijk; meld een rolstoel bij de aanvraag.",
        ),
        (
            Language::En,
            "Step-free access; mention a wheelchair when you ask for the visit.",
        ),
    ]);
    let infos = [
        (
            haren,
            "Prison de Haren",
            "Haren",
            "Rue du Witloof 1, 1130 Bruxelles",
            vec![Language::Fr, Language::Nl],
            "+32 2 000 11 00",
        ),
        (
            brugge,
            "Gevangenis Brugge",
            "Brugge",
            "Legeweg 200, 8200 Brugge",
            vec![Language::Nl],
            "+32 50 00 22 00",
        ),
        (
            lantin,
            "Prison de Lantin",
            "Lantin",
            "Rue des Communes 20, 4450 Juprelle",
            vec![Language::Fr],
            "+32 4 000 33 00",
        ),
    ];
    for (id, name, city, address, languages, phone) in infos {
        rules::update_info(
            conn,
            id,
            &PrisonInfo {
                name: name.to_owned(),
                city: city.to_owned(),
                address: address.to_owned(),
                languages,
                contact_phone: Some(phone.to_owned()),
                contact_email: None,
                arrival_advice: arrive.clone(),
                what_to_bring: bring.clone(),
                accessibility: step_free.clone(),
            },
        )?;
    }

    // Haren confirms table visits at once while places remain; closed and unsupervised visits
    // always wait for a coordinator.
    rules::put_rules(conn, haren, &table_rules(true))?;
    rules::put_rules(
        conn,
        haren,
        &VisitRules {
            visit_type: VisitType::Closed,
            max_visitors: 2,
            max_adults: 2,
            max_children: 1,
            auto_confirm: false,
            ..table_rules(false)
        },
    )?;
    rules::put_rules(
        conn,
        haren,
        &VisitRules {
            visit_type: VisitType::Unsupervised,
            min_notice_hours: 72,
            max_days_ahead: 42,
            max_visitors: 2,
            max_adults: 2,
            max_children: 1,
            adult_from_age: 18,
            auto_confirm: false,
            cancel_cutoff_hours: 48,
        },
    )?;
    let tuesday = rules::create_template(
        conn,
        haren,
        &session(
            2,
            time(14, 0),
            time(15, 30),
            "Salle A",
            &[(VisitType::Table, 10), (VisitType::Closed, 2)],
        ),
    )?;
    rules::create_template(
        conn,
        haren,
        &session(
            3,
            time(14, 0),
            time(15, 30),
            "Salle A",
            &[(VisitType::Table, 10)],
        ),
    )?;
    rules::create_template(
        conn,
        haren,
        &session(
            4,
            time(13, 0),
            time(15, 0),
            "Chambre 1",
            &[(VisitType::Unsupervised, 1)],
        ),
    )?;
    rules::create_template(
        conn,
        haren,
        &session(
            6,
            time(9, 30),
            time(11, 0),
            "Salle A",
            &[(VisitType::Table, 12)],
        ),
    )?;
    rules::create_template(
        conn,
        haren,
        &session(
            6,
            time(14, 0),
            time(15, 30),
            "Salle A",
            &[(VisitType::Table, 12)],
        ),
    )?;

    // Brugge decides every request itself.
    rules::put_rules(conn, brugge, &table_rules(false))?;
    let monday = rules::create_template(
        conn,
        brugge,
        &session(
            1,
            time(13, 30),
            time(15, 0),
            "Bezoekzaal",
            &[(VisitType::Table, 8)],
        ),
    )?;
    rules::create_template(
        conn,
        brugge,
        &session(
            3,
            time(13, 30),
            time(15, 0),
            "Bezoekzaal",
            &[(VisitType::Table, 8)],
        ),
    )?;
    rules::create_template(
        conn,
        brugge,
        &session(
            7,
            time(10, 0),
            time(11, 30),
            "Bezoekzaal",
            &[(VisitType::Table, 8)],
        ),
    )?;

    rules::put_rules(conn, lantin, &table_rules(true))?;
    rules::create_template(
        conn,
        lantin,
        &session(
            2,
            time(14, 0),
            time(15, 30),
            "Parloir",
            &[(VisitType::Table, 8)],
        ),
    )?;
    rules::create_template(
        conn,
        lantin,
        &session(
            4,
            time(14, 0),
            time(15, 30),
            "Parloir",
            &[(VisitType::Table, 8)],
        ),
    )?;

    // Every demo family member is on their detained relative's visitor list.
    let links: Vec<(String, String)> = family_detainees::table
        .select((family_detainees::family_id, family_detainees::detainee_id))
        .load(conn)?;
    for (family, detainee) in &links {
        let members: Vec<(String, String)> = family_members::table
            .filter(family_members::family_id.eq(family))
            .select((family_members::id, family_members::relation))
            .load(conn)?;
        for (member, relation) in members {
            let close = reguide_protocol::api::Relation::parse(&relation)
                .is_some_and(crate::visits::visitors::is_close_family);
            diesel::insert_into(visitor_approvals::table)
                .values((
                    visitor_approvals::detainee_id.eq(detainee),
                    visitor_approvals::member_id.eq(&member),
                    visitor_approvals::status.eq(ApprovalStatus::Approved.as_str()),
                    visitor_approvals::basis.eq(if close {
                        ApprovalBasis::KinshipProof
                    } else {
                        ApprovalBasis::DirectorApproval
                    }
                    .as_str()),
                    visitor_approvals::decided_at.eq(crate::db::now()),
                ))
                .execute(conn)?;
        }
    }

    // A confirmed visit for the Benali family on the first Tuesday at least two days away, and
    // a request for the Janssens family waiting in Brugge's queue.
    let today = Utc::now().date_naive();
    let next = |weekday: u32| {
        let mut d = today + Duration::days(2);
        while d.weekday().number_from_monday() != weekday {
            d += Duration::days(1);
        }
        d
    };
    for (family_label, template, date, support) in [
        ("Family of Y. Benali", tuesday.id, next(2), vec![]),
        (
            "Family of T. Janssens",
            monday.id,
            next(1),
            vec![SupportNeed::Pram],
        ),
    ] {
        let (family, detainee): (String, String) = family_detainees::table
            .inner_join(crate::db::schema::families::table)
            .filter(crate::db::schema::families::label.eq(family_label))
            .select((family_detainees::family_id, family_detainees::detainee_id))
            .first(conn)?;
        let visitors: Vec<MemberId> = family_members::table
            .filter(family_members::family_id.eq(&family))
            .order(family_members::created_at.asc())
            .select(family_members::id)
            .limit(2)
            .load::<String>(conn)?
            .iter()
            .map(|m| parse_id(m))
            .collect::<ApiResult<_>>()?;
        requests::create(
            conn,
            &NewVisitRequest {
                family_id: parse_id(&family)?,
                detainee_id: parse_id(&detainee)?,
                visit_type: VisitType::Table,
                preferences: vec![SlotChoice {
                    template_id: template,
                    date,
                }],
                visitors,
                support_needs: support,
                support_note: None,
                channel: Some(Channel::Phone),
            },
            Party::Staff,
            social,
            Utc::now(),
        )?;
    }
    Ok(())
}
