"""The mode registry: each mode declared once, every consumer dispatching through it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.plan.config import ConfigError
from bench.plan.jobs import Axes, Job, expand
from bench.plan.modes import Mode, UnknownModeError, get_mode, list_modes, register_mode, resolve_mode, usual_mode

BENCH = Path(__file__).resolve().parents[1] / "bench"
# a mode's name compared with a string literal: what the registry's fields replace
NAME_TEST = re.compile(r"""\bmode\s*(==|!=|in)\s*\(?\s*["']""")


@pytest.mark.parametrize("mode", list_modes(), ids=lambda m: f"{m.backend}-{m.name}")
def test_each_mode_is_found_by_its_name_and_aliases_and_says_what_it_runs(mode):
    assert get_mode(mode.backend, mode.name) is mode
    for alias in mode.aliases:
        assert get_mode(mode.backend, alias) is mode
    assert mode.runs and mode.meaning().startswith(mode.runs)
    if mode.compiler != "torch.compile":
        assert mode.torch_compile_kwargs() == {"dynamic": False} and mode.time_loop == "python"


@pytest.mark.parametrize("backend", sorted({mode.backend for mode in list_modes()}))
def test_each_backend_has_one_usual_mode_and_one_compiled_mode(backend):
    assert usual_mode(backend) is get_mode(backend, "default")
    assert get_mode(backend, "compiled").compiler != "none"


def test_an_unknown_mode_lists_the_valid_ones():
    with pytest.raises(UnknownModeError, match=r"mode 'warp' does not exist for torch; choose from eager, compiled, "
                                               r"compiled_scan.*\(or the aliases default, compiled\)"):
        get_mode("torch", "warp")
    with pytest.raises(ConfigError, match="mode 'warp' exists for none of the frameworks torch"):
        expand(Axes(tasks=("mnist",), measure="timing", frameworks=("torch",), modes=("warp",)))


def test_a_cuda_mode_refuses_a_cpu_device_and_a_timing_only_mode_refuses_training():
    with pytest.raises(UnknownModeError, match="needs --device cuda"):
        resolve_mode("torch", "torch", "compiled_step_graph", "cpu")
    assert resolve_mode("torch", "torch", "compiled_step_graph", "cuda") == "compiled_step_graph"
    with pytest.raises(ConfigError, match="times steps but cannot train"):
        Job(cell="gru0", framework="torch", backend="torch", mode="compiled_step_graph", device="cuda",
            task="mnist", measure="train", epochs=1)


def test_a_job_carries_the_concrete_name_and_reads_its_declaration():
    job = expand(Axes(tasks=("mnist",), measure="timing", cells=("gru0",), frameworks=("torch",),
                      modes=("default",)))[0]
    assert job.mode == "eager" and job.execution is get_mode("torch", "eager")
    with pytest.raises(ConfigError, match="is an alias"):
        Job(cell="gru0", framework="torch", backend="torch", mode="default", device="cpu", task="mnist",
            measure="train", epochs=1)


def test_a_declaration_that_contradicts_itself_or_repeats_a_name_is_refused():
    with pytest.raises(ValueError, match="compile_kwargs, the scan and while_loop time loops and buffer donation are "
                                         "torch.compile's"):
        Mode("bad", "torch", "scan without a compiler", time_loop="scan")
    with pytest.raises(ValueError, match="compiler 'jit' is not one of"):
        Mode("bad", "torch", "unknown compiler", compiler="jit")
    with pytest.raises(ValueError, match="already registered for torch"):
        register_mode(Mode("eager", "torch", "a second eager"))
    with pytest.raises(ValueError, match="alias default already names another torch mode"):
        register_mode(Mode("fresh", "torch", "a second default", aliases=("default",)))
    assert [mode.name for mode in list_modes("torch")].count("eager") == 1  # nothing was added


def test_torch_compile_arguments_come_from_the_declaration():
    assert get_mode("torch", "compiled_cudagraphs").torch_compile_kwargs() == {"dynamic": False,
                                                                              "mode": "reduce-overhead"}
    assert get_mode("torch", "compiled_scan_cpp").torch_compile_kwargs() == {"dynamic": False,
                                                                            "options": {"cpp_wrapper": True}}
    # the scan modes compile without AOT autograd's buffer donation (tests/test_cells_torch.py: why)
    scans = [mode.name for mode in list_modes("torch") if mode.time_loop == "scan"]
    assert scans == ["compiled_scan", "compiled_scan_cpp", "compiled_scan_k4", "compiled_scan_k8", "compiled_scan_k16",
                     "compiled_scan_k4_cpp", "compiled_scan_k8_cpp", "compiled_scan_k8_autotune"]
    assert [mode.name for mode in list_modes("torch") if not mode.donated_buffers] == scans + ["compiled_while_loop"]
    assert [get_mode("torch", name).scan_unroll for name in scans] == [1, 1, 4, 8, 16, 4, 8, 8]
    assert get_mode("torch", "compiled_scan_k8_cpp").torch_compile_kwargs() == {
        "dynamic": False, "options": {"cpp_wrapper": True, "cpp_wrapper_build_separate": True}}
    assert get_mode("torch", "compiled_scan_k8_autotune").torch_compile_kwargs() == {
        "dynamic": False, "mode": "max-autotune-no-cudagraphs"}
    # every mode that hands the time loop to an operator is checked at the job's own sizes
    assert [mode.name for mode in list_modes("torch") if mode.checks_job_sizes] == scans + ["compiled_while_loop"]


def test_only_a_scan_mode_can_unroll_steps_per_iteration():
    with pytest.raises(ValueError, match="scan_unroll 4 needs the scan time loop"):
        Mode("bad", "torch", "unrolled without a scan", compiler="torch.compile", scan_unroll=4)
    with pytest.raises(ValueError, match="scan_unroll 0 needs"):
        Mode("bad", "torch", "zero steps per iteration", compiler="torch.compile", time_loop="scan", scan_unroll=0)


def test_no_module_outside_the_registry_tests_a_mode_by_its_name():
    """Runners, jobs and the checker read a mode's fields; a name compared with a literal would bypass them."""
    offenders = [f"{path.relative_to(BENCH.parent)}:{number}: {line.strip()}"
                 for path in sorted(BENCH.rglob("*.py")) if path.name != "modes.py"
                 for number, line in enumerate(path.read_text().splitlines(), 1) if NAME_TEST.search(line)]
    assert not offenders, "\n".join(offenders)
