#!/usr/bin/env bash
# Does an installed Lägesbild run anywhere? `cargo install --path CHECKOUT --root DIR` from a copy
# of this checkout, the copy deleted, then `lagesbild demo` (database in a temporary directory,
# a free loopback port) started from another, empty directory; it must serve a working map:
#
#   * GET / is the app's page, and every script and stylesheet it references (the app's own and
#     Leaflet's under vendor/) and those the app loads itself (Leaflet.markercluster) answer 200
#     with the right content type and the right file;
#   * GET /api/v1/config and /health answer JSON.
#
#   scripts/install-check.sh       # part of `make test`
#
# The install is a release build, as a user's `cargo install --path .` is. Its target directory
# is kept between runs, so only the first run compiles the dependencies (PROJ from source with
# cmake among them, minutes); later runs compile lagesbild itself from the copy, every time (the
# copy's files are new, so cargo's mtime check cannot take an old build for the copy's code).
# Environment: LAGESBILD_INSTALL_TARGET (that directory, default
# ~/.cache/lagesbild/install-target), LAGESBILD_INSTALL_CHECKOUT (where the copy is made and
# deleted, default ~/.cache/lagesbild/install-checkout: a fixed path, since cargo names a path
# package's artefacts by its path and a new path each run would rebuild lagesbild and pile up
# copies of it in the target directory).
set -euo pipefail
cd "$(dirname "$0")/.."
src="$PWD"

cache="${HOME}/.cache/lagesbild"
export CARGO_TARGET_DIR="${LAGESBILD_INSTALL_TARGET:-$cache/install-target}"
checkout="${LAGESBILD_INSTALL_CHECKOUT:-$cache/install-checkout}"
mkdir -p "$cache" "$CARGO_TARGET_DIR"

work="$(mktemp -d "${TMPDIR:-/tmp}/lagesbild-install-XXXXXX")"
server=""
cleanup() {
  if [[ -n "$server" ]] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "install-check: FAILED: $*" >&2
  if [[ -f "$work/server.log" ]]; then
    echo "install-check: server log:" >&2
    tail -n 40 "$work/server.log" >&2
  fi
  exit 1
}

# One install at a time per checkout path (two worktrees running `make test` at once).
exec 9>"$checkout.lock"
flock 9

# A copy of the checkout as it is on disk (uncommitted edits and web/node_modules included, as a
# user's checkout after ./scripts/setup.sh has them), without git's data and any in-tree target/.
rm -rf "$checkout"
mkdir -p "$checkout"
# -m: the files get the copy's time, not the checkout's; with the checkout's, a file edited
# before the last install started but copied only now would look older than that build.
tar -C "$src" --exclude=./.git --exclude=./target -cf - . | tar -C "$checkout" -xmf -

started=$SECONDS
# --locked: the versions in Cargo.lock, the ones the tests ran with (without it cargo install
# resolves afresh and may pick versions the registry mirror lacks or the tests never saw).
if ! cargo install --locked --quiet --path "$checkout" --root "$work/root" 2>"$work/install.log"; then
  cat "$work/install.log" >&2
  fail "cargo install"
fi
echo "install-check: cargo install took $((SECONDS - started)) s (target directory $CARGO_TARGET_DIR)" >&2
rm -rf "$checkout"
[[ ! -e "$checkout" ]] || fail "the copy of the checkout is still there"
bin="$work/root/bin/lagesbild"
[[ -x "$bin" ]] || fail "$bin was not installed"

# From an empty directory elsewhere, with nothing pointing back at a checkout.
mkdir "$work/elsewhere" "$work/data"
cd "$work/elsewhere"
env -u LAGESBILD_WEB_DIR -u LAGESBILD_CONFIG -u LAGESBILD_DB NO_COLOR=1 \
  LAGESBILD_LOG="info,sqlx=warn,tower_http=warn" \
  "$bin" --db "$work/data/demo.sqlite" demo --addr 127.0.0.1:0 2>"$work/server.log" &
server=$!

addr=""
for _ in $(seq 1 600); do
  addr="$(sed -n 's|.*serving Lägesbild at http://\([^/ ]*\)/.*|\1|p' "$work/server.log" | head -n 1)"
  [[ -n "$addr" ]] && break
  kill -0 "$server" 2>/dev/null || fail "the server exited before serving"
  sleep 0.2
done
[[ -n "$addr" ]] || fail "the server did not start in 120 s"
echo "install-check: the installed demo serves at http://$addr from $PWD" >&2

# fetch PATH FILE: the answer's status and content type on stdout, its body in FILE.
fetch() {
  curl --silent --show-error --max-time 30 --output "$2" \
    --write-out '%{http_code} %{content_type}' "http://$addr/$1"
}

expect() { # expect PATH TYPE NEEDLE: 200, a content type starting TYPE, a body containing NEEDLE
  local path="$1" type="$2" needle="$3" got
  got="$(fetch "$path" "$work/body")" || fail "GET /$path: no answer"
  [[ "$got" == "200 $type"* ]] || fail "GET /$path: '$got', expected 200 $type"
  grep -qF -- "$needle" "$work/body" || fail "GET /$path lacks '$needle'"
}

expect "" "text/html" '<div id="map"'
cp "$work/body" "$work/index.html"
# What the page references, and what the app loads itself (markercluster, from js/app.js).
mapfile -t scripts < <(grep -o 'src="[^":]*\.js"' "$work/index.html" | sed 's/^src="//; s/"$//')
mapfile -t styles < <(grep -o 'href="[^":]*\.css"' "$work/index.html" | sed 's/^href="//; s/"$//')
printf '%s\n' "${scripts[@]}" | grep -qx 'vendor/leaflet/leaflet.js' || fail "the page does not load Leaflet's script"
printf '%s\n' "${styles[@]}" | grep -qx 'vendor/leaflet/leaflet.css' || fail "the page does not load Leaflet's stylesheet"
for s in "${scripts[@]}"; do expect "$s" "text/javascript" ""; done
for s in "${styles[@]}"; do expect "$s" "text/css" "{"; done
expect "vendor/leaflet/leaflet.js" "text/javascript" "Leaflet"
expect "vendor/leaflet/leaflet.css" "text/css" ".leaflet-pane"
expect "vendor/leaflet/images/marker-icon.png" "image/png" "PNG"
expect "js/app.js" "text/javascript" "vendor/markercluster/leaflet.markercluster.js"
expect "vendor/markercluster/leaflet.markercluster.js" "text/javascript" "MarkerClusterGroup"
expect "vendor/markercluster/MarkerCluster.css" "text/css" ".leaflet-cluster-anim"
expect "print.html" "text/html" "js/print.js"

expect "api/v1/config" "application/json" '"tile_url"'
python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
assert c["demo"] is True, c["demo"]
assert len(c["service_area_wgs84"]) == 4, c
assert any(d["name"] == "Täby centrum" for d in c["districts"]), c["districts"]
' "$work/body" || fail "/api/v1/config is not the demo's"
expect "health" "application/json" '"ok"'

# Nothing from the checkout that the binary does not carry.
for p in package.json node_modules/leaflet/package.json Cargo.toml; do
  got="$(fetch "$p" /dev/null)" || fail "GET /$p: no answer"
  [[ "$got" == 404* ]] || fail "GET /$p: '$got', expected 404"
done

echo "install-check: the installed binary serves the map, Leaflet and the API from anywhere" >&2
