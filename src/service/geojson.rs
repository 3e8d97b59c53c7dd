//! RFC 7946 GeoJSON answers as typed structs: EPSG:3006 geometry transformed to WGS84
//! `[lon, lat]` rounded to 7 decimals (about 1 cm), features with typed properties, collections
//! with a typed `meta` member. Serialised straight to bytes.

use geo::{LineString, MultiPolygon, Polygon};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ServiceError, ServiceResult};
use crate::crs;

/// `"FeatureCollection"`.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub enum CollectionType {
    #[default]
    FeatureCollection,
}

/// `"Feature"`.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub enum FeatureType {
    #[default]
    Feature,
}

/// A FeatureCollection with a `meta` member (what was asked, what was used, what was left out).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeatureCollection<F, M> {
    #[serde(rename = "type")]
    pub kind: CollectionType,
    pub features: Vec<F>,
    pub meta: M,
}

impl<F, M> FeatureCollection<F, M> {
    pub fn new(features: Vec<F>, meta: M) -> Self {
        Self {
            kind: CollectionType::FeatureCollection,
            features,
            meta,
        }
    }
}

/// A FeatureCollection without a `meta` member: one part of a larger answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Features<F> {
    #[serde(rename = "type")]
    pub kind: CollectionType,
    pub features: Vec<F>,
}

impl<F> Features<F> {
    pub fn new(features: Vec<F>) -> Self {
        Self {
            kind: CollectionType::FeatureCollection,
            features,
        }
    }
}

/// A Feature with typed properties.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Feature<P> {
    #[serde(rename = "type")]
    pub kind: FeatureType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub geometry: Geometry,
    pub properties: P,
}

impl<P> Feature<P> {
    pub fn new(geometry: Geometry, properties: P) -> Self {
        Self {
            kind: FeatureType::Feature,
            id: None,
            geometry,
            properties,
        }
    }

    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
}

/// A WGS84 position `[lon, lat]`.
pub type Position = [f64; 2];

/// A GeoJSON geometry in WGS84.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "coordinates")]
pub enum Geometry {
    Point(Position),
    LineString(Vec<Position>),
    Polygon(Vec<Vec<Position>>),
    MultiPolygon(Vec<Vec<Vec<Position>>>),
}

impl utoipa::PartialSchema for Geometry {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
        ObjectBuilder::new()
            .description(Some(
                "RFC 7946 geometry in WGS84: Point, LineString, Polygon or MultiPolygon",
            ))
            .property(
                "type",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["Point", "LineString", "Polygon", "MultiPolygon"])),
            )
            .required("type")
            .property(
                "coordinates",
                ArrayBuilder::new()
                    .description(Some("[lon, lat] positions, nested by the geometry type")),
            )
            .required("coordinates")
            .into()
    }
}

impl ToSchema for Geometry {}

impl Geometry {
    /// An EPSG:3006 point.
    pub fn point(p: [f64; 2]) -> ServiceResult<Self> {
        lonlat(p).map(Self::Point)
    }

    /// An EPSG:3006 line.
    pub fn line(l: &LineString<f64>) -> ServiceResult<Self> {
        positions(l.0.iter().map(|c| [c.x, c.y])).map(Self::LineString)
    }

    /// An EPSG:3006 polygon.
    pub fn polygon(p: &Polygon<f64>) -> ServiceResult<Self> {
        rings(p).map(Self::Polygon)
    }

    /// EPSG:3006 polygons, transformed in one pass (a grid's cells: one PROJ call for all
    /// their corners rather than one per cell). A corner several rings share (a grid's cells
    /// meet four at a corner, and every ring closes on its first corner) is transformed once:
    /// corners are the same when their bits are, so the answer is what transforming each would
    /// give, with a fifth to a quarter of the PROJ work for a grid.
    pub fn polygons(ps: &[Polygon<f64>]) -> ServiceResult<Vec<Self>> {
        use std::collections::HashMap;
        let corners: usize = ps
            .iter()
            .map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>())
            .sum();
        let mut unique: Vec<(f64, f64)> = Vec::with_capacity(corners / 3 + 8);
        let mut seen: HashMap<(u64, u64), u32, BitsHash> =
            HashMap::with_capacity_and_hasher(corners / 3 + 8, BitsHash);
        let mut refs: Vec<u32> = Vec::with_capacity(corners);
        for p in ps {
            for r in std::iter::once(p.exterior()).chain(p.interiors()) {
                for c in &r.0 {
                    let i = *seen
                        .entry((c.x.to_bits(), c.y.to_bits()))
                        .or_insert_with(|| {
                            unique.push((c.x, c.y));
                            (unique.len() - 1) as u32
                        });
                    refs.push(i);
                }
            }
        }
        crs::transform_in_place(crs::WORK_EPSG, crs::WGS84_EPSG, &mut unique)
            .map_err(ServiceError::internal)?;
        let lonlat: Vec<Position> = unique
            .into_iter()
            .map(|(lon, lat)| [crs::round7(lon), crs::round7(lat)])
            .collect();
        let mut at = refs.into_iter().map(|i| lonlat[i as usize]);
        Ok(ps
            .iter()
            .map(|p| {
                let rings = std::iter::once(p.exterior())
                    .chain(p.interiors())
                    .map(|r| at.by_ref().take(r.0.len()).collect())
                    .collect();
                Self::Polygon(rings)
            })
            .collect())
    }

    /// An EPSG:3006 multipolygon.
    pub fn multipolygon(m: &MultiPolygon<f64>) -> ServiceResult<Self> {
        m.iter()
            .map(rings)
            .collect::<ServiceResult<Vec<_>>>()
            .map(Self::MultiPolygon)
    }

    /// The axis-aligned EPSG:3006 square of side `side` around `centre` (a raster cell).
    pub fn square(centre: [f64; 2], side: f64) -> ServiceResult<Self> {
        let h = side / 2.0;
        let [x, y] = centre;
        positions([
            [x - h, y - h],
            [x + h, y - h],
            [x + h, y + h],
            [x - h, y + h],
            [x - h, y - h],
        ])
        .map(|r| Self::Polygon(vec![r]))
    }
}

/// Hashes a corner's two bit patterns with one multiply each (the corners of a grid are
/// regular, not adversarial: they come from the server's own cells and outlines).
#[derive(Clone, Copy, Default)]
struct BitsHash;

impl std::hash::BuildHasher for BitsHash {
    type Hasher = BitsHasher;
    fn build_hasher(&self) -> BitsHasher {
        BitsHasher(0)
    }
}

struct BitsHasher(u64);

impl std::hash::Hasher for BitsHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(29) ^ x).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// EPSG:3006 → `[lon, lat]`, rounded.
pub fn lonlat(p: [f64; 2]) -> ServiceResult<Position> {
    let (lon, lat) = crs::to_wgs84(p[0], p[1]).map_err(ServiceError::internal)?;
    Ok([crs::round7(lon), crs::round7(lat)])
}

/// EPSG:3006 positions → WGS84, in one PROJ call.
pub fn positions(pts: impl IntoIterator<Item = [f64; 2]>) -> ServiceResult<Vec<Position>> {
    let mut c: Vec<(f64, f64)> = pts.into_iter().map(|[x, y]| (x, y)).collect();
    crs::transform_in_place(crs::WORK_EPSG, crs::WGS84_EPSG, &mut c)
        .map_err(ServiceError::internal)?;
    Ok(c.into_iter()
        .map(|(lon, lat)| [crs::round7(lon), crs::round7(lat)])
        .collect())
}

fn rings(p: &Polygon<f64>) -> ServiceResult<Vec<Vec<Position>>> {
    std::iter::once(p.exterior())
        .chain(p.interiors())
        .map(|r| positions(r.0.iter().map(|c| [c.x, c.y])))
        .collect()
}

/// `v` rounded to `digits` decimals.
pub fn round_to(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polygons_in_one_pass_are_the_polygons_one_by_one() {
        use geo::{LineString, Polygon};
        let square = |x: f64, y: f64, s: f64| {
            LineString::from(vec![(x, y), (x + s, y), (x + s, y + s), (x, y + s), (x, y)])
        };
        let ps = vec![
            Polygon::new(square(674_000.0, 6_593_500.0, 100.0), vec![]),
            // One with a hole: its rings must not borrow each other's corners.
            Polygon::new(
                square(675_000.0, 6_594_000.0, 300.0),
                vec![square(675_100.0, 6_594_100.0, 50.0)],
            ),
            Polygon::new(square(600_000.0, 6_500_000.0, 1_000.0), vec![]),
        ];
        // And a block of grid cells, which share their corners.
        let grid = crate::analysis::hotspot::grid::Grid::new(
            crate::analysis::hotspot::grid::GridKind::Square,
            100.0,
        );
        let ps: Vec<Polygon<f64>> = ps
            .into_iter()
            .chain(
                (6740..6750)
                    .flat_map(|i| (65935..65940).map(move |j| (i, j)))
                    .map(|c| grid.polygon(c)),
            )
            .collect();
        let batch = Geometry::polygons(&ps).unwrap();
        let single: Vec<Geometry> = ps.iter().map(|p| Geometry::polygon(p).unwrap()).collect();
        assert_eq!(
            serde_json::to_value(&batch).unwrap(),
            serde_json::to_value(&single).unwrap()
        );
        assert!(matches!(&batch[1], Geometry::Polygon(r) if r.len() == 2 && r[1].len() == 5));
        assert!(Geometry::polygons(&[]).unwrap().is_empty());
    }

    #[test]
    fn geometry_serialises_as_rfc_7946() {
        // Täby centrum, EPSG:3006 (674 000, 6 593 500): the WGS84 position worked out with
        // PROJ's cs2cs (EPSG:3006 → EPSG:4326) to 7 decimals.
        let g = Geometry::point([674_000.0, 6_593_500.0]).unwrap();
        let v = serde_json::to_value(&g).unwrap();
        assert_eq!(v["type"], "Point");
        let [lon, lat] = [
            v["coordinates"][0].as_f64().unwrap(),
            v["coordinates"][1].as_f64().unwrap(),
        ];
        assert!(
            (lon - 18.0716).abs() < 0.01 && (lat - 59.4436).abs() < 0.01,
            "{lon} {lat}"
        );
        let sq = serde_json::to_value(Geometry::square([674_000.0, 6_593_500.0], 100.0).unwrap())
            .unwrap();
        assert_eq!(sq["type"], "Polygon");
        let ring = sq["coordinates"][0].as_array().unwrap();
        assert_eq!(ring.len(), 5);
        assert_eq!(ring[0], ring[4]);
        let f = Feature::new(g, serde_json::json!({"n": 1})).with_id("a");
        let fc = serde_json::to_value(FeatureCollection::new(vec![f], ())).unwrap();
        assert_eq!(fc["type"], "FeatureCollection");
        assert_eq!(fc["features"][0]["type"], "Feature");
        assert_eq!(fc["features"][0]["id"], "a");
        assert_eq!(fc["features"][0]["properties"]["n"], 1);
    }
}
