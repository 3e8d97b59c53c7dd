-- Citizen reports. Contact details live in their own table so that they can be shown only to
-- coordinators and purged without touching the report.

CREATE TABLE reports (
    id                 INTEGER PRIMARY KEY,
    service_code       TEXT    NOT NULL,
    status             TEXT    NOT NULL CHECK (status IN ('open', 'acknowledged', 'in_progress', 'closed')),
    description        TEXT    NOT NULL,
    x                  REAL    NOT NULL,
    y                  REAL    NOT NULL,
    original_x         REAL    NOT NULL,
    original_y         REAL    NOT NULL,
    walkway_id         INTEGER,
    lamp_id            TEXT,
    address            TEXT,
    media_url          TEXT,
    status_notes       TEXT,
    agency_responsible TEXT,
    requested_utc      INTEGER NOT NULL,
    updated_utc        INTEGER NOT NULL,
    hidden             INTEGER NOT NULL DEFAULT 0,
    merged_into        INTEGER REFERENCES reports (id),
    attributes         TEXT    NOT NULL DEFAULT '{}'
);

CREATE TABLE report_contacts (
    report_id  INTEGER PRIMARY KEY REFERENCES reports (id) ON DELETE CASCADE,
    email      TEXT,
    first_name TEXT,
    last_name  TEXT,
    phone      TEXT
);
