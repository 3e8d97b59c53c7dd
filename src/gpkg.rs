//! A GeoPackage writer (OGC 12-128r18, GeoPackage 1.3): feature layers in EPSG:3006, written
//! with the SQLite the project already links (a GeoPackage is an SQLite file).
//!
//! What the standard requires of a file with vector features, and what is written:
//! - `PRAGMA application_id` = `GPKG` (0x47504B47) and `user_version` = 10300;
//! - `gpkg_spatial_ref_sys` with the three required rows (−1 undefined Cartesian, 0 undefined
//!   geographic, 4326 WGS 84) and SWEREF 99 TM (3006);
//! - `gpkg_contents` with one `features` row per layer and its bounds;
//! - `gpkg_geometry_columns` naming each layer's geometry column, type and SRS;
//! - one table per layer: `fid INTEGER PRIMARY KEY AUTOINCREMENT`, `geom` in GeoPackage binary
//!   (a `GP` header with version, flags, SRS id and the envelope, then little-endian WKB),
//!   and the attribute columns.
//!
//! The file is written to a temporary name beside the target and renamed when complete: a
//! failed export never leaves a half-written GeoPackage under the name asked for.

use std::path::{Path, PathBuf};

use geo::{LineString, MultiPolygon, Point, Polygon};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection};

/// SWEREF 99 TM as the OGC WKT GeoPackage readers expect.
const SWEREF99_TM_WKT: &str = r#"PROJCS["SWEREF99 TM",GEOGCS["SWEREF99",DATUM["SWEREF99",SPHEROID["GRS 1980",6378137,298.257222101,AUTHORITY["EPSG","7019"]],AUTHORITY["EPSG","6619"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4619"]],PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",15],PARAMETER["scale_factor",0.9996],PARAMETER["false_easting",500000],PARAMETER["false_northing",0],UNIT["metre",1,AUTHORITY["EPSG","9001"]],AXIS["Easting",EAST],AXIS["Northing",NORTH],AUTHORITY["EPSG","3006"]]"#;
const WGS84_WKT: &str = r#"GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]"#;

/// The SRS of every layer written.
pub const SRS_ID: i32 = 3006;

/// A geometry in EPSG:3006.
#[derive(Debug, Clone, PartialEq)]
pub enum Geom {
    Point(Point<f64>),
    LineString(LineString<f64>),
    MultiPolygon(MultiPolygon<f64>),
}

impl Geom {
    fn envelope(&self) -> Option<[f64; 4]> {
        let mut e = [
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        let mut add = |x: f64, y: f64| {
            e = [e[0].min(x), e[1].max(x), e[2].min(y), e[3].max(y)];
        };
        match self {
            Geom::Point(p) => add(p.x(), p.y()),
            Geom::LineString(l) => l.0.iter().for_each(|c| add(c.x, c.y)),
            Geom::MultiPolygon(m) => {
                m.0.iter()
                    .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
                    .flat_map(|r| r.0.iter())
                    .for_each(|c| add(c.x, c.y))
            }
        }
        e[0].is_finite().then_some(e)
    }

    /// GeoPackage binary: the `GP` header (version 0; flags: little endian, envelope
    /// `[minx, maxx, miny, maxy]`, or the empty flag and no envelope), then WKB.
    pub fn to_gpkg(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(64);
        b.extend_from_slice(b"GP");
        b.push(0);
        match self.envelope() {
            Some(e) => {
                b.push(0b0000_0011);
                b.extend_from_slice(&SRS_ID.to_le_bytes());
                for v in e {
                    b.extend_from_slice(&v.to_le_bytes());
                }
            }
            None => {
                b.push(0b0001_0001);
                b.extend_from_slice(&SRS_ID.to_le_bytes());
            }
        }
        self.wkb(&mut b);
        b
    }

    fn wkb(&self, b: &mut Vec<u8>) {
        fn head(b: &mut Vec<u8>, kind: u32) {
            b.push(1);
            b.extend_from_slice(&kind.to_le_bytes());
        }
        fn coords<'a>(b: &mut Vec<u8>, pts: impl ExactSizeIterator<Item = &'a geo::Coord<f64>>) {
            b.extend_from_slice(&(pts.len() as u32).to_le_bytes());
            for c in pts {
                b.extend_from_slice(&c.x.to_le_bytes());
                b.extend_from_slice(&c.y.to_le_bytes());
            }
        }
        fn polygon(b: &mut Vec<u8>, p: &Polygon<f64>) {
            head(b, 3);
            b.extend_from_slice(&(1 + p.interiors().len() as u32).to_le_bytes());
            for r in std::iter::once(p.exterior()).chain(p.interiors()) {
                coords(b, r.0.iter());
            }
        }
        match self {
            Geom::Point(p) => {
                head(b, 1);
                b.extend_from_slice(&p.x().to_le_bytes());
                b.extend_from_slice(&p.y().to_le_bytes());
            }
            Geom::LineString(l) => {
                head(b, 2);
                coords(b, l.0.iter());
            }
            Geom::MultiPolygon(m) => {
                head(b, 6);
                b.extend_from_slice(&(m.0.len() as u32).to_le_bytes());
                for p in &m.0 {
                    polygon(b, p);
                }
            }
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Geom::Point(_) => "POINT",
            Geom::LineString(_) => "LINESTRING",
            Geom::MultiPolygon(_) => "MULTIPOLYGON",
        }
    }
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        v.map_or(Value::Null, Value::Text)
    }
}

impl From<Option<f64>> for Value {
    fn from(v: Option<f64>) -> Self {
        v.map_or(Value::Null, Value::Real)
    }
}

/// A column's SQLite type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Integer,
    Real,
    Text,
}

impl ColumnType {
    fn sql(self) -> &'static str {
        match self {
            Self::Integer => "INTEGER",
            Self::Real => "REAL",
            Self::Text => "TEXT",
        }
    }
}

/// One feature layer: a table of rows with one geometry type.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Table name: lowercase letters, digits and `_`.
    pub name: &'static str,
    pub description: String,
    /// `POINT`, `LINESTRING` or `MULTIPOLYGON`.
    pub geometry_type: &'static str,
    pub columns: Vec<(&'static str, ColumnType)>,
    pub rows: Vec<(Geom, Vec<Value>)>,
}

/// What was written: each layer's name and rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub path: PathBuf,
    pub layers: Vec<(&'static str, usize)>,
}

fn check_name(n: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        "GeoPackage table or column name {n:?}: use lowercase letters, digits and _"
    );
    Ok(())
}

/// Writes `layers` to a new GeoPackage at `path` (replacing a file there only when complete).
pub async fn write(path: &Path, layers: &[Layer]) -> anyhow::Result<Written> {
    for l in layers {
        check_name(l.name)?;
        for (c, _) in &l.columns {
            check_name(c)?;
        }
        for (i, (g, values)) in l.rows.iter().enumerate() {
            anyhow::ensure!(
                g.type_name() == l.geometry_type,
                "layer {}: row {} has a {} in a {} layer",
                l.name,
                i + 1,
                g.type_name(),
                l.geometry_type
            );
            anyhow::ensure!(
                values.len() == l.columns.len(),
                "layer {}: row {} has {} values for {} columns",
                l.name,
                i + 1,
                values.len(),
                l.columns.len()
            );
        }
    }
    let tmp = path.with_extension("gpkg.partial");
    let _ = std::fs::remove_file(&tmp);
    let result = write_to(&tmp, layers).await;
    match result {
        Ok(()) => {
            std::fs::rename(&tmp, path)?;
            Ok(Written {
                path: path.to_path_buf(),
                layers: layers.iter().map(|l| (l.name, l.rows.len())).collect(),
            })
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

async fn write_to(path: &Path, layers: &[Layer]) -> anyhow::Result<()> {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Delete)
        .connect()
        .await?;
    sqlx::query("PRAGMA application_id = 1196444487")
        .execute(&mut conn)
        .await?;
    sqlx::query("PRAGMA user_version = 10300")
        .execute(&mut conn)
        .await?;
    let mut tx = conn.begin().await?;
    for stmt in [
        "CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY, organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT)",
        "CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE, description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER, CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))",
        "CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL, CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name), CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name), CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))",
    ] {
        sqlx::query(stmt).execute(&mut *tx).await?;
    }
    for (name, id, org, org_id, def, desc) in [
        (
            "Undefined cartesian SRS",
            -1,
            "NONE",
            -1,
            "undefined",
            "undefined cartesian coordinate reference system",
        ),
        (
            "Undefined geographic SRS",
            0,
            "NONE",
            0,
            "undefined",
            "undefined geographic coordinate reference system",
        ),
        (
            "WGS 84 geodetic",
            4326,
            "EPSG",
            4326,
            WGS84_WKT,
            "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid",
        ),
        (
            "SWEREF99 TM",
            SRS_ID,
            "EPSG",
            SRS_ID,
            SWEREF99_TM_WKT,
            "SWEREF 99 TM, the Swedish national grid (metres)",
        ),
    ] {
        sqlx::query("INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)")
            .bind(name)
            .bind(id)
            .bind(org)
            .bind(org_id)
            .bind(def)
            .bind(desc)
            .execute(&mut *tx)
            .await?;
    }
    for l in layers {
        let cols: String = l
            .columns
            .iter()
            .map(|(c, t)| format!(", \"{c}\" {}", t.sql()))
            .collect();
        let create = format!(
            "CREATE TABLE \"{}\" (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, geom {}{cols})",
            l.name, l.geometry_type
        );
        sqlx::query(sqlx::AssertSqlSafe(create))
            .execute(&mut *tx)
            .await?;
        // fid, the geometry, then the columns in their order.
        let insert = format!(
            "INSERT INTO \"{}\" VALUES (NULL, ?{})",
            l.name,
            ", ?".repeat(l.columns.len())
        );
        let mut bounds = [
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for (g, values) in &l.rows {
            if let Some(e) = g.envelope() {
                bounds = [
                    bounds[0].min(e[0]),
                    bounds[1].max(e[1]),
                    bounds[2].min(e[2]),
                    bounds[3].max(e[3]),
                ];
            }
            let mut q = sqlx::query(sqlx::AssertSqlSafe(insert.as_str())).bind(g.to_gpkg());
            for v in values {
                q = match v {
                    Value::Null => q.bind(None::<String>),
                    Value::Int(i) => q.bind(*i),
                    Value::Real(r) => q.bind(*r),
                    Value::Text(t) => q.bind(t.as_str()),
                };
            }
            q.execute(&mut *tx).await?;
        }
        let b = bounds[0].is_finite().then_some(bounds);
        sqlx::query("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, min_x, min_y, max_x, max_y, srs_id) VALUES (?, 'features', ?, ?, ?, ?, ?, ?, ?)")
            .bind(l.name)
            .bind(l.name)
            .bind(&l.description)
            .bind(b.map(|b| b[0]))
            .bind(b.map(|b| b[2]))
            .bind(b.map(|b| b[1]))
            .bind(b.map(|b| b[3]))
            .bind(SRS_ID)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, ?, 0, 0)")
            .bind(l.name)
            .bind(l.geometry_type)
            .bind(SRS_ID)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    conn.close().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_binary_by_hand() {
        let b = Geom::Point(Point::new(1.0, 2.0)).to_gpkg();
        // GP, version 0, flags 3 (envelope xy, little endian), srs 3006, 4 doubles, WKB point.
        assert_eq!(&b[..4], &[b'G', b'P', 0, 3]);
        assert_eq!(i32::from_le_bytes(b[4..8].try_into().unwrap()), 3006);
        let d = |k: usize| f64::from_le_bytes(b[k..k + 8].try_into().unwrap());
        assert_eq!([d(8), d(16), d(24), d(32)], [1.0, 1.0, 2.0, 2.0]);
        assert_eq!(b[40], 1);
        assert_eq!(u32::from_le_bytes(b[41..45].try_into().unwrap()), 1);
        assert_eq!((d(45), d(53)), (1.0, 2.0));
        assert_eq!(b.len(), 61);
    }
}
