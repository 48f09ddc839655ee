"""Mixed precision: which dtype a run computes in, and the autocast context that applies it.

Weights and optimizer state stay float32; only the matrix products run in bfloat16 (or float16)
under :func:`torch.autocast`. On this project's benchmark CPU (AMX-bf16) bfloat16 makes a MiniLM
training step about twice as fast (``benchmarks/results/precision.md``); a BiGRU gains nothing,
so ``auto`` keeps GRUs in float32. float16 (``fp16``, for GPUs without bfloat16) has a narrow
exponent range, so its training scales the loss with :func:`grad_scaler`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal

import torch

from rationalizer.errors import RationalizerError

Precision = Literal["auto", "fp32", "bf16", "fp16"]
PRECISIONS: tuple[Precision, ...] = ("auto", "fp32", "bf16", "fp16")
#: autocast dtype of each explicit precision
_DTYPES: dict[Precision, torch.dtype | None] = {
    "fp32": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}


def checked_precision(precision: str) -> Precision:
    """``precision`` if it is one of :data:`PRECISIONS`, else a clear error."""
    if precision not in PRECISIONS:
        raise RationalizerError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    return precision


def bf16_is_fast(device: torch.device) -> bool:
    """Whether ``device`` has native bfloat16 matrix units (CPU: AVX512-BF16 or AMX; CUDA:
    compute capability 8.0 or later)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        # torch exposes the CPU feature test only privately; without it, assume no support.
        probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
        return bool(probe and probe())
    return False


def autocast_dtype(
    precision: Precision, device: str | torch.device, encoder_kind: str
) -> torch.dtype | None:
    """The dtype to autocast to (None: plain float32) for a run's ``precision`` setting."""
    if precision != "auto":
        return _DTYPES[precision]
    if encoder_kind == "transformer" and bf16_is_fast(torch.device(device)):
        return torch.bfloat16
    return None


def precision_name(dtype: torch.dtype | None) -> Precision:
    """The explicit precision setting that autocasts to ``dtype``."""
    return next(name for name, known in _DTYPES.items() if known == dtype)


def grad_scaler(dtype: torch.dtype | None, device: str | torch.device) -> torch.amp.GradScaler:
    """The loss scaler of a training run: active for float16, whose small gradients would
    underflow to zero unscaled; for other dtypes a disabled scaler, whose calls change
    nothing, so every precision trains through the same code."""
    return torch.amp.GradScaler(torch.device(device).type, enabled=dtype == torch.float16)


@contextlib.contextmanager
def autocast(dtype: torch.dtype | None, device: str | torch.device) -> Iterator[None]:
    """Run the block under :func:`torch.autocast` to ``dtype``; a no-op for None."""
    if dtype is None:
        yield
        return
    with torch.autocast(torch.device(device).type, dtype=dtype):
        yield
