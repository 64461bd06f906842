"""Which registered cells each test module parametrizes over, and the skip for a size a cell refuses.

Built-in cells are in both frameworks; a plugin cell ($RNNBENCH_PLUGINS, loaded by conftest.py)
may be in one, so each framework's tests take that framework's own list.
"""

import pytest

from bench.cells import SizeRefused, cell_origin, get_spec, list_cells


# a comma-separated list of registered cells: conftest.py deselects the cases parametrized with another cell
# (the Keras-on-JAX rerun, test_keras_on_jax.py, runs one cell of each family and kind)
ONLY_CELLS_ENV = "RNNBENCH_TEST_CELLS"
CELL_PARAMETERS = ("name", "cell", "custom")  # the parameter names the per-cell tests give a registry name


def cells_of(item: pytest.Item) -> set[str]:
    """The registry names a collected test case is parametrized with."""
    params = item.callspec.params if hasattr(item, "callspec") else {}
    return {value for key, value in params.items() if key in CELL_PARAMETERS and isinstance(value, str)}


def builtin_cells() -> list[str]:
    """The cells the project itself registers (no plugin)."""
    return [name for name in list_cells() if cell_origin(name) is None]


def skip_unless_fits(name: str, input_size: int, hidden_size: int) -> None:
    """Skip a case whose sizes the cell's spec refuses (e.g. a cell whose hidden size must equal its input).

    conftest.py does the same for a refusal raised anywhere inside a test; this is for the tests
    that would otherwise reach a size check of their own first.
    """
    try:
        get_spec(name).weight_shapes(input_size, hidden_size)
    except SizeRefused as err:
        pytest.skip(str(err))


def skip_unless_finite(name: str, *outputs) -> None:
    """Skip a comparison where the cell itself overflows (a plugin cell with no squashing can); built-ins never do."""
    import numpy as np

    for output in outputs:
        values = output.detach().numpy() if hasattr(output, "detach") else np.asarray(output)
        if not np.all(np.isfinite(values)) and cell_origin(name) is not None:
            pytest.skip(f"{name}'s outputs overflow on these inputs: nothing finite to compare")
