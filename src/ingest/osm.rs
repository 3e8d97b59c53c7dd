//! `lagesbild import osm FILE.osm.pbf|FILE.osm`: walkways and street lamps from OpenStreetMap.
//!
//! Walkways are ways tagged `highway=footway|path|cycleway|pedestrian|steps|living_street|
//! bridleway`, and streets with a `sidewalk=both|left|right|yes` tag (kind `sidewalk`). They keep
//! their `lit` tag as written: in most cities most ways have none, which means *unknown*, not
//! *dark*. Lamps are nodes tagged `highway=street_lamp`, stored as `osm:<node id>`.
//!
//! Two passes over the file keep memory to what is needed: the first collects the qualifying ways
//! (and the lamps), the second the coordinates of just the nodes those ways use.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use geo::{Coord, LineString, Point};

use super::{Emitter, ImportError, RowError, check_len};
use crate::crs::{self, ServiceArea};
use crate::model::{Lamp, LampStatus, Walkway};

/// OSM `highway` values that are walkways in their own right.
pub const WALKWAY_KINDS: [&str; 7] = [
    "footway",
    "path",
    "cycleway",
    "pedestrian",
    "steps",
    "living_street",
    "bridleway",
];
/// Streets whose sidewalks count when tagged with `sidewalk=*`.
const STREETS: [&str; 9] = [
    "residential",
    "service",
    "unclassified",
    "tertiary",
    "secondary",
    "primary",
    "living_street",
    "road",
    "trunk",
];

/// One OSM element as the importer needs it.
enum Element {
    Node {
        id: i64,
        lon: f64,
        lat: f64,
        tags: Vec<(String, String)>,
    },
    Way {
        id: i64,
        refs: Vec<i64>,
        tags: Vec<(String, String)>,
    },
}

fn tag<'a>(tags: &'a [(String, String)], k: &str) -> Option<&'a str> {
    tags.iter()
        .find(|(key, _)| key == k)
        .map(|(_, v)| v.as_str())
}

/// The walkway kind of a way, if it is one.
pub fn walkway_kind(tags: &[(String, String)]) -> Option<String> {
    let highway = tag(tags, "highway")?;
    if matches!(tag(tags, "access"), Some("private" | "no")) {
        return None;
    }
    if WALKWAY_KINDS.contains(&highway) {
        return Some(highway.to_string());
    }
    if STREETS.contains(&highway)
        && matches!(
            tag(tags, "sidewalk").or(tag(tags, "sidewalk:both")),
            Some("both" | "left" | "right" | "yes")
        )
    {
        return Some("sidewalk".to_string());
    }
    None
}

fn is_pbf(path: &Path) -> bool {
    path.to_string_lossy().to_lowercase().ends_with(".pbf")
}

/// Calls `f` for every node and way. Node tags are only collected when `node_tags` (pass 1).
fn scan(path: &Path, node_tags: bool, f: &mut dyn FnMut(Element)) -> Result<(), ImportError> {
    if is_pbf(path) {
        scan_pbf(path, node_tags, f)
    } else {
        scan_xml(path, node_tags, f)
    }
}

fn owned<'a>(it: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(String, String)> {
    it.map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn scan_pbf(path: &Path, node_tags: bool, f: &mut dyn FnMut(Element)) -> Result<(), ImportError> {
    use osmpbf::{Element as E, ElementReader};
    let reader =
        ElementReader::from_path(path).map_err(|e| ImportError::format(path, e.to_string()))?;
    reader
        .for_each(|el| match el {
            E::Node(n) => f(Element::Node {
                id: n.id(),
                lon: n.lon(),
                lat: n.lat(),
                tags: if node_tags {
                    owned(n.tags())
                } else {
                    Vec::new()
                },
            }),
            E::DenseNode(n) => f(Element::Node {
                id: n.id(),
                lon: n.lon(),
                lat: n.lat(),
                tags: if node_tags {
                    owned(n.tags())
                } else {
                    Vec::new()
                },
            }),
            E::Way(w) => f(Element::Way {
                id: w.id(),
                refs: w.refs().collect(),
                tags: owned(w.tags()),
            }),
            E::Relation(_) => {}
        })
        .map_err(|e| ImportError::format(path, format!("not a readable OSM PBF file: {e}")))
}

fn scan_xml(path: &Path, node_tags: bool, f: &mut dyn FnMut(Element)) -> Result<(), ImportError> {
    use quick_xml::events::{BytesStart, Event};
    // Through the text checks: a binary file or one that is not UTF-8 fails at once.
    let text = super::textio::open_file(path, Default::default(), None)?;
    let mut rdr = quick_xml::Reader::from_reader(text);
    let mut buf = Vec::new();
    let attr = |e: &BytesStart, name: &[u8]| -> Option<String> {
        e.attributes()
            .flatten()
            .find(|a| a.key.as_ref() == name)
            .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
    };
    // The element being read, completed at its end tag.
    let mut current: Option<Element> = None;
    loop {
        let ev = rdr.read_event_into(&mut buf).map_err(|e| {
            ImportError::format(
                path,
                format!(
                    "not readable OSM XML at byte {}: {e}",
                    rdr.buffer_position()
                ),
            )
        })?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                match e.name().as_ref() {
                    b"node" => {
                        let id = attr(e, b"id").and_then(|v| v.parse().ok());
                        let lat = attr(e, b"lat").and_then(|v| v.parse().ok());
                        let lon = attr(e, b"lon").and_then(|v| v.parse().ok());
                        if let (Some(id), Some(lat), Some(lon)) = (id, lat, lon) {
                            let node = Element::Node {
                                id,
                                lon,
                                lat,
                                tags: Vec::new(),
                            };
                            if empty {
                                f(node);
                            } else {
                                current = Some(node);
                            }
                        }
                    }
                    b"way" => {
                        if let Some(id) = attr(e, b"id").and_then(|v| v.parse().ok()) {
                            let way = Element::Way {
                                id,
                                refs: Vec::new(),
                                tags: Vec::new(),
                            };
                            if empty {
                                f(way);
                            } else {
                                current = Some(way);
                            }
                        }
                    }
                    b"nd" => {
                        if let (Some(Element::Way { refs, .. }), Some(r)) = (
                            current.as_mut(),
                            attr(e, b"ref").and_then(|v| v.parse().ok()),
                        ) {
                            refs.push(r);
                        }
                    }
                    b"tag" => match current.as_mut() {
                        Some(Element::Way { tags, .. }) => {
                            if let (Some(k), Some(v)) = (attr(e, b"k"), attr(e, b"v")) {
                                tags.push((k, v));
                            }
                        }
                        Some(Element::Node { tags, .. }) if node_tags => {
                            if let (Some(k), Some(v)) = (attr(e, b"k"), attr(e, b"v")) {
                                tags.push((k, v));
                            }
                        }
                        _ => {}
                    },
                    _ => {}
                }
            }
            Event::End(ref e) => {
                if matches!(e.name().as_ref(), b"node" | b"way")
                    && let Some(el) = current.take()
                {
                    f(el);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(())
}

/// A walkway found in pass 1, waiting for its node coordinates.
struct PendingWay {
    id: i64,
    refs: Vec<i64>,
    kind: String,
    lit: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct OsmOptions {
    pub path: PathBuf,
    pub area: ServiceArea,
}

/// Reads walkways and lamps; walkways go to `ways`, lamps to `lamps`.
pub fn parse(
    opts: OsmOptions,
    ways: &mut Emitter<Walkway>,
    lamps: &mut Emitter<Lamp>,
) -> Result<(), ImportError> {
    let path = opts.path.as_path();
    let mut pending: Vec<PendingWay> = Vec::new();
    let mut needed: HashSet<i64> = HashSet::new();
    scan(path, true, &mut |el| match el {
        Element::Node { id, lon, lat, tags } => {
            if tag(&tags, "highway") != Some("street_lamp") {
                return;
            }
            lamps.read();
            match lamp(id, lon, lat, &tags, &opts.area) {
                Ok(l) => lamps.row(l),
                Err(e) => lamps.error(e),
            }
        }
        Element::Way { id, refs, tags } => {
            if let Some(kind) = walkway_kind(&tags) {
                if let Err(e) = check_tags(&format!("way/{id}"), &tags) {
                    ways.read();
                    ways.error(e);
                    return;
                }
                needed.extend(refs.iter().copied());
                pending.push(PendingWay {
                    id,
                    refs,
                    kind,
                    lit: tag(&tags, "lit").map(str::to_string),
                    name: tag(&tags, "name").map(str::to_string),
                });
            }
        }
    })?;
    let mut coords: HashMap<i64, (f64, f64)> = HashMap::with_capacity(needed.len());
    scan(path, false, &mut |el| {
        if let Element::Node { id, lon, lat, .. } = el
            && needed.contains(&id)
        {
            coords.insert(id, (lon, lat));
        }
    })?;
    drop(needed);
    for w in pending {
        ways.read();
        match walkway(w, &coords, &opts.area) {
            Ok(w) => ways.row(w),
            Err(e) => ways.error(e),
        }
    }
    Ok(())
}

/// OpenStreetMap allows 255 characters in a tag value; longer ones come from a broken or crafted
/// file, and the element is skipped.
pub const MAX_TAG_CHARS: usize = 255;

/// `Err` naming the element and tag when a tag kept by the importer is longer than
/// [`MAX_TAG_CHARS`].
pub fn check_tags(element: &str, tags: &[(String, String)]) -> Result<(), RowError> {
    for key in ["name", "lit", "ref", "highway"] {
        if let Some(v) = tag(tags, key) {
            check_len(0, &format!("{element} {key}"), v, MAX_TAG_CHARS)?;
        }
    }
    Ok(())
}

/// A street lamp node as a lamp. Public for the property tests (tests/fuzz_import.rs).
pub fn lamp(
    id: i64,
    lon: f64,
    lat: f64,
    tags: &[(String, String)],
    area: &ServiceArea,
) -> Result<Lamp, RowError> {
    check_tags(&format!("node/{id}"), tags)?;
    let (x, y) = super::csvutil::locate(crs::WGS84_EPSG, lon, lat, ("lon", "lat"), area, 0)
        .map_err(|e| RowError::new(0, format!("node/{id}"), e.value, e.reason))?;
    let height_m = tag(tags, "height")
        .or(tag(tags, "light:height"))
        .and_then(|h| h.trim_end_matches('m').trim().parse::<f64>().ok())
        .filter(|h| *h > 0.0 && *h < 60.0);
    let broken = matches!(tag(tags, "disused"), Some("yes"))
        || matches!(
            tag(tags, "light:status").or(tag(tags, "lamp:status")),
            Some("broken" | "defect" | "off")
        );
    Ok(Lamp {
        id: format!("osm:{id}"),
        location: Point::new(x, y),
        height_m,
        lumen: tag(tags, "light:lumen").and_then(|v| v.parse().ok()),
        watt: tag(tags, "light:power")
            .or(tag(tags, "lamp:power"))
            .and_then(|v| v.trim_end_matches('W').trim().parse().ok()),
        status: if broken {
            LampStatus::Broken
        } else {
            LampStatus::Working
        },
        source: "osm".into(),
        reference: tag(tags, "ref").map(str::to_string),
    })
}

fn walkway(
    w: PendingWay,
    coords: &HashMap<i64, (f64, f64)>,
    area: &ServiceArea,
) -> Result<Walkway, RowError> {
    let mut pts: Vec<(f64, f64)> = w
        .refs
        .iter()
        .filter_map(|r| coords.get(r).copied())
        .collect();
    let missing = w.refs.len() - pts.len();
    if pts.len() < 2 {
        return Err(RowError::new(
            0,
            format!("way/{}", w.id),
            format!("{} nodes, {missing} missing", w.refs.len()),
            "fewer than two of its nodes are in the file (clipped extract?)",
        ));
    }
    crs::transform_in_place(crs::WGS84_EPSG, crs::WORK_EPSG, &mut pts)
        .map_err(|e| RowError::new(0, format!("way/{}", w.id), "", e.to_string()))?;
    if let Some((x, y)) = pts.iter().find(|(x, y)| !area.contains(*x, *y)) {
        return Err(RowError::new(
            0,
            format!("way/{}", w.id),
            format!("{x:.0}, {y:.0}"),
            "a node lies outside the service area",
        ));
    }
    Ok(Walkway {
        id: w.id,
        geometry: LineString(pts.into_iter().map(|(x, y)| Coord { x, y }).collect()),
        kind: w.kind,
        lit: w.lit,
        name: w.name,
    })
}
