-- Citizen reports (Open311 service requests).
--
-- Contact details live in their own table so that they can be shown only to coordinators and
-- purged without touching the report. No client IP address is stored: repeated submissions are
-- recognised by a client token (`client_token`, unique) or by a hash of the content together with
-- the submitting client (`content_hash`), looked up within the last minute.

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
    agency_responsible TEXT CHECK (agency_responsible IN ('kommunen', 'polisen', 'fastighetsägare')),
    requested_utc      INTEGER NOT NULL,
    updated_utc        INTEGER NOT NULL,
    hidden             INTEGER NOT NULL DEFAULT 0,
    merged_into        INTEGER REFERENCES reports (id),
    attributes         TEXT    NOT NULL DEFAULT '{}',
    -- The submitting client's own key for this submission (Idempotency-Key header or the
    -- `client_token` form field); a second submission with it returns the first report.
    client_token       TEXT,
    -- SHA-256 over (client, service, description, position, address, media_url, attributes).
    content_hash       TEXT    NOT NULL
);

CREATE UNIQUE INDEX reports_client_token ON reports (client_token) WHERE client_token IS NOT NULL;
CREATE INDEX reports_content ON reports (content_hash, requested_utc);
CREATE INDEX reports_requested ON reports (requested_utc);
CREATE INDEX reports_status ON reports (status, requested_utc);

CREATE TABLE report_contacts (
    report_id  INTEGER PRIMARY KEY REFERENCES reports (id) ON DELETE CASCADE,
    email      TEXT,
    first_name TEXT,
    last_name  TEXT,
    phone      TEXT
);

-- Every change of a report: who (token id or `cli`/`citizen`, with the role), when, and what.
CREATE TABLE report_history (
    id         INTEGER PRIMARY KEY,
    report_id  INTEGER NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    at_utc     INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    detail     TEXT    NOT NULL DEFAULT '{}'
);

CREATE INDEX report_history_report ON report_history (report_id, id);
