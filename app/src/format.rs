//! Formatting of figures for display.

use chrono::NaiveDate;

/// `12345` → `12,345`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// `2026-12-01` → `1 Dec 2026`.
pub fn long_date(d: NaiveDate) -> String {
    d.format("%-d %b %Y").to_string()
}

/// A date range `[from, to)` as "16 – 22 Nov 2026".
pub fn date_range(from: NaiveDate, to_exclusive: NaiveDate) -> String {
    let last = to_exclusive.pred_opt().unwrap_or(to_exclusive);
    if from == last {
        return long_date(from);
    }
    if from.format("%Y-%m").to_string() == last.format("%Y-%m").to_string() {
        format!("{} – {}", from.format("%-d"), long_date(last))
    } else if from.format("%Y").to_string() == last.format("%Y").to_string() {
        format!("{} – {}", from.format("%-d %b"), long_date(last))
    } else {
        format!("{} – {}", long_date(from), long_date(last))
    }
}

/// A price in minor units for a viewer's locale: `29900 EUR` is `€299.00`
/// in English and `299,00 €` in Spanish, German, French and their
/// neighbours. Unknown locales read as English.
pub fn money_in(amount_cents: i64, currency: &str, locale: Option<&str>) -> String {
    let lang = locale
        .unwrap_or("en")
        .split(['-', '_'])
        .next()
        .unwrap_or("en")
        .to_ascii_lowercase();
    let (group, decimal) = match lang.as_str() {
        "es" | "de" | "it" | "pt" | "nl" | "da" | "tr" | "id" => ('.', ','),
        "fr" | "sv" | "fi" | "nb" | "no" | "pl" | "cs" | "sk" | "ru" | "uk" => ('\u{a0}', ','),
        _ => return money(amount_cents, currency),
    };
    let units = thousands(amount_cents.abs() / 100).replace(',', &group.to_string());
    let sign = if amount_cents < 0 { "-" } else { "" };
    let cents = (amount_cents % 100).abs();
    let symbol = match currency {
        "EUR" => "€",
        "USD" => "US$",
        "GBP" => "£",
        other => other,
    };
    format!("{sign}{units}{decimal}{cents:02}\u{a0}{symbol}")
}

/// A price in minor units, in English: `29900 EUR` → `€299.00`.
pub fn money(amount_cents: i64, currency: &str) -> String {
    let symbol = match currency {
        "EUR" => "€",
        "USD" => "$",
        "GBP" => "£",
        _ => "",
    };
    let units = thousands(amount_cents / 100);
    let cents = (amount_cents % 100).abs();
    if symbol.is_empty() {
        format!("{units}.{cents:02} {currency}")
    } else {
        format!("{symbol}{units}.{cents:02}")
    }
}

/// An RFC 3339 instant as "25 Nov 2026, 10:00 UTC" (the text itself when unreadable).
pub fn timestamp(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => t
            .with_timezone(&chrono::Utc)
            .format("%-d %b %Y, %H:%M UTC")
            .to_string(),
        Err(_) => rfc3339.to_string(),
    }
}

/// "1 day" / "7 days".
pub fn days(n: i64) -> String {
    if n == 1 {
        "1 day".to_string()
    } else {
        format!("{n} days")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn figures() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(10_000), "10,000");
        assert_eq!(thousands(-1_234_567), "-1,234,567");
        assert_eq!(money(29_900, "EUR"), "€299.00");
        assert_eq!(money(5, "CHF"), "0.05 CHF");
        assert_eq!(money_in(29_900, "EUR", Some("es-ES")), "299,00\u{a0}€");
        assert_eq!(money_in(1_234_500, "EUR", Some("de")), "12.345,00\u{a0}€");
        assert_eq!(
            money_in(1_234_500, "EUR", Some("fr-FR")),
            "12\u{a0}345,00\u{a0}€"
        );
        assert_eq!(money_in(29_900, "EUR", Some("en-GB")), "€299.00");
        assert_eq!(money_in(29_900, "EUR", None), "€299.00");
    }

    #[test]
    fn ranges() {
        assert_eq!(
            date_range(d("2026-11-16"), d("2026-11-23")),
            "16 – 22 Nov 2026"
        );
        assert_eq!(
            date_range(d("2026-10-28"), d("2026-11-25")),
            "28 Oct – 24 Nov 2026"
        );
        assert_eq!(date_range(d("2026-11-24"), d("2026-11-25")), "24 Nov 2026");
        assert_eq!(
            date_range(d("2025-12-30"), d("2026-01-02")),
            "30 Dec 2025 – 1 Jan 2026"
        );
    }
}
