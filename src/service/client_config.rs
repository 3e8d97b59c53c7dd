//! What the web app needs to start (`GET /api/v1/config`): the base map, the public threshold,
//! where to look, the districts and the categories' Swedish names. Everything here is public.

use std::collections::BTreeMap;

use geo::BoundingRect;
use serde::Serialize;
use utoipa::ToSchema;

use crate::config::Config;
use crate::crs::{self, SWEDEN_WGS84};
use crate::spatial::Snapshot;

/// The web app's start-up configuration.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClientConfig {
    /// The base map's tile URL template (`{z}/{x}/{y}`).
    pub tile_url: String,
    /// The base map's attribution, as text.
    pub tile_attribution: String,
    /// The data is the fictitious demo dataset.
    pub demo: bool,
    /// The public product's k: counts below it are never shown to the public.
    pub min_public_count: u32,
    /// Where the map starts: `[west, south, east, north]`, WGS84 (Sweden when not configured).
    #[schema(value_type = Vec<f64>)]
    pub service_area_wgs84: [f64; 4],
    /// The default EN 13201 P-class of the lighting analysis.
    pub lighting_class: String,
    pub districts: Vec<District>,
    /// Category code → Swedish name.
    pub categories: BTreeMap<&'static str, String>,
}

/// A district as the app lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct District {
    pub id: i64,
    pub name: String,
    /// `[west, south, east, north]`, WGS84; null for an empty geometry.
    #[schema(value_type = Option<Vec<f64>>)]
    pub bbox: Option<[f64; 4]>,
}

/// The configuration the app gets for `snap`.
pub fn client_config(snap: &Snapshot, cfg: &Config) -> ClientConfig {
    let districts = snap
        .areas
        .items
        .iter()
        .map(|a| District {
            id: a.id,
            name: a.name.clone(),
            bbox: a.geometry.bounding_rect().and_then(|r| {
                let (w, s) = crs::to_wgs84(r.min().x, r.min().y).ok()?;
                let (e, n) = crs::to_wgs84(r.max().x, r.max().y).ok()?;
                Some([
                    crs::round7(w),
                    crs::round7(s),
                    crs::round7(e),
                    crs::round7(n),
                ])
            }),
        })
        .collect();
    ClientConfig {
        tile_url: cfg.tile_url.clone(),
        tile_attribution: cfg.tile_attribution.clone(),
        demo: snap.demo,
        min_public_count: cfg.min_public_count,
        service_area_wgs84: cfg.service_area.unwrap_or(SWEDEN_WGS84),
        lighting_class: cfg.lighting_class.clone(),
        districts,
        categories: crate::category::labels_sv().into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Area;
    use geo::{MultiPolygon, Rect, coord};

    #[test]
    fn districts_carry_their_wgs84_box_and_categories_their_names() {
        let mut snap = Snapshot::empty();
        // A 1 km square in EPSG:3006 around (674 000, 6 593 500), which is about 18.07 E,
        // 59.44 N (service::geojson's test): at that latitude 1 km is 0.0176° of longitude
        // (1 / (111.32 km × cos 59.44°)) and 0.0090° of latitude (1 / 111.13 km); the grid is
        // turned by the meridian convergence (about 2.6° here), which widens the box by about
        // 1000 m × sin 2.6° = 45 m each way.
        let r = Rect::new(
            coord! { x: 673_500.0, y: 6_593_000.0 },
            coord! { x: 674_500.0, y: 6_594_000.0 },
        );
        snap.areas = std::sync::Arc::new(crate::spatial::AreaLayer::new(vec![Area {
            id: 7,
            name: "Centrum".into(),
            geometry: MultiPolygon(vec![r.to_polygon()]),
            source: "t".into(),
        }]));
        let cfg = Config::default();
        let c = client_config(&snap, &cfg);
        assert_eq!(c.service_area_wgs84, SWEDEN_WGS84);
        assert_eq!(c.districts.len(), 1);
        let [w, s, e, n] = c.districts[0].bbox.unwrap();
        assert!((e - w - 0.0176).abs() < 0.0176 * 0.06, "{w} {e}");
        assert!((n - s - 0.0090).abs() < 0.0090 * 0.06, "{s} {n}");
        assert!(((w + e) / 2.0 - 18.07).abs() < 0.01 && ((s + n) / 2.0 - 59.44).abs() < 0.01);
        assert_eq!(c.min_public_count, cfg.min_public_count);
        // Every code Polisen's table maps to has a Swedish name.
        assert_eq!(
            c.categories.get("assault").map(String::as_str),
            Some("Misshandel")
        );
    }
}
