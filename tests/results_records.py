"""Valid ERASER results lines, shared by the results-format tests and the fuzz tests that mutate
them: one factory, so both check the same notion of a good record."""

from __future__ import annotations

from typing import Any


def results_record(
    annotation_id: str, docid: str, length: int, label: str, *, sentences: int = 1
) -> dict[str, Any]:
    """A valid results line for an example whose document ``docid`` has ``length`` words in
    ``sentences`` sentences, with every optional field given (two AOPC thresholds)."""
    return {
        "annotation_id": annotation_id,
        "rationales": [
            {
                "docid": docid,
                "hard_rationale_predictions": [{"start_token": 1, "end_token": 2}],
                "soft_rationale_predictions": [0.1] * length,
                "soft_sentence_predictions": [0.5] * sentences,
            }
        ],
        "classification": label,
        "classification_scores": {"neg": 0.3, "pos": 0.7},
        "comprehensiveness_classification_scores": {"neg": 0.6, "pos": 0.4},
        "sufficiency_classification_scores": {"neg": 0.4, "pos": 0.6},
        "thresholded_scores": [
            {
                "threshold": threshold,
                "comprehensiveness_classification_scores": {"neg": 0.5, "pos": 0.5},
                "sufficiency_classification_scores": {"neg": 0.5, "pos": 0.5},
            }
            for threshold in (0.1, 0.5)
        ],
        "tokens_to_flip": 1,
    }
