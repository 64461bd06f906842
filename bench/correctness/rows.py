"""`CheckRow`: one line of a cell's verdict table."""

from __future__ import annotations

from dataclasses import dataclass

PASS, FAIL, NOT_APPLICABLE, INFO = "pass", "FAIL", "n/a", "info"  # the verdicts a row can have


@dataclass(frozen=True)
class CheckRow:
    """One check of one cell in one framework."""

    cell: str  # registry name
    check: str  # what was checked, e.g. "forward B3 T5 I4 H6" or "gradients vs finite differences"
    framework: str  # "torch", "keras", "numpy" (the reference itself) or "keras vs torch"
    verdict: str  # PASS, FAIL, NOT_APPLICABLE or INFO (training and timing: figures, not judgements)
    figure: str  # the measured number and what it was held to, or why the row does not apply
    where: str = ""  # for a failure: where the worst deviation is (time step, output unit, weight element)
    correctness: bool = True  # False for the informational rows (training, step time), which never fail

    @property
    def failed(self) -> bool:
        return self.verdict == FAIL

    def as_list(self) -> list[str]:
        return [self.cell, self.check, self.framework, self.verdict, self.figure, self.where]


HEADERS = ["cell", "check", "framework", "verdict", "figure", "where"]
