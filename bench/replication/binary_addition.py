"""Binary addition of two 5-bit numbers (+1 carry step), one recurrent layer, hidden 2 / 5 / 10."""

from __future__ import annotations

import math

from bench.plan.jobs import Axes
from bench.replication.experiment import Experiment, Reading, Reference
from bench.plan.suites import Suite

SOURCE = "source quoted in issue 7 (binary addition task)"
HIDDEN = (2, 5, 10)  # the source's hidden sizes
PUBLISHED = {"bce": (0.809, 0.989, 1.000), "sigmoid_mse": (1.000, 1.000, 1.000)}  # bit accuracy per loss, as published
LOSS_NAME = {"bce": "BCE", "sigmoid_mse": "MSE"}
EVAL_LENGTHS = tuple(range(1, 21))  # bit accuracy against input length, as in the source's plot
SEEDS = (0, 1, 2)
EPOCHS = 5  # the source's
BATCH = 100
# The source drew 500 batches of 100 pairs with replacement and cut them 80/20 (the `sampled`
# protocol): 400 steps an epoch, 2,000 in its 5 epochs, and with only 1,024 distinct pairs at
# length 5 its test pairs are training pairs too. Ours holds out distinct pairs: 700 train, so 7
# steps an epoch; it runs for the source's 5 epochs (35 steps), for 75, and for as many epochs as
# give the source's 2,000 steps.
SOURCE_STEPS = 500 * 80 // 100 * EPOCHS
HELD_OUT_TRAIN = 700
HELD_OUT_EPOCHS = (EPOCHS, 75, math.ceil(SOURCE_STEPS / (HELD_OUT_TRAIN // BATCH)))
SAMPLED = (("protocol", "sampled"),)
COMMON = dict(tasks=("binary_addition",), measure="train", cells=("lstm_native",), hidden_sizes=HIDDEN,
              batch_sizes=(BATCH,), lrs=(5e-3,), seeds=SEEDS)


def _options(loss: str, protocol: tuple = ()) -> tuple:
    return (("eval_lengths", EVAL_LENGTHS), ("length", 5), *(() if loss == "bce" else (("loss", loss),)), *protocol)


def _reading(epochs: int, protocol: str | None) -> Reading:
    """Why rows of this protocol and length of training differ from the source, where they do."""
    if protocol is None and epochs == EPOCHS:
        return Reading("35 steps are too few to learn the task: the same held-out runs trained for 75 and 286 epochs "
                       "reach the source's numbers or pass them", tested_by="the 75- and 286-epoch held-out rows")
    if protocol is None and epochs < HELD_OUT_EPOCHS[-1]:
        return Reading("the runs are still learning at 525 steps: at the source's 2,002 they agree with it",
                       tested_by="the 286-epoch held-out rows")
    return Reading("ours pass the source at its own step count, on its sampled pairs and on unseen pairs alike (so "
                   "seen test pairs do not explain it); the source reports one run per size and not its "
                   "initialiser, so why it stayed lower is not known")


SUITE = Suite(
    name="repl-binary-addition",
    description="replication: binary addition, length 5 + carry, lstm_native H2/5/10, BCE and MSE, Adam 5e-3, batch 100, "
                "3 seeds, both frameworks, bit accuracy at lengths 1-20; held-out distinct pairs for 5, 75 and 286 "
                "epochs, and the source's sampled batches for 5 epochs",
    device="cpu",
    grids=(*(Axes(epochs=epochs, task_options=_options(loss), **COMMON)
             for loss in PUBLISHED for epochs in HELD_OUT_EPOCHS),
           *(Axes(epochs=EPOCHS, task_options=_options(loss, SAMPLED), **COMMON) for loss in PUBLISHED)),
    references=tuple(
        Reference(source=SOURCE, task="binary_addition", cell="lstm_native", metric="bit_accuracy", value=value,
                  setting=f"{LOSS_NAME[loss]}, hidden {hidden}, {setting}",
                  where=(("hidden_size", hidden), ("epochs", epochs),
                         ("task_options.loss", None if loss == "bce" else loss), ("task_options.protocol", protocol)),
                  note=note + ("; MSE of the sigmoid output" if loss != "bce" else ""),
                  faithful=protocol == "sampled", reading=_reading(epochs, protocol))
        for loss, values in PUBLISHED.items()
        for epochs, protocol, setting, note in (
            *((epochs, None, f"held out, {epochs} epochs ({epochs * HELD_OUT_TRAIN // BATCH:,} steps)",
               "ours: 700 distinct training pairs, test pairs unseen") for epochs in HELD_OUT_EPOCHS),
            (EPOCHS, "sampled", f"sampled as the source, {EPOCHS} epochs ({SOURCE_STEPS:,} steps)",
             "the source's protocol: its test pairs are training pairs too"))
        for hidden, value in zip(HIDDEN, values)),
)

EXPERIMENT = Experiment(
    name="binary_addition",
    title="Binary addition (one recurrent layer)",
    suite=SUITE,
    source_setup="two numbers of length 5, least significant bit first, plus one carry step; 500 batches of 100 "
                 "pairs drawn with replacement, 80% to train and 20% to test (40,000 / 10,000); one recurrent layer "
                 "with hidden 2 / 5 / 10; BCE and MSE losses; Adam 5e-3, batch 100, 5 epochs (2,000 steps); bit "
                 "accuracy, and bit accuracy against input length 1–20",
    our_setup="task `binary_addition`, one `lstm_native` layer (the source names no cell; an LSTM as in its recall "
              "task), Adam 5e-3, batch 100, seeds 0/1/2, both frameworks; BCE from logits, and MSE as the task "
              "option `loss=sigmoid_mse` (the squared error of sigmoid(output) against the 0/1 bits, as a Keras "
              "`Dense(1, activation='sigmoid')` with `loss='mse'`); a bit is predicted 1 when the output is above "
              "0.5 under either loss. Two protocols side by side. Held out (ours): 700 / 100 / 200 distinct operand "
              "pairs of the 1,024 that exist at length 5, so 7 steps an epoch, trained for the source's 5 epochs (35 "
              "steps), for 75 (525 steps) and for 286 (2,002 steps, the source's count); this measures addition on "
              "unseen pairs. Sampled (the source's, `protocol=sampled`): 500 batches × 100 pairs drawn with "
              "replacement, the first 400 batches train and the other 100 test (the test split also serves as "
              "validation: the source had none), 5 epochs; since 40,000 draws from 1,024 pairs cover them all, "
              "every test pair is also a training pair, and this measures fit to the pairs seen. `extra_tests` at "
              "lengths 1–20 (up to 1,000 distinct pairs each, unseen apart from length 5's test split)",
    length_curve=True,
)
