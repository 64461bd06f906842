"""What a framework's runner provides for one job: the `ModelAdapter` protocol the measuring code calls."""

from __future__ import annotations

from typing import Any, Callable, Protocol

import numpy as np

from bench.run.runners.batches import Batch


class ModelAdapter(Protocol):
    """One framework's model, optimizer and steps for one job."""

    def train_step(self, batch: Batch) -> float:
        """One optimizer step on `batch`; the loss as a Python float."""

    def predict(self, batch: Batch) -> np.ndarray:
        """Raw outputs (logits or values) of a forward pass, as NumPy."""

    def timed_train_step(self, batch: Batch) -> Callable[[], Any]:
        """A zero-argument training step on `batch` already moved to the device."""

    def timed_infer_step(self, batch: Batch) -> Callable[[], Any]:
        """A zero-argument forward pass without gradients on `batch` on the device."""

    def sync(self, result: Any) -> None:
        """Block until the device has finished `result` (and everything queued before)."""

    def param_counts(self) -> dict[str, Any]:
        """{"framework": all model parameters, "trainable": those the optimizer updates, "recurrent": recurrent
        layers' parameters, "per_layer": [...]}."""

    def optimizer_facts(self) -> dict[str, Any]:
        """{"class", "lr", "betas", "epsilon", "epsilon_added_to"}: the Adam that trains the model."""

    def native_path(self, batch: Batch) -> str | None:
        """For a native cell: which kernel ran; None for custom cells."""

    def peak_memory(self) -> dict[str, Any]:
        """{"peak_bytes": int, "kind": how it was measured}."""
