-- Patrol presence, police-only (`crate::store::patrol`): GPS fixes per unit with the track
-- files they came from, and reported visits. Instants are milliseconds since the Unix epoch,
-- UTC; positions EPSG:3006 metres. Nothing here is loaded into the snapshot or shown to the
-- public.

-- One row per (unit, file) imported.
CREATE TABLE patrol_tracks (
    id                 INTEGER PRIMARY KEY,
    unit               TEXT    NOT NULL,
    source             TEXT    NOT NULL,
    first_imported_utc INTEGER NOT NULL,
    last_imported_utc  INTEGER NOT NULL,
    UNIQUE (unit, source)
);

-- A unit is in one place at one instant: (unit, t_ms) is the fix's natural key, so the same
-- file (or an overlapping export) imported again adds nothing. `run_start` = 1 marks the first
-- fix of a recorded stretch (a GPX trkseg), which no segment joins to the fix before it.
CREATE TABLE patrol_points (
    unit      TEXT    NOT NULL,
    t_ms      INTEGER NOT NULL,
    x         REAL    NOT NULL,
    y         REAL    NOT NULL,
    run_start INTEGER NOT NULL CHECK (run_start IN (0, 1)),
    track_id  INTEGER NOT NULL REFERENCES patrol_tracks (id) ON DELETE CASCADE,
    version   INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (unit, t_ms)
) WITHOUT ROWID;

CREATE INDEX patrol_points_track ON patrol_points (track_id);

-- A reported visit; `place` is `hotspot:<id>` or `point:<x>,<y>` (to the centimetre), the
-- natural key with the unit and the start, so a corrected end replaces the stored one.
CREATE TABLE patrol_visits (
    id           INTEGER PRIMARY KEY,
    unit         TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    start_ms     INTEGER NOT NULL,
    end_ms       INTEGER NOT NULL,
    place        TEXT    NOT NULL,
    hotspot      TEXT,
    x            REAL,
    y            REAL,
    imported_utc INTEGER NOT NULL,
    version      INTEGER NOT NULL DEFAULT 1,
    CHECK (end_ms > start_ms),
    CHECK ((hotspot IS NULL) <> (x IS NULL AND y IS NULL)),
    UNIQUE (unit, start_ms, place)
);

CREATE INDEX patrol_visits_time ON patrol_visits (start_ms);
