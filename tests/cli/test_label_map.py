"""A dataset whose labels differ from the model's: `--label-map` on predict, evaluate and
explain --dataset, `label_map=` in the Python API, and labels that differ only in case."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tests.cli.cli_helpers import invoke

from rationalizer import Rationalizer
from rationalizer.data import load, read_results
from rationalizer.data.labels import LabelsMatchedWarning, match_labels, parse_label_map
from rationalizer.errors import RationalizerError
from rationalizer.explain import explain_dataset, get_explainer
from rationalizer.explain.adapters import RationalizerAdapter
from rationalizer.metrics import evaluate

EXAMPLES = 6
#: the tiny run's labels (neg, pos) as other datasets spell them
SPELT_OUT = {"neg": "negative", "pos": "positive"}
UPPER = {"neg": "NEG", "pos": "POS"}
SPELT_OUT_MAP = "neg=negative,pos=positive"


@pytest.fixture(scope="module")
def run(tiny_run) -> Path:
    return tiny_run()


def relabelled_file(folder: Path, labels: dict[str, str]) -> str:
    """``jsonl:FILE`` holding the first synthetic test examples with their labels renamed."""
    path = folder / f"{'-'.join(labels.values())}.jsonl"
    lines = [
        json.dumps(
            {
                "id": ex.id,
                "tokens": list(ex.document.tokens),
                "label": labels[ex.label],
                "rationale": [[s.start, s.end] for s in ex.rationale_spans()],
            }
        )
        for ex in load("synthetic", "test")[:EXAMPLES]
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return f"jsonl:{path}"


@pytest.fixture(scope="module")
def spelt_out(tmp_path_factory) -> str:
    return relabelled_file(tmp_path_factory.mktemp("spelt-out"), SPELT_OUT)


@pytest.fixture(scope="module")
def upper(tmp_path_factory) -> str:
    return relabelled_file(tmp_path_factory.mktemp("upper"), UPPER)


def test_predict_and_evaluate_read_the_dataset_through_the_map(run, spelt_out, tmp_path):
    out = tmp_path / "predictions.jsonl"
    predict = ["predict", "-r", str(run), "-d", spelt_out, "-s", "test", "-o", str(out)]
    with pytest.raises(RationalizerError) as unmapped:
        invoke(*predict)
    first = load(spelt_out, "test")[0]
    assert str(unmapped.value) == (
        f"example {first.id!r} has label {first.label!r}, not one of ('neg', 'pos'); map the "
        "dataset's labels ('negative', 'positive') onto those of the model with --label-map "
        "(MODEL=DATASET)"
    )
    printed = invoke(*predict, "--label-map", SPELT_OUT_MAP)
    assert f"-p {out} --label-map {SPELT_OUT_MAP}" in printed  # how to score them

    evaluate_args = ["evaluate", "-d", spelt_out, "-s", "test", "-p", str(out)]
    with pytest.raises(RationalizerError, match="onto those of the results with --label-map"):
        invoke(*evaluate_args)
    scores = tmp_path / "scores.json"
    invoke(*evaluate_args, "--label-map", SPELT_OUT_MAP, "--json", str(scores))
    report = json.loads(scores.read_text(encoding="utf-8"))
    # the same scores as the run's predictions on the synthetic examples under their own labels
    synthetic = load("synthetic", "test")
    own = evaluate(synthetic, read_results(out), subset=True)
    assert report["classification_scores"]["accuracy"] == own["classification_scores"]["accuracy"]
    assert report["token_prf"] == own["token_prf"]


def test_explain_dataset_reads_the_dataset_through_the_map(run, spelt_out, tmp_path):
    out = tmp_path / "occlusion.jsonl"
    explain = ["explain", "-m", str(run), "-x", "occlusion", "-d", spelt_out, "-o", str(out)]
    with pytest.raises(RationalizerError, match="onto those of the model with --label-map"):
        invoke(*explain)
    printed = invoke(*explain, "--label-map", SPELT_OUT_MAP)
    assert f"--label-map {SPELT_OUT_MAP}" in printed
    assert len(read_results(out)) == EXAMPLES
    with pytest.raises(RationalizerError, match="--label-map is for --dataset"):
        invoke("explain", "-m", str(run), "-t", "a fine film", "--label-map", SPELT_OUT_MAP)


def test_labels_that_differ_only_in_case_are_matched_with_a_note(run, upper, tmp_path):
    out = tmp_path / "predictions.jsonl"
    note = (
        f"note: the labels of {upper} differ from those of the model only in case: read NEG as "
        "neg, POS as pos (--label-map sets another mapping)"
    )
    printed = invoke("predict", "-r", str(run), "-d", upper, "-s", "test", "-o", str(out))
    assert note in printed
    printed = invoke("evaluate", "-d", upper, "-s", "test", "-p", str(out))
    assert note.replace("the model", "the results") in printed
    explained = tmp_path / "occlusion.jsonl"
    printed = invoke(
        "explain", "-m", str(run), "-x", "occlusion", "-d", upper, "-o", str(explained)
    )
    assert note in printed


@pytest.mark.parametrize(
    ("label_map", "reason"),
    [
        ("neg", "--label-map 'neg': write MODEL=DATASET pairs separated by commas"),
        ("neg=negative,neg=positive", "--label-map 'neg=negative,neg=positive': 'neg' is mapped"),
        ("good=negative", "--label-map: 'good' is not a label of the model ('neg', 'pos')"),
        ("neg=bad", "--label-map: 'bad' is not a label of jsonl:"),
        ("neg=negative,pos=negative", "--label-map: 'neg' and 'pos' both map to 'negative'"),
    ],
)
def test_a_bad_label_map_is_refused_naming_the_flag(run, spelt_out, tmp_path, label_map, reason):
    out = tmp_path / "predictions.jsonl"
    with pytest.raises(RationalizerError, match=re.escape(reason)):
        invoke("predict", "-r", str(run), "-d", spelt_out, "-o", str(out), "--label-map", label_map)


def test_the_python_api_takes_a_label_map(run, spelt_out, upper):
    model = Rationalizer.load(run)
    data = load(spelt_out, "test")
    with pytest.raises(RationalizerError, match="onto those of the model with label_map"):
        model.predict_dataset(data)
    records = model.predict_dataset(data, label_map=parse_label_map(SPELT_OUT_MAP))
    assert [r.annotation_id for r in records] == [ex.id for ex in data]
    with pytest.raises(RationalizerError, match="with label_map"):
        evaluate(data, records)
    scores = evaluate(data, records, label_map=SPELT_OUT)
    assert 0.0 <= scores["classification_scores"]["accuracy"] <= 1.0

    explainer = get_explainer("occlusion")()
    adapter = RationalizerAdapter(model)
    explained = explain_dataset(explainer, adapter, data, label_map=SPELT_OUT)
    assert len(explained) == EXAMPLES

    with pytest.warns(LabelsMatchedWarning, match="read NEG as neg, POS as pos"):
        assert len(model.predict_dataset(load(upper, "test"))) == EXAMPLES


def test_matching_leaves_a_dataset_in_the_models_labels_alone():
    synthetic = load("synthetic", "test")
    assert match_labels(synthetic, ("neg", "pos")) == (synthetic, None)
    # a results file need not use every label
    assert match_labels(synthetic, ("pos",)) == (synthetic, None)
    swapped, note = match_labels(synthetic, ("neg", "pos"), {"neg": "pos", "pos": "neg"})
    assert note is None
    assert [ex.label for ex in swapped] == [
        {"neg": "pos", "pos": "neg"}[ex.label] for ex in synthetic
    ]
