"""What one request may cost the server, fixed at startup.

The model runs on the CPU of the machine serving it, so every request is bounded three ways:
bytes before anything is parsed, words before the model sees them, and seconds of work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rationalizer.errors import RationalizerError


@dataclass(frozen=True)
class ServeLimits:
    """Per-request limits of the web app.

    ``max_body_bytes`` caps a request body (a larger one is refused with 413 before it is
    parsed); ``max_words`` caps the words of the text (422); ``timeout_seconds`` caps the time
    from receiving a request to answering it, waiting for the model included (504). The
    defaults fit a long movie review (2,000 words) explained by a perturbation method.
    """

    max_body_bytes: int = 128 * 1024
    max_words: int = 2000
    timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise RationalizerError(f"max_body_bytes must be ≥ 1, got {self.max_body_bytes}")
        if self.max_words < 1:
            raise RationalizerError(f"max_words must be ≥ 1, got {self.max_words}")
        if not (math.isfinite(self.timeout_seconds) and self.timeout_seconds > 0):
            raise RationalizerError(
                f"timeout_seconds must be a positive number, got {self.timeout_seconds}"
            )
