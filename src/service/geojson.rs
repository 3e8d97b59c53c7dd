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

/// Grid cells as GeoJSON polygon Features, held flat: each cell's ring of WGS84 corners
/// (closed, `ring` corners long) in one vector, its properties in another, with no allocation
/// per cell; [`WrittenInLots`] writes them straight from here. Serialised, they are what the
/// same cells as a `Vec<Feature<P>>` give.
#[derive(Debug, Clone, PartialEq)]
pub struct CellFeatures<P> {
    ring: usize,
    corners: Vec<Position>,
    props: Vec<P>,
}

impl<P> Default for CellFeatures<P> {
    fn default() -> Self {
        Self {
            ring: 0,
            corners: Vec::new(),
            props: Vec::new(),
        }
    }
}

impl<P> CellFeatures<P> {
    /// Cells of `ring` corners each, from lots of (corners, properties) in order.
    pub fn from_lots(ring: usize, lots: Vec<(Vec<Position>, Vec<P>)>) -> Self {
        let cells: usize = lots.iter().map(|l| l.1.len()).sum();
        let mut out = Self {
            ring,
            corners: Vec::with_capacity(cells * ring),
            props: Vec::with_capacity(cells),
        };
        for (corners, props) in lots {
            assert_eq!(corners.len(), props.len() * ring, "a ring per cell");
            out.corners.extend(corners);
            out.props.extend(props);
        }
        out
    }

    pub fn len(&self) -> usize {
        self.props.len()
    }

    pub fn is_empty(&self) -> bool {
        self.props.is_empty()
    }

    /// Cell `i`'s ring.
    pub fn ring(&self, i: usize) -> &[Position] {
        &self.corners[i * self.ring..(i + 1) * self.ring]
    }

    /// Each cell's ring and properties.
    pub fn iter(&self) -> impl Iterator<Item = (&[Position], &P)> {
        (0..self.len()).map(|i| (self.ring(i), &self.props[i]))
    }

    /// As Features (for answers that take the cells apart, as OGC API items do).
    pub fn into_features(self) -> Vec<Feature<P>> {
        let ring = self.ring;
        let mut corners = self.corners.into_iter();
        self.props
            .into_iter()
            .map(|p| {
                let r: Vec<Position> = corners.by_ref().take(ring).collect();
                Feature::new(Geometry::Polygon(vec![r]), p)
            })
            .collect()
    }
}

/// One cell as a Feature, borrowed: `{"type":"Feature","geometry":{"type":"Polygon",
/// "coordinates":[ring]},"properties":…}`, as `Feature::new(Geometry::Polygon(..), p)`.
struct CellFeature<'a, P>(&'a [Position], &'a P);

impl<P: Serialize> Serialize for CellFeature<'_, P> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Polygon<'a>(&'a [Position]);
        impl Serialize for Polygon<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut g = s.serialize_struct("Geometry", 2)?;
                g.serialize_field("type", "Polygon")?;
                g.serialize_field("coordinates", &[self.0])?;
                g.end()
            }
        }
        let mut f = s.serialize_struct("Feature", 3)?;
        f.serialize_field("type", &FeatureType::Feature)?;
        f.serialize_field("geometry", &Polygon(self.0))?;
        f.serialize_field("properties", self.1)?;
        f.end()
    }
}

impl<P: Serialize> Serialize for CellFeatures<P> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(|(r, p)| CellFeature(r, p)))
    }
}

/// A FeatureCollection of grid cells with a `meta` member: serialised like
/// [`FeatureCollection`] of the same features.
#[derive(Debug, Clone, Serialize)]
pub struct CellCollection<P, M> {
    #[serde(rename = "type")]
    pub kind: CollectionType,
    pub features: CellFeatures<P>,
    pub meta: M,
}

impl<P, M> CellCollection<P, M> {
    pub fn new(features: CellFeatures<P>, meta: M) -> Self {
        Self {
            kind: CollectionType::FeatureCollection,
            features,
            meta,
        }
    }
}

/// A FeatureCollection whose features can be written a range at a time, so that large ones
/// are written in parallel lots and joined (`api::cache::Cached::serialise_collection`): the
/// joined bytes are what serde writes of the whole collection.
pub trait WrittenInLots: Sync {
    type Meta: Serialize;
    fn meta(&self) -> &Self::Meta;
    fn feature_count(&self) -> usize;
    /// Features `range` as compact JSON, separated by commas.
    fn write_features<W: std::io::Write>(
        &self,
        range: std::ops::Range<usize>,
        w: &mut W,
    ) -> serde_json::Result<()>;
}

impl<F: Serialize + Sync, M: Serialize + Sync> WrittenInLots for FeatureCollection<F, M> {
    type Meta = M;
    fn meta(&self) -> &M {
        &self.meta
    }
    fn feature_count(&self) -> usize {
        self.features.len()
    }
    fn write_features<W: std::io::Write>(
        &self,
        range: std::ops::Range<usize>,
        w: &mut W,
    ) -> serde_json::Result<()> {
        for (i, f) in self.features[range].iter().enumerate() {
            if i > 0 {
                w.write_all(b",").map_err(serde_json::Error::io)?;
            }
            serde_json::to_writer(&mut *w, f)?;
        }
        Ok(())
    }
}

/// A cell's properties as JSON in a [`CellCollection`]: as serde_json writes them, unless a
/// type of many cells writes itself by hand, byte for byte the same (its test says so).
pub trait CellProps: Serialize {
    fn write_json(&self, buf: &mut Vec<u8>) -> serde_json::Result<()> {
        serde_json::to_writer(buf, self)
    }
}

/// Appends `v` as serde_json writes an f64: its shortest digits, `null` when not finite.
pub fn write_f64(buf: &mut Vec<u8>, v: f64) {
    use serde_json::ser::Formatter;
    let mut f = serde_json::ser::CompactFormatter;
    let written = if v.is_finite() {
        f.write_f64(buf, v)
    } else {
        f.write_null(buf)
    };
    written.expect("a Vec takes every write");
}

impl<P: CellProps + Sync, M: Serialize + Sync> WrittenInLots for CellCollection<P, M> {
    type Meta = M;
    fn meta(&self) -> &M {
        &self.meta
    }
    fn feature_count(&self) -> usize {
        self.features.len()
    }
    /// Written by hand rather than through serde's struct machinery: the literal parts as
    /// bytes, the corners with [`write_coordinate`], the properties with
    /// [`CellProps::write_json`].
    fn write_features<W: std::io::Write>(
        &self,
        range: std::ops::Range<usize>,
        w: &mut W,
    ) -> serde_json::Result<()> {
        let mut buf: Vec<u8> = Vec::with_capacity(512);
        for i in range.clone() {
            buf.clear();
            if i > range.start {
                buf.push(b',');
            }
            buf.extend_from_slice(
                br#"{"type":"Feature","geometry":{"type":"Polygon","coordinates":[["#,
            );
            for (k, [lon, lat]) in self.features.ring(i).iter().enumerate() {
                if k > 0 {
                    buf.push(b',');
                }
                buf.push(b'[');
                write_coordinate(&mut buf, *lon);
                buf.push(b',');
                write_coordinate(&mut buf, *lat);
                buf.push(b']');
            }
            buf.extend_from_slice(br#"]]},"properties":"#);
            self.features.props[i].write_json(&mut buf)?;
            buf.push(b'}');
            w.write_all(&buf).map_err(serde_json::Error::io)?;
        }
        Ok(())
    }
}

/// Appends `x` as serde_json writes it (the shortest digits that read back as `x`). A
/// coordinate rounded to 7 decimals ([`crs::round7`]) between 1 and 10⁸ in magnitude is the
/// decimal k·10⁻⁷ it was rounded to: no other decimal of 7 or fewer places lies within the
/// half unit in the last place around it, and none with more places is shorter. So its digits
/// are k's, written with integer arithmetic, trailing zeros dropped (and `.0` kept for a whole
/// number, as serde_json has it). Anything else goes to serde_json.
pub fn write_coordinate(buf: &mut Vec<u8>, x: f64) {
    let a = x.abs();
    if (1.0..1e8).contains(&a) {
        // k = round(a·10⁷), half away from zero as f64::round, without libm's call (the
        // baseline x86-64 target has no instruction for it): a·10⁷ < 10¹⁵ < 2⁵², so its
        // fraction (it minus its integer part) is exact, and so is k as an f64.
        let v = a * 1e7;
        let t = v as u64;
        let k = if v - t as f64 >= 0.5 { t + 1 } else { t };
        if k as f64 / 1e7 == a {
            // Written right to left into one buffer and appended at once: the fraction's
            // digits without its trailing zeros (`0` for none), the point, the whole part's
            // digits, the sign.
            let mut out = [0u8; 24];
            let mut at = out.len();
            let (mut whole, mut frac) = (k / 10_000_000, k % 10_000_000);
            let mut places = 7;
            if frac == 0 {
                places = 1;
            } else {
                while frac % 10 == 0 {
                    frac /= 10;
                    places -= 1;
                }
            }
            for _ in 0..places {
                at -= 1;
                out[at] = b'0' + (frac % 10) as u8;
                frac /= 10;
            }
            at -= 1;
            out[at] = b'.';
            loop {
                at -= 1;
                out[at] = b'0' + (whole % 10) as u8;
                whole /= 10;
                if whole == 0 {
                    break;
                }
            }
            if x < 0.0 {
                at -= 1;
                out[at] = b'-';
            }
            buf.extend_from_slice(&out[at..]);
            return;
        }
    }
    serde_json::to_writer(&mut *buf, &x).expect("a Vec takes every write");
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

    /// EPSG:3006 polygons, transformed in one pass, a corner several rings share once
    /// ([`positions_shared`]).
    pub fn polygons(ps: &[Polygon<f64>]) -> ServiceResult<Vec<Self>> {
        let corners: Vec<[f64; 2]> = ps
            .iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .flat_map(|r| r.0.iter().map(|c| [c.x, c.y]))
            .collect();
        let mut at = positions_shared(&corners)?.into_iter();
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

/// EPSG:3006 corners → WGS84, rounded, each distinct corner transformed once: corners are
/// the same when their bits are, so the answer is what transforming each would give. A grid's
/// cells meet four at a corner and every ring closes on its first corner, so this is a fifth
/// to a quarter of the PROJ work for a grid.
pub fn positions_shared(corners: &[[f64; 2]]) -> ServiceResult<Vec<Position>> {
    use std::collections::HashMap;
    let mut unique: Vec<(f64, f64)> = Vec::with_capacity(corners.len() / 3 + 8);
    let mut seen: HashMap<(u64, u64), u32, BitsHash> =
        HashMap::with_capacity_and_hasher(corners.len() / 3 + 8, BitsHash);
    let refs: Vec<u32> = corners
        .iter()
        .map(|&[x, y]| {
            *seen.entry((x.to_bits(), y.to_bits())).or_insert_with(|| {
                unique.push((x, y));
                (unique.len() - 1) as u32
            })
        })
        .collect();
    crs::transform_in_place(crs::WORK_EPSG, crs::WGS84_EPSG, &mut unique)
        .map_err(ServiceError::internal)?;
    let lonlat: Vec<Position> = unique
        .into_iter()
        .map(|(lon, lat)| [crs::round7(lon), crs::round7(lat)])
        .collect();
    Ok(refs.into_iter().map(|i| lonlat[i as usize]).collect())
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
    fn coordinates_are_written_as_serde_json_writes_them() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut next = || rng.random::<f64>();
        let mut values: Vec<f64> = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            18.0,
            59.0,
            180.0,
            -180.0,
            0.999_999_9,
            1.000_000_1,
            9.999_999_9,
            10.0,
            99.999_999_9,
            0.1,
            0.000_000_1,
            1e-7,
            999_999_999.999_999_9,
            1e9,
            123_456_789.123_456_7,
            17.123_456_789,
            f64::NAN,
            f64::INFINITY,
            f64::MIN_POSITIVE,
            5e-324,
            1e300,
        ];
        for _ in 0..200_000 {
            let v = (next() - 0.5) * 360.0;
            values.push(crate::crs::round7(v));
            values.push(v);
            values.push(crate::crs::round7(55.0 + next() * 15.0));
            // Few places, so that trailing zeros are dropped.
            values.push((v * 100.0).round() / 100.0);
            values.push(crate::crs::round7(next() * 1e8));
            // Beyond 2⁵³·10⁻⁷ (9·10⁸), where k·10⁻⁷ is not always the shortest decimal.
            values.push(crate::crs::round7(1e8 + next() * 1.9e9));
            // Half a unit of the 7th place either side, where rounding turns.
            let half = ((next() * 1e9).floor() + 0.5) / 1e7 + 1.0;
            values.extend([half, half.next_up(), half.next_down(), -half]);
        }
        for v in values {
            let mut buf = Vec::new();
            write_coordinate(&mut buf, v);
            assert_eq!(
                String::from_utf8(buf).unwrap(),
                serde_json::to_string(&v).unwrap(),
                "{v:e}"
            );
        }
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
