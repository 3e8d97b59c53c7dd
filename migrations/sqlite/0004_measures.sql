-- The åtgärdsplan: measures with the history of every change. A measure's editable fields are
-- one JSON document (`crate::store::measures::MeasureSpec`); kind and status are kept beside it
-- as columns for SQL users and indexes.

CREATE TABLE measures (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    spec        TEXT    NOT NULL CHECK (json_valid(spec)),
    created_utc INTEGER NOT NULL,
    updated_utc INTEGER NOT NULL
);

CREATE TABLE measure_history (
    id         INTEGER PRIMARY KEY,
    measure_id INTEGER NOT NULL REFERENCES measures (id) ON DELETE CASCADE,
    at_utc     INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    detail     TEXT    NOT NULL DEFAULT '{}'
);

CREATE INDEX measure_history_measure ON measure_history (measure_id, id);
