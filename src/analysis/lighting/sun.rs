//! Sunrise and sunset, for "after dark".
//!
//! An incident happened after dark when it falls between sunset and the next sunrise at its
//! place, and in Sweden that moves from about 15:00 to 22:00 over the year: a fixed hour would be
//! wrong for half of it. We use NOAA's solar calculator equations (after Meeus, *Astronomical
//! Algorithms*), accurate to about a minute at these latitudes:
//!
//! ```text
//!   JC  = (JD − 2451545) / 36525                                  Julian centuries (J2000)
//!   L0  = 280.46646 + JC(36000.76983 + 0.0003032 JC)               mean longitude of the sun
//!   M   = 357.52911 + JC(35999.05029 − 0.0001537 JC)               mean anomaly
//!   e   = 0.016708634 − JC(0.000042037 + 0.0000001267 JC)          orbit eccentricity
//!   C   = sin M (1.914602 − JC(0.004817 + 0.000014 JC)) + sin 2M (0.019993 − 0.000101 JC)
//!         + 0.000289 sin 3M                                        equation of centre
//!   λ   = L0 + C − 0.00569 − 0.00478 sin(125.04 − 1934.136 JC)     apparent longitude
//!   ε   = ε0(JC) + 0.00256 cos(125.04 − 1934.136 JC)               corrected obliquity
//!   δ   = asin(sin ε sin λ)                                        declination
//!   Eqt = 4·deg(y sin 2L0 − 2e sin M + 4ey sin M cos 2L0 − ½y² sin 4L0 − 1.25e² sin 2M),
//!         y = tan²(ε/2)                                            equation of time (min)
//!   H   = acos(cos 90.833° / (cos φ cos δ) − tan φ tan δ)          hour angle of rise/set
//!   noon = 720 − 4·lon − Eqt;  rise = noon − 4H;  set = noon + 4H  (minutes UTC)
//! ```
//!
//! 90.833° is the zenith of the sun's upper limb at the horizon with standard refraction. Each
//! event is computed twice, the second time with the sun's position at the first estimate.
//! North of the polar circle the sun may not set or rise at all: [`SunDay`] says so.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};

/// The sun on one day at one place.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SunDay {
    Normal {
        sunrise: DateTime<Utc>,
        sunset: DateTime<Utc>,
    },
    /// Midnight sun: up all day.
    PolarDay,
    /// Polar night: down all day.
    PolarNight,
}

fn julian_day(date: NaiveDate, minutes_utc: f64) -> f64 {
    // Days since 2000-01-01 12:00 UTC, plus the JD of that instant.
    let epoch = NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date");
    let days = (date - epoch).num_days() as f64;
    2_451_545.0 + days + (minutes_utc - 720.0) / 1440.0
}

/// (declination in radians, equation of time in minutes) at `minutes_utc` on `date`.
fn sun_position(date: NaiveDate, minutes_utc: f64) -> (f64, f64) {
    let jc = (julian_day(date, minutes_utc) - 2_451_545.0) / 36_525.0;
    let l0 = (280.46646 + jc * (36_000.769_83 + jc * 0.000_303_2)).rem_euclid(360.0);
    let m = 357.52911 + jc * (35_999.050_29 - 0.000_153_7 * jc);
    let e = 0.016_708_634 - jc * (0.000_042_037 + 0.000_000_126_7 * jc);
    let mr = m.to_radians();
    let c = mr.sin() * (1.914602 - jc * (0.004817 + 0.000014 * jc))
        + (2.0 * mr).sin() * (0.019993 - 0.000101 * jc)
        + (3.0 * mr).sin() * 0.000289;
    let omega = (125.04 - 1934.136 * jc).to_radians();
    let lambda = (l0 + c - 0.00569 - 0.00478 * omega.sin()).to_radians();
    let eps0 =
        23.0 + (26.0 + (21.448 - jc * (46.815 + jc * (0.00059 - jc * 0.001813))) / 60.0) / 60.0;
    let eps = (eps0 + 0.00256 * omega.cos()).to_radians();
    let decl = (eps.sin() * lambda.sin()).asin();
    let y = (eps / 2.0).tan().powi(2);
    let l0r = l0.to_radians();
    let eqt = 4.0
        * (y * (2.0 * l0r).sin() - 2.0 * e * mr.sin() + 4.0 * e * y * mr.sin() * (2.0 * l0r).cos()
            - 0.5 * y * y * (4.0 * l0r).sin()
            - 1.25 * e * e * (2.0 * mr).sin())
        .to_degrees();
    (decl, eqt)
}

/// Minutes UTC of sunrise (`rising`) or sunset; `Err(true)` polar day, `Err(false)` polar night.
fn event_minutes(date: NaiveDate, lat: f64, lon: f64, rising: bool) -> Result<f64, bool> {
    let phi = lat.to_radians();
    let mut t = 720.0 - 4.0 * lon + if rising { -360.0 } else { 360.0 };
    for _ in 0..2 {
        let (decl, eqt) = sun_position(date, t);
        let cos_h =
            90.833f64.to_radians().cos() / (phi.cos() * decl.cos()) - phi.tan() * decl.tan();
        if cos_h < -1.0 {
            return Err(true);
        }
        if cos_h > 1.0 {
            return Err(false);
        }
        let h = cos_h.acos().to_degrees();
        let noon = 720.0 - 4.0 * lon - eqt;
        t = if rising {
            noon - 4.0 * h
        } else {
            noon + 4.0 * h
        };
    }
    Ok(t)
}

/// Sunrise and sunset on the UTC calendar day `date` (for Swedish dates the same day: both
/// events fall between 01:00 and 21:00 UTC) at latitude `lat`, longitude `lon` (degrees, east
/// positive).
pub fn sun_day(date: NaiveDate, lat: f64, lon: f64) -> SunDay {
    let at = |minutes: f64| {
        let midnight = Utc
            .with_ymd_and_hms(date.year(), date.month(), date.day(), 0, 0, 0)
            .single()
            .expect("UTC midnight exists");
        midnight + Duration::milliseconds((minutes * 60_000.0).round() as i64)
    };
    match (
        event_minutes(date, lat, lon, true),
        event_minutes(date, lat, lon, false),
    ) {
        (Ok(r), Ok(s)) => SunDay::Normal {
            sunrise: at(r),
            sunset: at(s),
        },
        (Err(true), _) | (_, Err(true)) => SunDay::PolarDay,
        _ => SunDay::PolarNight,
    }
}

/// Whether `t` falls between sunset and sunrise on its own local (Stockholm) date at (lat, lon):
/// before that day's sunrise or after its sunset.
pub fn is_after_dark<Z: TimeZone>(t: &DateTime<Z>, lat: f64, lon: f64) -> bool {
    let date = crate::time::local_date(t);
    let t = t.with_timezone(&Utc);
    match sun_day(date, lat, lon) {
        SunDay::Normal { sunrise, sunset } => t < sunrise || t > sunset,
        SunDay::PolarDay => false,
        SunDay::PolarNight => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    const STOCKHOLM: (f64, f64) = (59.3293, 18.0686);

    fn local_hm(t: DateTime<Utc>) -> (u32, u32) {
        let l = crate::time::local(&t);
        (l.hour(), l.minute())
    }

    fn minutes(hm: (u32, u32)) -> i64 {
        (hm.0 * 60 + hm.1) as i64
    }

    #[test]
    fn stockholm_midsummer_and_midwinter() {
        // Published times for Stockholm (timeanddate.com, SMHI almanac): 2026-06-21 sunrise
        // 03:31, sunset 22:08 CEST; 2026-12-21 sunrise 08:43, sunset 14:48 CET.
        let cases = [
            ((2026, 6, 21), (3, 31), (22, 8)),
            ((2026, 12, 21), (8, 43), (14, 48)),
        ];
        for ((y, m, d), rise, set) in cases {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            let SunDay::Normal { sunrise, sunset } = sun_day(date, STOCKHOLM.0, STOCKHOLM.1) else {
                panic!("the sun rises in Stockholm on {date}");
            };
            let (r, s) = (local_hm(sunrise), local_hm(sunset));
            assert!(
                (minutes(r) - minutes(rise)).abs() <= 2,
                "{date}: sunrise {r:?}, expected {rise:?}"
            );
            assert!(
                (minutes(s) - minutes(set)).abs() <= 2,
                "{date}: sunset {s:?}, expected {set:?}"
            );
        }
    }

    #[test]
    fn polar_day_and_night_in_kiruna() {
        let kiruna = (67.8558, 20.2253);
        let june = NaiveDate::from_ymd_opt(2026, 6, 21).unwrap();
        let december = NaiveDate::from_ymd_opt(2026, 12, 21).unwrap();
        assert_eq!(sun_day(june, kiruna.0, kiruna.1), SunDay::PolarDay);
        assert_eq!(sun_day(december, kiruna.0, kiruna.1), SunDay::PolarNight);
    }

    #[test]
    fn after_dark_depends_on_the_season() {
        let eight_pm_summer = DateTime::parse_from_rfc3339("2026-06-21T20:00:00+02:00").unwrap();
        let eight_pm_winter = DateTime::parse_from_rfc3339("2026-12-21T20:00:00+01:00").unwrap();
        let four_pm_winter = DateTime::parse_from_rfc3339("2026-12-21T16:00:00+01:00").unwrap();
        let noon_winter = DateTime::parse_from_rfc3339("2026-12-21T12:00:00+01:00").unwrap();
        let (lat, lon) = STOCKHOLM;
        assert!(!is_after_dark(&eight_pm_summer, lat, lon));
        assert!(is_after_dark(&eight_pm_winter, lat, lon));
        assert!(is_after_dark(&four_pm_winter, lat, lon));
        assert!(!is_after_dark(&noon_winter, lat, lon));
        // Early morning in winter is dark, too.
        let seven_am_winter = DateTime::parse_from_rfc3339("2026-12-21T07:00:00+01:00").unwrap();
        assert!(is_after_dark(&seven_am_winter, lat, lon));
    }
}
