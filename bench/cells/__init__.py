"""The cell registry: `list_cells()`, `get_spec(name)`, `register_cell(spec)`.

Importing this package registers every family module below; a new cell registers a
`CellSpec` in its family module (or a new module imported here), or in a plugin file of
its own (bench.plan.plugins, docs/adding_a_cell.md), and is tested at once.
"""

from bench.cells.spec import (CellSpec, Equivalence, SizeRefused, UnknownCellError, cell_origin, get_spec, implemented_in,
                              list_cells, register_cell)

# Family modules register their specs on import.
from bench.cells import gated, gru_native_math, lstm, rnn  # noqa: E402,F401

__all__ = ["CellSpec", "Equivalence", "SizeRefused", "UnknownCellError", "cell_origin", "get_spec", "implemented_in", "list_cells",
           "register_cell"]
