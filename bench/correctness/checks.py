"""Every correctness check of one cell, as rows: reference, gradients, frameworks, count, twin.

Shapes are tiny on purpose: gradients without a hand-written backward come from central
finite differences of the float64 NumPy forward, two forward passes per element.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.cells import CellSpec, get_spec, implemented_in
from bench.correctness.deviation import (FORWARD_TOLERANCE, GRADIENT_TOLERANCE, PAIR_TOLERANCE,
                                         REFERENCE_GRADIENT_TOLERANCE, REFERENCE_PAIR_TOLERANCE, Deviation, Tolerance,
                                         deviation, where_in_input, where_in_sequence)
from bench.correctness.frameworks import LayerRun, installed, run_layer, run_torch_float64
from bench.correctness.rows import FAIL, NOT_APPLICABLE, PASS, CheckRow
from bench.plan.modes import Mode

# (batch, time, input, hidden): input below hidden, then above it
SHAPES = ((3, 5, 4, 6), (2, 4, 7, 5))
SQUARE_SHAPE = (3, 5, 5, 5)  # for a cell that refuses both (its hidden size must equal its input size)
COUNT_SIZES = ((4, 6), (7, 5), (28, 128), (28, 28))  # (input, hidden) where counts are compared (those that fit)
SEED = 0  # the random weights, inputs and cotangents of every check (distinct values, never constants)
WEIGHT_SCALE = 0.5  # random canonical weights are U(-scale, scale)


class IncorrectCell(RuntimeError):
    """A cell failed a correctness check; the message lists the failing rows."""


@dataclass
class _Case:
    """One shape's random inputs and the reference's answers for them."""

    label: str  # "B3 T5 I4 H6"
    weights: dict[str, np.ndarray]
    x: np.ndarray
    d_outputs: np.ndarray
    initial_state: tuple[np.ndarray, ...]
    outputs: np.ndarray  # reference outputs
    final_state: tuple[np.ndarray, ...]  # reference final state
    outputs_from_state: np.ndarray  # reference outputs from `initial_state`
    d_x: np.ndarray  # reference gradients: spec backward, or finite differences
    d_weights: dict[str, np.ndarray]


def check_cell(name: str, frameworks: tuple[str, ...] | None = None) -> list[CheckRow]:
    """All correctness rows for `name` in the frameworks that implement it (and are installed)."""
    spec = get_spec(name)
    present = [f for f in implemented_in(name) if installed(f) and (frameworks is None or f in frameworks)]
    rows: list[CheckRow] = []
    if not present:
        wanted = ", ".join(frameworks) if frameworks else "torch or Keras"
        rows.append(CheckRow(name, "implementation", wanted, FAIL, "no implementation to check: register a torch "
                             "class (cells_torch.register) or a Keras cell (cells_tf.register_cell_class), and have "
                             "its framework installed"))
    runs_by_shape: dict[str, dict[str, LayerRun]] = {}
    try:
        shapes = _shapes_for(spec)
    except ValueError as err:
        return rows + [CheckRow(name, "shapes", "numpy", FAIL, str(err))]
    for shape in shapes:
        case, problem = _case(spec, shape)
        if case is None:
            rows.append(problem)
            continue
        rows += _reference_rows(spec, case, first=shape == SHAPES[0])
        runs = runs_by_shape.setdefault(case.label, {})
        for framework in present:
            rows += _framework_rows(spec, framework, case, runs)
        rows.append(_cross_row(spec, case, runs, present))
    rows += [_count_row(spec, framework) for framework in present]
    rows += _equivalence_rows(spec, present)
    return rows


def _shapes_for(spec: CellSpec) -> tuple[tuple[int, int, int, int], ...]:
    """The checker's shapes, or the square one where the cell refuses both (a refused shape is still listed)."""
    if any(_fits(spec, shape) for shape in SHAPES):
        return SHAPES
    if _fits(spec, SQUARE_SHAPE):
        return SHAPES + (SQUARE_SHAPE,)
    raise_shapes = ", ".join(f"I{s[2]} H{s[3]}" for s in SHAPES + (SQUARE_SHAPE,))
    raise ValueError(f"{spec.name}: its spec refuses every shape the checker tries ({raise_shapes})")


def require_correct(name: str, framework: str, mode: Mode | None = None,
                    sizes: tuple[int, int, int, int] | None = None) -> None:
    """The timing gate: raise IncorrectCell unless `name` matches its reference in `framework`.

    In a mode that `checks_job_sizes` (compiled_scan: a hand-written torch cell's time loop as the scan
    operator under torch.compile) that is what is checked: the layer compiled as the mode compiles it against
    the reference at the checker's shape, and against the eager loop (held to the reference) at the job's own
    `sizes` (batch, input, hidden, steps), since a compiler can get a gradient wrong at one shape and right at
    another (torch 2.13's Inductor does: gru0's recurrent-kernel gradient is wrong at T 64 and right at T 28
    and 256).
    """
    spec = get_spec(name)
    scan = mode is not None and mode.checks_job_sizes and framework == "torch" and uses_scan_loop(name)
    compiled = mode if scan else None
    rows: list[CheckRow] = []
    for shape in SHAPES + (SQUARE_SHAPE,):
        case, problem = _case(spec, shape)
        if case is not None:
            rows += _framework_rows(spec, framework, case, {}, compiled=compiled)
            break
    if compiled is not None and sizes is not None and not any(row.failed for row in rows):
        rows.append(_compiled_against_loop(spec, compiled, *sizes))
    failed = [row for row in rows if row.failed]
    if not rows or failed:
        what = "; ".join(f"{r.check}: {r.figure}" + (f" at {r.where}" if r.where else "") for r in failed) or \
            "no shape of the checker's fits the cell"
        where = f"{framework} {mode.name} mode" if compiled is not None else framework
        against = "its NumPy reference, or compiled its checked eager loop" if scan else "its NumPy reference"
        raise IncorrectCell(f"{name} in {where} is not timed: it does not match {against} ({what}). "
                            f"`python -m bench check` shows every check")


def _compiled_against_loop(spec: CellSpec, mode: Mode, batch: int, input_size: int, hidden: int,
                           steps: int) -> CheckRow:
    """The layer compiled as `mode` compiles it, at a job's own sizes, against the float64 eager loop, normwise.

    At a long sequence a gradient sums B·T float32 terms that largely cancel, so its rounding error scales
    with the terms, not with the sum (mgu at B16 T1024: 6e-4 on a bias gradient element near zero, where
    the float32 loop happened to be off 7e-5): each array is held to its tolerance relative to its own
    largest value, which a wrong gradient still misses by orders of magnitude.
    """
    rng = np.random.default_rng([SEED, batch, input_size, hidden, steps])
    # at the initialisers' scale, U(±1/√H): at WEIGHT_SCALE a long sequence's gradients explode
    weights = spec.random_canonical(input_size, hidden, rng, scale=min(WEIGHT_SCALE, 1 / np.sqrt(hidden)))
    x = rng.uniform(-1.0, 1.0, (batch, steps, input_size)).astype(np.float32)
    d_outputs = rng.normal(size=(batch, steps, hidden)).astype(np.float32)
    check = f"compiled scan vs float64 loop B{batch} I{input_size} H{hidden} T{steps}, normwise"
    try:
        exact = run_torch_float64(spec.name, weights, x, d_outputs)
        scan = run_layer("torch", spec.name, weights, x, d_outputs, compiled=mode)
    except Exception as err:  # noqa: BLE001 - the operator refusing a cell is that cell's result in this mode
        return CheckRow(spec.name, check, "torch", FAIL, f"raised {type(err).__name__}: {err}")
    outputs = deviation(scan.outputs, exact.outputs, _normwise(exact.outputs, PAIR_TOLERANCE))
    gradients = _worst_gradient(scan.d_x, scan.d_weights, exact.d_x, exact.d_weights, GRADIENT_TOLERANCE,
                                normwise=True)
    worst = (outputs, where_in_sequence(outputs.index)) if outputs.excess >= gradients[0].excess else gradients
    return _row(spec, check, "torch", *worst)


def _normwise(want: np.ndarray, tolerance: Tolerance) -> Tolerance:
    """`tolerance` with its relative part taken of the array's largest value, for every element."""
    return Tolerance(atol=tolerance.atol + tolerance.rtol * float(np.max(np.abs(want), initial=0.0)),
                     rtol=tolerance.rtol)


def uses_scan_loop(name: str) -> bool:
    """Whether a torch mode's time loop changes how `name` runs: a hand-written cell on the default `sequence`."""
    import cells_torch
    from cells_torch import CustomRecurrent

    cls = cells_torch.layer_class(name)
    return issubclass(cls, CustomRecurrent) and cls.sequence is CustomRecurrent.sequence


# -- the cases -------------------------------------------------------------------------------------

def _case(spec: CellSpec, shape: tuple[int, int, int, int]) -> tuple[_Case | None, CheckRow | None]:
    batch, steps, input_size, hidden = shape
    label = f"B{batch} T{steps} I{input_size} H{hidden}"
    try:
        spec.weight_shapes(input_size, hidden)
    except ValueError as err:  # a cell may refuse a size (e.g. hidden must equal input): not a failure
        return None, CheckRow(spec.name, f"shape {label}", "all", NOT_APPLICABLE, f"the cell refuses it: {err}")
    rng = np.random.default_rng([SEED, batch, steps, input_size, hidden])
    weights = spec.random_canonical(input_size, hidden, rng, scale=WEIGHT_SCALE)
    x = rng.uniform(-1.0, 1.0, (batch, steps, input_size)).astype(np.float32)
    d_outputs = rng.normal(size=(batch, steps, hidden)).astype(np.float32)
    initial = tuple(rng.uniform(-0.5, 0.5, (batch, hidden)).astype(np.float32) for _ in range(spec.state_size))
    try:
        outputs, final = spec.reference_forward(weights, x)
        from_state, _ = spec.reference_forward(weights, x, initial)
        d_x, d_weights = spec.reference_grad(weights, x, d_outputs)
    except Exception as err:  # noqa: BLE001 - a broken reference is the cell's failure, reported as such
        return None, CheckRow(spec.name, f"reference {label}", "numpy", FAIL, f"raised {type(err).__name__}: {err}")
    for label_part, value in (("outputs", outputs), ("gradients", d_x)):
        if not np.all(np.isfinite(value)):
            index = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
            return None, CheckRow(spec.name, f"reference {label}", "numpy", FAIL,
                                  f"the NumPy reference's {label_part} hold NaN or infinity",
                                  where_in_sequence(index) if label_part == "outputs" else where_in_input(index))
    return _Case(label, weights, x, d_outputs, initial, outputs, tuple(final), from_state, d_x, d_weights), None


def _reference_rows(spec: CellSpec, case: _Case, first: bool) -> list[CheckRow]:
    """The reference's own backward against finite differences, where it has one (at the first shape)."""
    if not first:
        return []
    if spec.backward is None:
        return [CheckRow(spec.name, "reference backward", "numpy", NOT_APPLICABLE,
                         "no NumPy backward given: gradients are checked against finite differences of the forward")]
    fd_x, fd_weights = spec.finite_difference_grad(case.weights, case.x, case.d_outputs)
    worst = _worst_gradient(case.d_x, case.d_weights, fd_x, fd_weights, REFERENCE_GRADIENT_TOLERANCE)
    return [_row(spec, f"reference backward vs finite differences {case.label}", "numpy", *worst)]


# -- one framework ------------------------------------------------------------------------------

def _framework_rows(spec: CellSpec, framework: str, case: _Case, runs: dict[str, LayerRun],
                    compiled: Mode | None = None) -> list[CheckRow]:
    try:
        run = run_layer(framework, spec.name, case.weights, case.x, case.d_outputs, compiled=compiled)
        from_state = run_layer(framework, spec.name, case.weights, case.x, initial_state=case.initial_state,
                               compiled=compiled)
    except Exception as err:  # noqa: BLE001 - an implementation that raises fails its row, the check goes on
        return [CheckRow(spec.name, f"forward {case.label}", framework, FAIL, f"raised {type(err).__name__}: {err}")]
    runs[framework] = run
    outputs = deviation(run.outputs, case.outputs, FORWARD_TOLERANCE)
    found = [(outputs, where_in_sequence(outputs.index))]
    for got, want in zip(run.final_state, case.final_state):
        state = deviation(got, want, FORWARD_TOLERANCE)
        found.append((state, f"final state: output unit {state.index[1]} (batch row {state.index[0]})"))
    started = deviation(from_state.outputs, case.outputs_from_state, FORWARD_TOLERANCE)
    found.append((started, "from a given initial state: " + where_in_sequence(started.index)))
    gradient_check = ("gradients vs NumPy backward" if spec.backward is not None
                      else "gradients vs finite differences")
    return [
        _row(spec, f"forward {case.label} (outputs, final state, from a given state)", framework,
             *max(found, key=lambda pair: pair[0].excess)),
        _row(spec, f"{gradient_check} {case.label}", framework,
             *_worst_gradient(run.d_x, run.d_weights, case.d_x, case.d_weights, GRADIENT_TOLERANCE)),
    ]


def _cross_row(spec: CellSpec, case: _Case, runs: dict[str, LayerRun], present: list[str]) -> CheckRow:
    label = f"keras vs torch {case.label}"
    if len(present) < 2:
        only = f"{present[0]} only" if present else "no framework"
        return CheckRow(spec.name, label, "keras vs torch", NOT_APPLICABLE, f"{only}: nothing to compare")
    if len(runs) < 2:
        return CheckRow(spec.name, label, "keras vs torch", NOT_APPLICABLE, "a framework failed to run (above)")
    keras_run, torch_run = runs["keras"], runs["torch"]
    outputs = deviation(keras_run.outputs, torch_run.outputs, PAIR_TOLERANCE)
    gradients = _worst_gradient(keras_run.d_x, keras_run.d_weights, torch_run.d_x, torch_run.d_weights,
                                GRADIENT_TOLERANCE)
    worst = (outputs, where_in_sequence(outputs.index)) if outputs.excess >= gradients[0].excess else gradients
    return _row(spec, label + " (outputs and gradients)", "keras vs torch", *worst)


def _count_row(spec: CellSpec, framework: str) -> CheckRow:
    compared = []
    for input_size, hidden in COUNT_SIZES:
        try:
            weights = spec.random_canonical(input_size, hidden, np.random.default_rng(SEED))
        except ValueError:
            continue
        compared.append(f"I{input_size} H{hidden}")
        expected = spec.param_count(input_size, hidden, framework)
        try:
            counted = _count(framework, spec.name, weights, input_size)
        except Exception as err:  # noqa: BLE001
            return CheckRow(spec.name, "parameter count", framework, FAIL, f"raised {type(err).__name__}: {err}")
        if counted != expected:
            return CheckRow(spec.name, "parameter count", framework, FAIL,
                            f"{counted:,} parameters, the spec's closed form says {expected:,}",
                            f"input {input_size}, hidden {hidden}")
    if not compared:
        return CheckRow(spec.name, "parameter count", framework, FAIL, "the spec refuses every size tried")
    return CheckRow(spec.name, "parameter count", framework, PASS,
                    f"equals the spec's closed form at {', '.join(compared)}")


def _count(framework: str, name: str, weights: dict[str, np.ndarray], input_size: int) -> int:
    x = np.zeros((1, 1, input_size), np.float32)
    return run_layer(framework, name, weights, x).param_count


def _equivalence_rows(spec: CellSpec, present: list[str]) -> list[CheckRow]:
    if spec.equivalent is None:
        return []
    twin = get_spec(spec.equivalent.cell)
    rows = []
    fitting = [s for s in SHAPES + (SQUARE_SHAPE,) if _fits(spec, s) and _fits(twin, s)]
    if not fitting:
        return [CheckRow(spec.name, f"equals {twin.name}", "numpy", FAIL, "no shape fits both cells")]
    batch, steps, input_size, hidden = fitting[0]
    rng = np.random.default_rng([SEED, 1])
    weights = spec.random_canonical(input_size, hidden, rng, scale=WEIGHT_SCALE)
    mapped = spec.equivalent.weights(weights)
    x = rng.uniform(-1.0, 1.0, (batch, steps, input_size)).astype(np.float32)
    check = f"equals {twin.name} with mapped weights"
    try:
        want = twin.reference(mapped, x)
        got = spec.reference(weights, x)
    except Exception as err:  # noqa: BLE001
        return [CheckRow(spec.name, check, "numpy", FAIL, f"raised {type(err).__name__}: {err}")]
    reference = deviation(got, want, REFERENCE_PAIR_TOLERANCE)
    rows.append(_row(spec, check, "numpy", reference, where_in_sequence(reference.index)))
    for framework in present:
        if framework not in implemented_in(twin.name) or not installed(framework):
            continue
        try:
            mine = run_layer(framework, spec.name, weights, x).outputs
            theirs = run_layer(framework, twin.name, mapped, x).outputs
        except Exception as err:  # noqa: BLE001
            rows.append(CheckRow(spec.name, check, framework, FAIL, f"raised {type(err).__name__}: {err}"))
            continue
        pair = deviation(mine, theirs, PAIR_TOLERANCE)
        rows.append(_row(spec, check, framework, pair, where_in_sequence(pair.index)))
    return rows


# -- helpers ----------------------------------------------------------------------------------------

def _fits(spec: CellSpec, shape: tuple[int, int, int, int]) -> bool:
    try:
        spec.weight_shapes(shape[2], shape[3])
        return True
    except ValueError:
        return False


def _row(spec: CellSpec, check: str, framework: str, worst: Deviation, where: str) -> CheckRow:
    return CheckRow(spec.name, check, framework, PASS if worst.ok else FAIL, worst.figure(),
                    "" if worst.ok else where)


def _worst_gradient(d_x, d_weights, want_x, want_weights, tolerance: Tolerance,
                    normwise: bool = False) -> tuple[Deviation, str]:
    """The gradient furthest outside `tolerance` (normwise: taken per array of its largest value), and where."""
    held = (lambda want: _normwise(want, tolerance)) if normwise else (lambda want: tolerance)
    found = [(deviation(d_x, want_x, held(want_x)), where_in_input)]
    for name, want in want_weights.items():
        found.append((deviation(d_weights[name], want, held(want)),
                      lambda i, name=name: f"d weight {name!r}[{', '.join(map(str, i))}]"))
    worst, where = max(found, key=lambda pair: pair[0].excess)
    return worst, where(worst.index)
