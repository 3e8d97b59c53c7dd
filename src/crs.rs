//! Coordinate reference systems.
//!
//! All metric work happens in SWEREF 99 TM (EPSG:3006). Input in any EPSG CRS is transformed with
//! PROJ on import; output to web clients is WGS84 (lon, lat). `proj::Proj` is not `Send`, so each
//! thread keeps its own transformers in a thread-local cache keyed by (source, target) EPSG code.
//!
//! Between two CRSs neither of which is WGS84, coordinates go through WGS84: PROJ picks a
//! transformation valid where both CRSs are used, and for, say, British National Grid to SWEREF 99
//! there is none, so a direct transformation silently ignores the datum shift (125 m in London).
//! Each CRS's own transformation to WGS84 is valid where its data lies.
//!
//! Axis order: transformers are normalised for visualisation, so geographic CRSs take and give
//! (longitude, latitude) and projected ones (easting, northing), whatever the EPSG definition says.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use geo::{BoundingRect, Coord, Intersects, MultiPolygon, Point, Rect};
use proj::Proj;

/// SWEREF 99 TM, the working CRS.
pub const WORK_EPSG: u32 = 3006;
/// WGS84 geographic.
pub const WGS84_EPSG: u32 = 4326;

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum CrsError {
    #[error("unknown or unsupported CRS EPSG:{0}: {1}")]
    UnknownCrs(u32, String),
    #[error("cannot transform ({x}, {y}) from EPSG:{from}: {reason}")]
    Transform {
        from: u32,
        x: f64,
        y: f64,
        reason: String,
    },
    #[error("CRS must be written EPSG:n, got {0:?}")]
    BadName(String),
}

/// Parses `EPSG:3006`, `epsg:3006`, `3006` or the OGC URN / CRS84 names GeoJSON files use.
pub fn parse_epsg(s: &str) -> Result<u32, CrsError> {
    let t = s.trim();
    let upper = t.to_ascii_uppercase();
    if upper.ends_with("CRS84") {
        return Ok(WGS84_EPSG);
    }
    let digits = upper
        .rsplit([':', '/'])
        .next()
        .filter(|_| upper.contains("EPSG") || upper.chars().all(|c| c.is_ascii_digit()))
        .unwrap_or("");
    digits
        .parse::<u32>()
        .map_err(|_| CrsError::BadName(t.to_string()))
}

thread_local! {
    static TRANSFORMERS: RefCell<HashMap<(u32, u32), Rc<Proj>>> = RefCell::new(HashMap::new());
}

fn transformer(from: u32, to: u32) -> Result<Rc<Proj>, CrsError> {
    TRANSFORMERS.with(|cell| {
        if let Some(p) = cell.borrow().get(&(from, to)) {
            return Ok(p.clone());
        }
        let from_s = format!("EPSG:{from}");
        let to_s = format!("EPSG:{to}");
        // PROJ finds proj.db through PROJ_DATA, or else where the bundled build installed it.
        let proj = Proj::new_known_crs(&from_s, &to_s, None).map_err(|e| {
            let bad = if from == WORK_EPSG || from == WGS84_EPSG {
                to
            } else {
                from
            };
            CrsError::UnknownCrs(bad, e.to_string())
        })?;
        let proj = Rc::new(proj);
        cell.borrow_mut().insert((from, to), proj.clone());
        Ok(proj)
    })
}

/// Checks that an EPSG code is known to PROJ and can be transformed to the working CRS.
pub fn check_epsg(epsg: u32) -> Result<(), CrsError> {
    if epsg == WORK_EPSG {
        return Ok(());
    }
    transformer(epsg, WORK_EPSG).map(|_| ())
}

/// Transforms one coordinate between two EPSG CRSs (geographic as lon, lat).
pub fn transform(from: u32, to: u32, x: f64, y: f64) -> Result<(f64, f64), CrsError> {
    if !x.is_finite() || !y.is_finite() {
        return Err(CrsError::Transform {
            from,
            x,
            y,
            reason: "coordinate is not a finite number".into(),
        });
    }
    if from == to {
        return Ok((x, y));
    }
    if from != WGS84_EPSG && to != WGS84_EPSG {
        let (lon, lat) = transform(from, WGS84_EPSG, x, y)?;
        return transform(WGS84_EPSG, to, lon, lat);
    }
    let t = transformer(from, to)?;
    let (ox, oy) = t.convert((x, y)).map_err(|e| CrsError::Transform {
        from,
        x,
        y,
        reason: e.to_string(),
    })?;
    if !ox.is_finite() || !oy.is_finite() {
        return Err(CrsError::Transform {
            from,
            x,
            y,
            reason: "outside the CRS's area of use".into(),
        });
    }
    Ok((ox, oy))
}

/// Into SWEREF 99 TM.
pub fn to_work(from: u32, x: f64, y: f64) -> Result<(f64, f64), CrsError> {
    transform(from, WORK_EPSG, x, y)
}

/// From SWEREF 99 TM to WGS84 (lon, lat), for output.
pub fn to_wgs84(x: f64, y: f64) -> Result<(f64, f64), CrsError> {
    transform(WORK_EPSG, WGS84_EPSG, x, y)
}

/// Transforms many coordinates in place (one PROJ call): the fast path for importers.
pub fn transform_in_place(from: u32, to: u32, coords: &mut [(f64, f64)]) -> Result<(), CrsError> {
    if from == to || coords.is_empty() {
        return Ok(());
    }
    if from != WGS84_EPSG && to != WGS84_EPSG {
        transform_in_place(from, WGS84_EPSG, coords)?;
        return transform_in_place(WGS84_EPSG, to, coords);
    }
    let t = transformer(from, to)?;
    if t.convert_array(coords).is_err() {
        // One bad point fails the whole array: fall back to one at a time so the caller can
        // tell which, marking failures as NaN.
        for c in coords.iter_mut() {
            *c = t.convert(*c).unwrap_or((f64::NAN, f64::NAN));
        }
    }
    Ok(())
}

/// Rounds WGS84 output to 7 decimals (about 1 cm): enough for any map, smaller responses.
pub fn round7(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}

/// Sweden in WGS84 `[west, south, east, north]`, the service area when none is configured.
pub const SWEDEN_WGS84: [f64; 4] = [10.5, 55.0, 24.2, 69.1];

/// Service-area outlines built into the binary, by name: GeoJSON in WGS84 from `data/service_areas/`
/// (see `data/README.md` for where each comes from).
pub const SERVICE_AREA_OUTLINES: &[(&str, &str)] =
    &[("taby", include_str!("../data/service_areas/taby.geojson"))];

/// Where data is accepted: coordinates outside are rejected line by line on import.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceArea {
    /// A rectangle in EPSG:3006.
    Rect(Rect<f64>),
    /// An outline in EPSG:3006 (a municipality's boundary), with its bounding box for a quick
    /// first test. Points on the boundary are inside.
    Outline {
        shape: MultiPolygon<f64>,
        bbox: Rect<f64>,
    },
    /// Anything the CRS can represent (for importing foreign test data).
    Unbounded,
}

impl ServiceArea {
    /// Sweden's extent in SWEREF 99 TM (EPSG's area of use of EPSG:3006), with a 20 km margin.
    pub fn sweden() -> Self {
        Self::Rect(Rect::new(
            Coord {
                x: 161_000.0,
                y: 6_080_000.0,
            },
            Coord {
                x: 925_000.0,
                y: 7_710_000.0,
            },
        ))
    }

    /// A WGS84 bounding box `[west, south, east, north]`, converted to EPSG:3006.
    pub fn from_wgs84_bbox(b: [f64; 4]) -> Result<Self, CrsError> {
        let corners = [(b[0], b[1]), (b[2], b[1]), (b[2], b[3]), (b[0], b[3])];
        let mut min = Coord {
            x: f64::INFINITY,
            y: f64::INFINITY,
        };
        let mut max = Coord {
            x: f64::NEG_INFINITY,
            y: f64::NEG_INFINITY,
        };
        for (lon, lat) in corners {
            let (x, y) = to_work(WGS84_EPSG, lon, lat)?;
            min.x = min.x.min(x);
            min.y = min.y.min(y);
            max.x = max.x.max(x);
            max.y = max.y.max(y);
        }
        Ok(Self::Rect(Rect::new(min, max)))
    }

    /// One of the [`SERVICE_AREA_OUTLINES`] by name (`taby`).
    pub fn outline(name: &str) -> Result<Self, String> {
        let (_, text) = SERVICE_AREA_OUTLINES
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| {
                let known: Vec<&str> = SERVICE_AREA_OUTLINES.iter().map(|(n, _)| *n).collect();
                format!("no service area {name:?}; built in: {}", known.join(", "))
            })?;
        let wgs84 = parse_outline(text).map_err(|e| format!("service area {name:?}: {e}"))?;
        Self::from_wgs84_outline(&wgs84).map_err(|e| format!("service area {name:?}: {e}"))
    }

    /// An outline in WGS84 (lon, lat), converted to EPSG:3006.
    pub fn from_wgs84_outline(wgs84: &MultiPolygon<f64>) -> Result<Self, CrsError> {
        let mut shape = wgs84.clone();
        for polygon in shape.0.iter_mut() {
            let mut rings = Vec::new();
            for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
                let mut coords: Vec<(f64, f64)> = ring.0.iter().map(|c| (c.x, c.y)).collect();
                transform_in_place(WGS84_EPSG, WORK_EPSG, &mut coords)?;
                if let Some(&(x, y)) = coords
                    .iter()
                    .find(|(x, y)| !x.is_finite() || !y.is_finite())
                {
                    return Err(CrsError::Transform {
                        from: WGS84_EPSG,
                        x,
                        y,
                        reason: "outside EPSG:3006".to_string(),
                    });
                }
                rings.push(geo::LineString::from(coords));
            }
            let exterior = rings.remove(0);
            *polygon = geo::Polygon::new(exterior, rings);
        }
        let bbox = shape.bounding_rect().ok_or_else(|| CrsError::Transform {
            from: WGS84_EPSG,
            x: f64::NAN,
            y: f64::NAN,
            reason: "an empty outline".to_string(),
        })?;
        Ok(Self::Outline { shape, bbox })
    }

    pub fn contains(&self, x: f64, y: f64) -> bool {
        match self {
            Self::Rect(r) => x >= r.min().x && x <= r.max().x && y >= r.min().y && y <= r.max().y,
            Self::Outline { shape, bbox } => {
                Self::Rect(*bbox).contains(x, y) && shape.intersects(&Point::new(x, y))
            }
            Self::Unbounded => x.is_finite() && y.is_finite(),
        }
    }
}

/// Reads a service-area outline: GeoJSON (a FeatureCollection, a Feature or a bare geometry) of
/// Polygons and MultiPolygons in WGS84, valid by OGC's rules (closed rings, none crossing itself
/// or another, holes inside their polygon), every vertex a longitude and latitude.
pub fn parse_outline(text: &str) -> Result<MultiPolygon<f64>, String> {
    use geo::Validation;
    let json: geojson::GeoJson = text.parse().map_err(|e| format!("not GeoJSON: {e}"))?;
    let geometries: Vec<geojson::Geometry> = match json {
        geojson::GeoJson::FeatureCollection(fc) => {
            fc.features.into_iter().filter_map(|f| f.geometry).collect()
        }
        geojson::GeoJson::Feature(f) => f.geometry.into_iter().collect(),
        geojson::GeoJson::Geometry(g) => vec![g],
    };
    let mut polygons = Vec::new();
    for g in geometries {
        match geo::Geometry::<f64>::try_from(&g.value).map_err(|e| e.to_string())? {
            geo::Geometry::Polygon(p) => polygons.push(p),
            geo::Geometry::MultiPolygon(mp) => polygons.extend(mp.0),
            other => {
                return Err(format!(
                    "a {} where a Polygon or MultiPolygon was expected",
                    geometry_kind(&other)
                ));
            }
        }
    }
    if polygons.is_empty() {
        return Err("no polygon".to_string());
    }
    let shape = MultiPolygon::new(polygons);
    let [w, s, e, n] = SWEDEN_WGS84;
    for c in shape.0.iter().flat_map(|p| {
        std::iter::once(p.exterior())
            .chain(p.interiors())
            .flat_map(|r| r.0.iter())
    }) {
        if !(c.x >= w && c.x <= e && c.y >= s && c.y <= n) {
            return Err(format!(
                "vertex ({}, {}) is not in Sweden (longitude first)",
                c.x, c.y
            ));
        }
    }
    if let Err(e) = shape.check_validation() {
        return Err(format!("invalid outline: {e}"));
    }
    Ok(shape)
}

fn geometry_kind(g: &geo::Geometry<f64>) -> &'static str {
    match g {
        geo::Geometry::Point(_) => "Point",
        geo::Geometry::MultiPoint(_) => "MultiPoint",
        geo::Geometry::LineString(_) | geo::Geometry::Line(_) => "LineString",
        geo::Geometry::MultiLineString(_) => "MultiLineString",
        geo::Geometry::GeometryCollection(_) => "GeometryCollection",
        _ => "geometry",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_taby_outline_is_valid_and_holds_taby_centrum() {
        let (_, text) = SERVICE_AREA_OUTLINES
            .iter()
            .find(|(n, _)| *n == "taby")
            .unwrap();
        let wgs84 = parse_outline(text).unwrap();
        assert_eq!(wgs84.0.len(), 1, "Täby is one polygon");
        let area = ServiceArea::outline("taby").unwrap();
        let inside = |lon: f64, lat: f64| {
            let (x, y) = to_work(WGS84_EPSG, lon, lat).unwrap();
            area.contains(x, y)
        };
        // Täby centrum, and the point Polisen gives for events in "Täby".
        assert!(inside(18.07, 59.44));
        assert!(inside(18.068703, 59.443913));
        // Its neighbours: Danderyd (Djursholm), Vallentuna centrum, and Stockholm's centre.
        assert!(!inside(18.09, 59.40));
        assert!(!inside(18.078, 59.534));
        assert!(!inside(18.0649, 59.3326));
        let ServiceArea::Outline { shape, .. } = &area else {
            panic!("{area:?}")
        };
        // Täby has about 60 km² of land; its boundary also takes in lakes and bays.
        use geo::Area;
        let km2 = shape.unsigned_area() / 1e6;
        assert!((60.0..80.0).contains(&km2), "{km2} km²");
    }

    #[test]
    fn bad_outlines_are_refused() {
        let poly = |ring: &str| {
            format!(
                r#"{{"type":"Feature","properties":{{}},"geometry":{{"type":"Polygon","coordinates":[{ring}]}}}}"#
            )
        };
        let good = poly("[[18.0,59.4],[18.1,59.4],[18.1,59.5],[18.0,59.5],[18.0,59.4]]");
        assert!(parse_outline(&good).is_ok());
        for (bad, why) in [
            (
                poly("[[18.0,59.4],[18.1,59.5],[18.1,59.4],[18.0,59.5],[18.0,59.4]]"),
                "a bow tie",
            ),
            (
                poly("[[59.4,18.0],[59.4,18.1],[59.5,18.1],[59.5,18.0],[59.4,18.0]]"),
                "lat before lon",
            ),
            (
                r#"{"type":"Point","coordinates":[18.0,59.4]}"#.to_string(),
                "a point",
            ),
            (
                r#"{"type":"FeatureCollection","features":[]}"#.to_string(),
                "nothing",
            ),
            ("Täby".to_string(), "not JSON"),
        ] {
            assert!(parse_outline(&bad).is_err(), "{why}: accepted");
        }
        assert!(ServiceArea::outline("atlantis").is_err());
    }

    #[test]
    fn parses_crs_names() {
        assert_eq!(parse_epsg("EPSG:3006"), Ok(3006));
        assert_eq!(parse_epsg("epsg:3011"), Ok(3011));
        assert_eq!(parse_epsg("4326"), Ok(4326));
        assert_eq!(parse_epsg("urn:ogc:def:crs:OGC:1.3:CRS84"), Ok(4326));
        assert_eq!(parse_epsg("urn:ogc:def:crs:EPSG::3006"), Ok(3006));
        assert!(parse_epsg("SWEREF").is_err());
    }

    #[test]
    fn wgs84_to_sweref99tm_matches_the_design_reference() {
        // DESIGN.md: (18.0686 E, 59.4439 N) is (673 983.50, 6 593 495.74) in EPSG:3006.
        let (x, y) = to_work(4326, 18.0686, 59.4439).unwrap();
        assert!((x - 673_983.50).abs() < 0.01, "x = {x}");
        assert!((y - 6_593_495.74).abs() < 0.01, "y = {y}");
    }

    #[test]
    fn sweref99_18_00_round_trip_and_central_meridian() {
        // On the zone's central meridian (18° E) SWEREF 99 18 00 has its false easting, 150 000.
        let (e, _) = transform(4326, 3011, 18.0, 59.0).unwrap();
        assert!((e - 150_000.0).abs() < 0.001, "easting {e}");
        // The same datum: 3011 → 3006 equals 4326 → 3006 for the same point.
        let (x11, y11) = transform(4326, 3011, 18.0686, 59.4439).unwrap();
        let via_3011 = to_work(3011, x11, y11).unwrap();
        let direct = to_work(4326, 18.0686, 59.4439).unwrap();
        assert!((via_3011.0 - direct.0).abs() < 0.01 && (via_3011.1 - direct.1).abs() < 0.01);
        // And back again.
        let (bx, by) = transform(3006, 3011, direct.0, direct.1).unwrap();
        assert!((bx - x11).abs() < 0.001 && (by - y11).abs() < 0.001);
        let (lon, lat) = to_wgs84(direct.0, direct.1).unwrap();
        assert!((lon - 18.0686).abs() < 1e-8 && (lat - 59.4439).abs() < 1e-8);
    }

    #[test]
    fn british_national_grid_round_trip() {
        // Camden lamp register row 1: Easting 524803, Northing 185110 is lon -0.201358,
        // lat 51.551088 in the register's own WGS84 columns (6 decimals, about 0.1 m). The
        // OSGB36 datum shift without a grid is good to a few metres.
        let (lon, lat) = transform(27700, 4326, 524_803.0, 185_110.0).unwrap();
        let dx = (lon - -0.201358) * 111_320.0 * (51.551088f64).to_radians().cos();
        let dy = (lat - 51.551088) * 110_574.0;
        assert!(dx.hypot(dy) < 5.0, "{} m apart", dx.hypot(dy));
        let (e, n) = transform(4326, 27700, lon, lat).unwrap();
        assert!((e - 524_803.0).abs() < 0.001 && (n - 185_110.0).abs() < 0.001);
    }

    #[test]
    fn british_grid_to_sweref_keeps_the_datum_shift() {
        let direct = to_work(27700, 524_803.0, 185_110.0).unwrap();
        let via_register = to_work(4326, -0.201358, 51.551088).unwrap();
        let d = (direct.0 - via_register.0).hypot(direct.1 - via_register.1);
        assert!(d < 5.0, "{d} m");
    }

    #[test]
    fn unknown_crs_is_an_error() {
        assert!(matches!(
            check_epsg(999_999),
            Err(CrsError::UnknownCrs(999_999, _))
        ));
    }
}
