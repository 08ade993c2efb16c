"""A stored, indexed full-text vector per recording, kept by PostgreSQL triggers.

Why triggers rather than a generated column or save()/signals: see
brefboard/library/search_index.py. On SQLite only the (unused) table is
created. The triggers' SQL is written out here, not imported, so that this
migration keeps doing what it did when later code changes; only the
configuration's validation and function come from search_index.py.
"""

import django.contrib.postgres.search
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from brefboard.library import search_index

FORWARD = [
    # Deleting a recording deletes its vector, whoever deletes it (Django or SQL).
    """ALTER TABLE library_searchdocument ADD CONSTRAINT library_searchdocument_recording_fk
       FOREIGN KEY (recording_id) REFERENCES recordings_recording (id) ON DELETE CASCADE""",
    # fastupdate off: a write updates the index at once instead of queuing into a
    # pending list that every search scans until (auto)vacuum merges it, and whose
    # size makes the planner fall back to reading the whole table. Writes are rare
    # here (a transcript, a summary, an edit), searches are interactive.
    """CREATE INDEX library_searchdocument_vector_gin ON library_searchdocument
       USING gin (vector) WITH (fastupdate = off)""",
    # library_search_config() is (re)defined by RunPython below, from BREFBOARD_SEARCH_CONFIG.

    # The document: as the search computed it at each request before this migration.
    """CREATE FUNCTION library_search_vector(r_title text, r_transcript text, s_title text, s_text text)
       RETURNS tsvector LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
       DECLARE
         cfg regconfig := library_search_config();
         head tsvector := setweight(to_tsvector(cfg, coalesce(r_title, '')), 'A')
                       || setweight(to_tsvector(cfg, coalesce(s_title, '')), 'A')
                       || setweight(to_tsvector(cfg, coalesce(s_text, '')), 'B');
         body text := coalesce(r_transcript, '');
       BEGIN
         LOOP
           BEGIN
             RETURN head || setweight(to_tsvector(cfg, body), 'C');
           EXCEPTION WHEN program_limit_exceeded THEN
             -- More distinct words than a tsvector holds (1 MB of lexemes): index
             -- as much of the transcript as fits rather than refuse to store it.
             body := left(body, length(body) / 2);
           END;
         END LOOP;
       END $$""",

    # Lock the recording's document, then read the texts in a new statement: under
    # READ COMMITTED that statement sees what a concurrent writer of the same
    # recording (its title in one transaction, its summary in another) committed
    # while we waited for the lock, so the last writer builds from the latest texts.
    """CREATE FUNCTION library_search_refresh(rec bigint) RETURNS void LANGUAGE plpgsql AS $$
       BEGIN
         PERFORM 1 FROM library_searchdocument WHERE recording_id = rec FOR UPDATE;
         IF NOT FOUND THEN
           INSERT INTO library_searchdocument (recording_id, vector)
             SELECT id, ''::tsvector FROM recordings_recording WHERE id = rec
             ON CONFLICT (recording_id) DO NOTHING;
           PERFORM 1 FROM library_searchdocument WHERE recording_id = rec FOR UPDATE;
           IF NOT FOUND THEN
             RETURN;  -- the recording is gone (deleted in this statement)
           END IF;
         END IF;
         UPDATE library_searchdocument d
            SET vector = library_search_vector(r.title, r.transcript, s.title, s.text)
           FROM recordings_recording r LEFT JOIN library_summary s ON s.recording_id = r.id
          WHERE d.recording_id = rec AND r.id = rec;
       END $$""",

    # Every vector again (first fill, a new configuration, a TRUNCATE of the summaries).
    # The table lock waits for writers in flight and holds off new ones until commit.
    """CREATE FUNCTION library_search_rebuild() RETURNS bigint LANGUAGE plpgsql AS $$
       DECLARE n bigint;
       BEGIN
         LOCK TABLE library_searchdocument IN EXCLUSIVE MODE;
         INSERT INTO library_searchdocument (recording_id, vector)
           SELECT r.id, library_search_vector(r.title, r.transcript, s.title, s.text)
             FROM recordings_recording r LEFT JOIN library_summary s ON s.recording_id = r.id
           ON CONFLICT (recording_id) DO UPDATE SET vector = EXCLUDED.vector;
         GET DIAGNOSTICS n = ROW_COUNT;
         RETURN n;
       END $$""",

    """CREATE FUNCTION library_search_recording_changed() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         PERFORM library_search_refresh(NEW.id);
         RETURN NULL;
       END $$""",
    """CREATE FUNCTION library_search_summary_changed() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'TRUNCATE' THEN
           PERFORM library_search_rebuild();
           RETURN NULL;
         END IF;
         IF TG_OP IN ('INSERT', 'UPDATE') THEN
           PERFORM library_search_refresh(NEW.recording_id);
         END IF;
         IF TG_OP = 'DELETE' OR TG_OP = 'UPDATE' AND OLD.recording_id <> NEW.recording_id THEN
           PERFORM library_search_refresh(OLD.recording_id);
         END IF;
         RETURN NULL;
       END $$""",

    # Recordings are updated often (chunks, status, live text): only a change of
    # the title or the transcript recomputes the vector.
    """CREATE TRIGGER library_search_recording_insert AFTER INSERT ON recordings_recording
       FOR EACH ROW EXECUTE FUNCTION library_search_recording_changed()""",
    """CREATE TRIGGER library_search_recording_update AFTER UPDATE OF title, transcript ON recordings_recording
       FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.transcript IS DISTINCT FROM NEW.transcript)
       EXECUTE FUNCTION library_search_recording_changed()""",
    """CREATE TRIGGER library_search_summary_insert_delete AFTER INSERT OR DELETE ON library_summary
       FOR EACH ROW EXECUTE FUNCTION library_search_summary_changed()""",
    """CREATE TRIGGER library_search_summary_update AFTER UPDATE OF title, text, recording_id ON library_summary
       FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.text IS DISTINCT FROM NEW.text
                          OR OLD.recording_id IS DISTINCT FROM NEW.recording_id)
       EXECUTE FUNCTION library_search_summary_changed()""",
    """CREATE TRIGGER library_search_summary_truncate AFTER TRUNCATE ON library_summary
       FOR EACH STATEMENT EXECUTE FUNCTION library_search_summary_changed()""",
]

BACKWARD = [
    "DROP TRIGGER IF EXISTS library_search_summary_truncate ON library_summary",
    "DROP TRIGGER IF EXISTS library_search_summary_update ON library_summary",
    "DROP TRIGGER IF EXISTS library_search_summary_insert_delete ON library_summary",
    "DROP TRIGGER IF EXISTS library_search_recording_update ON recordings_recording",
    "DROP TRIGGER IF EXISTS library_search_recording_insert ON recordings_recording",
    "DROP FUNCTION IF EXISTS library_search_summary_changed()",
    "DROP FUNCTION IF EXISTS library_search_recording_changed()",
    "DROP FUNCTION IF EXISTS library_search_rebuild()",
    "DROP FUNCTION IF EXISTS library_search_refresh(bigint)",
    "DROP FUNCTION IF EXISTS library_search_vector(text, text, text, text)",
    "DROP FUNCTION IF EXISTS library_search_config()",
]


def _config_name() -> str:
    return settings.BREFBOARD_SEARCH_CONFIG


def install(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    canonical = search_index.canonical_config(connection, _config_name())
    with connection.cursor() as cursor:
        cursor.execute(search_index.config_function_sql(canonical))
        for statement in FORWARD:
            cursor.execute(statement)
        cursor.execute("SELECT library_search_rebuild()")  # recordings stored before this migration


def uninstall(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for statement in BACKWARD:
            cursor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ("library", "0001_initial"),
        ("recordings", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="SearchDocument",
            fields=[
                ("recording", models.OneToOneField(db_constraint=False,
                                                   on_delete=django.db.models.deletion.DO_NOTHING,
                                                   primary_key=True, related_name="search_document",
                                                   serialize=False, to="recordings.recording")),
                ("vector", django.contrib.postgres.search.SearchVectorField()),
            ],
            options={"default_permissions": ()},
        ),
        migrations.RunPython(install, uninstall),
    ]
