"""notMNIST, GRU vs MGU over a grid of 1-3 layers × 50/128/256 units (the second notMNIST lab, `001_…`).

The source wrote both cells by hand in Keras, trained 20 epochs with 3 seeds per size and
scored its 20% validation split. Its results table is garbled in the text, but one line of it is
legible: the MGU at 2 × 128, 2 × 256, 3 × 50, 3 × 128 and 3 × 256, with stds and errors that agree
(error = 1 − accuracy); its prose states the two best configurations. Those six are typed here. It names
neither its GRU's form nor its batch size: we take the first lab's protocol (a reset-before
GRU, our `gru0`, at Keras's default batch of 32), an assumption the report says is untested.
"""

from __future__ import annotations

from bench.plan.jobs import Axes
from bench.replication.experiment import Claim, Experiment, Reference
from bench.replication.notmnist import SAMPLE_OR_SEEDS, SEEDS
from bench.replication.notmnist_faithful import SOURCE_OPTIONS
from bench.plan.suites import Suite

SOURCE = "second notMNIST lab (001), results table (its MGU line) and prose"
LAYERS = (1, 2, 3)  # the source's grid
UNITS = (50, 128, 256)
# (our cell, layers, units, mean validation accuracy, std): the two best, which its prose states, and the rest of the
# table's legible MGU line
PUBLISHED = (("gru0", 3, 256, 0.9399, 0.0020), ("mgu", 3, 256, 0.9396, 0.0041),
             ("mgu", 2, 128, 0.9282, 0.0008), ("mgu", 2, 256, 0.9315, 0.0007), ("mgu", 3, 50, 0.9249, 0.0030),
             ("mgu", 3, 128, 0.9355, 0.0035))
# the grid's two corners run on CPU. A 3 × 256 job is 5,000 steps; on one core of this machine a step took 0.12 s
# (mgu) and 0.19 s (gru0) in Keras, 0.045 s and 0.07 s in torch, so the Keras jobs want `--timeout 4800` beside other
# work. That corner's first seed runs in Keras (the source's framework) in this suite, its other jobs in their own
CORNERS = ((1, 50), (3, 256))
SMALL, LARGE = CORNERS
COMMON = dict(tasks=("notmnist",), measure="train", cells=("gru0", "mgu"), batch_sizes=(32,), epochs=20,
              lrs=(1e-3,), task_options=SOURCE_OPTIONS)
FIRST_SEEDS, OTHER_SEEDS = SEEDS[:1], SEEDS[1:]


def _at(size: tuple[int, int], frameworks: tuple[str, ...], seeds: tuple[int, ...], **more) -> Axes:
    return Axes(frameworks=frameworks, num_layers=(size[0],), hidden_sizes=(size[1],), seeds=seeds, **COMMON, **more)


SUITE = Suite(
    name="repl-notmnist-grid",
    description="replication of the notMNIST grid, on CPU: gru0 vs mgu at (1,50) in both frameworks and (3,256) "
                "in Keras, seed 1000; batch 32, Adam 1e-3, 20 epochs, the 20% split scored",
    device="cpu",
    # Keras first (the source's framework)
    grids=(_at(SMALL, ("keras",), SEEDS), _at(LARGE, ("keras",), FIRST_SEEDS), _at(SMALL, ("torch",), SEEDS)),
    references=tuple(
        Reference(source=SOURCE, task="notmnist", cell=cell, metric="accuracy", value=value, published_std=std,
                  setting=f"{layers} × {units}", where=(("num_layers", layers), ("hidden_size", units)), split="val",
                  note="source: all 18,724 notMNIST_small images, its GRU's form and batch size not given; ours: "
                       "the 10,000-image sample, gru0 at batch 32", faithful=True, reading=SAMPLE_OR_SEEDS)
        for cell, layers, units, value, std in PUBLISHED),
)

LARGE_REST_SUITE = Suite(
    name="repl-notmnist-grid-large",
    description="replication of the notMNIST grid, the rest of its (3,256) corner on CPU: torch seeds 1000-1002, "
                "Keras seeds 1001-1002",
    device="cpu",
    # torch's jobs are the cheaper; then Keras seed by seed, so that both cells gain a seed at a time
    grids=(_at(LARGE, ("torch",), SEEDS), *(_at(LARGE, ("keras",), (seed,)) for seed in OTHER_SEEDS)),
)

# the seven other sizes, cheapest first (a job's cost grows with layers × units²), every seed of a size before the next
OTHER_SIZES = tuple(sorted(((layers, units) for layers in LAYERS for units in UNITS if (layers, units) not in CORNERS),
                           key=lambda size: size[0] * size[1] ** 2))

KERAS_REST_SUITE = Suite(
    name="repl-notmnist-grid-keras",
    description="replication of the notMNIST grid, the seven other (layers, units) in Keras (the source's framework) "
                "on CPU: gru0 vs mgu, batch 32, 20 epochs, seeds 1000-1002",
    device="cpu",
    # (2, 256) first: its Keras jobs are also notmnist_faithful's, which has published numbers at that size
    grids=tuple(_at(size, ("keras",), SEEDS) for size in sorted(OTHER_SIZES, key=lambda size: size != (2, 256))),
)

TORCH_REST_SUITE = Suite(
    name="repl-notmnist-grid-torch",
    description="replication of the notMNIST grid, torch at the seven other (layers, units) of 1-3 × 50/128/256 on "
                "CPU: gru0 vs mgu, batch 32, 20 epochs, seeds 1000-1002",
    device="cpu",
    grids=tuple(_at(size, ("torch",), SEEDS) for size in OTHER_SIZES),
)

EXPERIMENT = Experiment(
    name="notmnist_grid",
    title="notMNIST, GRU vs MGU over 1-3 layers × 50/128/256 units",
    suite=SUITE,
    extra_suites=(LARGE_REST_SUITE, KERAS_REST_SUITE, TORCH_REST_SUITE),
    claims=(Claim(source=SOURCE, text="the GRU is slightly ahead of the MGU at most sizes, most clearly at 1 layer × 50 "
                                      "units, and the gap narrows as the models grow; both gain from more layers and units",
                  cells=("gru0", "mgu"), baseline="gru0", per=("num_layers", "hidden_size")),),
    source_setup="notMNIST_small, 28 rows × 28 pixels, 80/20 split; a GRU and an MGU written by hand in Keras, "
                 "stacked 1, 2 or 3 deep with 50, 128 or 256 units, a dense head of 10 logits, 20 epochs, 3 seeds; "
                 "mean ± std of the validation accuracy. Batch size, optimiser settings and the GRU's form are not "
                 "given; its table is garbled, and its text states two results: GRU 3 × 256 0.9399 ± 0.0020, MGU "
                 "3 × 256 0.9396 ± 0.0041",
    our_setup="task `notmnist` on the 10,000-image IDX sample as in `notmnist_faithful` (`dedupe=False`, "
              "`val_is_test=True`: 8,000 training images, the other 2,000 scored), `gru0` and `mgu`, batch 32 "
              "(Keras's default, assumed), Adam 1e-3 (Keras's default, assumed), 20 epochs, seeds 1000-1002, each "
              "framework's own initialiser. That the source's GRU was reset-before (`gru0`) is assumed from the "
              "first lab and untested. On CPU (suite `repl-notmnist-grid`): the corner (1, 50) in both frameworks "
              "with seeds 1000-1002, and the corner (3, 256), where the two published numbers are, in Keras with "
              "seed 1000; the rest of (3, 256) (Keras seeds 1001-1002, torch) is suite `repl-notmnist-grid-large`; "
              "the other seven sizes run in Keras (suite `repl-notmnist-grid-keras`) and in torch (suite "
              "`repl-notmnist-grid-torch`), all on CPU: the whole grid in both frameworks",
)
