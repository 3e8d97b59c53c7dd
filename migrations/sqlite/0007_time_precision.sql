-- How precisely an incident's time is known (exact | hour | date | month | window), and the end
-- of a window (Unix seconds, exclusive). Rows from before keep the precision they were read
-- with: exact.
ALTER TABLE incidents ADD COLUMN time_precision TEXT NOT NULL DEFAULT 'exact'
    CHECK (time_precision IN ('exact', 'hour', 'date', 'month', 'window'));
ALTER TABLE incidents ADD COLUMN occurred_to_utc INTEGER
    CHECK (occurred_to_utc IS NULL OR (time_precision = 'window' AND occurred_to_utc > occurred_utc));
