//! From a submitted form to a [`NewReport`]: validation, then placement on the map.
//!
//! Validation follows Open311 GeoReport v2's `POST requests` arguments and this service's abuse
//! limits: `service_code` is required; `lat` and `long` come together (or an `address_string` that
//! names a walkway or district we know); the point must be inside the configured service area;
//! `description` holds at most [`MAX_DESCRIPTION_CHARS`] characters; `media_url` must be http(s);
//! attributes must be those of the service. Every problem is reported, not only the first.
//!
//! Placement snaps the point to the nearest walkway within [`SNAP_WALKWAY_M`] metres (the
//! citizen's own point is kept beside it) and attaches a broken-lamp report to the lamp the
//! citizen named (`attribute[lamp_ref]`) or else the nearest lamp within [`ATTACH_LAMP_M`].

use chrono::{DateTime, Utc};
use geo::{Distance, Euclidean, InterpolatableLine, Point};
use serde_json::{Map, Value};

use super::services;
use crate::crs::{self, ServiceArea};
use crate::model::{Contact, ServiceCode};
use crate::spatial::{LampLayer, Snapshot, WalkwayLayer};
use crate::store::reports::NewReport;
use crate::text::check_xml_text;

pub const MAX_DESCRIPTION_CHARS: usize = 4000;
pub const SNAP_WALKWAY_M: f64 = 30.0;
pub const ATTACH_LAMP_M: f64 = 20.0;
/// A lamp named by its number is accepted this far from the citizen's point.
pub const NAMED_LAMP_M: f64 = 150.0;
const MAX_URL: usize = 2000;
const MAX_NAME: usize = 100;
const MAX_EMAIL: usize = 254;
const MAX_PHONE: usize = 40;
const MAX_ADDRESS: usize = 300;
const MAX_CLIENT_TOKEN: usize = 200;

/// The dedupe hash of a submission: the same client sending the same thing twice gives the same
/// hash. `client` is whatever identifies the sender (its IP address); it is hashed, not stored.
pub fn content_hash(
    client: &str,
    service: ServiceCode,
    description: &str,
    original_location: Point<f64>,
    address: Option<&str>,
    media_url: Option<&str>,
    attributes: &serde_json::Value,
) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [
        client,
        service.as_str(),
        description,
        // Centimetres: a client re-sending the same form gives the same numbers.
        &format!("{:.2},{:.2}", original_location.x(), original_location.y()),
        address.unwrap_or(""),
        media_url.unwrap_or(""),
        &attributes.to_string(),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// A submission as parsed from the form, before it is placed.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub service: ServiceCode,
    /// WGS84 `(lat, long)` when given.
    pub lat_long: Option<(f64, f64)>,
    pub address_string: Option<String>,
    pub description: String,
    pub media_url: Option<String>,
    pub contact: Contact,
    pub attributes: Map<String, Value>,
    pub client_token: Option<String>,
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

fn bounded(
    fields: &[(String, String)],
    name: &str,
    max: usize,
    errors: &mut Vec<String>,
) -> Option<String> {
    let v = field(fields, name)?;
    if v.chars().count() > max {
        errors.push(format!("{name} is longer than {max} characters"));
        return None;
    }
    Some(v.to_string())
}

fn coordinate(v: &str, name: &str, limit: f64, errors: &mut Vec<String>) -> Option<f64> {
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && x.abs() <= limit => Some(x),
        Ok(_) => {
            let what = if name == "lat" {
                "a latitude (-90 to 90)"
            } else {
                "a longitude (-180 to 180)"
            };
            errors.push(format!("{name} {v} is not {what}"));
            None
        }
        Err(_) => {
            errors.push(format!(
                "{name} {v:?} is not a number (decimal degrees, WGS84)"
            ));
            None
        }
    }
}

/// Checks that a URL is http(s) with a host.
pub fn check_media_url(url: &str) -> Result<(), String> {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(|| format!("media_url must be an http:// or https:// address, not {url:?}"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("media_url {url:?} is not a valid web address"));
    }
    Ok(())
}

/// Decodes an `application/x-www-form-urlencoded` body: `&`-separated `name=value` pairs, `+` for
/// a space, `%XX` for a byte (a `%` not followed by two hex digits is kept as it is). A name or
/// value whose bytes are not UTF-8 is refused, naming the field, rather than silently altered.
pub fn decode_form(body: &[u8]) -> Result<Vec<(String, String)>, Vec<String>> {
    let mut fields = Vec::new();
    let mut errors = Vec::new();
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        let name = match String::from_utf8(unescape_form(name)) {
            Ok(n) => n,
            Err(e) => {
                errors.push(format!(
                    "the field name {:?} is not UTF-8 text",
                    String::from_utf8_lossy(e.as_bytes())
                ));
                continue;
            }
        };
        match String::from_utf8(unescape_form(value)) {
            Ok(v) => fields.push((name, v)),
            Err(e) => errors.push(format!(
                "{name} is not UTF-8 text: byte {} of the decoded value is 0x{:02X}",
                e.utf8_error().valid_up_to() + 1,
                e.as_bytes()[e.utf8_error().valid_up_to()]
            )),
        }
    }
    if errors.is_empty() {
        Ok(fields)
    } else {
        Err(errors)
    }
}

/// `+` → space, `%XX` → the byte; anything else as it is.
fn unescape_form(raw: &[u8]) -> Vec<u8> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                raw.get(i + 1).and_then(|b| hex(*b)),
                raw.get(i + 2).and_then(|b| hex(*b)),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push((hi * 16 + lo) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// Decodes and validates a `POST requests` body: [`decode_form`], then [`parse_form`]. This is
/// what the handler runs on every submission.
pub fn parse_body(body: &[u8]) -> Result<Submission, Vec<String>> {
    parse_form(&decode_form(body)?)
}

/// The form fields read here (besides `attribute[code]`). Their values end up in answers, in XML
/// among others, so each must be text XML can carry.
pub const FORM_FIELDS: [&str; 12] = [
    "service_code",
    "lat",
    "long",
    "address_string",
    "address_id",
    "description",
    "media_url",
    "email",
    "first_name",
    "last_name",
    "phone",
    "client_token",
];

/// Rejects characters XML cannot carry in every field read (see [`crate::text`]); the value is
/// checked as sent, so the position is the one in the client's own text.
fn check_characters(fields: &[(String, String)], errors: &mut Vec<String>) {
    for (k, v) in fields {
        let is_attribute = k.starts_with("attribute[");
        if !is_attribute && !FORM_FIELDS.contains(&k.as_str()) {
            continue;
        }
        if is_attribute {
            if let Err(e) = check_xml_text(&format!("the field name {k:?}"), k) {
                errors.push(e);
                continue;
            }
        }
        if let Err(e) = check_xml_text(k, v) {
            errors.push(e);
        }
    }
}

/// Parses and validates the form fields of `POST requests`.
pub fn parse_form(fields: &[(String, String)]) -> Result<Submission, Vec<String>> {
    let mut errors = Vec::new();
    check_characters(fields, &mut errors);
    let service = match field(fields, "service_code") {
        None => {
            errors.push("service_code is required: see services.json for the codes".to_string());
            None
        }
        Some(code) => match ServiceCode::parse(code) {
            Some(s) => Some(s),
            None => {
                let codes: Vec<&str> = ServiceCode::ALL.iter().map(|c| c.as_str()).collect();
                errors.push(format!(
                    "service_code {code:?} is not a service here; use one of {}",
                    codes.join(", ")
                ));
                None
            }
        },
    };
    let lat = field(fields, "lat").map(|v| coordinate(v, "lat", 90.0, &mut errors));
    let long = field(fields, "long").map(|v| coordinate(v, "long", 180.0, &mut errors));
    let address_string = bounded(fields, "address_string", MAX_ADDRESS, &mut errors);
    let lat_long = match (lat, long) {
        (Some(Some(a)), Some(Some(o))) => Some((a, o)),
        (Some(_), None) | (None, Some(_)) => {
            errors.push("lat and long must be given together".to_string());
            None
        }
        (None, None) if address_string.is_none() && field(fields, "address_id").is_none() => {
            errors.push(
                "a location is required: lat and long (WGS84 decimal degrees), or address_string"
                    .to_string(),
            );
            None
        }
        _ => None,
    };
    let description = field(fields, "description").unwrap_or("").to_string();
    let n = description.chars().count();
    if n > MAX_DESCRIPTION_CHARS {
        errors.push(format!(
            "description has {n} characters; at most {MAX_DESCRIPTION_CHARS} are accepted"
        ));
    }
    let media_url = bounded(fields, "media_url", MAX_URL, &mut errors);
    if let Some(Err(e)) = media_url.as_deref().map(check_media_url) {
        errors.push(e);
    }
    let email = bounded(fields, "email", MAX_EMAIL, &mut errors);
    if let Some(e) = &email {
        let ok = e.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty() && host.contains('.') && !e.chars().any(char::is_whitespace)
        });
        if !ok {
            errors.push("email is not an e-mail address".to_string());
        }
    }
    let phone = bounded(fields, "phone", MAX_PHONE, &mut errors);
    let phone_ok = |p: &String| p.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c));
    if !phone.as_ref().is_none_or(phone_ok) {
        errors.push("phone may contain only digits, spaces and + - ( )".to_string());
    }
    let contact = Contact {
        email,
        first_name: bounded(fields, "first_name", MAX_NAME, &mut errors),
        last_name: bounded(fields, "last_name", MAX_NAME, &mut errors),
        phone,
    };
    let client_token = bounded(fields, "client_token", MAX_CLIENT_TOKEN, &mut errors);

    let mut attributes = Map::new();
    if let Some(service) = service {
        let def = services::definition(service);
        for (k, v) in fields {
            let Some(code) = k
                .strip_prefix("attribute[")
                .and_then(|r| r.strip_suffix(']'))
            else {
                continue;
            };
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            match def.attribute(code) {
                None => {
                    let known: Vec<&str> = def.attributes.iter().map(|a| a.code).collect();
                    errors.push(if known.is_empty() {
                        format!(
                            "attribute[{code}]: service {} has no attributes",
                            service.as_str()
                        )
                    } else {
                        format!(
                            "attribute[{code}] is not an attribute of service {}; known: {}",
                            service.as_str(),
                            known.join(", ")
                        )
                    });
                }
                Some(a) => match a.check(service, v) {
                    Ok(()) => {
                        attributes.insert(code.to_string(), Value::String(v.to_string()));
                    }
                    Err(e) => errors.push(e),
                },
            }
        }
        for a in def.attributes.iter().filter(|a| a.required) {
            if !attributes.contains_key(a.code) {
                errors.push(format!(
                    "attribute[{}] is required for service {}",
                    a.code,
                    service.as_str()
                ));
            }
        }
    }
    match service {
        Some(service) if errors.is_empty() => Ok(Submission {
            service,
            lat_long,
            address_string,
            description,
            media_url,
            contact,
            attributes,
            client_token,
        }),
        _ => Err(errors),
    }
}

/// Where a report ends up on the map.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub location: Point<f64>,
    pub original_location: Point<f64>,
    pub walkway_id: Option<i64>,
    /// Distance from the citizen's point to the walkway, metres.
    pub snapped_m: Option<f64>,
    pub lamp_id: Option<String>,
}

/// Snaps to a walkway and, for broken lamps, attaches the lamp (see the module documentation).
pub fn place(
    walkways: &WalkwayLayer,
    lamps: &LampLayer,
    service: ServiceCode,
    original: Point<f64>,
    lamp_ref: Option<&str>,
) -> Placement {
    let snap = walkways.nearest(original, SNAP_WALKWAY_M);
    let lamp_id = if service == ServiceCode::BrokenLamp {
        let named = lamp_ref.and_then(|r| {
            let r = r.trim().to_lowercase();
            lamps.items.iter().find(|l| {
                let near = Euclidean.distance(l.location, original) <= NAMED_LAMP_M;
                near && (l.id.to_lowercase() == r
                    || l.reference.as_deref().map(str::to_lowercase).as_deref() == Some(&r))
            })
        });
        named.map(|l| l.id.clone()).or_else(|| {
            lamps
                .nearest(original, ATTACH_LAMP_M)
                .map(|(i, _)| lamps.items[i].id.clone())
        })
    } else {
        None
    };
    Placement {
        location: snap.map(|s| s.1).unwrap_or(original),
        original_location: original,
        walkway_id: snap.map(|s| walkways.items[s.0].id),
        snapped_m: snap.map(|s| s.2),
        lamp_id,
    }
}

/// Finds an `address_string` among the names we know: a walkway (its midpoint) or a district
/// (its centroid). No external geocoder is asked: the service runs without network.
pub fn locate_address(snapshot: &Snapshot, address: &str) -> Option<Point<f64>> {
    let wanted = address.trim().to_lowercase();
    let way = snapshot
        .walkways
        .items
        .iter()
        .find(|w| w.name.as_deref().map(str::to_lowercase).as_deref() == Some(&wanted));
    if let Some(w) = way {
        return w.geometry.point_at_ratio_from_start(&Euclidean, 0.5);
    }
    snapshot
        .areas
        .by_name(&wanted)
        .and_then(|a| geo::Centroid::centroid(&a.geometry))
}

/// Why a submission cannot be placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementError(pub String);

/// Validated submission + map → what the store keeps. `client` identifies the sender for
/// content dedupe (its IP address; hashed, never stored).
pub fn prepare(
    sub: Submission,
    snapshot: &Snapshot,
    area: &ServiceArea,
    client: &str,
    client_token: Option<String>,
    now: DateTime<Utc>,
) -> Result<NewReport, PlacementError> {
    let original = match sub.lat_long {
        Some((lat, long)) => {
            let (x, y) = crs::to_work(4326, long, lat).map_err(|e| {
                PlacementError(format!("lat {lat}, long {long} cannot be projected: {e}"))
            })?;
            Point::new(x, y)
        }
        None => {
            let addr = sub.address_string.as_deref().unwrap_or("");
            locate_address(snapshot, addr).ok_or_else(|| {
                PlacementError(format!(
                    "address_string {addr:?} is not a walkway or district we know; send lat and long instead"
                ))
            })?
        }
    };
    if !area.contains(original.x(), original.y()) {
        let shown = match sub.lat_long {
            Some((lat, long)) => format!("lat {lat}, long {long}"),
            None => "the address".to_string(),
        };
        return Err(PlacementError(format!(
            "{shown} is outside the area this service covers"
        )));
    }
    let lamp_ref = sub.attributes.get("lamp_ref").and_then(Value::as_str);
    let p = place(
        &snapshot.walkways,
        &snapshot.lamps,
        sub.service,
        original,
        lamp_ref,
    );
    let attributes = Value::Object(sub.attributes);
    let hash = content_hash(
        client,
        sub.service,
        &sub.description,
        original,
        sub.address_string.as_deref(),
        sub.media_url.as_deref(),
        &attributes,
    );
    Ok(NewReport {
        service: sub.service,
        description: sub.description,
        location: p.location,
        original_location: p.original_location,
        walkway_id: p.walkway_id,
        lamp_id: p.lamp_id,
        address: sub.address_string,
        media_url: sub.media_url,
        attributes,
        requested_at: now,
        client_token: client_token.or(sub.client_token),
        content_hash: hash,
        contact: sub.contact,
    })
}

#[cfg(test)]
mod tests {
    use geo::{LineString, coord};

    use super::*;
    use crate::model::{Lamp, LampStatus, Walkway};

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_complete_form_parses() {
        let s = parse_form(&form(&[
            ("service_code", "dark_path"),
            ("lat", "59.4439"),
            ("long", "18.0686"),
            ("description", "Helt mörkt vid tunneln"),
            ("email", "anna@example.org"),
            ("attribute[darkness]", "completely_dark"),
            ("jurisdiction_id", "taby.se"),
            ("api_key", "whatever"),
        ]))
        .unwrap();
        assert_eq!(s.service, ServiceCode::DarkPath);
        assert_eq!(s.lat_long, Some((59.4439, 18.0686)));
        assert_eq!(s.contact.email.as_deref(), Some("anna@example.org"));
        assert_eq!(s.attributes["darkness"], "completely_dark");
    }

    #[test]
    fn every_problem_is_reported() {
        let errs = parse_form(&form(&[
            ("lat", "95"),
            ("long", "18.0"),
            ("description", &"x".repeat(5000)),
            ("media_url", "javascript:alert(1)"),
        ]))
        .unwrap_err();
        let all = errs.join("\n");
        assert!(all.contains("service_code is required"), "{all}");
        assert!(all.contains("lat 95 is not a latitude"), "{all}");
        assert!(all.contains("description has 5000 characters"), "{all}");
        assert!(all.contains("media_url must be an http"), "{all}");
    }

    #[test]
    fn the_4000_character_limit_counts_characters_not_bytes() {
        let ok = "å".repeat(4000);
        assert!(
            parse_form(&form(&[
                ("service_code", "other"),
                ("lat", "59.44"),
                ("long", "18.07"),
                ("description", &ok),
            ]))
            .is_ok()
        );
    }

    #[test]
    fn attributes_must_belong_to_the_service() {
        let errs = parse_form(&form(&[
            ("service_code", "dark_path"),
            ("lat", "59.44"),
            ("long", "18.07"),
            ("attribute[lamp_state]", "off"),
            ("attribute[darkness]", "pitch"),
        ]))
        .unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
    }

    #[test]
    fn characters_xml_cannot_carry_are_rejected_in_every_field() {
        let good = [
            ("service_code", "broken_lamp"),
            ("lat", "59.44"),
            ("long", "18.07"),
            ("description", "Lampan är trasig"),
            ("first_name", "Anna"),
            ("last_name", "Svensson"),
            ("email", "anna@example.org"),
            ("address_string", "Provstigen"),
            ("client_token", "app-1"),
            ("attribute[lamp_ref]", "L00123"),
        ];
        assert!(parse_form(&form(&good)).is_ok());
        for bad in ['\u{B}', '\u{1}', '\0', '\u{FFFE}', '\u{FFFF}'] {
            for (i, (name, value)) in good.iter().enumerate() {
                // The bad character after the first two characters: position 3.
                let mut chars: Vec<char> = value.chars().collect();
                chars.insert(2, bad);
                let tainted: String = chars.into_iter().collect();
                let mut f = good;
                f[i].1 = &tainted;
                let errs = parse_form(&form(&f)).unwrap_err();
                let want = format!("{name} contains U+{:04X} at position 3 ", u32::from(bad));
                assert!(
                    errs.iter().any(|e| e.starts_with(&want)),
                    "{want}: {errs:?}"
                );
            }
        }
        // Also in the name of an attribute field.
        let mut f = good.to_vec();
        f.push(("attribute[\u{1}x]", "1"));
        let errs = parse_form(&form(&f)).unwrap_err();
        assert!(
            errs.iter()
                .any(|e| e.contains("field name") && e.contains("U+0001 at position 11")),
            "{errs:?}"
        );
        // Tab and line breaks are text.
        let mut f = good;
        f[3].1 = "rad ett\r\nrad\ttvå";
        assert!(parse_form(&form(&f)).is_ok());
    }

    #[test]
    fn form_bodies_decode_like_browsers_encode_them() {
        let f = decode_form(
            b"service_code=dark_path&description=M%C3%B6rkt+h%C3%A4r%21&lat=59.4&flag&&x=%zz%4",
        )
        .unwrap();
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("service_code", "dark_path"),
                ("description", "Mörkt här!"),
                ("lat", "59.4"),
                ("flag", ""),
                ("x", "%zz%4"),
            ]
        );
        assert_eq!(
            decode_form(b"attribute%5Blamp_ref%5D=L1").unwrap(),
            [("attribute[lamp_ref]".to_string(), "L1".to_string())]
        );
        // %C3 alone is half a character: refused with the field named, not replaced.
        let errs = decode_form(b"service_code=other&description=ab%C3").unwrap_err();
        assert_eq!(
            errs,
            ["description is not UTF-8 text: byte 3 of the decoded value is 0xC3"]
        );
        let errs = decode_form(b"de%FFscription=x").unwrap_err();
        assert!(
            errs[0].starts_with("the field name \"de\u{fffd}scription\""),
            "{errs:?}"
        );
        // The handler's path end to end.
        let s = parse_body(b"service_code=other&lat=59.44&long=18.07&description=Hej%0Ad%C3%A5")
            .unwrap();
        assert_eq!(s.description, "Hej\ndå");
        let errs = parse_body(b"service_code=other&lat=59.44&long=18.07&description=Hej%0Bd%C3%A5")
            .unwrap_err();
        assert!(
            errs[0].starts_with("description contains U+000B at position 4 "),
            "{errs:?}"
        );
    }

    #[test]
    fn media_urls_must_be_web_addresses() {
        assert!(check_media_url("https://example.org/a.jpg").is_ok());
        assert!(check_media_url("HTTP://example.org").is_ok());
        assert!(check_media_url("ftp://example.org/a.jpg").is_err());
        assert!(check_media_url("https:///nohost").is_err());
        assert!(check_media_url("file:///etc/passwd").is_err());
    }

    #[test]
    fn location_is_required_in_some_form() {
        let errs = parse_form(&form(&[("service_code", "other")])).unwrap_err();
        assert!(errs[0].contains("location is required"));
        let errs = parse_form(&form(&[("service_code", "other"), ("lat", "59.4")])).unwrap_err();
        assert!(errs[0].contains("together"));
        assert!(
            parse_form(&form(&[
                ("service_code", "other"),
                ("address_string", "Centrumstråket")
            ]))
            .is_ok()
        );
    }

    fn layers() -> (WalkwayLayer, LampLayer) {
        // A straight east-west path along y = 0 from x = 0 to 100, lamps 5 m north of it.
        let ways = WalkwayLayer::new(vec![Walkway {
            id: 42,
            geometry: LineString(vec![coord! {x: 0.0, y: 0.0}, coord! {x: 100.0, y: 0.0}]),
            kind: "footway".into(),
            lit: Some("yes".into()),
            name: Some("Stigen".into()),
        }]);
        let lamp = |id: &str, x: f64| Lamp {
            id: id.into(),
            location: Point::new(x, 5.0),
            height_m: None,
            lumen: None,
            watt: None,
            status: LampStatus::Working,
            source: "test".into(),
            reference: Some(id.trim_start_matches("t:").into()),
        };
        let lamps = LampLayer::new(vec![lamp("t:A", 10.0), lamp("t:B", 60.0)]);
        (ways, lamps)
    }

    #[test]
    fn snaps_to_the_walkway_within_30_m_and_keeps_the_original() {
        let (w, l) = layers();
        let p = place(&w, &l, ServiceCode::DarkPath, Point::new(30.0, 12.0), None);
        assert_eq!(p.location, Point::new(30.0, 0.0));
        assert_eq!(p.original_location, Point::new(30.0, 12.0));
        assert_eq!(p.walkway_id, Some(42));
        assert_eq!(p.snapped_m, Some(12.0));
        assert_eq!(p.lamp_id, None, "only broken-lamp reports attach lamps");
        let far = place(&w, &l, ServiceCode::DarkPath, Point::new(30.0, 31.0), None);
        assert_eq!(far.location, Point::new(30.0, 31.0));
        assert_eq!(far.walkway_id, None);
    }

    #[test]
    fn broken_lamp_attaches_the_nearest_lamp_within_20_m_or_the_named_one() {
        let (w, l) = layers();
        let p = place(&w, &l, ServiceCode::BrokenLamp, Point::new(55.0, 0.0), None);
        // Distance to B: hypot(5, 5) = 7.07 m; to A: 45.3 m.
        assert_eq!(p.lamp_id.as_deref(), Some("t:B"));
        let none = place(
            &w,
            &l,
            ServiceCode::BrokenLamp,
            Point::new(35.0, 20.0),
            None,
        );
        // Nearest is A or B at hypot(25, 15) = 29.2 m > 20 m.
        assert_eq!(none.lamp_id, None);
        let named = place(
            &w,
            &l,
            ServiceCode::BrokenLamp,
            Point::new(55.0, 0.0),
            Some("a"),
        );
        assert_eq!(named.lamp_id.as_deref(), Some("t:A"));
    }

    #[test]
    fn content_hash_depends_on_client_and_content() {
        let p = Point::new(674_000.0, 6_593_500.0);
        let a = serde_json::json!({"darkness": "dim"});
        let h = |client: &str, d: &str| {
            content_hash(client, ServiceCode::DarkPath, d, p, None, None, &a)
        };
        assert_eq!(h("10.0.0.1", "Mörkt"), h("10.0.0.1", "Mörkt"));
        assert_ne!(h("10.0.0.1", "Mörkt"), h("10.0.0.2", "Mörkt"));
        assert_ne!(h("10.0.0.1", "Mörkt"), h("10.0.0.1", "Mörkt här"));
        // Length-prefixed parts: moving text between fields changes the hash.
        assert_ne!(h("10.0.0.1a", "b"), h("10.0.0.1", "ab"));
    }
}
