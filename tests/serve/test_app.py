"""The JSON API: answers that match the library, and every refusal with its status and reason."""

from __future__ import annotations

import json
import shutil
import threading

import pytest
from fastapi.testclient import TestClient
from tests.serve.conftest import IN_PROCESS

from rationalizer.data.pretrained import minilm_path
from rationalizer.errors import RationalizerError
from rationalizer.explain import get_explainer, list_explainers
from rationalizer.explain.adapters import RationalizerAdapter
from rationalizer.serve import ServeLimits, WorkerSettings, create_app
from rationalizer.training.inference import Rationalizer

TEXT = "a wonderful and moving film , though the ending felt dull at the odeon"


@pytest.fixture(scope="module")
def rationalizer(served_run) -> Rationalizer:
    return Rationalizer.load(served_run)


def explain(client: TestClient, **request) -> dict:
    response = client.post("/api/explain", json=request)
    assert response.status_code == 200, response.text
    return response.json()


def refusal(response, status: int) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["detail"])


# ---------------------------------------------------------------------------------------------
# answers


def test_health_names_the_models_the_limits_and_the_workers(client, served_run, rationalizer):
    health = client.get("/healthz").json()
    assert health["status"] == "ok"
    assert health["model"] == health["explained_model"] == served_run.name
    assert health["labels"] == list(rationalizer.labels)
    assert health["limits"] == {
        "max_body_bytes": ServeLimits().max_body_bytes,
        "max_words": ServeLimits().max_words,
        "timeout_seconds": ServeLimits().timeout_seconds,
    }
    defaults = WorkerSettings()
    workers = health["workers"]
    assert (workers["workers"], workers["alive"], workers["in_server_process"]) == (1, 1, False)
    assert (workers["device"], workers["max_batch_size"], workers["batch_timeout_ms"]) == (
        defaults.device,
        defaults.max_batch_size,
        defaults.batch_timeout_ms,
    )
    assert workers["batches"] <= workers["requests"]


def test_methods_lists_every_explainer_with_its_description(client):
    body = client.get("/api/methods").json()
    assert [m["name"] for m in body["methods"]] == list(list_explainers())
    for method in body["methods"]:
        explainer = get_explainer(method["name"])
        assert (method["description"], method["requires"]) == (
            explainer.description,
            explainer.requires,
        )


def test_without_a_method_the_answer_is_the_rationalizers_own_prediction(client, rationalizer):
    body = explain(client, text=TEXT)
    [expected] = rationalizer.predict([TEXT])
    assert body["words"] == TEXT.split()
    assert body["label"] == expected.label
    assert body["probabilities"] == pytest.approx(expected.probabilities, abs=1e-6)
    assert body["rationale"] == [[s.start, s.end] for s in expected.rationale]
    assert body["scores"] == pytest.approx(expected.scores, abs=1e-6)
    assert body["explanation"] is None


@pytest.mark.parametrize("method", ["occlusion", "integrated-gradients", "greedy"])
def test_a_method_adds_its_explanation_of_the_predictor(client, rationalizer, method):
    body = explain(client, text=TEXT, method=method)
    [expected] = get_explainer(method)().attribute(RationalizerAdapter(rationalizer), TEXT)
    explanation = body["explanation"]
    assert explanation["method"] == method
    assert explanation["target"] == expected.target
    assert explanation["scores"] == pytest.approx(expected.scores, abs=1e-5)
    assert explanation["rationale"] == [[s.start, s.end] for s in expected.rationale]
    assert explanation["settings"] == dict(expected.settings)
    # the model's own rationale comes with it, unchanged
    assert body["rationale"] == explain(client, text=TEXT)["rationale"]


def test_target_picks_the_label_the_explanation_explains(client, rationalizer):
    predicted = explain(client, text=TEXT, method="occlusion")["explanation"]
    other = next(label for label in rationalizer.labels if label != predicted["target"])
    against = explain(client, text=TEXT, method="occlusion", target=other)["explanation"]
    assert against["target"] == other
    # with two labels, what removing a word takes from one it gives to the other
    assert against["scores"] == pytest.approx([-s for s in predicted["scores"]], abs=1e-5)


def test_another_classifier_can_be_the_one_explained(served_run, rationalizer):
    folder = minilm_path()
    with TestClient(create_app(served_run, f"hf:{folder}", workers=IN_PROCESS)) as client:
        assert client.get("/healthz").json()["explained_model"] == f"hf:{folder.name}"
        body = explain(client, text="a wonderful film", method="occlusion")
        page = client.get("/").text
    # the page says whose probabilities an explanation shows
    assert f"<strong>hf:{folder.name}</strong> reading the whole text" in page
    explanation = body["explanation"]
    assert explanation["model"] == f"hf:{folder.name}"
    # the plain MiniLM folder gets a fresh two-class head with the library's default names
    assert set(explanation["probabilities"]) == {"LABEL_0", "LABEL_1"}
    assert set(body["probabilities"]) == set(rationalizer.labels)
    assert len(explanation["scores"]) == 3


@pytest.mark.parametrize("workers", [0, 1], ids=["in-process", "worker-process"])
def test_a_model_that_cannot_be_loaded_stops_the_app_with_a_clear_error(
    served_run, tmp_path, workers
):
    with pytest.raises(RationalizerError, match="not a rationalizer run directory"):
        create_app(served_run, str(tmp_path), workers=WorkerSettings(workers=workers))


def test_a_device_this_machine_lacks_stops_the_app_with_a_clear_error(served_run):
    with pytest.raises(RationalizerError, match="device cuda:99: this machine has no such"):
        create_app(served_run, workers=WorkerSettings(workers=0, device="cuda:99"))
    with pytest.raises(RationalizerError, match="device 'gpu' is not a device"):
        create_app(served_run, workers=WorkerSettings(workers=1, device="gpu"))


def test_openapi_documents_the_api_and_its_refusals(client):
    schema = client.get("/openapi.json").json()
    assert {"/api/explain", "/api/methods", "/healthz"} <= set(schema["paths"])
    refusals = schema["paths"]["/api/explain"]["post"]["responses"]
    assert {"200", "413", "422", "503", "504"} <= set(refusals)
    request = schema["components"]["schemas"]["ExplainRequest"]
    assert set(request["properties"]) == {"text", "query", "method", "target"}
    assert request["additionalProperties"] is False
    # which model each probability belongs to
    schemas = schema["components"]["schemas"]
    prediction = schemas["ExplainResponse"]["properties"]["probabilities"]["description"]
    assert "predictor reading only the rationale" in prediction
    explained = schemas["PostHocExplanation"]["properties"]["probabilities"]["description"]
    assert "explained model's (`model`), reading the whole text" in explained


# ---------------------------------------------------------------------------------------------
# refusals


def test_an_unknown_method_is_refused_with_the_list_of_methods(client):
    detail = refusal(client.post("/api/explain", json={"text": TEXT, "method": "shap"}), 422)
    assert "unknown explainer 'shap'" in detail
    for name in list_explainers():
        assert name in detail


@pytest.mark.parametrize(
    ("request_body", "reason"),
    [
        ({"text": TEXT, "method": "occlusion", "target": "maybe"}, "unknown label 'maybe'"),
        ({"text": TEXT, "target": "pos"}, "give a method too"),
        ({"text": " \n\t "}, "text has no words"),
        ({"text": ""}, "at least 1 character"),
        ({"method": "occlusion"}, "Field required"),
        ({"text": 5}, "valid string"),
    ],
    ids=["unknown-target", "target-without-method", "blank", "empty", "no-text", "not-text"],
)
def test_bad_input_is_refused_with_its_reason(client, request_body, reason):
    assert reason in refusal(client.post("/api/explain", json=request_body), 422)


@pytest.mark.parametrize("field", ["model", "run", "path"])
def test_a_request_cannot_name_a_file_or_model(client, field):
    response = client.post("/api/explain", json={"text": TEXT, field: "/etc/passwd"})
    [error] = response.json()["detail"]
    assert response.status_code == 422
    assert (error["type"], error["loc"]) == ("extra_forbidden", ["body", field])


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("text", "\ud800 ok", "character 0 is a lone surrogate (U+D800)"),
        ("query", "ok \udfff", "character 3 is a lone surrogate (U+DFFF)"),
        ("method", "\udc00", "character 0 is a lone surrogate (U+DC00)"),
        ("target", "pos\ud83d", "character 3 is a lone surrogate (U+D83D)"),
    ],
)
def test_a_lone_surrogate_is_refused_with_where_it_is(client, field, value, reason):
    # JSON can escape a lone surrogate (json.dumps does), but no UTF-8 text can hold one
    body = json.dumps({"text": "ok", field: value}).encode()
    assert b"\\ud" in body
    response = client.post(
        "/api/explain", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", field]
    assert reason in error["msg"] and "send the text as UTF-8" in error["msg"]
    # the input comes back escaped, as plain text
    assert error["input"] == value.encode("utf-8", "backslashreplace").decode()


def test_malformed_json_is_refused(client):
    response = client.post(
        "/api/explain", content=b'{"text": "a', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


@pytest.fixture(scope="module")
def strict_client(served_run):
    """An app with small limits: 10 words, 400 bytes."""
    limits = ServeLimits(max_body_bytes=400, max_words=10)
    with TestClient(create_app(served_run, limits=limits, workers=IN_PROCESS)) as client:
        yield client


def test_too_many_words_are_refused_with_the_count_and_the_cap(strict_client):
    assert len(" ".join(["word"] * 10).encode()) < 400  # within the byte cap
    assert explain(strict_client, text=" ".join(["word"] * 10))["words"] == ["word"] * 10
    response = strict_client.post("/api/explain", json={"text": " ".join(["word"] * 11)})
    assert (
        refusal(response, 422) == "text has 11 words; this server explains at most 10 per request"
    )


def test_a_body_over_the_cap_is_refused_before_it_is_parsed(strict_client):
    # not even JSON: the size alone decides
    response = strict_client.post(
        "/api/explain", content=b"x" * 401, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_a_streamed_body_without_a_length_is_cut_off_at_the_cap(strict_client):
    chunks = (b"x" * 100 for _ in range(5))
    response = strict_client.post(
        "/api/explain", content=chunks, headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413


def test_a_slow_request_times_out_and_the_server_carries_on(served_run, monkeypatch):
    app = create_app(served_run, limits=ServeLimits(timeout_seconds=0.2), workers=IN_PROCESS)
    service = app.state.pool.workers[0].service
    run_batch, release = service.run_batch, threading.Event()

    def held(requests):
        release.wait(60)
        return run_batch(requests)

    monkeypatch.setattr(service, "run_batch", held)
    with TestClient(app) as client:
        # answered while the model is still held: at the timeout, not after the work
        detail = refusal(client.post("/api/explain", json={"text": TEXT}), 504)
        assert "no answer within 0.2 s" in detail
        monkeypatch.setattr(service, "run_batch", run_batch)
        release.set()
        # the abandoned call finishes first; the next request is then answered normally
        assert explain(client, text=TEXT)["words"] == TEXT.split()


def test_the_page_escapes_names_and_locks_scripts_to_its_own(served_run, tmp_path):
    hostile = tmp_path / "<img src=x onerror=alert(1)>"
    shutil.copytree(served_run, hostile)
    with TestClient(create_app(hostile, workers=IN_PROCESS)) as client:
        response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<img src=x" not in response.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in response.text
    policy = response.headers["content-security-policy"]
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in response.text
    assert "connect-src 'self'" in policy and "default-src 'none'" in policy
    # no external resource: the page works offline
    assert "http://" not in response.text and "https://" not in response.text


@pytest.mark.parametrize(
    "limits",
    [{"max_body_bytes": 0}, {"max_words": 0}, {"timeout_seconds": 0}, {"timeout_seconds": -1.0}],
)
def test_limits_must_be_positive(limits):
    with pytest.raises(RationalizerError, match="must be"):
        ServeLimits(**limits)
