"""``make docs``: regenerate the generated pages, then check every link and every command.

* ``docs/tables.md`` is written again from the table registry (:mod:`tiewise.tables`), and
  ``docs/configuration.md`` from the configuration model (:class:`tiewise.config.Config`);
* every link in ``README.md`` and ``docs/*.md`` to a file of the repository must point at a file
  that exists, and every ``#anchor`` at a heading of that page (GitHub's anchors);
* every ``tiewise ...`` line of a shell example (a fenced ``sh``/``bash``/``console`` block) must
  parse: the command exists, its options exist and their values have the right type; and every
  command the text names in code (```tiewise NAME```) must exist (nothing is run);
* every Python session example (a fenced ``pycon`` block, ``>>>`` lines and their output) is
  run as a doctest, the blocks of one page in one namespace, and must print what it shows.

Usage::

    python docs/build.py            # regenerate, then check; exit 1 with a list of problems
    python docs/build.py --check    # fail also when a generated page is stale (CI)
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_BLOCKS = {"sh", "bash", "shell", "console"}
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def generated() -> dict[Path, str]:
    """Each generated page and the text it should hold."""
    from tiewise import tables

    return {tables.DOC: tables.markdown(), ROOT / "docs" / "configuration.md": configuration()}


SIGNS = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
_BOUND = re.compile(r"(\w+)=([^,)]+)")


def _type(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    text = text or str(annotation)
    return re.sub(r"\b(typing|tiewise\.config|pathlib|datetime)\.", "", text).replace(
        "NoneType", "None"
    )


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _section(name: str, model: Any, rows: list[str], sections: list[tuple[str, Any]]) -> None:
    from pydantic import BaseModel
    from pydantic_core import PydanticUndefined

    for key, field in model.model_fields.items():
        if field.exclude:
            continue
        annotation = field.annotation
        nested = [
            a for a in (annotation, *getattr(annotation, "__args__", ())) if isinstance(a, type)
        ]
        sub = next((a for a in nested if issubclass(a, BaseModel)), None)
        if sub is not None and field.default is PydanticUndefined:  # a table of its own
            sections.append((f"{name}.{key}" if name else key, sub))
            continue
        if field.default is not PydanticUndefined:
            default = f"`{field.default!r}`"
        elif field.default_factory is not None:
            default = f"`{field.default_factory()!r}`"  # type: ignore[call-arg]
        else:
            default = "required"
        limits = ", ".join(
            f"{SIGNS[k]} {v}"
            for m in field.metadata
            for k, v in _BOUND.findall(repr(m))
            if k in SIGNS
        )
        rows.append(
            f"| `{key}` | `{_cell(_type(annotation))}` | {_cell(default)} | {_cell(limits)} "
            f"| {_cell(field.description or '')} |"
        )


def configuration() -> str:
    """The configuration reference: every key of every section, from the model itself."""
    from tiewise.config import Config, InputSpec

    out = [
        "# Configuration reference",
        "",
        "Generated from the configuration model (`src/tiewise/config.py`) by `make docs`: edit",
        "that. `tiewise init` writes a commented configuration with the usual keys; a key that",
        "is not here is refused, with the allowed keys named.  Each input (`[inputs.<name>]`,",
        "one table or a list of them) takes the keys of `[inputs.<name>]` below; see",
        "[Inputs](inputs.md).",
        "",
    ]
    sections: list[tuple[str, Any]] = [("", Config), ("inputs.<name>", InputSpec)]
    while sections:
        name, model = sections.pop(0)
        rows: list[str] = []
        _section(name, model, rows, sections)
        if not rows:
            continue
        out += [f"## `[{name}]`" if name else "## Top level", ""]
        doc = (model.__doc__ or "").strip().split("\n\n")[0]
        if doc and model is not Config:
            out += [" ".join(doc.split()), ""]
        out += ["| key | type | default | limits | meaning |", "|---|---|---|---|---|", *rows, ""]
    return "\n".join(out).rstrip() + "\n"


def _outside_code(text: str) -> Iterator[tuple[int, str]]:
    fence = False
    for number, line in enumerate(text.split("\n"), 1):
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        if not fence:
            yield number, line


def anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings of a page."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in _outside_code(text):
        heading = re.match(r"^#{1,6} +(.*?) *#*$", line)
        if heading is None:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT)) if page.is_relative_to(ROOT) else str(page)


def check_links(pages: list[Path]) -> list[str]:
    """Links to files that do not exist, or to headings a page does not have."""
    problems = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for number, line in _outside_code(text):
            line = re.sub(r"`[^`]*`", "", line)  # code spans hold no links
            for match in _LINK.finditer(line):
                target = match.group(1) or match.group(2)
                if re.match(r"^[a-z]+:", target):  # http(s), mailto: not fetched (offline)
                    continue
                path, _, anchor = target.partition("#")
                file = (page.parent / path).resolve() if path else page
                where = f"{_name(page)}:{number}"
                if not file.exists():
                    problems.append(f"{where}: {target}: no such file")
                elif anchor and file.suffix == ".md" and anchor not in anchors(file.read_text()):
                    problems.append(f"{where}: {target}: no heading #{anchor} there")
    return problems


def shell_commands(text: str) -> Iterator[tuple[int, str]]:
    """The ``tiewise ...`` lines of a page's shell examples, with their line numbers."""
    language = None
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        fence = re.match(r"^\s*```(\w*)", line)
        if fence:
            language = None if language is not None else fence.group(1) or ""
            continue
        if language in SHELL_BLOCKS:
            command = line.strip().removeprefix("$ ")
            if not command.startswith("tiewise "):
                continue
            following = number
            while command.endswith("\\") and following < len(lines):  # continued lines
                command = command[:-1] + " " + lines[following].strip()
                following += 1
            yield number, command


def check_command(group: Any, command: str) -> str | None:
    """Why ``command`` would not parse, or None.

    ``group`` is the Click group Typer builds (Typer carries its own Click, so the classes are
    recognised by what they have, not by their type).
    """
    try:
        args = shlex.split(command, comments=True)[1:]
    except ValueError as exc:
        return f"cannot split: {exc}"
    cmd = group
    path = ["tiewise"]
    while hasattr(cmd, "commands"):
        while args and args[0] in ("--debug",):
            args.pop(0)
        if not args or args[0] in ("--help", "--version"):
            return None
        name = args.pop(0)
        sub = cmd.commands.get(name)
        if sub is None:
            return f"no command {' '.join(path)} {name}"
        cmd, path = sub, [*path, name]
    try:
        cmd.make_context(" ".join(path), args)
    except Exception as exc:  # Click's usage errors, or Exit for --help / --version
        if type(exc).__name__ == "Exit":
            return None
        if hasattr(exc, "format_message"):
            return str(exc.format_message())
        raise
    return None


_MENTION = re.compile(r"`tiewise ([a-z][a-z-]*)(?: ([a-z][a-z0-9-]*))?")


def check_commands(pages: list[Path]) -> list[str]:
    """What the command line would refuse of what the pages show.

    Every ``tiewise`` line of a shell example must parse, and every command the text names
    (```tiewise NAME ...```) must exist.
    """
    from typer.main import get_command

    from tiewise.cli import app

    group = get_command(app)
    problems = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for number, command in shell_commands(text):
            why = check_command(group, command)
            if why is not None:
                problems.append(f"{_name(page)}:{number}: `{command}`: {why}")
        for number, line in _outside_code(text):
            for name, sub in _MENTION.findall(line):
                command = group.commands.get(name)
                if command is None:
                    problems.append(f"{_name(page)}:{number}: `tiewise {name}`: no such command")
                elif hasattr(command, "commands") and sub and sub not in command.commands:
                    problems.append(
                        f"{_name(page)}:{number}: `tiewise {name} {sub}`: no such command"
                    )
    return problems


def python_blocks(text: str) -> Iterator[tuple[int, str]]:
    """The ``pycon`` blocks of a page, each with the line number of its first line."""
    block: list[str] | None = None
    start = 0
    for number, line in enumerate(text.split("\n"), 1):
        fence = re.match(r"^\s*```(\w*)", line)
        if fence and block is None and fence.group(1) == "pycon":
            block, start = [], number + 1
        elif fence and block is not None:
            yield start, "\n".join(block) + "\n"
            block = None
        elif block is not None:
            block.append(line)


def check_python(pages: list[Path]) -> list[str]:
    """The Python session examples whose output differs from what the page shows."""
    import doctest

    problems = []
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    for page in pages:
        namespace: dict[str, Any] = {}
        for start, source in python_blocks(page.read_text(encoding="utf-8")):
            name = f"{_name(page)}:{start}"
            test = doctest.DocTestParser().get_doctest(
                source, namespace, name, str(page), start - 1
            )
            runner = doctest.DocTestRunner(optionflags=flags)
            out: list[str] = []
            runner.run(test, out=out.append, clear_globs=False)
            namespace = test.globs
            if runner.failures:
                problems.append(f"{name}: the example's output differs:\n{''.join(out)}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Regenerate (or with ``--check`` compare), then check links, commands and examples."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="Do not write; fail when stale.")
    args = parser.parse_args(argv)
    problems = []
    for path, text in generated().items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        if args.check:
            problems.append(f"{path.relative_to(ROOT)} is stale: run `make docs`")
        else:
            path.write_text(text, encoding="utf-8")
            print(f"Wrote {path.relative_to(ROOT)}")
    problems += check_links(PAGES)
    problems += check_commands(PAGES)
    problems += check_python(PAGES)
    for problem in problems:
        print(problem, file=sys.stderr)
    commands = sum(len(list(shell_commands(p.read_text(encoding="utf-8")))) for p in PAGES)
    print(f"{len(PAGES)} pages, {commands} example commands: {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
