"""Recall the digit at position 1: bidirectional LSTM, hidden 2 / 5 / 10."""

from __future__ import annotations

from bench.jobs import Axes
from bench.replication.experiment import Experiment, Reference
from bench.suites import Suite

SOURCE = "source quoted in issue 7 (recall task, bidirectional LSTM)"
HIDDEN = (2, 5, 10)  # the source's hidden sizes
PUBLISHED = (0.470, 0.958, 1.000)  # test accuracy at each hidden size, as published
SEEDS = (0, 1, 2)
# The source does not say how many training sequences it drew; the task's default is
# 5,000 (100 steps per epoch at batch 50). A second grid with ten times more shows how
# much of the gap is the number of optimizer steps.
LARGE_TRAIN = 50_000
COMMON = dict(tasks=("recall",), measure="train", cells=("lstm_native",), bidirectional=(True,),
              hidden_sizes=HIDDEN, batch_sizes=(50,), epochs=3, lrs=(5e-3,))

SUITE = Suite(
    name="repl-recall",
    description="replication: recall the digit at position 1, bidirectional lstm_native H2/5/10, "
                "Adam 5e-3, batch 50, 3 epochs, 3 seeds, both frameworks; and 50k training sequences, 3 seeds",
    device="cpu",
    grids=(Axes(seeds=SEEDS, task_options=(("position", 1),), **COMMON),
           Axes(seeds=SEEDS, task_options=(("n_train", LARGE_TRAIN), ("position", 1)), **COMMON)),
    references=tuple(
        Reference(source=SOURCE, task="recall", cell="lstm_native", metric="accuracy", value=value,
                  setting=f"bi-LSTM, hidden {hidden}, {n_train or 5000:,} train seqs",
                  where=(("hidden_size", hidden), ("task_options.n_train", n_train)),
                  note="the source's training-set size is not given")
        for n_train in (None, LARGE_TRAIN) for hidden, value in zip(HIDDEN, PUBLISHED)),
)

EXPERIMENT = Experiment(
    name="recall",
    title="Recall the digit at position 1 (bidirectional LSTM)",
    suite=SUITE,
    source_setup="one-hot digits, sequence lengths 3–10, label = the digit at position 1; bidirectional LSTM "
                 "with hidden 2 / 5 / 10; Adam 5e-3, batch 50, 3 epochs",
    our_setup="task `recall` (5,000 / 500 / 1,000 distinct sequences, lengths 3–10, padded at the end, label read "
              "at the last valid step), `lstm_native --bidirectional` (torch.nn.LSTM, keras.layers.LSTM in "
              "Bidirectional), one layer, Adam 5e-3, batch 50, 3 epochs, seeds 0/1/2, both frameworks, each "
              "framework's own initialiser; and once more with 50,000 training sequences (`n_train=50000`, "
              "seeds 0/1/2), since the source does not give its training-set size",
)
