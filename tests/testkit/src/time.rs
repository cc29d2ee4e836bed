//! UTC timestamps in Odoo's server format (`YYYY-MM-DD HH:MM:SS`), without a date library.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in UTC, as Odoo writes `create_date` / `write_date`.
pub fn now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    format_unix(secs as i64)
}

/// Formats seconds since the epoch as `YYYY-MM-DD HH:MM:SS`.
pub fn format_unix(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Normalises a datetime value as Odoo's `Datetime.to_datetime` accepts it
/// (`YYYY-MM-DD HH:MM:SS`, optional fraction, or a bare date meaning midnight).
pub fn parse_datetime(s: &str) -> Option<String> {
    let s = s.trim();
    let (date, time) = match s.split_once([' ', 'T']) {
        Some((d, t)) => (d, t.split('.').next().unwrap_or(t)),
        None => (s, "00:00:00"),
    };
    let dp: Vec<&str> = date.split('-').collect();
    let tp: Vec<&str> = time.split(':').collect();
    if dp.len() != 3 || tp.len() != 3 {
        return None;
    }
    let num = |p: &str, max: u32| p.parse::<u32>().ok().filter(|v| *v <= max);
    let (y, mo, d) = (num(dp[0], 9999)?, num(dp[1], 12)?, num(dp[2], 31)?);
    let (h, mi, se) = (num(tp[0], 23)?, num(tp[1], 59)?, num(tp[2], 59)?);
    if mo == 0 || d == 0 {
        return None;
    }
    Some(format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{se:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        assert_eq!(format_unix(0), "1970-01-01 00:00:00");
        assert_eq!(format_unix(1_795_955_977), "2026-11-29 12:39:37");
        assert_eq!(
            parse_datetime("2026-11-29T12:39:37.123").as_deref(),
            Some("2026-11-29 12:39:37")
        );
        assert_eq!(
            parse_datetime("2026-11-29").as_deref(),
            Some("2026-11-29 00:00:00")
        );
        assert_eq!(parse_datetime("yesterday"), None);
        assert_eq!(now().len(), 19);
    }
}
