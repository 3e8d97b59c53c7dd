//! The layers as OGC API – Features collections (Part 1: core and GeoJSON; Part 2: CRS by
//! reference), served by [`crate::api::ogc`].
//!
//! A collection is built once per snapshot version and view from the same service answers the
//! GeoJSON endpoints give (so the same privacy rules: the public's stretches, k-suppressed
//! Gi\* cells, reports without contact fields and without the text of hidden ones), and kept as
//! items in CRS84 with their envelopes in an R-tree. A page selects by `bbox` (envelope, then
//! the geometry itself) and `datetime`, skips `offset`, takes `limit`, and only then transforms
//! the page's positions to the asked CRS in one PROJ call.
//!
//! Axis order follows each CRS's definition, as Part 2 requires: CRS84 is longitude, latitude;
//! EPSG:4326 latitude, longitude; EPSG:3006 northing, easting. Degrees are given to 7 decimals,
//! metres to 2; positions in EPSG:3006 come from the CRS84 items (rounded to 1e-7°, about a
//! centimetre), not from the stored coordinates.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use serde::Serialize;

use super::filter::FilterParams;
use super::geojson::Geometry;
use super::hotspots::{HotspotAnswer, IncidentProps, Method, MethodParams};
use super::lighting::{self, AreaFilter, StretchFilter};
use super::measures::MeasureView;
use super::open311::Request;
use super::{ServiceError, ServiceResult, Viewer};
use crate::analysis::cancel::Cancel;
use crate::analysis::lighting::{LightState, LightingResult};
use crate::analysis::privacy::PublicRules;
use crate::crs;
use crate::model::Role;
use crate::spatial::SnapIncident;
use crate::spatial::Snapshot;

/// A WGS84 position, longitude first.
pub type Pos = [f64; 2];

/// An item's geometry in CRS84 (no geometry for a measure without points).
#[derive(Debug, Clone, PartialEq)]
pub enum Geom {
    Point(Pos),
    MultiPoint(Vec<Pos>),
    LineString(Vec<Pos>),
    Polygon(Vec<Vec<Pos>>),
    MultiPolygon(Vec<Vec<Vec<Pos>>>),
    Null,
}

impl From<Geometry> for Geom {
    fn from(g: Geometry) -> Self {
        match g {
            Geometry::Point(p) => Self::Point(p),
            Geometry::LineString(l) => Self::LineString(l),
            Geometry::Polygon(p) => Self::Polygon(p),
            Geometry::MultiPolygon(m) => Self::MultiPolygon(m),
        }
    }
}

impl Geom {
    fn positions(&self) -> Box<dyn Iterator<Item = &Pos> + '_> {
        match self {
            Self::Point(p) => Box::new(std::iter::once(p)),
            Self::MultiPoint(v) | Self::LineString(v) => Box::new(v.iter()),
            Self::Polygon(r) => Box::new(r.iter().flatten()),
            Self::MultiPolygon(m) => Box::new(m.iter().flatten().flatten()),
            Self::Null => Box::new(std::iter::empty()),
        }
    }

    fn positions_mut(&mut self) -> Box<dyn Iterator<Item = &mut Pos> + '_> {
        match self {
            Self::Point(p) => Box::new(std::iter::once(p)),
            Self::MultiPoint(v) | Self::LineString(v) => Box::new(v.iter_mut()),
            Self::Polygon(r) => Box::new(r.iter_mut().flatten()),
            Self::MultiPolygon(m) => Box::new(m.iter_mut().flatten().flatten()),
            Self::Null => Box::new(std::iter::empty()),
        }
    }

    /// `[min x, min y, max x, max y]` of the positions, in their own order.
    pub fn envelope(&self) -> Option<[f64; 4]> {
        let mut it = self.positions();
        let first = it.next()?;
        let mut b = [first[0], first[1], first[0], first[1]];
        for p in it {
            b[0] = b[0].min(p[0]);
            b[1] = b[1].min(p[1]);
            b[2] = b[2].max(p[0]);
            b[3] = b[3].max(p[1]);
        }
        Some(b)
    }

    /// The geometry as `geo` would test it (x, y as the positions are).
    fn to_geo(&self) -> Option<geo::Geometry<f64>> {
        use geo::{Coord, LineString, MultiPoint, MultiPolygon, Point, Polygon};
        let line = |v: &[Pos]| {
            LineString::from(
                v.iter()
                    .map(|p| Coord { x: p[0], y: p[1] })
                    .collect::<Vec<_>>(),
            )
        };
        let poly = |r: &[Vec<Pos>]| {
            let mut rings = r.iter().map(|x| line(x));
            Polygon::new(rings.next().unwrap_or_else(|| line(&[])), rings.collect())
        };
        Some(match self {
            Self::Point(p) => Point::new(p[0], p[1]).into(),
            Self::MultiPoint(v) => {
                MultiPoint::from(v.iter().map(|p| Point::new(p[0], p[1])).collect::<Vec<_>>())
                    .into()
            }
            Self::LineString(v) => line(v).into(),
            Self::Polygon(r) => poly(r).into(),
            Self::MultiPolygon(m) => MultiPolygon::new(m.iter().map(|r| poly(r)).collect()).into(),
            Self::Null => return None,
        })
    }

    /// Whether the geometry meets the rectangle `b` (`[min x, min y, max x, max y]`).
    pub fn intersects(&self, b: [f64; 4]) -> bool {
        use geo::Intersects;
        let Some(e) = self.envelope() else {
            return false;
        };
        if e[2] < b[0] || e[0] > b[2] || e[3] < b[1] || e[1] > b[3] {
            return false;
        }
        if e[0] >= b[0] && e[2] <= b[2] && e[1] >= b[1] && e[3] <= b[3] {
            return true;
        }
        let rect = geo::Rect::new(
            geo::coord! { x: b[0], y: b[1] },
            geo::coord! { x: b[2], y: b[3] },
        );
        self.to_geo().is_some_and(|g| g.intersects(&rect))
    }

    /// The GeoJSON geometry object (`null` for none), positions with `digits` decimals.
    fn write_json(&self, out: &mut String, digits: usize) {
        fn pos(out: &mut String, p: &Pos, d: usize) {
            let _ = write!(out, "[{:.*},{:.*}]", d, p[0], d, p[1]);
        }
        fn list(out: &mut String, v: &[Pos], d: usize) {
            out.push('[');
            for (i, p) in v.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                pos(out, p, d);
            }
            out.push(']');
        }
        fn rings(out: &mut String, r: &[Vec<Pos>], d: usize) {
            out.push('[');
            for (i, v) in r.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                list(out, v, d);
            }
            out.push(']');
        }
        let (kind, start) = match self {
            Self::Null => {
                out.push_str("null");
                return;
            }
            Self::Point(_) => ("Point", ()),
            Self::MultiPoint(_) => ("MultiPoint", ()),
            Self::LineString(_) => ("LineString", ()),
            Self::Polygon(_) => ("Polygon", ()),
            Self::MultiPolygon(_) => ("MultiPolygon", ()),
        };
        let () = start;
        let _ = write!(out, "{{\"type\":\"{kind}\",\"coordinates\":");
        match self {
            Self::Point(p) => pos(out, p, digits),
            Self::MultiPoint(v) | Self::LineString(v) => list(out, v, digits),
            Self::Polygon(r) => rings(out, r, digits),
            Self::MultiPolygon(m) => {
                out.push('[');
                for (i, r) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    rings(out, r, digits);
                }
                out.push(']');
            }
            Self::Null => {}
        }
        out.push('}');
    }
}

/// A CRS a client may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutCrs {
    /// WGS84, longitude first: the default.
    Crs84,
    /// WGS84, latitude first.
    Epsg4326,
    /// SWEREF 99 TM, northing first.
    Epsg3006,
}

pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
pub const EPSG4326: &str = "http://www.opengis.net/def/crs/EPSG/0/4326";
pub const EPSG3006: &str = "http://www.opengis.net/def/crs/EPSG/0/3006";

impl OutCrs {
    pub const ALL: [OutCrs; 3] = [Self::Crs84, Self::Epsg4326, Self::Epsg3006];

    pub fn uri(self) -> &'static str {
        match self {
            Self::Crs84 => CRS84,
            Self::Epsg4326 => EPSG4326,
            Self::Epsg3006 => EPSG3006,
        }
    }

    /// The CRS a `crs` or `bbox-crs` value names: the URIs above (also with `https`), or
    /// their short forms `EPSG:3006`, `EPSG:4326`, `OGC:CRS84`.
    pub fn parse(field: &str, v: &str) -> ServiceResult<Self> {
        let t = v.trim().trim_start_matches('[').trim_end_matches(']');
        let t = t
            .strip_prefix("https://")
            .map_or(t.to_string(), |r| format!("http://{r}"));
        let found = match t.as_str() {
            CRS84 | "OGC:CRS84" | "CRS84" => Self::Crs84,
            EPSG4326 | "EPSG:4326" => Self::Epsg4326,
            EPSG3006 | "EPSG:3006" => Self::Epsg3006,
            _ => {
                return Err(ServiceError::Invalid(format!(
                    "{field}={v:?}: expected one of {CRS84}, {EPSG4326} or {EPSG3006}"
                )));
            }
        };
        Ok(found)
    }

    fn digits(self) -> usize {
        match self {
            Self::Epsg3006 => 2,
            _ => 7,
        }
    }

    /// CRS84 positions of `g` into this CRS's axis order.
    fn project(self, geoms: &mut [Geom]) -> ServiceResult<()> {
        match self {
            Self::Crs84 => {}
            Self::Epsg4326 => geoms
                .iter_mut()
                .flat_map(|g| g.positions_mut())
                .for_each(|p| p.swap(0, 1)),
            Self::Epsg3006 => {
                let mut c: Vec<(f64, f64)> = geoms
                    .iter()
                    .flat_map(|g| g.positions())
                    .map(|p| (p[0], p[1]))
                    .collect();
                crs::transform_in_place(crs::WGS84_EPSG, crs::WORK_EPSG, &mut c)
                    .map_err(ServiceError::internal)?;
                for (p, (e, n)) in geoms.iter_mut().flat_map(|g| g.positions_mut()).zip(c) {
                    *p = [n, e];
                }
            }
        }
        Ok(())
    }

    /// A box in this CRS's axis order as a CRS84 `[min lon, min lat, max lon, max lat]`
    /// envelope (for EPSG:3006 the envelope of its edges, sampled every 1/32).
    fn to_crs84_envelope(self, b: [f64; 4]) -> ServiceResult<[f64; 4]> {
        Ok(match self {
            Self::Crs84 => b,
            Self::Epsg4326 => [b[1], b[0], b[3], b[2]],
            Self::Epsg3006 => {
                let (n0, e0, n1, e1) = (b[0], b[1], b[2], b[3]);
                let mut c = Vec::with_capacity(4 * 33);
                for i in 0..=32 {
                    let t = f64::from(i) / 32.0;
                    let (e, n) = (e0 + (e1 - e0) * t, n0 + (n1 - n0) * t);
                    c.extend([(e, n0), (e, n1), (e0, n), (e1, n)]);
                }
                crs::transform_in_place(crs::WORK_EPSG, crs::WGS84_EPSG, &mut c)
                    .map_err(ServiceError::internal)?;
                let mut env = [
                    f64::INFINITY,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    f64::NEG_INFINITY,
                ];
                for (lon, lat) in c {
                    env = [
                        env[0].min(lon),
                        env[1].min(lat),
                        env[2].max(lon),
                        env[3].max(lat),
                    ];
                }
                env
            }
        })
    }
}

/// One feature of a collection.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: String,
    pub geometry: Geom,
    /// When it happened, from and to (an instant is both).
    pub time: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The properties object as JSON.
    pub properties: String,
}

impl Item {
    /// An item from a service feature's id, geometry and properties.
    pub fn new(
        id: impl Into<String>,
        geometry: Geom,
        properties: &impl Serialize,
    ) -> ServiceResult<Self> {
        Ok(Self {
            id: id.into(),
            geometry,
            time: None,
            properties: serde_json::to_string(properties).map_err(ServiceError::internal)?,
        })
    }

    pub fn at(mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        self.time = Some((from, to.max(from)));
        self
    }
}

/// A collection's items, indexed.
pub struct Collection {
    items: Vec<Item>,
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
    by_id: HashMap<String, usize>,
    /// CRS84 `[min lon, min lat, max lon, max lat]` of every item.
    pub extent: Option<[f64; 4]>,
    /// The earliest and latest time of an item.
    pub interval: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Collection {
    /// The items in their order; an id given twice keeps its first item (ids are unique by
    /// construction, this only guards `items/{featureId}`).
    pub fn new(items: Vec<Item>) -> Self {
        let mut by_id = HashMap::with_capacity(items.len());
        let mut boxes = Vec::with_capacity(items.len());
        let mut extent: Option<[f64; 4]> = None;
        let mut interval: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
        for (i, it) in items.iter().enumerate() {
            by_id.entry(it.id.clone()).or_insert(i);
            if let Some(e) = it.geometry.envelope() {
                boxes.push(GeomWithData::new(
                    Rectangle::from_corners([e[0], e[1]], [e[2], e[3]]),
                    i,
                ));
                extent = Some(match extent {
                    None => e,
                    Some(x) => [
                        x[0].min(e[0]),
                        x[1].min(e[1]),
                        x[2].max(e[2]),
                        x[3].max(e[3]),
                    ],
                });
            }
            if let Some((a, b)) = it.time {
                interval = Some(match interval {
                    None => (a, b),
                    Some((x, y)) => (x.min(a), y.max(b)),
                });
            }
        }
        Self {
            items,
            tree: RTree::bulk_load(boxes),
            by_id,
            extent,
            interval,
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn item(&self, id: &str) -> Option<&Item> {
        self.by_id.get(id).map(|&i| &self.items[i])
    }

    /// The items a query selects, in the collection's order, and how many match in all.
    pub fn select(&self, q: &ItemsQuery) -> ServiceResult<(Vec<&Item>, usize)> {
        let time_ok = |it: &Item| match (&q.datetime, it.time) {
            (None, _) => true,
            // A collection without time: the filter does not apply (there is nothing to
            // compare); one with time keeps only the items whose time meets the interval.
            (Some(_), None) => self.interval.is_none(),
            (Some(w), Some((a, b))) => w.meets(a, b),
        };
        let mut chosen: Vec<usize> = match &q.bbox {
            None => (0..self.items.len())
                .filter(|&i| time_ok(&self.items[i]))
                .collect(),
            Some((b, bcrs)) => {
                let env = bcrs.to_crs84_envelope(*b)?;
                let mut cand: Vec<usize> = self
                    .tree
                    .locate_in_envelope_intersecting(&AABB::from_corners(
                        [env[0], env[1]],
                        [env[2], env[3]],
                    ))
                    .map(|r| r.data)
                    .filter(|&i| time_ok(&self.items[i]))
                    .collect();
                cand.sort_unstable();
                match bcrs {
                    OutCrs::Crs84 => cand.retain(|&i| self.items[i].geometry.intersects(env)),
                    OutCrs::Epsg4326 | OutCrs::Epsg3006 => {
                        // Test in the box's own CRS and axis order.
                        let mut geoms: Vec<Geom> = cand
                            .iter()
                            .map(|&i| self.items[i].geometry.clone())
                            .collect();
                        bcrs.project(&mut geoms)?;
                        let keep: Vec<bool> = geoms.iter().map(|g| g.intersects(*b)).collect();
                        let mut k = keep.into_iter();
                        cand.retain(|_| k.next().unwrap_or(false));
                    }
                }
                cand
            }
        };
        let matched = chosen.len();
        let start = q.offset.min(matched);
        let end = start.saturating_add(q.limit).min(matched);
        chosen.truncate(end);
        Ok((
            chosen[start..].iter().map(|&i| &self.items[i]).collect(),
            matched,
        ))
    }
}

/// A checked items query.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemsQuery {
    pub limit: usize,
    pub offset: usize,
    /// The box in `bbox-crs`'s axis order, and that CRS.
    pub bbox: Option<([f64; 4], OutCrs)>,
    pub datetime: Option<Interval>,
    pub crs: OutCrs,
}

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 10_000;
/// The largest `offset`: more than any collection holds; a bound on the parse only.
pub const MAX_OFFSET: usize = 100_000_000;

impl ItemsQuery {
    /// The query from its URL pairs; a parameter not in the API definition is an error, as
    /// Part 1 requires (`f=json` is accepted for clients that send it).
    pub fn parse(pairs: &[(String, String)]) -> ServiceResult<Self> {
        let mut q = Self {
            limit: DEFAULT_LIMIT,
            offset: 0,
            bbox: None,
            datetime: None,
            crs: OutCrs::Crs84,
        };
        let mut bbox: Option<[f64; 4]> = None;
        let mut bbox_crs = OutCrs::Crs84;
        let mut seen = std::collections::HashSet::new();
        for (k, v) in pairs {
            if !seen.insert(k.as_str()) {
                return Err(ServiceError::Invalid(format!("{k}: given more than once")));
            }
            match k.as_str() {
                "limit" => {
                    let n: usize = v.trim().parse().map_err(|_| {
                        ServiceError::Invalid(format!(
                            "limit={v:?}: expected a whole number from 1 to {MAX_LIMIT}"
                        ))
                    })?;
                    if n == 0 {
                        return Err(ServiceError::Invalid(format!(
                            "limit={v:?}: expected a whole number from 1 to {MAX_LIMIT}"
                        )));
                    }
                    // Part 1: a limit above the maximum is served as the maximum.
                    q.limit = n.min(MAX_LIMIT);
                }
                "offset" => {
                    q.offset = v
                        .trim()
                        .parse()
                        .ok()
                        .filter(|&n: &usize| n <= MAX_OFFSET)
                        .ok_or_else(|| {
                            ServiceError::Invalid(format!(
                                "offset={v:?}: expected a whole number from 0 to {MAX_OFFSET}"
                            ))
                        })?;
                }
                "bbox" => bbox = Some(parse_bbox(v)?),
                "bbox-crs" => bbox_crs = OutCrs::parse("bbox-crs", v)?,
                "crs" => q.crs = OutCrs::parse("crs", v)?,
                "datetime" => q.datetime = Some(Interval::parse(v)?),
                "f" => {
                    if !matches!(v.as_str(), "json" | "geojson") {
                        return Err(ServiceError::Invalid(format!(
                            "f={v:?}: expected json or geojson"
                        )));
                    }
                }
                other => {
                    return Err(ServiceError::Invalid(format!(
                        "{other:?} is not a parameter of items: expected limit, offset, bbox, bbox-crs, datetime, crs or f"
                    )));
                }
            }
        }
        if seen.contains("bbox-crs") && bbox.is_none() {
            return Err(ServiceError::Invalid("bbox-crs without bbox".into()));
        }
        q.bbox = bbox.map(|b| (b, bbox_crs));
        Ok(q)
    }

    /// The query string of this query at another offset (for `next` and `prev` links).
    pub fn query_string(&self, offset: usize) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        s.append_pair("limit", &self.limit.to_string());
        if offset > 0 {
            s.append_pair("offset", &offset.to_string());
        }
        if let Some((b, c)) = &self.bbox {
            s.append_pair("bbox", &format!("{},{},{},{}", b[0], b[1], b[2], b[3]));
            if *c != OutCrs::Crs84 {
                s.append_pair("bbox-crs", c.uri());
            }
        }
        if let Some(d) = &self.datetime {
            s.append_pair("datetime", &d.text);
        }
        if self.crs != OutCrs::Crs84 {
            s.append_pair("crs", self.crs.uri());
        }
        s.finish()
    }
}

/// `minx,miny,maxx,maxy` (or six numbers with heights, which are ignored: the data is 2D).
pub fn parse_bbox(v: &str) -> ServiceResult<[f64; 4]> {
    let bad = |why: &str| ServiceError::Invalid(format!("bbox={v:?}: {why}"));
    let n: Vec<f64> = v
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad("expected four numbers separated by commas"))?;
    let b = match n.as_slice() {
        [a, b, c, d] => [*a, *b, *c, *d],
        [a, b, _, c, d, _] => [*a, *b, *c, *d],
        _ => return Err(bad("expected four numbers (or six with heights)")),
    };
    if b.iter().any(|x| !x.is_finite()) {
        return Err(bad("the numbers must be finite"));
    }
    if b[0] > b[2] || b[1] > b[3] {
        return Err(bad(
            "the lower corner comes first and may not exceed the upper",
        ));
    }
    Ok(b)
}

/// A `datetime` value: an instant or an interval, open at either end with `..` (or empty).
#[derive(Debug, Clone, PartialEq)]
pub struct Interval {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    text: String,
}

impl Interval {
    /// RFC 3339 date-times, or dates (a date is that whole day in Europe/Stockholm).
    pub fn parse(v: &str) -> ServiceResult<Self> {
        let bad = |why: String| ServiceError::Invalid(format!("datetime={v:?}: {why}"));
        let end = |s: &str, start: bool| -> ServiceResult<Option<DateTime<Utc>>> {
            let s = s.trim();
            if s.is_empty() || s == ".." {
                return Ok(None);
            }
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return Ok(Some(t.with_timezone(&Utc)));
            }
            let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                bad(format!(
                    "{s:?} is neither an RFC 3339 date-time nor a date YYYY-MM-DD"
                ))
            })?;
            let day = if start { d } else { d.succ_opt().unwrap_or(d) };
            let local = chrono_tz::Europe::Stockholm
                .from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
                .earliest()
                .ok_or_else(|| bad(format!("{s:?} has no midnight in Stockholm")))?;
            let t = local.with_timezone(&Utc);
            // The end of a date is the last instant before the next day.
            Ok(Some(if start {
                t
            } else {
                t - chrono::Duration::nanoseconds(1)
            }))
        };
        let (from, to) = match v.split_once('/') {
            Some((a, b)) => {
                if (a.trim().is_empty() || a.trim() == "..")
                    && (b.trim().is_empty() || b.trim() == "..")
                {
                    return Err(bad("an interval open at both ends".into()));
                }
                (end(a, true)?, end(b, false)?)
            }
            None => {
                if v.trim() == ".." || v.trim().is_empty() {
                    return Err(bad("expected an instant or an interval".into()));
                }
                (end(v, true)?, end(v, false)?)
            }
        };
        if let (Some(a), Some(b)) = (from, to)
            && a > b
        {
            return Err(bad("the start comes after the end".into()));
        }
        Ok(Self {
            from,
            to,
            text: v.to_string(),
        })
    }

    /// Whether `[a, b]` meets this interval.
    pub fn meets(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> bool {
        self.from.is_none_or(|f| b >= f) && self.to.is_none_or(|t| a <= t)
    }
}

/// One page as GeoJSON: features with their geometry in `crs`, and the members OGC API –
/// Features adds (`numberMatched`, `numberReturned`, `timeStamp`, `links`).
pub fn page_json(
    items: &[&Item],
    matched: usize,
    crs: OutCrs,
    links: &serde_json::Value,
    now: DateTime<Utc>,
) -> ServiceResult<String> {
    let mut geoms: Vec<Geom> = items.iter().map(|i| i.geometry.clone()).collect();
    crs.project(&mut geoms)?;
    let mut out = String::with_capacity(
        items
            .iter()
            .map(|i| i.properties.len() + 256)
            .sum::<usize>()
            + 512,
    );
    out.push_str("{\"type\":\"FeatureCollection\",\"features\":[");
    for (k, (it, g)) in items.iter().zip(&geoms).enumerate() {
        if k > 0 {
            out.push(',');
        }
        feature_json(&mut out, it, g, crs.digits());
    }
    let _ = write!(
        out,
        "],\"numberMatched\":{matched},\"numberReturned\":{},\"timeStamp\":\"{}\",\"links\":{links}}}",
        items.len(),
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    Ok(out)
}

/// One item as a GeoJSON Feature in `crs`, with `links`.
pub fn item_json(item: &Item, crs: OutCrs, links: &serde_json::Value) -> ServiceResult<String> {
    let mut g = [item.geometry.clone()];
    crs.project(&mut g)?;
    let mut out = String::with_capacity(item.properties.len() + 512);
    feature_json(&mut out, item, &g[0], crs.digits());
    out.pop();
    let _ = write!(out, ",\"links\":{links}}}");
    Ok(out)
}

fn feature_json(out: &mut String, it: &Item, g: &Geom, digits: usize) {
    out.push_str("{\"type\":\"Feature\",\"id\":");
    out.push_str(&serde_json::Value::String(it.id.clone()).to_string());
    out.push_str(",\"geometry\":");
    g.write_json(out, digits);
    out.push_str(",\"properties\":");
    out.push_str(&it.properties);
    out.push('}');
}

// ---------------------------------------------------------------------------------------------
// The collections

/// The collections, in the order the API lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CollectionId {
    Walkways,
    Lamps,
    Stretches,
    Hotspots,
    Reports,
    Districts,
    Measures,
    Incidents,
}

/// What a collection is, for its description.
pub struct About {
    pub id: CollectionId,
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// Only roles that see points (police, coordinators, administrators) may read it.
    pub points_only: bool,
    /// Its items carry a time (`datetime` filters them).
    pub temporal: bool,
}

impl CollectionId {
    pub const ALL: [CollectionId; 8] = [
        Self::Walkways,
        Self::Lamps,
        Self::Stretches,
        Self::Hotspots,
        Self::Reports,
        Self::Districts,
        Self::Measures,
        Self::Incidents,
    ];

    pub fn about(self) -> About {
        let a = |name, title, description, points_only, temporal| About {
            id: self,
            name,
            title,
            description,
            points_only,
            temporal,
        };
        match self {
            Self::Walkways => a(
                "walkways",
                "Gång- och cykelvägar med belysning",
                "Gång- och cykelvägar (OpenStreetMap) i delar om högst 50 m, delade där ljuset byter tillstånd: belysningsklass (EN 13201), tillstånd (dark, unknown, lit) och beräknad medelbelysning i lux.",
                false,
                false,
            ),
            Self::Lamps => a(
                "lamps",
                "Gatubelysning",
                "Gatlampor med modellerad status (trasig enligt register eller öppen medborgaranmälan), höjd, ljusflöde och de sträckor en släckt lampa gör mörka.",
                false,
                false,
            ),
            Self::Stretches => a(
                "stretches",
                "Sträckor: mörka, okända och belysta",
                "Sträckor av gångvägar per belysningstillstånd med ljus, lampor före och efter, anmälningar, prioritet, rang och skäl (för allmänheten utan dolda händelseantal).",
                false,
                false,
            ),
            Self::Hotspots => a(
                "hotspots",
                "Brottsintensiva områden (Gi*, offentliga rutor)",
                "Getis–Ord Gi* på det offentliga rutnätet med Benjamini–Hochbergs korrektion: bin −3 … 3 per ruta; antal under k visas inte.",
                false,
                false,
            ),
            Self::Reports => a(
                "reports",
                "Medborgarrapporter",
                "Anmälningar om mörka sträckor, trasig belysning och otrygga platser, som Open311 visar dem: utan kontaktuppgifter, utan text och bild för dolda.",
                false,
                true,
            ),
            Self::Districts => a(
                "districts",
                "Områden",
                "Kommundelar och jämförelseområden.",
                false,
                false,
            ),
            Self::Measures => a(
                "measures",
                "Åtgärder",
                "Åtgärder i åtgärdsplanen med sina platser (punkter); åtgärder utan punkter saknar geometri. Endast polis och samordnare.",
                true,
                false,
            ),
            Self::Incidents => a(
                "incidents",
                "Händelser",
                "Händelser med känd plats (exakt eller gata), med tid och tidsprecision. Endast polis och samordnare.",
                true,
                true,
            ),
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.about().name == name)
    }
}

/// Walkway pieces with their lux, as `GET /api/v1/walkways` gives them; ids
/// `<walkway id>@<from m>`.
pub fn walkways(snap: &Snapshot, result: &LightingResult) -> ServiceResult<Vec<Item>> {
    let all = AreaFilter {
        bbox: None,
        limit: usize::MAX,
    };
    lighting::walkways(snap, result, &all)?
        .features
        .into_iter()
        .map(|f| {
            let p = f.properties;
            Item::new(
                format!("{}@{}", p.walkway_id, p.from_m),
                f.geometry.into(),
                &p,
            )
        })
        .collect()
}

/// Every lamp, as `GET /api/v1/lighting/lamps` gives them.
pub fn lamps(snap: &Snapshot, result: &LightingResult) -> ServiceResult<Vec<Item>> {
    let all = AreaFilter {
        bbox: None,
        limit: usize::MAX,
    };
    lighting::lamps(snap, result, &all)?
        .features
        .into_iter()
        .map(|f| Item::new(f.properties.id.clone(), f.geometry.into(), &f.properties))
        .collect()
}

/// Every stretch in priority order, as `viewer` sees it in `GET /api/v1/lighting/stretches`.
pub fn stretches(
    snap: &Snapshot,
    result: &LightingResult,
    viewer: &Viewer,
) -> ServiceResult<Vec<Item>> {
    let all = StretchFilter {
        states: vec![LightState::Dark, LightState::Unknown, LightState::Lit],
        bbox: None,
        limit: None,
        sort: Default::default(),
        public: !viewer.sees_points(),
    };
    lighting::stretches(snap, result, &all)?
        .features
        .into_iter()
        .map(|f| Item::new(f.properties.id.clone(), f.geometry.into(), &f.properties))
        .collect()
}

/// The public Gi\* cells with the default public parameters, for every caller: the
/// anonymous answer of `GET /api/v1/hotspots?method=gistar` (counts below k left out), so two
/// collections never tell more together than the public map does.
pub fn hotspots(snap: &Snapshot, rules: PublicRules, cancel: &Cancel) -> ServiceResult<Vec<Item>> {
    let params = MethodParams {
        method: Some(Method::Gistar),
        ..Default::default()
    };
    let viewer = Viewer::new(Role::Anonymous, rules);
    let HotspotAnswer::PublicGistar(answer) =
        super::hotspots::hotspots(snap, &FilterParams::default(), &params, &viewer, cancel)?
    else {
        return Err(ServiceError::internal(anyhow::anyhow!(
            "the public Gi* answer was not public"
        )));
    };
    answer
        .features
        .into_features()
        .into_iter()
        .map(|f| {
            let [x, y] = f.properties.cell;
            Item::new(format!("{x}_{y}"), f.geometry.into(), &f.properties)
        })
        .collect()
}

/// Every citizen report as Open311 shows it to the public (no contact fields; no text or photo
/// of a hidden report), with the time it was made.
pub fn reports(snap: &Snapshot) -> ServiceResult<Vec<Item>> {
    snap.reports
        .items
        .iter()
        .map(|r| {
            let req = Request::public(r, false);
            let geometry = match (req.long, req.lat) {
                (Some(lon), Some(lat)) => Geom::Point([lon, lat]),
                _ => Geom::Null,
            };
            Ok(Item::new(r.id.to_string(), geometry, &req)?.at(r.requested_at, r.requested_at))
        })
        .collect()
}

#[derive(Serialize)]
struct DistrictProps<'a> {
    name: &'a str,
    source: &'a str,
}

/// The districts with their names.
pub fn districts(snap: &Snapshot) -> ServiceResult<Vec<Item>> {
    snap.areas
        .items
        .iter()
        .map(|a| {
            let g = Geometry::multipolygon(&a.geometry)?;
            Item::new(
                a.id.to_string(),
                g.into(),
                &DistrictProps {
                    name: &a.name,
                    source: &a.source,
                },
            )
        })
        .collect()
}

/// The measures of the action plan, located by their points (WGS84 as entered).
pub fn measures(list: &[MeasureView]) -> ServiceResult<Vec<Item>> {
    list.iter()
        .map(|m| {
            let geometry = match m.place.points.as_slice() {
                [] => Geom::Null,
                [p] => Geom::Point(*p),
                ps => Geom::MultiPoint(ps.to_vec()),
            };
            Item::new(m.id.to_string(), geometry, m)
        })
        .collect()
}

/// The point-level incidents (exact and street), newest first, as `GET /api/v1/incidents`
/// gives them; ids `<source>:<source id>`.
pub fn incidents(snap: &Snapshot, viewer: &Viewer) -> ServiceResult<Vec<Item>> {
    if !viewer.sees_points() {
        return Err(ServiceError::Forbidden("police"));
    }
    let mut chosen: Vec<&SnapIncident> = snap
        .incidents
        .items
        .iter()
        .filter(|i| i.precision.is_point_level())
        .collect();
    chosen.sort_by_key(|i| std::cmp::Reverse(i.occurred_at));
    let pts = super::geojson::positions(chosen.iter().map(|i| [i.location.x(), i.location.y()]))?;
    chosen
        .iter()
        .zip(pts)
        .map(|(i, p)| {
            let props = IncidentProps {
                source: i.source.to_string(),
                source_id: i.source_id.to_string(),
                time: i.occurred_at.to_rfc3339(),
                time_precision: i.time_precision.as_str(),
                time_to: i.occurred_to.map(|t| t.to_rfc3339()),
                category: i.category.to_string(),
                group: i.group.as_str(),
                label: i.label.to_string(),
                precision: i.precision.as_str(),
            };
            let from = i.occurred_at.with_timezone(&Utc);
            let to = i.occurred_to.map_or(from, |t| t.with_timezone(&Utc));
            Ok(Item::new(
                format!("{}:{}", i.source, i.source_id),
                Geom::Point(p),
                &props,
            )?
            .at(from, to))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> ServiceResult<ItemsQuery> {
        let pairs: Vec<(String, String)> =
            form_urlencoded::parse(s.as_bytes()).into_owned().collect();
        ItemsQuery::parse(&pairs)
    }

    fn points(ps: &[Pos]) -> Collection {
        Collection::new(
            ps.iter()
                .enumerate()
                .map(|(i, p)| {
                    Item::new(
                        format!("p{i}"),
                        Geom::Point(*p),
                        &serde_json::json!({ "i": i }),
                    )
                    .unwrap()
                })
                .collect(),
        )
    }

    #[test]
    fn parses_the_parameters_and_names_what_is_wrong() {
        let x =
            q("limit=5&offset=10&bbox=18,59,18.2,59.5&datetime=2025-01-01T00:00:00Z/..").unwrap();
        assert_eq!((x.limit, x.offset), (5, 10));
        assert_eq!(x.bbox, Some(([18.0, 59.0, 18.2, 59.5], OutCrs::Crs84)));
        assert!(x.datetime.as_ref().unwrap().to.is_none());
        assert_eq!(q("limit=99999").unwrap().limit, MAX_LIMIT);
        for (bad, word) in [
            ("limit=0", "limit"),
            ("limit=x", "limit"),
            ("offset=-1", "offset"),
            ("bbox=1,2,3", "bbox"),
            ("bbox=3,2,1,4", "bbox"),
            ("bbox=1,2,nan,4", "bbox"),
            ("crs=EPSG:3857", "crs"),
            ("bbox-crs=EPSG:3006", "bbox-crs"),
            ("datetime=../..", "datetime"),
            ("datetime=2025-02-01/2025-01-01", "datetime"),
            ("datetime=yesterday", "datetime"),
            ("colour=red", "colour"),
            ("limit=1&limit=2", "limit"),
        ] {
            let e = q(bad).unwrap_err().to_string();
            assert!(e.contains(word), "{bad}: {e}");
        }
        assert_eq!(q("crs=EPSG:3006").unwrap().crs, OutCrs::Epsg3006);
        assert_eq!(q(&format!("crs={EPSG4326}")).unwrap().crs, OutCrs::Epsg4326);
    }

    #[test]
    fn a_date_is_its_whole_stockholm_day() {
        let d = Interval::parse("2025-07-01").unwrap();
        // CEST is UTC+2: the day runs from 22:00 UTC the evening before.
        assert_eq!(d.from.unwrap().to_rfc3339(), "2025-06-30T22:00:00+00:00");
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert!(d.meets(t("2025-07-01T21:59:59Z"), t("2025-07-01T21:59:59Z")));
        assert!(!d.meets(t("2025-07-01T22:00:00Z"), t("2025-07-01T22:00:00Z")));
        assert!(!d.meets(t("2025-06-30T21:59:59Z"), t("2025-06-30T21:59:59Z")));
        // A window meets an interval it overlaps.
        assert!(d.meets(t("2025-06-30T12:00:00Z"), t("2025-06-30T23:00:00Z")));
    }

    #[test]
    fn pages_and_boxes_select_by_hand() {
        let c = points(&[
            [18.0, 59.0],
            [18.1, 59.1],
            [18.2, 59.2],
            [18.3, 59.3],
            [18.4, 59.4],
        ]);
        let ids = |s: &str| {
            let (v, m) = c.select(&q(s).unwrap()).unwrap();
            (v.iter().map(|i| i.id.clone()).collect::<Vec<_>>(), m)
        };
        assert_eq!(ids("limit=2"), (vec!["p0".into(), "p1".into()], 5));
        assert_eq!(ids("limit=2&offset=4"), (vec!["p4".into()], 5));
        assert_eq!(ids("limit=2&offset=9"), (vec![], 5));
        assert_eq!(
            ids("bbox=18.05,59.05,18.25,59.25"),
            (vec!["p1".into(), "p2".into()], 2)
        );
        // The same box in EPSG:4326 order (lat, lon).
        assert_eq!(
            ids(&format!("bbox=59.05,18.05,59.25,18.25&bbox-crs={EPSG4326}")).1,
            2
        );
    }

    #[test]
    fn a_box_meets_a_line_only_where_the_line_is() {
        // A diagonal line whose envelope covers the box's corner but which passes the other way.
        let line = Geom::LineString(vec![[0.0, 0.0], [1.0, 1.0]]);
        assert!(!line.intersects([0.8, 0.0, 1.0, 0.2]));
        assert!(line.intersects([0.4, 0.4, 0.6, 0.6]));
        assert!(line.intersects([0.5, 0.0, 1.0, 0.5]));
    }

    #[test]
    fn sweref_output_is_northing_first_in_metres() {
        // 18.0 E 59.0 N in SWEREF 99 TM (EPSG:3006), from GDAL's osr (axes Northing, Easting):
        // TransformPoint(59, 18) -> (6543920.334128, 672319.964088).
        let mut g = [Geom::Point([18.0, 59.0])];
        OutCrs::Epsg3006.project(&mut g).unwrap();
        let Geom::Point([n, e]) = g[0] else { panic!() };
        assert!(
            (n - 6_543_920.334).abs() < 0.01 && (e - 672_319.964).abs() < 0.01,
            "{n} {e}"
        );
        let mut out = String::new();
        g[0].write_json(&mut out, 2);
        assert_eq!(
            out,
            "{\"type\":\"Point\",\"coordinates\":[6543920.33,672319.96]}"
        );
    }
}
