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


PACKAGES = ("bench", "cells_torch", "cells_tf", "datasets")
MAX_MODULE_LINES = 400  # a module longer than this does more than one job: split it


def _import_circle(graph) -> list[str]:
    """One circle of imports (its first module repeated at its end), or [] when there is none."""
    import graphlib

    edges = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    try:
        graphlib.TopologicalSorter(edges).prepare()
    except graphlib.CycleError as circle:
        return list(circle.args[1])
    return []


def test_no_import_circle_not_even_a_type_only_one():
    import grimp

    graph = grimp.build_graph(*PACKAGES)  # TYPE_CHECKING imports count: grimp includes them by default
    assert _import_circle(graph) == []


def test_the_circle_finder_finds_a_circle():
    import grimp

    graph = grimp.ImportGraph()
    for importer, imported in (("a.x", "a.y"), ("a.y", "a.z"), ("a.z", "a.x"), ("a.z", "a.w")):
        graph.add_import(importer=importer, imported=imported)
    circle = _import_circle(graph)
    assert circle[0] == circle[-1] and sorted(set(circle)) == ["a.x", "a.y", "a.z"]


def test_no_module_is_over_the_line_limit():
    long = {str(path.relative_to(ROOT)): n for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
            if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}
