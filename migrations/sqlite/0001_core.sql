-- Imported data. Coordinates are SWEREF 99 TM (EPSG:3006) metres; instants are UTC Unix seconds
-- with the UTC offset the source carried kept beside them.

CREATE TABLE incidents (
    id           INTEGER PRIMARY KEY,
    source       TEXT    NOT NULL,
    source_id    TEXT    NOT NULL,
    occurred_utc INTEGER NOT NULL,
    utc_offset_s INTEGER NOT NULL,
    category     TEXT    NOT NULL,
    grp          TEXT    NOT NULL,
    label        TEXT    NOT NULL,
    x            REAL    NOT NULL,
    y            REAL    NOT NULL,
    precision    TEXT    NOT NULL CHECK (precision IN ('exact', 'street', 'municipality', 'county')),
    place        TEXT,
    summary      TEXT,
    version      INTEGER NOT NULL DEFAULT 1,
    UNIQUE (source, source_id)
);

-- OSM ways; coords is little-endian f64 pairs (x, y).
CREATE TABLE walkways (
    id      INTEGER PRIMARY KEY,
    kind    TEXT    NOT NULL,
    lit     TEXT,
    name    TEXT,
    coords  BLOB    NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE lamps (
    id        TEXT    PRIMARY KEY,
    x         REAL    NOT NULL,
    y         REAL    NOT NULL,
    height_m  REAL,
    lumen     REAL,
    watt      REAL,
    status    TEXT    NOT NULL CHECK (status IN ('working', 'broken')),
    source    TEXT    NOT NULL,
    reference TEXT,
    version   INTEGER NOT NULL DEFAULT 1
);

-- geometry is a GeoJSON MultiPolygon in EPSG:3006.
CREATE TABLE areas (
    id       INTEGER PRIMARY KEY,
    source   TEXT    NOT NULL,
    name     TEXT    NOT NULL,
    geometry TEXT    NOT NULL,
    version  INTEGER NOT NULL DEFAULT 1,
    UNIQUE (source, name)
);

CREATE TABLE bra_stats (
    year         INTEGER NOT NULL,
    municipality TEXT    NOT NULL,
    count        INTEGER NOT NULL,
    per_100k     REAL,
    version      INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (year, municipality)
);

-- API tokens: only an argon2id hash of the secret is kept.
CREATE TABLE tokens (
    id          TEXT    PRIMARY KEY,
    role        TEXT    NOT NULL CHECK (role IN ('police', 'coordinator', 'admin')),
    secret_hash TEXT    NOT NULL,
    label       TEXT    NOT NULL,
    created_utc INTEGER NOT NULL,
    revoked     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

INSERT INTO meta (key, value) VALUES ('data_version', '0');
