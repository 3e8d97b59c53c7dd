//! Local time. Hours of day, weekdays, "after dark" and date boundaries are Swedish local time
//! (Europe/Stockholm, with its summer time), whatever offset the input carried.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike};
use chrono_tz::Europe::Stockholm;
use chrono_tz::Tz;

pub const ZONE: Tz = Stockholm;

pub fn local<Z: TimeZone>(t: &DateTime<Z>) -> DateTime<Tz> {
    t.with_timezone(&ZONE)
}

/// Weekday 0 = Monday … 6 = Sunday, and hour 0–23, in Stockholm.
pub fn weekday_hour<Z: TimeZone>(t: &DateTime<Z>) -> (usize, usize) {
    let l = local(t);
    (
        l.weekday().num_days_from_monday() as usize,
        l.hour() as usize,
    )
}

/// The local calendar date in Stockholm.
pub fn local_date<Z: TimeZone>(t: &DateTime<Z>) -> NaiveDate {
    local(t).date_naive()
}

/// The start of `day` in Stockholm, in UTC (midnight exists once on every Swedish day: the
/// clocks change at 02:00 and 03:00).
pub fn local_midnight_utc(day: NaiveDate) -> DateTime<chrono::Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    ZONE.from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|| midnight.and_utc())
}

/// Swedish weekday abbreviations, Monday first.
pub const WEEKDAYS_SV: [&str; 7] = ["mån", "tis", "ons", "tor", "fre", "lör", "sön"];

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, Utc};

    #[test]
    fn summer_and_winter_offsets_give_local_hours() {
        // 2026-08-22 19:51:41 +02:00 is 19 local (CEST).
        let t =
            DateTime::parse_from_str("2026-08-22 19:51:41 +02:00", "%Y-%m-%d %H:%M:%S %z").unwrap();
        assert_eq!(weekday_hour(&t), (5, 19));
        // Given in UTC, 2026-01-10 23:30Z is Sunday 00:30 in Stockholm (CET, +01:00).
        let u = Utc.with_ymd_and_hms(2026, 1, 10, 23, 30, 0).unwrap();
        assert_eq!(weekday_hour(&u), (6, 0));
        let f = u.with_timezone(&FixedOffset::east_opt(0).unwrap());
        assert_eq!(
            local_date(&f),
            NaiveDate::from_ymd_opt(2026, 1, 11).unwrap()
        );
    }
}
