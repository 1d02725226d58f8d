"""The links stage on Apache Spark: the same SQL as DuckDB, over the records Spark staged.

With ``[engine] engine = "spark"`` ingest leaves the clean, pseudonymised records as Parquet in
``engine.spark_output`` (``pending_interactions``).  Here Spark folds them into ``link_state``
(:func:`fold_on_spark`: :func:`tiewise.links.state.pairs_sql`, transpiled), writes it as Parquet
next to them and the workspace imports it.  Then Spark runs each table's DuckDB SQL
(:func:`tiewise.links.strength.link_tables`) transpiled with
:func:`tiewise.ingest.spark.to_spark_sql`: ``links`` (every strength component and the strength),
``service_numbers``, ``nodes``, ``customer_activity`` and ``customer_weeks``.  Each is written as
Parquet to ``<spark_output>/<table>`` -- what a cluster user hands to the graph stage -- and
imported into the workspace with the column types DuckDB's own query would give, so every later
stage reads the same tables whichever engine built them.

``link_meta`` (one row), the customers' ``customer_id`` and ``on_network`` (for ``nodes``) and
``conversation_links`` (the replies and mentions per pair) go from this machine to Spark as small
data frames, so the cluster needs no access to the workspace.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

import duckdb

from tiewise.config import Config
from tiewise.exceptions import ConfigError
from tiewise.ingest.spark import spark_output, spark_session, to_spark_sql
from tiewise.links.state import COUNTS, LinkMeta, link_meta_sql, pairs_sql, read_meta
from tiewise.store import RunContext, scalar, sql_identifier, sql_path, sql_string

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["fold_on_spark", "import_parquet", "link_tables_on_spark", "small_view"]


def _location(output: str, name: str) -> str:
    """SQL literal of the Parquet files of table ``name`` under ``output``, for DuckDB."""
    location = output.removeprefix("file://") + f"/{name}/*.parquet"
    return sql_path(location) if "://" not in location else sql_string(location)


def import_parquet(
    ctx: RunContext, output: str, name: str, duckdb_sql: str, *, stage: str, description: str
) -> None:
    """Import table ``name`` that Spark wrote under ``output``, typed as ``duckdb_sql`` gives it.

    The column types come from DuckDB's plan of the same query (``LIMIT 0``), so a sum that
    Spark wrote as DECIMAL or BIGINT comes back as DuckDB's DOUBLE or HUGEINT.
    """
    types = ctx.con.execute(f"DESCRIBE SELECT * FROM ({duckdb_sql}) LIMIT 0").fetchall()
    columns = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t, *_ in types)
    ctx.write_table(
        name,
        f"SELECT {columns} FROM read_parquet({_location(output, name)})",
        stage=stage,
        description=description + " Computed on Spark.",
    )


def fold_on_spark(
    ctx: RunContext, config: Config, frame: LinkMeta, locations: list[str]
) -> datetime.datetime | None:
    """Fold the records Spark staged at ``locations`` into ``link_state`` there; import it.

    Returns the oldest record's time.
    """
    spark = spark_session(config.engine)
    output = spark_output(config).rstrip("/")
    spark.read.parquet(*sorted(set(locations))).createOrReplaceTempView("pending_interactions")
    state = spark.sql(to_spark_sql(pairs_sql(config, frame, "SELECT * FROM pending_interactions")))
    state.write.mode("overwrite").parquet(f"{output}/link_state")
    ctx.write_table(
        "link_state",
        "SELECT CAST(a AS VARCHAR) AS a, CAST(b AS VARCHAR) AS b, "
        + "".join(f"CAST({c} AS BIGINT) AS {c}, " for c in COUNTS)
        + "CAST(voice_seconds_ab AS DOUBLE) AS voice_seconds_ab, "
        "CAST(voice_seconds_ba AS DOUBLE) AS voice_seconds_ba, "
        "CAST(weight_fp AS HUGEINT) AS weight_fp, CAST(week_mask AS HUGEINT) AS week_mask, "
        "CAST(first_ts AS TIMESTAMP) AS first_ts, CAST(last_ts AS TIMESTAMP) AS last_ts, "
        "CAST(duplicates AS BIGINT) AS duplicates, CAST(two_sided AS BIGINT) AS two_sided, "
        "CAST(missed AS BIGINT) AS missed, CAST(n_off_hours AS BIGINT) AS n_off_hours "
        f"FROM read_parquet({_location(output, 'link_state')})",
        stage="links",
        description="Interactions per pair of parties, in mergeable form; computed on Spark.",
    )
    first: datetime.datetime | None = scalar(ctx.con, "SELECT min(first_ts) FROM link_state")
    return first


def _register_inputs(spark: SparkSession, ctx: RunContext, config: Config, output: str) -> None:
    """``link_state`` (Spark's own Parquet), ``link_meta`` and ``customers`` as Spark views."""
    state = spark.read.parquet(f"{output}/link_state")
    here = int(scalar(ctx.con, "SELECT count(*) FROM link_state"))
    there = state.count()
    if here != there:
        raise ConfigError(
            f"engine.spark_output: {output}/link_state holds {there} pairs, the workspace's "
            f"link_state {here}: it is not the one this workspace imported. Run ingest with "
            'engine = "spark" again (`tiewise run`), or use engine = "duckdb".'
        )
    state.createOrReplaceTempView("link_state")
    meta = link_meta_sql(config, read_meta(ctx))
    spark.sql(to_spark_sql(meta)).createOrReplaceTempView("link_meta")
    if ctx.has_table("customers"):
        customers = ctx.con.sql("SELECT customer_id, on_network FROM customers").to_arrow_table()
        spark.createDataFrame(customers).createOrReplaceTempView("customers")
    if ctx.has_table("conversation_links"):
        small_view(spark, ctx.con, "conversation_links")


def small_view(spark: SparkSession, con: duckdb.DuckDBPyConnection, table: str) -> None:
    """DuckDB's small ``table`` (e.g. ``conversation_links``) as a Spark view of the same name.

    Its 128-bit sums and week masks go as the exact ``DECIMAL(38, 0)`` Spark's own
    ``link_state`` holds them in.
    """
    types = {c: t for c, t, *_ in con.execute(f"DESCRIBE {sql_identifier(table)}").fetchall()}
    columns = ", ".join(
        f"CAST({sql_identifier(c)} AS DECIMAL(38, 0)) AS {sql_identifier(c)}"
        if t == "HUGEINT"
        else sql_identifier(c)
        for c, t in types.items()
    )
    frame = con.sql(f"SELECT {columns} FROM {sql_identifier(table)}").to_arrow_table()
    spark.createDataFrame(frame).createOrReplaceTempView(table)


def link_tables_on_spark(
    ctx: RunContext, config: Config, tables: list[tuple[str, str, str]]
) -> None:
    """Compute ``tables`` (name, DuckDB SQL, description) on Spark, in order; import each."""
    spark = spark_session(config.engine)
    output = spark_output(config).rstrip("/")
    _register_inputs(spark, ctx, config, output)
    for name, sql, description in tables:
        spark.sql(to_spark_sql(sql)).write.mode("overwrite").parquet(f"{output}/{name}")
        import_parquet(ctx, output, name, sql, stage="links", description=description)
        # later tables read this one: from its Parquet, not by recomputing it
        spark.read.parquet(f"{output}/{name}").createOrReplaceTempView(name)
