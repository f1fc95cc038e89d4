//! Formatting of figures for display.

use chrono::{Datelike, NaiveDate};

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

/// `x` with `decimals` digits after the point, rounded half away from
/// zero (as JavaScript's `toFixed`): `fixed(12.345, 1)` is `"12.3"`.
/// Integer arithmetic rather than `format!("{x:.1}")`, whose float
/// printing would otherwise reach the browser's bundle.
pub fn fixed(x: f64, decimals: u32) -> String {
    if !x.is_finite() {
        return "—".to_string();
    }
    let scale = 10_i64.pow(decimals.min(6));
    // Figures here are shares, percentages and ratios: far inside i64.
    let n = (x * scale as f64).round() as i64;
    let sign = if n < 0 { "-" } else { "" };
    let (whole, frac) = (
        n.unsigned_abs() / scale as u64,
        n.unsigned_abs() % scale as u64,
    );
    if decimals == 0 {
        format!("{sign}{whole}")
    } else {
        format!(
            "{sign}{whole}.{frac:0width$}",
            width = decimals.min(6) as usize
        )
    }
}

/// English month abbreviations, as chrono's `%b` writes them.
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `2026-12-01` → `1 Dec`. Written by hand rather than with chrono's
/// `format`, whose format-string machinery would otherwise reach the
/// browser's bundle.
pub fn day_month(d: NaiveDate) -> String {
    let month = MONTHS.get(d.month0() as usize).copied().unwrap_or("");
    format!("{} {month}", d.day())
}

/// `2026-12-01` → `1 Dec 2026`.
pub fn long_date(d: NaiveDate) -> String {
    format!("{} {}", day_month(d), d.year())
}

/// A date range `[from, to)` as "16 – 22 Nov 2026".
pub fn date_range(from: NaiveDate, to_exclusive: NaiveDate) -> String {
    let last = to_exclusive.pred_opt().unwrap_or(to_exclusive);
    if from == last {
        return long_date(from);
    }
    if (from.year(), from.month()) == (last.year(), last.month()) {
        format!("{} – {}", from.day(), long_date(last))
    } else if from.year() == last.year() {
        format!("{} – {}", day_month(from), long_date(last))
    } else {
        format!("{} – {}", long_date(from), long_date(last))
    }
}

/// The symbol of a currency, where one is in common use.
fn currency_symbol(currency: &str) -> Option<&'static str> {
    Some(match currency {
        "EUR" => "€",
        "USD" => "$",
        "GBP" => "£",
        "INR" => "₹",
        "JPY" => "¥",
        "CNY" => "CN¥",
        "KRW" => "₩",
        "BRL" => "R$",
        "CAD" => "CA$",
        "AUD" => "A$",
        "MXN" => "MX$",
        "CHF" => "CHF",
        "ILS" => "₪",
        "TRY" => "₺",
        "PLN" => "zł",
        "SEK" | "NOK" | "DKK" => "kr",
        _ => return None,
    })
}

/// A price in minor units for a viewer's locale, with the currency's
/// symbol: `29900 EUR` is `€299.00` in English and `299,00 €` in Spanish,
/// German, French and their neighbours; `49900 INR` is `₹499.00` in
/// English. Unknown locales read as English; unknown currencies keep their
/// ISO code.
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
        // Outside the US a bare "$" is ambiguous.
        "USD" => "US$",
        other => currency_symbol(other).unwrap_or(other),
    };
    format!("{sign}{units}{decimal}{cents:02}\u{a0}{symbol}")
}

/// A price in minor units, in English: `29900 EUR` → `€299.00`.
pub fn money(amount_cents: i64, currency: &str) -> String {
    let units = thousands(amount_cents.abs() / 100);
    let sign = if amount_cents < 0 { "-" } else { "" };
    let cents = (amount_cents % 100).abs();
    match currency_symbol(currency) {
        // Letter symbols read better apart from the figure.
        Some(symbol) if symbol.chars().all(char::is_alphabetic) => {
            format!("{sign}{symbol}\u{a0}{units}.{cents:02}")
        }
        Some(symbol) => format!("{sign}{symbol}{units}.{cents:02}"),
        None => format!("{sign}{units}.{cents:02} {currency}"),
    }
}

/// An RFC 3339 instant in the workspace's zone, naming the zone:
/// "25 Nov 2026, 11:00 CET" (UTC where the zone is unknown; the text
/// itself when unreadable).
pub fn local_timestamp(rfc3339: &str, timezone: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(rfc3339) else {
        return rfc3339.to_string();
    };
    match timezone.parse::<chrono_tz::Tz>() {
        Ok(tz) => local_time(t.with_timezone(&chrono::Utc), tz),
        Err(_) => timestamp(rfc3339),
    }
}

/// An instant in a zone, naming the zone: "25 Nov 2026, 11:00 CET".
pub fn local_time(t: chrono::DateTime<chrono::Utc>, tz: chrono_tz::Tz) -> String {
    t.with_timezone(&tz)
        .format("%-d %b %Y, %H:%M %Z")
        .to_string()
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
        assert_eq!(money(5, "CHF"), "CHF\u{a0}0.05");
        assert_eq!(money(5, "XOF"), "0.05 XOF");
        assert_eq!(money(49_900, "INR"), "₹499.00");
        assert_eq!(money_in(49_900, "INR", Some("en-US")), "₹499.00");
        assert_eq!(money_in(49_900, "INR", Some("de-DE")), "499,00\u{a0}₹");
        assert_eq!(money_in(-1_000, "USD", Some("es")), "-10,00\u{a0}US$");
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
    fn instants_in_the_workspace_zone() {
        assert_eq!(
            local_timestamp("2026-11-25T10:00:00Z", "Europe/Madrid"),
            "25 Nov 2026, 11:00 CET"
        );
        assert_eq!(
            local_timestamp("2026-11-25T20:00:00Z", "Asia/Kolkata"),
            "26 Nov 2026, 01:30 IST"
        );
        assert_eq!(
            local_timestamp("2026-07-01T10:00:00Z", "Europe/Madrid"),
            "1 Jul 2026, 12:00 CEST"
        );
        assert_eq!(
            local_timestamp("2026-11-25T10:00:00Z", "Nowhere/Else"),
            "25 Nov 2026, 10:00 UTC"
        );
    }

    #[test]
    fn fixed_point() {
        assert_eq!(fixed(12.345, 1), "12.3");
        assert_eq!(fixed(0.125, 2), "0.13");
        assert_eq!(fixed(-3.46, 1), "-3.5");
        assert_eq!(fixed(-0.04, 1), "0.0");
        assert_eq!(fixed(99.96, 1), "100.0");
        assert_eq!(fixed(7.0, 0), "7");
        assert_eq!(fixed(2.5, 0), "3");
        assert_eq!(fixed(f64::NAN, 1), "—");
        // Away from exact ties, as Rust's own formatting writes it.
        for i in 0..20_000 {
            let x = f64::from(i) / 7.0 - 1_000.0;
            assert_eq!(fixed(x, 1), format!("{x:.1}"), "{x}");
            assert_eq!(fixed(x, 2), format!("{x:.2}"), "{x}");
        }
    }

    #[test]
    fn dates_read_as_chrono_writes_them() {
        let mut d = d("2023-12-25");
        while d < NaiveDate::from_ymd_opt(2029, 1, 8).unwrap_or_default() {
            assert_eq!(long_date(d), d.format("%-d %b %Y").to_string());
            assert_eq!(day_month(d), d.format("%-d %b").to_string());
            d = d.succ_opt().unwrap_or(d);
        }
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
