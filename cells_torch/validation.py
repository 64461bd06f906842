"""Input checks shared by custom and native layers: clear errors instead of matmul noise."""

from __future__ import annotations

import torch
from torch import Tensor

State = tuple[Tensor, ...]


def check_input(name: str, x: object, input_size: int, weight: Tensor) -> None:
    """Raise unless `x` is a float tensor (batch, time >= 1, input_size) of `weight`'s dtype and device."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} expects a torch.Tensor input (batch, time, {input_size}), "
                        f"got {type(x).__name__}")
    if x.dim() != 3 or x.shape[2] != input_size or x.shape[1] < 1:
        raise ValueError(f"{name} expects input (batch, time, {input_size}) with time >= 1, "
                         f"got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} expects a floating-point input, got {x.dtype}; "
                         f"token ids belong in a model with vocab_size set")
    # under autocast a layer may take another float dtype than its weights: autocast converts them
    other_dtype = x.dtype != weight.dtype and not torch.is_autocast_enabled(x.device.type)
    if other_dtype or x.device != weight.device:
        raise ValueError(f"{name} has {_where(weight)} weights and got {_where(x)} input; move one to the "
                         f"other: x.to({weight.device.type!r}, {weight.dtype}) or layer.to({x.device.type!r}, "
                         f"{x.dtype})")


def _where(t: Tensor) -> str:
    return f"{str(t.dtype).removeprefix('torch.')} {t.device}"


def initial_state(name: str, x: Tensor, hidden_size: int, state_size: int,
                  given: Tensor | tuple[Tensor, ...] | list[Tensor] | None) -> State | None:
    """`given` as a checked tuple of `state_size` (batch, hidden) tensors, or None for zeros."""
    if given is None:
        return None
    parts = (given,) if isinstance(given, Tensor) else tuple(given)
    expected = (x.shape[0], hidden_size)
    if len(parts) != state_size:
        what = "a tuple (h, c)" if state_size == 2 else "one tensor h"
        raise ValueError(f"{name} expects initial_state as {what} of shape {expected}, "
                         f"got {len(parts)} tensor(s)")
    for part in parts:
        if not isinstance(part, Tensor) or tuple(part.shape) != expected:
            shape = tuple(part.shape) if isinstance(part, Tensor) else type(part).__name__
            raise ValueError(f"{name} expects initial state tensors of shape {expected}, got {shape}")
    return tuple(p.to(x.dtype) for p in parts)


def zero_state(x: Tensor, hidden_size: int, state_size: int) -> State:
    """Zeros on x's device and dtype, one (batch, hidden) tensor per state part."""
    return tuple(x.new_zeros(x.shape[0], hidden_size) for _ in range(state_size))


def public_state(state: State) -> Tensor | State:
    """What callers get back: h alone, or (h, c) for an LSTM."""
    return state[0] if len(state) == 1 else state

