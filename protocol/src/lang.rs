//! Languages reguide speaks with people.

use serde::{Deserialize, Serialize};

/// A language a person prefers. Dutch, French and German are Belgium's official languages;
/// English and Arabic are spoken by many families of returnees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Language {
    Nl,
    Fr,
    De,
    En,
    Ar,
}

impl Language {
    pub const ALL: [Language; 5] = [Self::Nl, Self::Fr, Self::De, Self::En, Self::Ar];

    /// The ISO 639-1 code, as stored and sent on the wire.
    pub fn code(self) -> &'static str {
        match self {
            Self::Nl => "nl",
            Self::Fr => "fr",
            Self::De => "de",
            Self::En => "en",
            Self::Ar => "ar",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.code() == code)
    }

    /// Whether text in this language runs right to left.
    pub fn is_rtl(self) -> bool {
        matches!(self, Self::Ar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_match_the_wire_form() {
        for lang in Language::ALL {
            assert_eq!(Language::from_code(lang.code()), Some(lang));
            let json = serde_json::to_string(&lang).expect("serialise");
            assert_eq!(json, format!("\"{}\"", lang.code()));
        }
        assert_eq!(Language::from_code("xx"), None);
        assert!(Language::Ar.is_rtl() && !Language::Nl.is_rtl());
    }
}
