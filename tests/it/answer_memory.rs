//! A large answer is written once: serving the demo's default kernel density GeoJSON to a
//! coordinator (≈ 19 MB) must not lift the server's peak RSS by more than twice the answer's
//! size. Measured on the real binary in its own process (`VmHWM` in `/proc/PID/status`), so that
//! other tests of this binary do not count.

use std::process::Command;
use std::time::Duration;

fn kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} not in /proc/{pid}/status"))
}

#[test]
fn the_default_heat_map_lifts_peak_rss_by_at_most_twice_its_size() {
    let bin = env!("CARGO_BIN_EXE_lagesbild");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.sqlite");
    let db = db.to_str().unwrap();
    let out = Command::new(bin)
        .args([
            "--db",
            db,
            "token",
            "create",
            "--role",
            "coordinator",
            "--label",
            "rss",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let (mut child, addr, _log) =
        crate::support::spawn_demo(std::path::Path::new(db), Duration::from_secs(180));
    let pid = child.id();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    // Warm what every request touches (token check, routing) with a small answer first.
    let health = agent
        .get(format!("http://{addr}/health"))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(health.status(), 200);
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
    let before = kib(pid, "VmHWM:");
    let mut resp = agent
        .get(format!("http://{addr}/api/v1/hotspots?method=kde"))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp
        .body_mut()
        .with_config()
        .limit(256 * 1024 * 1024)
        .read_to_vec()
        .unwrap();
    let peak = kib(pid, "VmHWM:");
    let _ = child.kill();
    let _ = child.wait();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["meta"]["role"], "coordinator");
    let size_kib = body.len() as u64 / 1024;
    // The demo's heat map is the large answer the issue measured (19 MB, 82 519 cells).
    assert!(
        size_kib > 10_000,
        "answer of {size_kib} KiB is not the large one"
    );
    let growth = peak.saturating_sub(before);
    eprintln!(
        "default KDE answer {size_kib} KiB; peak RSS {before} → {peak} KiB (+{growth} KiB, {:.2}× the answer)",
        growth as f64 / size_kib as f64
    );
    assert!(
        growth <= 2 * size_kib,
        "peak RSS grew by {growth} KiB for an answer of {size_kib} KiB"
    );
}
