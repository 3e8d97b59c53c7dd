#!/usr/bin/env bash
# Installs what building and testing Lägesbild needs on a fresh Debian machine, and nothing that
# is already there: cmake (PROJ is built from source by the proj crate), sqlite3 (PROJ's build
# uses it to make proj.db), the web app's npm packages and, with --browser (what `make test`
# asks for), Debian's Chromium for the browser tests, Debian's GDAL (gdal-bin, python3-gdal) for
# the GeoPackage and OGC API tests, PostgreSQL 15 with PostGIS 3 for the store's second backend
# and a venv with OWSLib and mapbox-vector-tile. Safe to run again; fast when everything is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

browser=0
[[ "${1:-}" == "--browser" ]] && browser=1

need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v c++ >/dev/null 2>&1 || need+=(g++)
if ((browser)); then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  # GDAL reads the GeoPackage export in the tests (ogrinfo, ogr2ogr, validate_gpkg.py).
  command -v ogrinfo >/dev/null 2>&1 || need+=(gdal-bin)
  [[ -f /usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py ]] || need+=(python3-gdal)
  # The store's tests run against a real PostgreSQL with PostGIS too (scripts/with-postgres.sh
  # starts a throwaway cluster; no system service is used).
  [[ -x /usr/lib/postgresql/15/bin/initdb ]] || need+=(postgresql)
  [[ -f /usr/share/postgresql/15/extension/postgis.control ]] || need+=(postgresql-15-postgis-3)
  # The example load balancer in deploy/nginx.conf is run in front of two replicas in a test.
  [[ -x /usr/sbin/nginx ]] || need+=(nginx-light)
fi

if ((${#need[@]})); then
  echo "setup: installing ${need[*]} from Debian's packages" >&2
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Outside clients of the GIS interfaces, from PyPI in a venv under ~/.cache/lagesbild/: OWSLib
# reads OGC API – Features, openapi-spec-validator checks its OpenAPI 3.0 document,
# mapbox-vector-tile decodes the vector tiles (tests/it/ogc.rs,
# tests/it/tiles.rs find it through LAGESBILD_GIS_PYTHON or this path).
GIS_PACKAGES=(OWSLib==0.35.0 mapbox-vector-tile==2.2.0 openapi-spec-validator==0.7.2)
gis_venv="${HOME}/.cache/lagesbild/gis-venv"
if ((browser)); then
  if [[ ! -x "$gis_venv/bin/python" ]] || ! "$gis_venv/bin/pip" freeze 2>/dev/null | grep -qx "OWSLib==0.35.0" \
    || ! "$gis_venv/bin/pip" freeze 2>/dev/null | grep -qx "mapbox-vector-tile==2.2.0" \
    || ! "$gis_venv/bin/pip" freeze 2>/dev/null | grep -qx "openapi-spec-validator==0.7.2"; then
    echo "setup: installing ${GIS_PACKAGES[*]} into $gis_venv" >&2
    python3 -m venv "$gis_venv"
    "$gis_venv/bin/pip" install --quiet --disable-pip-version-check "${GIS_PACKAGES[@]}"
  fi
fi

if [[ -f web/package.json ]]; then
  if [[ ! -d web/node_modules || web/package-lock.json -nt web/node_modules ]]; then
    echo "setup: installing the web app's npm packages" >&2
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
    touch web/node_modules
  fi
fi
