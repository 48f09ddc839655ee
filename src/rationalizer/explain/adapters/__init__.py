"""Model adapters: our rationalizer runs, Hugging Face classifiers and black-box functions.

``load_adapter("runs/movies-fr")`` loads a run directory of ours, ``load_adapter("hf:PATH")``
a Hugging Face sequence classifier from a local folder or a Hub ID (downloaded when online, from
the cache under ``HF_HUB_OFFLINE``); wrap any Python function with :class:`CallableAdapter`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rationalizer.data.pretrained import local_or_hub
from rationalizer.errors import RationalizerError
from rationalizer.explain.adapters.base import ClassifierAdapter, Instance
from rationalizer.explain.adapters.blackbox import CallableAdapter
from rationalizer.explain.adapters.encoded import EncodedAdapter
from rationalizer.explain.adapters.huggingface import HFClassifierAdapter
from rationalizer.explain.adapters.rationalizer import RationalizerAdapter
from rationalizer.files import file_kind
from rationalizer.training.checkpoint import CONFIG_FILE

HF_PREFIX = "hf:"

__all__ = [
    "CallableAdapter",
    "ClassifierAdapter",
    "EncodedAdapter",
    "HFClassifierAdapter",
    "Instance",
    "RationalizerAdapter",
    "load_adapter",
]


def load_adapter(spec: str | Path, **options: Any) -> EncodedAdapter:
    """The adapter for ``spec``: ``"hf:PATH"`` (a Hugging Face classifier folder or Hub ID) or
    the path of a rationalizer run directory. ``options`` go to the adapter's loader (e.g.
    ``masking`` and ``max_length`` for Hugging Face models; ``batch_size``, ``device`` (cpu,
    cuda, cuda:N, mps; default cpu) and ``precision`` (fp32, bf16, fp16, auto; default fp32)
    for both)."""
    text = str(spec)
    if text.startswith(HF_PREFIX):
        return HFClassifierAdapter.from_pretrained(
            local_or_hub(text[len(HF_PREFIX) :], "give a classifier folder or a Hub ID"),
            **options,
        )
    path = Path(text).expanduser()
    if not path.is_dir():
        raise RationalizerError(
            f"no model at {text!r}: give a rationalizer run directory or hf:PATH for a "
            "Hugging Face classifier folder"
        )
    config = path / CONFIG_FILE
    if file_kind(config) == "run":
        return RationalizerAdapter.load(path, **options)
    if _hugging_face_config(config):
        raise RationalizerError(
            f"{path} holds a Hugging Face model, not a rationalizer run; write hf:{text}"
        )
    raise RationalizerError(
        f"{path} is not a rationalizer run directory (its {CONFIG_FILE} is missing or not ours); "
        "for a Hugging Face classifier folder write hf:PATH"
    )


def _hugging_face_config(path: Path) -> bool:
    """Whether ``path`` is the ``config.json`` of a Hugging Face model (a format of theirs)."""
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(settings, dict) and "model_type" in settings
