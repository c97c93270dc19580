//! Dates and times in a message's language: "vendredi 4 décembre 2026", "14:00".

use chrono::{DateTime, Locale, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use reguide_protocol::Language;

fn locale(language: Language) -> Locale {
    match language {
        Language::Nl => Locale::nl_BE,
        Language::Fr => Locale::fr_BE,
        Language::De => Locale::de_BE,
        Language::En => Locale::en_GB,
        Language::Ar => Locale::ar_EG,
    }
}

/// A day, with its weekday, in words.
pub fn date(language: Language, day: NaiveDate) -> String {
    let pattern = match language {
        Language::De => "%A, %-d. %B %Y",
        _ => "%A %-d %B %Y",
    };
    day.format_localized(pattern, locale(language)).to_string()
}

/// A time of day, on the 24-hour clock everywhere reguide is used.
pub fn time(at: NaiveTime) -> String {
    at.format("%H:%M").to_string()
}

/// An instant, as the day and time it is in `zone`.
pub fn instant(language: Language, zone: Tz, at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&zone);
    format!(
        "{} {}",
        date(language, local.date_naive()),
        time(local.time())
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn days_read_in_each_language() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 4).expect("a date");
        assert_eq!(date(Language::En, day), "Friday 4 December 2026");
        assert_eq!(date(Language::Fr, day), "vendredi 4 décembre 2026");
        assert_eq!(date(Language::Nl, day), "vrijdag 4 december 2026");
        assert_eq!(date(Language::De, day), "Freitag, 4. Dezember 2026");
        assert!(date(Language::Ar, day).starts_with("الجمعة"));
    }

    #[test]
    fn instants_are_shown_in_the_zone_they_happen_in() {
        let at = Utc
            .with_ymd_and_hms(2027, 7, 1, 12, 30, 0)
            .single()
            .expect("an instant");
        assert_eq!(
            instant(Language::En, chrono_tz::Europe::Brussels, at),
            "Thursday 1 July 2027 14:30"
        );
    }
}
