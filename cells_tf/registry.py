"""Which Keras class implements which cell name.

Family modules register themselves with the two decorators below when `cells_tf` is
imported; there is no hand-kept list of names.  Every name must already have a spec in
`bench.cells`, so a typo fails at import time with the list of valid names.
"""

from __future__ import annotations

from typing import Callable, TypeVar

from bench.cells import UnknownCellError, get_spec
from bench.cells.spec import mark_implemented

T = TypeVar("T", bound=type)

# cell name -> keras.layers.Layer cell class (hand-written cells, run by CustomRecurrent)
_CELL_CLASSES: dict[str, type] = {}
# cell name -> sequence layer class wrapping a native Keras layer
_NATIVE_LAYERS: dict[str, type] = {}


def _register(table: dict[str, type], name: str, native: bool) -> Callable[[T], T]:
    spec = get_spec(name)  # raises UnknownCellError listing the valid names
    if spec.native != native:
        kind = "native layer" if native else "hand-written cell"
        raise ValueError(f"cell {name!r} is {'' if spec.native else 'not '}native in bench.cells; "
                         f"it cannot be registered as a Keras {kind}")

    def decorator(cls: T) -> T:
        if name in _CELL_CLASSES or name in _NATIVE_LAYERS:
            raise ValueError(f"cell {name!r} already has a Keras implementation")
        if not native and not cls.implements_recurrence():
            raise TypeError(f"Keras cell class {cls.__name__} for cell {name!r} defines neither step(projected, "
                            "states) (one time step) nor sequence(projected, states) (the whole sequence); give it "
                            "one of them (docs/adding_a_cell_keras.md)")
        cls.cell_name = name
        table[name] = cls
        mark_implemented(name, "keras")
        return cls

    return decorator


def register_cell_class(name: str) -> Callable[[T], T]:
    """Class decorator: `name` is a hand-written cell implemented by this class."""
    return _register(_CELL_CLASSES, name, native=False)


def register_native_layer(name: str) -> Callable[[T], T]:
    """Class decorator: `name` is a native Keras layer wrapped by this sequence layer class."""
    return _register(_NATIVE_LAYERS, name, native=True)


def list_cells() -> list[str]:
    """Sorted names of the cells implemented in Keras."""
    return sorted(set(_CELL_CLASSES) | set(_NATIVE_LAYERS))


def lookup(name: str) -> tuple[str, type]:
    """("cell", cell class) or ("native", layer class) for `name`.

    An unknown name, or one with a spec but no Keras implementation, raises
    `bench.cells.UnknownCellError` listing the valid names.
    """
    get_spec(name)
    if name in _CELL_CLASSES:
        return "cell", _CELL_CLASSES[name]
    if name in _NATIVE_LAYERS:
        return "native", _NATIVE_LAYERS[name]
    raise UnknownCellError(f"cell {name!r} has a spec in bench.cells but no Keras implementation "
                           f"(see docs/adding_a_cell_keras.md); Keras implements: {', '.join(list_cells())}")
