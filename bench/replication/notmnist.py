"""notMNIST letters read row by row: GRU against MGU at four (layers, units) sizes."""

from __future__ import annotations

from bench.plan.jobs import Axes
from bench.replication.experiment import Experiment, Reading, Reference
from bench.plan.suites import Suite

SOURCE = "source quoted in issue 7 (notMNIST, GRU vs MGU)"
SIZES = ((1, 128), (2, 256), (4, 128), (2, 512))  # the source's (layers, units)
PUBLISHED = {  # mean validation accuracy over seeds 1000-1002, per size, as published
    "gru4": (0.9282, 0.9363, 0.9356, 0.9395),
    "mgu": (0.9209, 0.9302, 0.9339, 0.9367),
}
PUBLISHED_STD = {  # the std printed beside each mean: all eight are population stds of the trials (ddof 0)
    "gru4": (0.0054, 0.0011, 0.0037, 0.0028),
    "mgu": (0.0028, 0.0039, 0.0023, 0.0019),
}
# validation accuracy of trials 1-3 (seeds 1000, 1001, 1002), per size, from the source's list of trials. For MGU
# 2 × 512 its table prints trial 3 as 0.9399 and its list as 0.9390: only 0.9390 gives the printed mean (0.9367) and
# std (0.0019), so the table's 0.9399 is the source's typo (tests/test_replication.py checks every mean and std)
PUBLISHED_TRIALS = {
    "gru4": ((0.9215, 0.9284, 0.9346), (0.9356, 0.9354, 0.9378), (0.9340, 0.9407, 0.9322), (0.9412, 0.9356, 0.9418)),
    "mgu": ((0.9193, 0.9185, 0.9249), (0.9340, 0.9249, 0.9316), (0.9362, 0.9308, 0.9346), (0.9343, 0.9367, 0.9390)),
}
TABLE_TYPO = {("mgu", (2, 512)): "the source's table prints trial 3 as 0.9399; its list of trials, which alone gives "
                                 "the printed mean and std, says 0.9390 (used here)"}
SEEDS = (1000, 1001, 1002)  # the source's seeds
COMMON = dict(tasks=("notmnist",), measure="train", cells=("gru4", "mgu"), batch_sizes=(100,), epochs=20,
              lrs=(1e-3,), num_layers=(1,), hidden_sizes=(128,))

LARGER_SIZES = SIZES[1:]  # planned for a GPU: on two CPU cores (2, 512) alone takes hours per job


OUR_PROTOCOL = Reading("our protocol: with the source's GRU form, its batch and its 80/20 split scored, the same sample "
                       "lands within 1 pp of the source", tested_by="notmnist_faithful at (1, 128) and, in Keras, "
                       "(2, 256)")
# the faithful runs that still differ: under the source's lowest trial or outside our 2 sd, by about 1 point
SAMPLE_OR_SEEDS = Reading("the 10,000-image sample (8,000 training images against about 15,000 of the source's "
                          "18,724) or the spread of our seeds (one to three so far); no run separates the two")


def published_references(our_cell: dict[str, str], faithful: bool = False) -> tuple[Reference, ...]:
    """The source's numbers, each beside `our_cell[its cell]` at its size (validation accuracy); `faithful` where
    our runs follow the source's protocol."""
    return tuple(
        Reference(source=SOURCE, task="notmnist", cell=our_cell[cell], metric="accuracy", value=value,
                  setting=f"{layers} × {units}", where=(("num_layers", layers), ("hidden_size", units)),
                  split="val", trials=trials, published_std=std,
                  note="; ".join(filter(None, ("source: all 18,724 notMNIST_small images; ours: the 10,000-image "
                                               "sample", TABLE_TYPO.get((cell, (layers, units)))))),
                  faithful=faithful, reading=SAMPLE_OR_SEEDS if faithful else OUR_PROTOCOL)
        for cell, values in PUBLISHED.items()
        for (layers, units), value, std, trials in zip(SIZES, values, PUBLISHED_STD[cell], PUBLISHED_TRIALS[cell]))


SUITE = Suite(
    name="repl-notmnist",
    description="replication: notMNIST (10k sample) GRU (gru4) vs MGU, 1x128, Adam 1e-3, batch 100, 20 epochs; "
                "seeds 1000-1002, both frameworks (CPU); the larger sizes are suite repl-notmnist-gpu",
    device="cpu",
    grids=(Axes(frameworks=("torch",), seeds=SEEDS, **COMMON),
           Axes(frameworks=("keras",), seeds=SEEDS, **COMMON)),
    references=published_references({cell: cell for cell in PUBLISHED}),
)

GPU_SUITE = Suite(
    name="repl-notmnist-gpu",
    description="replication, GPU part: notMNIST GRU (gru4) vs MGU at (2,256), (4,128), (2,512), Adam 1e-3, "
                "batch 100, 20 epochs, seeds 1000-1002, both frameworks (Keras on JAX)",
    device="cuda",
    # Keras on JAX: the GPU machine these were planned for has no TensorFlow; on a machine with
    # TensorFlow's CUDA build, `--keras-backend tensorflow` runs the same grid there
    grids=tuple(Axes(frameworks=("torch", "keras"), seeds=SEEDS, keras_backend="jax",
                     **{**COMMON, "num_layers": (layers,), "hidden_sizes": (units,)})
                for layers, units in LARGER_SIZES),
)

EXPERIMENT = Experiment(
    name="notmnist",
    title="notMNIST, GRU vs MGU",
    suite=SUITE,
    extra_suites=(GPU_SUITE,),
    source_setup="notMNIST_small (18,724 images), 28 rows × 28 pixels, 80/20 split, Adam 1e-3, 20 epochs, seeds "
                 "1000/1001/1002, (layers, units) ∈ (1,128), (2,256), (4,128), (2,512); mean validation accuracy",
    our_setup="task `notmnist` on the 10,000-image IDX sample (9,804 distinct glyphs after dropping duplicates; "
              "80/20 split, then 10% of the 80% for validation: 7,059 / 784 / 1,961), `gru4` (the native "
              "reset-after GRU) and `mgu`, batch 100 (the source's batch size is not given), Adam 1e-3, 20 epochs. "
              "(1, 128) runs on CPU (suite `repl-notmnist`, Keras on TensorFlow); (2, 256), (4, 128) and (2, 512) "
              "are the GPU suite `repl-notmnist-gpu` (Keras on JAX there): the records say which device and "
              "backend ran each job",
)
