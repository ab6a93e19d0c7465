"""Every public name of DESIGN.md for the core scope exists and every __all__ entry resolves."""

import importlib

import pytest

MODULES = ["kernelreg", "kernelreg.activations", "kernelreg.features", "kernelreg.solvers",
           "kernelreg.compare", "kernelreg.seminorm", "kernelreg.activation_design", "kernelreg.estimators",
           "kernelreg.exceptions", "kernelreg.layers", "kernelreg.layers.bases", "kernelreg.networks",
           "kernelreg.training", "kernelreg.training.compositional", "kernelreg.diagnostics", "kernelreg.datasets",
           "kernelreg.bench", "kernelreg.kernels", "kernelreg.convergence"]


@pytest.mark.parametrize("name", MODULES)
def test_all_names_resolve(name):
    module = importlib.import_module(name)
    assert module.__all__, f"{name} has an empty __all__"
    for attr in module.__all__:
        assert hasattr(module, attr), f"{name}.__all__ lists {attr!r}, which does not exist"


def test_design_public_names():
    import kernelreg
    from kernelreg import activations, compare, features, solvers

    for attr in ("get", "available"):
        assert callable(getattr(activations, attr))
    assert callable(features.RandomFeatureMap)
    assert callable(solvers.solve) and solvers.Solution
    assert callable(compare.compare_fits)
    assert kernelreg.KernelRegimeRegressor and kernelreg.KernelRegimeClassifier
    assert kernelreg.AdaptiveRegressor and kernelreg.AdaptiveClassifier
    from kernelreg import layers

    for name in ("RowdyActivation", "KroneckerActivation", "LAAF", "IAT", "CompositionalNetwork",
                 "CompositionalLayer", "RadonSplineLayer"):
        assert hasattr(layers, name), name
    assert sorted(layers.bases.available()) == ["fourier", "pwl", "pwl_w", "pwq", "rect", "rect_w"]


def test_exceptions_are_one_tree():
    from sklearn.exceptions import NotFittedError as SkNotFitted

    from kernelreg.exceptions import DivergenceError, KernelregError, NotFittedError, SolverError

    assert issubclass(NotFittedError, KernelregError) and issubclass(NotFittedError, SkNotFitted)
    err = DivergenceError("boom", method="gd")
    assert isinstance(err, SolverError) and err.status == "failed" and err.method == "gd"


def test_bench_list_shows_the_seven_suites(capsys):
    from kernelreg.cli import main

    assert main(["bench", "list"]) == 0
    out = capsys.readouterr().out
    for suite in ("solver-speed", "gd-vs-convex", "spectral-targets", "compositional", "iat-bases", "rowdy",
                  "warmup-freeze"):
        assert suite in out
