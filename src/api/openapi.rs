//! The OpenAPI 3.1 description served at `/api/openapi.json`, derived from the types: every
//! route is registered through `utoipa_axum`'s `routes!`, which records the handler's
//! `#[utoipa::path]` (its query types' `IntoParams`, its answer types' `ToSchema`) in the same
//! act, so the router and the document cannot disagree.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The document's fixed part; the paths come from the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lägesbild",
        description = "Crime hotspots, dark walkways and citizen reports for a municipality and its police. Geometry is RFC 7946 GeoJSON in WGS84. Anonymous callers see only the public product: aggregates over public cells with at least `min_public_count` events, counts in tens; coordinators and police authenticate with `Authorization: Bearer <token>`."
    ),
    paths(openapi_json),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "meta",
    responses((status = 200, description = "OpenAPI 3.1", content_type = "application/json"))
)]
#[allow(dead_code)]
fn openapi_json() {}

/// The whole document as JSON.
pub fn document(derived: utoipa::openapi::OpenApi) -> serde_json::Value {
    serde_json::to_value(derived).expect("the OpenAPI document serialises")
}
