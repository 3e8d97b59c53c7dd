//! Well-known binary for the three geometry types the store keeps: points, line strings and
//! multipolygons, 2D.
//!
//! Geometries go to PostGIS as WKB (`ST_GeomFromWKB(…, 3006)`) and come back as WKB
//! (`ST_AsBinary`): the coordinates travel as the f64 bits they are, so a round trip is exact.
//! What does not parse is [`StoreError::Corrupt`], naming what was wrong.

use geo::{Coord, LineString, MultiPolygon, Point, Polygon};

use crate::store::{StoreError, StoreResult};

const POINT: u32 = 1;
const LINESTRING: u32 = 2;
const POLYGON: u32 = 3;
const MULTIPOLYGON: u32 = 6;

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_coord(out: &mut Vec<u8>, c: Coord<f64>) {
    out.extend_from_slice(&c.x.to_le_bytes());
    out.extend_from_slice(&c.y.to_le_bytes());
}

fn put_count(out: &mut Vec<u8>, n: usize, what: &str) -> StoreResult<()> {
    let n = u32::try_from(n)
        .map_err(|_| StoreError::Conflict(format!("{what} with {n} parts is too large for WKB")))?;
    put_u32(out, n);
    Ok(())
}

fn put_ring(out: &mut Vec<u8>, ring: &LineString<f64>) -> StoreResult<()> {
    put_count(out, ring.0.len(), "polygon ring")?;
    for c in &ring.0 {
        put_coord(out, *c);
    }
    Ok(())
}

/// Little-endian WKB of a point (21 bytes).
pub(crate) fn point(out: &mut Vec<u8>, p: Point<f64>) {
    out.push(1);
    put_u32(out, POINT);
    put_coord(out, p.0);
}

/// Little-endian WKB of a line string.
pub(crate) fn linestring(out: &mut Vec<u8>, ls: &LineString<f64>) -> StoreResult<()> {
    out.push(1);
    put_u32(out, LINESTRING);
    put_count(out, ls.0.len(), "line string")?;
    for c in &ls.0 {
        put_coord(out, *c);
    }
    Ok(())
}

/// Little-endian WKB of a multipolygon.
pub(crate) fn multipolygon(out: &mut Vec<u8>, mp: &MultiPolygon<f64>) -> StoreResult<()> {
    out.push(1);
    put_u32(out, MULTIPOLYGON);
    put_count(out, mp.0.len(), "multipolygon")?;
    for poly in &mp.0 {
        out.push(1);
        put_u32(out, POLYGON);
        put_count(out, 1 + poly.interiors().len(), "polygon")?;
        put_ring(out, poly.exterior())?;
        for ring in poly.interiors() {
            put_ring(out, ring)?;
        }
    }
    Ok(())
}

/// Reads WKB of either byte order; `what` names the geometry in errors.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    little: bool,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self {
            buf,
            pos: 0,
            little: true,
            what,
        }
    }

    fn corrupt(&self, why: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt(format!(
            "{} geometry ({} bytes of WKB): {why} at byte {}",
            self.what,
            self.buf.len(),
            self.pos
        ))
    }

    fn take<const N: usize>(&mut self) -> StoreResult<[u8; N]> {
        let end = self.pos + N;
        let bytes = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| self.corrupt("unexpected end"))?;
        self.pos = end;
        Ok(bytes.try_into().expect("slice of N bytes"))
    }

    fn u32(&mut self) -> StoreResult<u32> {
        let b = self.take::<4>()?;
        Ok(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn f64(&mut self) -> StoreResult<f64> {
        let b = self.take::<8>()?;
        Ok(if self.little {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        })
    }

    /// A geometry's header: byte order, then the type, which must be `want` (2D, no SRID).
    fn header(&mut self, want: u32) -> StoreResult<()> {
        let [order] = self.take::<1>()?;
        self.little = match order {
            0 => false,
            1 => true,
            other => return Err(self.corrupt(format_args!("byte order {other}"))),
        };
        let ty = self.u32()?;
        if ty != want {
            return Err(self.corrupt(format_args!(
                "geometry type {ty} where type {want} was expected"
            )));
        }
        Ok(())
    }

    /// A count of parts, checked against the bytes left (each part at least `min_bytes`), so
    /// that a corrupt count cannot ask for a huge allocation.
    fn count(&mut self, min_bytes: usize) -> StoreResult<usize> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_bytes) > self.buf.len() - self.pos {
            return Err(self.corrupt(format_args!("{n} parts do not fit in what is left")));
        }
        Ok(n)
    }

    fn coord(&mut self) -> StoreResult<Coord<f64>> {
        Ok(Coord {
            x: self.f64()?,
            y: self.f64()?,
        })
    }

    fn coords(&mut self) -> StoreResult<LineString<f64>> {
        let n = self.count(16)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.coord()?);
        }
        Ok(LineString(out))
    }

    fn end(self) -> StoreResult<()> {
        if self.pos != self.buf.len() {
            return Err(self.corrupt("trailing bytes"));
        }
        Ok(())
    }
}

pub(crate) fn read_point(buf: &[u8], what: &'static str) -> StoreResult<Point<f64>> {
    let mut r = Reader::new(buf, what);
    r.header(POINT)?;
    let c = r.coord()?;
    r.end()?;
    Ok(Point(c))
}

pub(crate) fn read_linestring(buf: &[u8], what: &'static str) -> StoreResult<LineString<f64>> {
    let mut r = Reader::new(buf, what);
    r.header(LINESTRING)?;
    let ls = r.coords()?;
    r.end()?;
    Ok(ls)
}

pub(crate) fn read_multipolygon(buf: &[u8], what: &'static str) -> StoreResult<MultiPolygon<f64>> {
    let mut r = Reader::new(buf, what);
    r.header(MULTIPOLYGON)?;
    let n = r.count(9)?;
    let mut polys = Vec::with_capacity(n);
    for _ in 0..n {
        r.header(POLYGON)?;
        let rings = r.count(4)?;
        if rings == 0 {
            return Err(r.corrupt("a polygon without rings"));
        }
        let exterior = r.coords()?;
        let mut interiors = Vec::with_capacity(rings - 1);
        for _ in 1..rings {
            interiors.push(r.coords()?);
        }
        polys.push(Polygon::new(exterior, interiors));
    }
    r.end()?;
    Ok(MultiPolygon(polys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometries_round_trip_bit_for_bit() {
        let p = Point::new(674_032.123_456_789, 6_580_001.000_000_1);
        let mut b = Vec::new();
        point(&mut b, p);
        assert_eq!(b.len(), 21);
        assert_eq!(read_point(&b, "test").unwrap(), p);

        let ls = LineString::from(vec![(1.5, -2.25), (0.1 + 0.2, 1e-300), (f64::MAX, 3.0)]);
        let mut b = Vec::new();
        linestring(&mut b, &ls).unwrap();
        assert_eq!(read_linestring(&b, "test").unwrap(), ls);

        let square = |o: f64| LineString::from(vec![(o, o), (o + 1.0, o), (o + 1.0, o + 1.0)]);
        let mp = MultiPolygon(vec![
            Polygon::new(square(0.0), vec![square(0.25)]),
            Polygon::new(square(5.0), vec![]),
        ]);
        let mut b = Vec::new();
        multipolygon(&mut b, &mp).unwrap();
        assert_eq!(read_multipolygon(&b, "test").unwrap(), mp);
    }

    #[test]
    fn big_endian_is_read_too() {
        let mut b = vec![0];
        b.extend_from_slice(&1u32.to_be_bytes());
        b.extend_from_slice(&2.5f64.to_be_bytes());
        b.extend_from_slice(&(-7.0f64).to_be_bytes());
        assert_eq!(read_point(&b, "test").unwrap(), Point::new(2.5, -7.0));
    }

    #[test]
    fn bad_wkb_is_corrupt_and_says_why() {
        let mut b = Vec::new();
        point(&mut b, Point::new(1.0, 2.0));
        let msg = |r: StoreResult<_>| match r {
            Err(StoreError::Corrupt(m)) => m,
            other => panic!("expected Corrupt, got {other:?}"),
        };
        let m = msg(read_linestring(&b, "walkway").map(|_| ()));
        assert!(m.contains("walkway") && m.contains("type 1"), "{m}");
        let m = msg(read_point(&b[..15], "lamp").map(|_| ()));
        assert!(m.contains("lamp") && m.contains("unexpected end"), "{m}");
        let mut long = b.clone();
        long.push(0);
        assert!(msg(read_point(&long, "incident").map(|_| ())).contains("trailing"));
        let mut huge = vec![1];
        huge.extend_from_slice(&2u32.to_le_bytes());
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(msg(read_linestring(&huge, "walkway").map(|_| ())).contains("do not fit"));
        let m = msg(read_point(&[7, 1, 0, 0, 0], "lamp").map(|_| ()));
        assert!(m.contains("byte order 7"), "{m}");
    }
}
