"""The ``width-limit`` bench suite in quick mode: files, figures, and numbers that must make sense."""

from __future__ import annotations

import json
import math

import pytest

from kernelreg import bench


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("width_limit")
    return out, bench.run_suite("width-limit", out, quick=True, progress=False)


def test_quick_run_writes_report_tables_and_figures(quick):
    out, summary = quick
    assert not summary.failed and summary.time_s < 60  # about 2-5 s on a quiet 2-core machine
    report = summary.report_path.read_text()
    for heading in ("## Width at which the min-norm fit is within 1%", "## Gram matrix", "## Spectrum of K∞"):
        assert heading in report
    names = sorted(p.name for p in summary.figures)
    assert names == ["eigen_decay.png", "width_convergence.png"]
    for fig in summary.figures:
        assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    payload = json.loads((out / "width-limit" / "results.json").read_text())
    assert {r["table"] for r in payload["rows"]} == {"convergence", "width", "spectrum"}


def test_quick_numbers_make_sense(quick):
    _, summary = quick
    conv = [r for r in summary.rows if r["table"] == "convergence"]
    for act in {r["key"] for r in conv}:
        rows = sorted((r for r in conv if r["key"] == act), key=lambda r: r["n"])
        assert rows[-1]["kernel_rel_error"] < rows[0]["kernel_rel_error"] / 2  # 1/√n would give / 10
        assert rows[-1]["rel_error"] < rows[0]["rel_error"]
        assert all(math.isfinite(r["rel_error"]) for r in rows)
    relu = next(r for r in summary.rows if r["table"] == "spectrum" and r["key"] == "relu")
    assert relu["slope_predicted"] == pytest.approx(-2.5, abs=0.01)  # 1/(ω P(ω)) = ω^-5 with ω ∝ √j
    assert -5.0 < relu["slope_measured"] < -2.0  # a coarse 14² grid: pre-asymptotic, steeper than −2.5
    assert relu["kernel_error_estimate"] < 1e-9
