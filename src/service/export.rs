//! The current picture as GeoPackage layers ([`crate::gpkg`]), in EPSG:3006: walkways with
//! their class, lamps with their modelled status, the stretches (dark, unknown and lit) with
//! their light, priority and reasons, districts, public citizen reports (no contact fields, hidden texts left out)
//! and, only when asked, the incidents.

use crate::analysis::lighting::{LightingInputs, LightingResult};
use crate::gpkg::{ColumnType as T, Geom, Layer, Value};
use crate::spatial::Snapshot;

/// The layers of the picture; `incidents` adds the point-level incidents (police data).
pub fn layers(snap: &Snapshot, result: &LightingResult, incidents: bool) -> Vec<Layer> {
    let inputs = LightingInputs::from_snapshot(snap);
    let text = |s: &str| Value::Text(s.to_string());
    let walkways = Layer {
        name: "walkways",
        description: "Gång- och cykelvägar (OpenStreetMap) med belysningsklass enligt EN 13201"
            .into(),
        geometry_type: "LINESTRING",
        columns: vec![
            ("osm_id", T::Integer),
            ("name", T::Text),
            ("kind", T::Text),
            ("lit_tag", T::Text),
            ("class", T::Text),
        ],
        rows: inputs
            .walkways
            .iter()
            .enumerate()
            .map(|(i, w)| {
                (
                    Geom::LineString(w.geometry.clone()),
                    vec![
                        Value::Int(w.id),
                        w.name.clone().into(),
                        text(&w.kind),
                        w.lit.clone().into(),
                        text(result.profiles[i].class.as_str()),
                    ],
                )
            })
            .collect(),
    };
    let lamps = Layer {
        name: "lamps",
        description: "Gatubelysning med modellerad status (trasig enligt register eller anmälan)"
            .into(),
        geometry_type: "POINT",
        columns: vec![
            ("lamp_id", T::Text),
            ("status", T::Text),
            ("height_m", T::Real),
            ("lumen", T::Real),
            ("source", T::Text),
            ("reference", T::Text),
        ],
        rows: inputs
            .lamps
            .iter()
            .zip(&result.lamps)
            .map(|(l, m)| {
                (
                    Geom::Point(l.location),
                    vec![
                        text(&l.id),
                        text(if m.is_on() { "working" } else { "broken" }),
                        Value::Real(m.height_m),
                        Value::Real(m.lumen),
                        text(&l.source),
                        l.reference.clone().into(),
                    ],
                )
            })
            .collect(),
    };
    let stretches = Layer {
        name: "stretches",
        description:
            "Sträckor med beräknad belysning (mörka, okända och belysta), prioritet och skäl".into(),
        geometry_type: "LINESTRING",
        columns: vec![
            ("stretch_id", T::Text),
            ("walkway_id", T::Integer),
            ("state", T::Text),
            ("class", T::Text),
            ("length_m", T::Real),
            ("mean_lux", T::Real),
            ("min_lux", T::Real),
            ("gap_m", T::Real),
            ("reports", T::Integer),
            ("incidents_after_dark", T::Integer),
            ("priority", T::Real),
            ("rank", T::Integer),
            ("reasons", T::Text),
        ],
        rows: result
            .stretches
            .iter()
            .map(|s| {
                (
                    Geom::LineString(s.geometry.clone()),
                    vec![
                        text(&s.id),
                        Value::Int(s.walkway_id),
                        text(s.state.as_str()),
                        text(s.class.as_str()),
                        Value::Real(s.length_m),
                        s.mean_lux.into(),
                        s.min_lux.into(),
                        s.gap_m.into(),
                        Value::Int(s.report_ids.len() as i64),
                        Value::Int(s.incidents_after_dark as i64),
                        Value::Real(s.priority),
                        s.rank.map_or(Value::Null, |r| Value::Int(r as i64)),
                        text(&s.reasons.join("; ")),
                    ],
                )
            })
            .collect(),
    };
    let areas = Layer {
        name: "districts",
        description: "Områden".into(),
        geometry_type: "MULTIPOLYGON",
        columns: vec![("name", T::Text), ("source", T::Text)],
        rows: snap
            .areas
            .items
            .iter()
            .map(|a| {
                (
                    Geom::MultiPolygon(a.geometry.clone()),
                    vec![text(&a.name), text(&a.source)],
                )
            })
            .collect(),
    };
    let reports = Layer {
        name: "citizen_reports",
        description: "Medborgarrapporter (utan kontaktuppgifter)".into(),
        geometry_type: "POINT",
        columns: vec![
            ("report_id", T::Integer),
            ("service", T::Text),
            ("status", T::Text),
            ("description", T::Text),
            ("walkway_id", T::Integer),
            ("lamp_id", T::Text),
            ("requested_at", T::Text),
            ("updated_at", T::Text),
        ],
        rows: snap
            .reports
            .items
            .iter()
            .filter(|r| r.merged_into.is_none())
            .map(|r| {
                (
                    Geom::Point(r.location),
                    vec![
                        Value::Int(r.id),
                        text(r.service.as_str()),
                        text(r.status.as_str()),
                        if r.hidden {
                            Value::Null
                        } else {
                            text(&r.description)
                        },
                        r.walkway_id.map_or(Value::Null, Value::Int),
                        r.lamp_id.clone().into(),
                        text(&crate::service::datetime(r.requested_at)),
                        text(&crate::service::datetime(r.updated_at)),
                    ],
                )
            })
            .collect(),
    };
    let mut out = vec![walkways, lamps, stretches, areas, reports];
    if incidents {
        out.push(Layer {
            name: "incidents",
            description: "Händelser med känd plats (polisens och registrens)".into(),
            geometry_type: "POINT",
            columns: vec![
                ("source", T::Text),
                ("source_id", T::Text),
                ("category", T::Text),
                ("label", T::Text),
                ("occurred_at", T::Text),
                ("time_precision", T::Text),
                ("occurred_to", T::Text),
                ("precision", T::Text),
            ],
            rows: snap
                .incidents
                .items
                .iter()
                .filter(|i| i.precision.is_point_level())
                .map(|i| {
                    (
                        Geom::Point(i.location),
                        vec![
                            text(&i.source),
                            text(&i.source_id),
                            text(&i.category),
                            text(&i.label),
                            text(&i.occurred_at.to_rfc3339()),
                            text(i.time_precision.as_str()),
                            i.occurred_to.map(|t| t.to_rfc3339()).into(),
                            text(i.precision.as_str()),
                        ],
                    )
                })
                .collect(),
        });
    }
    out
}
