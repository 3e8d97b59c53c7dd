//! Checks, before the crate is compiled, that what `src/api/web.rs` builds into the binary is
//! there: the web app in `web/` and Leaflet and Leaflet.markercluster in `web/node_modules`, at
//! the versions `web/package.json` pins. Without them `rust-embed` would fail with a message that
//! does not say what to do, or (a stale `node_modules`) embed another Leaflet than the one the
//! app was tested with.
//!
//! It also tells cargo which files to watch, so that an edit to the app, or a new file in
//! `web/js/`, rebuilds the binary, while the browser tests in `web/tests/` and the rest of
//! `node_modules` do not.

use std::path::Path;
use std::process::ExitCode;

/// The npm packages whose `dist/` is embedded, with a file each must have.
const PACKAGES: [(&str, &str); 2] = [
    ("leaflet", "dist/leaflet.js"),
    ("leaflet.markercluster", "dist/leaflet.markercluster.js"),
];

const APP_FILES: [&str; 7] = [
    "web/index.html",
    "web/print.html",
    "web/style.css",
    "web/print.css",
    "web/loften.html",
    "web/loften.css",
    "web/js",
];

fn main() -> ExitCode {
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&root);
    for f in APP_FILES {
        println!("cargo:rerun-if-changed={f}");
    }
    println!("cargo:rerun-if-changed=web/package.json");
    println!("cargo:rerun-if-changed=build.rs");
    // sqlx::migrate! reads migrations/<backend>/ at compile time; a new file must rebuild.
    println!("cargo:rerun-if-changed=migrations");

    let mut problems = Vec::new();
    for f in APP_FILES {
        if !root.join(f).exists() {
            problems.push(format!("{f} is missing"));
        }
    }
    let package_json = std::fs::read_to_string(root.join("web/package.json")).unwrap_or_default();
    for (package, file) in PACKAGES {
        let dir = format!("web/node_modules/{package}");
        println!("cargo:rerun-if-changed={dir}/package.json");
        println!("cargo:rerun-if-changed={dir}/dist");
        if !root.join(&dir).join(file).is_file() {
            problems.push(format!("{dir}/{file} is missing"));
            continue;
        }
        let installed = std::fs::read_to_string(root.join(&dir).join("package.json"))
            .ok()
            .and_then(|t| string_field(&t, "version"));
        // Only an exact pin ("1.9.4") is compared; a range leaves the choice to npm.
        let wanted = string_field(&package_json, package)
            .filter(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'));
        if let (Some(installed), Some(wanted)) = (installed, wanted)
            && installed != wanted
        {
            problems.push(format!(
                "{dir} is version {installed}, but web/package.json asks for {wanted}"
            ));
        }
    }
    if problems.is_empty() {
        return ExitCode::SUCCESS;
    }
    eprintln!();
    eprintln!("error: the web app cannot be built into the binary:");
    for p in &problems {
        eprintln!("  - {p}");
    }
    eprintln!();
    eprintln!("Install the web app's npm packages first, then build again:");
    eprintln!();
    eprintln!("    cd web && npm ci");
    eprintln!();
    eprintln!("(or ./scripts/setup.sh, which also installs cmake for PROJ).");
    ExitCode::FAILURE
}

/// The string value of the first `"key": "value"` in a JSON text: enough for the version in a
/// package.json and a pinned dependency, without a JSON parser in the build script.
fn string_field(json: &str, key: &str) -> Option<String> {
    let quoted = format!("\"{key}\"");
    let mut rest = json;
    while let Some(i) = rest.find(&quoted) {
        rest = &rest[i + quoted.len()..];
        let after = rest.trim_start();
        if let Some(value) = after.strip_prefix(':') {
            let value = value.trim_start().strip_prefix('"')?;
            return value.split('"').next().map(str::to_string);
        }
    }
    None
}
