"""MNIST read row by row: vanilla RNN 2×128, GRU 2×256, bidirectional LSTM 2×128, 5 epochs."""

from __future__ import annotations

from bench.plan.jobs import Axes
from bench.replication.experiment import (Experiment, Reading, Reference, canonical_bias_ablation,
                                          keras_adam_ablation, shared_init_ablation)
from bench.plan.suites import Suite

SOURCE = "source quoted in issue 7 (MNIST row by row)"
# a 10,000-image training subset: a full 55,000-image epoch of the two large models takes
# about 2 minutes per framework on 2 cores, more than this replication's budget
MNIST_SUBSET = (("limit_train", 10_000), ("limit_val", 1_000))
# the source's split: 50,000 / 10,000 training / validation images and the official 10,000 test images; run for seed
# 0 to test whether the smaller subset explains the gap (a job takes about five times a subset job)
SOURCE_SPLIT = (("val_size", 10_000),)
FULL_SEEDS = (0,)
SEEDS = (0, 1, 2)
COMMON = dict(tasks=("mnist",), measure="train", batch_sizes=(100,), epochs=5, lrs=(1e-3,), seeds=SEEDS,
              num_layers=(2,), task_options=MNIST_SUBSET)
MODELS = (  # (cell, hidden, bidirectional, published test accuracy, the source's model)
    ("rnn_native", 128, False, 0.899, "vanilla RNN 2×128"),
    ("gru4", 256, False, 0.976, "GRU 2×256"),
    ("lstm_native", 128, True, 0.964, "bidirectional LSTM 2×128"),
)

L2 = 1e-3  # the source's regularisation parameter for its regularised models
REGULARISED = {"rnn_native": 0.890, "gru4": 0.945, "lstm_native": 0.938}  # their test accuracy, as published

# why our rows differ from the source's, where they do: (the data, L2 or not) -> cell -> reading
_SUBSET_TOO_SMALL = Reading("10,000 training images are too few: on the source's 50,000 ours pass it",
                            tested_by="the 50,000-image rows")
_RNN_INIT = Reading("Keras's RNN starts from an orthogonal recurrent matrix and torch's from a uniform one, and torch "
                    "trains a second bias: from the same start with one bias the two frameworks agree",
                    tested_by="the shared-init and one-bias ablations")
_ABOVE_THE_SOURCE = Reading("ours pass the source on its own split (one seed of ours so far); the source reports one "
                            "run per model and not its initialisers, so why it stayed lower is not known")
_L2_UNTESTED = Reading("as for the plain models (the 10,000-image subset, and for the RNN the initialiser), which the "
                       "50,000-image rows and the ablations test without L2 only")
READINGS = {"subset": {"rnn_native": _RNN_INIT, "gru4": _SUBSET_TOO_SMALL, "lstm_native": _SUBSET_TOO_SMALL},
            "source split": {cell: _ABOVE_THE_SOURCE for cell in REGULARISED},
            "L2": {cell: _L2_UNTESTED for cell in REGULARISED}}

SUITE = Suite(
    name="repl-mnist-rows",
    description="replication: MNIST row by row (10k-image training subset), rnn_native 2x128, gru4 2x256, "
                "bidirectional lstm_native 2x128, batch 100, Adam 1e-3, 5 epochs, seeds 0-2, both frameworks",
    device="cpu",
    grids=tuple(Axes(cells=(cell,), hidden_sizes=(hidden,), bidirectional=(bidir,), frameworks=(framework,), **COMMON)
                for framework in ("torch", "keras") for cell, hidden, bidir, _, _ in MODELS),
    references=tuple(  # the plain models on the subset and on the source's split, then the regularised ones
        Reference(source=SOURCE, task="mnist", cell=cell, metric="accuracy", value=value if not decay else
                  REGULARISED[cell], setting=label + (f", L2 λ = {decay:g}" if decay else "") + data,
                  where=(("num_layers", 2), ("hidden_size", hidden), ("bidirectional", bidir), ("weight_decay", decay),
                         *where),
                  note=note, faithful=kind == "source split", reading=READINGS[kind][cell])
        for decay, data, where, note, kind in (
            (0.0, "", (("task_options.limit_train", 10_000),), "source: 50,000 training images; ours: 10,000",
             "subset"),
            (0.0, ", 50,000 training images", (("task_options.val_size", 10_000),),
             "the source's 50,000 / 10,000 / 10,000 split, seed 0", "source split"),
            (L2, "", (("task_options.limit_train", 10_000),), "source: 50,000 training images; ours: 10,000", "L2"))
        for cell, hidden, bidir, value, label in MODELS),
)

# the source's regularised models: the same runs with L2 λ·Σw² added to the loss (--weight-decay), a suite of
# their own so that the ablations, which copy SUITE's grids, leave them out
REGULARISED_SUITE = Suite(
    name="repl-mnist-rows-l2",
    description=f"replication: the MNIST-rows models again with L2 weight decay {L2:g} added to the loss, as the "
                "source's regularised models; both frameworks, seeds 0-2",
    device="cpu",
    grids=tuple(Axes(cells=(cell,), hidden_sizes=(hidden,), bidirectional=(bidir,), frameworks=(framework,),
                     weight_decays=(L2,), **COMMON)
                for framework in ("torch", "keras") for cell, hidden, bidir, _, _ in MODELS),
)

# the source's data size: the plain models again on its 50,000-image training split, seed 0
SOURCE_SPLIT_SUITE = Suite(
    name="repl-mnist-rows-50k",
    description="replication: the MNIST-rows models again on the source's split (50,000 training and 10,000 "
                "validation images, the official test set), seed 0, torch then Keras",
    device="cpu",
    grids=tuple(Axes(cells=(cell,), hidden_sizes=(hidden,), bidirectional=(bidir,), frameworks=(framework,),
                     **{**COMMON, "seeds": FULL_SEEDS, "task_options": SOURCE_SPLIT})
                for framework in ("torch", "keras") for cell, hidden, bidir, _, _ in MODELS),
)

SHARED_INIT = shared_init_ablation(
    SUITE, "is the gap between the frameworks (Keras's vanilla RNN 4-6 points ahead of torch's) the "
           "initialiser? Both frameworks start from the same model here: Keras's recipe, drawn in NumPy")

CANONICAL_BIAS = canonical_bias_ablation(
    SHARED_INIT, "from the same start, torch's vanilla RNN and LSTM still drift further from Keras's than its "
                 "GRU does: is it torch's second bias vector (nn.RNN and nn.LSTM train b_ih and b_hh, Keras one "
                 "bias, so torch's bias learns twice as fast)? Here torch's second bias stays at zero")

EXPERIMENT = Experiment(
    name="mnist_rows",
    title="MNIST row by row: vanilla RNN, GRU, bidirectional LSTM",
    suite=SUITE,
    source_setup="MNIST, 28 rows of 28 pixels, 50,000 / 10,000 / 10,000 training / validation / test images; 5 "
                 "epochs, Adam 1e-3, batch 100; sizes chosen by a grid over 1–2 layers × 64/128/256 units: vanilla "
                 "RNN 2×128, GRU 2×256, bidirectional LSTM 2×128; the same with L2 λ = 1e-3; test accuracy",
    our_setup="task `mnist` with `limit_train=10000` (a seeded 10,000-image subset of the 55,000 training images) "
              "and `limit_val=1000`; the test split is the full official 10,000. Native layers stand for the "
              "source's models (`rnn_native`, `gru4` = reset-after GRU, `lstm_native --bidirectional`), 2 layers, "
              "batch 100, Adam 1e-3, 5 epochs, seeds 0/1/2, each framework's own initialiser, all three models in "
              "both frameworks; and the three again with L2 λ = 1e-3 added to the loss (`--weight-decay 1e-3`, "
              "suite `repl-mnist-rows-l2`), as the source's regularised models. The source gives its λ but not how it "
              "applied it: ours is Keras's L2 convention, λ·Σw² over the weight matrices (gradient 2λw, biases "
              "free); torch's `Adam(weight_decay=λ)` would add λw to every parameter's gradient, half as strong. "
              "Which of the two the source used is untested. The source trained on 50,000 images: the three plain "
              "models run again on its split (`val_size=10000`: 50,000 / 10,000 training / validation images, suite "
              "`repl-mnist-rows-50k`), seed 0, to test whether our subset explains the gap. Not run: the source's "
              "grid over 1–2 layers × 64/128/256 units, which chose these sizes (18 jobs a framework and seed, "
              "each up to a subset job's cost on the subset, five times that on the full split)",
    extra_suites=(REGULARISED_SUITE, SOURCE_SPLIT_SUITE),
    ablations=(SHARED_INIT, CANONICAL_BIAS, keras_adam_ablation(
        CANONICAL_BIAS, "with one bias per gate the vanilla RNN's runs agree across frameworks, the LSTM's still part "
                        "by up to half a point: is it Adam? torch adds its epsilon (1e-8) to the bias-corrected root "
                        "of the second moment, Keras its own (1e-7) to the uncorrected root, up to 32 times more "
                        "weight early on. Here torch takes Keras's step")),
)
