"""The README's Python examples run as written (they are the first thing a user copies)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README has no python examples"
    namespace: dict = {}
    exec(compile("\n".join(blocks), str(README), "exec"), namespace)
    assert namespace["model"].solution_.mse <= 1e-6 * (1 + 1e-6)
    assert namespace["warm"].solution_.mse <= 1e-4 * (1 + 1e-6)
