"""The explorer's front-end files: vendored, intact, self-contained, and never writing HTML."""

from __future__ import annotations

import hashlib
import re
from importlib import resources

STATIC = resources.files("tiewise.serve").joinpath("static")
TEMPLATES = resources.files("tiewise.serve").joinpath("templates")


def test_vendored_cytoscape_is_intact_with_its_licence() -> None:
    vendor = STATIC.joinpath("vendor")
    sums = vendor.joinpath("SHA256SUMS").read_text(encoding="utf-8").split("\n")
    checked = 0
    for line in filter(None, sums):
        digest, name = line.split()
        assert hashlib.sha256(vendor.joinpath(name).read_bytes()).hexdigest() == digest, name
        checked += 1
    assert checked == 2
    assert "Permission is hereby granted" in vendor.joinpath("cytoscape.LICENSE").read_text()
    assert vendor.joinpath("VERSION").read_text().startswith("cytoscape 3.")


def test_pages_fetch_nothing_from_elsewhere() -> None:
    for template in TEMPLATES.iterdir():
        text = template.read_text(encoding="utf-8")
        for url in re.findall(r'(?:src|href|action)="([^"]*)"', text):
            assert url.startswith(("/", "#", "{{")), (template.name, url)
        assert "<script>" not in text, template.name  # no inline script
        assert not re.search(r"<[^>]*\son[a-z]+\s*=", text), template.name  # no onclick=...
        assert "style=" not in text, template.name  # no inline style (the CSP forbids it)


def test_our_scripts_never_write_markup() -> None:
    for name in ("network.js",):
        code = STATIC.joinpath(name).read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in code, (name, sink)
        assert "textContent" in code
