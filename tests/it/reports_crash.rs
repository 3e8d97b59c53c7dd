//! Durability: `kill -9` the real server in the middle of a burst of concurrent submissions;
//! after a restart on the same SQLite file, every report whose id was acknowledged is there, with
//! the text that was sent.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CLIENTS: usize = 16;

/// Starts `lagesbild serve` on a free port and returns it with its base URL.
fn start_server(db: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lagesbild"))
        .args(["--db", db, "serve", "--addr", "127.0.0.1:0"])
        .env("NO_COLOR", "1")
        .env("LAGESBILD_LOG", "info")
        // No limit: the burst comes from one address.
        .env("LAGESBILD_REPORTS_PER_MINUTE", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start lagesbild");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let at = line.find("serving Lägesbild at http://").filter(|_| !sent);
            if let Some(i) = at {
                let rest = &line[i + "serving Lägesbild at http://".len()..];
                let addr = rest.split('/').next().unwrap().to_string();
                let _ = tx.send(addr);
                sent = true;
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server prints its address");
    (child, format!("http://{addr}"))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

#[test]
fn every_acknowledged_report_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.sqlite").display().to_string();
    let (mut child, base) = start_server(&db);

    // id → description, for every 200 answer received.
    let acked: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let attempts = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (acked, stop, attempts, base) =
                (acked.clone(), stop.clone(), attempts.clone(), base.clone());
            std::thread::spawn(move || {
                let agent = agent();
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    attempts.fetch_add(1, Ordering::SeqCst);
                    let text = format!("krasch-test klient {c} nummer {n}");
                    let lat = format!("{:.6}", 59.44 + c as f64 * 1e-4);
                    let long = format!("{:.6}", 18.06 + n as f64 * 1e-5);
                    let r = agent
                        .post(format!("{base}/open311/v2/requests.json"))
                        .send_form([
                            ("service_code", "dark_path"),
                            ("lat", lat.as_str()),
                            ("long", long.as_str()),
                            ("description", text.as_str()),
                            ("email", "krasch@example.org"),
                        ]);
                    match r {
                        Ok(mut resp) if resp.status() == 200 => {
                            let body = resp.body_mut().read_to_string().unwrap_or_default();
                            // A torn answer is not an acknowledgement.
                            let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) else {
                                continue;
                            };
                            let id = v[0]["service_request_id"].as_str().unwrap().to_string();
                            acked.lock().unwrap().insert(id, text);
                        }
                        Ok(resp) => panic!("unexpected status {}", resp.status()),
                        // The server is gone.
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();

    // Let the burst run until a good number is acknowledged, then kill -9 mid-flight.
    let t0 = Instant::now();
    while acked.lock().unwrap().len() < 300 && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().unwrap();
    }
    let acked = Arc::try_unwrap(acked).unwrap().into_inner().unwrap();
    let tried = attempts.load(Ordering::SeqCst);
    assert!(acked.len() >= 300, "only {} acknowledged", acked.len());
    assert!(
        tried > acked.len(),
        "the kill should interrupt requests in flight ({tried} tried, {} acknowledged)",
        acked.len()
    );

    // Restart on the same file: every acknowledged id is there with its text.
    let (mut child, base) = start_server(&db);
    let agent = agent();
    let ids: Vec<&String> = acked.keys().collect();
    let mut found = 0;
    for chunk in ids.chunks(200) {
        let list: Vec<&str> = chunk.iter().map(|s| s.as_str()).collect();
        let url = format!(
            "{base}/open311/v2/requests.json?service_request_id={}",
            list.join(",")
        );
        let mut resp = agent.get(url).call().unwrap();
        assert_eq!(resp.status(), 200);
        let v: serde_json::Value =
            serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
        for r in v.as_array().unwrap() {
            let id = r["service_request_id"].as_str().unwrap();
            assert_eq!(r["description"].as_str(), acked.get(id).map(String::as_str));
            found += 1;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        found,
        acked.len(),
        "acknowledged reports lost after kill -9"
    );
    eprintln!(
        "kill -9 after {} acknowledged of {tried} attempted submissions: all {found} found after restart",
        acked.len()
    );
}
