"""`native_kernel`: which fused ATen RNN kernel actually ran, observed with torch.profiler.

The harness records it so a timing row can prove the fast native path (cuDNN on CUDA,
the fused CPU kernels otherwise) ran rather than a fallback.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.profiler import ProfilerActivity, profile

# Most specific first: a backend kernel (cuDNN, MIOpen, oneDNN) runs inside the generic
# aten::gru / aten::lstm / aten::rnn_* op, and is the one worth recording.
FUSED_RNN_KERNELS = (
    "aten::_cudnn_rnn",
    "aten::miopen_rnn",
    "aten::mkldnn_rnn_layer",
    "aten::gru",
    "aten::lstm",
    "aten::rnn_tanh",
    "aten::rnn_relu",
)


def native_kernel(layer: nn.Module, x: Tensor) -> str | None:
    """Run `layer(x)` once under the profiler; the fused RNN kernel that ran, or None.

    None means no fused kernel ran: a hand-written cell, or a native layer that fell
    back to a step-by-step path.
    """
    with torch.no_grad(), profile(activities=[ProfilerActivity.CPU]) as prof:
        layer(x)
    seen = {event.name for event in prof.events()}
    return next((name for name in FUSED_RNN_KERNELS if name in seen), None)
