//! Newtype ids, so that a family id can never be passed where a prison id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random id.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    )*};
}

id_type!(
    /// A person who can sign in (staff or family member).
    AccountId,
    /// A family: the unit that shares one family document.
    FamilyId,
    /// A member of a family, with or without an account.
    MemberId,
    /// A detained person linked to one or more families.
    DetaineeId,
    /// A prison.
    PrisonId,
    /// An enrolled device (phone) of an account.
    DeviceId,
    /// One grant of a role to an account.
    RoleGrantId,
    /// A one-time enrolment code.
    EnrolmentCodeId,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_serialise_as_plain_uuid_strings() {
        let id = FamilyId::new();
        let json = serde_json::to_string(&id).expect("serialise");
        assert_eq!(json, format!("\"{}\"", id.0));
        let back: FamilyId = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, id);
        assert!("not-a-uuid".parse::<FamilyId>().is_err());
    }
}
