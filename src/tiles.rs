//! Mapbox Vector Tiles 2.1, written by hand: the Web Mercator tile grid, the clipping and
//! quantisation of lines and points to a tile, and the protobuf encoding of its layers.
//!
//! The web map draws the whole walkway network at low zoom from these tiles (GeoJSON of 100 000
//! walkways would take seconds to send and parse); GIS clients (QGIS, MapLibre) read them too.
//! The format is small enough that a dependency would not pay its way:
//!
//! - `Tile { repeated Layer layers = 3 }`, `Layer { version = 15 (2), name = 1, features = 2,
//!   keys = 3, values = 4, extent = 5 }`, `Feature { id = 1, packed tags = 2, type = 3, packed
//!   geometry = 4 }` and `Value { string = 1, double = 3, int = 4, sint = 6, bool = 7 }`;
//! - geometry as command integers (`MoveTo` 1, `LineTo` 2, `ClosePath` 7, with a count) followed
//!   by zigzag-encoded deltas from the previous point, the cursor kept across the parts of a
//!   feature;
//! - tile coordinates with the origin top left and `extent` units to the tile's side (4096
//!   here), plus a buffer around it ([`BUFFER`]) so lines and the points' symbols meet across
//!   tile edges.
//!
//! Coordinates reach this module in WGS84 (lon, lat): the callers transform EPSG:3006 in one PROJ
//! batch per tile. Lines are clipped to the buffered tile segment by segment (Liang–Barsky), so a
//! walkway that leaves the tile and comes back becomes two parts, then simplified below the
//! deepest zoom (Ramer–Douglas–Peucker, a quarter of a display pixel) and quantised, dropping
//! points that fall on the one before.

use std::collections::HashMap;

use geo::Simplify;

/// Tile units to a tile's side.
pub const EXTENT: u32 = 4096;
/// Tile units drawn beyond each edge of the tile.
pub const BUFFER: f64 = 64.0;
/// The deepest zoom a tile address may have (the grid itself allows 2^z ≤ 2^32).
pub const MAX_GRID_ZOOM: u8 = 24;
/// Web Mercator's latitude limit: the square world of the tile grid.
pub const MAX_LAT: f64 = 85.051_128_779_806_59;

/// A tile of the XYZ grid (x east, y south, from the top-left corner of the world).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileId {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

impl TileId {
    /// The tile, when `x` and `y` are within the grid at `z`.
    pub fn new(z: u8, x: u32, y: u32) -> Option<Self> {
        if z > MAX_GRID_ZOOM {
            return None;
        }
        let n = 1u64 << z;
        (u64::from(x) < n && u64::from(y) < n).then_some(Self { z, x, y })
    }

    /// Tiles along a side of the world at this zoom.
    pub fn side(&self) -> f64 {
        f64::from(1u32 << self.z)
    }

    /// The tile's corners in the unit world (`[x0, y0, x1, y1]`, y down), widened by `buffer`
    /// tile units on every side.
    pub fn world_bounds(&self, buffer: f64) -> [f64; 4] {
        let n = self.side();
        let b = buffer / f64::from(EXTENT);
        [
            (f64::from(self.x) - b) / n,
            (f64::from(self.y) - b) / n,
            (f64::from(self.x) + 1.0 + b) / n,
            (f64::from(self.y) + 1.0 + b) / n,
        ]
    }

    /// The tile in WGS84, `[west, south, east, north]`, widened by `buffer` tile units.
    pub fn wgs84_bounds(&self, buffer: f64) -> [f64; 4] {
        let [x0, y0, x1, y1] = self.world_bounds(buffer);
        let (w, n) = world_to_lon_lat(x0.max(0.0), y0.max(0.0));
        let (e, s) = world_to_lon_lat(x1.min(1.0), y1.min(1.0));
        [w, s, e, n]
    }

    /// A point of the unit world in this tile's units (may lie outside `0..EXTENT`).
    pub fn to_tile(&self, world: (f64, f64)) -> (f64, f64) {
        let n = self.side();
        let e = f64::from(EXTENT);
        (
            (world.0 * n - f64::from(self.x)) * e,
            (world.1 * n - f64::from(self.y)) * e,
        )
    }
}

/// WGS84 (lon, lat) in the unit square of Web Mercator: x east from 180° W, y south from
/// [`MAX_LAT`], both 0 … 1. Latitudes beyond the limit are held at it.
pub fn lon_lat_to_world(lon: f64, lat: f64) -> (f64, f64) {
    let lat = lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
    let x = (lon + 180.0) / 360.0;
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0;
    (x, y)
}

/// The inverse of [`lon_lat_to_world`].
pub fn world_to_lon_lat(x: f64, y: f64) -> (f64, f64) {
    let lon = x * 360.0 - 180.0;
    let lat = (std::f64::consts::PI * (1.0 - 2.0 * y))
        .sinh()
        .atan()
        .to_degrees();
    (lon, lat)
}

/// The tile holding a WGS84 position at zoom `z`.
pub fn tile_of(lon: f64, lat: f64, z: u8) -> TileId {
    let (x, y) = lon_lat_to_world(lon, lat);
    let n = f64::from(1u32 << z);
    let max = (1u32 << z) - 1;
    let cell = |v: f64| ((v * n).floor().max(0.0) as u32).min(max);
    TileId {
        z,
        x: cell(x),
        y: cell(y),
    }
}

// ---------------------------------------------------------------------------------------------
// Geometry

/// A line clipped to the box `lo..=hi` (tile units, both axes), as the parts inside it: a line
/// that leaves the box and enters it again gives two parts. Liang–Barsky per segment.
pub fn clip_line(line: &[(f64, f64)], lo: f64, hi: f64) -> Vec<Vec<(f64, f64)>> {
    let mut parts = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    for w in line.windows(2) {
        let (a, b) = (w[0], w[1]);
        match clip_segment(a, b, lo, hi) {
            Some((p, q, t0, t1)) => {
                if t0 > 0.0 || current.is_empty() {
                    if current.len() >= 2 {
                        parts.push(std::mem::take(&mut current));
                    }
                    current.clear();
                    current.push(p);
                }
                current.push(q);
                if t1 < 1.0 {
                    parts.push(std::mem::take(&mut current));
                }
            }
            None => {
                if current.len() >= 2 {
                    parts.push(std::mem::take(&mut current));
                }
                current.clear();
            }
        }
    }
    if current.len() >= 2 {
        parts.push(current);
    }
    parts
}

/// A point in tile units.
type Pt = (f64, f64);

/// The part of segment `a`–`b` in the box (its ends), with its parameters along the segment (0
/// at `a`, 1 at `b`); `None` when the segment misses the box.
fn clip_segment(a: Pt, b: Pt, lo: f64, hi: f64) -> Option<(Pt, Pt, f64, f64)> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.0 - lo),
        (dx, hi - a.0),
        (-dy, a.1 - lo),
        (dy, hi - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
            if t0 > t1 {
                return None;
            }
        }
    }
    let at = |t: f64| (a.0 + t * dx, a.1 + t * dy);
    Some((at(t0), at(t1), t0, t1))
}

/// A part in whole tile units: simplified with tolerance `epsilon` (tile units; 0: not at all),
/// rounded, and without points equal to the one before; `None` when fewer than two distinct
/// points remain.
pub fn quantise_line(part: &[(f64, f64)], epsilon: f64) -> Option<Vec<[i32; 2]>> {
    let simplified;
    let pts: &[(f64, f64)] = if epsilon > 0.0 && part.len() > 2 {
        let ls: geo::LineString<f64> = part
            .iter()
            .map(|&(x, y)| geo::coord! {x: x, y: y})
            .collect();
        simplified = ls
            .simplify(epsilon)
            .0
            .into_iter()
            .map(|c| (c.x, c.y))
            .collect::<Vec<_>>();
        &simplified
    } else {
        part
    };
    let mut out: Vec<[i32; 2]> = Vec::with_capacity(pts.len());
    for &(x, y) in pts {
        let q = [x.round() as i32, y.round() as i32];
        if out.last() != Some(&q) {
            out.push(q);
        }
    }
    (out.len() >= 2).then_some(out)
}

/// What a feature is drawn as, in tile units.
#[derive(Debug, Clone, PartialEq)]
pub enum Geometry {
    /// One or more points.
    Points(Vec<[i32; 2]>),
    /// One or more lines of at least two points each.
    Lines(Vec<Vec<[i32; 2]>>),
}

const MOVE_TO: u32 = 1;
const LINE_TO: u32 = 2;

/// A command integer: the command in the low three bits, the count above.
pub fn command(id: u32, count: u32) -> u32 {
    (id & 0x7) | (count << 3)
}

/// Zigzag: small negative and positive numbers as small unsigned ones (0, -1, 1, -2 … → 0, 1,
/// 2, 3 …).
pub fn zigzag(n: i32) -> u32 {
    ((n << 1) ^ (n >> 31)) as u32
}

impl Geometry {
    /// The geometry type of the encoding: 1 point, 2 linestring.
    fn kind(&self) -> u32 {
        match self {
            Self::Points(_) => 1,
            Self::Lines(_) => 2,
        }
    }

    /// The command integers and parameters.
    pub fn commands(&self) -> Vec<u32> {
        let mut out = Vec::new();
        let mut cursor = [0i32, 0i32];
        let mut delta = |out: &mut Vec<u32>, p: [i32; 2]| {
            out.push(zigzag(p[0] - cursor[0]));
            out.push(zigzag(p[1] - cursor[1]));
            cursor = p;
        };
        match self {
            Self::Points(ps) => {
                if !ps.is_empty() {
                    out.push(command(MOVE_TO, ps.len() as u32));
                    for &p in ps {
                        delta(&mut out, p);
                    }
                }
            }
            Self::Lines(ls) => {
                for l in ls.iter().filter(|l| l.len() >= 2) {
                    out.push(command(MOVE_TO, 1));
                    delta(&mut out, l[0]);
                    out.push(command(LINE_TO, (l.len() - 1) as u32));
                    for &p in &l[1..] {
                        delta(&mut out, p);
                    }
                }
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Protobuf

fn varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn key(buf: &mut Vec<u8>, field: u32, wire: u32) {
    varint(buf, u64::from((field << 3) | wire));
}

fn bytes_field(buf: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    key(buf, field, 2);
    varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

fn packed(buf: &mut Vec<u8>, field: u32, values: &[u32]) {
    let mut inner = Vec::with_capacity(values.len() * 2);
    for &v in values {
        varint(&mut inner, u64::from(v));
    }
    bytes_field(buf, field, &inner);
}

/// A feature's property value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(String),
    Double(f64),
    Int(i64),
    Bool(bool),
}

/// A value as a key of the layer's value table (doubles by their bits).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ValueKey {
    String(String),
    Double(u64),
    Int(i64),
    Bool(bool),
}

impl Value {
    fn table_key(&self) -> ValueKey {
        match self {
            Self::String(s) => ValueKey::String(s.clone()),
            Self::Double(d) => ValueKey::Double(d.to_bits()),
            Self::Int(i) => ValueKey::Int(*i),
            Self::Bool(b) => ValueKey::Bool(*b),
        }
    }

    /// The `Value` message.
    fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        match self {
            Self::String(s) => bytes_field(&mut b, 1, s.as_bytes()),
            Self::Double(d) => {
                key(&mut b, 3, 1);
                b.extend_from_slice(&d.to_le_bytes());
            }
            Self::Int(i) if *i >= 0 => {
                key(&mut b, 4, 0);
                varint(&mut b, *i as u64);
            }
            Self::Int(i) => {
                key(&mut b, 6, 0);
                varint(&mut b, ((*i << 1) ^ (*i >> 63)) as u64);
            }
            Self::Bool(v) => {
                key(&mut b, 7, 0);
                varint(&mut b, u64::from(*v));
            }
        }
        b
    }
}

/// One layer of a tile, built feature by feature: keys and values are shared through the
/// layer's tables.
#[derive(Debug)]
pub struct Layer {
    name: String,
    keys: Vec<String>,
    key_index: HashMap<String, u32>,
    values: Vec<Value>,
    value_index: HashMap<ValueKey, u32>,
    features: Vec<u8>,
    count: usize,
}

impl Layer {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            keys: Vec::new(),
            key_index: HashMap::new(),
            values: Vec::new(),
            value_index: HashMap::new(),
            features: Vec::new(),
            count: 0,
        }
    }

    /// Features added so far.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds a feature; properties without a value are left out. A geometry without a point
    /// adds nothing.
    pub fn add(&mut self, id: Option<u64>, props: &[(&str, Option<Value>)], geometry: &Geometry) {
        let commands = geometry.commands();
        if commands.is_empty() {
            return;
        }
        let mut tags = Vec::with_capacity(props.len() * 2);
        for (k, v) in props {
            let Some(v) = v else { continue };
            let ki = match self.key_index.get(*k) {
                Some(&i) => i,
                None => {
                    let i = self.keys.len() as u32;
                    self.keys.push(k.to_string());
                    self.key_index.insert(k.to_string(), i);
                    i
                }
            };
            let vk = v.table_key();
            let vi = match self.value_index.get(&vk) {
                Some(&i) => i,
                None => {
                    let i = self.values.len() as u32;
                    self.values.push(v.clone());
                    self.value_index.insert(vk, i);
                    i
                }
            };
            tags.push(ki);
            tags.push(vi);
        }
        let mut f = Vec::with_capacity(commands.len() * 2 + tags.len() + 8);
        if let Some(id) = id {
            key(&mut f, 1, 0);
            varint(&mut f, id);
        }
        if !tags.is_empty() {
            packed(&mut f, 2, &tags);
        }
        key(&mut f, 3, 0);
        varint(&mut f, u64::from(geometry.kind()));
        packed(&mut f, 4, &commands);
        bytes_field(&mut self.features, 2, &f);
        self.count += 1;
    }

    /// The `Layer` message.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(self.features.len() + 256);
        key(&mut b, 15, 0);
        varint(&mut b, 2);
        bytes_field(&mut b, 1, self.name.as_bytes());
        b.extend_from_slice(&self.features);
        for k in &self.keys {
            bytes_field(&mut b, 3, k.as_bytes());
        }
        for v in &self.values {
            bytes_field(&mut b, 4, &v.encode());
        }
        key(&mut b, 5, 0);
        varint(&mut b, u64::from(EXTENT));
        b
    }
}

/// The `Tile` message of these layers; empty layers are left out (an empty tile has no
/// bytes).
pub fn encode_tile(layers: &[Layer]) -> Vec<u8> {
    let mut b = Vec::new();
    for l in layers.iter().filter(|l| !l.is_empty()) {
        bytes_field(&mut b, 3, &l.encode());
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_position_falls_in_its_tile() {
        // Stockholm's Sergels torg (18.0686° E, 59.3326° N) at z10: x = (18.0686 + 180) / 360
        // · 1024 = 563.395…; y = (1 − ln(tan φ + sec φ) / π) / 2 · 1024 = 301.128…: tile
        // 563/301.
        let t = tile_of(18.0686, 59.3326, 10);
        assert_eq!((t.z, t.x, t.y), (10, 563, 301));
        let (x, y) = lon_lat_to_world(18.0686, 59.3326);
        assert!((x * 1024.0 - 563.395_128_9).abs() < 1e-6, "{}", x * 1024.0);
        let merc = 59.3326f64.to_radians().tan().asinh();
        assert!((y - (1.0 - merc / std::f64::consts::PI) / 2.0).abs() < 1e-12);
        assert!((y * 1024.0 - 301.128_287_1).abs() < 1e-6, "{}", y * 1024.0);
        // The world's corners and centre.
        assert_eq!(lon_lat_to_world(-180.0, 0.0), (0.0, 0.5));
        let (_, top) = lon_lat_to_world(0.0, MAX_LAT);
        assert!(top.abs() < 1e-9, "{top}");
        let (lon, lat) = world_to_lon_lat(x, y);
        assert!((lon - 18.0686).abs() < 1e-9 && (lat - 59.3326).abs() < 1e-9);
    }

    #[test]
    fn tiles_outside_the_grid_do_not_exist() {
        assert!(TileId::new(0, 0, 0).is_some());
        assert!(TileId::new(1, 2, 0).is_none());
        assert!(TileId::new(10, 1023, 1023).is_some());
        assert!(TileId::new(10, 1024, 0).is_none());
        assert!(TileId::new(25, 0, 0).is_none());
    }

    #[test]
    fn tile_units_of_a_tile_corner() {
        let t = TileId::new(2, 1, 2).unwrap();
        // The tile's top-left corner is (1/4, 2/4) of the world, its bottom-right (2/4, 3/4).
        assert_eq!(t.to_tile((0.25, 0.5)), (0.0, 0.0));
        assert_eq!(t.to_tile((0.5, 0.75)), (4096.0, 4096.0));
        let [x0, y0, x1, y1] = t.world_bounds(BUFFER);
        assert!((x0 - (1.0 - 64.0 / 4096.0) / 4.0).abs() < 1e-15);
        assert!((y1 - (3.0 + 64.0 / 4096.0) / 4.0).abs() < 1e-15);
        assert!(y0 < x1);
    }

    #[test]
    fn zigzag_and_command_integers_as_the_specification_gives_them() {
        assert_eq!(
            [0, -1, 1, -2, 2, 2147483647, -2147483648].map(zigzag),
            [0, 1, 2, 3, 4, 4294967294, 4294967295]
        );
        // MoveTo ×1 = 9, LineTo ×3 = 26, ClosePath ×1 = 15 (spec 4.3.1).
        assert_eq!(command(1, 1), 9);
        assert_eq!(command(2, 3), 26);
        assert_eq!(command(7, 1), 15);
    }

    #[test]
    fn geometries_encode_as_the_specification_examples() {
        // Spec 4.3.5.1, a point at (25, 17).
        assert_eq!(Geometry::Points(vec![[25, 17]]).commands(), [9, 50, 34]);
        // 4.3.5.2, multipoint (5, 7), (3, 2).
        assert_eq!(
            Geometry::Points(vec![[5, 7], [3, 2]]).commands(),
            [17, 10, 14, 3, 9]
        );
        // 4.3.5.3, linestring (2,2) (2,10) (10,10).
        assert_eq!(
            Geometry::Lines(vec![vec![[2, 2], [2, 10], [10, 10]]]).commands(),
            [9, 4, 4, 18, 0, 16, 16, 0]
        );
        // 4.3.5.4, multilinestring: the cursor carries over from the first line.
        assert_eq!(
            Geometry::Lines(vec![vec![[2, 2], [2, 10], [10, 10]], vec![[1, 1], [3, 5]]]).commands(),
            [9, 4, 4, 18, 0, 16, 16, 0, 9, 17, 17, 10, 4, 8]
        );
    }

    #[test]
    fn varints_and_a_layer_as_bytes() {
        let mut b = Vec::new();
        varint(&mut b, 300);
        assert_eq!(b, [0xac, 0x02]);
        let mut l = Layer::new("a");
        l.add(
            None,
            &[("k", Some(Value::Int(1))), ("none", None)],
            &Geometry::Points(vec![[25, 17]]),
        );
        // version 2, name "a", the feature (tags [0, 0], type 1, geometry [9, 50, 34]), key "k",
        // value int 1, extent 4096.
        let feature = [0x12, 2, 0, 0, 0x18, 1, 0x22, 3, 9, 50, 34];
        let mut want = vec![0x78, 2, 0x0a, 1, b'a', 0x12, feature.len() as u8];
        want.extend_from_slice(&feature);
        want.extend_from_slice(&[0x1a, 1, b'k', 0x22, 2, 0x20, 1, 0x28, 0x80, 0x20]);
        assert_eq!(l.encode(), want);
        assert_eq!(encode_tile(&[l, Layer::new("empty")])[0], 0x1a);
        assert!(encode_tile(&[Layer::new("empty")]).is_empty());
        // Negative integers in sint_value (zigzag), doubles little-endian.
        assert_eq!(Value::Int(-3).encode(), [0x30, 5]);
        assert_eq!(Value::Double(1.0).encode()[0], 0x19);
        assert_eq!(Value::Bool(true).encode(), [0x38, 1]);
    }

    #[test]
    fn lines_are_clipped_into_the_parts_inside() {
        // In at x = 0, out at x = 10, back in and ending inside.
        let line = [
            (-5.0, 5.0),
            (5.0, 5.0),
            (15.0, 5.0),
            (15.0, 8.0),
            (5.0, 8.0),
        ];
        let parts = clip_line(&line, 0.0, 10.0);
        assert_eq!(
            parts,
            vec![
                vec![(0.0, 5.0), (5.0, 5.0), (10.0, 5.0)],
                vec![(10.0, 8.0), (5.0, 8.0)]
            ]
        );
        // A diagonal through a corner region, wholly outside.
        assert!(clip_line(&[(-5.0, 20.0), (20.0, 30.0)], 0.0, 10.0).is_empty());
        // A segment crossing the whole box.
        assert_eq!(
            clip_line(&[(-10.0, 0.0), (30.0, 20.0)], 0.0, 10.0),
            vec![vec![(0.0, 5.0), (10.0, 10.0)]]
        );
    }

    #[test]
    fn quantising_drops_repeated_points_and_simplifies() {
        assert_eq!(
            quantise_line(&[(0.2, 0.2), (0.4, -0.3), (3.0, 4.0)], 0.0),
            Some(vec![[0, 0], [3, 4]])
        );
        assert_eq!(quantise_line(&[(0.2, 0.2), (0.4, 0.1)], 0.0), None);
        // A bump of 0.5 units on a straight line goes at a tolerance of 1.
        assert_eq!(
            quantise_line(&[(0.0, 0.0), (50.0, 0.5), (100.0, 0.0)], 1.0),
            Some(vec![[0, 0], [100, 0]])
        );
    }
}
