//! Message templates: files per kind and language (`server/mail-templates/<language>/<kind>.toml`,
//! embedded at build time), each with a `subject`, a plain `text` and an `html` body, and for
//! messages that carry a calendar entry its `calendar` title. `{{name}}` stands for a value;
//! values are escaped in HTML. A kind or key missing in a language falls back to English (the
//! test `every_template_is_translated` lists what is missing).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use reguide_protocol::Language;
use serde::Deserialize;

use super::Kind;

mod files {
    include!(concat!(env!("OUT_DIR"), "/mail_templates.rs"));
}

/// One template file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub calendar: Option<String>,
}

/// The words every message shares (`_common.toml`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Common {
    pub footer: Option<String>,
    pub opt_out: Option<String>,
    #[serde(flatten)]
    pub words: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
struct Catalogue {
    templates: BTreeMap<(Language, String), Template>,
    common: BTreeMap<Language, Common>,
}

fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        let mut catalogue = Catalogue::default();
        for (code, kind, contents) in files::FILES {
            // A file in an unknown folder or that does not parse is left out (and fails the
            // template tests); English is always there.
            let Some(language) = Language::from_code(code) else {
                continue;
            };
            if *kind == "_common" {
                if let Ok(common) = toml::from_str(contents) {
                    catalogue.common.insert(language, common);
                }
            } else if let Ok(template) = toml::from_str(contents) {
                catalogue
                    .templates
                    .insert((language, (*kind).to_owned()), template);
            }
        }
        catalogue
    })
}

/// A rendered message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The calendar entry's title, for kinds that carry one.
    pub calendar: Option<String>,
}

/// The values of one message, by placeholder name.
pub type Values = BTreeMap<&'static str, String>;

/// A word of `_common.toml` in `language`, falling back to English.
pub fn word(language: Language, key: &str) -> String {
    let catalogue = catalogue();
    let pick = |lang: Language| {
        let common = catalogue.common.get(&lang)?;
        match key {
            "footer" => common.footer.clone(),
            "opt_out" => common.opt_out.clone(),
            _ => common.words.get(key).cloned(),
        }
    };
    pick(language)
        .or_else(|| pick(Language::En))
        .unwrap_or_default()
}

fn part(kind: Kind, language: Language, pick: fn(&Template) -> Option<&String>) -> String {
    let catalogue = catalogue();
    let get = |lang: Language| {
        catalogue
            .templates
            .get(&(lang, kind.as_str().to_owned()))
            .and_then(pick)
            .cloned()
    };
    get(language)
        .or_else(|| get(Language::En))
        .unwrap_or_default()
}

/// Replaces every `{{name}}` with its value (through `escape`); unknown names become empty.
pub fn fill(template: &str, values: &Values, escape: fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = after[..end].trim();
        if let Some(value) = values.get(name) {
            out.push_str(&escape(value));
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The placeholder names a template uses.
pub fn placeholders(template: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        names.push(after[..end].trim().to_owned());
        rest = &after[end + 2..];
    }
    names.sort();
    names.dedup();
    names
}

/// HTML text ([`crate::text::escape_html`]), line breaks kept as `<br>`.
pub fn escape_html(text: &str) -> String {
    crate::text::escape_html(&text.replace('\r', "")).replace('\n', "<br>")
}

fn plain(text: &str) -> String {
    text.to_owned()
}

/// One line, for a subject header: no line breaks.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Drops the empty lines and paragraphs an absent optional value leaves behind.
fn tidy_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    out.push('\n');
    out
}

fn tidy_html(html: &str) -> String {
    html.trim()
        .lines()
        .filter(|line| !line.trim().is_empty() && line.trim() != "<p></p>")
        .collect::<Vec<_>>()
        .join("\n")
}

/// Renders `kind` in `language` with `values`, inside the shared layout.
pub fn render(kind: Kind, language: Language, values: &Values) -> Rendered {
    let subject = one_line(&fill(
        &part(kind, language, |t| t.subject.as_ref()),
        values,
        plain,
    ));
    let body = fill(&part(kind, language, |t| t.text.as_ref()), values, plain);
    let body_html = fill(
        &part(kind, language, |t| t.html.as_ref()),
        values,
        escape_html,
    );
    let footer = word(language, "footer");
    let opt_out = (!kind.is_essential()).then(|| word(language, "opt_out"));

    let mut text = tidy_text(&body);
    text.push_str("\n-- \n");
    text.push_str(&footer);
    if let Some(opt_out) = &opt_out {
        text.push(' ');
        text.push_str(opt_out);
    }
    text.push('\n');

    let dir = if language.is_rtl() { "rtl" } else { "ltr" };
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\" dir=\"{dir}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width\">\n<title>{title}</title>\n</head>\n\
         <body style=\"font-family:Arial,sans-serif;font-size:16px;line-height:1.5;color:#0b0c0c;\
         max-width:40em;margin:0 auto;padding:1em\">\n{body}\n\
         <hr style=\"border:0;border-top:1px solid #b1b4b6;margin:2em 0 1em\">\n\
         <p style=\"color:#505a5f;font-size:14px\">{footer}",
        lang = language.code(),
        title = escape_html(&subject),
        body = tidy_html(&body_html),
        footer = escape_html(&footer),
    );
    if let Some(opt_out) = &opt_out {
        html.push(' ');
        html.push_str(&escape_html(opt_out));
    }
    html.push_str("</p>\n</body>\n</html>\n");

    let calendar = kind.calendar().map(|_| {
        one_line(&fill(
            &part(kind, language, |t| t.calendar.as_ref()),
            values,
            plain,
        ))
    });
    Rendered {
        subject,
        text,
        html,
        calendar,
    }
}

/// Every `(language, kind)` with what its file lacks compared to English: a missing file,
/// a missing key, or placeholders that differ.
pub fn untranslated() -> Vec<String> {
    let catalogue = catalogue();
    let mut missing = Vec::new();
    for language in Language::ALL {
        if !catalogue.common.contains_key(&language) {
            missing.push(format!("{}/_common.toml: missing", language.code()));
        } else if let (Some(en), Some(other)) = (
            catalogue.common.get(&Language::En),
            catalogue.common.get(&language),
        ) {
            for key in en.words.keys() {
                if !other.words.contains_key(key) {
                    missing.push(format!("{}/_common.toml: {key}", language.code()));
                }
            }
            for (key, en, other) in [
                ("footer", &en.footer, &other.footer),
                ("opt_out", &en.opt_out, &other.opt_out),
            ] {
                if en.is_some() && other.is_none() {
                    missing.push(format!("{}/_common.toml: {key}", language.code()));
                }
            }
        }
        for kind in Kind::ALL {
            let file = format!("{}/{}.toml", language.code(), kind.as_str());
            let Some(template) = catalogue
                .templates
                .get(&(language, kind.as_str().to_owned()))
            else {
                missing.push(format!("{file}: missing"));
                continue;
            };
            let en = catalogue
                .templates
                .get(&(Language::En, kind.as_str().to_owned()))
                .cloned()
                .unwrap_or_default();
            let keys: [(&str, &Option<String>, &Option<String>); 4] = [
                ("subject", &en.subject, &template.subject),
                ("text", &en.text, &template.text),
                ("html", &en.html, &template.html),
                ("calendar", &en.calendar, &template.calendar),
            ];
            for (key, en, other) in keys {
                match (en, other) {
                    (Some(_), None) => missing.push(format!("{file}: {key}")),
                    (Some(en), Some(other)) if placeholders(en) != placeholders(other) => missing
                        .push(format!(
                            "{file}: {key} uses {:?}, English {:?}",
                            placeholders(other),
                            placeholders(en)
                        )),
                    _ => {}
                }
            }
        }
    }
    missing
}

/// Whether every template file of the binary parsed.
pub fn all_parse() -> Result<(), String> {
    for (code, kind, contents) in files::FILES {
        let parsed = if *kind == "_common" {
            toml::from_str::<Common>(contents).map(|_| ())
        } else {
            toml::from_str::<Template>(contents).map(|_| ())
        };
        parsed.map_err(|e| format!("{code}/{kind}.toml: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::mail::format;

    /// Sample values for every placeholder, in `language`.
    fn sample(language: Language) -> Values {
        let day = NaiveDate::from_ymd_opt(2026, 12, 4).expect("a date");
        let due = NaiveDate::from_ymd_opt(2027, 1, 15).expect("a date");
        [
            ("name", "Fatima Benali".to_owned()),
            ("date", format::date(language, day)),
            ("start", "14:00".to_owned()),
            ("end", "15:30".to_owned()),
            ("place", "Prison de Haren".to_owned()),
            ("address", "Rue de l'Institut 1, 1130 Haren".to_owned()),
            ("room", "Salle 2".to_owned()),
            ("reference", "V-7K3Q".to_owned()),
            ("arrival_advice", "Come 30 minutes early.".to_owned()),
            (
                "what_to_bring",
                "Your identity card; no phone inside.".to_owned(),
            ),
            ("reason", word(language, "decline_no_capacity")),
            ("note", "Try a Saturday <session>.".to_owned()),
            ("expires", format!("{} 09:15", format::date(language, day))),
            ("title", "Family day \"Winter\"".to_owned()),
            ("people", "4".to_owned()),
            ("other", "Sophie Lambert".to_owned()),
            ("purpose", "Housing file & CPAS".to_owned()),
            (
                "accept_link",
                "https://reguide.example/links/accept-token".to_owned(),
            ),
            (
                "decline_link",
                "https://reguide.example/links/decline-token".to_owned(),
            ),
            ("due", format::date(language, due)),
            ("code", "K7QX-3MPD".to_owned()),
            (
                "description",
                "How families hear of a transfer, and what helps.".to_owned(),
            ),
            (
                "tentative_link",
                "https://reguide.example/lab-links/maybe-token".to_owned(),
            ),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn every_template_file_parses() {
        all_parse().expect("every template parses");
    }

    #[test]
    fn every_template_is_translated() {
        let missing = untranslated();
        assert!(
            missing.is_empty(),
            "untranslated (these fall back to English):\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn templates_use_only_the_values_of_their_kind() {
        let catalogue = catalogue();
        for ((language, kind), template) in &catalogue.templates {
            let known = Kind::parse(kind)
                .unwrap_or_else(|| panic!("{}/{kind}.toml names no kind", language.code()));
            for text in [
                &template.subject,
                &template.text,
                &template.html,
                &template.calendar,
            ]
            .into_iter()
            .flatten()
            {
                for name in placeholders(text) {
                    assert!(
                        known.placeholders().contains(&name.as_str()),
                        "{}/{kind}.toml uses {{{{{name}}}}}",
                        language.code()
                    );
                }
            }
            assert_eq!(
                template.calendar.is_some(),
                known.calendar().is_some(),
                "{}/{kind}.toml: a calendar title exactly for kinds with a calendar entry",
                language.code()
            );
        }
    }

    #[test]
    fn no_subject_says_where_the_relative_is() {
        let words = [
            "prison",
            "gevangenis",
            "gefängnis",
            "haftanstalt",
            "détenu",
            "detainee",
            "gedetineerde",
            "häftling",
            "سجن",
            "السجن",
        ];
        for kind in Kind::ALL {
            for language in Language::ALL {
                let rendered = render(kind, language, &sample(language));
                let subject = rendered.subject.to_lowercase();
                // The sample place is a prison's name: it may be in bodies, never in subjects.
                assert!(
                    !words.iter().any(|w| subject.contains(w)),
                    "{} {}: {subject}",
                    kind.as_str(),
                    language.code()
                );
                assert!(!subject.is_empty() && !subject.contains("{{"));
            }
        }
    }

    #[test]
    fn html_is_escaped_and_arabic_runs_right_to_left() {
        let rendered = render(Kind::VisitDeclined, Language::Ar, &sample(Language::Ar));
        assert!(rendered.html.contains("<html lang=\"ar\" dir=\"rtl\">"));
        assert!(rendered.html.contains("Try a Saturday &lt;session&gt;."));
        assert!(rendered.text.contains("Try a Saturday <session>."));
        let rendered = render(Kind::VisitDeclined, Language::Nl, &sample(Language::Nl));
        assert!(rendered.html.contains("<html lang=\"nl\" dir=\"ltr\">"));
    }

    #[test]
    fn an_absent_optional_value_leaves_no_empty_paragraph() {
        let mut values = sample(Language::En);
        values.insert("note", String::new());
        let rendered = render(Kind::VisitDeclined, Language::En, &values);
        assert!(!rendered.html.contains("<p></p>"));
        assert!(!rendered.text.contains("\n\n\n"));
    }

    #[test]
    fn reminders_say_how_to_turn_them_off_and_decisions_do_not() {
        let en = |kind| render(kind, Language::En, &sample(Language::En));
        assert!(en(Kind::VisitReminder).text.contains("turn off"));
        assert!(!en(Kind::VisitConfirmed).text.contains("turn off"));
    }

    #[test]
    fn every_kind_in_every_language() {
        for kind in Kind::ALL {
            for language in Language::ALL {
                let r = render(kind, language, &sample(language));
                let calendar = r
                    .calendar
                    .map(|c| format!("\n--- calendar title\n{c}"))
                    .unwrap_or_default();
                insta::assert_snapshot!(
                    format!("{}-{}", kind.as_str(), language.code()),
                    format!(
                        "subject: {}\n--- text\n{}--- html\n{}{calendar}",
                        r.subject, r.text, r.html
                    )
                );
            }
        }
    }
}
