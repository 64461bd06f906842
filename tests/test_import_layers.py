"""The layers contract in pyproject.toml ([tool.importlinter]) holds: the harness imports one way.

A module may import only from its own layer or the layers below; the few known upward imports are
listed by name in the contract's ignore_imports, so any new one fails here.
"""

import tomllib
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]
KEPT, BROKEN = 0, 1  # lint_imports' exit codes


def test_the_layers_contract_is_kept(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True) == KEPT


def test_the_contract_breaks_on_an_upward_import(monkeypatch, tmp_path):
    """The check can fail: the same layers with two of them swapped (cells above the commands) are broken."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = config["contracts"][0]
    assert "ignore_imports" not in contract  # no upward import is excused
    layers = list(contract["layers"])
    layers[1], layers[-1] = layers[-1], layers[1]  # bench.cells and datasets now sit just under the CLI
    lines = ["[importlinter]", "root_packages =", *(f"    {p}" for p in config["root_packages"]), "",
             "[importlinter:contract:layers]", f"name = {contract['name']}", "type = layers", "layers =",
             *(f"    {layer}" for layer in layers)]
    strict = tmp_path / "strict.ini"
    strict.write_text("\n".join(lines) + "\n")
    monkeypatch.chdir(ROOT)
    assert lint_imports(config_filename=str(strict), no_cache=True, no_logo=True) == BROKEN

