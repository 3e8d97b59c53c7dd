//! The lighting analysis end to end: hand-computed illuminance, a planted gap, states, broken
//! lamps, what-if, real OSM data, the HTTP API on a real server and the CLI.

use chrono::{DateTime, Utc};
use geo::{LineString, Point};
use lagesbild::analysis::lighting::{
    self, ClassPlan, LightState, LightingInputs, LightingParams, OffReason, PClass,
    whatif::{self, ProposedLamp},
};
use lagesbild::category::CategoryGroup;
use lagesbild::model::{
    CitizenReport, Incident, Lamp, LampStatus, LocationPrecision, ReportStatus, ServiceCode,
    Walkway,
};
use lagesbild::spatial::{AreaLayer, IncidentLayer, LampLayer, ReportLayer, WalkwayLayer};

/// Täby centrum in EPSG:3006: the synthetic paths start here.
const X0: f64 = 673_983.5;
const Y0: f64 = 6_593_495.7;

struct World {
    walkways: WalkwayLayer,
    lamps: LampLayer,
    reports: ReportLayer,
    incidents: IncidentLayer,
    areas: AreaLayer,
}

impl World {
    fn new(
        walkways: Vec<Walkway>,
        lamps: Vec<Lamp>,
        reports: Vec<CitizenReport>,
        incidents: Vec<Incident>,
    ) -> Self {
        Self {
            walkways: WalkwayLayer::new(walkways),
            lamps: LampLayer::new(lamps),
            reports: ReportLayer::new(reports),
            incidents: IncidentLayer::new(incidents),
            areas: AreaLayer::new(Vec::new()),
        }
    }

    fn inputs(&self) -> LightingInputs<'_> {
        LightingInputs {
            walkways: &self.walkways.items,
            walkway_tree: &self.walkways.tree,
            lamps: &self.lamps.items,
            lamp_tree: &self.lamps.tree,
            reports: &self.reports.items,
            report_tree: &self.reports.tree,
            incidents: &self.incidents.items,
            incident_tree: &self.incidents.tree,
            areas: &self.areas.items,
        }
    }
}

/// A straight east-going path of `len` metres starting at (X0, Y0 + dy).
fn path(id: i64, len: f64, dy: f64, lit: Option<&str>) -> Walkway {
    Walkway {
        id,
        geometry: LineString::from(vec![(X0, Y0 + dy), (X0 + len, Y0 + dy)]),
        kind: "footway".into(),
        lit: lit.map(str::to_string),
        name: Some("Provstråket".into()),
    }
}

fn lamp(id: &str, x: f64, y: f64, lumen: f64) -> Lamp {
    Lamp {
        id: id.into(),
        location: Point::new(X0 + x, Y0 + y),
        height_m: Some(5.0),
        lumen: Some(lumen),
        watt: None,
        status: LampStatus::Working,
        source: "test".into(),
        reference: None,
    }
}

/// I = Φ·MF/(2π) with the documented maintenance factor 0.8.
fn intensity(lumen: f64) -> f64 {
    lumen * 0.8 / (2.0 * std::f64::consts::PI)
}

/// E = I·h/(h² + d²)^1.5, written out again here on purpose.
fn formula(i: f64, h: f64, d: f64) -> f64 {
    i * h / (h * h + d * d).powf(1.5)
}

#[test]
fn one_lamp_over_a_straight_path_matches_the_formula() {
    // A lamp of 3 000 lm (I = 381.97 cd) at 5 m right above the path at 100 m.
    let world = World::new(
        vec![path(1, 200.0, 0.0, Some("yes"))],
        vec![lamp("L", 100.0, 0.0, 3_000.0)],
        vec![],
        vec![],
    );
    let params = LightingParams {
        sample_step_m: 1.0,
        ..LightingParams::default()
    };
    let r = lighting::analyze(&world.inputs(), &params);
    let p = &r.profiles[0];
    assert_eq!(p.len(), 201);
    let i = intensity(3_000.0);
    for d in [0.0, 5.0, 10.0, 20.0] {
        let k = (100.0 + d) as usize;
        assert!((p.position(k) - (100.0 + d)).abs() < 1e-9);
        let expected = formula(i, 5.0, d);
        let got = p.lux[k] as f64;
        assert!(
            (got - expected).abs() <= 1e-5 * expected,
            "at {d} m: {got} lx, formula {expected} lx"
        );
        // Symmetric on the other side.
        assert!((p.lux[100 - d as usize] as f64 - expected).abs() <= 1e-5 * expected);
    }
    // The hand-computed values themselves: E(0) = I/h² = 15.279 lx, E(5) = 5.402 lx.
    assert!((formula(i, 5.0, 0.0) - 15.279).abs() < 1e-3);
    assert!((formula(i, 5.0, 5.0) - 5.402).abs() < 1e-3);
}

/// Lamps every 30 m along a 600 m path 2 m to its side, except at 240, 270, 300 and 330 m: a
/// 150 m gap between the lamps at 210 and 360 m, centred on 285 m.
fn gap_lamps() -> Vec<Lamp> {
    (0..=20)
        .map(|k| k as f64 * 30.0)
        .filter(|x| !(235.0..=335.0).contains(x))
        .map(|x| lamp(&format!("L{x:03}"), x, 2.0, 3_000.0))
        .collect()
}

/// E(x) on the path from all lamps, by the formula, independently of the code under test.
fn gap_lux(x: f64, lamps: &[Lamp]) -> f64 {
    let i = intensity(3_000.0);
    lamps
        .iter()
        .map(|l| {
            let (dx, dy) = (l.location.x() - (X0 + x), l.location.y() - Y0);
            formula(i, 5.0, dx.hypot(dy))
        })
        .sum()
}

fn bisect(mut a: f64, mut b: f64, f: impl Fn(f64) -> f64) -> f64 {
    assert!(f(a).signum() != f(b).signum());
    for _ in 0..100 {
        let m = (a + b) / 2.0;
        if f(m).signum() == f(a).signum() {
            a = m;
        } else {
            b = m;
        }
    }
    (a + b) / 2.0
}

#[test]
fn a_150_m_gap_gives_one_dark_stretch_of_the_predicted_length() {
    let lamps = gap_lamps();
    let world = World::new(
        vec![path(2, 600.0, 0.0, Some("yes"))],
        lamps.clone(),
        vec![],
        vec![],
    );
    let r = lighting::analyze(&world.inputs(), &LightingParams::default());
    let emin = PClass::P5.minimum_lux();
    // Where the light falls below the P5 minimum on either side of the gap.
    let x1 = bisect(210.0, 285.0, |x| gap_lux(x, &lamps) - emin);
    let x2 = bisect(285.0, 360.0, |x| gap_lux(x, &lamps) - emin);
    let expected = x2 - x1;
    assert!(expected > 110.0 && expected < 130.0, "{expected}");
    let dark: Vec<_> = r
        .stretches
        .iter()
        .filter(|s| s.state == LightState::Dark)
        .collect();
    assert_eq!(dark.len(), 1, "{:#?}", r.stretches);
    assert_eq!(r.totals(LightState::Unknown).stretches, 0);
    let s = dark[0];
    let step = r.params.sample_step_m;
    assert!(
        (s.length_m - expected).abs() <= step,
        "length {} vs {expected}",
        s.length_m
    );
    let centre = (s.from_m + s.to_m) / 2.0;
    assert!((centre - 285.0).abs() <= step, "centre {centre}");
    assert!(s.below_minimum && !s.below_average);
    assert!(s.min_lux.unwrap() < emin && s.mean_lux.unwrap() < emin);
    assert_eq!(s.lamps_before.as_deref(), Some("L210"));
    assert_eq!(s.lamps_after.as_deref(), Some("L360"));
    assert!((s.gap_m.unwrap() - 150.0).abs() < 1e-6);
    assert_eq!(s.rank, Some(1));
    assert!(
        s.reasons.iter().any(|r| r.ends_with("under P5-kravet")),
        "{:?}",
        s.reasons
    );
    assert!(
        s.reasons
            .contains(&"namngivet stråk: Provstråket".to_string())
    );
    // The rest of the path meets P5, both criteria.
    assert_eq!(r.totals(LightState::Lit).stretches, 2);
    assert!((r.totals(LightState::Lit).length_m + s.length_m - 600.0).abs() < 1e-6);
    // The summary page's list.
    assert_eq!(lighting::top_stretches(&r, 5).len(), 1);
}

#[test]
fn states_follow_the_lit_tag_when_there_are_no_lamps() {
    let world = World::new(
        vec![
            path(10, 100.0, 0.0, Some("yes")),
            path(11, 100.0, 500.0, Some("no")),
            path(12, 100.0, 1_000.0, None),
            path(13, 100.0, 1_500.0, Some("automatic")),
        ],
        vec![],
        vec![],
        vec![],
    );
    let r = lighting::analyze(&world.inputs(), &LightingParams::default());
    let state_of = |id: i64| {
        let s: Vec<_> = r.stretches.iter().filter(|s| s.walkway_id == id).collect();
        assert_eq!(s.len(), 1);
        (s[0].state, s[0].mean_lux, s[0].length_m)
    };
    assert_eq!(state_of(10), (LightState::Unknown, None, 100.0));
    assert_eq!(state_of(11), (LightState::Dark, None, 100.0));
    assert_eq!(state_of(12).0, LightState::Unknown);
    assert_eq!(state_of(13).0, LightState::Unknown);
    let dark = r.stretches.iter().find(|s| s.walkway_id == 11).unwrap();
    assert!(dark.tagged_unlit);
    assert!(dark.reasons[0].contains("lit=no"));
    // Dark outranks unknown when nothing else differs.
    assert_eq!(dark.rank, Some(1));
}

fn report(
    id: i64,
    service: ServiceCode,
    status: ReportStatus,
    x: f64,
    y: f64,
    lamp_id: Option<&str>,
) -> CitizenReport {
    let t: DateTime<Utc> = "2026-11-01T18:00:00Z".parse().unwrap();
    CitizenReport {
        id,
        service,
        status,
        description: "Mörkt här".into(),
        location: Point::new(X0 + x, Y0 + y),
        original_location: Point::new(X0 + x, Y0 + y),
        walkway_id: None,
        lamp_id: lamp_id.map(str::to_string),
        address: None,
        media_url: None,
        status_notes: None,
        agency_responsible: None,
        requested_at: t,
        updated_at: t,
        hidden: false,
        merged_into: None,
        attributes: serde_json::json!({}),
    }
}

/// Lamps every 30 m on a 300 m path, the one at 150 m reported broken.
fn broken_lamp_world(status: ReportStatus, register: LampStatus) -> World {
    let mut lamps: Vec<Lamp> = (0..=10)
        .map(|k| lamp(&format!("L{}", k * 30), k as f64 * 30.0, 2.0, 3_000.0))
        .collect();
    lamps[5].status = register;
    World::new(
        vec![path(20, 300.0, 0.0, Some("yes"))],
        lamps,
        vec![report(
            7,
            ServiceCode::BrokenLamp,
            status,
            150.0,
            2.0,
            Some("L150"),
        )],
        vec![],
    )
}

#[test]
fn a_broken_lamp_report_turns_the_lamp_off_until_closed() {
    let r = lighting::analyze(
        &broken_lamp_world(ReportStatus::Open, LampStatus::Working).inputs(),
        &LightingParams::default(),
    );
    assert_eq!(r.lamps[5].off, Some(OffReason::Report(7)));
    let dark: Vec<_> = r
        .stretches
        .iter()
        .filter(|s| s.state == LightState::Dark)
        .collect();
    assert_eq!(dark.len(), 1);
    let s = dark[0];
    assert!(
        s.from_m > 120.0 && s.to_m < 180.0 && ((s.from_m + s.to_m) / 2.0 - 150.0).abs() < 2.0,
        "{s:?}"
    );
    assert_eq!(s.darkened_by, vec!["L150".to_string()]);
    assert_eq!(s.lamps_off, vec!["L150".to_string()]);
    assert_eq!(s.report_ids, vec![7]);
    assert_eq!(r.darkens.get(&5), Some(&vec![r.by_id[&s.id]]));
    assert!(
        s.reasons.contains(&"1 medborgarrapport".to_string()),
        "{:?}",
        s.reasons
    );

    // Acknowledged is still open; closed switches the lamp back on.
    let r = lighting::analyze(
        &broken_lamp_world(ReportStatus::InProgress, LampStatus::Working).inputs(),
        &LightingParams::default(),
    );
    assert!(!r.lamps[5].is_on());
    let r = lighting::analyze(
        &broken_lamp_world(ReportStatus::Closed, LampStatus::Working).inputs(),
        &LightingParams::default(),
    );
    assert!(r.lamps[5].is_on());
    assert_eq!(r.totals(LightState::Dark).stretches, 0);
    assert!(r.darkens.is_empty());

    // Broken in the register: off whatever the reports say.
    let r = lighting::analyze(
        &broken_lamp_world(ReportStatus::Closed, LampStatus::Broken).inputs(),
        &LightingParams::default(),
    );
    assert_eq!(r.lamps[5].off, Some(OffReason::Register));
    assert_eq!(r.totals(LightState::Dark).stretches, 1);
}

fn incident(
    id: &str,
    at: &str,
    x: f64,
    y: f64,
    precision: LocationPrecision,
    group: CategoryGroup,
) -> Incident {
    Incident {
        source: "test".into(),
        source_id: id.into(),
        occurred_at: DateTime::parse_from_rfc3339(at).unwrap(),
        time_precision: Default::default(),
        occurred_to: None,
        category: "assault".into(),
        group,
        label: "Misshandel".into(),
        location: Point::new(X0 + x, Y0 + y),
        precision,
        place: None,
        summary: None,
    }
}

#[test]
fn reports_and_incidents_after_dark_count_for_the_stretch() {
    let incidents = vec![
        // 21:00 in December: after dark, 30 m off the path in the gap.
        incident(
            "a",
            "2026-12-10T21:00:00+01:00",
            285.0,
            30.0,
            LocationPrecision::Exact,
            CategoryGroup::Violence,
        ),
        // Noon in December: daylight.
        incident(
            "b",
            "2026-12-10T12:00:00+01:00",
            280.0,
            5.0,
            LocationPrecision::Exact,
            CategoryGroup::Violence,
        ),
        // 21:00 in June: still light in Täby (sunset about 22:10).
        incident(
            "c",
            "2026-06-21T21:00:00+02:00",
            290.0,
            5.0,
            LocationPrecision::Street,
            CategoryGroup::Violence,
        ),
        // Night, but placed on the municipality centre: never counted.
        incident(
            "d",
            "2026-12-10T23:00:00+01:00",
            285.0,
            0.0,
            LocationPrecision::Municipality,
            CategoryGroup::Violence,
        ),
        // Night, but a traffic accident.
        incident(
            "e",
            "2026-12-10T23:00:00+01:00",
            285.0,
            0.0,
            LocationPrecision::Exact,
            CategoryGroup::Traffic,
        ),
        // Night, exact, but 80 m away.
        incident(
            "f",
            "2026-12-10T23:00:00+01:00",
            285.0,
            80.0,
            LocationPrecision::Exact,
            CategoryGroup::Violence,
        ),
    ];
    let reports = vec![
        report(
            1,
            ServiceCode::DarkPath,
            ReportStatus::Open,
            290.0,
            10.0,
            None,
        ),
        report(
            2,
            ServiceCode::Vegetation,
            ReportStatus::Acknowledged,
            300.0,
            -20.0,
            None,
        ),
        report(
            3,
            ServiceCode::DarkPath,
            ReportStatus::Closed,
            295.0,
            5.0,
            None,
        ),
        report(
            4,
            ServiceCode::UnsafePlace,
            ReportStatus::Open,
            295.0,
            5.0,
            None,
        ),
        report(
            5,
            ServiceCode::DarkPath,
            ReportStatus::Open,
            295.0,
            40.0,
            None,
        ),
    ];
    let world = World::new(
        vec![path(2, 600.0, 0.0, Some("yes"))],
        gap_lamps(),
        reports,
        incidents,
    );
    let r = lighting::analyze(&world.inputs(), &LightingParams::default());
    let s = r
        .stretches
        .iter()
        .find(|s| s.state == LightState::Dark)
        .unwrap();
    assert_eq!(s.report_ids, vec![1, 2]);
    assert_eq!(s.incidents_after_dark, 1);
    assert!(
        s.reasons.contains(&"2 medborgarrapporter".to_string()),
        "{:?}",
        s.reasons
    );
    assert!(
        s.reasons
            .contains(&"1 händelse efter mörkrets inbrott".to_string()),
        "{:?}",
        s.reasons
    );
}

#[test]
fn what_if_lamps_fix_the_gap() {
    let world = World::new(
        vec![path(2, 600.0, 0.0, Some("yes"))],
        gap_lamps(),
        vec![],
        vec![],
    );
    let inputs = world.inputs();
    let r = lighting::analyze(&inputs, &LightingParams::default());
    let dark = r
        .stretches
        .iter()
        .find(|s| s.state == LightState::Dark)
        .unwrap()
        .clone();
    let at = |x: f64| ProposedLamp {
        x: X0 + x,
        y: Y0 + 2.0,
        height_m: Some(5.0),
        lumen: Some(3_000.0),
        watt: None,
    };
    // The four missing lamps put back: fixed.
    let w = whatif::what_if(&r, &inputs, &[at(240.0), at(270.0), at(300.0), at(330.0)]);
    assert_eq!(w.fixed, vec![dark.id.clone()]);
    assert!(w.improved.is_empty());
    assert!(w.new_stretches.is_empty());
    // One lamp in the middle: the gap shrinks to two of 75 m, still dark in their middles.
    let w = whatif::what_if(&r, &inputs, &[at(285.0)]);
    assert!(w.fixed.is_empty());
    assert_eq!(w.improved.len(), 1);
    let imp = &w.improved[0];
    assert_eq!(imp.id, dark.id);
    assert!(imp.after.length_m < imp.before.length_m);
    assert!(imp.after.mean_lux.unwrap() > imp.before.mean_lux.unwrap());
    assert_eq!(w.new_stretches.len(), 2);
    // A lamp far away changes nothing.
    let w = whatif::what_if(&r, &inputs, &[at(5_000.0)]);
    assert!(w.fixed.is_empty() && w.improved.is_empty() && w.walkways.is_empty());
}

#[test]
fn class_per_walkway_kind_is_applied() {
    // Lamps every 30 m meet P5 (Ē about 5 lx) but not P3 (Ē 7.5 lx, Emin 1.5 lx).
    let lamps: Vec<Lamp> = (0..=10)
        .map(|k| lamp(&format!("L{k}"), k as f64 * 30.0, 2.0, 3_000.0))
        .collect();
    let mut steps = path(31, 300.0, 0.0, Some("yes"));
    steps.kind = "steps".into();
    let world = World::new(vec![steps], lamps, vec![], vec![]);
    let p5 = lighting::analyze(&world.inputs(), &LightingParams::default());
    assert_eq!(p5.totals(LightState::Dark).stretches, 0);
    let plan = ClassPlan::uniform(PClass::P5)
        .with_overrides("steps=P3")
        .unwrap();
    let p3 = lighting::analyze(&world.inputs(), &LightingParams::with_classes(plan));
    assert!(p3.totals(LightState::Dark).length_m > 100.0);
    assert!(p3.stretches.iter().all(|s| s.class == PClass::P3));
}

// ---------------------------------------------------------------------------------------------
// Real OpenStreetMap data

mod real {
    use super::*;
    use lagesbild::crs::ServiceArea;
    use lagesbild::ingest::{self, osm};
    use lagesbild::spatial::Snapshot;

    async fn import(file: &str, area: ServiceArea) -> (tempfile::TempDir, Snapshot) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("l.sqlite");
        let store = lagesbild::store::open(db.to_str().unwrap()).await.unwrap();
        let path = crate::support::root().join("tests/fixtures").join(file);
        let opts = osm::OsmOptions {
            path: path.clone(),
            area,
        };
        let (ways, lamps) =
            ingest::run_pair(store.clone(), &path, move |w, l| osm::parse(opts, w, l))
                .await
                .unwrap();
        eprintln!("{}\n{}", ways.human(), lamps.human());
        let snap = Snapshot::load(store.as_ref()).await.unwrap();
        (dir, snap)
    }

    /// Runs the analysis, checks the state rules independently on the real network, and
    /// returns (walkways, lamps, [dark, unknown, lit] stretches).
    fn summary(snap: &Snapshot) -> (usize, usize, [usize; 3]) {
        let inputs = LightingInputs::from_snapshot(snap);
        let r = lighting::analyze(&inputs, &LightingParams::default());
        let n = |s| r.totals(s).stretches;
        for s in lighting::top_stretches(&r, 5) {
            eprintln!(
                "{} {} {:.0} m {:?}",
                s.id,
                s.state.as_str(),
                s.length_m,
                s.reasons
            );
        }
        for st in LightState::ALL {
            eprintln!(
                "{}: {} stretches, {:.0} m",
                st.as_str(),
                n(st),
                r.totals(st).length_m
            );
        }
        // The stretches cover every walkway exactly once.
        let total: f64 = inputs
            .walkways
            .iter()
            .map(|w| {
                w.geometry
                    .0
                    .windows(2)
                    .map(|p| (p[1].x - p[0].x).hypot(p[1].y - p[0].y))
                    .sum::<f64>()
            })
            .sum();
        let covered: f64 = LightState::ALL.iter().map(|&s| r.totals(s).length_m).sum();
        assert!(
            (total - covered).abs() < 1e-6 * total,
            "{total} vs {covered}"
        );
        // A walkway with no lamp within 100 m of any of its vertices' segments (by brute force
        // over all lamps) is all unknown, or all dark when tagged lit=no: never guessed.
        let mut lampless = 0;
        for (wi, w) in inputs.walkways.iter().enumerate() {
            let near = inputs.lamps.iter().any(|l| {
                w.geometry.0.windows(2).any(|p| {
                    let (ax, ay, bx, by) = (p[0].x, p[0].y, p[1].x, p[1].y);
                    let (dx, dy) = (bx - ax, by - ay);
                    let t = (((l.location.x() - ax) * dx + (l.location.y() - ay) * dy)
                        / (dx * dx + dy * dy))
                        .clamp(0.0, 1.0);
                    (ax + t * dx - l.location.x()).hypot(ay + t * dy - l.location.y()) <= 100.0
                })
            });
            if near {
                continue;
            }
            lampless += 1;
            let expected = if w.lit.as_deref() == Some("no") {
                LightState::Dark
            } else {
                LightState::Unknown
            };
            assert!(
                r.stretches
                    .iter()
                    .filter(|s| s.walkway == wi)
                    .all(|s| s.state == expected),
                "walkway {}",
                w.id
            );
        }
        eprintln!("{lampless} walkways without a lamp within 100 m");
        assert!(lampless > 0);
        (
            inputs.walkways.len(),
            inputs.lamps.len(),
            [
                n(LightState::Dark),
                n(LightState::Unknown),
                n(LightState::Lit),
            ],
        )
    }

    #[tokio::test]
    async fn ostermalm_slice_imports_and_analyses() {
        let (_dir, snap) = import("ostermalm_slice.osm", ServiceArea::sweden()).await;
        let got = summary(&snap);
        assert_eq!(got, OSTERMALM);
    }

    #[tokio::test]
    async fn helsinki_centre_imports_and_analyses() {
        let (_dir, snap) = import("helsinki_center.osm.pbf", ServiceArea::Unbounded).await;
        let got = summary(&snap);
        assert_eq!(got, HELSINKI);
    }

    /// (walkways, lamps, [dark, unknown, lit] stretches), recorded from the first run. The
    /// walkway and lamp counts agree with `python3 tests/lighting_fixture_counts.py`, which reads
    /// the files with its own parsers (Östermalm: 189 highway ways, of which 134 are walkways,
    /// 129 of them without a lit tag, and 6 lamps; Helsinki: 1 385 walkways with two or more
    /// nodes in the file, 586 lamps). Östermalm is mostly unknown (9.8 km unknown, 1.0 km dark,
    /// 0.1 km lit): six mapped lamps say little about a district.
    const OSTERMALM: (usize, usize, [usize; 3]) = (134, 6, [29, 112, 3]);
    const HELSINKI: (usize, usize, [usize; 3]) = (1_385, 586, [1_005, 364, 260]);
}

// ---------------------------------------------------------------------------------------------
// The HTTP API on a real server, and the CLI

mod served {
    use super::*;
    use crate::support::{TestServer, http};
    use lagesbild::config::Config;
    use lagesbild::model::Role;
    use lagesbild::service::lighting::{ClassParams, StretchParams};
    use serde_json::Value;

    /// The shared test server over the gap path and more, with a coordinator's and a police
    /// token.
    struct Server {
        base: String,
        db: String,
        coordinator: String,
        police: String,
        _srv: TestServer,
    }

    /// A database with the gap path, a lit=yes path without lamps and a broken register lamp.
    async fn start() -> Server {
        let mut lamps = gap_lamps();
        // A second path north of the first, lamps every 30 m, one broken in the register.
        for k in 0..=10 {
            let mut l = lamp(&format!("N{}", k * 30), k as f64 * 30.0, 502.0, 3_000.0);
            if k == 5 {
                l.status = LampStatus::Broken;
            }
            lamps.push(l);
        }
        let srv = TestServer::seeded(
            |_| {},
            async |store| {
                store
                    .upsert_walkways(&[
                        path(2, 600.0, 0.0, Some("yes")),
                        path(3, 300.0, 500.0, Some("yes")),
                        path(4, 200.0, 1_000.0, Some("yes")),
                    ])
                    .await
                    .unwrap();
                store.upsert_lamps(&lamps).await.unwrap();
            },
        )
        .await;
        Server {
            base: srv.url(""),
            db: srv.db.clone(),
            coordinator: srv.token(Role::Coordinator).await,
            police: srv.token(Role::Police).await,
            _srv: srv,
        }
    }

    /// (status, JSON body, or the text as a JSON string) of a request; a body is sent as JSON.
    async fn call(
        method: &'static str,
        url: String,
        token: Option<String>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let body = (method != "GET").then(|| {
            let text = body.map(|b| b.to_string()).unwrap_or_default();
            ("application/json".to_string(), text.into_bytes())
        });
        let (status, _, bytes) = http(method, url, body, token).await;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    fn wgs84(x: f64, y: f64) -> (f64, f64) {
        lagesbild::crs::to_wgs84(X0 + x, Y0 + y).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stretches_lamps_walkways_and_what_if_over_http() {
        let s = start().await;
        let (status, fc) = call(
            "GET",
            format!("{}/api/v1/lighting/stretches?class=P5", s.base),
            None,
            None,
        )
        .await;
        assert_eq!(status, 200, "{fc}");
        assert_eq!(fc["type"], "FeatureCollection");
        let meta = &fc["meta"];
        assert_eq!(meta["class"], "P5");
        assert_eq!(meta["criteria"]["average_lux"], 3.0);
        assert_eq!(meta["criteria"]["minimum_lux"], 0.6);
        assert!(meta["assumptions"].as_array().unwrap().len() >= 5);
        // The gap (dark), the broken lamp's stretch (dark) and the lampless path (unknown).
        assert_eq!(meta["counts"]["dark"], 2);
        assert_eq!(meta["counts"]["unknown"], 1);
        let features = fc["features"].as_array().unwrap();
        assert_eq!(features.len(), 3);
        let gap = features
            .iter()
            .find(|f| f["properties"]["walkway_id"] == 2)
            .unwrap();
        let p = &gap["properties"];
        assert_eq!(p["state"], "dark");
        assert_eq!(p["lamps_before"], "L210");
        assert_eq!(p["lamps_after"], "L360");
        assert_eq!(p["gap_m"], 150.0);
        assert_eq!(p["lit_tag"], "yes");
        assert_eq!(p["name"], "Provstråket");
        assert_eq!(p["kind"], "footway");
        for key in [
            "id",
            "length_m",
            "mean_lux",
            "min_lux",
            "reports",
            "report_ids",
            "priority",
            "rank",
            "reasons",
        ] {
            assert!(!p[key].is_null(), "{key} missing in {p}");
        }
        // The public sees a count of incidents after dark only when it is at least k.
        assert!(p.get("incidents_after_dark").is_some());
        assert!(
            p["incidents_after_dark"].is_null() || p["incidents_after_dark"].as_u64().unwrap() >= 3,
            "{p}"
        );
        let coords = gap["geometry"]["coordinates"].as_array().unwrap();
        let (lon, lat) = (
            coords[0][0].as_f64().unwrap(),
            coords[0][1].as_f64().unwrap(),
        );
        assert!(
            (18.0..18.2).contains(&lon) && (59.4..59.5).contains(&lat),
            "lon/lat order: {lon}, {lat}"
        );
        let ranks: Vec<i64> = features
            .iter()
            .map(|f| f["properties"]["rank"].as_i64().unwrap())
            .collect();
        assert_eq!(ranks, vec![1, 2, 3]);
        let gap_id = p["id"].as_str().unwrap().to_string();

        // Filters: only lit, and a bbox around the gap path only.
        let (_, lit) = call(
            "GET",
            format!("{}/api/v1/lighting/stretches?state=lit", s.base),
            None,
            None,
        )
        .await;
        assert!(
            lit["features"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["properties"]["state"] == "lit")
        );
        let (w, so) = wgs84(-20.0, -20.0);
        let (e, n) = wgs84(620.0, 20.0);
        let (_, boxed) = call(
            "GET",
            format!(
                "{}/api/v1/lighting/stretches?bbox={w},{so},{e},{n}&state=dark,unknown,lit",
                s.base
            ),
            None,
            None,
        )
        .await;
        assert!(
            boxed["features"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["properties"]["walkway_id"] == 2)
        );
        assert_eq!(boxed["features"].as_array().unwrap().len(), 3);
        let (status, err) = call(
            "GET",
            format!("{}/api/v1/lighting/stretches?class=P9", s.base),
            None,
            None,
        )
        .await;
        assert_eq!(status, 400);
        assert!(err["error"].as_str().unwrap().contains("P9"));

        // Lamps: the broken one says what it darkens.
        let (status, lamps) = call(
            "GET",
            format!("{}/api/v1/lighting/lamps", s.base),
            None,
            None,
        )
        .await;
        assert_eq!(status, 200);
        let lamps = lamps["features"].as_array().unwrap();
        let broken = lamps
            .iter()
            .find(|f| f["properties"]["id"] == "N150")
            .unwrap();
        assert_eq!(broken["properties"]["status"], "broken");
        assert_eq!(broken["properties"]["off_reason"], "register");
        assert_eq!(broken["properties"]["darkens"].as_array().unwrap().len(), 1);
        let working = lamps
            .iter()
            .find(|f| f["properties"]["id"] == "L000")
            .unwrap();
        assert_eq!(working["properties"]["status"], "working");
        assert!(working["properties"]["off_reason"].is_null());
        assert_eq!(
            working["properties"]["assumed"].as_array().unwrap().len(),
            0
        );

        // Walkways in pieces for colouring.
        let (status, ways) = call(
            "GET",
            format!("{}/api/v1/walkways?class=P5", s.base),
            None,
            None,
        )
        .await;
        assert_eq!(status, 200);
        let pieces = ways["features"].as_array().unwrap();
        assert!(pieces.len() >= 55, "{}", pieces.len());
        assert!(pieces.iter().any(|f| f["properties"]["state"] == "dark"
            && f["properties"]["lux"].as_f64().unwrap() < 0.6));
        assert!(
            pieces
                .iter()
                .any(|f| f["properties"]["state"] == "unknown" && f["properties"]["lux"].is_null())
        );

        // What-if is for coordinators.
        let (lon, lat) = wgs84(285.0, 2.0);
        let one = serde_json::json!({"class": "P5", "lamps": [{"lon": lon, "lat": lat, "height_m": 5, "lumen": 3000}]});
        let (status, _) = call(
            "POST",
            format!("{}/api/v1/lighting/what-if", s.base),
            None,
            Some(one.clone()),
        )
        .await;
        assert_eq!(status, 401);
        let (status, _) = call(
            "POST",
            format!("{}/api/v1/lighting/what-if", s.base),
            Some(s.police.clone()),
            Some(one.clone()),
        )
        .await;
        assert_eq!(status, 403);
        let lamps: Vec<Value> = [240.0, 270.0, 300.0, 330.0]
            .iter()
            .map(|&x| {
                let (lon, lat) = wgs84(x, 2.0);
                serde_json::json!({"lon": lon, "lat": lat})
            })
            .collect();
        let (status, answer) = call(
            "POST",
            format!("{}/api/v1/lighting/what-if", s.base),
            Some(s.coordinator.clone()),
            Some(serde_json::json!({"class": "P5", "lamps": lamps})),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["fixed"], serde_json::json!([gap_id]));
        assert_eq!(answer["new_stretches"]["type"], "FeatureCollection");
        assert_eq!(
            answer["proposed"][0]["assumed"],
            serde_json::json!(["height_m", "lumen"])
        );
        let (status, answer) = call(
            "POST",
            format!("{}/api/v1/lighting/what-if", s.base),
            Some(s.coordinator.clone()),
            Some(one),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(answer["improved"][0]["id"], gap_id);
        assert!(
            answer["improved"][0]["after"]["length_m"].as_f64()
                < answer["improved"][0]["before"]["length_m"].as_f64()
        );
        let (status, err) = call(
            "POST",
            format!("{}/api/v1/lighting/what-if", s.base),
            Some(s.coordinator.clone()),
            Some(serde_json::json!({"lamps": [{"lon": 59.4, "lat": 118.0}]})),
        )
        .await;
        assert_eq!(status, 400);
        assert!(err["error"].as_str().unwrap().contains("lamps[0]"), "{err}");

        // The CLI writes the same collection.
        let out = s._srv.dir.path().join("dark.geojson");
        let cfg = Config {
            db: s.db.clone(),
            ..Config::default()
        };
        lagesbild::cli::lighting::run(
            &cfg,
            lagesbild::cli::lighting::LightingArgs {
                classes: ClassParams {
                    class: Some("P5".into()),
                    kind_class: None,
                },
                stretches: StretchParams {
                    state: Some("dark".into()),
                    ..StretchParams::default()
                },
                top: 5,
                out: out.clone(),
            },
        )
        .await
        .unwrap();
        let written: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        assert_eq!(written["features"].as_array().unwrap().len(), 2);
        assert_eq!(written["features"][0]["properties"]["rank"], 1);
    }

    #[test]
    fn the_openapi_document_covers_every_endpoint_with_its_parameters_and_answers() {
        let doc = lagesbild::api::openapi_document();
        let paths = &doc["paths"];
        for (path, method, params) in [
            (
                "/api/v1/lighting/stretches",
                "get",
                &["class", "kind_class", "bbox", "state", "limit", "sort"][..],
            ),
            (
                "/api/v1/lighting/lamps",
                "get",
                &["class", "kind_class", "bbox", "limit"][..],
            ),
            (
                "/api/v1/walkways",
                "get",
                &["class", "kind_class", "bbox", "limit"][..],
            ),
            ("/api/v1/lighting/what-if", "post", &[][..]),
        ] {
            let op = &paths[path][method];
            assert!(op.is_object(), "{method} {path}");
            let names: Vec<&str> = op["parameters"]
                .as_array()
                .map(|ps| ps.iter().map(|p| p["name"].as_str().unwrap()).collect())
                .unwrap_or_default();
            assert_eq!(names, params, "{path}");
            let ok = op["responses"]["200"]["content"]["application/json"]["schema"].to_string();
            assert!(ok.contains("$ref"), "{path}: the answer is typed: {ok}");
            assert!(op["responses"]["400"].is_object(), "{path}");
            // Every answer's size is documented.
            let text = op["description"].as_str().unwrap_or_default();
            assert!(text.contains("Size:"), "{path}: {text}");
        }
        let body = &paths["/api/v1/lighting/what-if"]["post"]["requestBody"];
        assert_eq!(body["required"], true, "{body}");
        let what_if = &doc["components"]["schemas"]["WhatIfRequest"];
        assert_eq!(
            what_if["properties"]["lamps"]["maxItems"], 1000,
            "{what_if}"
        );
        assert_eq!(what_if["properties"]["lamps"]["minItems"], 1, "{what_if}");
        let limit = paths["/api/v1/lighting/stretches"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap()
            .clone();
        assert_eq!(limit["schema"]["maximum"], 20000, "{limit}");
    }
}
