//! The demo data the server seeds with `demo = true`, and how tests find its ids (which are
//! random on every start).

use std::collections::HashMap;

use reguide_protocol::api::{Account, Family, FamilySummary, Member, Prison};
use reguide_protocol::{AccountId, FamilyId, PrisonId, Role};

use crate::{TestApp, expect_json};

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "reguide-demo";

/// The demo accounts, one per role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DemoUser {
    Admin,
    /// Coordinator of Prison de Haren and Gevangenis Brugge.
    Coordinator,
    /// Social worker with families A and B in their caseload.
    SocialWorker,
    Facilitator,
    /// Fatima Benali, member of family A.
    FamilyMember,
}

impl DemoUser {
    pub const ALL: [DemoUser; 5] = [
        Self::Admin,
        Self::Coordinator,
        Self::SocialWorker,
        Self::Facilitator,
        Self::FamilyMember,
    ];

    pub fn email(self) -> &'static str {
        match self {
            Self::Admin => "admin@example.org",
            Self::Coordinator => "coordinator@example.org",
            Self::SocialWorker => "social@example.org",
            Self::Facilitator => "facilitator@example.org",
            Self::FamilyMember => "family@example.org",
        }
    }

    /// The one role the demo account holds.
    pub fn role(self) -> Role {
        match self {
            Self::Admin => Role::Admin,
            Self::Coordinator => Role::Coordinator,
            Self::SocialWorker => Role::SocialWorker,
            Self::Facilitator => Role::Facilitator,
            Self::FamilyMember => Role::FamilyMember,
        }
    }
}

pub const FAMILY_A_LABEL: &str = "Family of Y. Benali";
pub const FAMILY_B_LABEL: &str = "Family of T. Janssens";
pub const FAMILY_C_LABEL: &str = "Family of M. El Idrissi";

/// The ids of the demo objects in one running server.
#[derive(Clone, Debug)]
pub struct DemoData {
    /// "Family of Y. Benali": detainee at Haren; Fatima (account), Karim, Salma (child).
    pub family_a: FamilyId,
    /// "Family of T. Janssens": detainee at Brugge; Els, Lotte (child).
    pub family_b: FamilyId,
    /// "Family of M. El Idrissi": detainee at Lantin; Nadia.
    pub family_c: FamilyId,
    pub haren: PrisonId,
    pub brugge: PrisonId,
    pub lantin: PrisonId,
    accounts: HashMap<DemoUser, AccountId>,
}

impl DemoData {
    pub fn account(&self, user: DemoUser) -> AccountId {
        self.accounts[&user]
    }
}

impl TestApp {
    /// Looks the demo ids up through the API, as the admin.
    pub async fn demo_data(&self) -> DemoData {
        let token = self.login_as(DemoUser::Admin).await;

        let families: Vec<FamilySummary> =
            expect_json(self.get("/api/v1/families", Some(&token)).await, 200).await;
        let family = |label: &str| {
            families
                .iter()
                .find(|f| f.label == label)
                .unwrap_or_else(|| panic!("demo family {label:?} missing from {families:?}"))
                .id
        };

        let prisons: Vec<Prison> =
            expect_json(self.get("/api/v1/prisons", Some(&token)).await, 200).await;
        let prison = |name: &str| {
            prisons
                .iter()
                .find(|p| p.name == name)
                .unwrap_or_else(|| panic!("demo prison {name:?} missing from {prisons:?}"))
                .id
        };

        let accounts: Vec<Account> =
            expect_json(self.get("/api/v1/admin/accounts", Some(&token)).await, 200).await;
        let accounts = DemoUser::ALL
            .into_iter()
            .map(|user| {
                let account = accounts
                    .iter()
                    .find(|a| a.email.as_deref() == Some(user.email()))
                    .unwrap_or_else(|| panic!("demo account {} missing", user.email()));
                (user, account.id)
            })
            .collect();

        DemoData {
            family_a: family(FAMILY_A_LABEL),
            family_b: family(FAMILY_B_LABEL),
            family_c: family(FAMILY_C_LABEL),
            haren: prison("Prison de Haren"),
            brugge: prison("Gevangenis Brugge"),
            lantin: prison("Prison de Lantin"),
            accounts,
        }
    }

    /// `GET /api/v1/families/{id}` for a caller who may read it.
    pub async fn family(&self, token: &str, id: FamilyId) -> Family {
        expect_json(
            self.get(&format!("/api/v1/families/{id}"), Some(token))
                .await,
            200,
        )
        .await
    }
}

/// The member of `family` with this display name.
pub fn member_named<'a>(family: &'a Family, name: &str) -> &'a Member {
    family
        .members
        .iter()
        .find(|m| m.display_name == name)
        .unwrap_or_else(|| {
            let names: Vec<_> = family.members.iter().map(|m| &m.display_name).collect();
            panic!(
                "no member {name:?} in {:?}; members: {names:?}",
                family.label
            )
        })
}
