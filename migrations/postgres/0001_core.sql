-- Imported data, tokens and meta (being written).
CREATE EXTENSION IF NOT EXISTS postgis;
