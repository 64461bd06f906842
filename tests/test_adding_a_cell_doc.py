"""docs/adding_a_cell.md and the README's "Check your own cell" are true, command by command.

The page's plugin file is written to a temporary folder, and every `python -m bench`
command in the two pages' sh blocks runs there as a user would run it (the README's
`my_cell` is the page's `ugrnn`), in a fresh process, so a plugin never enters this test
session's registry. Then a copy of the file with one wrong activation in the torch class
must fail `bench check`, naming torch and the deviation, and must never be timed.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC, README = ROOT / "docs" / "adding_a_cell.md", ROOT / "README.md"
BLOCK = re.compile(r"```python\n# file: (?P<path>\S+)\n(?P<code>.*?)```", re.S)
SH_BLOCK = re.compile(r"```sh\n(?P<body>.*?)```", re.S)
COMMAND_TIMEOUT_S = 600

pytestmark = pytest.mark.slow


def _commands(text: str, replace: dict[str, str]) -> list[str]:
    lines = [line.split("#")[0].strip() for block in SH_BLOCK.finditer(text) for line in block["body"].splitlines()]
    out = []
    for line in lines:
        if line.startswith("python -m bench "):
            for old, new in replace.items():
                line = line.replace(old, new)
            out.append(line)
    return out


def _run(command: str, cwd: Path) -> subprocess.CompletedProcess:
    args = command.split()
    args[0] = sys.executable
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))


@pytest.fixture(scope="module")
def plugin_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("user")
    blocks = {m["path"]: m["code"] for m in BLOCK.finditer(DOC.read_text())}
    assert sorted(blocks) == ["ugrnn.py"]  # the page is built around one file
    (folder / "ugrnn.py").write_text(blocks["ugrnn.py"])
    return folder


def test_every_command_of_both_pages_works_on_the_pages_cell(plugin_folder):
    page = _commands(DOC.read_text(), {})
    readme = _commands(README.read_text().split("## Check your own cell", 1)[1].split("\n## ", 1)[0],
                       {"my_cell": "ugrnn"})
    assert page and readme == page  # the README shows the page's commands, with the user's names
    for command in page:
        done = _run(command, plugin_folder)
        assert done.returncode == 0, (command, done.stdout[-3000:], done.stderr[-3000:])
        if " check " in command:
            check_output = re.sub(" +", " ", done.stdout)  # tabulate's padding aside
    # the check: every correctness row of both frameworks passed, then training and a paired ratio
    assert "every correctness check passed" in check_output
    for framework in ("torch", "keras"):
        assert re.search(rf"\| ugrnn \| forward B3 T5 I4 H6 [^|]*\| {framework} \| pass", check_output)
        assert re.search(rf"\| ugrnn \| gradients vs finite differences B2 T4 I7 H5 \| {framework} \| pass",
                         check_output)
        assert re.search(rf"\| ugrnn \| step time ÷ gru4, B64 T28 I28 H64 \| {framework} \| info \| training "
                         r"step ×[0-9.]+, inference step ×[0-9.]+ \(paired", check_output)
    assert "| ugrnn | keras vs torch B3 T5 I4 H6 (outputs and gradients) | keras vs torch | pass" in check_output
    # the run and the report: accuracy, parameter count and the paired ratio, and the plugin named
    records = [json.loads(line) for line in (plugin_folder / "results" / "ugrnn.jsonl").read_text().splitlines()]
    ugrnn = [r for r in records if r["identity"]["cell"] == "ugrnn"]
    assert len(ugrnn) == 2 and all(r["status"] == "ok" for r in records)
    for record in ugrnn:
        assert record["environment"]["plugins"][0]["source"] == str(plugin_folder / "ugrnn.py")
        hidden = record["identity"]["hidden_size"]  # digits: 8 features a step
        assert record["params"]["recurrent"] == record["params"]["recurrent_expected"] == \
            2 * hidden * hidden + 2 * 8 * hidden + 2 * hidden  # the page's 2H² + 2IH + 2H
        assert record["timing"]["paired_ratio"]["train_step"]["median"] > 0
    summary = (plugin_folder / "reports" / "ugrnn" / "summary.md").read_text()
    assert re.search(r"\| digits +\| ugrnn +\| torch", summary) and re.search(r"\| digits +\| ugrnn +\| keras", summary)
    assert re.search(r"\| ugrnn +\| torch .*\| paired", summary)
    assert "## Plugins" in summary and "ugrnn.py" in summary


def test_one_wrong_activation_in_one_framework_fails_the_check_and_is_never_timed(plugin_folder):
    good = (plugin_folder / "ugrnn.py").read_text()
    torch_step = "g = torch.sigmoid(a_g)"
    assert good.count(torch_step) == 1
    (plugin_folder / "ugrnn_wrong.py").write_text(good.replace(torch_step, "g = torch.tanh(a_g)"))
    done = _run("python -m bench check ugrnn_wrong.py --correctness-only", plugin_folder)
    assert done.returncode == 1, done.stdout[-2000:]
    failures = [line for line in done.stderr.splitlines() if line.startswith("FAIL:")]
    assert failures and all(" in torch: " in line or " in keras vs torch: " in line for line in failures)
    assert re.search(r"FAIL: ugrnn in torch: forward B3 T5 I4 H6 .*max \|Δ\| [0-9.e-]+ .*worst at .*time step \d+, "
                     r"output unit \d+", done.stderr)
    assert re.search(r"\| ugrnn \| forward B3 T5 I4 H6 [^|]*\| keras \| pass", re.sub(" +", " ", done.stdout))
    # a timing job of the wrong cell is recorded as incorrect, with the failing check, and not timed
    run = _run("python -m bench run --plugin ugrnn_wrong.py --cells ugrnn --frameworks torch --measure timing "
               "--hidden 8 --timed-steps 2 --output wrong.jsonl --no-report --no-progress", plugin_folder)
    assert run.returncode == 1
    (record,) = [json.loads(line) for line in (plugin_folder / "wrong.jsonl").read_text().splitlines()]
    assert record["status"] == "incorrect" and record["timing"] is None
    assert "does not match its NumPy reference" in record["error"] and "max |Δ|" in record["error"]
