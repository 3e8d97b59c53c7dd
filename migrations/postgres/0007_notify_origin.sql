-- A notification names the process whose commit sent it: the connection's application_name,
-- which every Lägesbild process sets to "lagesbild <random id>". A server has already published
-- its own report and measure changes in memory when it commits them, and skips those it hears
-- back from itself (on a burst of submissions it would otherwise reload every report after
-- every commit). Payload: "<kind> <application_name>".
CREATE OR REPLACE FUNCTION lagesbild_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('lagesbild_changes',
        TG_ARGV[0] || ' ' || coalesce(current_setting('application_name', true), ''));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION lagesbild_notify_meta() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    origin text := coalesce(current_setting('application_name', true), '');
BEGIN
    IF NEW.key = 'data_version' THEN
        PERFORM pg_notify('lagesbild_changes', 'data ' || origin);
    ELSIF NEW.key = 'token_generation' THEN
        PERFORM pg_notify('lagesbild_changes', 'tokens ' || origin);
    END IF;
    RETURN NULL;
END
$$;

-- Reports are told of one by one, "report <id> <origin>", so that a server reads only the
-- reports another changed rather than all of them after every commit of a burst. A TRUNCATE
-- (migrate --force) has no rows and says "reports": read them all.
CREATE FUNCTION lagesbild_notify_report() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    id bigint := CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END;
BEGIN
    PERFORM pg_notify('lagesbild_changes',
        'report ' || id || ' ' || coalesce(current_setting('application_name', true), ''));
    RETURN NULL;
END
$$;

DROP TRIGGER reports_notify ON reports;
CREATE TRIGGER reports_notify AFTER INSERT OR UPDATE OR DELETE ON reports
    FOR EACH ROW EXECUTE FUNCTION lagesbild_notify_report();
CREATE TRIGGER reports_notify_truncate AFTER TRUNCATE ON reports
    FOR EACH STATEMENT EXECUTE FUNCTION lagesbild_notify('reports');
