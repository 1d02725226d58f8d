"""The interaction records on Apache Spark: the same SQL as DuckDB, transpiled.

With ``[engine] engine = "spark"`` the record-heavy part of ingest -- typing and checking every
record (:func:`tiewise.ingest.rules.validated_select`), dropping duplicates
(``interactions._records_sql``) and pseudonymising -- runs on a Spark cluster, and so does the
links stage's fold of the clean records into ``link_state`` (:mod:`tiewise.links.spark`).  The
SQL is not written twice: the DuckDB text those functions build is parsed with sqlglot and
written as Spark SQL (:func:`to_spark_sql`), with a few rewrites for what Spark lacks:

==============================  ===============================================================
DuckDB                          Spark
==============================  ===============================================================
``HUGEINT`` (128-bit integer)   ``DECIMAL(38,0)`` (exact; the week masks use bits 0..126)
``bit_or(x)`` of a HUGEINT      ``bit_or`` of the low and the high 63 bits as BIGINT, recombined
``1::HUGEINT << k``             ``2^(k mod 63)`` as BIGINT times ``2^63`` when k >= 63
``epoch(t)``                    ``unix_micros(t) / 1e6`` as DOUBLE (fractions of seconds kept)
``time_bucket(i, t)``           ``floor((unix_micros(t) - 2000-01-03) / i)`` (DuckDB's origin)
``to_microseconds(n)``          ``make_dt_interval(0, 0, 0, n / 1e6)``
``make_timestamp(us)``          ``CAST(timestamp_micros(us) AS TIMESTAMP_NTZ)`` (naive, as DuckDB)
``bit_count(x::HUGEINT)``       ``bit_count`` of the low and the high 63 bits as BIGINT, added
``quantile_cont(x, q)``         ``percentile(x, q)`` (the same linear interpolation)
``format('{} of {}', x, y)``    ``concat(CAST(x AS STRING), ' of ', CAST(y AS STRING))``
==============================  ===============================================================

The session runs in UTC so that naive timestamps mean the same on both engines.  Spark writes
the clean, pseudonymised records as Parquet (``<spark_output>/pending_interactions``), where the
links stage reads them; the workspace gets ``pending_loads`` (pointing there), the parties, the
rejected rows and the ingest report.

Examples
--------
>>> to_spark_sql("SELECT epoch(t) AS s FROM x")
'SELECT CAST(UNIX_MICROS(t) AS DOUBLE) / CAST(1000000 AS DOUBLE) AS s FROM x'
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, cast

import sqlglot
from sqlglot import exp

from tiewise.config import Config, EngineConfig
from tiewise.exceptions import ConfigError, InputError
from tiewise.ingest.checks import IngestSummary, RuleCount, check_columns, record_rules
from tiewise.ingest.interactions import (
    STAGED_COLUMNS,
    LoadRow,
    _records_sql,
    add_record_counts,
    history_hash,
    newest_sql,
    span_sql,
    stage_loads,
)
from tiewise.ingest.pseudonym import hmac_sql
from tiewise.ingest.rules import Validated, validated_select
from tiewise.ingest.schemas import SCHEMAS
from tiewise.ingest.sources import Source, resolve_sources, sql_path
from tiewise.store import RunContext, sql_string

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "SparkRecords",
    "load_interactions_spark",
    "records_on_spark",
    "spark_output",
    "spark_session",
    "to_spark_sql",
]

_TWO_63 = 2**63
_BUCKET_ORIGIN_US = 946_857_600_000_000  # 2000-01-03 00:00 UTC: DuckDB's time_bucket origin
_SPARK_TYPES = {
    "StringType": "VARCHAR",
    "LongType": "BIGINT",
    "IntegerType": "INTEGER",
    "ShortType": "INTEGER",
    "DoubleType": "DOUBLE",
    "FloatType": "FLOAT",
    "TimestampType": "TIMESTAMP",
    "TimestampNTZType": "TIMESTAMP",
    "DateType": "DATE",
    "BooleanType": "BOOLEAN",
}


# --------------------------------------------------------------------------- the transpiler


def _decimal() -> exp.DataType:
    return exp.DataType.build("DECIMAL(38, 0)")


def _is_hugeint(node: exp.Expression) -> bool:
    return isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.INT128


def _pow2(k: exp.Expression) -> exp.Expression:
    """2^k as an exact DECIMAL(38,0) for 0 <= k < 126 (Spark cannot shift a decimal)."""
    low = exp.cast(
        exp.func(
            "shiftleft",
            exp.cast(exp.Literal.number(1), "BIGINT"),
            exp.Mod(this=exp.paren(k.copy()), expression=exp.Literal.number(63)),
        ),
        _decimal(),
    )
    high = exp.Mul(
        this=low.copy(), expression=exp.cast(exp.Literal.string(str(_TWO_63)), _decimal())
    )
    return exp.Case(
        ifs=[exp.If(this=exp.GTE(this=k.copy(), expression=exp.Literal.number(63)), true=high)],
        default=low,
    )


def _bit_or_decimal(x: exp.Expression) -> exp.Expression:
    """bit_or over non-negative decimals below 2^126, as two BIGINT halves."""
    h = exp.cast(exp.Literal.string(str(_TWO_63)), _decimal())
    low = exp.Mod(this=exp.paren(x.copy()), expression=h.copy())
    high = exp.Div(
        this=exp.paren(exp.Sub(this=exp.paren(x.copy()), expression=low.copy())),
        expression=h.copy(),
    )
    lo = exp.cast(exp.BitwiseOrAgg(this=exp.cast(low, "BIGINT")), _decimal())
    hi = exp.cast(exp.BitwiseOrAgg(this=exp.cast(high, "BIGINT")), _decimal())
    return exp.paren(exp.Add(this=lo, expression=exp.Mul(this=hi, expression=h)))


def _halves(x: exp.Expression) -> tuple[exp.Expression, exp.Expression]:
    """The low and the high 63 bits of a non-negative decimal below 2^126, as BIGINTs."""
    h = exp.cast(exp.Literal.string(str(_TWO_63)), _decimal())
    low = exp.Mod(this=exp.paren(x.copy()), expression=h.copy())
    high = exp.Div(
        this=exp.paren(exp.Sub(this=exp.paren(x.copy()), expression=low.copy())),
        expression=h.copy(),
    )
    return exp.cast(low, "BIGINT"), exp.cast(high, "BIGINT")


def _popcount_decimal(x: exp.Expression) -> exp.Expression:
    """bit_count of a non-negative decimal below 2^126: the popcounts of its halves, added."""
    low, high = _halves(x)
    return exp.paren(
        exp.Add(this=exp.func("bit_count", low), expression=exp.func("bit_count", high))
    )


def _format(node: exp.Format) -> exp.Expression:
    """DuckDB's ``format('{} ... {}', args)`` as a concatenation of the pieces and the args."""
    pieces = node.this.name.split("{}")
    if len(pieces) != len(node.expressions) + 1:
        raise ValueError(f"format string and arguments do not match: {node.sql()}")
    parts: list[exp.Expression] = []
    for piece, arg in zip(pieces, [*node.expressions, None], strict=True):
        if piece:
            parts.append(exp.Literal.string(piece))
        if arg is not None:
            parts.append(exp.cast(arg.copy(), "VARCHAR"))
    return cast(exp.Expression, exp.func("concat", *parts))


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.INT128:
        return _decimal()
    if isinstance(node, exp.BitwiseLeftShift) and _is_hugeint(node.this):
        return exp.paren(
            exp.Mul(this=exp.cast(node.this.this, _decimal()), expression=_pow2(node.expression))
        )
    if isinstance(node, exp.BitwiseOrAgg):
        return _bit_or_decimal(node.this)
    if (
        isinstance(node, exp.Anonymous)
        and node.name.lower() == "bit_count"
        and _is_hugeint(node.expressions[0])
    ):
        return _popcount_decimal(node.expressions[0].this)
    if isinstance(node, exp.PercentileCont):
        return cast(exp.Expression, exp.func("percentile", node.this, node.expression))
    if isinstance(node, exp.Format):
        return _format(node)
    if isinstance(node, exp.UnixToTime) and not node.meta.get("naive"):  # make_timestamp(us)
        node.meta["naive"] = True  # DuckDB's TIMESTAMP is naive: Spark's TIMESTAMP_NTZ
        return exp.cast(node, "TIMESTAMP_NTZ")
    if isinstance(node, exp.TimeToUnix):  # epoch(t): seconds with their fraction
        micros = exp.cast(exp.func("unix_micros", node.this), "DOUBLE")  # a double, as DuckDB
        return exp.Div(this=micros, expression=exp.cast(exp.Literal.number(1_000_000), "DOUBLE"))
    if isinstance(node, exp.DateBin):  # time_bucket(INTERVAL 'n seconds', t)
        interval = node.this
        seconds = (
            int(interval.this.name)
            * {"SECOND": 1, "SECONDS": 1, "MINUTE": 60, "MINUTES": 60}[interval.unit.name.upper()]
        )
        shifted = exp.Sub(
            this=exp.func("unix_micros", node.expression),
            expression=exp.Literal.number(_BUCKET_ORIGIN_US),
        )
        floor = exp.func(
            "floor",
            exp.Div(this=exp.paren(shifted), expression=exp.Literal.number(seconds * 1_000_000)),
        )
        return cast(exp.Expression, floor)
    if isinstance(node, exp.Anonymous) and node.name.lower() == "to_microseconds":
        arg = node.expressions[0]
        as_interval = exp.func(
            "make_dt_interval",
            exp.Literal.number(0),
            exp.Literal.number(0),
            exp.Literal.number(0),
            exp.Div(this=exp.cast(arg, "DECIMAL(18, 6)"), expression=exp.Literal.number(1_000_000)),
        )
        return cast(exp.Expression, as_interval)
    return node


def to_spark_sql(sql: str) -> str:
    """The DuckDB query ``sql`` as Spark SQL (see the module's table of rewrites)."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    # Shifts first, while the HUGEINT casts that mark them are still there.
    for shift in list(tree.find_all(exp.BitwiseLeftShift)):
        shift.replace(_rewrite(shift))
    for count in list(tree.find_all(exp.Anonymous)):  # bit_count(x::HUGEINT), by the cast
        if count.name.lower() == "bit_count":
            count.replace(_rewrite(count))
    tree = tree.transform(lambda n: n if isinstance(n, exp.BitwiseOrAgg) else _rewrite(n))
    for agg in list(tree.find_all(exp.BitwiseOrAgg)):
        agg.replace(_rewrite(agg))
    return tree.sql(dialect="spark")


# --------------------------------------------------------------------------- the session


def spark_session(engine: EngineConfig, *, warehouse: str | None = None) -> SparkSession:
    """A Spark session as ``engine`` names it (master URL or Spark Connect), in UTC.

    A session already running in this process is reused (Spark allows one per JVM).
    """
    # PySpark 4.3 warns that it is not yet tested with pandas 3; tiewise passes it no pandas.
    warnings.filterwarnings(
        "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
    )
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(
            'engine = "spark" needs PySpark: pip install "tiewise[spark]" (and Java 17 or later).'
        ) from None
    builder: Any = SparkSession.builder.appName("tiewise")
    if engine.spark_remote:
        builder = builder.remote(engine.spark_remote)
    else:
        builder = builder.master(engine.spark_master)
        if engine.spark_master.startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # this environment's Python
    settings = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.ui.showConsoleProgress": "false",
        **({"spark.sql.warehouse.dir": warehouse} if warehouse else {}),
        **engine.spark_conf,
    }
    for k, v in settings.items():
        builder = builder.config(k, v)
    try:
        session: SparkSession = builder.getOrCreate()
    except Exception as exc:  # Java missing, master unreachable: say so in one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"cannot start Spark ({engine.spark_remote or engine.spark_master}): {first}. "
            "Check that Java 17+ is installed (JAVA_HOME) and the master URL is reachable."
        ) from None
    session.conf.set("spark.sql.session.timeZone", "UTC")
    if not engine.spark_remote:
        session.sparkContext.setLogLevel("ERROR")
    return session


# --------------------------------------------------------------------------- the computation


@dataclass(frozen=True)
class _SparkSource(Source):
    """A source read by Spark: its rows are the temporary view ``view``."""

    view: str = ""
    location: str = ""

    def reader(self, files: Any = None, rejects: str | None = None, lenient: bool = False) -> str:
        """The temporary view holding the source's rows (with ``filename``)."""
        return self.view


@dataclass(frozen=True)
class SourceCounts:
    """One source's rows on Spark: all, valid, broken per rule, duplicates, two-sided, missed."""

    source: Source
    validated: Validated  # the rules, by number, and the columns present
    bad_rows: DataFrame | None  # the rows breaking a rule (not yet run), None when there are none
    total: int
    valid: int
    broken: dict[int, int]  # rule number -> rows
    duplicates: int
    two_sided: int
    missed: int


@dataclass(frozen=True)
class SparkRecords:
    """What Spark computed: the clean records and parties (DataFrames, not yet run), the counts.

    ``loads``: each source's row of ``pending_loads`` (without the run and the location).
    """

    records: DataFrame
    parties: DataFrame
    loads: list[tuple[str, Any, Any, int, int]]
    counts: list[SourceCounts]


def _register(
    spark: SparkSession, source: Source, paths: list[str]
) -> tuple[_SparkSource, _SparkSource, dict[str, str]]:
    """Read ``paths`` into temporary views; CSV as text, as DuckDB reads it.

    Two views of the same rows: one for the aggregation (no row numbers), and one whose
    ``file_row_number`` locates a row for ``rejected_rows``: Parquet's own row index, or for
    CSV Spark's ``monotonically_increasing_id`` (partition << 33 | position in the partition),
    turned into the data row number by :func:`_bad_rows_sql`.
    """
    from pyspark.sql import functions as sf

    if source.fmt == "parquet":
        frame = spark.read.parquet(*paths)
        position = sf.col("_metadata.row_index")
    else:
        options = {
            "header": "true",
            "inferSchema": "false",
            "mode": "DROPMALFORMED",
            "encoding": source.spec.encoding,
            "sep": source.spec.delimiter or ",",
        }
        frame = spark.read.options(**options).csv(paths)
        position = sf.monotonically_increasing_id()
    frame = frame.withColumn("filename", sf.col("_metadata.file_path"))
    view = f"_tiewise_source_{source.index}"
    frame.withColumn("file_row_number", sf.lit(None).cast("bigint")).createOrReplaceTempView(view)
    frame.withColumn("file_row_number", position).createOrReplaceTempView(f"{view}_rows")
    columns = {
        f.name: _SPARK_TYPES.get(type(f.dataType).__name__, "VARCHAR")
        for f in frame.schema.fields
        if f.name not in ("filename", "file_row_number")
    }
    spark_source = _SparkSource(
        source.schema, source.index, source.spec, source.files, source.fmt, source.label, view=view
    )
    check_columns(spark_source, columns)
    # validated_select numbers Parquet rows from file_row_number: the rows view has it for both
    rows_source = replace(spark_source, fmt="parquet", view=f"{view}_rows")
    return spark_source, rows_source, columns


def _bad_rows(
    spark: SparkSession, source: Source, rows: _SparkSource, validated: Validated
) -> DataFrame:
    """The rows that break a rule, with their file and row number (1-based), on Spark.

    Parquet rows are numbered by Spark's row index.  A CSV file is read in splits, each split's
    rows contiguous within one partition and the splits of a file in partitions of increasing
    number (Spark packs splits in file order), so a row's number is its position within its
    partition's run of the file plus the file's rows in earlier partitions.
    """
    bad = spark.sql(f"SELECT * FROM ({to_spark_sql(validated.raw_sql)}) WHERE _rule IS NOT NULL")
    if source.fmt == "parquet":
        return bad
    bad.createOrReplaceTempView("_tiewise_bad")
    others = ", ".join(f"b.`{c}`" for c in bad.columns if c != "_row")
    return spark.sql(
        f"""
        WITH runs AS (
            SELECT filename, shiftright(file_row_number, 33) AS part,
                   min(file_row_number) AS first_id, count(*) AS n
            FROM {rows.view} GROUP BY filename, shiftright(file_row_number, 33)
        ), offsets AS (
            SELECT filename, part, first_id,
                   coalesce(sum(n) OVER (PARTITION BY filename ORDER BY part
                                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
                       AS before
            FROM runs
        )
        SELECT {others}, (b._row - 1) - o.first_id + o.before + 1 AS _row
        FROM _tiewise_bad b JOIN offsets o
          ON o.filename = b._file AND o.part = shiftright(b._row - 1, 33)
        """
    )


def _locations(config: Config) -> list[tuple[Source, list[str]]]:
    """Each interactions source with the paths Spark reads."""
    where = config.engine.spark_input
    if not where:
        return [(s, [f.path for f in s.files]) for s in resolve_sources(config, "interactions")]
    specs = config.inputs.sources("interactions")
    if len(specs) != 1:
        raise ConfigError(
            "engine.spark_input names one location: give exactly one [inputs.interactions] "
            "(its format, columns and options apply), or leave spark_input unset."
        )
    spec = specs[0]
    fmt = spec.format
    if fmt == "auto":
        fmt = "parquet" if where.rstrip("/*").endswith((".parquet", ".pq")) else "csv"
    return [(Source(SCHEMAS["interactions"], 0, spec, (), fmt, "engine.spark_input"), [where])]


def records_on_spark(spark: SparkSession, config: Config, key: bytes | None) -> SparkRecords:
    """Check, deduplicate and pseudonymise the interaction records on Spark.

    The SQL is DuckDB's (:func:`tiewise.ingest.rules.validated_select`,
    ``interactions._records_sql``, ``interactions.span_sql``), transpiled.
    """
    registered = [_register(spark, source, paths) for source, paths in _locations(config)]
    loads = []
    for source, _, columns in registered:
        row = spark.sql(to_spark_sql(newest_sql(source, columns, config))).collect()
        newest = row[0][0] if row else None
        oldest, rows, pairs = spark.sql(to_spark_sql(span_sql(source, columns))).collect()[0]
        loads.append((source.label, newest, oldest, int(rows or 0), int(pairs)))
    parts: list[str] = []
    counts = []
    for source, rows, columns in registered:
        validated = validated_select(source, columns, config, row_numbers=False)
        name = f"_tiewise_records_{source.index}"
        records = _records_sql(config, f"({validated.sql})", isolated_first=False)
        spark.sql(to_spark_sql(records)).persist().createOrReplaceTempView(name)
        parts.append(name)
        by_rule = spark.sql(
            to_spark_sql(
                f"SELECT _rule, sum(copies), count(*), sum(copies - 1), "
                "count(*) FILTER (WHERE seen_in AND seen_out), count(*) FILTER (WHERE missed) "
                f"FROM {name} GROUP BY _rule"
            )
        ).collect()
        good = [r for r in by_rule if r[0] is None]
        valid, dup, two, missed = (int(x or 0) for x in good[0][2:]) if good else (0, 0, 0, 0)
        counts.append(
            SourceCounts(
                source,
                validated,
                _bad_rows(spark, source, rows, validated_select(rows, columns, config))
                if any(r[0] is not None for r in by_rule)
                else None,
                sum(int(r[1]) for r in by_rule),
                valid,
                {int(r[0]): int(r[1]) for r in by_rule if r[0] is not None},
                dup,
                two,
                missed,
            )
        )
    union = " UNION ALL ".join(f"SELECT * FROM {t} WHERE _rule IS NULL" for t in parts)
    spark.sql(union).createOrReplaceTempView("_tiewise_clean")
    pseudonym = "id" if key is None else hmac_sql("id", key)
    ids = (
        f"SELECT id, {pseudonym} AS p FROM "
        "(SELECT from_id AS id FROM _tiewise_clean UNION SELECT to_id FROM _tiewise_clean)"
    )
    spark.sql(to_spark_sql(ids)).createOrReplaceTempView("_tiewise_ids")
    clean = spark.sql(
        to_spark_sql(
            "SELECT f.p AS from_id, t.p AS to_id, r.channel, r.duration_s, r.timestamp, "
            "CAST(r.copies AS BIGINT) AS copies, r.seen_in AND r.seen_out AS two_sided, r.missed "
            "FROM _tiewise_clean r JOIN _tiewise_ids f ON f.id = r.from_id "
            "JOIN _tiewise_ids t ON t.id = r.to_id"
        )
    )
    parties = spark.sql("SELECT p AS party FROM _tiewise_ids")
    return SparkRecords(clean, parties, loads, counts)


def _report(
    ctx: RunContext,
    config: Config,
    counts: list[SourceCounts],
    summary: IngestSummary,
    output: str,
) -> tuple[int, int]:
    """Report each source's rules broken and fill ``rejected_rows``; return (valid, rejected).

    The bad rows are written by Spark as Parquet (``<output>/rejected_rows/<source>``) and go
    through the same :func:`tiewise.ingest.checks.record_rules` as DuckDB's: the policy, the
    examples in the report, ``max_bad_share`` and the ``rejected_rows`` lines.
    """
    valid = rejected = 0
    for c in counts:
        bad = 0
        if c.bad_rows is not None:
            where = f"{output}/rejected_rows/{c.source.index}"
            c.bad_rows.write.mode("overwrite").parquet(where)
            # Spark names local files by URI (file:///...); DuckDB, and the report, by path
            file = (
                "CASE WHEN _file LIKE 'file:%' "
                "THEN url_decode(regexp_replace(_file, '^file:(//)?', '')) ELSE _file END"
            )
            rows_sql = (
                f"SELECT * REPLACE ({file} AS _file) FROM read_parquet({_parquet_files(where)})"
            )
            bad = record_rules(
                ctx, c.source, c.validated, c.broken, c.total, config, summary, rows_sql
            )
        add_record_counts(summary, c.source, c.total, c.duplicates, c.two_sided, c.missed)
        valid, rejected = valid + c.valid, rejected + bad
    return valid, rejected


def _parquet_files(folder: str) -> str:
    """SQL literal of the Parquet files Spark wrote in ``folder``, for DuckDB."""
    location = folder.removeprefix("file://") + "/*.parquet"
    return sql_path(location) if "://" not in location else sql_string(location)


def spark_output(config: Config) -> str:
    """Where Spark writes its Parquet tables."""
    return config.engine.spark_output or str(config.workspace_path / "spark-output")


def load_interactions_spark(
    ctx: RunContext, config: Config, key: bytes | None, summary: IngestSummary
) -> None:
    """Check, deduplicate and pseudonymise on Spark; stage the clean records there as Parquet.

    Always a full load (Spark reads every record); ``ingested_files`` lists the files read when
    they are local.  The links stage folds the records into ``link_state`` on Spark.
    """
    from pyspark.errors import AnalysisException

    spark = spark_session(config.engine)
    try:
        result = records_on_spark(spark, config, key)
    except AnalysisException as exc:  # e.g. a path that does not exist
        first = str(exc).strip().splitlines()[0]
        where = "engine.spark_input" if config.engine.spark_input else "inputs.interactions"
        raise InputError(
            f"{where}: Spark cannot read the interaction records: {first}. Check the path "
            "and the format, and that the cluster can reach it."
        ) from None
    if sum(c.total for c in result.counts) == 0:
        raise InputError(
            "inputs.interactions: the input holds no rows: there is no network to build."
        )
    output = spark_output(config).rstrip("/")
    valid, rejected = _report(ctx, config, result.counts, summary, output)
    staged = f"{output}/pending_interactions"
    result.records.select(*STAGED_COLUMNS.split(", ")).write.mode("overwrite").parquet(staged)
    result.parties.write.mode("overwrite").parquet(f"{output}/interaction_parties")
    rows: list[LoadRow] = [
        (ctx.run_id, label, True, newest, oldest, n, pairs, staged)
        for label, newest, oldest, n, pairs in result.loads
    ]
    stage_loads(ctx, rows, full=True)
    ctx.write_table(
        "interaction_parties",
        "SELECT CAST(party AS VARCHAR) AS party "
        f"FROM read_parquet({_parquet_files(f'{output}/interaction_parties')}) ORDER BY party",
        stage="ingest",
        description="Every party of the interaction records, pseudonymised; found on Spark.",
    )
    files = [(c.source, f) for c in result.counts for f in c.source.files]
    digest = history_hash(config, key)
    values = ", ".join(
        f"('interactions', {sql_string(s.label)}, {sql_path(f.path)}, {f.bytes}, {f.mtime}, "
        f"{ctx.run_id}, {sql_string(digest)})"
        for s, f in files
    )
    ctx.write_table(
        "ingested_files",
        "SELECT input, source, path, CAST(bytes AS BIGINT) AS bytes, CAST(mtime AS BIGINT) AS "
        "mtime, CAST(run_id AS INTEGER) AS run_id, history_hash "
        f"FROM (VALUES {values}) AS t(input, source, path, bytes, mtime, run_id, history_hash)"
        if values
        else "SELECT NULL::VARCHAR AS input, NULL::VARCHAR AS source, NULL::VARCHAR AS path, "
        "NULL::BIGINT AS bytes, NULL::BIGINT AS mtime, NULL::INTEGER AS run_id, "
        "NULL::VARCHAR AS history_hash WHERE false",
        stage="ingest",
        description="Every interaction file loaded: path, size, time, run.",
    )
    summary.mode, summary.reason = "full", "on Spark (every record is read)"
    summary.loaded["interactions"] = valid
    summary.rejected["interactions"] = rejected
    summary.add(
        RuleCount("interactions", "loaded", None, valid, None, None, "loaded (full, on Spark)")
    )
