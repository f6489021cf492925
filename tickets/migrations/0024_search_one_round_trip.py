"""A search's matches in one round trip: exact email matches, word matches and look-alike subjects.

`tickets_search_ids` (0022) found the word matches; the exact email matches and, when nothing matched,
the look-alike subjects were a query each. `tickets_search_matches` runs all three, each only when it
is needed, and says which kind each id is: a search costs the same number of queries whatever it finds.
PostgreSQL only (the embedded SQLite mode has no stored vectors).
"""

from django.db import migrations

FORWARD = """
-- The matches of a search (tickets.search._matches), each row an id and its kind: 0 an exact match
-- (`exact`, the newest tickets of the scope requested by or naming the email address typed, or NULL),
-- 1 a word match (`recent` among the newest tickets of the scope, read one by one; when it finds fewer
-- than `enough`, `everywhere` through the GIN index alone, with plain index scans and sequential scans
-- off: whatever PostgreSQL guesses of how common the words are, a phrase or an exclusion it thought
-- common made it walk the primary key through the whole table), 2 a look-alike subject (`look_alikes`,
-- or NULL), read only when there is neither an exact nor a word match. Every argument is a SELECT
-- composed by Django with its parameters bound. The SET clauses make the SET LOCALs below last only
-- until the function returns.
CREATE OR REPLACE FUNCTION tickets_search_matches(
    exact text, recent text, everywhere text, look_alikes text, enough integer
)
RETURNS TABLE (id bigint, kind smallint)
LANGUAGE plpgsql VOLATILE
SET enable_indexscan FROM CURRENT SET enable_seqscan FROM CURRENT AS $$
DECLARE
    exact_ids bigint[] := '{}';
    word_ids bigint[];
BEGIN
    IF exact IS NOT NULL THEN
        EXECUTE 'SELECT coalesce(array_agg(id), ''{}'') FROM (' || exact || ') AS found(id)' INTO exact_ids;
        RETURN QUERY SELECT unnest(exact_ids), 0::smallint;
    END IF;
    EXECUTE 'SELECT coalesce(array_agg(id), ''{}'') FROM (' || recent || ') AS found(id)' INTO word_ids;
    IF cardinality(word_ids) < enough THEN
        SET LOCAL enable_indexscan = off;
        SET LOCAL enable_seqscan = off;
        EXECUTE 'SELECT coalesce(array_agg(id), ''{}'') FROM (' || everywhere || ') AS found(id)'
            INTO word_ids;
        SET LOCAL enable_indexscan = on;
        SET LOCAL enable_seqscan = on;
    END IF;
    RETURN QUERY SELECT unnest(word_ids), 1::smallint;
    IF look_alikes IS NOT NULL AND cardinality(exact_ids) = 0 AND cardinality(word_ids) = 0 THEN
        RETURN QUERY EXECUTE 'SELECT found.id::bigint, 2::smallint FROM (' || look_alikes || ') AS found(id)';
    END IF;
END
$$;
DROP FUNCTION IF EXISTS tickets_search_ids(text, text, integer);
"""

REVERSE = """
DROP FUNCTION IF EXISTS tickets_search_matches(text, text, text, text, integer);
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
