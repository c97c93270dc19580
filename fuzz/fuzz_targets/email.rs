//! The e-mail templates (`reguide_server::mail::templates`) with arbitrary values:
//!
//! - `render` never panics, for every kind and language;
//! - the subject and the calendar title are one line: no CR, LF or other line break (they
//!   become a header and an iCalendar SUMMARY);
//! - no markup comes from the values: the HTML has exactly as many `<`, `>`, `"` and `'` as
//!   the same message rendered with those characters of the values replaced by a letter;
//! - `escape_html` leaves none of `< > " ' CR` and reads back to its input; `fill` with a
//!   template without `{{` is the template, and never panics on any template.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use reguide_protocol::Language;
use reguide_server::mail::Kind;
use reguide_server::mail::templates::{Values, escape_html, fill, placeholders, render};

#[derive(Arbitrary, Debug)]
struct Input {
    kind: u8,
    language: u8,
    values: Vec<(u8, String)>,
    template: String,
}

const MARKUP: [char; 4] = ['<', '>', '"', '\''];

fn count(html: &str, c: char) -> usize {
    html.matches(c).count()
}

fn unescape_html(html: &str) -> String {
    html.replace("<br>", "\n")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fuzz_target!(|input: Input| {
    let kind = Kind::ALL[usize::from(input.kind) % Kind::ALL.len()];
    let language = Language::ALL[usize::from(input.language) % Language::ALL.len()];
    let names: Vec<&'static str> = kind.placeholders().iter().copied().chain(["name"]).collect();
    let mut values = Values::new();
    for (n, value) in &input.values {
        values.insert(names[usize::from(*n) % names.len()], value.clone());
    }

    let rendered = render(kind, language, &values);
    let line_break = |c: char| matches!(c, '\r' | '\n' | '\u{0b}' | '\u{0c}' | '\u{85}' | '\u{2028}' | '\u{2029}');
    assert!(!rendered.subject.contains(line_break), "a line break in the subject: {:?}", rendered.subject);
    if let Some(title) = &rendered.calendar {
        assert!(!title.contains(line_break), "a line break in the calendar title: {title:?}");
    }

    let harmless: Values = values
        .iter()
        .map(|(k, v)| (*k, v.chars().map(|c| if MARKUP.contains(&c) { 'x' } else { c }).collect()))
        .collect();
    let reference = render(kind, language, &harmless);
    for c in MARKUP {
        assert_eq!(
            count(&rendered.html, c),
            count(&reference.html, c),
            "a {c:?} from the values reached the HTML"
        );
    }

    let escaped = escape_html(&input.template);
    assert!(
        !escaped.replace("<br>", "").contains(['<', '>', '"', '\'', '\r']),
        "escape_html let markup through: {escaped:?}"
    );
    assert_eq!(unescape_html(&escaped), input.template.replace('\r', ""));

    let filled = fill(&input.template, &values, escape_html);
    if !input.template.contains("{{") {
        assert_eq!(filled, input.template);
    }
    let _ = placeholders(&input.template);
});
