"""``tiewise completion SHELL`` prints a script; the shell's calls back get commands and options."""

from __future__ import annotations

import pytest


def test_bash_script_calls_tiewise_back(cli) -> None:
    result = cli("completion", "bash")
    assert result.code == 0
    assert "_TIEWISE_COMPLETE=complete_bash" in result.out
    assert "complete -o default -F _tiewise_completion tiewise" in result.out


def test_unknown_shell_is_a_usage_error(cli) -> None:
    result = cli("completion", "tcsh")
    assert result.code == 2
    assert "tcsh" in result.err


@pytest.mark.parametrize(
    ("words", "expected", "absent"),
    [
        ("tiewise ru", {"run", "runs"}, "report"),
        ("tiewise export --", {"--format", "--include-control", "--workspace"}, "--seed"),
        ("tiewise synth ", {"telco", "b2b"}, "run"),
        ("tiewise campaign re", {"referral", "retention"}, "vip"),
    ],
)
def test_bash_completes_commands_and_options(
    words: str, expected: set[str], absent: str, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("_TIEWISE_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", words)
    monkeypatch.setenv("COMP_CWORD", str(len(words.split(" ")) - 1))
    result = cli()
    offered = set(result.out.split())
    assert result.code == 0
    assert expected <= offered
    assert absent not in offered


def test_the_kinds_completed_are_the_campaign_stages() -> None:
    from tiewise.campaigns import KINDS
    from tiewise.cli.campaigns import KINDS as COMPLETED

    assert tuple(KINDS) == COMPLETED
