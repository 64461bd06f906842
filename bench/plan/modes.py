"""The execution modes: each declared once, here, as the cells are in bench.cells.

A mode says how a job's model runs: which compiler, with which options, how a hand-written torch
cell runs its time loop, whether the whole step is captured as one CUDA graph, what device it needs
and whether it can train or only time. The runners build the model from these fields, the jobs check
them, the correctness gate asks `checks_job_sizes`, and `bench list` and the reports print `runs`. No
other module compares a mode's name.

A new mode is one `register_mode(Mode(...))` below; if its fields already say how to run it (a
torch.compile option, the scan time loop), that is all; otherwise the runner code for the new field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.plan.config import ConfigError

COMPILERS = ("none", "torch.compile", "tf.function", "xla")  # what compiles the model; "none" = op by op
# a hand-written torch cell's time loop: a Python loop, torch's scan operator or its while_loop operator (the same
# names as cells_torch.base.TIME_LOOPS, which plan code cannot import without torch; a test holds them equal)
TIME_LOOPS = ("python", "scan", "while_loop")


class UnknownModeError(ConfigError):
    """A mode no backend declares, or one this backend or device cannot run; the message lists the valid ones."""


@dataclass(frozen=True)
class Mode:
    """One execution mode of one backend."""

    name: str  # what jobs and records carry, e.g. "compiled_scan"
    backend: str  # "torch", "tensorflow" or "jax"
    runs: str  # what it runs, one line: `bench list` and every report print it
    compiler: str = "none"  # one of COMPILERS
    # torch.compile's keyword arguments besides dynamic=False (a job runs one shape), as sorted pairs:
    # e.g. (("mode", "reduce-overhead"),), or (("options", (("cpp_wrapper", True),)),) for Inductor's options
    compile_kwargs: tuple[tuple[str, Any], ...] = ()
    time_loop: str = "python"  # one of TIME_LOOPS; "scan" compiles a hand-written cell's loop once, as a whole graph
    # the scan's time steps per iteration, unrolled in its body: fewer host trips (T / k), a longer compile
    scan_unroll: int = 1
    # AOT autograd may donate the backward's saved buffers for reuse (torch._functorch.config.donated_buffer). Off
    # for the scan: with it, torch 2.13's and 2.14.1's Inductor compute wrong parameter gradients through the scan
    # for some cells; without it they are right (the shape of pytorch #153679, whose fix #193960 stops a loop
    # body inheriting the outer graph's donation indices)
    donated_buffers: bool = True
    captures_step: bool = False  # the whole training step (loss and Adam too) captured once as one CUDA graph
    marks_cudagraph_steps: bool = False  # each step tells torch a new CUDA-graph step begins (reduce-overhead)
    needs_device: str | None = None  # "cuda" when it cannot run elsewhere; None = any device
    timing_only: bool = False  # it replays one step on one batch: it times steps but cannot train a model
    aliases: tuple[str, ...] = ()  # framework-neutral names that mean this mode here: "default", "compiled"

    def __post_init__(self) -> None:
        if self.compiler not in COMPILERS:
            raise ValueError(f"mode {self.name}: compiler {self.compiler!r} is not one of {', '.join(COMPILERS)}")
        if self.time_loop not in TIME_LOOPS:
            raise ValueError(f"mode {self.name}: time_loop {self.time_loop!r} is not one of {', '.join(TIME_LOOPS)}")
        if (self.compile_kwargs or self.time_loop != "python" or not self.donated_buffers) \
                and self.compiler != "torch.compile":
            raise ValueError(f"mode {self.name}: compile_kwargs, the scan and while_loop time loops and buffer "
                             "donation are torch.compile's")
        if self.scan_unroll != 1 and (self.time_loop != "scan" or self.scan_unroll < 1):
            raise ValueError(f"mode {self.name}: scan_unroll {self.scan_unroll} needs the scan time loop and k >= 1")

    @property
    def checks_job_sizes(self) -> bool:
        """Whether the correctness gate also checks the cell at the job's own sizes, not only the checker's.

        A compiler that lowers the whole time loop can be right at one length and wrong at another (torch
        2.13's Inductor is, through scan), so such a mode's cell is checked where it is timed.
        """
        return self.time_loop != "python"

    def meaning(self) -> str:
        """`runs`, with where and how it can run."""
        limits = [limit for limit, applies in (("CUDA only", self.needs_device == "cuda"),
                                               ("timing only", self.timing_only)) if applies]
        return self.runs + (f" ({', '.join(limits)})" if limits else "")

    def torch_compile_kwargs(self) -> dict[str, Any]:
        """torch.compile's keyword arguments for this mode (options as the dict torch wants)."""
        kwargs = {key: dict(value) if key == "options" else value for key, value in self.compile_kwargs}
        return {"dynamic": False, **kwargs}


_MODES: dict[tuple[str, str], Mode] = {}


def register_mode(mode: Mode) -> Mode:
    """Add `mode` to the registry; a second mode of the same backend and name, or a taken alias, is an error."""
    if (mode.backend, mode.name) in _MODES:
        raise ValueError(f"mode {mode.name!r} is already registered for {mode.backend}")
    taken = {alias for other in list_modes(mode.backend) for alias in other.aliases} & set(mode.aliases)
    if taken:
        raise ValueError(f"mode {mode.name!r}: alias {', '.join(sorted(taken))} already names another {mode.backend} mode")
    _MODES[(mode.backend, mode.name)] = mode
    return mode


def list_modes(backend: str | None = None) -> list[Mode]:
    """Every registered mode (of `backend`), in declaration order."""
    return [mode for (b, _), mode in _MODES.items() if backend is None or b == backend]


def get_mode(backend: str, name: str) -> Mode:
    """The mode `name` (a concrete name or an alias) of `backend`; an unknown one's error lists the valid ones."""
    for mode in list_modes(backend):
        if name == mode.name or name in mode.aliases:
            return mode
    valid = ", ".join(mode.name for mode in list_modes(backend)) or "none (unknown backend)"
    raise UnknownModeError(f"mode {name!r} does not exist for {backend}; choose from {valid} "
                           "(or the aliases default, compiled)")


def resolve_mode(framework: str, backend: str, name: str, device: str) -> str:
    """The concrete name of mode `name` for this backend and device, or an error saying why it cannot run."""
    mode = get_mode(backend, name)
    if mode.needs_device is not None and device != mode.needs_device:
        raise UnknownModeError(f"mode {mode.name!r} of {framework} needs --device {mode.needs_device} (CUDA graphs), "
                               f"got device {device!r}")
    return mode.name


def usual_mode(backend: str) -> Mode:
    """How users usually run `backend`: its "default" mode (the native layer as users run it is timed in it)."""
    return get_mode(backend, "default")


# -- the modes -----------------------------------------------------------------------------------------

# torch: the loss and Adam run eagerly in every mode but compiled_step_graph, so the modes differ in how the
# model's forward and backward run
register_mode(Mode("eager", "torch", "the module as written, op by op", aliases=("default",)))
register_mode(Mode("compiled", "torch", "torch.compile (Inductor) of the model; the loss and Adam run eagerly",
                   compiler="torch.compile", aliases=("compiled",)))
register_mode(Mode("compiled_scan", "torch",
                   "torch.compile of the model with each hand-written cell's time loop as torch's scan operator "
                   "(torch._higher_order_ops.scan, a prototype), compiled once whatever the sequence length; native "
                   "layers as in compiled", compiler="torch.compile", time_loop="scan", donated_buffers=False))
register_mode(Mode("compiled_scan_cpp", "torch",
                   "compiled_scan with Inductor's C++ wrapper (cpp_wrapper): the compiled code calls its kernels from "
                   "C++, not Python, so the host does less per time step", compiler="torch.compile", time_loop="scan",
                   donated_buffers=False, compile_kwargs=(("options", (("cpp_wrapper", True),)),)))
# the scan with k steps unrolled per iteration: a probe (gru0 alone, B16 T1024 I28 H128, one thread) took the
# plain scan from 2.23x eager nn.GRU to 1.20x at k 4, 1.05x at k 8, 1.15x at k 16; the long suite times k 8
SCAN_UNROLLS = (4, 8, 16)
for _k in SCAN_UNROLLS:
    register_mode(Mode(f"compiled_scan_k{_k}", "torch",
                       f"compiled_scan with {_k} time steps unrolled in each scan iteration (the leftover steps "
                       f"unrolled after it): the host drives T/{_k} loop trips", compiler="torch.compile",
                       time_loop="scan", scan_unroll=_k, donated_buffers=False))
# the unrolled scans with Inductor's C++ wrapper: the host runs C++, not Python, around each loop trip's kernels
# (reports/cpu-long/one-thread: k 8 with it is the best mode at T 256 and 1024). Its entry code is compiled apart from
# the kernels and less optimised (cpp_wrapper_build_separate): built as one file at -O3 it took about twice as long
CPP_WRAPPER_OPTIONS = (("options", (("cpp_wrapper", True), ("cpp_wrapper_build_separate", True))),)
for _k in (4, 8):
    register_mode(Mode(f"compiled_scan_k{_k}_cpp", "torch",
                       f"compiled_scan_k{_k} with Inductor's C++ wrapper, its entry code compiled apart from the "
                       "kernels (cpp_wrapper_build_separate, for a shorter compile): the host does less per loop trip",
                       compiler="torch.compile", time_loop="scan", scan_unroll=_k, donated_buffers=False,
                       compile_kwargs=CPP_WRAPPER_OPTIONS))
# two more tried for the long suite's goal (reports/cpu-long/one-thread), kept so their records show how they fare:
# max-autotune on the k 8 scan, and the time loop as the while_loop operator
register_mode(Mode("compiled_scan_k8_autotune", "torch",
                   'compiled_scan_k8 with torch.compile(mode="max-autotune-no-cudagraphs"): Inductor benchmarks '
                   "candidate kernels and picks the fastest", compiler="torch.compile", time_loop="scan",
                   scan_unroll=8, donated_buffers=False, compile_kwargs=(("mode", "max-autotune-no-cudagraphs"),)))
register_mode(Mode("compiled_while_loop", "torch",
                   "torch.compile of the model with each hand-written cell's time loop as torch's while_loop operator "
                   "(torch._higher_order_ops.while_loop, a prototype) writing each output into a carried buffer; "
                   "native layers as in compiled", compiler="torch.compile", time_loop="while_loop",
                   donated_buffers=False))
register_mode(Mode("compiled_cudagraphs", "torch",
                   'torch.compile(mode="reduce-overhead"): the compiled forward and backward replayed as CUDA graphs; '
                   "the loss and Adam run eagerly", compiler="torch.compile",
                   compile_kwargs=(("mode", "reduce-overhead"),), marks_cudagraph_steps=True, needs_device="cuda"))
register_mode(Mode("compiled_step_graph", "torch",
                   "torch.compile of the model, and the whole training step (loss and a capturable Adam included) "
                   "captured as one CUDA graph: the host launches one graph per step", compiler="torch.compile",
                   captures_step=True, needs_device="cuda", timing_only=True))
# Keras: "graph" is tf.function without XLA, which only TensorFlow has; on JAX the default is already XLA
register_mode(Mode("graph", "tensorflow", "Keras on TensorFlow, each step a tf.function", compiler="tf.function",
                   aliases=("default",)))
register_mode(Mode("xla", "tensorflow", "Keras on TensorFlow, each step XLA-compiled (jit_compile=True)",
                   compiler="xla", aliases=("compiled",)))
register_mode(Mode("eager", "tensorflow", "Keras on TensorFlow, run_eagerly=True"))
register_mode(Mode("xla", "jax", "Keras on JAX, each step jitted (jax.jit, Keras's default on JAX)", compiler="xla",
                   aliases=("default", "compiled")))
register_mode(Mode("eager", "jax", "Keras on JAX, run_eagerly=True"))
