"""scratchnn serve's web API, in process (Starlette's TestClient) and on a real local port.

Skipped without the web extra (``pip install ".[web]"``); .ci/steps/30-serve.sh runs it.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

pytest.importorskip("starlette")
pytest.importorskip("httpx")
import httpx  # noqa: E402
from starlette.exceptions import StarletteDeprecationWarning  # noqa: E402

with warnings.catch_warnings():
    # Starlette's TestClient asks for httpx2 over httpx (the CI step installs it): either works.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from scratchnn.files.model_file import save_model  # noqa: E402
from scratchnn.images import load_digit  # noqa: E402
from scratchnn.models import MLP, SimpleConvNet  # noqa: E402
from scratchnn.serve.app import create_app  # noqa: E402
from scratchnn.serve.catalog import SAMPLE  # noqa: E402
from scratchnn.serve.digits import MAX_UPLOAD  # noqa: E402
from scratchnn.serve.playground import Playground, python_code, settings_from  # noqa: E402
from scratchnn.training import Trainer  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"
DIGITS = [str(k) for k in range(10)]


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _one() -> bytes:
    """A '1' drawn with a thick black pen on a white 112x112 canvas, as the page sends it."""
    image = Image.new("L", (112, 112), 255)
    ImageDraw.Draw(image).line([(60, 12), (52, 100)], fill=0, width=9)
    return _png(image)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """A runs folder: an MLP run (with history and a figure), a ConvNet run, a run whose
    model reads 64x64 pictures, a folder without a run, and a link leading out."""
    root = tmp_path_factory.mktemp("runs")
    for name in ("mlp-run", "conv-run", "cats", "notes"):
        (root / name).mkdir()
    mlp = MLP([784, 16, 10], seed=0)
    save_model(mlp, root / "mlp-run" / "model.npz",
               {"classes": DIGITS, "input_shape": [784], "novelty": {"threshold": 1.0}})
    records = [{"epoch": 1, "loss": 0.5, "train_acc": 0.8, "val_acc": 0.75, "val_loss": 0.6,
                "lr": 0.1, "time": 1.0}]
    (root / "mlp-run" / "history.json").write_text(json.dumps({"epochs": records}))
    (root / "mlp-run" / "curves.png").write_bytes(_one())
    conv = SimpleConvNet(filters=4, hidden=8, seed=0)
    save_model(conv, root / "conv-run" / "model.npz", {"input_shape": [1, 28, 28]})
    save_model(MLP([12288, 4, 2], seed=0), root / "cats" / "model.npz",
               {"input_shape": [12288]})
    (root / "notes" / "readme.txt").write_text("no run here")
    outside = tmp_path_factory.mktemp("outside")
    save_model(mlp, outside / "model.npz", {"input_shape": [784]})
    os.symlink(outside, root / "escape")
    return root


@pytest.fixture(scope="module")
def client(runs, tmp_path_factory):
    with TestClient(create_app(runs, tmp_path_factory.mktemp("no-data"))) as c:
        yield c


def _predict(client, model: str, body: bytes):
    return client.post(f"/api/predict?model={model}", content=body,
                       headers={"Content-Type": "image/png"})


def test_the_picker_lists_the_digit_models_of_the_runs_folder_only(client):
    found = {m["name"]: m["kind"] for m in client.get("/api/models").json()["models"]}
    assert found.get("mlp-run") == "mlp" and found.get("conv-run") == "convnet"
    assert not {"cats", "notes", "escape"} & set(found)


def test_the_picker_offers_the_books_sample_weights(runs, shared_data):
    with TestClient(create_app(runs, shared_data)) as c:
        names = [m["name"] for m in c.get("/api/models").json()["models"]]
        assert SAMPLE in names
        r = _predict(c, SAMPLE, _one())
    assert r.status_code == 200 and r.json()["label"] == "1"


def test_a_prediction_is_the_models_on_what_predict_sees(client, runs, tmp_path):
    body = _one()
    (tmp_path / "one.png").write_bytes(body)
    digit = load_digit(tmp_path / "one.png")  # what `scratchnn predict` would read
    r = _predict(client, "mlp-run", body)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["input"] == np.round(255 * digit).astype(int).reshape(-1).tolist()
    from scratchnn.files.model_file import load_model

    model = load_model(runs / "mlp-run" / "model.npz")
    x = digit.reshape(1, 784)
    np.testing.assert_allclose(got["probs"], model.predict_proba(x)[0], atol=1e-4)
    hidden = np.maximum(x @ model.params["W1"] + model.params["b1"], 0)[0]
    [layer] = got["activations"]
    assert layer["kind"] == "units" and layer["type"] == "ReLU"
    np.testing.assert_allclose(layer["values"], hidden, atol=1e-4)
    scores = model.predict(x)[0].astype(np.float64)
    energy = scores.max() + np.log(np.exp(scores - scores.max()).sum())
    assert got["predicted"] == int(np.argmax(scores)) and got["label"] == str(got["predicted"])
    assert got["novelty"]["score"] == pytest.approx(energy, rel=1e-5)
    assert got["novelty"]["unlike"] == bool(energy < 1.0)


def test_a_convnet_shows_its_feature_maps(client):
    got = _predict(client, "conv-run", _one()).json()
    maps = got["activations"][0]
    assert maps["kind"] == "maps" and maps["channels"] == 4 and maps["shape"] == [24, 24]
    assert np.asarray(maps["maps"]).shape == (4, 24, 24)
    assert got["activations"][1] == {**got["activations"][1], "kind": "units"}
    assert len(got["activations"][1]["values"]) == 8
    assert sum(got["probs"]) == pytest.approx(1, abs=1e-3)


def _huge_declared() -> bytes:
    """A small PNG file that declares 8000x8000 pixels."""
    return _png(Image.new("1", (8000, 8000), 1))


@pytest.mark.parametrize("body, status, says", [
    (b"", 415, "empty"),
    (b"this is text, not a picture", 415, "not a picture"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, 415, "not a picture"),
    (b"0" * (MAX_UPLOAD + 1), 413, "MB"),
    (None, 413, "megapixels"),
    (_png(Image.new("L", (112, 112), 255)), 422, "blank"),
])
def test_bad_uploads_get_a_clear_4xx_and_the_server_goes_on(client, body, status, says):
    body = _huge_declared() if body is None else body
    r = _predict(client, "mlp-run", body)
    assert r.status_code == status and says in r.json()["error"], r.text
    assert _predict(client, "mlp-run", _one()).status_code == 200


@pytest.mark.parametrize("name", ["..", "../mlp-run", "mlp-run/..", "/etc/passwd", "",
                                  "escape", "cats", "notes", ".hidden", "mlp-run%2F..%2Fx"])
def test_model_names_are_never_paths(client, name):
    r = _predict(client, name, _one())
    assert r.status_code == 404 and r.json()["error"]


@pytest.mark.parametrize("path", [
    "/api/runs/mlp-run/figures/model.npz", "/api/runs/mlp-run/figures/history.json",
    "/api/runs/mlp-run/figures/..%2F..%2Fcats%2Fmodel.npz", "/api/runs/escape/figures/x.png",
    "/api/runs/..%2Fmlp-run/figures/curves.png", "/api/runs/mlp-run/figures/missing.png",
])
def test_only_figures_inside_a_run_folder_are_served(client, path):
    assert client.get(path).status_code == 404


def test_runs_list_their_history_settings_and_figures(client, runs):
    listed = {r["name"]: r for r in client.get("/api/runs").json()["runs"]}
    assert set(listed) == {"mlp-run", "conv-run", "cats"}
    mlp = listed["mlp-run"]
    assert mlp["status"] == "finished" and mlp["figures"] == ["curves.png"]
    assert mlp["epochs"] == [{"epoch": 1, "loss": 0.5, "train_acc": 0.8, "val_acc": 0.75,
                              "val_loss": 0.6}]
    r = client.get("/api/runs/mlp-run/figures/curves.png")
    assert r.status_code == 200 and r.content == (runs / "mlp-run" / "curves.png").read_bytes()


def test_a_run_still_training_shows_its_checkpoints_history(tmp_path):
    from scratchnn.data import make_xor
    from scratchnn.serve.runlist import list_runs

    x, t = make_xor(40, noise=0.1, seed=0)
    trainer = Trainer(MLP([2, 4, 2], seed=0), "adam", epochs=3, batch_size=10, seed=0,
                      progress=False, checkpoint_dir=tmp_path / "live")
    history = trainer.fit(x, t)
    [run] = list_runs(tmp_path)
    assert run["status"] == "training"  # a checkpoint, written just now, and no model yet
    assert [r["loss"] for r in run["epochs"]] == [r["loss"] for r in history.records]


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe", b'"text"'])
def test_malformed_json_is_a_400(client, body):
    r = client.post("/api/playground", content=body)
    assert r.status_code == 400 and r.json()["error"]


@pytest.mark.parametrize("settings, says", [
    ({"units": 0}, "units"), ({"layers": 7}, "layers"), ({"lr": -0.1}, "lr"),
    ({"lr": "0.1"}, "lr"), ({"dataset": "mnist"}, "dataset"), ({"optimizer": "lbfgs"},
                                                                "optimizer"),
    ({"noise": float("inf")}, "noise"), ({"learning_rate": 0.1}, "unknown"),
])
def test_bad_playground_settings_are_named(client, settings, says):
    r = client.post("/api/playground", content=json.dumps(settings))
    assert r.status_code == 422 and says in r.json()["error"], r.text


def test_unknown_playgrounds_and_actions_are_404(client):
    assert client.post("/api/playground/nope/play").status_code == 404
    key = client.post("/api/playground", json={}).json()["id"]
    assert client.post(f"/api/playground/{key}/explode").status_code == 404
    assert client.post("/api/playground/nope/reset", json={}).status_code == 404


def _wait(condition, seconds: float = 30.0) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def test_a_playground_steps_one_epoch_at_a_time_and_its_code_builds_the_same_network():
    settings = settings_from({"dataset": "spirals", "layers": 1, "units": 6, "lr": 0.05,
                              "optimizer": "momentum", "batch_size": 16, "l2": 0.001,
                              "noise": 0.1, "seed": 3})
    playground = Playground(settings)
    try:
        for epoch in (1, 2, 3):
            playground.step()
            _wait(lambda e=epoch: playground.state["epoch"] == e
                  and playground.state["mode"] == "paused")
        time.sleep(0.1)
        assert playground.state["epoch"] == 3 and len(playground.records) == 3
        names: dict = {}
        exec(python_code(settings, 3).replace("print(", "(print)("), names)  # noqa: S102
        for key, value in names["net"].params.items():
            np.testing.assert_array_equal(value, playground.model.params[key])
        assert [r["loss"] for r in names["history"].records] == \
            [r["loss"] for r in playground.records]
        boundary = playground.state["boundary"]
        assert len(boundary["classes"]) == boundary["size"] ** 2
        assert set(boundary["classes"]) <= {0, 1, 2}
    finally:
        playground.stop()


# --- the real server -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(runs):
    """``python -m scratchnn serve --port 0`` in a subprocess: its address."""
    pytest.importorskip("uvicorn")
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen([sys.executable, "-m", "scratchnn", "serve", "--port", "0",
                             "--runs", str(runs)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert found, line + proc.stderr.read()
        yield f"http://127.0.0.1:{found.group(1)}"
    finally:
        proc.terminate()
        proc.communicate(timeout=30)  # (also closes the pipes)


def _events(url: str, until, seconds: float = 60.0) -> list[dict]:
    """Server-sent events from ``url`` until ``until(events)`` holds."""
    seen, deadline = [], time.monotonic() + seconds
    with httpx.stream("GET", url, timeout=seconds) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            assert time.monotonic() < deadline, f"timed out after {len(seen)} events"
            if line.startswith("data: "):
                seen.append(json.loads(line[6:]))
                if until(seen):
                    return seen
    raise AssertionError(f"the stream ended after {len(seen)} events")


def test_the_server_serves_the_page_and_its_files(server):
    page = httpx.get(server + "/")
    assert page.status_code == 200 and "<canvas id=\"pad\"" in page.text
    for name in ("app.js", "style.css"):
        assert httpx.get(f"{server}/static/{name}").status_code == 200
    assert httpx.get(f"{server}/static/..%2F__init__.py").status_code == 404


def test_a_training_playground_streams_epochs_and_does_not_hold_up_predictions(server):
    key = httpx.post(server + "/api/playground", json={"dataset": "xor"}).json()["id"]
    httpx.post(f"{server}/api/playground/{key}/play")
    answers, errors = [], []

    def predict():
        try:
            r = httpx.post(f"{server}/api/predict?model=mlp-run", content=_one(), timeout=30)
            answers.append(r.json()["probs"])
        except Exception as err:  # reported below, in the test's thread
            errors.append(err)

    workers = [threading.Thread(target=predict) for _ in range(8)]
    for w in workers:
        w.start()
    events = _events(f"{server}/api/playground/{key}/events",
                     lambda seen: sum(len(e["records"]) for e in seen) >= 5)
    for w in workers:
        w.join()
    assert not errors and len(answers) == 8
    assert all(a == answers[0] for a in answers)  # tabs at once get the same answer
    records = [r for e in events for r in e["records"]]
    assert [r["epoch"] for r in records] == list(range(1, len(records) + 1))
    assert events[0]["reset"] and len(events[0]["points"]["x"]) == 200
    assert "epochs=" in events[-1]["code"]
    # The stream above is closed: nobody watches this playground any more, so it pauses.
    _events(f"{server}/api/playground/{key}/events",
            lambda seen: seen[-1]["state"]["mode"] == "paused", seconds=20)


def test_the_runs_stream_sends_the_runs(server):
    [event] = _events(server + "/api/runs/events", lambda seen: len(seen) == 1)
    assert {r["name"] for r in event["runs"]} == {"mlp-run", "conv-run", "cats"}


def test_serve_says_what_to_install_without_the_web_extra(tmp_path):
    """`import scratchnn` and `scratchnn serve --help` never need Starlette."""
    blocker = tmp_path / "block"
    blocker.mkdir()
    for name in ("starlette", "uvicorn"):
        (blocker / f"{name}.py").write_text(f"raise ModuleNotFoundError(name={name!r})\n")
    env = {**os.environ, "PYTHONPATH": f"{blocker}{os.pathsep}{SRC}"}
    run = [sys.executable, "-m", "scratchnn", "serve"]
    helped = subprocess.run([*run, "--help"], capture_output=True, text=True, env=env)
    assert helped.returncode == 0 and "--runs" in helped.stdout
    failed = subprocess.run([*run, "--port", "0"], capture_output=True, text=True, env=env,
                            timeout=60)
    assert failed.returncode == 1 and 'pip install "scratchnn[web]"' in failed.stderr
    assert "(starlette)" in failed.stderr or "(uvicorn)" in failed.stderr
