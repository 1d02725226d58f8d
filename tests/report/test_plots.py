"""The report's plots draw data labels as typed: escaped in the SVG, never parsed as math."""

from __future__ import annotations

import numpy as np

from tiewise.report.plots import community_sizes_svg, degree_ccdf_svg, spread_svg, uplift_svg


def test_labels_are_escaped_and_not_mathtext() -> None:
    label = r"$\frac{$ <img src=x onerror=alert(1)>"
    svg = spread_svg({label: (np.arange(1.0, 4.0), np.arange(1.0, 4.0))})
    assert "<img" not in svg and "&lt;img src=x onerror=alert(1)&gt;" in svg
    assert r"$\frac{$" in svg  # shown as typed (mathtext would fail on it)
    rows = [
        {"campaign": label, "targets": 10, "target_rate": 0.2, "controls": 5, "control_rate": 0.1}
    ]
    assert "<img" not in uplift_svg(rows)


def test_log_axes_show_plain_numbers_not_tex_source() -> None:
    sizes = np.array([1, 1, 2, 3, 5, 8, 40, 300])
    for svg in (community_sizes_svg(sizes), degree_ccdf_svg(sizes)):
        assert "mathdefault" not in svg and "$" not in svg
