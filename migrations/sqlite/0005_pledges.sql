-- Medborgarlöften: citizen pledges with their period, linked measures and the baseline their
-- indicators are measured from. A pledge's fields are one JSON document
-- (`crate::store::pledges::PledgeSpec`); the period is kept beside it for SQL users.

CREATE TABLE pledges (
    id           INTEGER PRIMARY KEY,
    period_start TEXT    NOT NULL,
    period_end   TEXT    NOT NULL,
    spec         TEXT    NOT NULL CHECK (json_valid(spec)),
    created_utc  INTEGER NOT NULL,
    updated_utc  INTEGER NOT NULL,
    CHECK (period_start <= period_end)
);
