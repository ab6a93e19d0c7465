"""``import kernelreg`` stays light: optional heavy packages load only when a feature needs them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ["cvxpy", "matplotlib", "dask", "mpmath", "kernelreg.bench"]


def _modules_after(statement):
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=300, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_import_and_first_use_load_no_optional_heavy_package():
    loaded = _modules_after("import kernelreg")
    assert "torch" not in loaded and "kernelreg.estimators" not in loaded  # public names load on first use
    loaded = _modules_after("import kernelreg; from kernelreg import KernelRegimeRegressor, solve, AdaptiveRegressor")
    assert "kernelreg.estimators" in loaded and "kernelreg.solvers" in loaded
    assert not [m for m in HEAVY if m in loaded]


def test_public_names_resolve_lazily_and_are_listed():
    import kernelreg

    assert set(kernelreg.__all__) <= set(dir(kernelreg))
    assert kernelreg.solvers.solve is kernelreg.solve  # a submodule by attribute, as after an eager import
    with pytest.raises(AttributeError, match="module 'kernelreg' has no attribute 'no_such_name'"):
        kernelreg.no_such_name  # noqa: B018
