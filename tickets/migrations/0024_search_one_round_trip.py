"""A search's matches in one round trip: exact email matches, word matches and look-alike subjects.

`tickets_search_ids` (0022) found the word matches in two steps (the newest tickets, then the GIN index
alone); the exact email matches and, when nothing matched, the look-alike subjects were a query each.
`tickets_search_matches` runs all three, each only when it is needed, says which kind each id is, and
reads the word matches in as many widening steps as it is given: a search costs one query whatever it
finds.
PostgreSQL only (the embedded SQLite mode has no stored vectors).
"""

from django.db import migrations

FORWARD = """
-- The matches of a search (tickets.search._matches), each row an id and its kind: 0 an exact match
-- (`exact`, the newest tickets of the scope requested by or naming the email address typed, or NULL),
-- 1 a word match, 2 a look-alike subject (`look_alikes`, or NULL), read only when there is neither an
-- exact nor a word match. The word matches are read by `steps`, each a wider look than the one before,
-- until `enough` are found: first among the newest tickets of the scope, then among more of them (each
-- bounded by its window, however PostgreSQL plans it), last through the GIN index alone: that step is
-- planned with plain index scans and sequential scans off, so the words are looked up through the GIN
-- index (bitmaps) whatever PostgreSQL guesses of how common they are (a phrase or an exclusion it
-- thought common made it walk the primary key through the whole table). Every argument is a SELECT composed by Django with its parameters bound.
-- The SET clauses make the SET LOCALs below last only until the function returns.
CREATE OR REPLACE FUNCTION tickets_search_matches(exact text, steps text[], look_alikes text, enough integer)
RETURNS TABLE (id bigint, kind smallint)
LANGUAGE plpgsql VOLATILE
SET enable_indexscan FROM CURRENT SET enable_seqscan FROM CURRENT AS $$
DECLARE
    exact_ids bigint[] := '{}';
    word_ids bigint[] := '{}';
    found_ids bigint[];
    step integer;
BEGIN
    IF exact IS NOT NULL THEN
        EXECUTE 'SELECT coalesce(array_agg(id), ''{}'') FROM (' || exact || ') AS found(id)' INTO exact_ids;
        RETURN QUERY SELECT unnest(exact_ids), 0::smallint;
    END IF;
    FOR step IN 1 .. coalesce(cardinality(steps), 0) LOOP
        IF step = cardinality(steps) THEN
            SET LOCAL enable_indexscan = off;
            SET LOCAL enable_seqscan = off;
        END IF;
        EXECUTE 'SELECT coalesce(array_agg(id), ''{}'') FROM (' || steps[step] || ') AS found(id)'
            INTO found_ids;
        word_ids := word_ids || found_ids;
        EXIT WHEN cardinality(found_ids) >= enough;
    END LOOP;
    SET LOCAL enable_indexscan = on;
    SET LOCAL enable_seqscan = on;
    RETURN QUERY SELECT DISTINCT unnest(word_ids), 1::smallint;
    IF look_alikes IS NOT NULL AND cardinality(exact_ids) = 0 AND cardinality(word_ids) = 0 THEN
        RETURN QUERY EXECUTE 'SELECT found.id::bigint, 2::smallint FROM (' || look_alikes || ') AS found(id)';
    END IF;
END
$$;
DROP FUNCTION IF EXISTS tickets_search_ids(text, text, integer);

-- A candidate's email address, in ticket order: the newest tickets naming it are read from the index's
-- end (tickets.search._naming), however many candidates there are.
CREATE INDEX IF NOT EXISTS candidate_email_ticket ON tickets_candidate (UPPER(email::text), ticket_id);
DROP INDEX IF EXISTS candidate_email_upper;
"""

REVERSE = """
CREATE INDEX IF NOT EXISTS candidate_email_upper ON tickets_candidate (UPPER(email::text));
DROP INDEX IF EXISTS candidate_email_ticket;
DROP FUNCTION IF EXISTS tickets_search_matches(text, text[], text, integer);
CREATE OR REPLACE FUNCTION tickets_search_ids(recent text, everywhere text, enough integer)
RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE
SET enable_indexscan FROM CURRENT SET enable_seqscan FROM CURRENT AS $$
DECLARE
    ids bigint[];
BEGIN
    EXECUTE 'SELECT coalesce(array_agg(id), ''{}'') FROM (' || recent || ') AS found(id)' INTO ids;
    RETURN QUERY SELECT unnest(ids);
    IF cardinality(ids) < enough THEN
        SET LOCAL enable_indexscan = off;
        SET LOCAL enable_seqscan = off;
        RETURN QUERY EXECUTE everywhere;
    END IF;
END
$$;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REVERSE)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0023_queue_indexes")]

    operations = [migrations.RunPython(forward, reverse, elidable=False)]
