"""Shared test set-up: where the real datasets are, quiet framework logs, and the user's own cells.

Cells in the plugin files named by $RNNBENCH_PLUGINS are registered before the test modules
are collected, so every per-cell test runs on them too:
`RNNBENCH_PLUGINS=my_cell.py pytest tests/test_cells_torch.py tests/test_cells_tf.py`.
"""

import os
from pathlib import Path

import pytest

from bench.cells import SizeRefused, list_cells
from cell_cases import ONLY_CELLS_ENV, cells_of

# Tests and CI read the verified datasets from ../shared/data beside the checkout.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if SHARED_DATA.is_dir():
    os.environ.setdefault("RNNBENCH_DATA_DIR", str(SHARED_DATA))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# the files that take minutes run first, then the other files with slow tests: `tox -e test` spreads files
# over two workers (pytest-xdist, --dist loadfile, --no-loadscope-reorder so that xdist keeps this order
# instead of putting the files with the most tests first), and a long file started last would leave the
# other worker idle at the end
LONGEST_FILES = ("test_keras_on_jax.py", "test_adding_a_cell_doc.py")


def pytest_collection_modifyitems(config, items):
    if os.environ.get(ONLY_CELLS_ENV):
        keep, registered = set(os.environ[ONLY_CELLS_ENV].split(",")), set(list_cells())
        if keep - registered:
            raise pytest.UsageError(f"${ONLY_CELLS_ENV} names unregistered cells {sorted(keep - registered)}; "
                                    f"choose from {', '.join(sorted(registered))}")
        kept, dropped = [], []
        for item in items:
            (dropped if cells_of(item) & registered - keep else kept).append(item)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    # stable: within each group the files keep their order
    items.sort(key=lambda item: (item.path.name not in LONGEST_FILES, item.path not in slow_files))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """A case at a size the cell refuses (bench.cells.SizeRefused, plugin cells only) is skipped with the reason."""
    outcome = yield
    error = outcome.excinfo[1] if outcome.excinfo else None
    if isinstance(error, SizeRefused):
        outcome.force_exception(pytest.skip.Exception(str(error), _use_item_location=True))


if os.environ.get("RNNBENCH_PLUGINS"):
    from bench.plan.plugins import load_plugins

    load_plugins(entry_points=False)
