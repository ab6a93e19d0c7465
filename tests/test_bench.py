"""Benchmark suites in quick mode, the runner's resume / interrupt / failure handling, atomic files and the CLI."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import kernelreg
from kernelreg import bench
from kernelreg.bench import _runner
from kernelreg.cli import main

#: Columns of each suite's rows that must be finite numbers in quick mode (row filter, columns).
FINITE = {
    "solver-speed": (lambda r: r["method"] in ("exact", "cg"), ["time_s", "ratio_to_exact", "rel_coef_diff", "mse"]),
    "gd-vs-convex": (lambda r: True, ["rel_error_all_mean", "mse_median", "n_iter_median", "norm_ratio_all_mean"]),
    "spectral-targets": (lambda r: r["meets_eps"], ["train_mse", "test_mse", "grid_mse", "paper_test_mse"]),
    "spectral-theory": (lambda r: r["table"] == "toy", ["value"]),
    "compositional": (lambda r: r["table"] == "protocol", ["min", "mean", "median"]),
    "iat-bases": (lambda r: r["kind"] != "fig3", ["value", "best", "ms_per_net_epoch"]),
    "rowdy": (lambda r: r["table"] == "regression", ["final_loss", "test_mse", "normalised_time"]),
    "warmup-freeze": (lambda r: True, ["adaptive_test_acc_mean", "kernel_sgd_test_acc_mean", "warmup_ls_test_acc_mean",
                                       "init_ls_test_acc_mean", "auc_final_mean", "w2_first_epoch_mean",
                                       "nearest_first_epoch_mean", "delta_median_final_mean"]),
    "width-limit": (lambda r: r["table"] == "convergence", ["kernel_rel_error", "rel_error", "norm"]),
}


def test_registry_lists_every_suite_and_rejects_unknown_names():
    assert bench.available() == ["solver-speed", "gd-vs-convex", "spectral-targets", "spectral-theory",
                                 "compositional", "iat-bases", "rowdy", "warmup-freeze", "width-limit"]
    assert set(FINITE) == set(bench.available())
    with pytest.raises(ValueError, match="unknown benchmark suite 'rowdi'.*solver-speed.*warmup-freeze.*Did you mean"):
        bench.get_suite("rowdi")


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory):
    """Every suite once in quick mode (shared by the structure tests below)."""
    out = tmp_path_factory.mktemp("bench")
    return out, {name: bench.run_suite(name, out, quick=True, progress=False) for name in bench.available()}


@pytest.mark.parametrize("name", list(FINITE))
def test_quick_run_writes_a_complete_report_with_finite_numbers(quick_runs, name):
    out, runs = quick_runs
    summary = runs[name]
    suite_dir = out / name
    assert summary.out_dir == suite_dir and not summary.failed
    for fname in ("results.json", "results.csv", "report.md"):
        assert (suite_dir / fname).is_file(), fname
    suite = bench.get_suite(name)
    n_cells = len(list((suite_dir / "cells").glob("*.json")))
    assert n_cells == len(summary.cells) == len(summary.computed) > 0
    payload = json.loads((suite_dir / "results.json").read_text())
    assert payload["suite"] == name and payload["quick"] is True
    assert payload["environment"]["versions"]["torch"] and payload["environment"]["machine"]["cpu_count"]
    assert payload["rows"] == json.loads(json.dumps(payload["rows"]))  # strict JSON (no NaN literals)
    report = (suite_dir / "report.md").read_text()
    for heading in (f"# {suite.title}", "Command: `kernelreg bench run", "## Settings", "## Machine and versions",
                    "## Figures", "| "):
        assert heading in report, heading
    keep, columns = FINITE[name]
    rows = [r for r in summary.rows if keep(r)]
    assert rows
    for row in rows:
        for col in columns:
            assert isinstance(row[col], (int, float)) and math.isfinite(row[col]), (name, col, row[col])
    header = (suite_dir / "results.csv").read_text().splitlines()[0].split(",")
    assert set(columns) <= set(header)
    assert summary.figures, "matplotlib is installed in the dev extra: figures are expected"
    for fig in summary.figures:
        assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"figures/{fig.name}" in report


def test_quick_results_make_sense(quick_runs):
    _, runs = quick_runs
    comp = [r for r in runs["compositional"].rows if r["table"] == "regions"]
    enforced = next(r for r in comp if r["method"] == "enforced")
    assert enforced["regions_init"] == 2**5  # the compositional construction: 2^depth pieces at init
    gd = [r for r in runs["gd-vs-convex"].rows if r["method"] == "cg"]
    assert all(r["rel_error_all_mean"] < 0.05 for r in gd)  # CG from zero tends to the min-norm fit
    adam = [r for r in runs["gd-vs-convex"].rows if r["method"] == "adam"]
    assert all(r["reached_target"] == r["n_reps"] for r in adam)  # the quick problems reach 5e-8 in the budget
    assert all(math.isfinite(r["rel_error_mean"]) and math.isfinite(r["time_ratio_vs_cvxpy"]) for r in adam)
    for cell in runs["warmup-freeze"].cells:  # Exp. 4 trains the output layer only: the zero-planes stay put
        assert cell.result["kernel_sgd"]["zero_plane_motion"] == 0.0
    speed = {r["method"]: r for r in runs["solver-speed"].rows}
    assert speed["exact"]["ratio_to_exact"] == pytest.approx(1.0)
    assert speed["cvxpy clarabel qr"]["rel_coef_diff"] < 1e-3  # CVXPY agrees with the exact solver


def test_resume_recomputes_only_the_missing_cell(tmp_path, monkeypatch):
    first = bench.run_suite("spectral-targets", tmp_path, quick=True, progress=False)
    cells = sorted((tmp_path / "spectral-targets" / "cells").glob("*.json"))
    victim = cells[3]
    untouched = cells[0].read_bytes()
    victim.unlink()
    calls = []
    original = bench.SUITES["spectral-targets"].run_cell

    def counting(self, cell, ctx):
        calls.append(cell.key)
        return original(self, cell, ctx)

    monkeypatch.setattr(bench.SUITES["spectral-targets"], "run_cell", counting)
    second = bench.run_suite("spectral-targets", tmp_path, quick=True, progress=False)
    assert calls == [victim.stem] and second.computed == [victim.stem]
    assert len(second.reused) == len(first.computed) - 1
    assert victim.is_file() and cells[0].read_bytes() == untouched
    assert [r["test_mse"] for r in second.rows] == pytest.approx([r["test_mse"] for r in first.rows], nan_ok=True)
    # other settings (another seed) must not reuse the cells
    third = bench.run_suite("spectral-targets", tmp_path, quick=True, seed=1, progress=False)
    assert not third.reused and len(third.computed) == len(first.computed)


def _numbers(summary) -> list[tuple[str, dict]]:
    """Each cell's result without its wall times (the only entries that differ between two runs)."""
    return [(c.key, {k: v for k, v in c.result.items() if k != "time_s"}) for c in summary.cells]


def test_interrupted_cell_is_not_saved_and_resuming_equals_a_clean_run(tmp_path, monkeypatch):
    cls = bench.SUITES["spectral-targets"]
    original = cls.run_cell
    seen = []

    def interrupting(self, cell, ctx):
        seen.append(cell.key)
        if len(seen) == 2:
            original(self, cell, ctx)  # the cell's work is done, but Ctrl-C lands before it returns
            raise KeyboardInterrupt
        return original(self, cell, ctx)

    monkeypatch.setattr(cls, "run_cell", interrupting)
    with pytest.raises(KeyboardInterrupt) as interrupt:
        bench.run_suite("spectral-targets", tmp_path / "resumed", quick=True, progress=False, log=lambda m: None)
    assert str(interrupt.value).startswith(f"spectral-targets interrupted during cell '{seen[1]}': 1 of 15 cells")
    cell_dir = tmp_path / "resumed" / "spectral-targets" / "cells"
    assert sorted(os.listdir(cell_dir)) == [f"{seen[0]}.json"]  # the 2nd cell is not saved, no temp file is left
    monkeypatch.setattr(cls, "run_cell", original)
    resumed = bench.run_suite("spectral-targets", tmp_path / "resumed", quick=True, progress=False)
    assert resumed.reused == [seen[0]] and len(resumed.computed) == len(resumed.cells) - 1 and not resumed.failed
    clean = bench.run_suite("spectral-targets", tmp_path / "clean", quick=True, progress=False)
    # the same computations in the same process: the resumed run reproduces the clean one exactly
    assert _numbers(resumed) == _numbers(clean)
    assert [r["test_mse"] for r in resumed.rows] == [r["test_mse"] for r in clean.rows]


def test_a_ctrl_c_caught_inside_a_cell_still_stops_the_run_unsaved(tmp_path, monkeypatch):
    cls = bench.SUITES["spectral-targets"]
    original = cls.run_cell

    def swallowing(self, cell, ctx):
        result = original(self, cell, ctx)
        try:  # a real SIGINT, handled the way the old training loop did: caught and turned into a return
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt:
            result["stop_reason"] = "interrupted"
        return result

    monkeypatch.setattr(cls, "run_cell", swallowing)
    with pytest.raises(KeyboardInterrupt, match="interrupted during cell 'sparse_fourier_step'"):
        bench.run_suite("spectral-targets", tmp_path, quick=True, progress=False, log=lambda m: None)
    assert os.listdir(tmp_path / "spectral-targets" / "cells") == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the runner put the handler back


def test_real_sigint_to_the_cli_exits_130_with_one_line_and_saves_only_finished_cells(tmp_path):
    cell_dir = tmp_path / "compositional" / "cells"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(kernelreg.__file__).parents[1]),
                                                       os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, "-m", "kernelreg.cli", "bench", "run", "compositional", "--quick", "--no-progress",
               "--out", str(tmp_path)]
    inherited = signal.getsignal(signal.SIGINT)
    if inherited is signal.SIG_IGN:  # a background job ignores SIGINT, and the child would inherit that
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    finally:
        signal.signal(signal.SIGINT, inherited)
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and not list(cell_dir.glob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)  # the first cell is saved; the second is running
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("kernelreg bench run: compositional interrupted during cell")
    assert "rerun the same command to resume" in lines[0]
    saved = sorted(os.listdir(cell_dir))
    assert 1 <= len(saved) < 9 and all(name.endswith(".json") for name in saved)  # no temp files
    for name in saved:
        assert "result" in json.loads((cell_dir / name).read_text())
    assert not (tmp_path / "compositional" / "results.json").exists()


def test_a_failing_cell_is_reported_and_retried(tmp_path, monkeypatch):
    cls = bench.SUITES["spectral-targets"]
    original = cls.run_cell

    def failing(self, cell, ctx):
        if cell.key == "hole_relu":
            raise RuntimeError("boom in this cell")
        return original(self, cell, ctx)

    monkeypatch.setattr(cls, "run_cell", failing)
    summary = bench.run_suite("spectral-targets", tmp_path, quick=True, progress=False, log=lambda m: None)
    assert summary.failed == {"hole_relu": "RuntimeError: boom in this cell"}
    assert not (tmp_path / "spectral-targets" / "cells" / "hole_relu.json").exists()
    assert "boom in this cell" in summary.report_path.read_text()
    monkeypatch.setattr(cls, "run_cell", original)
    again = bench.run_suite("spectral-targets", tmp_path, quick=True, progress=False)
    assert again.computed == ["hole_relu"] and not again.failed


def test_atomic_write_leaves_the_old_file_when_the_rename_fails(tmp_path, monkeypatch):
    target = tmp_path / "report.md"
    _runner.atomic_write_text(target, "old content")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(_runner.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        _runner.atomic_write_text(target, "new content")
    with pytest.raises(OSError, match="disk full"):
        _runner.atomic_write_json(tmp_path / "fresh.json", {"a": 1})
    assert target.read_text() == "old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]  # no temp files, no half file


def test_atomic_json_converts_numpy_and_strict_mode_drops_nan(tmp_path):
    import numpy as np

    path = _runner.atomic_write_json(tmp_path / "x.json", {"a": np.float64(1.5), "b": np.arange(3), "c": math.nan},
                                     strict=True)
    assert json.loads(path.read_text()) == {"a": 1.5, "b": [0, 1, 2], "c": None}
    assert _runner.fmt(math.nan) == "—" and _runner.fmt(None) == "—" and _runner.fmt(0.000123456) == "0.000123"


def test_missing_matplotlib_skips_figures_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    summary = bench.run_suite("spectral-targets", tmp_path, quick=True, progress=False)
    assert summary.figures == [] and "matplotlib is not installed" in summary.figures_note
    assert "pip install 'kernelreg[plots]'" in summary.report_path.read_text()
    assert (tmp_path / "spectral-targets" / "results.json").is_file()


def test_cli_bench_list_run_and_unknown_suite(tmp_path, capsys):
    assert main(["bench", "list"]) == 0
    listed = capsys.readouterr().out
    for name in bench.available():
        assert name in listed
    assert main(["bench", "run", "no-such-suite", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown benchmark suite 'no-such-suite'" in err and "gd-vs-convex" in err
    assert main(["bench", "run", "spectral-targets", "--quick", "--out", str(tmp_path), "--no-progress"]) == 0
    assert (tmp_path / "spectral-targets" / "report.md").is_file()
    assert "report:" in capsys.readouterr().out


@pytest.mark.parametrize("module", ["kernelreg.bench", "kernelreg.bench._runner", "kernelreg.bench.solver_speed",
                                    "kernelreg.bench.gd_vs_convex", "kernelreg.bench.spectral_targets",
                                    "kernelreg.bench.spectral_theory", "kernelreg.bench._stacked_adam",
                                    "kernelreg.bench.compositional", "kernelreg.bench.iat_bases",
                                    "kernelreg.bench.rowdy", "kernelreg.bench.warmup_freeze",
                                    "kernelreg.bench.width_limit", "kernelreg.cli"])
def test_all_names_resolve(module):
    import importlib

    mod = importlib.import_module(module)
    assert mod.__all__
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.__all__ lists {name!r}, which does not exist"


@pytest.mark.parametrize("seed", ["-1", "4294967296", "1.5", "abc"])
def test_cli_seed_outside_the_numpy_range_is_a_usage_error(tmp_path, capsys, seed):
    for argv in (["bench", "run", "spectral-targets", "--quick", "--out", str(tmp_path), "--seed", seed],
                 ["demo", "--seed", seed]):
        assert main(argv) == 2  # argparse's usage error, returned as the exit status
        err = capsys.readouterr().err
        assert "argument --seed: must be an integer in [0, 4294967295]" in err and repr(seed)[1:-1] in err
    assert not (tmp_path / "spectral-targets").exists()


def test_run_suite_rejects_seeds_it_would_have_to_mask(tmp_path):
    for seed in (-1, 2**32, 1.0, True):
        with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*32 - 1\].*got seed="):
            bench.run_suite("spectral-targets", tmp_path, quick=True, seed=seed, progress=False)
    assert _runner._check_seed(2**32 - 1) == 2**32 - 1
    assert not (tmp_path / "spectral-targets").exists()


_TINY_SUITE = """
from kernelreg.bench import Cell, Suite

OFFSET = {offset}


class TinySuite(Suite):
    \"\"\"{doc}\"\"\"

    name = "tiny"
    title = "tiny"
    keys = ("a", "b", "c")
    fail = ()

    def settings(self, quick):
        return {{"scale": 2}}

    def cells(self, ctx):
        return [Cell(key, {{"index": i}}) for i, key in enumerate(self.keys)]

    def run_cell(self, cell, ctx):
        if cell.key in self.fail:
            raise RuntimeError("broken")
        return {{"value": ctx.settings["scale"] * cell.params["index"] + OFFSET}}  # {comment}

    def rows(self, cells, ctx):
        return [{{"key": c.key, "value": c.result["value"]}} for c in cells]

    def report(self, rows, cells, ctx):
        return "tiny"
"""


def _tiny_suite(tmp_path: Path, offset: int = 0, doc: str = "A tiny suite.", comment: str = "plain"):
    """A fresh TinySuite from a module file written now (so its source can change between runs)."""
    path = tmp_path / "tiny_suite.py"
    path.write_text(textwrap.dedent(_TINY_SUITE.format(offset=offset, doc=doc, comment=comment)))
    spec = importlib.util.spec_from_file_location(f"tiny_suite_{time.monotonic_ns()}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TinySuite()


def test_fingerprint_follows_the_code_not_its_prose(tmp_path):
    out = tmp_path / "out"
    first = bench.run_suite(_tiny_suite(tmp_path), out, progress=False)
    assert first.computed == ["a", "b", "c"] and [r["value"] for r in first.rows] == [0, 2, 4]
    prose = bench.run_suite(_tiny_suite(tmp_path, doc="Reworded docstring.", comment="another comment"), out,
                            progress=False)
    assert prose.reused == ["a", "b", "c"] and not prose.computed  # docstrings and comments do not count
    changed = bench.run_suite(_tiny_suite(tmp_path, offset=1), out, progress=False)  # Suite.version not bumped
    assert changed.computed == ["a", "b", "c"] and [r["value"] for r in changed.rows] == [1, 3, 5]
    code = _runner._suite_code(_tiny_suite(tmp_path))
    assert "features.py" in code and "solvers/__init__.py" in code and "bench/_runner.py" in code
    assert "bench/rowdy.py" not in code and "bench/__init__.py" not in code  # other suites do not count


def test_cells_whose_keys_are_gone_are_pruned_after_a_complete_run(tmp_path):
    out = tmp_path / "out"
    bench.run_suite(_tiny_suite(tmp_path), out, progress=False)
    cell_dir = out / "tiny" / "cells"
    (cell_dir / "notes.json").write_text('{"mine": true}')  # not a cell: never touched
    suite = _tiny_suite(tmp_path)
    suite.keys, suite.fail = ("a", "b", "d"), ("d",)  # "c" is gone, "d" is new (and fails at first)
    partial = bench.run_suite(suite, out, progress=False, log=lambda m: None)
    assert partial.failed and not partial.pruned and (cell_dir / "c.json").exists()  # incomplete run: kept
    suite.fail = ()
    complete = bench.run_suite(suite, out, progress=False, log=lambda m: None)
    assert complete.pruned == ["c"] and complete.reused == ["a", "b"] and complete.computed == ["d"]
    assert sorted(os.listdir(cell_dir)) == ["a.json", "b.json", "d.json", "notes.json"]


def test_an_unknown_device_fails_before_any_cell(tmp_path, capsys):
    from kernelreg.exceptions import DeviceError

    with pytest.raises(DeviceError, match="tpu"):
        bench.run_suite("spectral-targets", tmp_path, quick=True, device="tpu", progress=False)
    assert not (tmp_path / "spectral-targets").exists()
    assert main(["bench", "run", "spectral-targets", "--quick", "--device", "tpu", "--out", str(tmp_path)]) == 2
    assert "device='tpu'" in capsys.readouterr().err


def test_solver_speed_times_figure_is_labelled_and_marks_runs_that_did_not_converge(quick_runs):
    pytest.importorskip("matplotlib")
    from kernelreg.bench._plots import NOT_CONVERGED, figure_problems
    from kernelreg.bench.solver_speed import times_figure

    _, runs = quick_runs
    rows = runs["solver-speed"].rows
    fig = times_figure(rows)
    assert figure_problems(fig) == []  # title, axis labels, text >= 10 pt
    ax = fig.axes[0]
    assert ax.get_title() and "wall time (s" in ax.get_ylabel() and ax.get_xlabel()
    stopped = [r for r in rows if r["status"] != "optimal"]
    hollow = [p for p in ax.patches if p.get_facecolor()[3] == 0]
    assert len(hollow) == len(stopped)  # e.g. GD / Adam / CG at max_iter in the quick settings
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert (NOT_CONVERGED in legend) == bool(stopped)


def test_the_runner_takes_suite_objects_and_the_package_resolves_names(tmp_path):
    from kernelreg.bench import _runner

    with pytest.raises(TypeError, match="must be a Suite object"):
        _runner.run_suite("gd-vs-convex", tmp_path)
    with pytest.raises(ValueError, match="unknown benchmark suite 'nope'"):
        bench.run_suite("nope", tmp_path)
