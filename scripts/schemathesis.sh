#!/usr/bin/env bash
# Property-based API tests: schemathesis (from PyPI, in a venv under ~/.cache/lagesbild/) sends
# requests generated from /api/openapi.json to a demo server on a free loopback port and fails
# on any 5xx answer. Two passes: anonymous, and with an admin token (every role's code paths);
# then the same two over OGC API – Features' own OpenAPI 3.0 document at /ogc/api.
#
#   scripts/schemathesis.sh              # the built debug binary, ~2 minutes
#   ST_MAX_EXAMPLES=50 scripts/schemathesis.sh
#
# Environment: CARGO_TARGET_DIR (where the binary is), LAGESBILD_BIN (a binary to use instead),
# ST_MAX_EXAMPLES (cases per operation and pass, default 8), ST_MAX_TIME (seconds per pass,
# default 75), ST_SEED (default 1, for repeatable runs). Reports go to
# $TMPDIR/lagesbild-schemathesis-*/.
set -euo pipefail
cd "$(dirname "$0")/.."

ST_VERSION=4.32.5
OSV_VERSION=0.7.2
venv="${HOME}/.cache/lagesbild/schemathesis-venv"
if [[ ! -x "$venv/bin/schemathesis" ]] || ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$ST_VERSION" \
  || ! "$venv/bin/pip" show openapi-spec-validator 2>/dev/null | grep -q "^Version: $OSV_VERSION"; then
  echo "schemathesis: installing schemathesis $ST_VERSION and openapi-spec-validator $OSV_VERSION into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$ST_VERSION" \
    "openapi-spec-validator==$OSV_VERSION"
fi

target="${CARGO_TARGET_DIR:-$HOME/.cache/lagesbild/target}"
bin="${LAGESBILD_BIN:-$target/debug/lagesbild}"
if [[ ! -x "$bin" ]]; then
  echo "schemathesis: $bin does not exist: run cargo build --bin lagesbild first" >&2
  exit 2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/lagesbild-schemathesis-XXXXXX")"
db="$work/demo.sqlite"
log="$work/server.log"
# Generous slots and waits: one client must not be told 503 because of its own earlier requests.
cat >"$work/lagesbild.toml" <<'EOF'
max_concurrent_analyses = 4
analysis_wait_ms = 10000
reports_per_minute = 100000
EOF

token="$("$bin" --db "$db" token create --role admin --label schemathesis 2>/dev/null)"

LAGESBILD_LOG="info,sqlx=warn,tower_http=warn" \
  "$bin" --config "$work/lagesbild.toml" --db "$db" demo --addr 127.0.0.1:0 2>"$log" &
server=$!
cleanup() {
  if kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
}
trap cleanup EXIT

addr=""
for _ in $(seq 1 600); do
  addr="$(sed -n 's|.*serving Lägesbild at http://\([^/ ]*\)/.*|\1|p' "$log" | head -n 1)"
  [[ -n "$addr" ]] && break
  if ! kill -0 "$server" 2>/dev/null; then
    echo "schemathesis: the server exited before serving:" >&2
    cat "$log" >&2
    exit 2
  fi
  sleep 0.2
done
if [[ -z "$addr" ]]; then
  echo "schemathesis: the server did not start in 120 s:" >&2
  cat "$log" >&2
  exit 2
fi
echo "schemathesis: demo server at http://$addr (log: $log)" >&2

# The document itself first, by an outside validator of OpenAPI 3.1 (it is derived from the
# handlers' types; a wrong derivation fails here before any request is generated from it).
"$venv/bin/python" - "http://$addr/api/openapi.json" "$work/openapi.json" <<'PY'
import sys, urllib.request
urllib.request.urlretrieve(sys.argv[1], sys.argv[2])
PY
"$venv/bin/openapi-spec-validator" "$work/openapi.json"

run() {
  local name="$1"
  shift
  run_on "$name" "http://$addr/api/openapi.json" "http://$addr" "$@"
}

# run_on NAME SCHEMA BASE-URL [ARGS…]
run_on() {
  local name="$1" schema="$2" url="$3"
  shift 3
  echo "schemathesis: pass '$name'" >&2
  # From the work directory: schemathesis keeps a cache in .schemathesis/ where it runs.
  (cd "$work" && "$venv/bin/schemathesis" run "$schema" \
    --url "$url" \
    --checks not_a_server_error \
    --max-examples "${ST_MAX_EXAMPLES:-8}" \
    --max-time "${ST_MAX_TIME:-75}" \
    --seed "${ST_SEED:-1}" \
    --workers 1 \
    --request-timeout 40 \
    --generation-database none \
    --no-color \
    --report junit --report-dir "$work/$name" \
    "$@")
}

status=0
run anonymous || status=1
run admin -H "Authorization: Bearer $token" || status=1
# OGC API – Features describes itself in its own OpenAPI 3.0 document at /ogc/api.
run_on ogc-anonymous "http://$addr/ogc/api" "http://$addr/ogc" || status=1
run_on ogc-admin "http://$addr/ogc/api" "http://$addr/ogc" -H "Authorization: Bearer $token" || status=1

if grep -q "internal error\|panicked" "$log"; then
  echo "schemathesis: the server logged errors:" >&2
  grep -n "internal error\|panicked\|ERROR" "$log" | head -n 40 >&2
  status=1
fi
if ((status)); then
  echo "schemathesis: FAILED (reports and server log in $work)" >&2
else
  echo "schemathesis: no 5xx answers" >&2
fi
exit "$status"
