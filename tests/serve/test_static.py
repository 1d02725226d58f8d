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


def test_drawings_and_legends_name_the_graph_stages_roles() -> None:
    """Each business role the graph stage writes has a colour, a legend entry and a tag style.

    The roles were renamed once ("leader" became "hub", leader now means top of a community):
    a colour keyed by a name the stage no longer writes draws every such node grey.
    """
    from tiewise.graph.roles import BUSINESS_ROLES

    roles = set(BUSINESS_ROLES.values())
    code = STATIC.joinpath("network.js").read_text(encoding="utf-8")
    found = re.search(r"const colours = \{([^}]*)\}", code)
    assert found is not None
    assert set(re.findall(r"([a-z-]+):", found.group(1))) == roles
    css = STATIC.joinpath("explorer.css").read_text(encoding="utf-8")
    for role in roles:
        assert f".role-{role} {{" in css, role  # the customer page's tag
        assert f".dot.{role} {{" in css, role
    for page in ("network.html.j2", "community.html.j2"):
        text = TEMPLATES.joinpath(page).read_text(encoding="utf-8")
        legend = set(re.findall(r'<span class="dot ([a-z-]+)"></span>', text))
        assert roles <= legend, (page, roles - legend)
        assert legend - roles <= {"leader", "offnet", "service"}, page
