"""Hub-style models: save_pretrained/from_pretrained, the model card, and a fake Hub on loopback
(push_to_hub, Hub IDs for from_pretrained, hf: and --encoder, offline errors)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from rich.console import Console
from tests.tiny_runs import SSR_SETTINGS

import rationalizer
from rationalizer import Rationalizer
from rationalizer.data.pretrained import resolve_model_path
from rationalizer.errors import RationalizerError
from rationalizer.explain.adapters import load_adapter
from rationalizer.files import read_json, write_json
from rationalizer.training.shortcuts import ShortcutReport

TEXTS = ["a truly wonderful and moving film", "dull , boring and far too long"]


@pytest.fixture(scope="module")
def run_dir(tiny_run) -> Path:
    """A tiny SSR run on synthetic data, so the card has a shortcut report."""
    return tiny_run(**SSR_SETTINGS)


EVALUATION = {
    "classification_scores": {
        "accuracy": 0.875,
        "prf": {"macro avg": {"f1-score": 0.8661}},
        "comprehensiveness": 0.3141,
        "sufficiency": 0.0271,
        "comprehensiveness_aopc": 0.25,
        "sufficiency_aopc": 0.05,
    },
    "token_prf": {"instance_macro": {"f1": 0.4321}},
    "iou_scores": [{"macro": {"f1": 0.2}}],
    "selection_rate": {"macro": 0.1234},
}


def _same_predictions(a: Rationalizer, b: Rationalizer) -> None:
    for p, q in zip(a.predict(TEXTS), b.predict(TEXTS), strict=True):
        assert (p.label, p.rationale, p.scores) == (q.label, q.rationale, q.scores)
        assert p.probabilities == q.probabilities


def test_save_pretrained_loads_and_predicts_identically(run_dir: Path, tmp_path: Path) -> None:
    model = Rationalizer.load(run_dir)
    out = model.save_pretrained(tmp_path / "saved", evaluation=EVALUATION)
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "README.md", "train.json"} <= names
    assert not names & {"resume.json", "resume.safetensors"}
    _same_predictions(model, Rationalizer.from_pretrained(out))
    # the run directory itself still loads, through both entry points
    _same_predictions(model, Rationalizer.from_pretrained(run_dir))
    with pytest.raises(RationalizerError, match="another folder"):
        model.save_pretrained(run_dir)


def test_model_card_states_the_runs_numbers(run_dir: Path, tmp_path: Path) -> None:
    model = Rationalizer.load(run_dir)
    out = model.save_pretrained(tmp_path / "saved", evaluation=EVALUATION)
    card = (out / "README.md").read_text(encoding="utf-8")
    _, header, body = card.split("---\n", 2)
    metadata = yaml.safe_load(header)
    assert metadata["library_name"] == "rationalizer"
    assert "ssr-unif" in metadata["tags"] and metadata["datasets"] == ["synthetic"]
    assert "accuracy" in metadata["metrics"]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert f"| accuracy | {summary['validation']['accuracy']:.3f} | 0.875 |" in body
    assert "| rationale token F1 |" in body and "0.432" in body
    assert "| selection rate |" in body and "0.123" in body
    assert "comprehensiveness 0.314" in body and "sufficiency 0.027" in body
    assert "rationalizer train --config train.json" in body
    assert json.loads((out / "train.json").read_text())["method"] == "ssr-unif"
    report = ShortcutReport.load(run_dir / "shortcuts.json")
    assert "## Shortcuts" in body
    assert f"({report.rationale_density:.3f} of all their words)" in body
    for phrase in report.phrases[:3]:
        assert (
            f"| {phrase.phrase} | {phrase.count} | {phrase.skew_label} | "
            f"{phrase.skew_share:.2f} | {phrase.evidence_rate:.3f} |"
        ) in body


def test_evaluation_written_by_evaluate_before_the_envelope_is_read(
    run_dir: Path, tmp_path: Path
) -> None:
    scores = tmp_path / "scores.json"
    scores.write_text(json.dumps(EVALUATION), encoding="utf-8")  # no format, no version
    out = Rationalizer.load(run_dir).save_pretrained(tmp_path / "saved", evaluation=scores)
    assert read_json(out / "evaluation.json", "evaluation") == EVALUATION
    assert "| 0.875 |" in (out / "README.md").read_text(encoding="utf-8")


def test_evaluation_loaded_from_an_evaluate_output_keeps_only_the_scores(
    run_dir: Path, tmp_path: Path
) -> None:
    written = write_json(tmp_path / "scores.json", "evaluation", EVALUATION)
    loaded = json.loads(written.read_text(encoding="utf-8"))  # as a user's json.load gives it
    assert loaded["format"] == "rationalizer.evaluation"
    out = Rationalizer.load(run_dir).save_pretrained(tmp_path / "saved", evaluation=loaded)
    assert read_json(out / "evaluation.json", "evaluation") == EVALUATION


def test_card_without_evaluation_says_so(run_dir: Path, tmp_path: Path) -> None:
    out = Rationalizer.load(run_dir).save_pretrained(tmp_path / "saved")
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "Test metrics: not measured yet" in card
    assert "not measured (no test evaluation)" in card


def test_offline_hub_id_not_cached_names_hf_hub_offline(tmp_path: Path, monkeypatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    for load in (
        lambda: Rationalizer.from_pretrained("someone/not-cached"),
        lambda: load_adapter("hf:someone/not-cached"),
        lambda: resolve_model_path("someone/not-cached"),
    ):
        with pytest.raises(RationalizerError, match="HF_HUB_OFFLINE is set") as err:
            load()
        assert "someone/not-cached" in str(err.value)
    with pytest.raises(RationalizerError, match="does not exist; give a local"):
        resolve_model_path("./no/such/folder")


# ---------------------------------------------------------------------------------------------
# A fake Hub on 127.0.0.1: the few endpoints that create_repo, upload_folder and
# snapshot_download call, with repositories kept in memory.


class FakeHub(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _HubHandler)
        self.repos: dict[str, dict[str, bytes]] = {}
        self.requests: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def commit(self, repo: str) -> str:
        files = self.repos.get(repo, {})
        digest = hashlib.sha1(json.dumps(sorted(files)).encode())
        for name in sorted(files):
            digest.update(files[name])
        return digest.hexdigest()


def _blob_id(content: bytes) -> str:
    """The git blob id the Hub gives a (non-LFS) file as its oid and ETag."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


class _HubHandler(BaseHTTPRequestHandler):
    server: FakeHub

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data, status: int = 200) -> None:
        self._send(status, json.dumps(data).encode(), {"Content-Type": "application/json"})

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def _repo(self, parts: list[str]) -> str:
        return "/".join(parts)

    def do_POST(self) -> None:
        self.server.requests.append(f"POST {self.path}")
        path = self.path.split("?")[0]
        if path == "/api/repos/create":
            payload = json.loads(self._body())
            repo = f"{payload['organization']}/{payload['name']}"
            self.server.repos.setdefault(repo, {})
            return self._json({"url": f"{self.server.url}/{repo}"})
        if path == "/api/validate-yaml":
            self._body()
            return self._json({"warnings": []})
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "models"] and "preupload" in parts:
            files = json.loads(self._body())["files"]
            return self._json(
                {
                    "files": [
                        {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                        for f in files
                    ]
                }
            )
        if parts[:2] == ["api", "models"] and "commit" in parts:
            repo = self._repo(parts[2 : parts.index("commit")])
            for line in self._body().decode().splitlines():
                item = json.loads(line)
                if item["key"] == "file":
                    value = item["value"]
                    content = base64.b64decode(value["content"])
                    self.server.repos[repo][value["path"]] = content
            commit = self.server.commit(repo)
            return self._json(
                {"commitUrl": f"{self.server.url}/{repo}/commit/{commit}", "commitOid": commit}
            )
        self._send(404)

    def do_GET(self) -> None:
        self.server.requests.append(f"{self.command} {self.path}")
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts[:2] == ["api", "models"]:
            repo = self._repo(parts[2:4])
            if repo not in self.server.repos:
                body = json.dumps({"error": "Repository not found"}).encode()
                return self._send(404, body, {"X-Error-Code": "RepoNotFound"})
            files = self.server.repos[repo]
            if "tree" in parts:
                return self._json(
                    [
                        {"type": "file", "path": name, "size": len(data), "oid": _blob_id(data)}
                        for name, data in sorted(files.items())
                    ]
                )
            return self._json(
                {
                    "id": repo,
                    "sha": self.server.commit(repo),
                    "siblings": [{"rfilename": name} for name in sorted(files)],
                }
            )
        if "resolve" in parts:
            at = parts.index("resolve")
            repo, name = self._repo(parts[:at]), "/".join(parts[at + 2 :])
            content = self.server.repos.get(repo, {}).get(name)
            if content is None:
                return self._send(404, headers={"X-Error-Code": "EntryNotFound"})
            headers = {"ETag": f'"{_blob_id(content)}"', "X-Repo-Commit": self.server.commit(repo)}
            return self._send(200, content, headers)
        self._send(404)

    do_HEAD = do_GET


@pytest.fixture
def fake_hub(tmp_path: Path, monkeypatch) -> Iterator[FakeHub]:
    """The fake Hub as huggingface_hub's endpoint, online, with an empty cache."""
    from huggingface_hub import constants

    hub = FakeHub()
    thread = threading.Thread(target=hub.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_TOKEN", "fake-token")
    monkeypatch.setattr(constants, "ENDPOINT", hub.url)
    template = hub.url + "/{repo_id}/resolve/{revision}/{filename}"
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)
    # a safety net: nothing in these tests may resolve any host but the loopback one
    real_getaddrinfo = socket.getaddrinfo

    def loopback_only(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost"):
            raise OSError(
                f"test tried to reach {host!r}; only the fake Hub on 127.0.0.1 is allowed"
            )
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    try:
        yield hub
    finally:
        hub.shutdown()
        hub.server_close()


def test_push_to_hub_then_from_pretrained_by_hub_id(
    run_dir: Path, fake_hub: FakeHub, monkeypatch
) -> None:
    model = Rationalizer.load(run_dir)
    url = model.push_to_hub("someone/tiny-ssr", evaluation=EVALUATION)
    assert url.startswith(f"{fake_hub.url}/someone/tiny-ssr/commit/")
    stored = fake_hub.repos["someone/tiny-ssr"]
    assert {"config.json", "model.safetensors", "README.md"} <= set(stored)
    assert b"0.875" in stored["README.md"]
    _same_predictions(model, Rationalizer.from_pretrained("someone/tiny-ssr"))
    # once downloaded, the model loads offline from the cache
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    _same_predictions(model, Rationalizer.from_pretrained("someone/tiny-ssr"))


def test_unknown_hub_id_says_the_hub_has_no_such_model(fake_hub: FakeHub) -> None:
    with pytest.raises(RationalizerError, match="has no model 'someone/missing'"):
        Rationalizer.from_pretrained("someone/missing")
    with pytest.raises(RationalizerError, match="has no model 'someone/missing'"):
        resolve_model_path("someone/missing")


def test_hub_ids_resolve_for_encoder_and_hf_prefix(fake_hub: FakeHub, tmp_path: Path) -> None:
    from huggingface_hub import HfApi

    folder = tmp_path / "encoder"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "bert"}', encoding="utf-8")
    HfApi().create_repo("someone/encoder")
    HfApi().upload_folder(repo_id="someone/encoder", folder_path=folder)
    resolved = resolve_model_path("someone/encoder")
    assert json.loads((resolved / "config.json").read_text()) == {"model_type": "bert"}
    # hf: reaches the same snapshot; the adapter then fails on the weights it lacks
    with pytest.raises(
        RationalizerError, match=f"cannot load a sequence classifier from {resolved}"
    ):
        load_adapter("hf:someone/encoder")


@pytest.mark.slow  # trains a (tiny) transformer run
def test_a_local_transformer_encoder_is_bundled_with_the_saved_model(tmp_path: Path) -> None:
    """A run whose encoder is a local folder is saved with that folder inside it, so the saved
    model loads and predicts the same once the original folder is gone."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from rationalizer.data.pretrained import minilm_path

    folder = tmp_path / "tiny-bert"
    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
    )
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    run = tmp_path / "run"
    rationalizer.train(
        run,
        console=Console(file=io.StringIO()),
        dataset="synthetic",
        method="semi",
        encoder=str(folder),
        max_train_examples=24,
        max_length=32,
        epochs=1,
        batch_size=8,
    )
    model = Rationalizer.load(run)
    saved = model.save_pretrained(tmp_path / "saved")
    assert (saved / "encoder" / "config.json").is_file()
    folder.rename(tmp_path / "moved-away")
    _same_predictions(model, Rationalizer.from_pretrained(saved))
