"""`ModelConfig`: what `make_model` builds, the same in both frameworks.

Kept beside the registry so the Keras and torch model builders validate one
definition; each framework then checks that it implements the cell when it builds
the layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.cells.spec import get_spec, glorot_uniform

# "last": a dense layer on the last valid step; "per_step": on every step; "state": no dense layer, the last
# step's state is the prediction (num_outputs = the state's width), as the random-noise source trained its cells;
# "relu_last": the dense layer on the ReLU of the last valid step, as the sentiment source's ReLU → Linear →
# LogSoftmax head (its LogSoftmax with NLL is our cross-entropy from logits)
HEADS = ("last", "per_step", "state", "relu_last")
INITS = ("framework", "shared")
# "framework": each native layer trains what its framework stores; "canonical": it trains the canonical
# parameters only, so torch's nn.RNN/nn.LSTM keep their second bias vector at zero (Keras's layers already do)
NATIVE_BIASES = ("framework", "canonical")
# init="shared": each part of the model draws from its own NumPy stream of (seed, stream, ...)
SHARED_STREAMS = {"recurrent": 0, "head": 1, "embedding": 2}


def check_positive(label: str, value: object) -> int:
    """`value` as an int, or a ValueError saying it must be a positive integer."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{label} must be a positive integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class ModelConfig:
    cell: str  # registered cell name, used by every recurrent layer
    input_size: int | None  # features per step; with vocab_size set, None or embedding_dim
    hidden_size: int  # H of every recurrent layer (and direction)
    num_layers: int = 1  # stacked layers; layer k>0 reads H (or 2H if bidirectional) features
    bidirectional: bool = False  # add a backward direction per layer, concatenated per step
    head: str = "last"  # "last": (B, num_outputs) from the last step; "per_step": (B, T, num_outputs); others: HEADS
    num_outputs: int = 10  # width of the dense head (logits or raw values, no softmax)
    vocab_size: int | None = None  # token-id input with an embedding (index 0 = padding) when set
    embedding_dim: int = 64  # embedding width, used only with vocab_size
    # "framework": each framework's own initialisers; "shared": the whole model (recurrent layers by
    # spec.init_canonical, head, embedding) drawn in NumPy from the seed, identical in both frameworks
    init: str = "framework"
    seed: int = 0  # seeds the framework's initialisers and the shared NumPy initialiser
    # "framework": native layers train every bias they store (torch's nn.RNN/nn.LSTM two per gate);
    # "canonical": one per gate as the canonical form, torch's second vector folded into the first and frozen
    native_bias: str = "framework"

    def __post_init__(self) -> None:
        get_spec(self.cell)  # unknown name -> UnknownCellError listing the valid ones
        for label in ("hidden_size", "num_layers", "num_outputs", "embedding_dim"):
            check_positive(label, getattr(self, label))
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {self.head!r}")
        if self.head == "state" and self.num_outputs != self.directions * self.hidden_size:
            raise ValueError(f"head 'state' predicts with the last state itself, so num_outputs must be its width "
                             f"{self.directions * self.hidden_size} (directions × hidden_size), got {self.num_outputs}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")
        if self.native_bias not in NATIVE_BIASES:
            raise ValueError(f"native_bias must be one of {NATIVE_BIASES}, got {self.native_bias!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.vocab_size is None:
            check_positive("input_size", self.input_size)
        else:
            check_positive("vocab_size", self.vocab_size)
            if self.input_size not in (None, self.embedding_dim):
                raise ValueError(f"with vocab_size set the recurrent input is the embedding: pass "
                                 f"input_size=None or {self.embedding_dim} (embedding_dim), got {self.input_size}")

    @property
    def recurrent_input_size(self) -> int:
        return self.embedding_dim if self.vocab_size is not None else self.input_size

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    def shared_weights(self, position: int, input_size: int) -> dict[str, np.ndarray]:
        """init="shared": canonical weights of recurrent layer `position` (layers x directions, in order).

        Keras's recipe drawn in NumPy from (seed, layer, direction), so Keras and torch
        start from identical recurrent weights. Each part of the model draws from its own
        stream of the seed, so no two seeds share a layer's weights.
        """
        layer_index, direction = divmod(position, self.directions)
        rng = np.random.default_rng([self.seed, SHARED_STREAMS["recurrent"], layer_index, direction])
        return get_spec(self.cell).init_canonical(input_size, self.hidden_size, rng)

    def shared_head(self) -> dict[str, np.ndarray]:
        """init="shared": the dense head as Keras builds it, drawn in NumPy.

        `kernel` is (features in, outputs), Glorot-uniform as keras.layers.Dense; `bias` is zero.
        torch's nn.Linear stores the transpose.
        """
        rng = np.random.default_rng([self.seed, SHARED_STREAMS["head"]])
        shape = (self.directions * self.hidden_size, self.num_outputs)
        return {"kernel": glorot_uniform(shape, rng).astype(np.float32), "bias": np.zeros(shape[1], np.float32)}

    def shared_embedding(self) -> np.ndarray:
        """init="shared": the (vocab_size, embedding_dim) table, U(-0.05, 0.05) as keras.layers.Embedding.

        Row 0 is padding and starts at zero, as torch's padding_idx row does.
        """
        if self.vocab_size is None:
            raise ValueError("this model has no embedding: it was built without vocab_size")
        rng = np.random.default_rng([self.seed, SHARED_STREAMS["embedding"]])
        table = rng.uniform(-0.05, 0.05, (self.vocab_size, self.embedding_dim)).astype(np.float32)
        table[0] = 0.0
        return table
