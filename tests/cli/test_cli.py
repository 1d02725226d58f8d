from pathlib import Path

import pytest

from tiewise.exceptions import AnalysisError


def test_run_tables_export_and_runs(project: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    result = cli("run")
    assert result.code == 0, result.err
    assert "Run 1 complete" in result.out and "Top 10 customers" in result.out
    assert "leader in community" in result.out
    assert "4479" not in result.out + result.err  # raw phone numbers never printed
    assert (project / "report.html").is_file()

    tables = cli("tables")
    assert tables.code == 0
    for name in ("link_state", "links", "customer_scores", "communities", "ingest_report"):
        assert name in tables.out

    exported = cli("export", "customer_scores", "out/scores.csv")
    assert exported.code == 0
    header = (project / "out" / "scores.csv").read_text().splitlines()[0]
    assert header.startswith("customer_id,on_network,is_service,community")

    assert cli("export", "customer_scores", "x.json", "--format", "json").code == 2
    assert cli("export", "no_such_table", "x.csv").code == 2
    runs = cli("runs")
    assert runs.code == 0 and "ok" in runs.out
    # and where the run spent its time, step by step
    assert "spent its time" in runs.out and "cores busy" in runs.out
    for step in ("Loading and validating inputs", "Finding communities", "Writing the report"):
        assert step in runs.out


def test_bad_config_exits_2_without_traceback(
    project: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    (project / "bad.toml").write_text("[graph]\nresolution = 'x'\n")
    result = cli("run", "--config", "bad.toml")
    assert result.code == 2
    assert "graph.resolution" in result.err and "Traceback" not in result.err


def test_bad_input_exits_2_and_names_file_and_column(
    project: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    text = (project / "tiewise.toml").read_text().replace('to_id = "callee"', 'to_id = "callee_no"')
    (project / "tiewise.toml").write_text(text)
    result = cli("run")
    assert result.code == 2
    assert "calls.csv" in result.err and "callee_no" in result.err
    assert "inputs.interactions.columns.to_id" in result.err.replace("\n", "")
    assert "Traceback" not in result.err


def test_usage_errors_exit_2(cli) -> None:
    assert cli("no-such-command").code == 2
    assert cli("run", "--seed", "abc").code == 2
    assert cli("--help").code == 0


def test_analysis_failure_exits_1_and_keeps_previous_results(
    project: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    assert cli("run").code == 0

    def fail(*args: object, **kwargs: object) -> None:
        raise AnalysisError("the network has no links left after filtering")

    monkeypatch.setattr("tiewise.pipeline.analyse_network", fail)
    result = cli("run")
    assert result.code == 1
    assert "no links left" in result.err and "Traceback" not in result.err
    tables = cli("tables")
    assert "Run 2" in tables.err and "failed" in tables.err and "results of run 1" in tables.err
    assert "customer_scores" in tables.out


def test_internal_errors_say_so_and_debug_shows_the_traceback(
    project: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)

    def bug(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("tiewise.pipeline.build_links", bug)
    plain = cli("run")
    assert plain.code == 1 and "Internal error" in plain.err and "Traceback" not in plain.err
    debug = cli("--debug", "run")
    assert debug.code == 1 and "Traceback" in debug.err


def test_init_writes_a_template_and_refuses_to_overwrite(tmp_path: Path, cli) -> None:
    path = tmp_path / "t.toml"
    assert cli("init", str(path)).code == 0
    assert "[inputs.interactions]" in path.read_text()
    again = cli("init", str(path))
    assert again.code == 2 and "--force" in again.err


@pytest.mark.slow
def test_demo_runs_the_pipeline_and_builds_the_campaign_lists(tmp_path: Path, cli) -> None:
    result = cli("demo", "--dir", str(tmp_path / "demo"), "--customers", "2000")
    assert result.code == 0, result.err
    assert "acquisition: " in result.out and "Report with the campaigns" in result.out
    html = (tmp_path / "demo" / "report.html").read_text()
    assert '<h2 id="campaigns">Campaigns</h2>' in html
