//! The web admin's words, per language: `server/web-texts/<lang>.toml`, embedded in the binary.
//! Dutch, French and English are complete (a unit test says so); German and Arabic fall back to
//! English for any text not yet translated. Arabic pages are laid out right to left.

use std::collections::HashMap;
use std::sync::LazyLock;

use reguide_protocol::Language;

/// The languages the admin offers, in the order of the language switch.
pub const OFFERED: [Language; 5] = [
    Language::Nl,
    Language::Fr,
    Language::En,
    Language::De,
    Language::Ar,
];

/// Languages every text must exist in.
pub const COMPLETE: [Language; 3] = [Language::Nl, Language::Fr, Language::En];

fn source(language: Language) -> &'static str {
    match language {
        Language::Nl => include_str!("../../web-texts/nl.toml"),
        Language::Fr => include_str!("../../web-texts/fr.toml"),
        Language::En => include_str!("../../web-texts/en.toml"),
        Language::De => include_str!("../../web-texts/de.toml"),
        Language::Ar => include_str!("../../web-texts/ar.toml"),
    }
}

type Table = HashMap<String, String>;

/// `[section] key = "text"` becomes `section.key`.
fn flatten(prefix: &str, value: &toml::Value, into: &mut Table) -> Result<(), String> {
    match value {
        toml::Value::Table(table) => {
            for (key, value) in table {
                let name = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&name, value, into)?;
            }
            Ok(())
        }
        toml::Value::String(text) => {
            into.insert(prefix.to_owned(), text.clone());
            Ok(())
        }
        _ => Err(format!("{prefix}: a text must be a string")),
    }
}

/// Parses one language's file.
pub fn parse(language: Language) -> Result<Table, String> {
    let value: toml::Value = toml::from_str(source(language))
        .map_err(|e| format!("web-texts/{}.toml: {e}", language.code()))?;
    let mut table = Table::new();
    flatten("", &value, &mut table)?;
    Ok(table)
}

static TEXTS: LazyLock<HashMap<Language, Table>> = LazyLock::new(|| {
    OFFERED
        .iter()
        .map(|&language| {
            // The files are part of the binary and checked by the unit tests; a broken one
            // leaves that language to the English fallback rather than stopping the server.
            let table = parse(language).unwrap_or_else(|error| {
                tracing::error!(%error, "web texts unreadable");
                Table::new()
            });
            (language, table)
        })
        .collect()
});

/// The text for `key` in `language`, else in English, else the key itself (which the unit
/// tests never let happen for a key the templates use).
pub fn text(language: Language, key: &str) -> &str {
    let texts = &*TEXTS;
    texts
        .get(&language)
        .and_then(|t| t.get(key))
        .or_else(|| texts.get(&Language::En).and_then(|t| t.get(key)))
        .map(String::as_str)
        .unwrap_or_else(|| {
            tracing::warn!(key, "web text missing");
            key
        })
}

/// Whether a text exists in English (used for error codes, which fall back to the message).
pub fn has(key: &str) -> bool {
    TEXTS
        .get(&Language::En)
        .is_some_and(|table| table.contains_key(key))
}

/// The name of a language in that language, for the switch.
pub fn endonym(language: Language) -> &'static str {
    match language {
        Language::Nl => "Nederlands",
        Language::Fr => "Français",
        Language::En => "English",
        Language::De => "Deutsch",
        Language::Ar => "العربية",
    }
}

pub fn is_rtl(language: Language) -> bool {
    language == Language::Ar
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key a template or handler names: each `"section.key"` literal in the templates and
    /// in this module's source whose section is one of the texts' sections, and the keys built
    /// at run time (notices, fill levels, wire values).
    fn keys_used() -> Vec<String> {
        let english = parse(Language::En).expect("parses");
        let sections: std::collections::BTreeSet<&str> = english
            .keys()
            .filter_map(|k| k.split_once('.').map(|(s, _)| s))
            .collect();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut keys = Vec::new();
        for dir in [
            "templates/admin",
            "templates/privacy",
            "src/web",
            "src/privacy",
        ] {
            for entry in std::fs::read_dir(root.join(dir)).expect("folder") {
                let source = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
                for literal in source.split('"').skip(1).step_by(2) {
                    let Some((section, name)) = literal.split_once('.') else {
                        continue;
                    };
                    let plain = |t: &str| {
                        !t.is_empty()
                            && t.bytes()
                                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                    };
                    if sections.contains(section) && plain(section) && plain(name) {
                        keys.push(literal.to_owned());
                    }
                }
            }
        }
        for done in crate::web::DONE_NOTICES {
            keys.push(format!("done.{done}"));
        }
        for fill in ["empty", "some", "full", "blocked"] {
            keys.push(format!("week.fill_{fill}"));
        }
        for day in 1..=7 {
            keys.push(format!("weekday.d{day}"));
        }
        use reguide_protocol::living_labs::{Need, ParticipantRole};
        use reguide_protocol::visits::{DeclineReason, SupportNeed, VisitStatus, VisitType};
        let mut wire = |section: &str, values: Vec<&str>| {
            keys.extend(values.into_iter().map(|v| format!("{section}.{v}")));
        };
        wire(
            "visit_type",
            VisitType::ALL.iter().map(|v| v.as_str()).collect(),
        );
        wire(
            "status",
            VisitStatus::ALL.iter().map(|v| v.as_str()).collect(),
        );
        wire(
            "decline_reason",
            DeclineReason::ALL.iter().map(|v| v.as_str()).collect(),
        );
        wire(
            "support_need",
            SupportNeed::ALL.iter().map(|v| v.as_str()).collect(),
        );
        wire("need", Need::ALL.iter().map(|v| v.as_str()).collect());
        wire(
            "participant_role",
            ParticipantRole::ALL.iter().map(|v| v.as_str()).collect(),
        );
        wire(
            "role",
            reguide_protocol::Role::ALL
                .iter()
                .map(|v| v.as_str())
                .collect(),
        );
        wire(
            "relation",
            reguide_protocol::api::Relation::ALL
                .iter()
                .map(|v| v.as_str())
                .collect(),
        );
        wire(
            "category",
            reguide_protocol::steps::StepCategory::ALL
                .iter()
                .map(|v| v.as_str())
                .collect(),
        );
        wire(
            "step_status",
            reguide_protocol::doc::status::StepStatus::ALL
                .iter()
                .map(|v| v.as_str())
                .collect(),
        );
        wire(
            "appointment_status",
            reguide_protocol::doc::status::AppointmentStatus::ALL
                .iter()
                .map(|v| v.as_str())
                .collect(),
        );
        wire(
            "rsvp",
            reguide_protocol::doc::schema::Rsvp::ALL
                .iter()
                .map(|v| v.as_str())
                .collect(),
        );
        keys.sort();
        keys.dedup();
        keys
    }

    #[test]
    fn every_file_parses() {
        for language in OFFERED {
            let table = parse(language).expect("parses");
            assert!(!table.is_empty(), "{language:?} is empty");
        }
    }

    #[test]
    fn dutch_french_and_english_have_every_text() {
        let keys = keys_used();
        assert!(keys.len() > 50, "the key scan found only {}", keys.len());
        for language in COMPLETE {
            let table = parse(language).expect("parses");
            let missing: Vec<&String> = keys.iter().filter(|k| !table.contains_key(*k)).collect();
            assert!(missing.is_empty(), "{} lacks {missing:?}", language.code());
        }
    }

    #[test]
    fn no_language_has_texts_english_lacks() {
        let english = parse(Language::En).expect("parses");
        for language in OFFERED {
            let table = parse(language).expect("parses");
            let extra: Vec<&String> = table.keys().filter(|k| !english.contains_key(*k)).collect();
            assert!(
                extra.is_empty(),
                "{} has unknown {extra:?}",
                language.code()
            );
        }
    }

    #[test]
    fn placeholders_match_english() {
        let english = parse(Language::En).expect("parses");
        let holes = |s: &str| {
            let mut found: Vec<String> = s
                .split('{')
                .skip(1)
                .filter_map(|p| p.split_once('}').map(|(name, _)| name.to_owned()))
                .collect();
            found.sort();
            found
        };
        for language in OFFERED {
            for (key, text) in parse(language).expect("parses") {
                if let Some(en) = english.get(&key) {
                    assert_eq!(holes(&text), holes(en), "{}: {key}", language.code());
                }
            }
        }
    }

    #[test]
    fn fallback_is_english() {
        assert_eq!(text(Language::En, "nav.sign_out"), "Sign out");
        assert_eq!(
            text(Language::De, "nav.sign_out"),
            parse(Language::De)
                .expect("parses")
                .get("nav.sign_out")
                .map(String::as_str)
                .unwrap_or("Sign out")
        );
    }
}
