//! The priority score for the action plan (*åtgärdsplan*).
//!
//! A stretch earns points on five counts, 100 at most; every count that adds points also adds a
//! reason in Swedish, so the ranking can be read and argued about in a meeting:
//!
//! | count | points | how |
//! | --- | --- | --- |
//! | deficit | ≤ 35 | 35 · D, D = max(1 − Ē_stretch/Ē_class, 1 − E_min/E_min,class) clipped to [0, 1]; `lit=no` without lamps: D = 1; unknown: 0 |
//! | length | ≤ 15 | 15 · (1 − e^(−L/100 m)): 10 m gives 1.4, 100 m 9.5, 300 m 14.3 |
//! | reports | ≤ 20 | 5 per open darkness report within 25 m, at most 4 |
//! | incidents | ≤ 20 | 5 per crime within 50 m after dark, at most 4 |
//! | importance | ≤ 10 | kind (footway, cycleway, pedestrian, sidewalk, steps, living street: 4; path, bridleway: 2; other 1), named route +3, through a park +3 |
//!
//! Citizens' reports and incidents after dark weigh as much together as the measured deficit:
//! the municipality asked for lighting where people *feel* unsafe, not only where a formula says
//! the light is thin. Unknown stretches are ranked on reports, incidents and importance only: a
//! stretch with many darkness reports and no lamp data is worth an inventory visit.

use super::en13201::PClass;
use super::illuminance::fmt_num;
use super::stretches::LightState;

/// The facts a score is computed from.
#[derive(Debug, Clone)]
pub struct StretchFacts<'a> {
    pub state: LightState,
    pub class: PClass,
    pub length_m: f64,
    pub mean_lux: Option<f64>,
    pub min_lux: Option<f64>,
    /// Dark because OSM says `lit=no` and no lamp is known.
    pub tagged_unlit: bool,
    pub reports: usize,
    pub incidents_after_dark: usize,
    pub kind: &'a str,
    pub name: Option<&'a str>,
    pub park: Option<&'a str>,
    /// Lamps that are off and whose light would reach the stretch.
    pub lamps_off: &'a [String],
}

/// Swedish name of an OSM walkway kind.
pub fn kind_sv(kind: &str) -> &str {
    match kind {
        "footway" => "gångväg",
        "cycleway" => "cykelväg",
        "path" => "stig",
        "pedestrian" => "gågata",
        "steps" => "trappa",
        "living_street" => "gångfartsområde",
        "sidewalk" => "trottoar",
        "bridleway" => "ridväg",
        other => other,
    }
}

fn kind_points(kind: &str) -> f64 {
    match kind {
        "footway" | "cycleway" | "pedestrian" | "sidewalk" | "steps" | "living_street" => 4.0,
        "path" | "bridleway" => 2.0,
        _ => 1.0,
    }
}

/// How far below the class the stretch is, 0 … 1.
pub fn deficit(f: &StretchFacts<'_>) -> f64 {
    if f.state != LightState::Dark {
        return 0.0;
    }
    let by_avg = f.mean_lux.map(|m| 1.0 - m / f.class.average_lux());
    let by_min = f.min_lux.map(|m| 1.0 - m / f.class.minimum_lux());
    let d = match (by_avg, by_min) {
        (Some(a), Some(b)) => a.max(b),
        _ if f.tagged_unlit => 1.0,
        _ => 0.0,
    };
    d.clamp(0.0, 1.0)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The score (0 … 100, one decimal) and its reasons.
pub fn score(f: &StretchFacts<'_>) -> (f64, Vec<String>) {
    if f.state == LightState::Lit {
        return (0.0, vec![format!("uppfyller {}-kravet", f.class)]);
    }
    let mut reasons = Vec::new();
    let d = deficit(f);
    let mut points = 35.0 * d;
    match f.state {
        LightState::Dark if f.mean_lux.is_none() && f.tagged_unlit => {
            reasons.push("taggad lit=no i OpenStreetMap och ingen känd lampa i närheten".into());
        }
        LightState::Dark => {
            reasons.push(format!("{} % under {}-kravet", (d * 100.0).round() as i64, f.class));
        }
        _ => reasons.push(
            "belysning okänd: inga lampdata i närheten (OSM:s lit-tagg säger inte hur ljust det är)"
                .into(),
        ),
    }
    points += 15.0 * (1.0 - (-f.length_m / 100.0).exp());
    reasons.push(format!("{} m lång", f.length_m.round() as i64));
    if f.reports > 0 {
        points += 5.0 * f.reports.min(4) as f64;
        reasons.push(plural(f.reports, "medborgarrapport", "medborgarrapporter"));
    }
    if f.incidents_after_dark > 0 {
        points += 5.0 * f.incidents_after_dark.min(4) as f64;
        reasons.push(format!(
            "{} efter mörkrets inbrott",
            plural(f.incidents_after_dark, "händelse", "händelser")
        ));
    }
    points += kind_points(f.kind);
    reasons.push(kind_sv(f.kind).to_string());
    if let Some(n) = f.name {
        points += 3.0;
        reasons.push(format!("namngivet stråk: {n}"));
    }
    if let Some(p) = f.park {
        points += 3.0;
        reasons.push(format!("går genom park ({p})"));
    }
    if !f.lamps_off.is_empty() {
        reasons.push(format!(
            "{}: {}",
            plural(f.lamps_off.len(), "släckt lampa", "släckta lampor"),
            f.lamps_off.join(", ")
        ));
    }
    ((points * 10.0).round() / 10.0, reasons)
}

/// A short description of the criteria of a class, e.g. `Ē ≥ 3 lx, Emin ≥ 0,6 lx`.
pub fn criteria_sv(class: PClass) -> String {
    format!(
        "Ē ≥ {} lx, Emin ≥ {} lx",
        fmt_num(class.average_lux()),
        fmt_num(class.minimum_lux())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> StretchFacts<'static> {
        StretchFacts {
            state: LightState::Dark,
            class: PClass::P5,
            length_m: 100.0,
            mean_lux: Some(2.04),
            min_lux: Some(0.3),
            tagged_unlit: false,
            reports: 3,
            incidents_after_dark: 2,
            kind: "footway",
            name: Some("Centrumstråket"),
            park: None,
            lamps_off: &[],
        }
    }

    #[test]
    fn score_adds_up_the_documented_points() {
        let f = facts();
        // D = max(1 − 2.04/3, 1 − 0.3/0.6) = max(0.32, 0.5) = 0.5.
        assert!((deficit(&f) - 0.5).abs() < 1e-12);
        let (p, reasons) = score(&f);
        let expected = 35.0 * 0.5 + 15.0 * (1.0 - (-1.0f64).exp()) + 15.0 + 10.0 + 4.0 + 3.0;
        assert!(
            (p - (expected * 10.0).round() / 10.0).abs() < 1e-9,
            "{p} vs {expected}"
        );
        assert_eq!(
            reasons,
            vec![
                "50 % under P5-kravet",
                "100 m lång",
                "3 medborgarrapporter",
                "2 händelser efter mörkrets inbrott",
                "gångväg",
                "namngivet stråk: Centrumstråket"
            ]
        );
    }

    #[test]
    fn unknown_has_no_deficit_and_lit_no_counts_fully() {
        let mut f = facts();
        f.state = LightState::Unknown;
        f.mean_lux = None;
        f.min_lux = None;
        assert_eq!(deficit(&f), 0.0);
        assert!(score(&f).1[0].starts_with("belysning okänd"));
        f.state = LightState::Dark;
        f.tagged_unlit = true;
        assert_eq!(deficit(&f), 1.0);
        // Caps: ten reports count as four.
        f.reports = 10;
        let (p10, _) = score(&f);
        f.reports = 4;
        assert_eq!(score(&f).0, p10);
    }
}
