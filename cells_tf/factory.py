"""`make_layer`: a built sequence layer of any registered cell, custom or native."""

from __future__ import annotations

from cells_tf.custom import CustomRecurrent
from cells_tf.registry import lookup
from cells_tf.sequence import SequenceLayer


def make_layer(name: str, input_size: int, hidden_size: int, *, return_state: bool = False,
               seed: int | None = None, **kwargs) -> SequenceLayer:
    """A built layer mapping (B, T, input_size) to (B, T, hidden_size).

    `return_state` also returns the final state(s); `seed` seeds Keras's initialisers
    (None draws fresh weights); other keyword arguments go to keras.layers.Layer
    (name, dtype, trainable).  An unknown name raises bench.cells.UnknownCellError.
    """
    kind, cls = lookup(name)
    if kind == "cell":
        layer = CustomRecurrent(name, input_size, hidden_size, return_state=return_state, seed=seed, **kwargs)
    else:
        layer = cls(input_size, hidden_size, return_state=return_state, seed=seed, **kwargs)
    layer.build((None, None, input_size))
    return layer
