-- What several server processes on this database need from it.

-- Every commit that changes what a server holds in memory tells the others: the payload names
-- the kind of change (data, reports, measures, tokens). A NOTIFY is delivered at commit, and not
-- at all if the transaction rolls back.
CREATE FUNCTION lagesbild_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('lagesbild_changes', TG_ARGV[0]);
    RETURN NULL;
END
$$;

-- data_version and token_generation live in meta and move with every real change.
CREATE FUNCTION lagesbild_notify_meta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.key = 'data_version' THEN
        PERFORM pg_notify('lagesbild_changes', 'data');
    ELSIF NEW.key = 'token_generation' THEN
        PERFORM pg_notify('lagesbild_changes', 'tokens');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER meta_notify AFTER INSERT OR UPDATE ON meta
    FOR EACH ROW EXECUTE FUNCTION lagesbild_notify_meta();
CREATE TRIGGER reports_notify AFTER INSERT OR UPDATE OR DELETE ON reports
    FOR EACH STATEMENT EXECUTE FUNCTION lagesbild_notify('reports');
CREATE TRIGGER measures_notify AFTER INSERT OR UPDATE OR DELETE ON measures
    FOR EACH STATEMENT EXECUTE FUNCTION lagesbild_notify('measures');

-- The per-client submission limit, shared: one token bucket per client address, on the
-- database's clock. Rows of clients whose bucket has refilled are deleted now and then.
CREATE TABLE submission_buckets (
    client     inet             PRIMARY KEY,
    tokens     double precision NOT NULL,
    granted    boolean          NOT NULL,
    updated_at timestamptz      NOT NULL
);
