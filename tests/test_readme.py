"""The README's Python examples run as written (they are the first thing a user copies), without a warning."""

import re
import warnings
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run_without_warnings():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README has no python examples"
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning in a copied example (e.g. torch's requires_grad one) fails
        exec(compile("\n".join(blocks), str(README), "exec"), namespace)
    assert namespace["model"].solution_.mse <= 1e-6 * (1 + 1e-6)
    assert namespace["warm"].solution_.mse <= 1e-4 * (1 + 1e-6)


def test_examples_run_as_scripts_without_warnings(tmp_path):
    """Each script in examples/ runs in a fresh interpreter, warnings as errors (what a user copies must work)."""
    import subprocess
    import sys

    scripts = sorted((README.parent / "examples").glob("*.py"))
    assert scripts, "examples/ has no scripts"
    for script in scripts:
        done = subprocess.run([sys.executable, "-W", "error", str(script)], cwd=tmp_path, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, f"{script.name}:\n{done.stderr[-2000:]}"
        assert done.stdout.strip(), f"{script.name} printed nothing"
