"""scratchnn serve in a real browser: the server on a free local port, headless Chromium.

Needs the web extra, Selenium and Debian's ``chromium`` and ``chromium-driver`` (skipped
without them; .ci/steps/30-serve.sh installs them). Screenshots of each view are kept in
``$SCRATCHNN_SERVE_SCREENSHOTS`` (default: the test's temporary folder).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.actions import interaction  # noqa: E402
from selenium.webdriver.common.actions.action_builder import ActionBuilder  # noqa: E402
from selenium.webdriver.common.actions.pointer_input import PointerInput  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from scratchnn.serve.catalog import SAMPLE  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
if not (CHROMIUM and DRIVER):
    pytest.skip("needs Chromium and its driver (apt-get install chromium chromium-driver)",
                allow_module_level=True)


def _env(**extra) -> dict:
    return {**os.environ, "PYTHONPATH": str(SRC), **extra}


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    where = os.environ.get("SCRATCHNN_SERVE_SCREENSHOTS")
    folder = Path(where) if where else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def server(shared_data, tmp_path_factory):
    """``scratchnn serve`` on a free port, with two finished runs in its runs folder."""
    runs = tmp_path_factory.mktemp("runs")
    trainings = [["--limit", 6000, "--epochs", 3, "--hidden", 64, "--eval-subset", 2000,
                  "--out", runs / "mnist-mlp"],
                 ["--dataset", "spirals", "--hidden", "32,32", "--epochs", 60,
                  "--out", runs / "spirals-mlp"]]
    for options in trainings:
        done = subprocess.run([sys.executable, "-m", "scratchnn", "train", *map(str, options)],
                              capture_output=True, text=True, timeout=300,
                              env=_env(SCRATCHNN_DATA=str(shared_data)))
        assert done.returncode == 0, done.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "scratchnn", "serve", "--port", "0", "--runs", str(runs),
         "--data-dir", str(shared_data)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        line = proc.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
        assert found, line + proc.stderr.read()
        yield found.group(1)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--disable-gpu", "--window-size=1400,1000", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _wait(driver, condition, seconds: float = 60):
    return WebDriverWait(driver, seconds, poll_frequency=0.1).until(lambda d: condition())


def _three() -> list[tuple[float, float]]:
    """A handwritten 3 on the 280x280 pad: two bows, the lower one larger."""
    points = [(140 + 55 * math.cos(math.radians(a)), 85 + 45 * math.sin(math.radians(a)))
              for a in range(-150, 91, 10)]
    points += [(140 + 60 * math.cos(math.radians(a)), 185 + 50 * math.sin(math.radians(a)))
               for a in range(-90, 151, 10)]
    return points


def _stroke(driver, pad, points, kind: str = interaction.POINTER_MOUSE) -> None:
    """One stroke through ``points`` (pad pixels) with pointer events of ``kind``."""
    pointer = PointerInput(kind, kind)
    actions = ActionBuilder(driver, mouse=pointer, duration=10)
    half = pad.size["width"] / 2
    x, y = points[0]
    actions.pointer_action.move_to(pad, int(x - half), int(y - half)).pointer_down()
    for x, y in points[1:]:
        actions.pointer_action.move_to(pad, int(x - half), int(y - half))
    actions.pointer_action.pointer_up()
    actions.perform()


def test_drawing_a_three_shows_3(server, browser, screenshots):
    browser.get(server)
    sample = f"#model option[value='{SAMPLE}']"
    _wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, sample))
    Select(browser.find_element(By.ID, "model")).select_by_value(SAMPLE)
    pad = browser.find_element(By.ID, "pad")
    _stroke(browser, pad, _three())
    predicted = browser.find_element(By.ID, "predicted")
    top = "const b = document.querySelector('.bar.top'); return b && b.dataset.cls"
    _wait(browser, lambda: predicted.text == "3" and browser.execute_script(top) == "3")
    assert browser.find_elements(By.CSS_SELECTOR, "#activations canvas")
    assert not browser.find_element(By.ID, "draw-error").text
    assert not browser.find_element(By.ID, "novelty").text  # a 3 looks like a digit
    browser.save_screenshot(str(screenshots / "draw.png"))
    # Clear empties the pad and the answer; a blank pad asks for nothing.
    browser.find_element(By.ID, "clear").click()
    assert predicted.text == "–"
    # A pen draws too: a vertical stroke is a 1.
    _stroke(browser, pad, [(150, 40 + 10 * i) for i in range(21)], interaction.POINTER_PEN)
    _wait(browser, lambda: predicted.text == "1")


def test_a_zigzag_gets_the_out_of_distribution_warning(server, browser, screenshots):
    browser.get(server)
    sample = f"#model option[value='{SAMPLE}']"
    _wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, sample))
    Select(browser.find_element(By.ID, "model")).select_by_value(SAMPLE)
    corners = [(30, 60), (90, 220), (140, 60), (190, 220), (250, 60)]
    points = [(x0 + (x1 - x0) * k / 10, y0 + (y1 - y0) * k / 10)
              for (x0, y0), (x1, y1) in zip(corners[:-1], corners[1:], strict=True)
              for k in range(10)]
    _stroke(browser, browser.find_element(By.ID, "pad"), points + [corners[-1]])
    warning = browser.find_element(By.ID, "novelty")
    _wait(browser, lambda: "does not look like the data" in warning.text)
    browser.save_screenshot(str(screenshots / "draw-warning.png"))


def test_an_upload_that_is_not_a_picture_is_refused_in_the_page(server, browser, tmp_path):
    browser.get(server)
    _wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#model option"))
    (tmp_path / "notes.png").write_text("not a picture")
    browser.find_element(By.ID, "upload").send_keys(str(tmp_path / "notes.png"))
    error = browser.find_element(By.ID, "draw-error")
    _wait(browser, lambda: "not a picture" in error.text)


def test_the_playground_learns_xor(server, browser, screenshots):
    browser.get(server)
    browser.find_element(By.ID, "tab-playground").click()
    code = browser.find_element(By.ID, "pg-code")
    _wait(browser, lambda: "make_xor" in code.text)
    Select(browser.find_element(By.ID, "pg-optimizer")).select_by_visible_text("sgd")
    lr = browser.find_element(By.ID, "pg-lr")
    lr.clear()
    lr.send_keys("0.3\n")
    _wait(browser, lambda: "make_optimizer('sgd', lr=0.3)" in code.text)
    epoch = browser.find_element(By.ID, "pg-epoch")
    browser.find_element(By.ID, "pg-step").click()
    _wait(browser, lambda: epoch.text == "1" and "epochs=1," in code.text)
    browser.find_element(By.ID, "pg-play").click()
    accuracy = browser.find_element(By.ID, "pg-test-acc")

    def passed() -> bool:
        shown = accuracy.text.rstrip("%")
        return shown not in ("", "–") and float(shown) > 95

    _wait(browser, passed, seconds=180)
    browser.find_element(By.ID, "pg-play").click()  # pause
    mode = browser.find_element(By.ID, "pg-mode")
    _wait(browser, lambda: mode.text == "paused")
    browser.save_screenshot(str(screenshots / "playground.png"))
    stopped = epoch.text
    assert f"epochs={stopped}," in code.text
    browser.find_element(By.ID, "pg-reset").click()
    _wait(browser, lambda: epoch.text == "0")


def test_the_runs_view_overlays_the_runs(server, browser, screenshots):
    browser.get(server)
    browser.find_element(By.ID, "tab-runs").click()
    _wait(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR,
                                                     "#runs-table tbody tr")) == 2)
    # (read and clicked in the page: the live updates rebuild the rows at any moment)
    names = browser.execute_script(
        "return [...document.querySelectorAll('#runs-table tbody tr')].map(r => r.dataset.run)")
    assert names == ["mnist-mlp", "spirals-mlp"]
    browser.execute_script("document.querySelector(\"tr[data-run='mnist-mlp']\").click()")
    _wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#run-figures img"))
    _wait(browser, lambda: browser.execute_script(
        "return [...document.querySelectorAll('#run-figures img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"))
    assert "mnist-mlp" in browser.find_element(By.ID, "run-title").text
    browser.save_screenshot(str(screenshots / "runs.png"))
