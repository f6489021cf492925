"""The help center's search on PostgreSQL (a trigger keeping each article's search vector, the title
weighted above the text, and a GIN index on it; SQLite has neither and searches by substring), and the
shipped articles: the support FAQ, one article per question (tickets/help_center.py)."""

from django.db import migrations
from django.utils import timezone

TRIGGER = """
CREATE OR REPLACE FUNCTION tickets_article_search_vector() RETURNS trigger AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector('pg_catalog.english', coalesce(NEW.title, '')), 'A') ||
        setweight(to_tsvector('pg_catalog.english', coalesce(NEW.body_text, '')), 'B');
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS tickets_article_search_vector ON tickets_article;
CREATE TRIGGER tickets_article_search_vector BEFORE INSERT OR UPDATE OF title, body_text
    ON tickets_article FOR EACH ROW EXECUTE FUNCTION tickets_article_search_vector();
CREATE INDEX IF NOT EXISTS article_search_vector ON tickets_article USING gin (search_vector);
"""

DROP = """
DROP INDEX IF EXISTS article_search_vector;
DROP TRIGGER IF EXISTS tickets_article_search_vector ON tickets_article;
DROP FUNCTION IF EXISTS tickets_article_search_vector();
"""


def add_search(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER)


def drop_search(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


def seed(apps, schema_editor):
    from tickets.help_center import load

    load(
        apps.get_model("tickets", "ArticleCategory"), apps.get_model("tickets", "Article"), at=timezone.now()
    )


def unseed(apps, schema_editor):
    from tickets.help_center import ARTICLES

    apps.get_model("tickets", "Article").objects.filter(slug__in=[row[0] for row in ARTICLES]).delete()


class Migration(migrations.Migration):
    dependencies = [("tickets", "0019_help_center_satisfaction")]

    operations = [
        migrations.RunPython(add_search, drop_search),
        migrations.RunPython(seed, unseed),
    ]
