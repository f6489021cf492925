"""The SLA dashboard's roll-ups kept by PostgreSQL: the triggers that note changed tickets, the refresh
that applies them (and rebuilds), the tickets already there counted, and the every-minute beat task."""

from django.db import migrations

# The roll-ups are kept by PostgreSQL (tickets/rollups.py says how they are read). Triggers on tickets and
# their clocks note the tickets that changed; tickets_dashboard_refresh() takes away what each of them
# counted for (tickets_dashboardticket) and adds what it counts for now. A session that loads rows in
# bulk and rebuilds at its end (the benchmark seeder) sets helpdesk.dashboard_sync to 'off'.
FUNCTIONS = r"""
-- The UTC day of an instant (null for null).
CREATE OR REPLACE FUNCTION tickets_utc_day(at timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (at AT TIME ZONE 'UTC')::date
$$;

-- The histogram bucket of a first-response time: 0 under a second, k >= 1 from 1.05^(k-1) to 1.05^k
-- seconds (tickets.rollups.bucket_of is the same rule in Python). One expression, so that PostgreSQL
-- inlines it (six times faster over a million clocks than a function call per row).
CREATE OR REPLACE FUNCTION tickets_dashboard_bucket(took interval) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN date_part('epoch', took) < 1 THEN 0
                ELSE least(1 + floor(ln(date_part('epoch', took)) / ln(1.05)), 32767) END::smallint
$$;

-- Notes append and never wait: a unique ticket with ON CONFLICT would make each transaction that
-- touches a ticket wait for the previous one to commit.
CREATE OR REPLACE FUNCTION tickets_dashboard_ticket_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('helpdesk.dashboard_sync', true) = 'off' THEN
        RETURN NULL;
    END IF;
    INSERT INTO tickets_dashboardstaleticket (ticket_id)
    VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION tickets_dashboard_clock_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('helpdesk.dashboard_sync', true) = 'off' THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' AND OLD.metric IN ('first_response', 'resolution') THEN
        INSERT INTO tickets_dashboardstaleticket (ticket_id) VALUES (OLD.ticket_id);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.metric IN ('first_response', 'resolution')
       AND (TG_OP = 'INSERT' OR OLD.ticket_id <> NEW.ticket_id OR OLD.metric <> NEW.metric) THEN
        INSERT INTO tickets_dashboardstaleticket (ticket_id) VALUES (NEW.ticket_id);
    END IF;
    RETURN NULL;
END
$$;

-- Django's save() writes every column: the WHEN clauses keep the triggers to what the dashboard counts.
CREATE TRIGGER tickets_ticket_dashboard AFTER INSERT OR DELETE ON tickets_ticket
    FOR EACH ROW EXECUTE FUNCTION tickets_dashboard_ticket_changed();
CREATE TRIGGER tickets_ticket_dashboard_update
    AFTER UPDATE OF created_at, severity, channel, organization_id, status, resolved_at, closed_at
    ON tickets_ticket FOR EACH ROW
    WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.severity IS DISTINCT FROM NEW.severity
          OR OLD.channel IS DISTINCT FROM NEW.channel OR OLD.organization_id IS DISTINCT FROM NEW.organization_id
          OR OLD.status IS DISTINCT FROM NEW.status OR OLD.resolved_at IS DISTINCT FROM NEW.resolved_at
          OR OLD.closed_at IS DISTINCT FROM NEW.closed_at)
    EXECUTE FUNCTION tickets_dashboard_ticket_changed();
CREATE TRIGGER sla_ticketclock_dashboard AFTER INSERT OR DELETE ON sla_ticketclock
    FOR EACH ROW EXECUTE FUNCTION tickets_dashboard_clock_changed();
CREATE TRIGGER sla_ticketclock_dashboard_update
    AFTER UPDATE OF ticket_id, metric, started_at, met_at, breached_at ON sla_ticketclock FOR EACH ROW
    WHEN (OLD.ticket_id IS DISTINCT FROM NEW.ticket_id OR OLD.metric IS DISTINCT FROM NEW.metric
          OR OLD.started_at IS DISTINCT FROM NEW.started_at OR OLD.met_at IS DISTINCT FROM NEW.met_at
          OR OLD.breached_at IS DISTINCT FROM NEW.breached_at)
    EXECUTE FUNCTION tickets_dashboard_clock_changed();

-- Bring the roll-ups up to date and return how many tickets that took: those noted since the last
-- refresh, or with rebuild every ticket (one set-based pass). One refresher at a time (an advisory lock,
-- held to the end of the transaction): a second one waits, then finds the first one's notes gone and
-- its counts in place, so nothing is counted twice. The notes are claimed by deleting them; a note from
-- a transaction still running is not seen and stays for the next refresh, which will see its change.
--
-- Each ticket's counts (tickets_dashboardticket) are what it added to the roll-ups: a refresh moves
-- them out (sign -1) and moves in what the ticket counts for now (+1), read once, from committed rows
-- (tickets_dashboardmove), then adds the moves up into the roll-ups' rows and drops the rows left at
-- zero. Its cost is the tickets changed, whatever their number or their days. A rebuild counts every
-- ticket afresh and adds them up into empty tables (plain inserts: no conflict to look for).
CREATE OR REPLACE FUNCTION tickets_dashboard_refresh(rebuild boolean DEFAULT false) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
    counted text;
    moves text;
    emptied bigint[];
    refreshed integer;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('tickets_dashboard_refresh'));
    -- What one ticket counts for (the columns of tickets_dashboardticket).
    counted := $sql$
        SELECT t.id, tickets_utc_day(t.created_at), tickets_utc_day(COALESCE(t.resolved_at, t.closed_at)),
            t.organization_id, t.severity, t.channel, t.status,
            CASE WHEN fr.id IS NULL THEN NULL WHEN fr.breached_at IS NOT NULL THEN 'breached'
                 WHEN fr.met_at IS NOT NULL THEN 'met' ELSE 'running' END,
            CASE WHEN res.id IS NULL THEN NULL WHEN res.breached_at IS NOT NULL THEN 'breached'
                 WHEN res.met_at IS NOT NULL THEN 'met' ELSE 'running' END,
            tickets_utc_day(fr.met_at),
            CASE WHEN fr.met_at IS NOT NULL THEN tickets_dashboard_bucket(fr.met_at - fr.started_at) END,
            date_part('epoch', fr.met_at - fr.started_at)
        FROM tickets_ticket t
        LEFT JOIN sla_ticketclock fr ON fr.ticket_id = t.id AND fr.metric = 'first_response'
        LEFT JOIN sla_ticketclock res ON res.ticket_id = t.id AND res.metric = 'resolution'
    $sql$;
    IF rebuild THEN
        -- Whole-table joins and aggregates: in memory rather than in batches on disk. TRUNCATE rather than
        -- DELETE: inserting a key again over its deleted twin costs a visit to the twin (three times the
        -- time at a million tickets). Readers wait for the rebuild to commit (they would wait for its
        -- lock to refresh anyway).
        PERFORM set_config('work_mem', '256MB', true);
        DELETE FROM tickets_dashboardstaleticket;  -- not TRUNCATE: that would hold up every ticket's writer
        TRUNCATE tickets_dashboardticket, tickets_dashboardday, tickets_dashboardresponsebucket,
            tickets_dashboardmove;
        EXECUTE 'INSERT INTO tickets_dashboardticket (ticket_id, day, done_day, organization_id, severity,
            channel, status, first_response, resolution, first_response_day, first_response_bucket,
            first_response_seconds) ' || counted;
        GET DIAGNOSTICS refreshed = ROW_COUNT;
        ANALYZE tickets_dashboardticket;
        moves := '(SELECT 1 AS sign, * FROM tickets_dashboardticket)';
    ELSE
        WITH claimed AS (DELETE FROM tickets_dashboardstaleticket RETURNING ticket_id)
        SELECT array_agg(DISTINCT ticket_id) INTO ids FROM claimed;
        IF ids IS NULL THEN
            RETURN 0;
        END IF;
        refreshed := cardinality(ids);
        WITH gone AS (DELETE FROM tickets_dashboardticket WHERE ticket_id = ANY (ids) RETURNING *)
        INSERT INTO tickets_dashboardmove (sign, day, done_day, organization_id, severity, channel, status,
            first_response, resolution, first_response_day, first_response_bucket, first_response_seconds)
        SELECT -1, day, done_day, organization_id, severity, channel, status, first_response, resolution,
            first_response_day, first_response_bucket, first_response_seconds
        FROM gone;
        EXECUTE 'WITH fresh AS (
            INSERT INTO tickets_dashboardticket (ticket_id, day, done_day, organization_id, severity,
                channel, status, first_response, resolution, first_response_day, first_response_bucket,
                first_response_seconds) ' || counted || ' WHERE t.id = ANY ($1)
            RETURNING *)
        INSERT INTO tickets_dashboardmove (sign, day, done_day, organization_id, severity, channel, status,
            first_response, resolution, first_response_day, first_response_bucket, first_response_seconds)
        SELECT 1, day, done_day, organization_id, severity, channel, status, first_response, resolution,
            first_response_day, first_response_bucket, first_response_seconds
        FROM fresh' USING ids;
        moves := 'tickets_dashboardmove';
    END IF;

    -- The days: a ticket adds to its creation day's row and, once done, to that day's row; in its
    -- organization's scope and in all organizations' (organization null). Summed per organization
    -- first, then per scope (GROUPING SETS over those few sums, not over every ticket).
    EXECUTE format($sql$
        WITH parts AS (
            SELECT day, organization_id, severity, channel, sum(sign) AS created, 0 AS done,
                sum(CASE WHEN status = 'new' THEN sign ELSE 0 END) AS open_new,
                sum(CASE WHEN status = 'open' THEN sign ELSE 0 END) AS open_open,
                sum(CASE WHEN status = 'pending' THEN sign ELSE 0 END) AS open_pending,
                sum(CASE WHEN status = 'on_hold' THEN sign ELSE 0 END) AS open_on_hold,
                sum(CASE WHEN first_response = 'met' THEN sign ELSE 0 END) AS fr_met,
                sum(CASE WHEN first_response = 'breached' THEN sign ELSE 0 END) AS fr_breached,
                sum(CASE WHEN first_response = 'running' THEN sign ELSE 0 END) AS fr_running,
                sum(CASE WHEN resolution = 'met' THEN sign ELSE 0 END) AS res_met,
                sum(CASE WHEN resolution = 'breached' THEN sign ELSE 0 END) AS res_breached,
                sum(CASE WHEN resolution = 'running' THEN sign ELSE 0 END) AS res_running
            FROM %1$s AS moves
            GROUP BY day, organization_id, severity, channel
            UNION ALL
            SELECT done_day, organization_id, severity, channel, 0, sum(sign), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
            FROM %1$s AS moves WHERE done_day IS NOT NULL
            GROUP BY done_day, organization_id, severity, channel
        ),
        added AS (
            INSERT INTO tickets_dashboardday AS d (day, organization_id, severity, channel, created, done,
                open_new, open_open, open_pending, open_on_hold,
                first_response_met, first_response_breached, first_response_running,
                resolution_met, resolution_breached, resolution_running)
            SELECT day, organization_id, severity, channel, sum(created), sum(done),
                sum(open_new), sum(open_open), sum(open_pending), sum(open_on_hold),
                sum(fr_met), sum(fr_breached), sum(fr_running), sum(res_met), sum(res_breached), sum(res_running)
            FROM parts
            GROUP BY GROUPING SETS ((day, severity, channel), (day, organization_id, severity, channel))
            HAVING bool_or(created <> 0 OR done <> 0 OR open_new <> 0 OR open_open <> 0 OR open_pending <> 0
                OR open_on_hold <> 0 OR fr_met <> 0 OR fr_breached <> 0 OR fr_running <> 0 OR res_met <> 0
                OR res_breached <> 0 OR res_running <> 0)
            %2$s
            RETURNING d.id, d.created = 0 AND d.done = 0 AS empty
        )
        SELECT array_agg(id) FILTER (WHERE empty) FROM added
    $sql$, moves, CASE WHEN NOT rebuild THEN $sql$
            ON CONFLICT (organization_id, day, severity, channel) DO UPDATE SET
                created = d.created + EXCLUDED.created, done = d.done + EXCLUDED.done,
                open_new = d.open_new + EXCLUDED.open_new, open_open = d.open_open + EXCLUDED.open_open,
                open_pending = d.open_pending + EXCLUDED.open_pending,
                open_on_hold = d.open_on_hold + EXCLUDED.open_on_hold,
                first_response_met = d.first_response_met + EXCLUDED.first_response_met,
                first_response_breached = d.first_response_breached + EXCLUDED.first_response_breached,
                first_response_running = d.first_response_running + EXCLUDED.first_response_running,
                resolution_met = d.resolution_met + EXCLUDED.resolution_met,
                resolution_breached = d.resolution_breached + EXCLUDED.resolution_breached,
                resolution_running = d.resolution_running + EXCLUDED.resolution_running
        $sql$ END) INTO emptied;
    DELETE FROM tickets_dashboardday WHERE id = ANY (emptied);

    -- The first responses: on the day they were met, and again in that day's month (summed per
    -- organization and day first).
    EXECUTE format($sql$
        WITH daily AS (
            SELECT first_response_day AS day, organization_id, severity, first_response_bucket AS bucket,
                sum(sign) AS count, sum(sign * first_response_seconds) AS seconds
            FROM %1$s AS moves WHERE first_response_day IS NOT NULL
            GROUP BY first_response_day, organization_id, severity, first_response_bucket
        ),
        parts AS (
            SELECT 'day' AS span, day AS period, organization_id, severity, bucket, count, seconds FROM daily
            UNION ALL
            SELECT 'month', date_trunc('month', day::timestamp)::date, organization_id, severity, bucket, count,
                seconds
            FROM daily
        ),
        added AS (
            INSERT INTO tickets_dashboardresponsebucket AS b (span, period, organization_id, severity, bucket,
                count, seconds)
            SELECT span, period, organization_id, severity, bucket, sum(count), sum(seconds)
            FROM parts
            GROUP BY GROUPING SETS ((span, period, severity, bucket), (span, period, organization_id, severity, bucket))
            HAVING sum(count) <> 0 OR sum(seconds) <> 0
            %2$s
            RETURNING b.id, b.count = 0 AS empty
        )
        SELECT array_agg(id) FILTER (WHERE empty) FROM added
    $sql$, moves, CASE WHEN NOT rebuild THEN $sql$
            ON CONFLICT (organization_id, span, period, severity, bucket) DO UPDATE SET
                count = b.count + EXCLUDED.count, seconds = b.seconds + EXCLUDED.seconds
        $sql$ END) INTO emptied;
    DELETE FROM tickets_dashboardresponsebucket WHERE id = ANY (emptied);

    DELETE FROM tickets_dashboardmove;
    RETURN refreshed;
END
$$;

-- What the tickets already there add up to.
SELECT tickets_dashboard_refresh(true);
"""

REVERSE = """
DROP TRIGGER IF EXISTS tickets_ticket_dashboard ON tickets_ticket;
DROP TRIGGER IF EXISTS tickets_ticket_dashboard_update ON tickets_ticket;
DROP TRIGGER IF EXISTS sla_ticketclock_dashboard ON sla_ticketclock;
DROP TRIGGER IF EXISTS sla_ticketclock_dashboard_update ON sla_ticketclock;
DROP FUNCTION IF EXISTS tickets_dashboard_refresh(boolean);
DROP FUNCTION IF EXISTS tickets_dashboard_clock_changed();
DROP FUNCTION IF EXISTS tickets_dashboard_ticket_changed();
DROP FUNCTION IF EXISTS tickets_dashboard_bucket(interval);
DROP FUNCTION IF EXISTS tickets_utc_day(timestamptz);
"""


def _on_postgresql(sql):
    """Run `sql` on PostgreSQL; SQLite (the embedded mode) has no triggers: its dashboard reads the tickets."""

    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(sql)

    return run


def schedule_refresh(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.update_or_create(
        name="Dashboard roll-ups",
        defaults={
            "task": "tickets.tasks.refresh_dashboard",
            "interval": every_minute,
            "enabled": True,
            "description": "Brings the SLA dashboard's daily roll-ups up to date with the tickets changed since.",
        },
    )


def unschedule_refresh(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name="Dashboard roll-ups").delete()


class Migration(migrations.Migration):
    # Its own migration: the roll-ups' unique constraints, which the refresh adds up into, are created at
    # the end of the migration that creates their tables.
    dependencies = [
        ("tickets", "0027_dashboard_rollups"),
        ("sla", "0008_queue_indexes"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(_on_postgresql(FUNCTIONS), _on_postgresql(REVERSE)),
        migrations.RunPython(schedule_refresh, unschedule_refresh),
    ]
