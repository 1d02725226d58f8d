"""The tiewise configuration: one TOML file, validated with pydantic.

A configuration names the workspace, the input files (path, format and how their columns map to
tiewise's names), the parameters of each stage and the seed.  ``tiewise init`` writes a commented
template (:func:`template`); :func:`load_config` reads and validates one.  Every mistake is a
:class:`~tiewise.exceptions.ConfigError` that names the key, the value and what is allowed.

Relative paths in the file are relative to the file's own folder, so a project folder can be moved
as a whole.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tiewise.exceptions import ConfigError

__all__ = [
    "CampaignsConfig",
    "ChurnConfig",
    "Config",
    "ConversationsConfig",
    "EngineConfig",
    "GraphConfig",
    "IngestConfig",
    "InputSpec",
    "Inputs",
    "LinksConfig",
    "PrivacyConfig",
    "ReportConfig",
    "ServeConfig",
    "ValueConfig",
    "config_hash",
    "load_config",
    "template",
]


class _Strict(BaseModel):
    """Base of every section: unknown keys are errors, values are not silently coerced."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class InputSpec(_Strict):
    """One input: where it is, its format and how its columns map to tiewise's names."""

    path: str = Field(description="A file, or a glob over many files (cdr/2026-*.csv.gz).")
    format: Literal["auto", "csv", "parquet"] = "auto"
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="tiewise column name -> the column's name in your file.",
    )
    constants: dict[str, str] = Field(
        default_factory=dict,
        description="tiewise column name -> a value for every row, for a column the file lacks "
        '(e.g. channel = "sms" for a file of text messages).',
    )
    delimiter: str | None = Field(default=None, description="CSV delimiter; None sniffs it.")
    header: bool = Field(
        default=True,
        description="False for CSV files without a header line: their columns are then named "
        "by position, column0, column1, ... (map them in `columns`).",
    )
    encoding: Literal["utf-8", "latin-1", "utf-16"] = Field(
        default="utf-8", description="CSV text encoding."
    )
    timestamp_format: str = Field(
        default="auto",
        description='"auto" (ISO-8601 or epoch seconds/milliseconds), "iso", "epoch_s", '
        '"epoch_ms", "relative_s" (seconds after `origin`), or a strptime pattern such as '
        '"%d/%m/%Y %H:%M" for day/month/year times.',
    )
    origin: str | None = Field(
        default=None,
        description="For timestamp_format = 'relative_s': the ISO date-time of second 0.",
    )

    @field_validator("timestamp_format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value in TIMESTAMP_FORMATS or "%" in value:
            return value
        raise ValueError(
            f"must be one of {', '.join(TIMESTAMP_FORMATS)} or a strptime pattern with % codes "
            "(e.g. '%d/%m/%Y %H:%M')"
        )


TIMESTAMP_FORMATS = ("auto", "iso", "epoch_s", "epoch_ms", "relative_s")
# graph.compare_levels = "auto" compares nested levels with direct runs up to this many links: a
# direct Leiden run there takes about 4-5 s on one core (17-20 s on 8.6M links, measured), and
# the comparison is a diagnostic
COMPARE_LEVELS_UP_TO = 2_000_000
Sources = InputSpec | list[InputSpec] | None


class Inputs(_Strict):
    """The input tables; only ``interactions`` is required to build a network.

    Each input is one table (``[inputs.interactions]``) or several sources with their own files
    and column mappings (``[[inputs.interactions]]``), e.g. a call log and an SMS log.
    """

    interactions: Sources = None
    customers: Sources = None
    transactions: Sources = None
    adoptions: Sources = None
    churn: Sources = None
    engagement: Sources = None
    identities: Sources = None
    conversations: Sources = None

    def sources(self, name: str) -> list[InputSpec]:
        """The sources configured for input ``name`` (empty when it is not configured)."""
        value = getattr(self, name)
        if value is None:
            return []
        return list(value) if isinstance(value, list) else [value]


class PrivacyConfig(_Strict):
    """How identifiers (phone numbers, emails) are pseudonymised at ingest."""

    pseudonymise: bool = True
    key_file: str = Field(
        default="tiewise.key",
        description="The secret key for the keyed hash; created on first use. Keep it out of "
        "the workspace: whoever holds it can link pseudonyms back to raw identifiers.",
    )
    key_env: str = Field(
        default="TIEWISE_KEY",
        description="An environment variable that, when set, holds the key (hex) instead.",
    )


class IngestConfig(_Strict):
    """What to do with bad and duplicate rows."""

    policy: Literal["quarantine", "strict"] = "quarantine"
    max_bad_share: float = Field(default=0.05, ge=0.0, le=1.0)
    earliest_date: date = Field(
        default=date(1990, 1, 1),
        description="Times before this date are implausible (a wrong unit or origin) and "
        "quarantined; set it earlier for historic data, e.g. a diffusion study from the 1950s.",
    )
    deduplicate: bool = Field(
        default=True,
        description="Drop repeated interaction records: exact copies, and the same call logged "
        "from both phones (same parties, direction and channel; times within "
        "duplicate_tolerance_s, durations within duplicate_duration_tolerance_s).",
    )
    duplicate_tolerance_s: int = Field(
        default=30,
        ge=0,
        le=3600,
        description="Clock skew allowed between two phones' logs of one call: a record starting "
        "at most this many seconds after another of the same parties, direction and channel can "
        "be its copy (see duplicate_duration_tolerance_s for the other conditions).",
    )
    duplicate_duration_tolerance_s: int = Field(
        default=2,
        ge=0,
        le=600,
        description="How many seconds the two phones' durations of one call may differ.  A copy "
        "must also come from the other phone (direction column) or overlap the earlier call; "
        "redials from the same phone are never copies.",
    )
    slice_rows: int | None = Field(
        default=None,
        ge=1000,
        description="Interaction records deduplicated at a time. A larger input is split by a "
        "hash of the pair into slices of about this many records, each deduplicated in "
        "memory (exact: copies never straddle slices). Default: "
        "from the memory limit (about 320 bytes a record).",
    )
    keep_interactions: bool = Field(
        default=False,
        description="Also keep every interaction record in the workspace. Off by default: the "
        "links stage folds the records into per-pair aggregates (link_state), which is all "
        "later stages need and a fraction of the size, and drops them.",
    )


class EngineConfig(_Strict):
    """Which engine runs the record-heavy work (ingest of interactions), and its limits."""

    engine: Literal["duckdb", "spark"] = Field(
        default="duckdb",
        description='"duckdb": everything on this machine. "spark": the interaction records are '
        "checked, deduplicated and aggregated per pair on Apache Spark (pip install "
        "'tiewise[spark]'), which writes the clean records, link_state, the rejected rows and "
        "then the links stage's tables (links, service_numbers, nodes, customer_activity, "
        "customer_weeks) as Parquet; the workspace imports them and the graph and later "
        "stages run here.",
    )
    spark_master: str = Field(
        default="local[*]",
        description='Spark master URL: "local[4]", "spark://host:7077", "yarn", "k8s://...".',
    )
    spark_remote: str | None = Field(
        default=None,
        description='Spark Connect URL ("sc://host:15002"); when set, used instead of '
        "spark_master (a thin client: the cluster does the work).",
    )
    spark_input: str | None = Field(
        default=None,
        description="Where Spark reads the interaction records, any path or URI Spark accepts "
        "(hdfs://..., s3a://bucket/cdr/*.parquet, a glob); format, columns and the other "
        "reading options come from the single [inputs.interactions]. Default: the files of "
        "[inputs.interactions], read by Spark.",
    )
    spark_output: str | None = Field(
        default=None,
        description="Where Spark writes its tables as Parquet (pending_interactions, "
        "interaction_parties, link_state, rejected_rows/, "
        "links, service_numbers, nodes, customer_activity, customer_weeks); it must be "
        "readable from this machine (a local or shared folder; DuckDB reads s3:// with its "
        "httpfs extension). Default: spark-output/ in the workspace folder.",
    )
    spark_conf: dict[str, str] = Field(
        default_factory=dict,
        description='Extra Spark settings, e.g. {"spark.executor.memory" = "8g"}.',
    )

    memory_limit: str | None = Field(
        default=None,
        pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description='e.g. "6GB"; beyond it DuckDB spills to the workspace\'s tmp folder. '
        "Default: a quarter of the machine's memory (the rest of the process, which cannot "
        "spill, needs the rest at scale).",
    )
    threads: int | None = Field(default=None, ge=1, description="Default: all cores.")


class LinksConfig(_Strict):
    """The link-strength formula (see docs/links.md)."""

    half_life_days: float | None = Field(
        default=None,
        gt=0,
        description="Half-life of a record's weight, in days.  Unset: chosen from the data on a "
        "full load (its span, at least 4 times the contact rhythm; the run's summary and "
        "link_meta say which).  A change reloads every interaction file.",
    )
    channel_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "voice": 1.0,
            "sms": 0.5,
            "email": 0.5,
            "meeting": 2.0,
            "referral": 3.0,
        }
    )
    duration_weight: float = Field(
        default=0.5, ge=0, description="Extra weight per log-minute of a voice call."
    )
    strength_weights: dict[str, float] | None = Field(
        default=None,
        description="Unset: strength = volume * (1 + reciprocity) / 2 * (1 + regularity) / 2 "
        "* (1 + embeddedness). Set (e.g. from `tiewise fit-strength` on pairs known to be "
        "close): strength = volume * exp(sum of weight * component) over reciprocity, "
        "regularity, recency, burstiness, duration, channel_mix, off_hours, embeddedness.",
    )
    service_min_contacts: int = Field(
        default=500, ge=2, description="A number with at least this many distinct contacts..."
    )
    service_max_reciprocity: float = Field(
        default=0.1, ge=0, le=1, description="...of whom at most this share ever contact it back..."
    )
    service_min_one_way_share: float = Field(
        default=0.8,
        ge=0.5,
        le=1,
        description="...and whose records go mostly one way (outbound call centre or inbound "
        "hotline), unlike a sociable super-connector's.",
    )
    exclude_service_numbers: bool = True

    @field_validator("strength_weights")
    @classmethod
    def _known_components(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        known = {
            "reciprocity",
            "regularity",
            "recency",
            "burstiness",
            "duration",
            "channel_mix",
            "off_hours",
            "embeddedness",
        }
        unknown = sorted(set(value or {}) - known)
        if unknown:
            raise ValueError(f"unknown components {unknown}; known: {sorted(known)}")
        return value

    @field_validator("channel_weights")
    @classmethod
    def _weights_non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if v < 0}
        if bad:
            raise ValueError(f"channel weights must be >= 0, got {bad}")
        return value


class GraphConfig(_Strict):
    """Community detection, centrality and roles."""

    objective: Literal["modularity", "cpm"] = Field(
        default="modularity",
        description="Leiden's objective: modularity (NetworKit) or the Constant Potts Model "
        "(igraph), which has no resolution limit.",
    )
    resolution: float = Field(default=2.0, gt=0, description="The main level's resolution.")
    levels: list[float] = Field(
        default_factory=lambda: [1.0, 4.0],
        description="Further resolutions, stored as coarser or finer levels.",
    )
    stable_ids: bool = Field(
        default=True, description="Keep community ids across runs by matching members."
    )
    compare_levels: bool | Literal["auto"] = Field(
        default="auto",
        description="Also run Leiden directly at each further level's resolution, to report "
        "what nesting trades (community_level_quality); each costs a Leiden run on the whole "
        f"network. 'auto': on networks of at most {COMPARE_LEVELS_UP_TO:,} links.",
    )
    betweenness_samples: int = Field(
        default=16,
        ge=0,
        description="Source nodes sampled for betweenness (shortest paths in hops); 0 skips it.",
    )
    super_connector_percentile: float = Field(default=99.0, gt=0, lt=100)
    leiden_iterations: int = Field(default=3, ge=1)
    threads: int = Field(
        default=1,
        ge=1,
        description="Threads for community detection. More than 1 is faster but not bit-for-bit "
        "reproducible (NetworKit's parallel Leiden). The other measures use engine.threads.",
    )
    edge_weight: Literal["log_strength", "strength"] = Field(
        default="log_strength",
        description="The graph's edge weight: ln(1 + strength) (default), so that one very "
        "strong tie (a partner) does not outweigh many ordinary ones, or the raw strength.",
    )
    pagerank_damping: float = Field(default=0.85, gt=0, lt=1)
    leaders_per_community: int = Field(default=3, ge=1)

    @field_validator("levels")
    @classmethod
    def _positive_levels(cls, value: list[float]) -> list[float]:
        if any(r <= 0 for r in value):
            raise ValueError(f"every level's resolution must be > 0, got {value}")
        return value


_DEFAULT_ENGAGEMENT_WEIGHTS = {
    "live_event": 5.0,
    "reference": 8.0,
    "webinar": 3.0,
    "whitepaper": 2.0,
    "survey": 3.0,
    "web_visit": 0.5,
    "support_query": -0.5,
    "email_open": 0.2,
    "email_click": 1.0,
    "email_forward": 3.0,
}


class ValueConfig(_Strict):
    """Customer value: lifetime value, engagement and social value, segments (docs/value.md)."""

    model: Literal["auto", "bgnbd", "sbg", "none"] = Field(
        default="auto",
        description="Financial model: 'bgnbd' (non-contractual purchases: BG/NBD + Gamma-Gamma), "
        "'sbg' (subscriptions: shifted-beta-geometric retention x revenue per month), 'none', or "
        "'auto' (sbg when customers have signup_date and monthly_fee and the churn input exists, "
        "else bgnbd when there are transactions).",
    )
    sbg_group_by: Literal["plan", "segment"] | None = Field(
        default="plan",
        description="Fit one sBG retention model per value of this customers column (groups "
        "with fewer than sbg_min_churned churners use the model pooled over everyone).",
    )
    sbg_min_churned: int = Field(default=20, ge=2)
    horizon_months: int = Field(default=12, ge=1, le=600, description="CLV horizon in months.")
    monthly_discount: float = Field(
        default=0.01, ge=0, lt=1, description="Discount rate per month (0.01 = 1% a month)."
    )
    margin: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="Share of revenue that is profit (CLV = margin x revenue).",
    )
    unit_days: float = Field(
        default=7.0, gt=0, description="BG/NBD time unit in days (7: weeks, as in the paper)."
    )
    calibration_end: str | None = Field(
        default=None,
        description="Last day (ISO date) of the purchases the models learn from; default: the "
        "newest transaction.",
    )
    negative_amounts: Literal["error", "net"] = Field(
        default="error",
        description="Transactions with a negative amount (refunds): 'error' stops the run; 'net' "
        "nets them against the same customer's purchases of that day (a day with a net amount "
        "<= 0 is no purchase).",
    )
    after_churn: Literal["error", "drop"] = Field(
        default="error",
        description="Transactions more than churn_grace_days after the customer's churn date: "
        "'error' stops the run; 'drop' ignores them (counted in the summary).",
    )
    churn_grace_days: float = Field(
        default=31.0, ge=0, description="A final bill may come this long after churn."
    )
    engagement_weights: dict[str, float] = Field(
        default_factory=lambda: dict(_DEFAULT_ENGAGEMENT_WEIGHTS),
        description="Points per engagement event, by event_type (types not listed count 0).",
    )
    engagement_value_scale: dict[str, float] = Field(
        default_factory=lambda: {"survey": 10.0},
        description="Event types whose `value` scales their points: value / scale (a survey "
        "score of 10 of 10 earns the full weight, 5 of 10 half).",
    )
    engagement_half_life_days: float = Field(
        default=90.0, gt=0, description="An event's points halve with every this many days of age."
    )
    learn_weights_from: str | None = Field(
        default=None,
        description="Learn the engagement weights instead from an outcome: an engagement "
        "event_type ('reference') or 'transactions:CATEGORY' ('transactions:expansion'). A "
        "regularised logistic regression predicts the outcome in the last "
        "outcome_window_days from the behaviour before; coefficients and hold-out AUC are "
        "reported in engagement_weights.",
    )
    outcome_window_days: float = Field(default=90.0, gt=0)
    regularisation_c: float = Field(
        default=1.0, gt=0, description="Inverse L2 strength of the logistic regression."
    )
    email_event_types: dict[str, str] = Field(
        default_factory=lambda: {
            "opens": "email_open",
            "clicks": "email_click",
            "forwards": "email_forward",
        },
        description="Email signal -> engagement event_type counted for it.",
    )
    email_top_percentile: float = Field(
        default=90.0, gt=0, lt=100, description="Flag customers at or above this percentile."
    )
    reach_event_types: list[str] = Field(
        default_factory=lambda: ["live_event", "webinar", "whitepaper", "reference"],
        description="Engagement types through which a contact 'moves' a linked colleague: the "
        "colleague does the same within reach_window_days after the contact.",
    )
    reach_window_days: float = Field(default=14.0, gt=0)
    social_weights: dict[str, float] = Field(
        default_factory=lambda: {"knowledge": 1.0, "connections": 1.0, "reach": 1.0},
        description="Weights of the three parts of social value (each a percentile 0-100).",
    )
    financial_cutoff: float = Field(
        default=80.0,
        ge=0,
        lt=100,
        description="Financial percentile at or above which a customer counts as financially high.",
    )
    social_cutoff: float = Field(
        default=80.0,
        ge=0,
        lt=100,
        description="Social percentile at or above which a customer counts as socially high.",
    )

    @field_validator("social_weights")
    @classmethod
    def _some_weight(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = set(value) - {"knowledge", "connections", "reach"}
        if unknown:
            raise ValueError(
                f"social weights are for knowledge, connections and reach; got {sorted(unknown)}"
            )
        if any(v < 0 for v in value.values()) or not any(v > 0 for v in value.values()):
            raise ValueError(f"social weights must be >= 0 and not all 0, got {value}")
        return value

    @field_validator("calibration_end")
    @classmethod
    def _iso_date(cls, value: str | None) -> str | None:
        if value is not None:
            import datetime as dt

            try:
                dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"calibration_end must be an ISO date, got {value!r}") from None
        return value


class CampaignsConfig(_Strict):
    """Campaign target lists (see docs/campaigns.md)."""

    size: int = Field(default=1000, ge=1, description="Customers per list (targets + control).")
    control_share: float = Field(
        default=0.1,
        ge=0,
        lt=1,
        description="Share of each list held out as a random control group, to measure uplift.",
    )
    influencer_percentile: float = Field(
        default=90.0,
        ge=0,
        le=100,
        description="A customer at or above this influence percentile (or an Ambassador, "
        "Influencer or community leader) counts as an influencer for the lists.",
    )


class InfluenceConfig(_Strict):
    """Influence from adoption timing, link probabilities, seeds and network value."""

    enabled: bool = Field(default=True, description="Run the influence stage.")
    window_days: float | None = Field(
        default=None,
        gt=0,
        description="A contact's adoption of the same item counts as following a customer when "
        "it comes at most this many days after the customer's. Unset: chosen from the data's "
        "time resolution (14 days, or three periods on data recorded by week, month or year).",
    )
    shuffles: int = Field(
        default=999,
        ge=99,
        description="Most shuffles of adoption times for the homophily control. Sequential "
        "Monte Carlo: a category stops early once 20 shuffles beat it (clearly no influence); "
        "otherwise p-values are multiples of 1 / (shuffles + 1), so at least 10 / significance.",
    )
    min_shuffles: int = Field(
        default=199,
        ge=19,
        description="Shuffles always done (they also give each customer's expected followers).",
    )
    significance: float = Field(
        default=0.01,
        gt=0,
        lt=1,
        description="p-value below which a category is said to show influence (the better of "
        "the window test and the test of order, Bonferroni-corrected); only such categories get "
        "adoptions caused, influence seeds and network value.",
    )
    link_direction: bool = Field(
        default=True,
        description="Where records say who contacted whom, learn separately how often a follow "
        "is caused when the first adopter contacted the follower, the follower contacted them, "
        "or both (no effect on links recorded both ways, such as friendships).",
    )
    prior_shape: float = Field(
        default=5.0,
        gt=0,
        description="Gamma shape of the customers' influence multipliers in the adoptions-caused "
        "estimate: the larger, the more a customer's follows are credited at the population's "
        "rates rather than their own record (5: own record counts after several follows).",
    )
    structural: Literal["k_shell", "collective_influence", "pagerank", "leaderrank", "contacts"] = (
        Field(
            default="leaderrank",
            description="Structural spreading score for customers with no adoption history.",
        )
    )
    train_share: float = Field(
        default=0.7,
        gt=0,
        lt=1,
        description="Share of the adoption period the link probabilities are fitted on before "
        "they are validated on the rest.",
    )
    link_prior: float = Field(
        default=1.0,
        gt=0,
        description="Pseudo-actions pulling a link's learned probability towards the population's "
        "propagation rate (a link whose source never adopted gets exactly that).",
    )
    seeds: int = Field(default=50, ge=1, description="Seeds chosen per category (and overall).")
    epsilon: float = Field(
        default=0.1, gt=0, lt=1, description="The seeds' approximation slack: (1 - 1/e - epsilon)."
    )
    max_rr_sets: int = Field(
        default=10_000_000,
        ge=10_000,
        description="Most RR sets drawn per seed set (memory: roughly 20-100 bytes each); "
        "when it binds and the check's sets cannot certify epsilon, seed_sets reports the larger "
        "epsilon certified.",
    )
    exclude_where: str | None = Field(
        default=None,
        description="SQL condition on the customers table: customers never to be seeds "
        "(do-not-contact), e.g. \"segment = 'business'\".",
    )
    cost: str = Field(
        default="1.0",
        description="SQL expression on the customers table: the cost of contacting a customer.",
    )
    budget: float | None = Field(
        default=None, gt=0, description="Total contact budget for the seeds (None: k seeds)."
    )

    @model_validator(mode="after")
    def _enough_shuffles(self) -> InfluenceConfig:
        if self.shuffles + 1 < 10 / self.significance - 1e-9:
            raise ValueError(
                f"shuffles = {self.shuffles} cannot resolve significance = {self.significance:g}: "
                f"p-values come in steps of 1/(shuffles + 1); set shuffles >= "
                f"{math.ceil(10 / self.significance) - 1}"
            )
        if self.min_shuffles > self.shuffles:
            raise ValueError("min_shuffles must not exceed shuffles")
        return self


class ChurnConfig(_Strict):
    """Behaviour triggers, social churn signals, the churn model and retention priority."""

    horizon_days: int = Field(
        default=30,
        ge=7,
        le=365,
        description="Predict churn within this many days. The model is trained with features up "
        "to as_of - 2 horizons and churn in the next horizon, evaluated one horizon later, and "
        "refitted on the latest horizon to score today.",
    )
    train_cuts: int = Field(
        default=4,
        ge=1,
        le=24,
        description="Cut-offs (one horizon apart) stacked to train the model, when the history "
        "allows.",
    )
    eval_cuts: int = Field(
        default=3,
        ge=1,
        le=24,
        description="Test cut-offs of the rolling out-of-time evaluation (as history allows); "
        "their predictions are pooled.",
    )
    recent_weeks: int = Field(
        default=2, ge=1, le=12, description="Weeks of recent usage compared with the baseline."
    )
    recency_factor: float = Field(
        default=2.0,
        gt=1.0,
        description="Trigger when the time since the last activity exceeds the customer's usual "
        "interval times this factor.",
    )
    usage_drop: float = Field(
        default=0.5,
        gt=0.0,
        lt=1.0,
        description="Trigger when recent weekly usage is below (1 - usage_drop) x own baseline.",
    )
    p_alive_threshold: float = Field(
        default=0.5,
        gt=0.0,
        lt=1.0,
        description="Trigger when P(alive) from customer_value falls below this.",
    )
    social_days: int = Field(
        default=30, ge=1, description="Contacts who churned within this many days count as recent."
    )
    community_days: int = Field(
        default=60, ge=1, description="Window for community churn rate and churned leaders."
    )
    community_iterations: int = Field(
        default=1,
        ge=1,
        description="Leiden iterations for the communities at each cut-off (NetworKit; the graph "
        "stage uses graph.leiden_iterations): one takes a third of the time of three; the churn "
        "figures move by a few thousandths of AUC, both ways (docs/churn.md).",
    )
    exposure_days: float = Field(
        default=14.0,
        gt=0.0,
        le=365.0,
        description="Churn exposure: a contact's churn d days ago counts exp(-d / exposure_days) "
        "times the tie's pull s / (s + 1) (s: the tie's records over the average tie of recent "
        "churners); followers leave within weeks.",
    )
    spread_factor: float = Field(
        default=0.5,
        gt=0.0,
        lt=1.0,
        description="Spreading activation: share of its energy a node passes to its contacts.",
    )
    spread_iterations: int = Field(default=6, ge=1, le=50)
    max_iter: int = Field(default=100, ge=10, description="Boosting iterations.")
    learning_rate: float = Field(default=0.1, gt=0.0, le=1.0)
    calibration: Literal["isotonic", "sigmoid"] = Field(
        default="sigmoid",
        description="Probability calibration (scikit-learn): sigmoid keeps the "
        "booster's ranking; isotonic makes steps (ties) when churners are few.",
    )
    calibration_rows: Literal["auto", "folds", "held_out"] = Field(
        default="auto",
        description="Rows the calibration learns from: 'folds' fits three boosters, each "
        "calibrated on the third it did not see; 'held_out' one booster on four fifths, "
        "calibrated on the fifth held out (2.5x fewer rows boosted); 'auto' holds a fifth out "
        "when the training rows hold at least 10,000 churners.",
    )
    max_value_months: float = Field(
        default=36.0,
        gt=0.0,
        description="Without customer_value, value = monthly revenue x expected remaining months "
        "(1 / the plan's monthly churn rate), capped at this.",
    )
    priority_size: int = Field(
        default=10_000, ge=1, description="Rows in retention_priority (highest expected loss)."
    )
    threads: int = Field(
        default=1,
        ge=1,
        description="Threads for boosting. 1 is the safe default on a shared machine (OpenMP "
        "threads spin when the cores are busy).",
    )


class ConversationsConfig(_Strict):
    """What customers say (the conversations input): sentiment, links, the response queue."""

    channels: list[str] = Field(
        default_factory=lambda: ["social", "forum", "review", "support", "email", "chat"],
        description="The conversation channels accepted; another is quarantined (unknown_channel).",
    )
    default_language: str | None = Field(
        default="en",
        description="The language of texts without a language column. The sentiment model "
        "(VADER) covers English only: texts in another language get no sentiment (marked "
        "'not covered'). None: texts without a language get none either.",
    )
    negative_threshold: float = Field(
        default=-0.05,
        ge=-1.0,
        le=0.0,
        description="A conversation is negative when its sentiment is at most this (VADER's own "
        "cut-off for its compound score is -0.05).",
    )
    open_days: float = Field(
        default=14.0,
        gt=0,
        description="Unanswered conversations of the last this many days (before the newest) "
        "are open: the response queue ranks them.",
    )
    mention_weight: float = Field(
        default=0.5,
        ge=0.0,
        description="Weight of a mention as a link between speaker and mentioned party "
        "(0: mentions make no links).",
    )
    reply_weight: float = Field(
        default=1.0,
        ge=0.0,
        description="Weight of a reply as a link between speaker and the party replied to "
        "(0: replies make no links).",
    )
    queue_size: int = Field(default=200, ge=1, description="Rows of the response_queue table.")
    response_effect: float = Field(
        default=0.25,
        ge=0.0,
        le=1.0,
        description="An assumption: the share of the churn risk an answer removes. It turns "
        "value at stake into expected value protected in the response queue; measure the real "
        "effect with `tiewise campaign response` and `tiewise responses`.",
    )

    @field_validator("channels")
    @classmethod
    def _some_channel(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one channel")
        return [v.strip().lower() for v in value]


class ReportConfig(_Strict):
    """The HTML report."""

    path: str = "report.html"
    top_communities: int = Field(default=20, ge=1)
    top_customers: int = Field(default=10, ge=1)


class ServeConfig(_Strict):
    """The web explorer (`tiewise serve`): where it listens and what it draws."""

    host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="The address to listen on. Anything but a loopback address (127.0.0.1, "
        "::1, localhost) requires a token on every request.",
    )
    port: int = Field(default=8765, ge=1, le=65535, description="The port to listen on.")
    token_env: str = Field(
        default="TIEWISE_SERVE_TOKEN",
        min_length=1,
        description="An environment variable that, when set, holds the access token (then "
        "required even on localhost); otherwise a token is generated and printed when the "
        "explorer listens beyond localhost.",
    )
    network_contacts: int = Field(
        default=60,
        ge=1,
        le=500,
        description="A customer's network page draws at most this many of their strongest "
        "contacts (and the links among them).",
    )
    page_size: int = Field(default=50, ge=1, le=1000, description="Rows per page of lists.")


class Config(_Strict):
    """A whole tiewise configuration."""

    seed: int = 0
    workspace: str = "workspace"
    inputs: Inputs = Field(default_factory=Inputs)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    links: LinksConfig = Field(default_factory=LinksConfig)
    graph: GraphConfig = Field(default_factory=GraphConfig)
    influence: InfluenceConfig = Field(default_factory=InfluenceConfig)
    value: ValueConfig = Field(default_factory=ValueConfig)
    campaigns: CampaignsConfig = Field(default_factory=CampaignsConfig)
    churn: ChurnConfig = Field(default_factory=ChurnConfig)
    conversations: ConversationsConfig = Field(default_factory=ConversationsConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    base_dir: Path = Field(default=Path("."), exclude=True)

    def resolve(self, path: str | Path) -> Path:
        """Return ``path`` made absolute against the configuration file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    @property
    def workspace_path(self) -> Path:
        """The workspace folder."""
        return self.resolve(self.workspace)


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """Walk ``loc`` through nested models; return the model that owns the last key."""
    current: Any = model
    for part in loc[:-1]:
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            return None
        annotation = fields[part].annotation
        args = getattr(annotation, "__args__", ())
        candidates = [a for a in (annotation, *args) if isinstance(a, type)]
        current = next((c for c in candidates if issubclass(c, BaseModel)), None)
        if current is None:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _sections_with(key: str) -> list[str]:
    """The sections of the configuration that have ``key`` (e.g. ``half_life_days``: links)."""
    sections = {name: field.annotation for name, field in Config.model_fields.items()}
    return [
        name
        for name, section in sections.items()
        if isinstance(section, type)
        and issubclass(section, BaseModel)
        and key in section.model_fields
    ]


def _describe(error: Any, source: str) -> str:
    """Turn one pydantic error into a sentence naming the key and the allowed values."""
    loc = tuple(error["loc"])
    key = ".".join(str(p) for p in loc)
    if error["type"] == "extra_forbidden":
        owner = _model_at(Config, loc)
        allowed = ", ".join(k for k in owner.model_fields if k != "base_dir") if owner else "?"
        elsewhere = _sections_with(str(loc[-1])) if len(loc) == 2 else []
        hint = f" It is a key of [{'], ['.join(elsewhere)}]." if elsewhere else ""
        return f"{source}: unknown key '{key}'.{hint} Allowed keys here: {allowed}."
    value = error.get("input")
    shown = json.dumps(value, default=str) if not isinstance(value, dict) else "a table"
    return f"{source}: key '{key}' = {shown}: {error['msg']}."


def load_config(path: str | Path | None = None, **overrides: Any) -> Config:
    """Read and validate a configuration file.

    Parameters
    ----------
    path
        The TOML file. ``None`` gives the defaults (no inputs), relative to the current folder.
    **overrides
        Top-level keys that replace the file's (e.g. ``seed=7``).

    Returns
    -------
    Config
        The validated configuration, with ``base_dir`` set to the file's folder.

    Raises
    ------
    ConfigError
        The file is missing, is not valid TOML, or breaks the schema; the message names the key.

    Examples
    --------
    >>> cfg = load_config(None, seed=3)
    >>> cfg.seed, cfg.graph.resolution, cfg.privacy.pseudonymise
    (3, 2.0, True)
    """
    data: dict[str, Any] = {}
    source = "defaults"
    base = Path.cwd()
    if path is not None:
        file = Path(path)
        source = str(file)
        if not file.is_file():
            raise ConfigError(
                f"configuration file {file} does not exist. Create one with `tiewise init {file}`."
            )
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file}: not valid TOML ({exc}). Fix the line it names.") from None
        base = file.resolve().parent
    if "base_dir" in data:
        raise ConfigError(f"{source}: unknown key 'base_dir' (it is set from the file's location).")
    data.update(overrides)
    try:
        return Config(**data, base_dir=base)
    except ValidationError as exc:
        lines = [_describe(e, source) for e in exc.errors()]
        raise ConfigError("\n".join(lines)) from None


def config_hash(config: Config) -> str:
    """A short stable hash of the analysis settings (paths and seed included)."""
    payload = config.model_dump_json(exclude={"base_dir"})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def template(
    data: Path | None = None,
    *,
    config_dir: Path | None = None,
    detected: dict[str, list[InputSpec]] | None = None,
) -> str:
    """The commented configuration template that ``tiewise init`` writes.

    Parameters
    ----------
    data
        A folder of input files named like the generator's (``interactions.parquet``,
        ``customers.csv``, ...).  Inputs found there are enabled with their paths; the others are
        commented out.  Without it, ``interactions`` and ``customers`` are enabled under ``data/``.
    config_dir
        The folder the configuration will be written to, so paths can be made relative to it.
    detected
        Inputs read from the files themselves (``tiewise.ingest.detect``): each input's sources
        with their column mappings.  When given, exactly these inputs are enabled.
    """
    text = resources.files("tiewise").joinpath("config_template.toml").read_text(encoding="utf-8")
    out: list[str] = []
    block: list[str] | None = None
    name = ""
    for line in text.splitlines():
        if line.startswith("# >>> input "):
            name, block = line.removeprefix("# >>> input ").strip(), []
            continue
        if line.startswith("# <<<") and block is not None:
            if detected is not None:
                out.extend(_detected_block(name, block, detected.get(name, []), config_dir))
            else:
                out.extend(_input_block(name, block, data, config_dir))
            block = None
            continue
        (block if block is not None else out).append(line)
    return "\n".join(out) + "\n"


def _shown_path(path: str, config_dir: Path | None) -> str:
    base = (config_dir or Path.cwd()).resolve()
    found = Path(path).resolve()
    try:
        return found.relative_to(base).as_posix()
    except ValueError:
        return found.as_posix()


def _toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _detected_block(
    name: str, lines: list[str], specs: list[InputSpec], config_dir: Path | None
) -> list[str]:
    """One input's lines from the sources read in the files (commented out when none)."""
    if not specs:
        return [line if line.startswith("#") else f"# {line}" for line in lines]
    comments = [line for line in lines if line.startswith("# Columns")]
    many = len(specs) > 1
    out: list[str] = [*comments]
    for spec in specs:
        out.append(f"[[inputs.{name}]]" if many else f"[inputs.{name}]")
        out.append(f"path = {_toml_string(_shown_path(spec.path, config_dir))}")
        if spec.format != "auto":
            out.append(f'format = "{spec.format}"')
        if spec.timestamp_format != "auto":
            out.append(f"timestamp_format = {_toml_string(spec.timestamp_format)}")
        # In TOML, [inputs.NAME.columns] after [[inputs.NAME]] belongs to that last source.
        if spec.columns:
            out.append(f"[inputs.{name}.columns]")
            out.extend(f"{k} = {_toml_string(v)}" for k, v in spec.columns.items())
        if spec.constants:
            out.append(f"[inputs.{name}.constants]")
            out.extend(f"{k} = {_toml_string(v)}" for k, v in spec.constants.items())
        out.append("")
    return out


def _input_block(
    name: str, lines: list[str], data: Path | None, config_dir: Path | None
) -> list[str]:
    """One input's lines, enabled with the right path or commented out."""
    found: Path | None = None
    if data is not None:
        found = next(
            (
                data / f"{name}{ext}"
                for ext in (".parquet", ".csv", ".csv.gz")
                if (data / f"{name}{ext}").exists()
            ),
            None,
        )
        enabled = found is not None
    else:
        enabled = name in ("interactions", "customers")
    result = []
    for line in lines:
        if found is not None and line.startswith("path = "):
            line = f'path = "{_shown_path(str(found), config_dir)}"'
        result.append(line if enabled or line.startswith("#") else f"# {line}")
    return result
