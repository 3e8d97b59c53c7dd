//! Fuzzing the Open311 submission parser on stable Rust: property tests with `arbtest` over the
//! function the `POST requests` handler runs on every body ([`submit::parse_body`]: form decoding,
//! then validation), followed by placement ([`submit::prepare`]).
//!
//! Three inputs: the seed corpus in `fuzz/corpus/open311_form/` replayed first (files named
//! `ok_*` must be accepted, `bad_*` refused, `unplaced_*` accepted but not placed), corpus bodies mutated byte-wise (bad percent escapes,
//! cut UTF-8, stray `&` and `=`), and structured forms of known and unknown fields with valid,
//! huge, numeric-edge and control-character values. Whatever comes in, nothing panics, a refusal
//! says why, and an accepted submission holds the invariants below, written out here apart from
//! the validation code.
//!
//! Each property runs for 0.9 s by default; `LAGESBILD_FUZZ_SECONDS=60` gives each a minute
//! (`make fuzz-open311`). A failure prints the arbtest seed that reproduces it.

use std::time::Duration;

use arbtest::arbitrary::{Result as ArbResult, Unstructured};
use lagesbild::crs::{self, ServiceArea};
use lagesbild::model::ServiceCode;
use lagesbild::reports::services::{self, Datatype};
use lagesbild::reports::submit::{self, FORM_FIELDS, MAX_DESCRIPTION_CHARS, Submission};
use lagesbild::spatial::Snapshot;

/// The demo service area, WGS84 `[west, south, east, north]`.
const AREA: [f64; 4] = [17.98, 59.40, 18.16, 59.49];

fn budget() -> Duration {
    match std::env::var("LAGESBILD_FUZZ_SECONDS") {
        Ok(v) => Duration::from_secs_f64(v.trim().parse().unwrap_or_else(|_| {
            panic!("LAGESBILD_FUZZ_SECONDS={v:?}: expected a number of seconds")
        })),
        Err(_) => Duration::from_millis(900),
    }
}

/// XML 1.0's `Char` production.
fn xml_ok(s: &str) -> bool {
    s.chars().all(|c| {
        matches!(u32::from(c), 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
    })
}

/// Present text is non-empty, trimmed, within `max` characters and carried by XML.
fn text_ok(name: &str, v: &Option<String>, max: usize) {
    if let Some(v) = v {
        assert!(!v.is_empty(), "{name} is present but empty");
        assert_eq!(v.trim(), v, "{name} is not trimmed");
        assert!(v.chars().count() <= max, "{name} longer than {max}");
        assert!(xml_ok(v), "{name} {v:?} holds a character XML cannot carry");
    }
}

/// What every accepted submission satisfies.
fn check_accepted(sub: &Submission, fields: &[(String, String)]) {
    let n = sub.description.chars().count();
    assert!(n <= MAX_DESCRIPTION_CHARS, "description of {n} characters");
    assert!(xml_ok(&sub.description), "{:?}", sub.description);
    if let Some((lat, long)) = sub.lat_long {
        assert!(lat.is_finite() && long.is_finite(), "{lat}, {long}");
        assert!((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&long));
    } else {
        let has = |k: &str| fields.iter().any(|(n, v)| n == k && !v.trim().is_empty());
        assert!(
            sub.address_string.is_some() || has("address_id"),
            "accepted without a location"
        );
    }
    text_ok("address_string", &sub.address_string, 300);
    text_ok("media_url", &sub.media_url, 2000);
    if let Some(url) = &sub.media_url {
        let lower = url.to_ascii_lowercase();
        assert!(
            lower.starts_with("http://") || lower.starts_with("https://"),
            "{url}"
        );
        assert!(
            !url.chars().any(|c| c.is_whitespace() || c.is_control()),
            "{url:?}"
        );
    }
    text_ok("email", &sub.contact.email, 254);
    if let Some(e) = &sub.contact.email {
        assert!(e.contains('@'), "{e}");
    }
    text_ok("first_name", &sub.contact.first_name, 100);
    text_ok("last_name", &sub.contact.last_name, 100);
    text_ok("phone", &sub.contact.phone, 40);
    if let Some(p) = &sub.contact.phone {
        assert!(
            p.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c)),
            "{p}"
        );
    }
    text_ok("client_token", &sub.client_token, 200);
    let def = services::definition(sub.service);
    for (code, value) in &sub.attributes {
        let a = def
            .attribute(code)
            .unwrap_or_else(|| panic!("{code} is not an attribute of {}", sub.service.as_str()));
        let v = value.as_str().expect("attribute values are strings");
        assert!(xml_ok(code) && xml_ok(v), "{code}={v:?}");
        assert_eq!(v.trim(), v);
        match a.datatype {
            Datatype::Singlevaluelist => assert!(a.values.iter().any(|(k, _)| *k == v), "{v}"),
            Datatype::String => assert!(v.chars().count() <= a.max_len, "{code} too long"),
        }
    }
    for a in def.attributes.iter().filter(|a| a.required) {
        assert!(
            sub.attributes.contains_key(a.code),
            "required {} missing",
            a.code
        );
    }
}

/// Placement of an accepted submission: only inside the service area. True when placed.
fn check_placed(sub: Submission) -> bool {
    let lat_long = sub.lat_long;
    let area = ServiceArea::from_wgs84_bbox(AREA).unwrap();
    let placed = submit::prepare(
        sub,
        &Snapshot::empty(),
        &area,
        "192.0.2.1",
        None,
        chrono::Utc::now(),
    );
    let Ok(report) = placed else { return false };
    let (lat, long) = lat_long.expect("without walkways or districts only lat/long can place");
    // The area is the EPSG:3006 box around the WGS84 one: a little larger (grid convergence of
    // about 2.6° here moves the corners some hundred metres), never more than 0.02°.
    let m = 0.02;
    assert!(
        (AREA[1] - m..=AREA[3] + m).contains(&lat) && (AREA[0] - m..=AREA[2] + m).contains(&long),
        "placed outside the service area: {lat}, {long}"
    );
    let (lon2, lat2) = crs::to_wgs84(report.original_location.x(), report.original_location.y())
        .expect("a placed point converts back");
    assert!((lat2 - lat).abs() < 1e-6 && (lon2 - long).abs() < 1e-6);
    assert_eq!(report.content_hash.len(), 64);
    true
}

/// What became of one body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Refused,
    /// Valid, but not placed (outside the area, or an address we do not know).
    Unplaced,
    Placed,
}

/// The whole property for one body.
fn check_body(body: &[u8]) -> Outcome {
    match submit::parse_body(body) {
        Ok(sub) => {
            let fields = submit::decode_form(body).expect("decoded once already");
            check_accepted(&sub, &fields);
            if check_placed(sub) {
                Outcome::Placed
            } else {
                Outcome::Unplaced
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "refused without a reason");
            assert!(errors.iter().all(|e| !e.trim().is_empty()));
            Outcome::Refused
        }
    }
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = crate::support::root().join("fuzz/corpus/open311_form");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    assert!(files.len() >= 8, "the seed corpus is missing files");
    files
}

#[test]
fn seed_corpus_is_replayed_with_the_expected_outcome() {
    for (name, body) in corpus() {
        // Files end with a newline for editors; a body from a browser has none.
        let body = body.strip_suffix(b"\n").unwrap_or(&body);
        let outcome = check_body(body);
        let why = || submit::parse_body(body).err();
        match name.split('_').next() {
            Some("ok") => assert_ne!(outcome, Outcome::Refused, "{name}: {:?}", why()),
            Some("bad") => assert_eq!(outcome, Outcome::Refused, "{name}"),
            Some("unplaced") => assert_eq!(outcome, Outcome::Unplaced, "{name}: {:?}", why()),
            _ => panic!("{name}: corpus files are named ok_, bad_ or unplaced_"),
        }
    }
}

/// Bytes a mutation inserts: broken escapes, cut and invalid UTF-8, separators, controls.
const SNIPPETS: [&[u8]; 18] = [
    b"%",
    b"%2",
    b"%G1",
    b"%C3",
    b"%C3%28",
    b"%FF",
    b"%ED%A0%80",
    b"%EF%BF%BE",
    b"%EF%BF%BF",
    b"%00",
    b"%0B",
    b"%1F",
    b"&",
    b"=",
    b"&&=&",
    b"+",
    b"attribute%5B",
    b"%5D=",
];

#[test]
fn mutated_corpus_bodies_never_break_the_parser() {
    let seeds: Vec<Vec<u8>> = corpus().into_iter().map(|(_, b)| b).collect();
    arbtest::arbtest(|u| {
        let mut body = u.choose(&seeds)?.clone();
        for _ in 0..u.int_in_range(1..=6)? {
            let at = u.int_in_range(0..=body.len())?;
            match u.int_in_range(0..=4)? {
                0 => {
                    let s = u.choose(&SNIPPETS)?;
                    body.splice(at..at, s.iter().copied());
                }
                1 => body.insert(at, u.arbitrary()?),
                2 => {
                    let end = u.int_in_range(at..=body.len())?;
                    body.drain(at..end);
                }
                3 => {
                    let end = u.int_in_range(at..=body.len().min(at + 64))?;
                    let copy = body[at..end].to_vec();
                    let times = u.int_in_range(1..=200)?;
                    for _ in 0..times {
                        body.splice(at..at, copy.iter().copied());
                    }
                }
                _ => {
                    let raw: Vec<u8> = u.arbitrary()?;
                    body.splice(at..at, raw);
                }
            }
        }
        check_body(&body);
        Ok(())
    })
    .budget(budget());
}

fn percent_encode(s: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            other => {
                out.push('%');
                out.push(char::from(HEX[usize::from(other >> 4)]));
                out.push(char::from(HEX[usize::from(other & 15)]));
            }
        }
    }
    out
}

fn key(u: &mut Unstructured<'_>) -> ArbResult<String> {
    let attribute_codes: Vec<&str> = services::all()
        .iter()
        .flat_map(|d| d.attributes.iter().map(|a| a.code))
        .collect();
    Ok(match u.int_in_range(0..=9)? {
        0..=5 => u.choose(&FORM_FIELDS)?.to_string(),
        6 | 7 => format!("attribute[{}]", u.choose(&attribute_codes)?),
        8 => format!("attribute[{}]", u.arbitrary::<String>()?),
        _ => u.arbitrary()?,
    })
}

/// A plausible value for `key`, often a valid one.
fn valid_value(u: &mut Unstructured<'_>, key: &str) -> ArbResult<String> {
    let in_area = |u: &mut Unstructured<'_>, lo: f64, hi: f64| -> ArbResult<String> {
        let t = f64::from(u.int_in_range(0..=10_000u32)?) / 10_000.0;
        // Up to 0.03° outside, so that the area's edge is crossed both ways.
        Ok(format!("{:.6}", lo - 0.03 + t * (hi - lo + 0.06)))
    };
    Ok(match key {
        "service_code" => u.choose(&ServiceCode::ALL)?.as_str().to_string(),
        "lat" => in_area(u, AREA[1], AREA[3])?,
        "long" => in_area(u, AREA[0], AREA[2])?,
        "email" => "anna@example.org".into(),
        "media_url" => "https://example.org/bild.jpg".into(),
        "phone" => "+46 (0)70-123 45 67".into(),
        "description" => {
            let n = u.int_in_range(0..=4100)?;
            let c = *u.choose(&['x', 'å', '😀', ' ', '\n', '\t'])?;
            std::iter::repeat_n(c, n).collect()
        }
        k if k.starts_with("attribute[") => {
            let code = &k["attribute[".len()..k.len() - 1];
            let values: Vec<&str> = services::all()
                .iter()
                .flat_map(|d| d.attributes.iter())
                .filter(|a| a.code == code)
                .flat_map(|a| a.values.iter().map(|(k, _)| *k))
                .collect();
            if values.is_empty() {
                "L00123".into()
            } else {
                u.choose(&values)?.to_string()
            }
        }
        _ => "Provstigen".into(),
    })
}

fn value(u: &mut Unstructured<'_>, key: &str) -> ArbResult<Vec<u8>> {
    const EDGES: [&str; 12] = [
        "NaN",
        "inf",
        "-inf",
        "1e309",
        "-0",
        "59.44e0",
        "  59.44  ",
        "0x3B",
        "",
        " ",
        "90.0000001",
        "1_000",
    ];
    const BAD: [char; 12] = [
        '\0', '\u{1}', '\u{8}', '\u{B}', '\u{C}', '\u{1F}', '\u{FFFE}', '\u{FFFF}', '\u{85}',
        '\u{2028}', '\r', '\u{FEFF}',
    ];
    Ok(match u.int_in_range(0..=9)? {
        0..=4 => valid_value(u, key)?.into_bytes(),
        5 => u.arbitrary::<String>()?.into_bytes(),
        6 => {
            // Huge: around and far past every length limit.
            let n = *u.choose(&[99, 100, 101, 254, 255, 3999, 4000, 4001, 20_000, 200_000])?;
            std::iter::repeat_n('m', n).collect::<String>().into_bytes()
        }
        7 => u.choose(&EDGES)?.as_bytes().to_vec(),
        8 => {
            let mut v: Vec<char> = valid_value(u, key)?.chars().collect();
            let at = u.int_in_range(0..=v.len())?;
            v.insert(at, *u.choose(&BAD)?);
            v.into_iter().collect::<String>().into_bytes()
        }
        _ => u.arbitrary::<Vec<u8>>()?,
    })
}

#[test]
fn structured_forms_never_break_the_parser_and_accepted_ones_hold_the_invariants() {
    let mut runs = 0u64;
    let mut accepted = 0u64;
    let mut placed = 0u64;
    arbtest::arbtest(|u| {
        let mut pairs: Vec<String> = Vec::new();
        // Most forms start from a valid base so that acceptance is reached, then vary.
        if u.ratio(3, 4)? {
            for k in ["service_code", "lat", "long"] {
                pairs.push(format!(
                    "{k}={}",
                    percent_encode(valid_value(u, k)?.as_bytes())
                ));
            }
        }
        for _ in 0..u.int_in_range(0..=8)? {
            let k = key(u)?;
            let v = value(u, &k)?;
            pairs.push(format!(
                "{}={}",
                percent_encode(k.as_bytes()),
                percent_encode(&v)
            ));
        }
        if u.ratio(1, 8)? {
            let at = u.int_in_range(0..=pairs.len())?;
            pairs.insert(
                at,
                String::from_utf8_lossy(u.choose(&SNIPPETS)?).into_owned(),
            );
        }
        runs += 1;
        match check_body(pairs.join("&").as_bytes()) {
            Outcome::Refused => {}
            Outcome::Unplaced => accepted += 1,
            Outcome::Placed => {
                accepted += 1;
                placed += 1;
            }
        }
        Ok(())
    })
    .budget(budget());
    // Both outcomes must be reached, or the generator tests nothing. (A run reproducing one
    // seed makes a single case.)
    eprintln!("{runs} forms: {accepted} accepted, {placed} of them placed");
    if runs >= 200 {
        assert!(placed > 0, "no form of {runs} was placed");
        assert!(accepted < runs, "every form of {runs} was accepted");
    }
}
