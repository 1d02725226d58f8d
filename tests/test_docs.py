"""The documentation: every link resolves and every ``tiewise`` example parses (``make docs``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from typer.main import get_command

from tiewise.cli import app

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_build", ROOT / "docs" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_link_and_example_command_of_the_docs_works(build: ModuleType) -> None:
    assert len(build.PAGES) >= 10
    assert build.check_links(build.PAGES) == []
    assert build.check_commands(build.PAGES) == []
    assert sum(len(list(build.shell_commands(p.read_text()))) for p in build.PAGES) >= 10


def test_generated_pages_are_up_to_date(build: ModuleType) -> None:
    for path, text in build.generated().items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name} is stale: run `make docs`"


def test_the_readme_stays_short_and_points_at_every_page(build: ModuleType) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 300
    for page in (ROOT / "docs").glob("*.md"):
        assert f"(docs/{page.name})" in readme, page.name


@pytest.mark.parametrize(
    ("command", "why"),
    [
        ("tiewise runn", "no command tiewise runn"),
        ("tiewise synth telcoo --out d", "no command tiewise synth telcoo"),
        ("tiewise run --sed 3", "No such option"),
        ("tiewise seeds --k many", "valid integer"),
        ("tiewise seeds --k 0", "greater than or equal to 1"),
        ("tiewise export customer_scores", "Missing argument"),
        ("tiewise export customer_scores out.csv --format csv  # a comment", None),
        ("tiewise --debug synth telco --customers 500 --out data", None),
        ("tiewise run --help", None),
    ],
)
def test_an_example_command_is_checked_against_the_parsers(
    build: ModuleType, command: str, why: str | None
) -> None:
    found = build.check_command(get_command(app), command)
    if why is None:
        assert found is None
    else:
        assert found is not None and why in found


def test_a_broken_link_or_anchor_is_found(build: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## A section\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n[ok](other.md#a-section) [gone](missing.md) [bad](other.md#nope) "
        "[here](#page) `[not a link](nowhere.md)`\n\n```sh\n[not a link](x.md)\n```\n"
    )
    problems = build.check_links([page])
    assert len(problems) == 2
    assert "missing.md: no such file" in problems[0]
    assert "no heading #nope" in problems[1]


def test_a_command_named_in_the_text_must_exist(build: ModuleType, tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("Run `tiewise run`, then `tiewise rerun`; `tiewise synth telcoo --out d`.\n")
    problems = build.check_commands([page])
    assert [p.split(": ", 1)[1] for p in problems] == [
        "`tiewise rerun`: no such command",
        "`tiewise synth telcoo`: no such command",
    ]


def test_the_python_examples_of_the_docs_print_what_they_show(build: ModuleType) -> None:
    blocks = [b for p in build.PAGES for b in build.python_blocks(p.read_text(encoding="utf-8"))]
    assert len(blocks) >= 2
    assert build.check_python(build.PAGES) == []


def test_a_python_example_with_other_output_is_found(build: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "page.md").write_text("```pycon\n>>> x = 2\n>>> x + 1\n4\n\n```\n")
    [problem] = build.check_python([tmp_path / "page.md"])
    assert "page.md:2" in problem and "Expected:" in problem


def test_the_benchmarks_page_lists_every_benchmark_with_its_command() -> None:
    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        assert f"[{script.name}](../benchmarks/{script.name})" in page, script.name
        assert f"`python benchmarks/{script.name}" in page, script.name
