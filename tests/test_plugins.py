"""Plugin files: every way one can fail says which file and what to fix; entry points; `--cells a,b`.

Loading a plugin registers cells for the rest of a process, so each case that loads one runs
in a fresh process (one process for all the error cases, one for entry points).
"""

import json
import subprocess
import sys
import textwrap

import pytest

from bench.cli import build_parser, main

GOOD = '''
import numpy as np
from bench.cells import CellSpec, register_cell
from cells_torch import CustomRecurrent, register

def shapes(i, h):
    return {"kernel": (i, h), "recurrent_kernel": (h, h), "bias": (h,)}

def forward(w, x, s):
    h = np.zeros((x.shape[0], w["bias"].shape[0])); out = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ w["kernel"] + h @ w["recurrent_kernel"] + w["bias"]); out.append(h)
    return np.stack(out, 1), (h,)

register_cell(CellSpec(name=NAME, family="rnn", native=False, baseline=BASELINE, description="test",
                       shapes=SHAPES, forward=forward))
'''
TORCH_STEP = '''
@register(NAME)
class Cell(CustomRecurrent):
    def step(self, x_t, state, consts):
        import torch
        h = torch.tanh(x_t + state[0] @ consts[0]); return h, (h,)
'''

# file content -> what the error must say (the file's name is checked in every message)
BAD_PLUGINS = {
    "raises": ("x = 1\ny = 1 / 0\n", r"raised ZeroDivisionError on import at line 2 \(y = 1 / 0\): division by zero"),
    "duplicate": (GOOD.replace("NAME", '"gru0"').replace("BASELINE", '"rnn_native"').replace("SHAPES", "shapes"),
                  r"cell 'gru0' is already registered \(by a built-in cell\); give the new cell another name"),
    "shapes_broken": (GOOD.replace("NAME", '"p_shapes"').replace("BASELINE", '"rnn_native"')
                      .replace("SHAPES", "lambda i, h: {'kernel': i + 'x'}"),
                      r"cell 'p_shapes': its spec's shapes\(4, 4\) raised TypeError"),
    "shapes_empty": (GOOD.replace("NAME", '"p_empty"').replace("BASELINE", '"rnn_native"')
                     .replace("SHAPES", "lambda i, h: {}"), r"shapes\(4, 4\) returned \{\}; it must return"),
    "baseline": (GOOD.replace("NAME", '"p_baseline"').replace("BASELINE", '"gru0"').replace("SHAPES", "shapes"),
                 r"cell 'p_baseline' names baseline 'gru0', which is not a registered native cell; choose one of "
                 r"gru4, lstm_native, rnn_native"),
    "no_step": (GOOD.replace("NAME", '"p_nostep"').replace("BASELINE", '"rnn_native"').replace("SHAPES", "shapes")
                + "\n@register(NAME)\nclass Cell(CustomRecurrent):\n    pass\n".replace("NAME", '"p_nostep"'),
                r"torch class Cell for cell 'p_nostep' defines neither step\(x_proj_t, state, consts\)"),
    "nothing": ("import numpy\n", r"registered no cell; call bench.cells.register_cell"),
    "no_keras": ("import cells_tf\n", r"imports keras, and Keras is not installed here"),
}

LOAD_EACH = textwrap.dedent('''
    import json, sys
    sys.modules["keras"] = None  # as on a machine without Keras: importing it raises ModuleNotFoundError
    from bench.plan.plugins import PluginError, load_file
    messages = {}
    for path in sys.argv[1:]:
        try:
            load_file(path)
            messages[path] = None
        except PluginError as err:
            messages[path] = str(err)
    print(json.dumps(messages))
''')


def test_each_broken_plugin_is_refused_with_the_file_and_what_to_fix(tmp_path):
    paths = {}
    for name, (content, _) in BAD_PLUGINS.items():
        paths[name] = tmp_path / f"{name}.py"
        paths[name].write_text(content)
    missing, folder = tmp_path / "missing.py", tmp_path
    script = tmp_path / "load_each.py"
    script.write_text(LOAD_EACH)
    done = subprocess.run([sys.executable, str(script), *map(str, paths.values()), str(missing), str(folder)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    messages = json.loads(done.stdout.strip().splitlines()[-1])
    for name, (_, expected) in BAD_PLUGINS.items():
        message = messages[str(paths[name])]
        assert message is not None and str(paths[name]) in message, (name, message)
        assert __import__("re").search(expected, message), (name, message)
    assert messages[str(missing)] == f"plugin {missing} does not exist; give the path of a Python file that " \
                                     "registers cells (docs/adding_a_cell.md)"
    assert "is a folder" in messages[str(folder)]


def test_a_bad_plugin_stops_every_command_before_anything_runs(tmp_path, capsys):
    missing = tmp_path / "nope.py"
    for argv in (["list", "--no-devices"], ["run", "--dry-run"], ["check"], ["replicate", "noise", "--report-only"]):
        assert main([*argv, "--plugin", str(missing)]) == 2
        assert f"error: plugin {missing} does not exist" in capsys.readouterr().err


def test_the_same_file_loads_once_and_its_cells_are_attributed_to_it(tmp_path):
    plugin = tmp_path / "twice.py"
    plugin.write_text(GOOD.replace("NAME", '"p_twice"').replace("BASELINE", '"rnn_native"').replace("SHAPES", "shapes")
                      + TORCH_STEP.replace("NAME", '"p_twice"'))
    script = textwrap.dedent(f'''
        import json
        from bench.cells import cell_origin, implemented_in
        from bench.plan.plugins import load_plugins, plugin_env_value
        first = load_plugins([{str(plugin)!r}, {str(plugin)!r}], from_env=False, entry_points=False)
        print(json.dumps({{"loaded": len(first), "cells": first[0].cells, "origin": cell_origin("p_twice"),
                          "frameworks": implemented_in("p_twice"), "env": plugin_env_value()}}))
    ''')
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"loaded": 1, "cells": ["p_twice"], "origin": str(plugin), "frameworks": ["torch"],
                      "env": str(plugin)}


def test_an_installed_packages_entry_point_registers_its_cells(tmp_path):
    (tmp_path / "demo_cells.py").write_text(
        GOOD.replace("NAME", '"p_entry"').replace("BASELINE", '"rnn_native"').replace("SHAPES", "shapes"))
    script = textwrap.dedent(f'''
        import importlib.metadata, json, sys
        sys.path.insert(0, {str(tmp_path)!r})
        point = importlib.metadata.EntryPoint(name="demo", value="demo_cells", group="rnnbench.cells")
        # as if a package installed with that entry point were present
        importlib.metadata.entry_points = lambda group=None: [point] if group == "rnnbench.cells" else []
        from bench.cells import cell_origin
        from bench.plan.plugins import load_plugins
        (plugin,) = load_plugins(from_env=False)
        print(json.dumps({{"source": plugin.source, "cells": plugin.cells, "origin": cell_origin("p_entry"),
                          "digest": plugin.sha256}}))
    ''')
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["source"] == result["origin"] == "entry point demo (demo_cells)"
    assert result["cells"] == ["p_entry"] and len(result["digest"]) == 64


@pytest.mark.parametrize("given", [["gru0,mgu", "rnn"], ["gru0", "mgu,rnn"], ["gru0, mgu", "rnn"], ["gru0", "mgu", "rnn"]])
def test_cells_take_commas_or_spaces(given):
    for command in (["run", "--cells", *given], ["check", "--cells", *given]):
        assert build_parser().parse_args(command).cells == ["gru0", "mgu", "rnn"]


def test_a_run_of_a_cell_that_one_framework_lacks_says_which_to_use(tmp_path, capsys):
    """A torch-only plugin cell asked for in Keras alone is refused with the framework it has."""
    plugin = tmp_path / "torch_only.py"
    plugin.write_text(GOOD.replace("NAME", '"p_torch_only"').replace("BASELINE", '"rnn_native"')
                      .replace("SHAPES", "shapes") + TORCH_STEP.replace("NAME", '"p_torch_only"'))
    script = textwrap.dedent(f'''
        import sys
        from bench.cli import main
        sys.exit(main(["run", "--plugin", {str(plugin)!r}, "--cells", "p_torch_only", *sys.argv[1:], "--dry-run"]))
    ''')
    done = subprocess.run([sys.executable, "-c", script, "--frameworks", "keras"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2
    assert "cell 'p_torch_only' is implemented in torch only" in done.stderr
    assert "add --frameworks torch" in done.stderr
    both = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert both.returncode == 0 and "p_torch_only/torch-eager" in both.stdout and "keras" not in both.stdout
    # a run over every registered cell in Keras leaves the torch-only cell out rather than refusing
    every = script.replace('"--cells", "p_torch_only", ', "")
    keras_only = subprocess.run([sys.executable, "-c", every, "--frameworks", "keras", "--cells", "gru0", "p_torch_only"],
                                capture_output=True, text=True, timeout=300)
    assert keras_only.returncode == 2 and "implemented in torch only" in keras_only.stderr
    all_cells = subprocess.run([sys.executable, "-c", every, "--frameworks", "keras"], capture_output=True, text=True,
                               timeout=300)
    assert all_cells.returncode == 0 and "gru0/keras" in all_cells.stdout and "p_torch_only" not in all_cells.stdout



BROKEN = GOOD.replace("NAME", '"p_short"').replace("BASELINE", '"rnn_native"').replace("SHAPES", "shapes") + '''
register_cell(CellSpec(name="p_double", family="rnn", native=False, baseline="rnn_native", description="test",
                       shapes=shapes, forward=forward))
register_cell(CellSpec(name="p_nan", family="rnn", native=False, baseline="rnn_native", description="test",
                       shapes=shapes, forward=lambda w, x, s: (forward(w, x, s)[0] * np.nan, forward(w, x, s)[1])))

import torch

class Tanh(CustomRecurrent):
    def step(self, x_t, state, consts):
        h = torch.tanh(x_t + state[0] @ consts[0])
        return h, (h,)

@register("p_short")
class Short(Tanh):
    def sequence(self, x_proj, state, consts):
        outputs, final = super().sequence(x_proj, state, consts)
        return outputs[:, 1:], final  # one time step too few

@register("p_double")
class Double(Tanh):
    def sequence(self, x_proj, state, consts):
        outputs, final = super().sequence(x_proj, state, consts)
        return outputs.double(), final  # float64 out of float32 in

register("p_nan")(type("NaNRef", (Tanh,), {}))  # the implementation is fine; its reference is NaN
'''


def test_bench_check_turns_a_broken_implementation_or_reference_into_failing_rows(tmp_path):
    plugin = tmp_path / "broken.py"
    plugin.write_text(BROKEN)
    done = subprocess.run([sys.executable, "-m", "bench", "check", str(plugin), "--correctness-only"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    table = __import__("re").sub(" +", " ", done.stdout)
    assert "| p_short | forward B3 T5 I4 H6 | torch | FAIL | raised ImplementationError: torch p_short returned " \
           "outputs of shape (3, 4, 6) for inputs (batch 3, time 5); expected (batch, time, hidden) = (3, 5, 6)" in table
    assert "| p_double | forward B3 T5 I4 H6 | torch | FAIL | raised ImplementationError: torch p_double returned " \
           "float64 values from float32 inputs and weights" in table
    assert "| p_nan | reference B3 T5 I4 H6 | numpy | FAIL | the NumPy reference's outputs hold NaN or infinity " \
           "| time step 0, output unit 0 (batch row 0)" in table
    assert "training" not in table  # nothing failing is trained or timed
