"""Cell name -> torch layer class. Family modules fill it with `@register(name)`."""

from __future__ import annotations

from typing import Callable, TypeVar

from torch import nn

from bench.cells import UnknownCellError, get_spec
from bench.cells.spec import mark_implemented

LayerT = TypeVar("LayerT", bound=type[nn.Module])

_LAYERS: dict[str, type[nn.Module]] = {}


def register(name: str) -> Callable[[LayerT], LayerT]:
    """Class decorator: make `cls` the torch implementation of cell `name`.

    The spec must already be registered in `bench.cells`, so a typo fails at import
    time instead of producing a cell that no test ever parametrizes over.
    """
    get_spec(name)  # raises UnknownCellError listing the valid names

    def decorate(cls: LayerT) -> LayerT:
        from cells_torch.base import CustomRecurrent

        if name in _LAYERS:
            raise ValueError(f"torch cell {name!r} is already registered by {_LAYERS[name].__name__}")
        if issubclass(cls, CustomRecurrent) and not cls.implements_recurrence():
            raise TypeError(f"torch class {cls.__name__} for cell {name!r} defines neither step(x_proj_t, state, "
                            "consts) (one time step) nor sequence(x_proj, state, consts) (the whole sequence); "
                            "give it one of them (docs/adding_a_cell_torch.md)")
        cls.cell_name = name
        _LAYERS[name] = cls
        mark_implemented(name, "torch")
        return cls

    return decorate


def list_cells() -> list[str]:
    """Sorted names of the cells that have a torch implementation."""
    return sorted(_LAYERS)


def layer_class(name: str) -> type[nn.Module]:
    """The torch class of `name`; an unknown name raises `UnknownCellError` listing valid ones."""
    get_spec(name)
    try:
        return _LAYERS[name]
    except KeyError:
        raise UnknownCellError(
            f"cell {name!r} has a spec but no torch implementation; torch implements: "
            f"{', '.join(list_cells())}") from None


def make_layer(name: str, input_size: int, hidden_size: int, **kw) -> nn.Module:
    """A fresh layer of cell `name` (batch-first); `kw` goes to the class (device, dtype)."""
    return layer_class(name)(input_size, hidden_size, **kw)
