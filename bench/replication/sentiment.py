"""Product-review sentiment: GRU 2×100 against one MGU layer of 100."""

from __future__ import annotations

from bench.plan.jobs import Axes
from bench.replication.experiment import Ablation, Experiment, Reading, Reference, shared_init_ablation
from bench.plan.suites import Suite

SOURCE = "source quoted in issue 7 (Amazon product-review sentiment, word2vec inputs)"
# reviews cut to their first 100 tokens: the 200-token default doubles every step on 2 cores
SENTIMENT_OPTIONS = (("max_len", 100),)
MODELS = (("gru4", 2, 0.8017, "GRU 2 × 100"), ("mgu", 1, 0.7995, "MGU 1 × 100"))  # cell, layers, published, label
PUBLISHED = tuple((cell, value) for cell, _, value, _ in MODELS)
LR_SOURCE, LR_BATCHED = 1e-4, 1e-3  # the source's lr (batch 1) and ours for batches of 64
BATCH = 64
# why we stay below the source: no run of ours here isolates the inputs, the guess; at the source's lr torch's own
# initialisers also keep it near chance, which the shared-init ablation shows (but not the gap to the source)
INPUTS = Reading("the inputs: 64-d embeddings learned from 5,654 reviews for the source's 300-d word2vec vectors, and "
                 "the 100-token cut; no run isolates either")
TORCH_AT_LR_SOURCE = Reading("the inputs, as at lr 1e-3; and torch's own initialisers, from which it stays near chance "
                             "at lr 1e-4 (from Keras's start it trains: the shared-init ablation), which tests the gap "
                             "between the frameworks, not the gap to the source")
SEEDS = (0, 1, 2)
COMMON = dict(tasks=("sentiment",), measure="train", hidden_sizes=(100,), batch_sizes=(BATCH,), epochs=5, seeds=SEEDS,
              task_options=SENTIMENT_OPTIONS)
# The source as coded: its MGU ("pmGRU") with no sigmoid on the forget gate and no tanh on the candidate, one
# review at a time (batch 1), Adam 1e-4, ReLU → Linear → LogSoftmax on the last step
PLUGIN = "examples/cells/pmgru_as_coded.py"
AS_CODED_CELLS = (("pmgru_as_coded", 1, ("torch",)), ("mgu", 1, ("torch", "keras")), ("gru4", 2, ("torch", "keras")))
AS_CODED = dict(tasks=("sentiment",), measure="train", hidden_sizes=(100,), batch_sizes=(1,), epochs=5,
                lrs=(LR_SOURCE,), task_options=SENTIMENT_OPTIONS + (("readout", "relu_dense"),))
FIRST_SEEDS = SEEDS[:1]  # seed 0 of every model first, torch (the source's framework) before Keras

SUITE = Suite(
    name="repl-sentiment",
    description="replication: Amazon reviews (Blitzer 4 domains, first 100 tokens), gru4 2x100 vs mgu 1x100, "
                "learned 64-d embedding, batch 64, 5 epochs, seeds 0-2, lr 1e-3 and the source's 1e-4, both frameworks",
    device="cpu",
    grids=tuple(Axes(cells=(cell,), num_layers=(layers,), frameworks=(framework,), lrs=(LR_BATCHED, LR_SOURCE),
                     **COMMON)
                for framework in ("torch", "keras") for cell, layers, _, _ in MODELS),
    references=tuple(
        Reference(source=SOURCE, task="sentiment", cell=cell, metric="accuracy", value=value,
                  setting=f"{label}, batch {BATCH}, lr {lr:g}", where=(("num_layers", layers), ("lr", lr),
                                                                      ("batch_size", BATCH)),
                  note="source: Amazon reviews by category (counts not stated), word2vec 300-d, batch 1, lr 1e-4",
                  reading=INPUTS if lr == LR_BATCHED else TORCH_AT_LR_SOURCE)
        for cell, layers, value, label in MODELS for lr in (LR_BATCHED, LR_SOURCE)) + tuple(
        Reference(source=SOURCE, task="sentiment", cell=cell, metric="accuracy", value=dict(PUBLISHED)[source_cell],
                  setting=f"{label} as coded: batch 1, lr 1e-4, ReLU head",
                  where=(("num_layers", layers), ("batch_size", 1)),
                  note="the source's protocol and head; a learned 64-d embedding for its word2vec", reading=INPUTS)
        for cell, layers, source_cell, label in (("gru4", 2, "gru4", "GRU 2 × 100"),
                                                  ("pmgru_as_coded", 1, "mgu", "pmGRU 1 × 100"),
                                                  ("mgu", 1, "mgu", "MGU 1 × 100 (the paper's, for the pmGRU)"))),
)

AS_CODED_SUITE = Suite(
    name="repl-sentiment-as-coded",
    description="replication as the source coded it: Amazon reviews (first 100 tokens), its pmGRU as coded "
                "(torch only) and mgu 1x100, gru4 2x100, batch 1, Adam 1e-4, 5 epochs, a ReLU before the dense head; "
                "seed 0 first, then seeds 1-2",
    device="cpu",
    grids=tuple(Axes(cells=(cell,), num_layers=(layers,), frameworks=(framework,), seeds=seeds, **AS_CODED)
                for seeds in (FIRST_SEEDS, SEEDS[1:]) for framework in ("torch", "keras")
                for cell, layers, frameworks in AS_CODED_CELLS if framework in frameworks),
    plugins=(PLUGIN,),
)

# as coded, the pmGRU's state has nothing to bound it; from torch's N(0, 1) embedding it overflows in the first forward
# pass. The source fed it pretrained word2vec vectors, whose components are typically far below 1; Keras's recipe (an
# embedding of U(-0.05, 0.05)) gives small inputs too
PMGRU_SMALL_INPUTS = Ablation(
    title="the as-coded pmGRU from small inputs", field="init", value="shared",
    question="as coded (no sigmoid, no tanh) the pmGRU diverges in its first step from torch's own initialiser, whose "
             "embedding draws N(0, 1); does it train from small inputs, as word2vec's components typically are? Here "
             "the whole model is drawn by Keras's recipe (`--init shared`: embedding U(-0.05, 0.05))",
    suite=Suite(name="repl-sentiment-as-coded-shared-init", device="cpu",
                description="ablation of repl-sentiment-as-coded: the pmGRU as coded from init=shared (small inputs)",
                grids=(Axes(cells=("pmgru_as_coded",), num_layers=(1,), frameworks=("torch",), seeds=FIRST_SEEDS,
                            inits=("shared",), **AS_CODED),),
                plugins=(PLUGIN,)))

EXPERIMENT = Experiment(
    name="sentiment",
    title="Product-review sentiment, GRU vs MGU",
    suite=SUITE,
    source_setup="Amazon reviews, positive and negative per product category, in a training and a test set (the "
                 "source's code reads them so; it states no counts and no split); 300-d word2vec "
                 "inputs; torch.nn.GRU 2 layers × 100 units vs one layer of its own MGU (\"pmGRU\") of 100, coded "
                 "with no sigmoid on the forget gate and no tanh on the candidate; ReLU → Linear → LogSoftmax on the "
                 "last step; Adam 1e-4, batch 1, 5 epochs; accuracy",
    our_setup="task `sentiment`: the Blitzer et al. 4-domain set (books, dvd, electronics, kitchen; 7,852 distinct "
              "reviews: 5,654 / 628 / 1,570), vocabulary of 10,000 training words, each review cut to its first 100 "
              "tokens (`max_len=100`). No word2vec here: a learned 64-d embedding feeds the recurrent layers, and "
              "padded batches of 64 with lengths replace batch 1 (the label is read at the last valid step). "
              "`gru4` 2 × 100 vs `mgu` 1 × 100, 5 epochs, seeds 0/1/2, both frameworks. Learning rate: 1e-3 (with "
              "batches 64 times larger than the source's, 1e-4 makes 64 times fewer updates), and the source's "
              "1e-4 to show what that does. And as the source coded it (suite `repl-sentiment-as-coded`): its "
              f"pmGRU as coded (`pmgru_as_coded`, `{PLUGIN}`, torch only as the source) beside `mgu` 1 × 100 and "
              "`gru4` 2 × 100, one review a step (batch 1), Adam 1e-4, 5 epochs, a ReLU between the last step and "
              "the dense head (`readout=relu_dense`; LogSoftmax with NLL is our cross-entropy from logits), still the "
              "learned 64-d embedding (no word2vec here) and the first 100 tokens; seed 0 of every model, then "
              "seeds 1-2 as far as they ran",
    extra_suites=(AS_CODED_SUITE,),
    ablations=(shared_init_ablation(
        SUITE, "at the source's lr 1e-4 Keras trains and torch stays near chance: is it the initialiser (torch's "
               "embedding starts from N(0, 1), Keras's from U(-0.05, 0.05))? Both frameworks start from the same "
               "model here, Keras's recipe drawn in NumPy, at lr 1e-4 only", lrs=(LR_SOURCE,)), PMGRU_SMALL_INPUTS),
)
