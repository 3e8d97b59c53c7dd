//! Configuration: a TOML file (see `lagesbild.example.toml`) overridden by `LAGESBILD_*`
//! environment variables and command-line flags.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::api::client::{ProxyHeader, TrustedProxies};
use crate::crs::ServiceArea;

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
        crate::api::lighting::class_plan(None, None, self).map_err(ConfigError::Invalid)?;
        if let Some([w, s, e, n]) = self.service_area {
            if !(w < e && s < n) {
                return Err(ConfigError::Invalid(format!(
                    "service_area = [{w}, {s}, {e}, {n}]: expected [west, south, east, north] in WGS84 degrees"
                )));
            }
            // SWEREF 99 TM is for Sweden: a box outside it is a mistake, often swapped lat/lon.
            let [sw, ss, se, sn] = crate::api::web::SWEDEN_WGS84;
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
