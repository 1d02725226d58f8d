"""The conversations input: rules, quarantine, pseudonyms, speakers matched, sentiment."""

import textwrap
from pathlib import Path

import pytest

from tiewise.config import load_config
from tiewise.exceptions import InputError
from tiewise.ingest.load import IngestSummary, ingest
from tiewise.ingest.pseudonym import pseudonymise
from tiewise.store import Workspace

KEY = bytes(range(32))

CONFIG = """
[inputs.interactions]
path = "calls.csv"
[inputs.interactions.columns]
from_id = "caller"
to_id = "callee"
timestamp = "ts"
[inputs.customers]
path = "customers.csv"
[inputs.identities]
path = "identities.csv"
[inputs.identities.columns]
handle = "screen_name"
[inputs.conversations]
path = "posts.csv"
[inputs.conversations.columns]
speaker = "author"
timestamp = "posted"
channel = "source"
{extra}
[ingest]
max_bad_share = 0.5
{ingest}
"""

POSTS = """author,posted,source,text,sentiment,language,reply_to,mentions
@ann,2026-01-10T09:00:00,social,I love my new phone! Great service,,,,@bob
@ann,2026-01-11T09:00:00,social,Worst network ever. I am leaving,,,,
2,2026-01-12T09:00:00,review,meh,-0.8,,@ann,
@zed,2026-01-12T10:00:00,forum,This is terrible and useless,,,,@ann 2
3,2026-01-13T09:00:00,support,Le service est nul,,fr,,
3,2026-01-13T10:00:00,chat,,,,,
3,2026-01-13T11:00:00,carrier_pigeon,hello,,,,
2,2026-01-14T09:00:00,social,so so,1.7,,,
3,2026-01-15T09:00:00,social,hi,,,3,
3,2026-01-16T09:00:00,social,hello 9,,,,9
"""


def write(tmp_path: Path, posts: str = POSTS, extra: str = "", ingest_options: str = "") -> Path:
    (tmp_path / "calls.csv").write_text(
        "caller,callee,ts,channel\n1,2,2026-01-05T10:00:00,voice\n2,3,2026-01-05T11:00:00,sms\n"
        "3,9,2026-01-05T12:00:00,sms\n"
    )
    (tmp_path / "customers.csv").write_text("customer_id,on_network\n1,true\n2,true\n3,true\n")
    (tmp_path / "identities.csv").write_text("customer_id,screen_name\n1,@ann\n")
    (tmp_path / "posts.csv").write_text(posts)
    config = tmp_path / "tiewise.toml"
    config.write_text(textwrap.dedent(CONFIG.format(extra=extra, ingest=ingest_options)))
    return config


def run(config_path: Path, key: bytes | None = KEY) -> tuple[Workspace, IngestSummary]:
    config = load_config(config_path)
    ws = Workspace.open(config.workspace_path, create=True)
    with ws.run(command="test") as r:
        summary = ingest(r, config, key)
    return ws, summary


def p(raw: str) -> str:
    return pseudonymise(raw, KEY)


def test_speakers_are_matched_by_id_or_handle_and_the_rest_are_prospects(tmp_path: Path) -> None:
    ws, _ = run(write(tmp_path))
    with ws:
        rows = ws.con.execute(
            "SELECT speaker, customer_id, matched_by FROM conversations ORDER BY timestamp"
        ).fetchall()
        assert rows[0] == (p("@ann"), p("1"), "identities")
        assert rows[2] == (p("2"), p("2"), "customer_id")
        assert rows[3] == (p("@zed"), None, None)
        prospects = ws.con.execute(
            "SELECT speaker, messages FROM conversation_prospects"
        ).fetchall()
        assert prospects == [(p("@zed"), 1)]
        # reply-to and mentions are pseudonymised and mapped through the identities
        reply, mentions = ws.con.execute(
            "SELECT reply_to, mentions FROM conversations WHERE speaker = ?", [p("2")]
        ).fetchall()[0]
        assert reply == p("1") and mentions is None
        zed = ws.con.execute(
            "SELECT mentions FROM conversations WHERE speaker = ?", [p("@zed")]
        ).fetchall()[0][0]
        assert zed == [p("1"), p("2")]
        # no raw handle anywhere in the tables
        dump = str(ws.con.execute("SELECT * FROM conversations").fetchall())
        assert "@ann" not in dump and "@zed" not in dump


def test_sentiment_given_wins_vader_scores_english_and_other_languages_are_marked(
    tmp_path: Path,
) -> None:
    ws, summary = run(write(tmp_path))
    with ws:
        rows = ws.con.execute(
            "SELECT channel, sentiment, sentiment_source FROM conversations ORDER BY timestamp"
        ).fetchall()
    love, worst, given, terrible, french, empty = rows[:6]
    assert love[2] == "vader" and love[1] > 0.5
    assert worst[2] == "vader" and worst[1] < -0.05
    assert given[1:] == (-0.8, "given")  # "meh" would score otherwise; the user's value wins
    assert terrible[1] < -0.05
    assert french[1:] == (None, "not covered")  # never guessed
    assert empty[1:] == (None, "no text")
    lines = {(x.input, x.rule): x.rows for x in summary.lines}
    assert lines[("conversations", "language_not_covered")] == 1
    assert lines[("conversations", "prospect_speaker")] == 1


def test_bad_rows_are_quarantined_with_named_rules(tmp_path: Path) -> None:
    ws, summary = run(write(tmp_path))
    with ws:
        rejected = ws.con.execute(
            "SELECT rule, column_name, value FROM rejected_rows WHERE input = 'conversations' "
            "ORDER BY row"
        ).fetchall()
    assert rejected == [
        ("unknown_channel", "channel", "carrier_pigeon"),
        ("sentiment_out_of_range", "sentiment", "1.7"),
        ("self_reply", "reply_to", None),  # an identifier: never echoed
    ]
    assert summary.loaded["conversations"] == 7 and summary.rejected["conversations"] == 3


def test_strict_policy_names_file_row_and_column(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"posts.csv, data row 7, column source"):
        run(write(tmp_path, ingest_options='policy = "strict"'))


def test_the_pipeline_runs_without_conversations(tmp_path: Path) -> None:
    config = write(tmp_path)
    config.write_text(config.read_text().split("[inputs.identities]")[0])
    ws, _ = run(config)
    with ws:
        assert not {"conversations", "identities"} & {t.name for t in ws.tables()}


def test_without_customers_the_network_parties_are_the_customers(tmp_path: Path) -> None:
    config = write(tmp_path)
    config.write_text(config.read_text().replace('[inputs.customers]\npath = "customers.csv"', ""))
    ws, _ = run(config, key=None)
    with ws:
        rows = dict(
            ws.con.execute(
                "SELECT speaker, matched_by FROM conversations WHERE speaker IN ('2', '@zed')"
            ).fetchall()
        )
    assert rows == {"2": "network", "@zed": None}


def test_replies_and_mentions_become_links_with_their_own_weight(tmp_path: Path) -> None:
    from tiewise.links.strength import build_links

    def strengths(extra: str) -> dict[tuple[str, str], tuple[int, float]]:
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        folder.mkdir()
        config = load_config(write(folder, extra=extra))
        with Workspace.open(config.workspace_path, create=True) as ws, ws.run(command="t") as r:
            ingest(r, config, None)
            build_links(r, config)
            rows = r.con.execute("SELECT a, b, records, volume FROM links").fetchall()
        return {(a, b): (n, v) for a, b, n, v in rows}

    plain = strengths("")
    # 2 replied to @ann (customer 1), on top of their call; 3 mentioned 9 (a party of the calls)
    assert plain[("1", "2")][0] == 2 and plain[("3", "9")][0] == 2
    # @zed, a handle matched to no one, makes no links (it would be a second node of someone)
    assert not any("@zed" in pair for pair in plain)
    heavier = strengths("[conversations]\nmention_weight = 2.0")
    unmentioned = strengths("[conversations]\nmention_weight = 0.0")
    mention = plain[("3", "9")][1] - unmentioned[("3", "9")][1]
    assert heavier[("3", "9")][1] == pytest.approx(plain[("3", "9")][1] + 3 * mention)
    assert heavier[("1", "2")][1] == pytest.approx(plain[("1", "2")][1])  # a reply, not a mention
    none = strengths("[conversations]\nmention_weight = 0.0\nreply_weight = 0.0")
    assert none[("1", "2")][0] == 1 and none[("3", "9")][0] == 1


def test_a_repeated_text_gets_the_score_it_gets_alone() -> None:
    from tiewise.ingest.sentiment import SentimentScorer

    texts = ["Worst service ever!!", "love it", "Worst service ever!!", "meh", "love it"]
    scorer = SentimentScorer()
    assert scorer.score(texts) == [scorer.score([t])[0] for t in texts]
    assert scorer.score(texts)[0] < -0.5 < 0.5 < scorer.score(texts)[1]
