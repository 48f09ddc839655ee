"""Task-level classification metrics in ERASER's shape: accuracy and scikit-learn's report."""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.metrics import accuracy_score, classification_report


def classification_metrics(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]
) -> dict:
    """``{'accuracy': float, 'prf': classification_report(output_dict=True)}`` by label name.

    ``labels`` gives the canonical order; only labels that occur in ``y_true`` or ``y_pred``
    are reported, because ERASER builds its label list from the gold labels of the split, and a
    label that never occurs would only add zeros to the macro average. Undefined precision or
    recall (no predictions or no gold of a class) is 0, scikit-learn's default value.
    """
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} gold labels but {len(y_pred)} predictions")
    if len(y_true) == 0:
        raise ValueError("no examples to score")
    unknown = (set(y_true) | set(y_pred)) - set(labels)
    if unknown:
        raise ValueError(f"label(s) {sorted(unknown)} are not among {list(labels)}")
    occurring = set(y_true) | set(y_pred)
    present = [label for label in labels if label in occurring]
    index = {label: i for i, label in enumerate(present)}
    truth = [index[y] for y in y_true]
    predicted = [index[y] for y in y_pred]
    report = classification_report(
        truth,
        predicted,
        labels=list(range(len(present))),
        target_names=present,
        output_dict=True,
        zero_division=0.0,
    )
    return {"accuracy": float(accuracy_score(truth, predicted)), "prf": report}
