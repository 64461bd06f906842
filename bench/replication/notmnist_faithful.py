"""notMNIST, GRU vs MGU, as the source ran it: its hand-written GRU, its batch size, its validation split.

The `notmnist` experiment runs the native GRU at batch 100 and scores a carved-out split. This
one copies the source's protocol: the source's GRU was written by hand, reset-before with the
update gate selecting the new candidate (our `gru0`); Keras's default batch of 32; no duplicate
dropping; 80/20, with the 20% part scored as validation after the last epoch. The data sample
(10,000 of notMNIST_small's 18,724 images) is the one difference left.
"""

from __future__ import annotations

from bench.plan.jobs import Axes
from bench.replication.experiment import Experiment
from bench.replication.notmnist import SEEDS, SIZES, published_references
from bench.plan.suites import Suite

# the source's "GRU" is our gru0 (see the module docstring); its MGU is ours
CELL_OF_SOURCE = {"gru4": "gru0", "mgu": "mgu"}
SOURCE_OPTIONS = (("dedupe", False), ("val_is_test", True))
COMMON = dict(tasks=("notmnist",), measure="train", cells=tuple(CELL_OF_SOURCE.values()), batch_sizes=(32,),
              epochs=20, lrs=(1e-3,), task_options=SOURCE_OPTIONS, seeds=SEEDS)
CPU_SIZE = SIZES[0]  # (1, 128): the others are the GPU suite's

SUITE = Suite(
    name="repl-notmnist-faithful",
    description="replication as the source ran it: notMNIST (10k sample, no dedupe, 80/20, the 20% scored) gru0 vs "
                "mgu, 1x128, Adam 1e-3, batch 32, 20 epochs, seeds 1000-1002, both frameworks (CPU)",
    device="cpu",
    grids=tuple(Axes(frameworks=(framework,), num_layers=(CPU_SIZE[0],), hidden_sizes=(CPU_SIZE[1],), **COMMON)
                for framework in ("keras", "torch")),  # Keras first: the source's own framework
    references=published_references(CELL_OF_SOURCE, faithful=True),
)

# (2, 256) in Keras on CPU is the notMNIST grid's (2, 256) Keras run, job for job (same ids): `bench replicate`
# copies those records rather than running the jobs again
SHARED_WITH_GRID = (2, 256)
KERAS_SUITE = Suite(
    name="repl-notmnist-faithful-keras",
    description="replication as the source ran it, (2,256) in Keras (the source's framework) on CPU: the same jobs "
                "as the notMNIST grid's (2,256) Keras run",
    device="cpu",
    grids=(Axes(frameworks=("keras",), num_layers=(SHARED_WITH_GRID[0],), hidden_sizes=(SHARED_WITH_GRID[1],),
                **COMMON),),
)

GPU_SUITE = Suite(
    name="repl-notmnist-faithful-gpu",
    description="replication as the source ran it, GPU part: notMNIST gru0 vs mgu at (2,256), (4,128), (2,512) in "
                "torch, (4,128) and (2,512) in Keras on JAX; batch 32, 20 epochs, seeds 1000-1002",
    device="cuda",
    grids=tuple(Axes(frameworks=frameworks, keras_backend="jax", num_layers=(layers,), hidden_sizes=(units,), **COMMON)
                for layers, units in SIZES[1:]
                for frameworks in ((("torch",),) if (layers, units) == SHARED_WITH_GRID else (("torch", "keras"),))),
)

EXPERIMENT = Experiment(
    name="notmnist_faithful",
    title="notMNIST, GRU vs MGU, as the source ran it",
    suite=SUITE,
    extra_suites=(KERAS_SUITE, GPU_SUITE),
    source_setup="notMNIST_small (18,724 images), 28 rows × 28 pixels, 80/20 split; a GRU and an MGU written by hand "
                 "in Keras (the GRU reset-before, its update gate selecting the new candidate), Keras's default "
                 "batch of 32, Adam 1e-3, 20 epochs, seeds 1000/1001/1002; validation accuracy on the 20% part after "
                 "the last epoch",
    our_setup="task `notmnist` on the 10,000-image IDX sample with the source's protocol (`dedupe=False`, "
              "`val_is_test=True`: 8,000 training images, the other 2,000 scored), `gru0` (our reset-before GRU, "
              "the form of the source's) and `mgu`, batch 32, Adam 1e-3, 20 epochs, seeds 1000-1002, each "
              "framework's own initialiser. (1, 128) runs on CPU (suite `repl-notmnist-faithful`); (2, 256) in Keras "
              "on CPU (suite `repl-notmnist-faithful-keras`) is the notMNIST grid's (2, 256) Keras run, its records "
              "copied from `notmnist_grid`; the rest of the three larger sizes is the GPU suite "
              "`repl-notmnist-faithful-gpu`",
)
