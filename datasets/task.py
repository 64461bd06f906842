"""`Task`: the arrays of one task and what the harness needs to know to train on them.

The constructor checks the whole contract (dtypes, shapes, label ranges, lengths), so
a loader bug surfaces here with a message instead of as a shape error deep inside a
framework.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import TaskContractError

KINDS = ("classify", "per_step", "regress")
LOSSES = ("cross_entropy", "bce", "mse", "sigmoid_mse")  # sigmoid_mse: squared error of sigmoid(output), 0/1 targets
METRICS = ("accuracy", "bit_accuracy", "mse")
SPLITS = ("train", "val", "test")
# The loss and metric a task of each kind gets unless its loader says otherwise.
DEFAULT_LOSS = {"classify": "cross_entropy", "per_step": "bce", "regress": "mse"}
DEFAULT_METRIC = {"classify": "accuracy", "per_step": "bit_accuracy", "regress": "mse"}

# (x, y, lengths or None): one evaluation set.
SplitArrays = tuple[np.ndarray, np.ndarray, "np.ndarray | None"]


@dataclass
class Task:
    """One loaded task: three splits (disjoint unless a source's protocol scores test as validation) plus how to
    train and score on them."""

    name: str  # registry key
    kind: str  # "classify": one label per sequence, read at the last valid step;
    #            "per_step": a target at every step; "regress": one target vector per sequence
    x_train: np.ndarray  # float32 (N, T, input_size), or int64 (N, T) token ids when vocab_size is set
    # classify: int64 (N,); per_step: float32 (N, T, num_outputs); regress: float32 (N, num_outputs)
    y_train: np.ndarray
    x_val: np.ndarray  # as x_train
    y_val: np.ndarray  # as y_train
    x_test: np.ndarray  # as x_train
    y_test: np.ndarray  # as y_train
    num_outputs: int  # classes for classify, output units otherwise
    input_size: int | None  # features per step; None for token tasks
    seq_len: int | None  # steps per sequence; None when lengths vary (then lengths_* are set)
    lengths_train: np.ndarray | None = None  # int64 (N,) valid steps; padding is at the END
    lengths_val: np.ndarray | None = None  # as lengths_train
    lengths_test: np.ndarray | None = None  # as lengths_train
    # int64 (N,) batch group of each training sequence: a training batch then holds rows of one group only
    # (a source that fed one sequence length per batch); None: a batch draws from every row
    groups_train: np.ndarray | None = None
    vocab_size: int | None = None  # token tasks only: ids 0 (padding), 1 (out of vocabulary), 2.. words
    loss: str | None = None  # "cross_entropy" | "bce" | "mse" | "sigmoid_mse"; None: the default for `kind`
    metric: str | None = None  # "accuracy" | "bit_accuracy" | "mse"; None: the default for `kind`
    extra_tests: dict[str, SplitArrays] = field(default_factory=dict)  # name -> (x, y, lengths or None)
    # how the model reads its prediction out (bench.cells.model_config.HEADS); None: by kind (a dense head).
    # "state": the last step's state itself, as a source trained without a head (num_outputs = hidden size)
    readout: str | None = None
    info: dict = field(default_factory=dict)  # provenance, JSON-serialisable: source, files, digests, options
    # split -> rows of the source that split holds (per task: see its loader); {} for generated data
    indices: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    # token tasks: the word of each id (ids 0 and 1 are "<pad>" and "<oov>")
    vocab: list[str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.loss is None:
            self.loss = DEFAULT_LOSS.get(self.kind)
        if self.metric is None:
            self.metric = DEFAULT_METRIC.get(self.kind)
        _check_task(self)

    def split(self, which: str) -> SplitArrays:
        """(x, y, lengths or None) of "train", "val" or "test"."""
        if which not in SPLITS:
            raise ValueError(f"unknown split {which!r}; expected one of {SPLITS}")
        return getattr(self, f"x_{which}"), getattr(self, f"y_{which}"), getattr(self, f"lengths_{which}")

    def sizes(self) -> dict[str, int]:
        """Number of sequences in each split."""
        return {s: int(len(getattr(self, f"y_{s}"))) for s in SPLITS}


def _fail(task: Task, what: str) -> None:
    raise TaskContractError(f"task {task.name!r}: {what} (a loader bug: the Task contract is in datasets/task.py)")


def _check_task(task: Task) -> None:
    if task.kind not in KINDS:
        _fail(task, f"kind must be one of {KINDS}, got {task.kind!r}")
    if task.loss not in LOSSES:
        _fail(task, f"loss must be one of {LOSSES}, got {task.loss!r}")
    if task.metric not in METRICS:
        _fail(task, f"metric must be one of {METRICS}, got {task.metric!r}")
    if not isinstance(task.num_outputs, int) or task.num_outputs < 1:
        _fail(task, f"num_outputs must be a positive int, got {task.num_outputs!r}")
    if task.vocab_size is None:
        if not isinstance(task.input_size, int) or task.input_size < 1:
            _fail(task, f"input_size must be a positive int for a non-token task, got {task.input_size!r}")
    elif task.input_size is not None:
        _fail(task, "a token task (vocab_size set) must have input_size None")
    if task.vocab is not None and len(task.vocab) != task.vocab_size:
        _fail(task, f"vocab has {len(task.vocab)} words but vocab_size is {task.vocab_size}")
    for split in SPLITS:
        x, y, lengths = task.split(split)
        _check_arrays(task, split, x, y, lengths, is_split=True)
    groups = task.groups_train
    if groups is not None and (not isinstance(groups, np.ndarray) or groups.dtype != np.int64
                               or groups.shape != (len(task.y_train),)):
        _fail(task, f"groups_train must be int64 ({len(task.y_train)},), got "
                    f"{getattr(groups, 'dtype', type(groups))} {getattr(groups, 'shape', '')}")
    for name, arrays in task.extra_tests.items():
        if not (isinstance(arrays, tuple) and len(arrays) == 3):
            _fail(task, f"extra_tests[{name!r}] must be a tuple (x, y, lengths or None)")
        _check_arrays(task, f"extra_tests[{name!r}]", *arrays, is_split=False)


def _check_arrays(task: Task, label: str, x, y, lengths, is_split: bool) -> None:
    """One split (is_split: its length must match seq_len) or one extra test set (any length)."""
    if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
        _fail(task, f"{label}: x and y must be NumPy arrays")
    n = len(x)
    if n < 1 or len(y) != n:
        _fail(task, f"{label}: needs at least one sequence and as many targets as inputs, got {len(x)} and {len(y)}")
    if task.vocab_size is None:
        if x.dtype != np.float32 or x.ndim != 3 or x.shape[2] != task.input_size:
            _fail(task, f"{label}: x must be float32 (N, T, {task.input_size}), got {x.dtype} {x.shape}")
    else:
        if x.dtype != np.int64 or x.ndim != 2:
            _fail(task, f"{label}: token ids must be int64 (N, T), got {x.dtype} {x.shape}")
        if x.min() < 0 or x.max() >= task.vocab_size:
            _fail(task, f"{label}: token ids must lie in [0, {task.vocab_size})")
    steps = x.shape[1]
    if is_split and task.seq_len is not None and steps != task.seq_len:
        _fail(task, f"{label}: seq_len is {task.seq_len} but x has {steps} steps")
    _check_targets(task, label, y, n, steps)
    if lengths is None:
        if is_split and task.seq_len is None:
            _fail(task, f"{label}: seq_len is None, so lengths must be given")
        return
    if is_split and task.seq_len is not None:
        _fail(task, f"{label}: lengths given although seq_len is fixed at {task.seq_len}")
    if not isinstance(lengths, np.ndarray) or lengths.dtype != np.int64 or lengths.shape != (n,):
        _fail(task, f"{label}: lengths must be int64 ({n},), got {getattr(lengths, 'dtype', type(lengths))} "
                    f"{getattr(lengths, 'shape', '')}")
    if lengths.min() < 1 or lengths.max() > steps:
        _fail(task, f"{label}: lengths must lie in [1, {steps}]")


def _check_targets(task: Task, label: str, y: np.ndarray, n: int, steps: int) -> None:
    if task.kind == "classify":
        if y.dtype != np.int64 or y.shape != (n,):
            _fail(task, f"{label}: classify targets must be int64 ({n},), got {y.dtype} {y.shape}")
        if y.min() < 0 or y.max() >= task.num_outputs:
            _fail(task, f"{label}: labels must lie in [0, {task.num_outputs})")
    elif task.kind == "per_step":
        if y.dtype != np.float32 or y.shape != (n, steps, task.num_outputs):
            _fail(task, f"{label}: per-step targets must be float32 ({n}, {steps}, {task.num_outputs}), "
                        f"got {y.dtype} {y.shape}")
    elif y.dtype != np.float32 or y.shape != (n, task.num_outputs):
        _fail(task, f"{label}: regression targets must be float32 ({n}, {task.num_outputs}), got {y.dtype} {y.shape}")
