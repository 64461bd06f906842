"""examples/cells/: every file passes `bench check`; the published GRU variants are measurably not the paper's.

Each runs in a fresh process (a plugin's cells stay registered for the rest of a process).
"""

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "cells"
# the published cells differ from the paper's by more than this on outputs of size ~1; the bugs matter
MIN_PUBLISHED_GAP = 0.05
# with both bugs switched off the published math is the paper's: float64 rounding only
FIXED_GAP_ATOL = 1e-12

pytestmark = pytest.mark.slow


def test_every_example_passes_bench_check():
    files = sorted(EXAMPLES.glob("*.py"))
    assert [f.name for f in files] == ["gru_variants_as_published.py", "keras_lab_gru.py", "mingru.py",
                                       "pmgru_as_coded.py"]
    done = subprocess.run([sys.executable, "-m", "bench", "check", *map(str, files), "--correctness-only"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    table = re.sub(" +", " ", done.stdout)
    for cell in ("mingru", "mingru_scan", "gru0_published", "gru3_published", "pmgru_as_coded", "keras_lab_gru"):
        assert re.search(rf"\| {cell} \| gradients vs finite differences [^|]*\| (torch|keras) \| pass", table), cell
    assert "| pmgru_as_coded | keras vs torch B3 T5 I4 H6 | keras vs torch | n/a | torch only" in table
    assert "| keras_lab_gru | keras vs torch B3 T5 I4 H6 | keras vs torch | n/a | keras only" in table
    assert re.search(r"\| keras_lab_gru \| equals gru0 with mapped weights \| keras \| pass", table)
    assert re.search(r"\| gru0_published \| forward B3 T5 I5 H5 [^|]*\| torch \| pass", table)  # the square shape
    assert " FAIL " not in table


GAP_SCRIPT = textwrap.dedent('''
    import json, sys
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    import gru_variants_as_published as published
    from bench.cells import get_spec
    rng = np.random.default_rng(5)
    out = {}
    for paper in published.VARIANTS:
        spec = get_spec(paper + "_published")
        weights = {k: v.astype(np.float64) for k, v in spec.random_canonical(8, 8, rng).items()}
        x = rng.uniform(-1, 1, (4, 20, 8))
        paper_outputs = get_spec(paper).reference(published.as_paper_weights(weights), x)
        def gap(**switches):
            got, _ = published.published_forward(weights, x, None, paper, **switches)
            return float(np.abs(got - paper_outputs).max())
        out[paper] = {"as_published": gap(), "fixed": gap(candidate_as_state=False, reset_reads_input=False),
                      "candidate_bug_only": gap(reset_reads_input=False),
                      "reset_bug_only": gap(candidate_as_state=False),
                      "output_size": float(np.abs(paper_outputs).max()),
                      "registered": float(np.abs(spec.reference(weights, x) - published.published_forward(
                          weights, x, None, paper)[0]).max())}
        # each one-bug cell registered is the published math with the other bug switched off
        registered = {name for name, *_ in published._registered(paper)}
        for name, switches in ((paper + "_candidate_bug", dict(reset_reads_input=False)),
                               (paper + "_reset_bug", dict(candidate_as_state=False))):
            if name in registered:
                alone = published.published_forward(weights, x, None, paper, **switches)[0]
                out[paper][name] = float(np.abs(get_spec(name).reference(weights, x) - alone).max())
    print(json.dumps(out))
''')


def test_the_published_variants_differ_from_the_paper_by_their_two_bugs_and_only_by_them_and_each_alone_is_registered():
    done = subprocess.run([sys.executable, "-c", GAP_SCRIPT, str(EXAMPLES)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    gaps = json.loads(done.stdout.strip().splitlines()[-1])
    for paper, gap in gaps.items():
        assert gap["registered"] == 0.0  # the registered cell is the published math with both bugs
        assert gap["as_published"] > MIN_PUBLISHED_GAP, (paper, gap)
        assert gap["fixed"] < FIXED_GAP_ATOL, (paper, gap)  # no third difference hides behind the two
        assert gap["candidate_bug_only"] > MIN_PUBLISHED_GAP, (paper, gap)
        assert gap[paper + "_candidate_bug"] == 0.0
        if paper == "gru3":  # gates from the bias alone: nothing reads x or h through U_r
            assert gap["reset_bug_only"] < FIXED_GAP_ATOL, gap
            assert paper + "_reset_bug" not in gap  # so no such cell is registered
        else:
            assert gap["reset_bug_only"] > MIN_PUBLISHED_GAP, (paper, gap)
            assert gap[paper + "_reset_bug"] == 0.0
