"""The logging and progress helper: each message once per run, verbose shows messages, bars stay when shown."""

import io
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from kernelreg._log import logger, logged_run, progress, run_scope

LOG_FILE = Path(__file__).resolve().parents[1] / "kernelreg" / "_log.py"


def _count(caplog, text):
    return sum(text in r.getMessage() for r in caplog.records)


def test_identical_messages_once_per_run_nested_scopes_share(caplog):
    with caplog.at_level(logging.INFO, logger="kernelreg"):
        logger.info("outside %d", 1)
        logger.info("outside %d", 1)
        assert _count(caplog, "outside 1") == 2  # no scope: nothing is dropped
        with run_scope():
            logger.info("inside")
            with run_scope():  # e.g. solve() inside an estimator's fit
                logger.info("inside")
                logger.warning("inside")  # another level is another message
            logger.info("other")
        assert _count(caplog, "inside") == 2 and _count(caplog, "other") == 1
        with run_scope():  # a new run remembers nothing of the last one
            logger.info("inside")
        assert _count(caplog, "inside") == 3


def test_logged_run_reads_verbose_and_scopes_the_method(caplog):
    class Model:
        verbose = False

        @logged_run
        def fit(self):
            logger.info("fit message")
            logger.info("fit message")
            return self

    with caplog.at_level(logging.INFO, logger="kernelreg"):
        model = Model()
        assert model.fit() is model
    assert _count(caplog, "fit message") == 1
    assert Model.fit.__name__ == "fit"


def test_device_auto_is_logged_once_per_estimator_fit(caplog, monkeypatch):
    import torch

    from kernelreg import AdaptiveRegressor, KernelRegimeRegressor

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X = np.random.default_rng(0).uniform(-1, 1, (30, 2))
    y = X[:, 0] ** 2
    for model in (KernelRegimeRegressor(40, eps=1e-3, device="auto", random_state=0),
                  AdaptiveRegressor((8,), warmup_epochs=2, device="auto", random_state=0)):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="kernelreg"):
            model.fit(X, y)
        assert _count(caplog, "no CUDA device") == 1, type(model).__name__


def _run_isolated(code):
    """Run ``code`` in a fresh interpreter with only kernelreg/_log.py loaded (no user logging configured)."""
    prelude = textwrap.dedent(f"""
        import importlib.util, sys
        spec = importlib.util.spec_from_file_location("klog", {str(LOG_FILE)!r})
        klog = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(klog)
    """)
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=60, check=True)


def test_verbose_prints_info_to_stderr_only_when_asked_and_only_without_user_handlers():
    done = _run_isolated("""
        klog.logger.info("silent by default")
        with klog.run_scope(verbose=True):
            klog.logger.info("shown %s", "once")
            klog.logger.info("shown %s", "once")
            klog.logger.debug("debug stays hidden")
        klog.logger.info("silent again")
        assert klog.logger.level == 0 and len(klog.logger.handlers) == 1  # level and handlers given back
    """)
    assert done.stderr == "kernelreg: shown once\n" and done.stdout == ""
    done = _run_isolated("""
        import logging
        logging.basicConfig(level=logging.WARNING, format="USER %(message)s")
        with klog.run_scope(verbose=True):
            klog.logger.info("through the user's handler")
    """)
    assert done.stderr == "USER through the user's handler\n"  # once: no second console handler


def test_progress_bar_stays_when_verbose_and_is_silent_otherwise():
    out = io.StringIO()
    assert list(progress(range(3), desc="demo", unit="step", verbose=True, file=out)) == [0, 1, 2]
    text = out.getvalue()
    assert "demo" in text and "3/3" in text and text.endswith("\n")  # leave=True: the final bar is kept
    out = io.StringIO()
    with progress(total=5, verbose=False, file=out) as bar:
        bar.update(5)
    assert out.getvalue() == ""


def test_outside_stacklevel_points_past_kernelreg_frames():
    import warnings

    from kernelreg._log import outside_stacklevel

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("here", UserWarning, stacklevel=outside_stacklevel())  # called from outside: this line
    assert caught[0].filename == __file__
