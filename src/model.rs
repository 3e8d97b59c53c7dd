//! The domain model: what Lägesbild knows about the world.
//!
//! Every coordinate in these types is in SWEREF 99 TM (EPSG:3006), metres: `x` is easting,
//! `y` northing. Conversion to and from other CRSs happens only at the edges (importers and
//! API output), see [`crate::crs`].

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};
use geo::{LineString, MultiPolygon, Point};
use serde::{Deserialize, Serialize};

pub use crate::category::CategoryGroup;

/// How well an incident's coordinates describe where it happened.
///
/// Polisen's open events carry the centre of the municipality or county, not the place of the
/// event: such events are `Municipality` or `County` and must never enter point-level hotspot
/// methods, or a thousand events on a town-hall square would become a "hotspot".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum LocationPrecision {
    Exact,
    Street,
    Municipality,
    County,
}

impl LocationPrecision {
    /// In the order of declaration: `ALL[p as usize] == p`.
    pub const ALL: [LocationPrecision; 4] =
        [Self::Exact, Self::Street, Self::Municipality, Self::County];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Street => "street",
            Self::Municipality => "municipality",
            Self::County => "county",
        }
    }

    /// Points precise enough for clustering, gridding and density.
    pub fn is_point_level(self) -> bool {
        matches!(self, Self::Exact | Self::Street)
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "exact" => Some(Self::Exact),
            "street" => Some(Self::Street),
            "municipality" => Some(Self::Municipality),
            "county" => Some(Self::County),
            _ => None,
        }
    }
}

/// How precisely an incident's time is known. Registers often give a date without an hour, a
/// month, or a window (*begånget mellan fre 18:00 och mån 07:00* for a burglary found after a
/// weekend); what is not known is never made up.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum TimePrecision {
    /// To the minute or better.
    #[default]
    Exact,
    /// The hour, not the minute (`2026-04-29 14`).
    Hour,
    /// The local date: `occurred_at` is its midnight.
    Date,
    /// The month: `occurred_at` is the first day's midnight.
    Month,
    /// Some time from `occurred_at` to `occurred_to`.
    Window,
}

impl TimePrecision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Hour => "hour",
            Self::Date => "date",
            Self::Month => "month",
            Self::Window => "window",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "exact" => Some(Self::Exact),
            "hour" => Some(Self::Hour),
            "date" => Some(Self::Date),
            "month" => Some(Self::Month),
            "window" => Some(Self::Window),
            _ => None,
        }
    }

    /// The local hour (and so the weekday × hour cell) is known.
    pub fn hour_known(self) -> bool {
        matches!(self, Self::Exact | Self::Hour)
    }
}

/// One police event or registered crime.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// Where it came from: `polisen`, or the source name given on import (`csv`, `geojson`, …).
    pub source: String,
    /// The id in that source; `(source, source_id)` is unique.
    pub source_id: String,
    /// The instant with the offset the input carried; for a date, a month or a window, its
    /// start (see `time_precision`).
    pub occurred_at: DateTime<FixedOffset>,
    /// How precisely the time is known.
    pub time_precision: TimePrecision,
    /// The end of a window (`time_precision` = window), later than `occurred_at`; exclusive.
    pub occurred_to: Option<DateTime<FixedOffset>>,
    /// Stable category code, e.g. `assault`, see [`crate::category`].
    pub category: String,
    pub group: CategoryGroup,
    /// The label as the source wrote it, e.g. `Misshandel, grov`.
    pub label: String,
    /// EPSG:3006.
    pub location: Point<f64>,
    pub precision: LocationPrecision,
    /// Municipality or place name where the source gave one.
    pub place: Option<String>,
    /// Free text from the source (Polisen's `summary`).
    pub summary: Option<String>,
}

impl Incident {
    pub fn occurred_utc(&self) -> DateTime<Utc> {
        self.occurred_at.with_timezone(&Utc)
    }

    /// The local weekday (0 = Monday) and hour, when the hour is known.
    pub fn weekday_hour(&self) -> Option<(usize, usize)> {
        self.time_precision
            .hour_known()
            .then(|| crate::time::weekday_hour(&self.occurred_at))
    }

    /// The first and last local dates the time may fall on: one for an exact time, an hour or
    /// a date, the month's for a month, and those a window touches.
    pub fn local_days(&self) -> (NaiveDate, NaiveDate) {
        local_days(&self.occurred_at, self.time_precision, self.occurred_to)
    }

    /// The local date, when the time falls on one date.
    pub fn local_day(&self) -> Option<NaiveDate> {
        let (a, b) = self.local_days();
        (a == b).then_some(a)
    }
}

/// [`Incident::local_days`] of a time known to `precision`, ending at `to` for a window.
pub fn local_days(
    at: &DateTime<FixedOffset>,
    precision: TimePrecision,
    to: Option<DateTime<FixedOffset>>,
) -> (NaiveDate, NaiveDate) {
    let d = crate::time::local_date(at);
    match precision {
        TimePrecision::Month => {
            let first = d.with_day(1).unwrap_or(d);
            let last = (first + chrono::Months::new(1)).pred_opt().unwrap_or(first);
            (first, last)
        }
        TimePrecision::Window => match to {
            // The end is exclusive: a window to midnight stays on its dates.
            Some(to) => (
                d,
                crate::time::local_date(&(to - chrono::Duration::seconds(1))).max(d),
            ),
            None => (d, d),
        },
        _ => (d, d),
    }
}

/// A walkway (or the sidewalk of a street) from OpenStreetMap.
#[derive(Debug, Clone, PartialEq)]
pub struct Walkway {
    /// The OSM way id.
    pub id: i64,
    /// EPSG:3006.
    pub geometry: LineString<f64>,
    /// The OSM `highway` value: footway, path, cycleway, pedestrian, steps, …
    pub kind: String,
    /// The OSM `lit` value as tagged (`yes`, `no`, `24/7`, …); `None` when untagged.
    pub lit: Option<String>,
    pub name: Option<String>,
}

/// What a walkway's OSM `lit` tag says, normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LitTag {
    /// `yes`, `automatic`, `24/7`, `sunset-sunrise`, `limited`, `interval`: someone saw lights.
    Lit,
    /// `no`, `disused`.
    Unlit,
    /// No tag, or a value we do not understand: nothing is known.
    Untagged,
}

impl LitTag {
    pub fn from_osm(lit: Option<&str>) -> Self {
        match lit.map(|s| s.trim().to_ascii_lowercase()) {
            None => Self::Untagged,
            Some(v) => match v.as_str() {
                "yes" | "automatic" | "24/7" | "sunset-sunrise" | "limited" | "interval" => {
                    Self::Lit
                }
                "no" | "disused" => Self::Unlit,
                _ => Self::Untagged,
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LampStatus {
    Working,
    Broken,
}

impl LampStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Working => "working",
            Self::Broken => "broken",
        }
    }
}

/// A street lamp from OSM (`highway=street_lamp`) or a municipal lamp register.
#[derive(Debug, Clone, PartialEq)]
pub struct Lamp {
    /// Unique across sources: `osm:<node id>` or `<source>:<register id>`.
    pub id: String,
    /// EPSG:3006.
    pub location: Point<f64>,
    pub height_m: Option<f64>,
    pub lumen: Option<f64>,
    pub watt: Option<f64>,
    /// Status in the source (register); open broken-lamp reports are applied on top of this by
    /// the lighting analysis.
    pub status: LampStatus,
    /// `osm` or the register's source name.
    pub source: String,
    /// The lamp's own reference (OSM `ref`, register id) as the source wrote it.
    pub reference: Option<String>,
}

/// A district or other named area.
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    pub id: i64,
    pub name: String,
    /// EPSG:3006.
    pub geometry: MultiPolygon<f64>,
    pub source: String,
}

/// BRÅ's yearly count of reported crimes for one municipality.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BraStat {
    pub year: i32,
    pub municipality: String,
    pub count: i64,
    pub per_100k: Option<f64>,
}

/// Open311 services offered to citizens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceCode {
    DarkPath,
    BrokenLamp,
    Vegetation,
    UnsafePlace,
    Other,
}

impl ServiceCode {
    pub const ALL: [ServiceCode; 5] = [
        Self::DarkPath,
        Self::BrokenLamp,
        Self::Vegetation,
        Self::UnsafePlace,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::DarkPath => "dark_path",
            Self::BrokenLamp => "broken_lamp",
            Self::Vegetation => "vegetation",
            Self::UnsafePlace => "unsafe_place",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Swedish name shown to citizens.
    pub fn name_sv(self) -> &'static str {
        match self {
            Self::DarkPath => "Mörk gångväg",
            Self::BrokenLamp => "Trasig gatubelysning",
            Self::Vegetation => "Växtlighet skymmer ljus eller sikt",
            Self::UnsafePlace => "Otrygg plats",
            Self::Other => "Övrigt",
        }
    }

    /// Reports that say something about light on a walkway.
    pub fn is_darkness(self) -> bool {
        matches!(self, Self::DarkPath | Self::BrokenLamp | Self::Vegetation)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    Open,
    Acknowledged,
    InProgress,
    Closed,
}

impl ReportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::InProgress => "in_progress",
            Self::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Self::Open),
            "acknowledged" => Some(Self::Acknowledged),
            "in_progress" => Some(Self::InProgress),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }

    /// Open311 knows only `open` and `closed`.
    pub fn open311(self) -> &'static str {
        if self == Self::Closed {
            "closed"
        } else {
            "open"
        }
    }
}

/// A citizen's report as the public may see it: contact details live apart, in the store only.
#[derive(Debug, Clone, PartialEq)]
pub struct CitizenReport {
    pub id: i64,
    pub service: ServiceCode,
    pub status: ReportStatus,
    pub description: String,
    /// EPSG:3006, snapped to the nearest walkway within 30 m when there is one.
    pub location: Point<f64>,
    /// EPSG:3006, where the citizen put it.
    pub original_location: Point<f64>,
    pub walkway_id: Option<i64>,
    pub lamp_id: Option<String>,
    pub address: Option<String>,
    pub media_url: Option<String>,
    pub status_notes: Option<String>,
    pub agency_responsible: Option<String>,
    pub requested_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Hidden by a coordinator (abusive text): not shown to the public.
    pub hidden: bool,
    /// Merged into another report as its duplicate.
    pub merged_into: Option<i64>,
    /// `attribute[code]` values as given.
    pub attributes: serde_json::Value,
}

impl CitizenReport {
    /// An open broken-lamp report turns its lamp off until it is closed.
    pub fn keeps_lamp_off(&self) -> bool {
        self.service == ServiceCode::BrokenLamp
            && self.status != ReportStatus::Closed
            && self.merged_into.is_none()
            && self.lamp_id.is_some()
    }
}

/// Who is calling.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Anonymous,
    Police,
    Coordinator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Police => "police",
            Self::Coordinator => "coordinator",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "anonymous" => Some(Self::Anonymous),
            "police" => Some(Self::Police),
            "coordinator" => Some(Self::Coordinator),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    /// May see single incident points and hotspot profiles at full resolution.
    pub fn sees_points(self) -> bool {
        self != Self::Anonymous
    }

    /// May triage citizen reports and see reporters' contact details.
    pub fn moderates(self) -> bool {
        matches!(self, Self::Coordinator | Self::Admin)
    }
}

// ---------------------------------------------------------------------------------------------
// Who reported a report, and who changes it how

/// A reporter's contact details. Stored apart from the report and shown only to coordinators.
///
/// `Debug` prints which fields are present, never their values, so that a stray `?contact` in a
/// log line cannot leak them.
#[derive(Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Contact {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
}

impl Contact {
    pub fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.first_name.is_none()
            && self.last_name.is_none()
            && self.phone.is_none()
    }
}

impl std::fmt::Debug for Contact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mark = |o: &Option<String>| if o.is_some() { "<redacted>" } else { "-" };
        f.debug_struct("Contact")
            .field("email", &mark(&self.email))
            .field("first_name", &mark(&self.first_name))
            .field("last_name", &mark(&self.last_name))
            .field("phone", &mark(&self.phone))
            .finish()
    }
}

/// Who may be held responsible for acting on a report.
pub const AGENCIES: [&str; 3] = ["kommunen", "polisen", "fastighetsägare"];

/// Who changes a report, for the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// A token id, `cli`, `citizen` or `demo`.
    pub id: String,
    pub role: Role,
}

impl Actor {
    pub fn new(id: impl Into<String>, role: Role) -> Self {
        Self {
            id: id.into(),
            role,
        }
    }
}

/// A coordinator's change of a report; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportChange {
    pub status: Option<ReportStatus>,
    /// `Some(None)` clears the notes.
    pub status_notes: Option<Option<String>>,
    pub agency_responsible: Option<Option<String>>,
    pub hidden: Option<bool>,
    /// Marks the report as a duplicate of another one (and closes it).
    pub merged_into: Option<i64>,
    /// Why: kept in the history (required when closing).
    pub reason: Option<String>,
}

impl ReportChange {
    pub fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.status_notes.is_none()
            && self.agency_responsible.is_none()
            && self.hidden.is_none()
            && self.merged_into.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_debug_never_shows_values() {
        let c = Contact {
            email: Some("anna@example.org".into()),
            first_name: Some("Anna".into()),
            last_name: None,
            phone: Some("070-1234567".into()),
        };
        let s = format!("{c:?}");
        assert!(!s.contains("anna") && !s.contains("Anna") && !s.contains("070"));
        assert!(s.contains("<redacted>"));
    }
}
