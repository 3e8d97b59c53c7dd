//! The OpenAPI 3.1 description served at `/api/openapi.json`, assembled from each API module's
//! own `openapi_paths()`.

use serde_json::{Value, json};

fn core_paths() -> Value {
    json!({
        "/health": {
            "get": {
                "summary": "Liveness and what the server has loaded",
                "responses": { "200": { "description": "`{status, demo, data_version, snapshot, loaded: {incidents, walkways, lamps, reports, areas}}`" } }
            }
        },
        "/api/openapi.json": {
            "get": { "summary": "This document", "responses": { "200": { "description": "OpenAPI 3.1" } } }
        }
    })
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for part in [
        core_paths(),
        super::hotspots::openapi_paths(),
        super::lighting::openapi_paths(),
        super::open311::openapi_paths(),
        super::reports::openapi_paths(),
        super::lagesbild::openapi_paths(),
        super::patrol::openapi_paths(),
        super::web::openapi_paths(),
    ] {
        if let Value::Object(m) = part {
            paths.extend(m);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Lägesbild",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Crime hotspots, dark walkways and citizen reports for a municipality and its police. Geometry is RFC 7946 GeoJSON in WGS84. Anonymous callers see only aggregates with at least `min_public_count` events; coordinators and police authenticate with `Authorization: Bearer <token>`."
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } }
        },
        "paths": Value::Object(paths)
    })
}
