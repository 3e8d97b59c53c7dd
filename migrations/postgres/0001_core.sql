CREATE EXTENSION IF NOT EXISTS postgis;

-- Imported data, API tokens and meta. Geometries are PostGIS columns in SWEREF 99 TM
-- (EPSG:3006) with a GiST index each, so that QGIS or psql can read the layers directly; instants
-- are timestamptz with the UTC offset the source carried kept beside them. `version` counts the
-- real changes of a row (1 when inserted): an import of rows already stored changes nothing.

CREATE TABLE incidents (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source             text        NOT NULL,
    source_id          text        NOT NULL,
    occurred_at        timestamptz NOT NULL,
    utc_offset_s       integer     NOT NULL CHECK (utc_offset_s > -86400 AND utc_offset_s < 86400),
    time_precision     text        NOT NULL DEFAULT 'exact'
        CHECK (time_precision IN ('exact', 'hour', 'date', 'month', 'window')),
    -- The end of a window, exclusive.
    occurred_to        timestamptz
        CHECK (occurred_to IS NULL OR (time_precision = 'window' AND occurred_to > occurred_at)),
    category           text        NOT NULL,
    category_group     text        NOT NULL,
    label              text        NOT NULL,
    geom               geometry(Point, 3006) NOT NULL,
    location_precision text        NOT NULL
        CHECK (location_precision IN ('exact', 'street', 'municipality', 'county')),
    place              text,
    summary            text,
    version            integer     NOT NULL DEFAULT 1,
    UNIQUE (source, source_id)
);
CREATE INDEX incidents_geom ON incidents USING gist (geom);

-- Walkways from OpenStreetMap, keyed by the OSM way id.
CREATE TABLE walkways (
    id      bigint PRIMARY KEY,
    kind    text   NOT NULL,
    lit     text,
    name    text,
    geom    geometry(LineString, 3006) NOT NULL,
    version integer NOT NULL DEFAULT 1
);
CREATE INDEX walkways_geom ON walkways USING gist (geom);

CREATE TABLE lamps (
    id        text PRIMARY KEY,
    geom      geometry(Point, 3006) NOT NULL,
    height_m  double precision,
    lumen     double precision,
    watt      double precision,
    status    text NOT NULL CHECK (status IN ('working', 'broken')),
    source    text NOT NULL,
    reference text,
    version   integer NOT NULL DEFAULT 1
);
CREATE INDEX lamps_geom ON lamps USING gist (geom);

CREATE TABLE areas (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source  text NOT NULL,
    name    text NOT NULL,
    geom    geometry(MultiPolygon, 3006) NOT NULL,
    version integer NOT NULL DEFAULT 1,
    UNIQUE (source, name)
);
CREATE INDEX areas_geom ON areas USING gist (geom);

CREATE TABLE bra_stats (
    year         integer NOT NULL,
    municipality text    NOT NULL,
    count        bigint  NOT NULL,
    per_100k     double precision,
    version      integer NOT NULL DEFAULT 1,
    PRIMARY KEY (year, municipality)
);

-- API tokens: only an argon2id hash of the secret is kept.
CREATE TABLE tokens (
    id          text        PRIMARY KEY,
    role        text        NOT NULL CHECK (role IN ('police', 'coordinator', 'admin')),
    secret_hash text        NOT NULL,
    label       text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked     boolean     NOT NULL DEFAULT false
);

-- data_version moves with every committed write of imported data that changed something;
-- token_generation with every change of the tokens table, whoever made it (a server, the CLI, an
-- operator's SQL), in the change's own transaction, so that servers drop their cache of verified
-- tokens.
CREATE TABLE meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

INSERT INTO meta (key, value) VALUES ('data_version', '0'), ('token_generation', '0');

CREATE FUNCTION lagesbild_token_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'token_generation';
    RETURN NULL;
END
$$;

CREATE TRIGGER tokens_generation AFTER INSERT OR UPDATE OR DELETE ON tokens
    FOR EACH ROW EXECUTE FUNCTION lagesbild_token_generation();
CREATE TRIGGER tokens_generation_truncate AFTER TRUNCATE ON tokens
    FOR EACH STATEMENT EXECUTE FUNCTION lagesbild_token_generation();
