//! Configuration: a TOML file (see `lagesbild.example.toml`) overridden by `LAGESBILD_*`
//! environment variables and command-line flags.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::crs::ServiceArea;
use crate::net::{ProxyHeader, TrustedProxies};

/// The longest `shutdown_grace_s` accepted.
pub const MAX_SHUTDOWN_GRACE_S: u64 = 10;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Database: a SQLite file path (default `lagesbild.sqlite`).
    pub db: String,
    /// Address the server listens on.
    pub addr: String,
    /// Where data is accepted, as a WGS84 box `[west, south, east, north]`; absent: Sweden.
    pub service_area: Option<[f64; 4]>,
    /// The public sees only aggregates with at least this many incidents.
    pub min_public_count: u32,
    /// Side of the public product's grid cell in metres (anonymous answers are built from
    /// these cells; see `analysis::privacy`).
    pub public_cell_m: f64,
    /// Smallest kernel density bandwidth anonymous callers get, in metres.
    pub public_min_bandwidth_m: f64,
    /// Citizen report submissions allowed per client and minute.
    pub reports_per_minute: u32,
    /// Reverse proxies (IP addresses or CIDR blocks) whose forwarding header names the client;
    /// empty: the socket's peer is the client and forwarding headers are ignored.
    pub trusted_proxies: TrustedProxies,
    /// The header those proxies write: `x-forwarded-for` (default) or `forwarded` (RFC 7239).
    pub proxy_header: ProxyHeader,
    /// Base map tiles for the web app; `{s}`, `{z}`, `{x}`, `{y}` as Leaflet takes them.
    pub tile_url: String,
    pub tile_attribution: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Longest a request may take, in seconds.
    pub request_timeout_s: u64,
    /// Seconds between checks for data written by other processes (imports while serving).
    pub reload_interval_s: u64,
    /// Default EN 13201 class for the lighting analysis.
    pub lighting_class: String,
    /// Classes for particular walkway kinds, e.g. `steps=P3,cycleway=P4`.
    pub lighting_kind_classes: Option<String>,
    /// A measure's target area reaches this far around its points and walkways, in metres,
    /// unless the measure says otherwise (its effect is counted there).
    pub measure_buffer_m: f64,
    /// The lamp type lamp proposals use unless a request names another: mounting height (m),
    /// luminous flux (lm) and the cost of one lamp put up, in SEK.
    pub proposal_lamp_height_m: f64,
    pub proposal_lamp_lumen: f64,
    pub proposal_lamp_cost_sek: f64,
    /// The medborgarlöften's indicator "reports acknowledged in time" counts a report answered
    /// when its status left `open` within this many days.
    pub pledge_ack_days: u32,

    // -- Load and shutdown limits (the server on the internet) --
    /// Analyses computed at once (requests whose answer is not cached); absent: one per CPU.
    pub max_concurrent_analyses: Option<usize>,
    /// How long a request waits for a free analysis slot before it is answered 503.
    pub analysis_wait_ms: u64,
    /// On SIGTERM or Ctrl-C: the longest the server drains open requests before it exits
    /// anyway. Running analyses are cancelled at once.
    pub shutdown_grace_s: u64,
    /// A connection that has not sent a request's complete headers within this many seconds
    /// (also: an idle keep-alive connection) is closed.
    pub header_read_timeout_s: u64,
    /// Open connections served at once; a connection beyond it is answered 503 and closed.
    pub max_connections: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            db: "lagesbild.sqlite".into(),
            addr: "127.0.0.1:8080".into(),
            service_area: None,
            min_public_count: 3,
            public_cell_m: 200.0,
            public_min_bandwidth_m: 300.0,
            measure_buffer_m: 100.0,
            proposal_lamp_height_m: 5.0,
            proposal_lamp_lumen: 3_000.0,
            proposal_lamp_cost_sek: 40_000.0,
            pledge_ack_days: 5,
            reports_per_minute: 10,
            trusted_proxies: TrustedProxies::default(),
            proxy_header: ProxyHeader::default(),
            tile_url: "https://tile.openstreetmap.org/{z}/{x}/{y}.png".into(),
            tile_attribution: "© OpenStreetMap contributors".into(),
            max_body_bytes: 2 * 1024 * 1024,
            request_timeout_s: 30,
            reload_interval_s: 5,
            lighting_class: "P5".into(),
            lighting_kind_classes: None,

            max_concurrent_analyses: None,
            analysis_wait_ms: 500,
            shutdown_grace_s: 10,
            header_read_timeout_s: 10,
            max_connections: 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("configuration: {0}")]
    Invalid(String),
    #[error("environment variable {name}={value:?}: {message}")]
    Env {
        name: String,
        value: String,
        message: String,
    },
}

impl Config {
    /// Reads the file if given, then applies `LAGESBILD_*` variables.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut cfg = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.display().to_string(),
                    source,
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: p.display().to_string(),
                    message: e.to_string(),
                })?
            }
            None => Config::default(),
        };
        cfg.apply_env(|k| std::env::var(k).ok())?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks the values a server would otherwise only trip over at the first request.
    pub fn validate(&self) -> Result<(), ConfigError> {
        crate::analysis::lighting::class_plan(
            None,
            None,
            &self.lighting_class,
            self.lighting_kind_classes.as_deref(),
        )
        .map_err(ConfigError::Invalid)?;
        if let Some([w, s, e, n]) = self.service_area {
            if !(w < e && s < n) {
                return Err(ConfigError::Invalid(format!(
                    "service_area = [{w}, {s}, {e}, {n}]: expected [west, south, east, north] in WGS84 degrees"
                )));
            }
            // SWEREF 99 TM is for Sweden: a box outside it is a mistake, often swapped lat/lon.
            let [sw, ss, se, sn] = crate::crs::SWEDEN_WGS84;
            if e < sw || w > se || n < ss || s > sn {
                return Err(ConfigError::Invalid(format!(
                    "service_area = [{w}, {s}, {e}, {n}] lies outside Sweden; the order is [west, south, east, north] (longitude first)"
                )));
            }
        }
        if self.min_public_count == 0 {
            return Err(ConfigError::Invalid(
                "min_public_count = 0 turns off the suppression of small counts for the public; use 1 or more (the default 3 hides counts of one and two)"
                    .into(),
            ));
        }
        if !(self.public_cell_m >= 200.0 && self.public_cell_m <= 5_000.0) {
            return Err(ConfigError::Invalid(format!(
                "public_cell_m = {}: expected 200 to 5000 metres (smaller public cells let single events be placed)",
                self.public_cell_m
            )));
        }
        if !(self.public_min_bandwidth_m >= 300.0 && self.public_min_bandwidth_m <= 20_000.0) {
            return Err(ConfigError::Invalid(format!(
                "public_min_bandwidth_m = {}: expected 300 to 20000 metres",
                self.public_min_bandwidth_m
            )));
        }
        if !(self.measure_buffer_m >= 10.0 && self.measure_buffer_m <= 2_000.0) {
            return Err(ConfigError::Invalid(format!(
                "measure_buffer_m = {}: expected 10 to 2000 metres",
                self.measure_buffer_m
            )));
        }
        if !(self.proposal_lamp_height_m > 0.0 && self.proposal_lamp_height_m <= 60.0) {
            return Err(ConfigError::Invalid(format!(
                "proposal_lamp_height_m = {}: expected a height above 0 and at most 60 m",
                self.proposal_lamp_height_m
            )));
        }
        if !(self.proposal_lamp_lumen > 0.0 && self.proposal_lamp_lumen <= 200_000.0) {
            return Err(ConfigError::Invalid(format!(
                "proposal_lamp_lumen = {}: expected a flux above 0 and at most 200 000 lm",
                self.proposal_lamp_lumen
            )));
        }
        if !(self.proposal_lamp_cost_sek >= 0.0 && self.proposal_lamp_cost_sek.is_finite()) {
            return Err(ConfigError::Invalid(format!(
                "proposal_lamp_cost_sek = {}: expected a cost in SEK, 0 or more",
                self.proposal_lamp_cost_sek
            )));
        }
        if !(1..=365).contains(&self.pledge_ack_days) {
            return Err(ConfigError::Invalid(format!(
                "pledge_ack_days = {}: expected 1 to 365 days",
                self.pledge_ack_days
            )));
        }
        self.validate_limits()?;
        Ok(())
    }

    /// The rules of the public product (what anonymous callers may ask and see).
    pub fn public_rules(&self) -> crate::analysis::privacy::PublicRules {
        crate::analysis::privacy::PublicRules::new(
            self.min_public_count,
            self.public_cell_m,
            self.public_min_bandwidth_m,
        )
    }

    /// The load and shutdown limits.
    fn validate_limits(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.max_concurrent_analyses == Some(0) {
            return bad("max_concurrent_analyses = 0 would refuse every analysis; use 1 or more, or leave it out for one per CPU".into());
        }
        if self.analysis_wait_ms > 10_000 {
            return bad(format!(
                "analysis_wait_ms = {}: at most 10000 (a request waiting longer for a slot is better told to come back)",
                self.analysis_wait_ms
            ));
        }
        if self.shutdown_grace_s > MAX_SHUTDOWN_GRACE_S {
            return bad(format!(
                "shutdown_grace_s = {}: at most {MAX_SHUTDOWN_GRACE_S} (the server must be gone soon after SIGTERM)",
                self.shutdown_grace_s
            ));
        }
        if !(1..=300).contains(&self.header_read_timeout_s) {
            return bad(format!(
                "header_read_timeout_s = {}: expected 1 to 300 seconds",
                self.header_read_timeout_s
            ));
        }
        if self.max_connections == 0 {
            return bad("max_connections = 0 would refuse every connection; use 1 or more".into());
        }
        Ok(())
    }

    /// Analyses computed at once: `max_concurrent_analyses`, or one per CPU.
    pub fn analysis_slots(&self) -> usize {
        self.max_concurrent_analyses.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
        })
    }

    fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn num<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, ConfigError> {
            v.trim().parse().map_err(|_| ConfigError::Env {
                name: name.into(),
                value: v.into(),
                message: "expected a number".into(),
            })
        }
        if let Some(v) = get("LAGESBILD_DB") {
            self.db = v;
        }
        if let Some(v) = get("LAGESBILD_ADDR") {
            self.addr = v;
        }
        if let Some(v) = get("LAGESBILD_MIN_PUBLIC_COUNT") {
            self.min_public_count = num("LAGESBILD_MIN_PUBLIC_COUNT", &v)?;
        }
        if let Some(v) = get("LAGESBILD_REPORTS_PER_MINUTE") {
            self.reports_per_minute = num("LAGESBILD_REPORTS_PER_MINUTE", &v)?;
        }
        if let Some(v) = get("LAGESBILD_TRUSTED_PROXIES") {
            let entries: Vec<&str> = v.split(',').filter(|e| !e.trim().is_empty()).collect();
            self.trusted_proxies =
                TrustedProxies::parse(&entries).map_err(|message| ConfigError::Env {
                    name: "LAGESBILD_TRUSTED_PROXIES".into(),
                    value: v.clone(),
                    message,
                })?;
        }
        if let Some(v) = get("LAGESBILD_PROXY_HEADER") {
            self.proxy_header = match v.trim().to_ascii_lowercase().as_str() {
                "x-forwarded-for" => ProxyHeader::XForwardedFor,
                "forwarded" => ProxyHeader::Forwarded,
                _ => {
                    return Err(ConfigError::Env {
                        name: "LAGESBILD_PROXY_HEADER".into(),
                        value: v,
                        message: "expected x-forwarded-for or forwarded".into(),
                    });
                }
            };
        }
        if let Some(v) = get("LAGESBILD_TILE_URL") {
            self.tile_url = v;
        }
        if let Some(v) = get("LAGESBILD_SERVICE_AREA") {
            let parts: Vec<&str> = v.split(',').collect();
            let nums: Result<Vec<f64>, _> = parts.iter().map(|p| p.trim().parse()).collect();
            match nums {
                Ok(n) if n.len() == 4 => self.service_area = Some([n[0], n[1], n[2], n[3]]),
                _ => {
                    return Err(ConfigError::Env {
                        name: "LAGESBILD_SERVICE_AREA".into(),
                        value: v,
                        message: "expected west,south,east,north in WGS84 degrees".into(),
                    });
                }
            }
        }
        if let Some(v) = get("LAGESBILD_LIGHTING_CLASS") {
            self.lighting_class = v;
        }
        if let Some(v) = get("LAGESBILD_LIGHTING_KIND_CLASSES") {
            self.lighting_kind_classes = Some(v);
        }
        Ok(())
    }

    /// The service area in EPSG:3006.
    pub fn service_area(&self) -> ServiceArea {
        match self.service_area {
            Some(b) => ServiceArea::from_wgs84_bbox(b).unwrap_or_else(|_| ServiceArea::sweden()),
            None => ServiceArea::sweden(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_file_values() {
        let mut c = Config::default();
        c.apply_env(|k| match k {
            "LAGESBILD_MIN_PUBLIC_COUNT" => Some("5".into()),
            "LAGESBILD_SERVICE_AREA" => Some("17.9,59.4,18.2,59.5".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.min_public_count, 5);
        assert_eq!(c.service_area, Some([17.9, 59.4, 18.2, 59.5]));
        let err = c
            .apply_env(|k| (k == "LAGESBILD_MIN_PUBLIC_COUNT").then(|| "many".into()))
            .unwrap_err();
        assert!(err.to_string().contains("LAGESBILD_MIN_PUBLIC_COUNT"));
    }

    #[test]
    fn invalid_values_are_named() {
        let bad_class = Config {
            lighting_class: "P7".into(),
            ..Config::default()
        };
        assert!(bad_class.validate().unwrap_err().to_string().contains("P7"));
        let bad_kinds = Config {
            lighting_kind_classes: Some("steps".into()),
            ..Config::default()
        };
        assert!(
            bad_kinds
                .validate()
                .unwrap_err()
                .to_string()
                .contains("lighting_kind_classes")
        );
        for (area, says) in [
            ([59.4, 17.9, 59.5, 18.2], "outside Sweden"),
            (
                [18.2, 59.5, 17.9, 59.4],
                "expected [west, south, east, north]",
            ),
        ] {
            let c = Config {
                service_area: Some(area),
                ..Config::default()
            };
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains(says), "{err}");
        }
        let taby = Config {
            service_area: Some([17.98, 59.41, 18.16, 59.49]),
            ..Config::default()
        };
        assert!(taby.validate().is_ok());
        let zero = Config {
            min_public_count: 0,
            ..Config::default()
        };
        assert!(zero.validate().is_err());
        assert!(Config::default().validate().is_ok());
    }

    #[test]
    fn load_limits_are_checked() {
        let d = Config::default();
        assert_eq!(d.shutdown_grace_s, 10);
        assert_eq!(d.header_read_timeout_s, 10);
        assert!(d.analysis_slots() >= 1);
        for (c, says) in [
            (
                Config {
                    max_concurrent_analyses: Some(0),
                    ..Config::default()
                },
                "max_concurrent_analyses",
            ),
            (
                Config {
                    shutdown_grace_s: 11,
                    ..Config::default()
                },
                "shutdown_grace_s",
            ),
            (
                Config {
                    header_read_timeout_s: 0,
                    ..Config::default()
                },
                "header_read_timeout_s",
            ),
            (
                Config {
                    max_connections: 0,
                    ..Config::default()
                },
                "max_connections",
            ),
            (
                Config {
                    analysis_wait_ms: 60_000,
                    ..Config::default()
                },
                "analysis_wait_ms",
            ),
        ] {
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains(says), "{err}");
        }
        let one = Config {
            max_concurrent_analyses: Some(1),
            ..Config::default()
        };
        assert_eq!(one.analysis_slots(), 1);
        assert!(one.validate().is_ok());
    }

    #[test]
    fn example_file_parses() {
        let text = include_str!("../lagesbild.example.toml");
        let c: Config = toml::from_str(text).expect("example config parses");
        assert_eq!(c.min_public_count, 3);
        assert!(
            c.trusted_proxies.is_empty(),
            "no proxy is trusted by default"
        );
        assert_eq!(c.proxy_header, ProxyHeader::XForwardedFor);
    }

    #[test]
    fn trusted_proxies_from_the_file_and_the_environment() {
        let c: Config = toml::from_str(
            "trusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\", \"fd00::/8\"]\nproxy_header = \"forwarded\"",
        )
        .unwrap();
        assert!(c.trusted_proxies.contains("10.20.30.40".parse().unwrap()));
        assert!(c.trusted_proxies.contains("127.0.0.1".parse().unwrap()));
        assert!(!c.trusted_proxies.contains("192.0.2.1".parse().unwrap()));
        assert_eq!(c.proxy_header, ProxyHeader::Forwarded);
        let err = toml::from_str::<Config>("trusted_proxies = [\"10.0.0.0/40\"]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("10.0.0.0/40"), "{err}");
        let mut c = Config::default();
        c.apply_env(|k| (k == "LAGESBILD_TRUSTED_PROXIES").then(|| "192.0.2.1, 10.0.0.0/8".into()))
            .unwrap();
        assert!(c.trusted_proxies.contains("10.9.9.9".parse().unwrap()));
        let err = c
            .apply_env(|k| (k == "LAGESBILD_TRUSTED_PROXIES").then(|| "proxy.lan".into()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("LAGESBILD_TRUSTED_PROXIES") && err.contains("proxy.lan"),
            "{err}"
        );
    }
}
