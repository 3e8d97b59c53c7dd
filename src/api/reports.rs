//! Coordinators' side of citizen reports: the inbox, one report with its history, and triage.
//!
//! - `GET /api/v1/me`: `{"role": …}` for any caller (anonymous without a token).
//! - `GET /api/v1/reports?status=…&service_code=…&limit=…`: the inbox with contact details,
//!   newest first (`status` takes the fine statuses `open, acknowledged, in_progress, closed`,
//!   comma separated; default: everything not closed).
//! - `GET /api/v1/reports/{id}`: one report with contact details and its history.
//! - `PATCH /api/v1/reports/{id}` with JSON `{status?, status_notes?, agency_responsible?
//!   (kommunen | polisen | fastighetsägare | null), hidden?, merged_into?, reason?}`. Closing needs
//!   a `reason` (or `status_notes`); merging marks the report a duplicate and closes it. Every
//!   change is kept in the history with the token id and role of who made it.
//!
//! All but `/me` need the coordinator or admin role: 401 without a token, 403 with another role.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::AppState;
use super::auth::Caller;
use super::error::{ApiResult, AppError};
use super::open311::datetime;
use crate::crs;
use crate::model::{
    AGENCIES, Actor, CitizenReport, Contact, ReportChange, ReportStatus, Role, ServiceCode,
};
use crate::store::StoreError;
use crate::store::reports::ReportFilter;

const MAX_NOTES: usize = 2000;
const MAX_REASON: usize = 1000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/me", get(me))
        .route("/api/v1/reports", get(inbox))
        .route("/api/v1/reports/{id}", get(one).patch(change))
}

async fn me(caller: Caller) -> Json<Value> {
    Json(json!({ "role": caller.role.as_str() }))
}

/// The token id of the caller (`lb_<id>_<secret>`), for the history; the secret is not kept.
fn actor(caller: &Caller, headers: &HeaderMap) -> Actor {
    let id = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| t.trim().strip_prefix("lb_"))
        .and_then(|rest| rest.split_once('_'))
        .map(|(id, _)| format!("token:{id}"))
        .unwrap_or_else(|| caller.role.as_str().to_string());
    Actor::new(id, caller.role)
}

fn wgs84(p: geo::Point<f64>) -> (Value, Value) {
    match crs::to_wgs84(p.x(), p.y()) {
        Ok((lon, lat)) => (json!(crs::round7(lat)), json!(crs::round7(lon))),
        Err(_) => (Value::Null, Value::Null),
    }
}

/// A report as coordinators see it: everything, contact details included.
pub fn report_json(r: &CitizenReport, contact: Option<&Contact>) -> Value {
    let (lat, long) = wgs84(r.location);
    let (olat, olong) = wgs84(r.original_location);
    json!({
        "id": r.id,
        "service_code": r.service.as_str(),
        "service_name": r.service.name_sv(),
        "status": r.status.as_str(),
        "open311_status": r.status.open311(),
        "status_notes": r.status_notes,
        "agency_responsible": r.agency_responsible,
        "description": r.description,
        "hidden": r.hidden,
        "merged_into": r.merged_into,
        "lamp_id": r.lamp_id,
        "walkway_id": r.walkway_id,
        "address": r.address,
        "media_url": r.media_url,
        "attributes": r.attributes,
        "requested_datetime": datetime(r.requested_at),
        "updated_datetime": datetime(r.updated_at),
        "lat": lat,
        "long": long,
        "original_lat": olat,
        "original_long": olong,
        "contact": contact,
    })
}

fn store_err(e: StoreError) -> AppError {
    match e {
        StoreError::NotFound(what) => AppError::NotFound(format!("no {what}")),
        StoreError::Conflict(why) => AppError::Conflict(why),
        other => AppError::Store(other),
    }
}

async fn inbox(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Coordinator)?;
    let get = |name: &str| {
        q.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let mut filter = ReportFilter {
        limit: 1000,
        statuses: vec![
            ReportStatus::Open,
            ReportStatus::Acknowledged,
            ReportStatus::InProgress,
        ],
        ..ReportFilter::default()
    };
    if let Some(st) = get("status") {
        filter.statuses = st
            .split(',')
            .map(|s| {
                ReportStatus::parse(s.trim()).ok_or_else(|| {
                    AppError::BadRequest(format!(
                        "status {s:?}: use open, acknowledged, in_progress or closed"
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some(sc) = get("service_code") {
        filter.services = sc
            .split(',')
            .map(|s| {
                ServiceCode::parse(s.trim())
                    .ok_or_else(|| AppError::BadRequest(format!("service_code {s:?} is unknown")))
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some(l) = get("limit") {
        filter.limit = l
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=5000).contains(n))
            .ok_or_else(|| AppError::BadRequest(format!("limit {l:?}: 1 to 5000")))?;
    }
    let rows = state.store.list_reports(&filter).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let contacts = state.store.get_contacts(&ids).await?;
    let out: Vec<Value> = rows
        .iter()
        .map(|r| report_json(r, contacts.get(&r.id)))
        .collect();
    Ok(Json(json!({ "reports": out, "count": out.len() })))
}

async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Coordinator)?;
    let r = state
        .store
        .get_report(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no report {id}")))?;
    let contact = state.store.get_contact(id).await?;
    let history = state.store.report_history(id).await?;
    let mut v = report_json(&r, contact.as_ref());
    v["history"] = json!(history);
    Ok(Json(v))
}

/// Reads the PATCH body, saying exactly which field is wrong.
pub fn parse_change(body: &Value) -> Result<ReportChange, AppError> {
    let obj = body
        .as_object()
        .ok_or_else(|| AppError::BadRequest("the body must be a JSON object".into()))?;
    let mut c = ReportChange::default();
    let text = |k: &str, v: &Value, max: usize| -> Result<Option<String>, AppError> {
        match v {
            Value::Null => Ok(None),
            Value::String(s) if s.chars().count() <= max => {
                // Shown in Open311's XML: only characters XML can carry.
                crate::text::check_xml_text(k, s).map_err(AppError::BadRequest)?;
                let s = s.trim();
                Ok((!s.is_empty()).then(|| s.to_string()))
            }
            Value::String(_) => Err(AppError::BadRequest(format!(
                "{k} is longer than {max} characters"
            ))),
            _ => Err(AppError::BadRequest(format!(
                "{k} must be a string or null"
            ))),
        }
    };
    for (k, v) in obj {
        match k.as_str() {
            "status" => {
                let s = v.as_str().and_then(ReportStatus::parse).ok_or_else(|| {
                    AppError::BadRequest(format!(
                        "status {v}: use open, acknowledged, in_progress or closed"
                    ))
                })?;
                c.status = Some(s);
            }
            "status_notes" => c.status_notes = Some(text(k, v, MAX_NOTES)?),
            "agency_responsible" => {
                let a = text(k, v, 100)?;
                if let Some(a) = a.as_ref().filter(|a| !AGENCIES.contains(&a.as_str())) {
                    return Err(AppError::BadRequest(format!(
                        "agency_responsible {a:?}: use {} or null",
                        AGENCIES.join(", ")
                    )));
                }
                c.agency_responsible = Some(a);
            }
            "hidden" => {
                c.hidden =
                    Some(v.as_bool().ok_or_else(|| {
                        AppError::BadRequest("hidden must be true or false".into())
                    })?)
            }
            "merged_into" => {
                c.merged_into = Some(v.as_i64().ok_or_else(|| {
                    AppError::BadRequest("merged_into must be a report id (a number)".into())
                })?)
            }
            "reason" => c.reason = text(k, v, MAX_REASON)?,
            other => {
                return Err(AppError::BadRequest(format!(
                    "unknown field {other:?}: the fields are status, status_notes, agency_responsible, hidden, merged_into, reason"
                )));
            }
        }
    }
    if c.is_empty() {
        return Err(AppError::BadRequest(
            "nothing to change: give status, status_notes, agency_responsible, hidden or merged_into"
                .into(),
        ));
    }
    Ok(c)
}

async fn change(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Coordinator)?;
    let Json(body) =
        body.map_err(|e| AppError::BadRequest(format!("the body must be JSON: {e}")))?;
    let mut c = parse_change(&body)?;
    let current = state
        .store
        .get_report(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no report {id}")))?;
    let closes = c.status == Some(ReportStatus::Closed) && current.status != ReportStatus::Closed;
    if closes && c.merged_into.is_none() {
        if c.reason.is_none() {
            c.reason = c.status_notes.clone().flatten();
        }
        if c.reason.is_none() {
            return Err(AppError::BadRequest(
                "closing a report needs a reason (or status_notes) saying what was done".into(),
            ));
        }
    }
    let who = actor(&caller, &headers);
    let updated = state
        .store
        .update_report(id, &c, &who)
        .await
        .map_err(store_err)?;
    let publisher = &state.report_publisher;
    if c.merged_into.is_some() {
        // A merge may move other reports too (those merged into this one follow it).
        publisher
            .after_commit_reload(&state.spatial, state.store.as_ref())
            .await?;
    } else {
        publisher
            .after_commit(&state.spatial, state.store.as_ref(), updated.clone())
            .await?;
    }
    tracing::info!(id, actor = %who.id, status = updated.status.as_str(), "report changed");
    let contact = state.store.get_contact(id).await?;
    let history = state.store.report_history(id).await?;
    let mut v = report_json(&updated, contact.as_ref());
    v["history"] = json!(history);
    Ok(Json(v))
}

/// OpenAPI 3.1 `paths` entries of the coordinator endpoints.
pub fn openapi_paths() -> Value {
    let auth = json!([{"bearer": []}]);
    let err = |d: &str| {
        json!({"description": d, "content": {"application/json": {"schema": {"type": "object",
        "properties": {"error": {"type": "string"}, "status": {"type": "integer"}}}}}})
    };
    let id = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}});
    json!({
        "/api/v1/me": {"get": {"summary": "The caller's role", "tags": ["auth"],
            "responses": {"200": {"description": "{role}", "content": {"application/json": {"schema": {"type": "object",
                "properties": {"role": {"type": "string", "enum": ["anonymous", "police", "coordinator", "admin"]}}}}}},
                "401": err("invalid token")}}},
        "/api/v1/reports": {"get": {"summary": "Report inbox with contact details (coordinator)", "tags": ["reports"],
            "security": auth,
            "parameters": [
                {"name": "status", "in": "query", "schema": {"type": "string"}, "description": "open, acknowledged, in_progress, closed (comma list); default all but closed"},
                {"name": "service_code", "in": "query", "schema": {"type": "string"}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 5000}}],
            "responses": {"200": {"description": "{reports: [...], count}"}, "400": err("bad filter"),
                "401": err("no or invalid token"), "403": err("role is not coordinator or admin")}}},
        "/api/v1/reports/{id}": {
            "get": {"summary": "One report with contact details and history (coordinator)", "tags": ["reports"],
                "security": auth, "parameters": [id],
                "responses": {"200": {"description": "report"}, "401": err("no or invalid token"),
                    "403": err("wrong role"), "404": err("no such report")}},
            "patch": {"summary": "Triage: status, notes, agency, hide, merge, close with a reason (coordinator)", "tags": ["reports"],
                "security": auth, "parameters": [id],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object",
                    "additionalProperties": false, "properties": {
                        "status": {"type": "string", "enum": ["open", "acknowledged", "in_progress", "closed"]},
                        "status_notes": {"type": ["string", "null"], "maxLength": MAX_NOTES},
                        "agency_responsible": {"type": ["string", "null"], "enum": ["kommunen", "polisen", "fastighetsägare", null]},
                        "hidden": {"type": "boolean"}, "merged_into": {"type": "integer"},
                        "reason": {"type": "string", "maxLength": MAX_REASON}}}}}},
                "responses": {"200": {"description": "the changed report with history"}, "400": err("invalid change"),
                    "401": err("no or invalid token"), "403": err("wrong role"), "404": err("no such report"),
                    "409": err("merge conflict")}}}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_bodies_are_checked_field_by_field() {
        let c = parse_change(&json!({"status": "in_progress", "agency_responsible": "polisen"}))
            .unwrap();
        assert_eq!(c.status, Some(ReportStatus::InProgress));
        assert_eq!(c.agency_responsible, Some(Some("polisen".into())));
        let c = parse_change(&json!({"agency_responsible": null})).unwrap();
        assert_eq!(c.agency_responsible, Some(None));
        for bad in [
            json!({"status": "done"}),
            json!({"agency_responsible": "brandkåren"}),
            json!({"hidden": "yes"}),
            json!({"merged_into": "seven"}),
            json!({"colour": "red"}),
            json!({"reason": "only a reason"}),
            json!([1, 2]),
        ] {
            assert!(parse_change(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn notes_and_reasons_must_be_text_xml_can_carry() {
        for (field, bad) in [
            ("status_notes", "Åtgärdat\u{B}"),
            ("reason", "Dubblett\u{0}"),
            ("status_notes", "Klart\u{FFFE}"),
        ] {
            let body = json!({ "status": "closed", field: bad });
            match parse_change(&body) {
                Err(AppError::BadRequest(m)) => {
                    assert!(m.starts_with(&format!("{field} contains U+")), "{m}");
                    let at = bad.chars().count();
                    assert!(m.contains(&format!("at position {at} ")), "{m}");
                }
                other => panic!("{field} {bad:?}: {other:?}"),
            }
        }
        assert!(parse_change(&json!({"status_notes": "rad 1\nrad 2\ttab"})).is_ok());
    }
}
