"""The cell registry: `list_cells()`, `get_spec(name)`.

Importing this package registers every family module below; a new cell registers a
`CellSpec` in its family module (or a new module imported here) and is tested at once.
"""

from bench.cells.spec import CellSpec, UnknownCellError, get_spec, list_cells, register_cell

# Family modules register their specs on import.
from bench.cells import gated, gru_native_math, lstm, rnn  # noqa: E402,F401

__all__ = ["CellSpec", "UnknownCellError", "get_spec", "list_cells", "register_cell"]
