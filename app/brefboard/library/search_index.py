"""The library's stored full-text index on PostgreSQL: one ``tsvector`` per recording.

The table ``library_searchdocument`` (model ``SearchDocument``) holds, for
each recording, the weighted vector of its title (A), its summary's title (A),
the summary's text (B) and the transcript (C), with a GIN index; the search
(``services.library``) matches and ranks against it instead of computing every
vector at each request.

Why triggers, not a generated column or Python code: the vector mixes two
tables (``recordings_recording`` and ``library_summary``), which a generated
column cannot; and code on ``save()`` or signals would miss
``QuerySet.update()``, ``bulk_create()``, raw SQL and other apps' writes (the
transcription worker, the summary task's ``update()``s, the benchmark's bulk
loads). Row triggers in the database see every write, so the vector cannot
drift from the texts. The triggers are created by migration
``0002_searchdocument`` (PostgreSQL only; on SQLite the table stays empty and
the search is a substring match).

The text-search configuration (stemming language, ``BREFBOARD_SEARCH_CONFIG``,
French by default) lives in the database too, as the SQL function
``library_search_config()``: the triggers build the vectors with it and the
query parses the user's words with it, so the two always agree. A change of
the setting takes effect at the next ``migrate`` (the deployment runs it),
which rebuilds every vector (``sync_config``, a post_migrate handler).
"""
from __future__ import annotations

import logging

from django.db.backends.base.base import BaseDatabaseWrapper

log = logging.getLogger(__name__)

CONFIG_FUNCTION = "library_search_config"


def installed_config(connection: BaseDatabaseWrapper) -> str | None:
    """The configuration the stored vectors were built with, or None before the migration."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regprocedure(%s) IS NOT NULL", [f"{CONFIG_FUNCTION}()"])
        if not cursor.fetchone()[0]:
            return None
        cursor.execute(f"SELECT {CONFIG_FUNCTION}()::text")
        return cursor.fetchone()[0]


def canonical_config(connection: BaseDatabaseWrapper, name: str) -> str:
    """``name`` (``french``, ``pg_catalog.french``) as PostgreSQL spells the configuration.

    ValueError if there is none by that name: a typo in the setting stops
    ``migrate`` with a clear message instead of failing every search.
    """
    schema, _, cfgname = name.strip().rpartition(".")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.oid::regconfig::text FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace"
            " WHERE c.cfgname = %s AND CASE WHEN %s = '' THEN pg_ts_config_is_visible(c.oid)"
            " ELSE n.nspname = %s END",
            [cfgname, schema, schema],
        )
        row = cursor.fetchone()
    if row is None:
        raise ValueError(f"BREFBOARD_SEARCH_CONFIG: PostgreSQL has no text search configuration {name!r} "
                         "(SELECT cfgname FROM pg_ts_config lists them)")
    return row[0]


def config_function_sql(canonical: str) -> str:
    """SQL (re)defining ``library_search_config()``; ``canonical`` comes from ``canonical_config``.

    IMMUTABLE so that the planner folds it into a constant and the GIN index
    can serve ``vector @@ websearch_to_tsquery(library_search_config(), ...)``.
    """
    literal = "'" + canonical.replace("'", "''") + "'"
    return (f"CREATE OR REPLACE FUNCTION {CONFIG_FUNCTION}() RETURNS regconfig "
            f"LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT {literal}::regconfig $$")


def configure(connection: BaseDatabaseWrapper, name: str) -> bool:
    """Make ``name`` the configuration of the index, rebuilding every vector if it changes.

    Returns whether anything changed. One transaction: searches see the old
    vectors until the new ones are all there.
    """
    from django.db import transaction

    canonical = canonical_config(connection, name)
    if installed_config(connection) == canonical:
        return False
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(config_function_sql(canonical))
        cursor.execute("SELECT library_search_rebuild()")
        rebuilt = cursor.fetchone()[0]
    log.warning("library search: text search configuration is now %s, %s vectors rebuilt", canonical, rebuilt)
    return True


def sync_config(sender, using: str = "default", **kwargs) -> None:
    """post_migrate: apply a changed ``BREFBOARD_SEARCH_CONFIG`` (PostgreSQL only)."""
    from django.conf import settings
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "postgresql" or installed_config(connection) is None:
        return
    configure(connection, settings.BREFBOARD_SEARCH_CONFIG)
