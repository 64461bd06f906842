"""The run settings: each knob declared once, here.

A knob is a setting of a job beyond its model, data and measurement: the learning rate, the
initialiser, the weight decay. Everything else is derived from this table: the `Job` field's default and its
check, whether and how the job's identity and label show it, the `Axes` axis that sweeps it, the
CLI flag, and the "settings" the reports label runs by (bench.plan.settings). A new knob is one
entry here, its typed field in `Job` and axis in `Axes` (bench.plan.jobs: a type checker reads them;
their defaults come from here), the runner code that uses it (`job.NAME`), and a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

# a model's initialisers and which biases its native layers train: defined beside ModelConfig, which checks them
from bench.cells.model_config import INITS, NATIVE_BIASES
from bench.plan.config import ConfigError, check_choice

# float32 matrix products on tensor cores (GPUs from Ampere on; no effect on a CPU):
# "default" leaves each framework's own setting (torch: cuDNN may use TF32, matmul may not;
# TensorFlow and JAX: both may), "tf32" lets every matmul and cuDNN call use TF32, "fp32" none.
FLOAT32_PRECISIONS = ("default", "tf32", "fp32")
# Where Adam adds its epsilon: "framework" leaves each framework's own Adam, "keras" makes torch take Keras's
# step (how the two differ: bench/run/runners/torch_adam.py); Keras is unchanged.
ADAM_EPSILONS = ("framework", "keras")


@dataclass(frozen=True)
class Knob:
    """One run setting."""

    name: str  # the Job field and identity key, e.g. "adam_epsilon"
    type: type  # str, int or float: what the CLI parses
    default: Any  # a job's value unless told otherwise
    axis: str  # the Axes field sweeping it (a tuple of values, one job each), e.g. "adam_epsilons"
    flag: str  # the `bench run` option, e.g. "--adam-epsilon"
    help: str  # the option's help (the choices are listed from `choices`)
    choices: tuple[Any, ...] = ()  # the allowed values; () = any value `valid` accepts
    valid: Callable[[Any], bool] | None = None  # for knobs without choices: the rule, e.g. positive
    rule: str = ""  # `valid` in words, for the error message ("a positive number")
    # jobs from before the knob existed keep their ids: the identity leaves the default out
    omit_default: bool = False
    tag: str = ""  # how a job's label shows a value other than the default ("/{}-bias"); "" = not shown
    tag_after_mode: bool = False  # the tag follows the mode ("gru0/torch-eager-tf32/…"), not the model size

    def check(self, value: Any) -> None:
        if self.choices:
            check_choice(self.name, value, self.choices)
        if self.valid is not None and not (isinstance(value, (int, float)) and self.valid(value)):
            raise ConfigError(f"{self.name} must be {self.rule}, got {value!r}")

    def in_identity(self, value: Any) -> bool:
        return not (self.omit_default and value == self.default)

    def label(self, value: Any) -> str:
        if not self.tag or value == self.default:
            return ""
        return self.tag.format(f"{value:g}" if isinstance(value, float) else value)


KNOBS: tuple[Knob, ...] = (
    Knob("lr", float, 1e-3, "lrs", "--lr", "Adam learning rates (default 1e-3)",
         valid=lambda v: v > 0, rule="a positive number"),
    Knob("init", str, "framework", "inits", "--init",
         "initialiser: framework (each framework's own, the default) or shared (the whole model drawn in NumPy "
         "from the seed, identical in both frameworks)", choices=INITS),
    Knob("native_bias", str, "framework", "native_biases", "--native-bias",
         "which biases the native layers train: framework (all they store, the default: torch's nn.RNN/nn.LSTM "
         "two per gate) or canonical (one per gate in both frameworks: torch's second bias frozen at zero)",
         choices=NATIVE_BIASES, omit_default=True, tag="/{}-bias"),
    Knob("adam_epsilon", str, "framework", "adam_epsilons", "--adam-epsilon",
         "where Adam adds epsilon: framework (each framework's own Adam, the default: torch 1e-8 on the "
         "bias-corrected root of v, Keras 1e-7 on the uncorrected root) or keras (torch takes Keras's step: eps "
         "rescaled every step)", choices=ADAM_EPSILONS, omit_default=True, tag="/{}-adam-epsilon"),
    Knob("float32", str, "default", "float32", "--float32",
         "float32 matmul precision on GPUs: default (each framework's own: torch lets cuDNN use TF32 but not its "
         "matmuls), tf32 (both may), fp32 (neither)", choices=FLOAT32_PRECISIONS, omit_default=True, tag="-{}",
         tag_after_mode=True),
    Knob("weight_decay", float, 0.0, "weight_decays", "--weight-decay",
         "L2 weight decay λ, added to the loss: λ·Σw² over every weight matrix (kernels, recurrent kernels, head, "
         "embedding; not biases), as Keras's L2(λ) regularizer, in both frameworks (not AdamW's decoupled decay; "
         "default 0: none)",
         valid=lambda v: v >= 0, rule="zero or positive", omit_default=True, tag="/weight-decay-{}"),
)

KNOB_DEFAULTS: dict[str, Any] = {knob.name: knob.default for knob in KNOBS}  # the Job fields' defaults
