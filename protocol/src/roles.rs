//! Roles people hold in reguide. One account may hold several.

use serde::{Deserialize, Serialize};

/// A role. Some are scoped: a coordinator to prisons, a social worker to a caseload of families,
/// a family member to one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    Admin,
    Coordinator,
    SocialWorker,
    Facilitator,
    FamilyMember,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Self::Admin,
        Self::Coordinator,
        Self::SocialWorker,
        Self::Facilitator,
        Self::FamilyMember,
    ];

    /// The stable name, as stored and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Coordinator => "coordinator",
            Self::SocialWorker => "social_worker",
            Self::Facilitator => "facilitator",
            Self::FamilyMember => "family_member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// What a grant of this role must be scoped to.
    pub fn scope_kind(self) -> ScopeKind {
        match self {
            Self::Coordinator => ScopeKind::Prison,
            Self::FamilyMember => ScopeKind::Family,
            // A social worker's scope is their caseload, kept apart from the grant.
            Self::Admin | Self::SocialWorker | Self::Facilitator => ScopeKind::None,
        }
    }
}

/// The kind of object a role grant is scoped to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeKind {
    None,
    Prison,
    Family,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            let json = serde_json::to_string(&role).expect("serialise");
            assert_eq!(json, format!("\"{}\"", role.as_str()));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
