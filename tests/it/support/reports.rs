//! The citizen-report tests' server: [`super::TestServer`] over a fixture footway and lamp, on a
//! runtime of its own, with a small blocking HTTP client.
#![allow(dead_code)]

use std::time::Duration;

use geo::{LineString, Point, coord};
use lagesbild::api::AppState;
use lagesbild::config::Config;
use lagesbild::model::{Lamp, LampStatus, Role, Walkway};

/// The fixture path: a straight east-west footway near Täby centrum along northing 6 593 500
/// from easting 673 900 to 674 100 (EPSG:3006), and one lamp 5 m north of its middle.
pub const WAY_ID: i64 = 4242;
pub const WAY_Y: f64 = 6_593_500.0;
pub const LAMP_ID: &str = "test:L1";
pub const LAMP_AT: (f64, f64) = (674_000.0, 6_593_505.0);
/// The demo service area (WGS84 west, south, east, north).
pub const AREA: [f64; 4] = [17.98, 59.40, 18.16, 59.49];

pub struct Server {
    pub base: String,
    pub db: String,
    pub state: AppState,
    pub agent: ureq::Agent,
    // Dropped before the runtime it runs on.
    srv: Option<super::TestServer>,
    pub rt: tokio::runtime::Runtime,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _guard = self.rt.enter();
        drop(self.srv.take());
    }
}

pub fn fixture_way() -> Walkway {
    Walkway {
        id: WAY_ID,
        geometry: LineString(vec![
            coord! {x: 673_900.0, y: WAY_Y},
            coord! {x: 674_100.0, y: WAY_Y},
        ]),
        kind: "footway".into(),
        lit: Some("yes".into()),
        name: Some("Provstigen".into()),
    }
}

pub fn fixture_lamp() -> Lamp {
    Lamp {
        id: LAMP_ID.into(),
        location: Point::new(LAMP_AT.0, LAMP_AT.1),
        height_m: Some(5.0),
        lumen: Some(3000.0),
        watt: None,
        status: LampStatus::Working,
        source: "test".into(),
        reference: Some("L1".into()),
    }
}

/// WGS84 `(lat, long)` of an EPSG:3006 point, as a client would send it.
pub fn latlong(x: f64, y: f64) -> (f64, f64) {
    let (lon, lat) = lagesbild::crs::to_wgs84(x, y).unwrap();
    (lat, lon)
}

pub fn start(reports_per_minute: u32) -> Server {
    start_with(reports_per_minute, |_| {})
}

/// [`start`] with more of the configuration set by `adjust`: the shared test server over the
/// fixture footway and lamp, on a runtime of its own.
pub fn start_with(reports_per_minute: u32, adjust: impl FnOnce(&mut Config)) -> Server {
    start_on(None, reports_per_minute, adjust, async |store| {
        store.upsert_walkways(&[fixture_way()]).await.unwrap();
        store.upsert_lamps(&[fixture_lamp()]).await.unwrap();
    })
}

/// A server over `db` (a new SQLite file when `None`) that `seed` fills first, on a runtime of
/// its own: each one is a replica with its own pool, snapshot and group commit.
pub fn start_on(
    db: Option<String>,
    reports_per_minute: u32,
    adjust: impl FnOnce(&mut Config),
    seed: impl AsyncFnOnce(&dyn lagesbild::store::Store),
) -> Server {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let srv = rt.block_on(super::TestServer::seeded_on(
        db,
        |cfg| {
            cfg.reports_per_minute = reports_per_minute;
            cfg.service_area = Some(AREA);
            adjust(cfg);
        },
        seed,
    ));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    Server {
        base: srv.url(""),
        db: srv.db.clone(),
        state: srv.state.clone(),
        agent,
        srv: Some(srv),
        rt,
    }
}

/// Status, selected headers and body of an answer.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub retry_after: Option<String>,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn answer(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut r = r.expect("HTTP exchange");
    let h = |n: &str| {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = h("content-type").unwrap_or_default();
    let retry_after = h("retry-after");
    Answer {
        status: r.status().as_u16(),
        content_type,
        retry_after,
        body: r.body_mut().read_to_string().unwrap(),
    }
}

impl Server {
    pub fn get(&self, path: &str) -> Answer {
        answer(self.agent.get(format!("{}{path}", self.base)).call())
    }

    pub fn get_auth(&self, path: &str, token: &str) -> Answer {
        answer(
            self.agent
                .get(format!("{}{path}", self.base))
                .header("Authorization", format!("Bearer {token}"))
                .call(),
        )
    }

    pub fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        answer(
            self.agent
                .post(format!("{}{path}", self.base))
                .send_form(form.iter().copied()),
        )
    }

    pub fn post_form_with(
        &self,
        path: &str,
        header: (&str, &str),
        form: &[(&str, &str)],
    ) -> Answer {
        answer(
            self.agent
                .post(format!("{}{path}", self.base))
                .header(header.0, header.1)
                .send_form(form.iter().copied()),
        )
    }

    pub fn patch_json(&self, path: &str, token: Option<&str>, body: serde_json::Value) -> Answer {
        let mut req = self
            .agent
            .patch(format!("{}{path}", self.base))
            .header("Content-Type", "application/json");
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        answer(req.send(body.to_string()))
    }

    /// Creates a token with the role and returns its text.
    pub fn token(&self, role: Role) -> String {
        let (text, stored) = lagesbild::api::auth::new_token(role, "test");
        self.rt
            .block_on(self.state.store.insert_token(&stored))
            .unwrap();
        text
    }

    /// Submits a report and returns its id (panics unless accepted).
    pub fn submit(&self, form: &[(&str, &str)]) -> String {
        let a = self.post_form("/open311/v2/requests.json", form);
        assert_eq!(a.status, 200, "{}", a.body);
        a.json()[0]["service_request_id"]
            .as_str()
            .expect("service_request_id is a string")
            .to_string()
    }
}
