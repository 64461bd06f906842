"""`make_model`: stacked (optionally bidirectional) recurrent layers of one cell + a head.

Variable lengths use padding at the END. The forward direction reads step lengths-1.
The backward direction reverses each sequence within its length, so it starts at the
true last step; its "last" value is its output at original position 0. The same code
serves custom and native layers (no packed sequences), so both are timed alike.
Outputs past a sequence's length are unspecified: mask them in a per-step loss.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bench.cells.model_config import ModelConfig
from cells_torch.registry import layer_class

class RecurrentModel(nn.Module):
    """`model(x, lengths=None)`: x (B, T, I) floats, or (B, T) int64 ids with vocab_size."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        cls = layer_class(config.cell)
        self.embedding = (nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=0)
                          if config.vocab_size is not None else None)
        layers = []
        for index in range(config.num_layers):
            in_size = config.recurrent_input_size if index == 0 else config.directions * config.hidden_size
            layers.extend(cls(in_size, config.hidden_size) for _ in range(config.directions))
        # in order: layer 0 forward, [layer 0 backward], layer 1 forward, ...
        self.recurrent_layers = nn.ModuleList(layers)
        if config.native_bias == "canonical":
            for layer in self.recurrent_layers:
                layer.train_canonical_only()
        self.head = (nn.Identity() if config.head == "state"
                     else nn.Linear(config.directions * config.hidden_size, config.num_outputs))

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        config = self.config
        x = self._embed(x)
        lengths = self._check_lengths(x, lengths)
        directions = config.directions
        for index in range(config.num_layers):
            forward_out, _ = self.recurrent_layers[index * directions](x)
            if directions == 2:
                backward_layer = self.recurrent_layers[index * directions + 1]
                backward_out, _ = backward_layer(_reverse(x, lengths))
                x = torch.cat([forward_out, _reverse(backward_out, lengths)], dim=2)
            else:
                x = forward_out
        if config.head == "per_step":
            return self.head(x)
        hidden = config.hidden_size
        last = _at_last_step(x[..., :hidden], lengths)
        if directions == 2:
            # the backward direction has seen the whole sequence at original position 0
            last = torch.cat([last, x[:, 0, hidden:]], dim=1)
        return self.head(torch.relu(last) if config.head == "relu_last" else last)

    def _embed(self, x: Tensor) -> Tensor:
        if self.embedding is None:
            return x  # the first recurrent layer checks shape and dtype
        if not isinstance(x, Tensor) or x.dim() != 2 or x.is_floating_point() or x.is_complex():
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"a model with vocab_size={self.config.vocab_size} expects int64 token ids "
                             f"(batch, time), got {shape}"
                             + (f" of {x.dtype}" if isinstance(x, Tensor) else ""))
        return self.embedding(x)

    def _check_lengths(self, x: Tensor, lengths: Tensor | None) -> Tensor | None:
        if lengths is None:
            return None
        lengths = torch.as_tensor(lengths)
        batch, steps = x.shape[0], x.shape[1]
        if lengths.shape != (batch,) or lengths.is_floating_point():
            raise ValueError(f"lengths must be integers of shape ({batch},), one per sequence, "
                             f"got {tuple(lengths.shape)} of {lengths.dtype}")
        # value checks read the data: only where that costs no device sync or graph break
        if lengths.device.type == "cpu" and not torch.compiler.is_compiling():
            low, high = int(lengths.min()), int(lengths.max())
            if low < 1 or high > steps:
                raise ValueError(f"lengths must lie in [1, {steps}] (the padded time axis), "
                                 f"got values in [{low}, {high}]")
        return lengths.to(x.device)


def _reverse(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence within its length; padding stays in place at the end."""
    if lengths is None:
        return x.flip(1)
    steps = torch.arange(x.shape[1], device=x.device)
    valid = steps < lengths[:, None]
    index = torch.where(valid, lengths[:, None] - 1 - steps, steps)  # (B, T)
    return x.gather(1, index[..., None].expand(-1, -1, x.shape[2]))


def _at_last_step(x: Tensor, lengths: Tensor | None) -> Tensor:
    if lengths is None:
        return x[:, -1]
    return x[torch.arange(x.shape[0], device=x.device), lengths - 1]


def make_model(cell: str, input_size: int | None, hidden_size: int, *, num_layers: int = 1,
               bidirectional: bool = False, head: str = "last", num_outputs: int = 10,
               vocab_size: int | None = None, embedding_dim: int = 64, init: str = "framework",
               seed: int = 0, native_bias: str = "framework") -> RecurrentModel:
    """Build a `RecurrentModel`; the same arguments and seed always give the same weights."""
    config = ModelConfig(cell=cell, input_size=input_size, hidden_size=hidden_size,
                         num_layers=num_layers, bidirectional=bidirectional, head=head,
                         num_outputs=num_outputs, vocab_size=vocab_size,
                         embedding_dim=embedding_dim, init=init, seed=seed, native_bias=native_bias)
    # a private RNG stream: reproducible weights without disturbing the caller's seed
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = RecurrentModel(config)
    if init == "shared":
        _shared_init(model)
    return model


def _shared_init(model: RecurrentModel) -> None:
    """Load the shared initialiser's weights into every recurrent layer and direction, the head and embedding."""
    config = model.config
    for position, layer in enumerate(model.recurrent_layers):
        layer.set_canonical(config.shared_weights(position, layer.input_size))
    with torch.no_grad():
        if config.head != "state":  # a state readout has no head to initialise
            head = config.shared_head()
            model.head.weight.copy_(torch.from_numpy(head["kernel"].T.copy()))  # nn.Linear keeps (out, in)
            model.head.bias.copy_(torch.from_numpy(head["bias"]))
        if model.embedding is not None:
            model.embedding.weight.copy_(torch.from_numpy(config.shared_embedding()))
