//! EPSG:3006 geometry as RFC 7946 GeoJSON in WGS84, for every endpoint that answers with it.

use geo::{LineString, MultiPolygon, Polygon};
use serde_json::{Value, json};

use super::{ApiResult, AppError};
use crate::crs;

/// EPSG:3006 → `[lon, lat]`, rounded to 7 decimals (about 1 cm).
pub fn lonlat(p: [f64; 2]) -> ApiResult<Value> {
    let (lon, lat) = crs::to_wgs84(p[0], p[1]).map_err(AppError::internal)?;
    Ok(json!([crs::round7(lon), crs::round7(lat)]))
}

/// A ring's positions, transformed in one PROJ call.
fn ring(ls: &LineString<f64>) -> ApiResult<Value> {
    let mut c: Vec<(f64, f64)> = ls.0.iter().map(|c| (c.x, c.y)).collect();
    crs::transform_in_place(crs::WORK_EPSG, crs::WGS84_EPSG, &mut c).map_err(AppError::internal)?;
    Ok(Value::Array(
        c.into_iter()
            .map(|(lon, lat)| json!([crs::round7(lon), crs::round7(lat)]))
            .collect(),
    ))
}

/// An EPSG:3006 polygon as a WGS84 GeoJSON geometry.
pub fn polygon_json(p: &Polygon<f64>) -> ApiResult<Value> {
    let mut rings = vec![ring(p.exterior())?];
    for hole in p.interiors() {
        rings.push(ring(hole)?);
    }
    Ok(json!({ "type": "Polygon", "coordinates": rings }))
}

/// An EPSG:3006 multipolygon as a WGS84 GeoJSON geometry.
pub fn multipolygon_json(m: &MultiPolygon<f64>) -> ApiResult<Value> {
    let polys = m
        .iter()
        .map(|p| polygon_json(p).map(|v| v["coordinates"].clone()))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(json!({ "type": "MultiPolygon", "coordinates": polys }))
}
