"""The worked example in docs/adding_a_cell.md really adds a working fifteenth cell.

The page's code blocks are written to a temporary folder and imported in a fresh
process (registering a cell in this process would change the registry under the other
tests); that process checks the new cell against its reference in both frameworks.
"""

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "adding_a_cell.md"
BLOCK = re.compile(r"```python\n# file: (?P<path>\S+)\n(?P<code>.*?)```", re.S)

CHECK = textwrap.dedent("""
    import json, sys
    import numpy as np, keras, torch
    import bench.cells, cells_torch, cells_tf
    from cells_torch.gradients import canonical_gradients as torch_grads
    from cells_tf.gradients import canonical_gradients as keras_grads
    import doc_spec, doc_torch, doc_keras  # the page's three blocks: registers the cell
    name = sys.argv[1]
    spec = bench.cells.get_spec(name)
    rng = np.random.default_rng(0)
    weights = spec.random_canonical(3, 5, rng)
    x = rng.uniform(-1, 1, (2, 4, 3)).astype(np.float32)
    d_out = rng.normal(size=(2, 4, 5)).astype(np.float32)
    want, want_grads = spec.reference(weights, x), spec.reference_grad(weights, x, d_out)
    result = {"listed": [name in m.list_cells() for m in (bench.cells, cells_torch, cells_tf)],
              "count": spec.param_count(3, 5), "errors": {}}
    for label, make, grads in (("torch", cells_torch.make_layer, torch_grads),
                               ("keras", cells_tf.make_layer, keras_grads)):
        layer = make(name, 3, 5)
        layer.set_canonical(weights)
        out = layer(torch.from_numpy(x))[0].detach().numpy() if label == "torch" else \\
            keras.ops.convert_to_numpy(layer(x))
        d_x, d_w = grads(layer, x, d_out)
        result["errors"][label] = max(
            [float(np.abs(out - want).max()), float(np.abs(d_x - want_grads[0]).max())]
            + [float(np.abs(d_w[k] - want_grads[1][k]).max()) for k in weights])
    print(json.dumps(result))
""")

FORWARD_AND_GRAD_ATOL = 1e-4


def test_worked_example_registers_a_correct_cell(tmp_path):
    blocks = {m["path"]: m["code"] for m in BLOCK.finditer(DOC.read_text())}
    assert sorted(blocks) == ["bench/cells/ugrnn.py", "cells_tf/ugrnn.py", "cells_torch/ugrnn.py"]
    modules = {"bench/cells/ugrnn.py": "doc_spec", "cells_torch/ugrnn.py": "doc_torch",
               "cells_tf/ugrnn.py": "doc_keras"}
    for path, module in modules.items():
        (tmp_path / f"{module}.py").write_text(blocks[path])
    (tmp_path / "check.py").write_text(CHECK)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, str(tmp_path / "check.py"), "ugrnn"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["listed"] == [True, True, True]
    assert result["count"] == 2 * 25 + 2 * 3 * 5 + 2 * 5  # 2H² + 2IH + 2H
    assert result["errors"]["torch"] < FORWARD_AND_GRAD_ATOL, result
    assert result["errors"]["keras"] < FORWARD_AND_GRAD_ATOL, result
