"""The suite runner: cells computed once and kept, atomic files, results.json / results.csv / report.md / figures.

A :class:`Suite` splits its experiment into :class:`Cell` s (one activation, one replication,
one target, ...). :func:`run_suite` computes each cell, writes it at once to
``OUT/SUITE/cells/<key>.json`` (temp file + ``os.replace``), and skips cells whose file already
holds a result with the same fingerprint — so an interrupted run resumes where it stopped. When
every cell is done it writes the suite's table (``results.json``, ``results.csv``), its report
(``report.md``: our numbers beside the paper's, the settings, the machine and the versions) and
its PNG figures, and deletes saved cells whose keys the suite no longer produces.

A cell is saved only when ``run_cell`` returned normally and no Ctrl-C arrived while it ran (a
cell whose code caught the ``KeyboardInterrupt`` is not saved either); the interrupt then reaches
the caller. A cell's fingerprint covers the suite's settings, the seed, the device, the cell's key
and parameters, the versions of numpy / scipy / torch / scikit-learn / cvxpy, and the code the cell
runs (the kernelreg package without the other suites' modules, docstrings and comments left out),
so a code change recomputes the cells without bumping :attr:`Suite.version` by hand.

(The module is long because resuming, fingerprinting and the report must agree on one record
format; the suites themselves live in their own modules.)
"""

from __future__ import annotations

import ast
import csv
import hashlib
import importlib.metadata
import inspect
import io
import json
import math
import os
import platform
import signal
import sys
import threading
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from kernelreg._io import atomic_open, remove_stale_temps
from kernelreg._torch import resolve_device
from kernelreg.exceptions import KernelregError

__all__ = [
    "Cell",
    "CellResult",
    "RunContext",
    "RunSummary",
    "Suite",
    "PlottingUnavailable",
    "run_suite",
    "environment",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_write_bytes",
    "to_jsonable",
    "markdown_table",
    "fmt",
    "cell_results",
]


class PlottingUnavailable(KernelregError):
    """matplotlib is missing: figures are skipped, everything else is written."""


# ---------------------------------------------------------------------------------------------
# atomic files and JSON
# ---------------------------------------------------------------------------------------------
def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write bytes to ``path`` through a temporary file in the same folder and ``os.replace``.

    A crash midway leaves either the old file or none at ``path``, never half a file, and no
    temporary file behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path) as fh:
        fh.write(data)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write text (UTF-8) atomically; see :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def to_jsonable(obj: Any, *, strict: bool = False) -> Any:
    """numpy scalars/arrays and tuples as plain JSON types; with ``strict`` NaN/inf become None."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, strict=strict) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, strict=strict) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist(), strict=strict)
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return None if strict and not math.isfinite(value) else value
    if obj is None or isinstance(obj, str):
        return obj
    return str(obj)


def atomic_write_json(path: str | os.PathLike, payload: Any, *, strict: bool = False) -> Path:
    """Write JSON atomically (numpy types converted; ``strict`` writes NaN/inf as null)."""
    text = json.dumps(to_jsonable(payload, strict=strict), indent=1, allow_nan=not strict)
    return atomic_write_text(path, text + "\n")


def _write_csv(path: Path, rows: Sequence[dict]) -> None:
    """Rows as CSV (union of keys in first-seen order; lists as JSON; NaN as empty), atomically."""
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        out = {}
        for key in columns:
            value = row.get(key)
            if isinstance(value, (list, tuple, dict)):
                value = json.dumps(to_jsonable(value, strict=True))
            elif isinstance(value, (float, np.floating)) and not math.isfinite(float(value)):
                value = ""
            out[key] = value
        writer.writerow(out)
    atomic_write_text(path, buf.getvalue())


# ---------------------------------------------------------------------------------------------
# formatting
# ---------------------------------------------------------------------------------------------
def fmt(value: Any, digits: int = 3) -> str:
    """A table cell: numbers in ``digits`` significant digits, '—' for None/NaN."""
    if value is None:
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not math.isfinite(value):
            return "—" if math.isnan(value) else ("∞" if value > 0 else "−∞")
        return f"{value:.{digits}g}"
    return str(value)


def markdown_table(rows: Sequence[dict], columns: Sequence[tuple[str, str]], digits: int = 3) -> str:
    """A markdown table of ``rows`` with (key, header) columns; missing values print as '—'."""
    lines = ["| " + " | ".join(h for _, h in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(fmt(row.get(k), digits) for k, _ in columns) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# environment
# ---------------------------------------------------------------------------------------------
def _version(module: str) -> str | None:
    """A package's version, or None when it is not installed."""
    try:
        mod = __import__(module)
    except ImportError:
        return None
    return str(getattr(mod, "__version__", "unknown"))


def environment(device: str = "cpu", dtype: str = "float64") -> dict[str, Any]:
    """Versions, machine and load, saved with every run so its numbers can be judged later."""
    try:
        load = os.getloadavg()
    except (OSError, AttributeError):
        load = None
    import kernelreg

    return {
        "device": device,
        "dtype": dtype,
        "versions": {
            "kernelreg": getattr(kernelreg, "__version__", "unknown"),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": _version("scipy"),
            "torch": torch.__version__,
            "scikit-learn": _version("sklearn"),
            "cvxpy": _version("cvxpy"),
            "clarabel": _version("clarabel"),
            "matplotlib": _version("matplotlib"),
        },
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_average": list(load) if load else None,
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
    }


# ---------------------------------------------------------------------------------------------
# suites, cells, context
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    """One unit of a suite's work, computed once and kept: a file-safe ``key`` and its parameters."""

    key: str
    params: dict = field(default_factory=dict)


@dataclass
class CellResult:
    """A finished cell: its key, parameters, what it returned, its wall time and whether it was reused."""

    key: str
    params: dict
    result: dict
    time_s: float
    reused: bool = False


@dataclass
class RunContext:
    """What a suite's methods see: its settings, the run's options and where files go."""

    suite: str
    settings: dict
    quick: bool
    seed: int
    device: str
    out_dir: Path
    fig_dir: Path
    log: Callable[[str], None] = print


@dataclass
class RunSummary:
    """What :func:`run_suite` did: where the files are and which cells were computed or reused.

    Attributes
    ----------
    out_dir : Path
        ``OUT/SUITE``.
    rows : list of dict
        The suite's table (also in results.json / results.csv).
    cells : list of CellResult
    computed, reused : list of str
        Keys of the cells computed in this run and of those read back from an earlier one.
    failed : dict of {str: str}
        Keys of cells that raised, with the error (they are not saved, so a rerun retries them).
    figures : list of Path
    figures_note : str
        Why figures are missing, when they are.
    report_path : Path
    time_s : float
    pruned : list of str
        Keys of saved cells deleted because the suite no longer produces them (only after a run
        in which every cell finished).
    """

    out_dir: Path
    rows: list[dict]
    cells: list[CellResult]
    computed: list[str]
    reused: list[str]
    failed: dict[str, str]
    figures: list[Path]
    figures_note: str
    report_path: Path
    time_s: float
    pruned: list[str] = field(default_factory=list)


class Suite(ABC):
    """A benchmark suite: its settings, its cells, how to run one, and how to tabulate, report and plot them.

    Subclasses set the class attributes and implement :meth:`settings`, :meth:`cells`,
    :meth:`run_cell`, :meth:`rows` and :meth:`report`; :meth:`figures` is optional. A cell's
    result must be JSON-serialisable (numpy arrays and scalars are converted).

    Attributes
    ----------
    name : str
        Registry name (``kernelreg bench run NAME``).
    title : str
        Report title.
    summary : str
        One line for ``kernelreg bench list``.
    paper : str
        The seed paper and the experiment this suite reruns.
    version : int
        Part of every cell's fingerprint. Code changes are detected without it (the fingerprint
        hashes the code); bump it only when results change for a reason outside the hashed code
        and library versions (e.g. a data file).
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    version: ClassVar[int] = 1

    @abstractmethod
    def settings(self, quick: bool) -> dict:
        """Every setting of the run (sizes, budgets, lists), JSON-friendly; ``quick`` shrinks them."""

    @abstractmethod
    def cells(self, ctx: RunContext) -> list[Cell]:
        """The cells of this run, in order."""

    @abstractmethod
    def run_cell(self, cell: Cell, ctx: RunContext) -> dict:
        """Compute one cell; return a JSON-friendly dict."""

    @abstractmethod
    def rows(self, cells: list[CellResult], ctx: RunContext) -> list[dict]:
        """The suite's table (one flat dict per row) from the finished cells."""

    @abstractmethod
    def report(self, rows: list[dict], cells: list[CellResult], ctx: RunContext) -> str:
        """Markdown body of report.md: our table beside the paper's numbers and what was chosen."""

    def figures(self, cells: list[CellResult], ctx: RunContext) -> list[Path]:
        """PNG figures into ``ctx.fig_dir`` (default: none)."""
        return []

    def prepare(self, ctx: RunContext) -> None:
        """Run once before the cells (e.g. warm-ups before timing); default: nothing."""


#: Code digests by file: (mtime_ns, size, digest). Only a speed-up: a changed file has a new stat and is hashed again.
_CODE_DIGESTS: dict[str, tuple[int, int, str]] = {}
#: Libraries whose versions enter every cell's fingerprint.
_FINGERPRINT_LIBRARIES = ("numpy", "scipy", "torch", "scikit-learn", "cvxpy")


def _is_docstring(node: ast.stmt) -> bool:
    """A bare string statement (docstring position)."""
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _code_digest(path: Path) -> str:
    """sha256 of a module's code without comments, docstrings or layout, so editing prose keeps the saved cells."""
    st = path.stat()
    cached = _CODE_DIGESTS.get(str(path))
    if cached is not None and cached[:2] == (st.st_mtime_ns, st.st_size):
        return cached[2]
    source = path.read_bytes()
    try:
        tree = ast.parse(source)
    except SyntaxError:  # not for us to judge: hash the bytes
        digest = hashlib.sha256(source).hexdigest()
    else:
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.body and _is_docstring(node.body[0]):
                    node.body = node.body[1:] or [ast.Pass()]
        digest = hashlib.sha256(ast.dump(tree).encode()).hexdigest()
    _CODE_DIGESTS[str(path)] = (st.st_mtime_ns, st.st_size, digest)
    return digest


def _suite_file(suite: Suite) -> Path | None:
    """The file defining the suite's class: its module's file, else where its methods were compiled."""
    cls = type(suite)
    file = getattr(sys.modules.get(cls.__module__), "__file__", None)
    if file is None:  # a module loaded without registering itself
        file = next((v.__code__.co_filename for v in vars(cls).values() if inspect.isfunction(v)), None)
    return Path(file).resolve() if file else None


def _suite_code(suite: Suite) -> dict[str, str]:
    """Digests of the code a suite's cells run: kernelreg without the other suites' modules, plus the suite's module.

    Every kernelreg module counts except, in ``kernelreg/bench/``, the suites' modules other than
    this suite's own and the registry ``__init__``; the bench helpers (``_common``, ``_runner``,
    ...) count. A suite defined outside kernelreg adds its own file.
    """
    import kernelreg

    root = Path(kernelreg.__file__).resolve().parent
    own_path = _suite_file(suite)
    files = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        suite_module = not rel.name.startswith("_") or rel.name == "__init__.py"  # bench/__init__ only registers
        if rel.parts[0] == "bench" and len(rel.parts) == 2 and suite_module and path != own_path:
            continue
        files[rel.as_posix()] = _code_digest(path)
    if own_path is not None and own_path.is_file():
        files.setdefault(f"suite:{own_path.name}", _code_digest(own_path))
    return files


def _library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries whose numerics the cells use (read from metadata, nothing imported)."""
    versions: dict[str, str | None] = {}
    for name in _FINGERPRINT_LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _run_digest(suite: Suite) -> str:
    """One hash of the code and library versions of this run, shared by every cell's fingerprint."""
    blob = json.dumps({"code": _suite_code(suite), "libraries": _library_versions()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _fingerprint(suite: Suite, ctx: RunContext, cell: Cell, code: str) -> str:
    """A hash of everything a cell's result depends on, so changed settings, code or libraries recompute it."""
    blob = json.dumps(
        to_jsonable({"suite": suite.name, "version": suite.version, "settings": ctx.settings, "seed": ctx.seed,
                     "device": ctx.device, "key": cell.key, "params": cell.params, "code": code}),
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@contextmanager
def _sigint_watch() -> Iterator[list[bool]]:
    """Note a Ctrl-C during a cell even when the cell's code catches the KeyboardInterrupt, so the cell is not saved.

    The previous handler still runs (Python's default raises ``KeyboardInterrupt``) and is
    restored afterwards. Outside the main thread, or over a non-Python handler, nothing is
    installed.
    """
    seen = [False]
    if threading.current_thread() is not threading.main_thread():
        yield seen
        return
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):
        yield seen
        return

    def on_sigint(signum, frame):
        seen[0] = True
        previous(signum, frame)

    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield seen
    finally:
        if signal.getsignal(signal.SIGINT) is on_sigint:  # leave a handler the cell installed and kept
            signal.signal(signal.SIGINT, previous)


def _prune_cells(cell_dir: Path, suite_name: str, keys: set[str]) -> list[str]:
    """Delete this suite's saved cells whose keys are no longer produced (and their writers' stale temp files)."""
    pruned = []
    for path in sorted(cell_dir.glob("*.json")):
        if path.stem in keys:
            continue
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not a cell this runner wrote: leave it alone
        if isinstance(saved, dict) and saved.get("suite") == suite_name and "fingerprint" in saved:
            path.unlink(missing_ok=True)
            remove_stale_temps(path)
            pruned.append(path.stem)
    return pruned


def _check_seed(seed: Any) -> int:
    """The run's base seed: an integer in [0, 2**32), the range numpy and scikit-learn seeds take (no masking)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**32:
        raise ValueError(
            f"seed must be an integer in [0, 2**32 - 1] = [0, 4294967295], the range of numpy and scikit-learn "
            f"seeds; got seed={seed!r}."
        )
    return int(seed)


def _load_cell(path: Path, fingerprint: str) -> dict | None:
    """A saved cell if it is complete and was made with the same settings, else None."""
    try:
        with open(path, encoding="utf-8") as fh:
            saved = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or saved.get("fingerprint") != fingerprint or "result" not in saved:
        return None
    return saved


def _apply_overrides(suite: Suite, settings: dict, overrides: dict[str, Any] | None) -> dict:
    """The suite's settings with ``overrides`` replacing existing keys (an unknown key is an error)."""
    if not overrides:
        return settings
    unknown = [k for k in overrides if k not in settings]
    if unknown:
        raise ValueError(
            f"suite {suite.name!r} has no setting(s) {unknown}; its settings are: {', '.join(settings)}."
        )
    return {**settings, **overrides}


#: Settings the command line sets with an option of its own (``--budget``), for the reproducing command.
_CLI_SETTINGS = {"budget": "--budget"}


def _command(suite: Suite, ctx: RunContext, out_root: Path) -> str:
    """The CLI command that reproduces this run."""
    parts = ["kernelreg", "bench", "run", suite.name]
    if ctx.quick:
        parts.append("--quick")
    default = suite.settings(ctx.quick)
    for key, option in _CLI_SETTINGS.items():
        if key in ctx.settings and ctx.settings[key] != default.get(key):
            parts += [option, str(ctx.settings[key])]
    parts += ["--seed", str(ctx.seed), "--device", ctx.device, "--out", str(out_root)]
    return " ".join(parts)


def _settings_table(settings: dict) -> str:
    """The settings as a two-column markdown table."""
    lines = ["| setting | value |", "|---|---|"]
    for key, value in settings.items():
        text = json.dumps(to_jsonable(value, strict=True))
        lines.append(f"| {key} | `{text}` |")
    return "\n".join(lines)


def _environment_md(env: dict) -> str:
    """Machine and versions as markdown."""
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items() if v is not None)
    m = env["machine"]
    load = m.get("load_average")
    load_text = ", ".join(f"{v:.2f}" for v in load) if load else "n/a"
    return (
        f"- device: {env['device']} (solves in {env['dtype']}); CUDA: {m.get('cuda') or 'none'}\n"
        f"- machine: {m['platform']}, {m['processor']}, {m['cpu_count']} CPU cores, torch threads "
        f"{m['torch_threads']}, load average at the end {load_text} (a shared machine: absolute times are noisy, "
        "compare ratios)\n"
        f"- versions: {versions}"
    )


def run_suite(
    suite: Suite,
    out: str | os.PathLike = "bench-out",
    *,
    quick: bool = False,
    device: str = "cpu",
    seed: int = 0,
    progress: bool = True,
    threads: int | None = 1,
    log: Callable[[str], None] | None = None,
    overrides: dict[str, Any] | None = None,
) -> RunSummary:
    """Run one benchmark suite into ``OUT/SUITE/``, reusing finished cells, and write its tables, report and figures.

    Parameters
    ----------
    suite : Suite
        A suite object (:func:`kernelreg.bench.run_suite` also takes a registry name).
    out : path, default="bench-out"
        Output root; files go to ``out/<suite name>/``.
    quick : bool, default=False
        The suite's small settings (well under a minute on 2 CPU cores).
    device : {"cpu", "cuda", "auto"}, default="cpu"
        Where features, solves and training run.
    seed : int, default=0
        Base seed of every draw of the run, in [0, 2**32).
    progress : bool, default=True
        A tqdm progress bar over the cells.
    threads : int or None, default=1
        Torch intra-op threads during the run (restored afterwards). These workloads are small:
        one thread avoids oversubscribing a shared machine and is usually faster. None leaves
        torch's setting alone.
    log : callable or None, default=None
        Where progress messages go (None: ``tqdm.write`` with a bar, else ``print``).
    overrides : dict or None, default=None
        Settings replaced after the suite's (quick or full) settings are made, e.g.
        ``{"budget": 400_000}`` for ``gd-vs-convex`` (``kernelreg bench run ... --budget``). Each
        key must be one of the suite's settings; they enter every cell's fingerprint.

    Returns
    -------
    RunSummary

    Raises
    ------
    ValueError
        An unknown suite name (the message lists the suites), a seed outside [0, 2**32), or an
        override of a setting the suite does not have (the message lists its settings).
    kernelreg.exceptions.DeviceError
        An unknown device, or "cuda" on a machine without a CUDA GPU.
    KeyboardInterrupt
        Ctrl-C during the run (also when a cell's own code caught it). The cell it interrupted is
        not saved; the cells finished before it are, and the message says how many and where.
        Rerun the same command to resume: the result equals an uninterrupted run's.
    """
    from tqdm.auto import tqdm

    if not isinstance(suite, Suite):
        raise TypeError(f"suite must be a Suite object (kernelreg.bench.run_suite also takes a name); got {suite!r}.")
    seed = _check_seed(seed)
    resolve_device(device)  # an unavailable or unknown device fails here, not in every cell
    out_root = Path(out)
    out_dir = out_root / suite.name
    cell_dir = out_dir / "cells"
    cell_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    prev_threads = torch.get_num_threads()
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive integer or None; got threads={threads!r}.")
        torch.set_num_threads(threads)
    try:
        settings = _apply_overrides(suite, suite.settings(bool(quick)), overrides)
        ctx = RunContext(suite=suite.name, settings=settings, quick=bool(quick), seed=int(seed), device=str(device),
                         out_dir=out_dir, fig_dir=out_dir / "figures")
        cells = suite.cells(ctx)
        keys = [c.key for c in cells]
        if len(set(keys)) != len(keys):
            raise KernelregError(f"suite {suite.name!r} produced duplicate cell keys; every cell needs its own key.")
        bar = tqdm(cells, desc=suite.name, unit="cell", disable=not progress, leave=True, dynamic_ncols=True)
        ctx.log = log or (tqdm.write if progress else print)
        code = _run_digest(suite)
        finished: list[CellResult] = []
        computed: list[str] = []
        reused: list[str] = []
        failed: dict[str, str] = {}
        prepared = False
        current = None
        try:
            for cell in bar:
                current = cell.key
                bar.set_postfix_str(cell.key, refresh=False)
                path = cell_dir / f"{cell.key}.json"
                fp = _fingerprint(suite, ctx, cell, code)
                saved = _load_cell(path, fp)
                if saved is not None:
                    finished.append(CellResult(cell.key, cell.params, saved["result"], float(saved.get("time_s", 0.0)),
                                               reused=True))
                    reused.append(cell.key)
                    continue
                if not prepared:
                    suite.prepare(ctx)
                    prepared = True
                t0 = time.perf_counter()
                error = None
                with _sigint_watch() as interrupted:
                    try:
                        result = suite.run_cell(cell, ctx)
                    except Exception as exc:  # one broken cell must not lose the others; Ctrl-C/exit pass through
                        error = exc
                if interrupted[0]:  # the cell's own code caught the KeyboardInterrupt: its result is partial
                    raise KeyboardInterrupt(f"Ctrl-C in cell {cell.key!r}, caught inside the cell")
                if error is not None:
                    failed[cell.key] = f"{type(error).__name__}: {error}"
                    ctx.log(f"[{suite.name}] cell {cell.key} failed: {type(error).__name__}: {error}")
                    ctx.log("".join(traceback.format_exception(error)[-3:]))
                    continue
                elapsed = time.perf_counter() - t0
                result = to_jsonable(result)
                atomic_write_json(path, {"suite": suite.name, "key": cell.key, "params": cell.params,
                                         "fingerprint": fp, "time_s": elapsed,
                                         "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "result": result})
                finished.append(CellResult(cell.key, cell.params, result, elapsed))
                computed.append(cell.key)
            current = None
        except KeyboardInterrupt as exc:
            during = f" during cell {current!r}" if current else ""
            raise KeyboardInterrupt(
                f"{suite.name} interrupted{during}: {len(finished)} of {len(cells)} cells are saved in {cell_dir}; "
                "rerun the same command to resume."
            ) from exc
        finally:
            bar.close()
        pruned = _prune_cells(cell_dir, suite.name, set(keys)) if not failed else []
        if pruned:
            ctx.log(f"[{suite.name}] removed {len(pruned)} saved cells this suite no longer has: {', '.join(pruned)}")

        rows = suite.rows(finished, ctx)
        env = environment(ctx.device)
        figures: list[Path] = []
        figures_note = ""
        try:
            figures = list(suite.figures(finished, ctx))
        except PlottingUnavailable as exc:
            figures_note = str(exc)
        total = time.perf_counter() - start
        command = _command(suite, ctx, out_root)
        payload = {
            "suite": suite.name,
            "title": suite.title,
            "paper": suite.paper,
            "command": command,
            "quick": ctx.quick,
            "seed": ctx.seed,
            "device": ctx.device,
            "settings": settings,
            "environment": env,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "timing": {"wall_s": total, "cells_s": sum(c.time_s for c in finished),
                       "computed": computed, "reused": reused},
            "failed": failed,
            "rows": rows,
            "cells": [{"key": c.key, "params": c.params, "time_s": c.time_s, "result": c.result} for c in finished],
        }
        atomic_write_json(out_dir / "results.json", payload, strict=True)
        _write_csv(out_dir / "results.csv", rows)
        body = suite.report(rows, finished, ctx)
        report = [
            f"# {suite.title}",
            "",
            f"*{suite.paper}*",
            "",
            f"Command: `{command}`  ",
            f"Cells: {len(finished)} of {len(cells)} ({len(computed)} computed now, {len(reused)} reused); "
            f"wall time of this invocation {total:.1f} s, cell time in total {payload['timing']['cells_s']:.1f} s.",
            "",
            body.strip(),
            "",
        ]
        if failed:
            report += ["## Failed cells (not saved; a rerun retries them)", ""]
            report += [f"- `{k}`: {v}" for k, v in failed.items()] + [""]
        report += ["## Figures", ""]
        if figures:
            report += [f"![{p.stem}](figures/{p.name})" for p in figures] + [""]
        else:
            report += [figures_note or "This suite draws no figures.", ""]
        report += ["## Settings", "", _settings_table(settings), "", "## Machine and versions", "",
                   _environment_md(env), ""]
        report_path = atomic_write_text(out_dir / "report.md", "\n".join(report))
        return RunSummary(out_dir, rows, finished, computed, reused, failed, figures, figures_note, report_path, total,
                          pruned)
    finally:
        if threads is not None:
            torch.set_num_threads(prev_threads)


def cell_results(cells: Iterable[CellResult]) -> dict[str, dict]:
    """Finished cells by key (for suites that look cells up)."""
    return {c.key: c.result for c in cells}

