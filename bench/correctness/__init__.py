"""Is a registered cell correct? Checks against its NumPy reference, the other framework and its twin.

`check_cell` returns one `CheckRow` per check (the table `bench check` prints);
`require_correct` is the gate a timing job passes before any step of it is timed.
"""

from bench.correctness.checks import IncorrectCell, check_cell, require_correct
from bench.correctness.deviation import Deviation, Tolerance
from bench.correctness.rows import CheckRow

__all__ = ["CheckRow", "Deviation", "IncorrectCell", "Tolerance", "check_cell", "require_correct"]
