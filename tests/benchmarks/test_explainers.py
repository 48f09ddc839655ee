"""The pure pieces of benchmarks/explainers.py: sampling, caching, scoring, summaries, rendering.

Nothing here trains or fine-tunes a model: the explainers run on a keyword black box.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from tests.benchmarks.helpers import OLD_CODE

from benchmarks import explainers
from rationalizer._environment import code_text
from rationalizer.data import Dataset, Document, Evidence, Example, Span, load
from rationalizer.errors import RationalizerError
from rationalizer.explain import (
    CallableAdapter,
    RationaleRule,
    agreement,
    explain_dataset,
    get_explainer,
)
from rationalizer.metrics import evaluate
from rationalizer.report import load_inputs, render_report

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "benchmarks" / "results"


def keyword_model() -> CallableAdapter:
    """'toxic' exactly when one of the kept words is 'awful'; 'nice' makes it surer that a
    post is not (a black box)."""

    def classify(word_lists):
        toxic = np.array(
            [0.9 if "awful" in words else 0.05 if "nice" in words else 0.2 for words in word_lists]
        )
        return np.stack([1 - toxic, toxic], axis=1)

    return CallableAdapter(classify, ("non-toxic", "toxic"))


def posts() -> Dataset:
    """Two toxic posts with a human rationale on 'awful', one non-toxic post without any."""
    texts = ["you are awful people", "what an awful day", "a nice quiet day"]
    examples = []
    for i, text in enumerate(texts):
        words = tuple(text.split())
        toxic = "awful" in words
        evidence = ()
        if toxic:
            position = words.index("awful")
            evidence = ((Evidence(f"d{i}", Span(position, position + 1)),),)
        examples.append(
            Example(
                f"p{i}",
                (Document(f"d{i}", words),),
                "toxic" if toxic else "non-toxic",
                evidence=evidence,
            )
        )
    return Dataset("posts", "test", tuple(examples), ("non-toxic", "toxic"))


# ---------------------------------------------------------------------------------- pieces
def test_samples_are_seeded_and_in_dataset_order():
    test = load("hatexplain", "test")
    first = explainers.sample_examples(test, 20, seed=3)
    again = explainers.sample_examples(test, 20, seed=3)
    other = explainers.sample_examples(test, 20, seed=4)
    ids = [example.id for example in first]
    assert ids == [example.id for example in again]
    assert ids != [example.id for example in other]
    order = {example.id: i for i, example in enumerate(test)}
    assert [order[i] for i in ids] == sorted(order[i] for i in ids)
    assert len(set(ids)) == 20
    assert explainers.sample_examples(posts(), 10, seed=0) == posts()


def test_a_cached_folder_is_built_once_and_refused_for_other_settings(tmp_path):
    builds = []

    def build(folder: Path) -> None:
        builds.append(folder)
        folder.mkdir(parents=True)

    folder = tmp_path / "model"
    settings = {"epochs": 2, "path": Path("runs/x")}
    assert explainers.cached_folder(folder, settings, build) == folder
    assert explainers.cached_folder(folder, settings, build) == folder
    assert builds == [folder]
    with pytest.raises(RationalizerError, match=r"other settings.*delete it"):
        explainers.cached_folder(folder, {"epochs": 3, "path": Path("runs/x")}, build)
    assert (
        explainers.read_json(folder / explainers.BUILD_FILE)["provenance"]
        == explainers.provenance()
    )


@pytest.mark.parametrize("built", [{"seconds": 3.0}, {"provenance": OLD_CODE}])
def test_a_cached_folder_built_by_other_code_is_refused_unless_reused(tmp_path, built):
    """Built before provenance was recorded, or by an older package."""
    folder = tmp_path / "model"
    folder.mkdir()
    settings = {"epochs": 2}
    explainers.write_json(folder / explainers.SETTINGS_FILE, settings)
    explainers.write_json(folder / explainers.BUILD_FILE, built)

    def build(folder: Path) -> None:
        raise AssertionError("a stale folder is never rebuilt over")

    with pytest.raises(RationalizerError, match=r"built by other code.*delete it.*--reuse-stale"):
        explainers.cached_folder(folder, settings, build)
    assert explainers.cached_folder(folder, settings, build, reuse_stale=True) == folder


def test_a_method_result_made_by_other_code_is_computed_again_unless_reused(tmp_path):
    sample = posts()
    model = explainers.Model(
        "keywords", "posts", keyword_model(), "a black box", {"kind": "keywords"}
    )
    explainer = get_explainer("occlusion")(rule="top-k:1")
    console = Console(file=io.StringIO())
    first, _ = explainers.run_method(model, explainer, sample, tmp_path, console)
    assert "made_by" not in first
    stored_path = tmp_path / "results" / "keywords" / "occlusion.json"
    stored = explainers.read_json(stored_path)
    assert stored["provenance"] == explainers.provenance()
    again, _ = explainers.run_method(model, explainer, sample, tmp_path, console)
    assert again == first  # the code of now: cached
    explainers.write_json(
        stored_path, stored | {"provenance": OLD_CODE, "run": {"wall_seconds": -1}}
    )
    reused, records = explainers.run_method(model, explainer, sample, tmp_path, console, True)
    assert reused["wall_seconds"] == -1 and len(records) == len(sample)
    assert reused["made_by"] == "commit 1234567, rationalizer 0.0.9, code 000000000000"
    computed, _ = explainers.run_method(model, explainer, sample, tmp_path, console)
    assert computed["wall_seconds"] > 0 and "made_by" not in computed
    assert explainers.read_json(stored_path)["provenance"] == explainers.provenance()


def test_method_scores_read_rationale_metrics_from_the_annotated_posts():
    dataset = posts()
    explainer = get_explainer("occlusion")(rule="top-k:1")
    stopwatch = explainers.Stopwatch(explainer)
    records = explain_dataset(stopwatch, keyword_model(), dataset)
    assert stopwatch.name == "occlusion"
    assert len(stopwatch.seconds) == len(dataset)
    assert all(seconds > 0 for seconds in stopwatch.seconds)
    report = evaluate(dataset, records)
    scores = explainers.method_scores(report, stopwatch.seconds)
    # occlusion finds 'awful' in both toxic posts: a perfect rationale on the annotated posts;
    # the non-toxic post's rationale ('nice') has no human rationale to match
    assert scores["token_f1"] == 1.0
    assert scores["auprc"] == 1.0
    assert report["token_prf"]["instance_micro"]["p"] < 1.0
    assert scores["comprehensiveness"] == report["classification_scores"]["comprehensiveness"]
    assert scores["seconds_per_example"] == pytest.approx(np.mean(stopwatch.seconds))
    assert set(explainers.METHOD_COLUMNS) <= set(scores)


def test_ratio_summary_leaves_empty_optima_out_of_the_ratios():
    summary = explainers.ratio_summary([(2, 2), (3, 2), (0, 0), (1, 1)])
    assert summary["inputs"] == 4
    assert summary["inputs_with_empty_optimum"] == 1
    assert summary["mean_ratio"] == pytest.approx((1 + 1.5 + 1) / 3)
    assert summary["max_ratio"] == 1.5
    assert summary["share_optimal"] == pytest.approx(2 / 3)
    assert summary["mean_greedy_words"] == 2
    assert summary["mean_optimal_words"] == pytest.approx(5 / 3)
    nothing = explainers.ratio_summary([(0, 0)])
    assert nothing["mean_ratio"] is None and nothing["inputs_with_empty_optimum"] == 1


def test_timing_summary():
    assert explainers.timing_summary([1.0, 3.0, 2.0]) == {
        "mean_seconds": 2.0,
        "median_seconds": 2.0,
        "max_seconds": 3.0,
    }


def test_arguments_default_to_every_method_and_are_checked():
    args = explainers.parse_args([])
    assert len(args.methods) == 9 and "greedy" in args.methods
    assert args.threads == 1 and args.timing_threads == [1, 2]
    assert explainers.parse_args(["--methods", "lime", "greedy"]).methods == ["lime", "greedy"]
    for bad in (["--methods", "lime", "shap"], ["--timing-threads", "1", "0"], ["--threads", "0"]):
        with pytest.raises(SystemExit):
            explainers.parse_args(bad)


# ---------------------------------------------------------------------------------- output
def small_result() -> dict:
    """A result in the script's shape with hand-chosen numbers."""
    scores = dict.fromkeys(explainers.METHOD_COLUMNS, 0.25) | {
        "seconds_per_example": 1.5,
        "wall_seconds": 60.0,
        "load_average_after": [1.0, 1.25, 1.5],
    }
    partial = f"validation_accuracy_{explainers.PARTIAL_INPUT_FRACTION:g}_words"
    return {
        "command": "python -m benchmarks.explainers --methods greedy lime",
        "seeds": [0],
        "machine": {
            "platform": "Linux-test",
            "processor": "x86_64",
            "cpu_count": 2,
            "usable_cpus": 2,
            "python": "3.11",
            "torch": "2.x",
            "torch_threads": 1,
        },
        "load_average_start": [1.0, 1.5, 2.0],
        "models": {
            "hatexplain-minilm": {
                "dataset": "hatexplain",
                "split": "test",
                "examples": 100,
                "annotated_examples": 58,
                "description": "MiniLM fine-tuned on HateXplain",
                "rule": "fraction:0.3",
                "validation_accuracy": 0.78,
                partial: 0.61,
                "build_seconds": 400.0,
                "methods": {"greedy": scores, "lime": scores | {"token_f1": 0.4}},
            }
        },
        "greedy": {
            "rationale_length": {
                "hatexplain-minilm": {
                    "mean_words": 2.5,
                    "median_words": 2,
                    "mean_share_of_words": 0.1,
                    "share_predicted_with_no_word": 0.5,
                }
            },
            "approximation": {
                "model": "hatexplain-minilm",
                "split": "hatexplain/test, posts of at most 12 words",
                "min_size_0": {"greedy_settings": {"unit": "word", "min_size": 0}}
                | explainers.ratio_summary([(2, 2), (3, 2), (0, 0)]),
                "min_size_1": {"greedy_settings": {"unit": "word", "min_size": 1}}
                | explainers.ratio_summary([(2, 2), (3, 2), (1, 1)]),
            },
            "long_reviews": {
                "movies-gru": {
                    "reviews": 10,
                    "words": 700,
                    "target_seconds": 2.0,
                    "searches": {
                        "words": {
                            "greedy_settings": {"unit": "word"},
                            "mean_rationale_words": 9.0,
                            "1_threads": explainers.timing_summary([1.0, 2.0])
                            | {"load_average_before": [1.0, 1.0], "load_average_after": [2, 2]},
                        }
                    },
                }
            },
        },
        "wall_seconds": 600.0,
    }


def test_markdown_names_the_code_and_marks_what_other_code_made():
    result = small_result()
    result["provenance"] = explainers.provenance()
    methods = result["models"]["hatexplain-minilm"]["methods"]
    methods["lime"]["made_by"] = "commit 1234567, rationalizer 0.0.9, code 000000000000"
    text = explainers.render_markdown(result)
    assert f"Code: {code_text(explainers.provenance())}." in text
    assert "| lime † | 0.400 |" in text and "| greedy | 0.250 |" in text
    assert "- hatexplain-minilm / lime: commit 1234567, rationalizer 0.0.9" in text
    assert "Code: not recorded" in explainers.render_markdown(small_result())


def test_markdown_has_the_command_a_row_per_method_and_greedys_measurements():
    text = explainers.render_markdown(small_result())
    assert "`python -m benchmarks.explainers --methods greedy lime`" in text
    assert "| hatexplain-minilm | MiniLM fine-tuned on HateXplain | 0.780 | 0.610 |" in text
    assert "| `fraction:0.3` | 6.7 |" in text
    assert "## hatexplain-minilm (hatexplain/test, 100 examples, 58 with a human rationale)" in text
    assert "| lime | 0.400 | 0.250 |" in text
    assert "took 2.0 min for all methods together, on 1 thread(s)" in text
    assert "load average when each method ended was 1.25–1.25" in text
    assert "| 0 | 3 | 1 | 1.250 | 1.500 | 0.500 | 2.50 | 2.00 |" in text
    assert "| 1 | 3 | 0 | 1.167 | 1.500 | 0.667 | 2.00 | 1.67 |" in text
    assert "| movies-gru | words | 1 | 1.50 | 1.50 | 2.00 | 1.0, 1.0 | 2, 2 | 9.0 |" in text


def test_a_tiny_run_records_the_methods_agreement_in_the_json_and_the_markdown(tmp_path):
    sample = posts()
    model = explainers.Model(
        "keywords", "posts", keyword_model(), "a black box", {"kind": "keywords"}
    )
    console = Console(file=io.StringIO())
    records = {
        method: explainers.run_method(
            model, get_explainer(method)(rule="fraction:0.25"), sample, tmp_path, console
        )[1]
        for method in ("occlusion", "lime", "greedy")
    }
    found = json.loads(
        json.dumps(explainers.method_agreement(records, RationaleRule("fraction", 0.25)))
    )
    assert found["methods"] == ["occlusion", "lime", "greedy"]
    assert found["examples"] == 3 and found["k"] == 0.25
    assert set(found["metrics"]) == {"kendall", "top-k"}
    kendall = found["metrics"]["kendall"]["mean"]
    assert kendall[0][0] == 1.0
    assert kendall[0][1] == agreement(records, k=0.25)["kendall"].value("occlusion", "lime")
    result = small_result()
    result["models"]["hatexplain-minilm"]["agreement"] = found
    text = explainers.render_markdown(result)
    assert "mean over the 3 examples" in text and "top 25.0% of the words" in text
    assert "| Kendall tau-b | occlusion | lime | greedy |" in text
    assert "| Top-k overlap | occlusion | lime | greedy |" in text
    assert f"| occlusion | 1.00 | {kendall[0][1]:.2f} | {kendall[0][2]:.2f} |" in text
    assert "**Agreement**" not in explainers.render_markdown(small_result())


def test_the_result_is_an_explainer_benchmark_for_the_report(tmp_path):
    path = tmp_path / "explainers.json"
    explainers.write_json(path, small_result())
    inputs = load_inputs([path])
    [benchmark] = inputs.benchmarks
    model = benchmark.benchmark.models["hatexplain-minilm"]
    assert model.methods["lime"].token_f1 == 0.4
    assert model.methods["greedy"].seconds_per_example == 1.5
    html = render_report(inputs)
    assert "hatexplain-minilm" in html and "posts of at most 12 words" in html


def test_the_committed_markdown_renders_the_committed_results():
    result = json.loads((RESULTS / "explainers.json").read_text(encoding="utf-8"))
    assert explainers.render_markdown(result) == (RESULTS / "explainers.md").read_text(
        encoding="utf-8"
    )
    [benchmark] = load_inputs([RESULTS / "explainers.json"]).benchmarks
    for model in benchmark.benchmark.models.values():
        assert set(model.methods) == set(explainers.parse_args([]).methods)
