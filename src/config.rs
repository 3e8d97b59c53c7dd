//! Configuration: a TOML file (see `lagesbild.example.toml`) overridden by `LAGESBILD_*`
//! environment variables and command-line flags.

use std::path::Path;

use serde::{Deserialize, Serialize};

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
    /// Citizen report submissions allowed per client and minute.
    pub reports_per_minute: u32,
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
}

impl Default for Config {
    fn default() -> Self {
        Self {
            db: "lagesbild.sqlite".into(),
            addr: "127.0.0.1:8080".into(),
            service_area: None,
            min_public_count: 3,
            reports_per_minute: 10,
            tile_url: "https://tile.openstreetmap.org/{z}/{x}/{y}.png".into(),
            tile_attribution: "© OpenStreetMap contributors".into(),
            max_body_bytes: 2 * 1024 * 1024,
            request_timeout_s: 30,
            reload_interval_s: 5,
            lighting_class: "P5".into(),
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
        Ok(cfg)
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
    fn example_file_parses() {
        let text = include_str!("../lagesbild.example.toml");
        let c: Config = toml::from_str(text).expect("example config parses");
        assert_eq!(c.min_public_count, 3);
    }
}
