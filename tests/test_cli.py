"""The kernelreg command: --version, help without markup, one-line usage errors (exit 2), a demo without warnings."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import kernelreg
from kernelreg.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def test_version_answers_without_importing_torch():
    code = "import sys; from kernelreg.cli import main; code = main(['--version']); print(code, 'torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), cwd=ROOT,
                          timeout=120, check=True)
    assert done.stdout.splitlines() == [f"kernelreg {kernelreg.__version__}", "0 False"]


@pytest.mark.parametrize("argv", [["--help"], ["demo", "--help"], ["bench", "--help"], ["bench", "run", "--help"],
                                  ["bench", "list", "--help"]])
def test_help_is_plain_text(argv, capsys):
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "usage: kernelreg" in text
    for markup in ("``", "`", ":func:", ":class:", ":mod:"):
        assert markup not in text, (argv, markup)


@pytest.mark.parametrize("argv, expected", [
    (["demo", "--bogus"], "unrecognized arguments: --bogus"),
    ([], "the following arguments are required: {demo,bench}"),
    (["demo", "--device", "gpu"], "device='gpu' is not one of cpu, cuda, cuda:N, auto"),
    (["demo", "--seed", "-1"], "argument --seed: must be an integer in [0, 4294967295]"),
    (["bench", "frob"], "invalid choice: 'frob'"),
    (["bench", "run"], "the following arguments are required: suite"),
    (["bench", "run", "rowdy", "--threads", "0"], "argument --threads: must be a positive integer; got 0"),
    (["bench", "run", "no-such-suite"], "unknown benchmark suite 'no-such-suite'"),
])
def test_usage_errors_are_one_line_with_status_2(argv, expected, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and expected in lines[0] and lines[0].startswith("kernelreg"), captured.err


@pytest.mark.parametrize("argv", [["demo", "--device", "cuda"], ["bench", "run", "rowdy", "--device", "cuda:0"]])
def test_unavailable_cuda_is_a_one_line_error_with_status_2(argv, capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(argv + (["--out", str(tmp_path)] if argv[0] == "bench" else [])) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "torch sees no CUDA GPU" in lines[0]
    assert not any(tmp_path.iterdir())  # nothing was run


def test_demo_prints_no_warning_even_with_warnings_as_errors():
    done = subprocess.run([sys.executable, "-W", "error", "-m", "kernelreg.cli", "demo"], capture_output=True,
                          text=True, env=_env(), cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Warning" not in done.stdout + done.stderr and done.stderr == ""
    out = done.stdout
    for text in ("rank of Φ", "relu", "logistic", "function gap", "test accuracy"):
        assert text in out
    assert "smallest of 1e-05" in out  # the eps rule is stated beside the table
