"""End to end in headless Chromium: label by mouse and keyboard, correct, SIGKILL.

Drives Debian's Chromium (``/usr/bin/chromium``; scripts/test.sh installs it)
through Playwright against a real ``labelwise label serve`` process.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from labelwise.app import LabelDB, init_project

TOKEN = "browser-test-token"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(folder: Path, port: int) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("labelwise")
    proc = subprocess.Popen(
        [
            str(exe),
            "label",
            "serve",
            str(folder),
            "--port",
            str(port),
            "--token",
            TOKEN,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api/state?token={TOKEN}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start within 60 s")


@pytest.fixture
def image_project(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(40):
        dark = i % 2 == 0
        arr = rng.integers(0, 80, (16, 16)) + (0 if dark else 170)
        Image.fromarray(arr.astype(np.uint8)).save(folder / f"img{i:02d}.png")
    proj = tmp_path / "proj"
    init_project(
        proj,
        images=folder,
        classes=["dark", "light"],
        model="logreg",
        strategy="entropy",
        batch_size=5,
    )
    return proj


def _wait(cond, timeout: float = 20.0) -> None:
    deadline = time.time() + timeout
    while not cond():
        if time.time() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def _truth(item: int) -> str:
    return "dark" if item % 2 == 0 else "light"  # files sort as img00..img39


def test_label_by_mouse_and_keyboard_correct_then_survive_sigkill(image_project):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Chromium missing: apt-get install chromium"
    port = _free_port()
    proc = _serve(image_project, port)
    db_path = image_project / "labels.sqlite"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox"]
            )
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/?token={TOKEN}")
            page.wait_for_selector(".card img")
            cards = page.locator(".card")
            assert cards.count() == 5
            first = int(cards.nth(0).get_attribute("data-item"))
            # the image really loads and renders
            page.wait_for_function(
                "[...document.querySelectorAll('.card img')]"
                ".every(i => i.complete && i.naturalWidth > 0)"
            )
            # 1) by mouse
            page.click(
                f'.card[data-item="{first}"] button[data-value="{_truth(first)}"]'
            )
            page.wait_for_function("document.querySelectorAll('.card').length == 4")
            # 2) by keyboard: the highlighted (first) card
            second = int(page.locator(".card.current").get_attribute("data-item"))
            page.keyboard.press("1" if _truth(second) == "dark" else "2")
            page.wait_for_function("document.querySelectorAll('.card').length == 3")
            # 3) skip and undo by keyboard
            third = int(page.locator(".card.current").get_attribute("data-item"))
            page.keyboard.press("s")
            page.wait_for_function("document.querySelectorAll('.card').length == 2")
            page.keyboard.press("u")
            page.wait_for_function("document.querySelectorAll('.card').length == 3")
            # 4) correct the first label from the history, then back
            wrong = "light" if _truth(first) == "dark" else "dark"
            page.select_option(f'#history select[data-item="{first}"]', wrong)
            db = LabelDB(db_path)
            _wait(lambda: db.labels().get(first) == wrong)
            page.wait_for_selector(f'#history select[data-item="{first}"]')
            page.select_option(f'#history select[data-item="{first}"]', _truth(first))
            _wait(lambda: db.labels().get(first) == _truth(first))
            assert db.labels() == {first: _truth(first), second: _truth(second)}
            # 5) one more label, then SIGKILL the server mid-batch
            page.keyboard.press("1" if _truth(third) == "dark" else "2")
            page.wait_for_function("document.querySelectorAll('.card').length == 2")
            before = db.labels()
            db.close()
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            proc = _serve(image_project, port)
            db = LabelDB(db_path)
            assert db.labels() == before and len(before) == 3
            page.reload()
            page.wait_for_selector(".card img")
            left = [
                int(c.get_attribute("data-item")) for c in page.locator(".card").all()
            ]
            assert len(left) == 2 and not set(left) & set(before)
            # finish the batch by keyboard; the next batch (with guesses) appears
            for n in (1, 0):
                item = int(page.locator(".card.current").get_attribute("data-item"))
                page.keyboard.press("1" if _truth(item) == "dark" else "2")
                page.wait_for_function(
                    f"document.querySelectorAll('.card').length == {n} || "
                    "document.querySelectorAll('.card').length == 5"
                )
            page.wait_for_function(
                "document.querySelectorAll('.card').length == 5", timeout=60_000
            )
            assert "guess" in page.locator(".card").nth(0).inner_text()
            labels = db.labels()
            assert len(labels) == 5 and all(v == _truth(k) for k, v in labels.items())
            live = [
                e for e in db.events() if e["action"] == "label" and not e["undone"]
            ]
            assert sorted(e["item"] for e in live) == sorted(labels)  # no duplicates
            new = [q["item"] for q in db.queue()]
            assert len(new) == 5 and not set(new) & set(labels)
            db.close()
            browser.close()
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_flat_digits_render_as_images_and_digit_keys_label_their_class(tmp_path):
    from playwright.sync_api import sync_playwright

    proj = tmp_path / "digits"
    init_project(proj, dataset="digits", pool_size=60, model="logreg", batch_size=4)
    port = _free_port()
    proc = _serve(proj, port)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox"]
            )
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/?token={TOKEN}")
            page.wait_for_selector(".card img")
            page.wait_for_function(
                "[...document.querySelectorAll('.card img')]"
                ".every(i => i.complete && i.naturalWidth > 0)"
            )
            # every class button shows its key, and the key is the digit itself
            texts = page.locator(".card.current .buttons button").all_inner_texts()
            assert [t for t in texts if not t.startswith("skip")] == [
                f"[{d}] {d}" for d in range(10)
            ]
            item = int(page.locator(".card.current").get_attribute("data-item"))
            page.keyboard.press("7")
            page.wait_for_function("document.querySelectorAll('.card').length == 3")
            db = LabelDB(proj / "labels.sqlite")
            assert db.labels() == {item: "7"}
            db.close()
            browser.close()
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_text_cards_show_markup_as_text_fold_long_texts_and_label_by_key(tmp_path):
    from playwright.sync_api import sync_playwright

    script = "<script>window.pwned = 1</script><b>not bold</b>"
    rows = ["body,tag"]
    for i in range(12):
        words = "goal team match" if i % 2 else "bank loan rate"
        body = f"{words} {i}" + (" " + script + " long" * 200 if i == 3 else "")
        rows.append(f'"{body}",{("sport" if i % 2 else "money") if i < 2 else ""}')
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    proj = tmp_path / "texts"
    init_project(
        proj, texts=tmp_path / "t.csv", text_column="body", label_column="tag",
        batch_size=10,
    )  # fmt: skip
    port = _free_port()
    proc = _serve(proj, port)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox"]
            )
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/?token={TOKEN}")
            # the first model (two labeled rows) picks the batch: all ten others
            page.wait_for_selector(".card.text p.text", timeout=60_000)
            assert page.locator(".card.text").count() == 10
            long_card = page.locator('.card[data-item="3"]')
            shown = long_card.locator("p.text").inner_text()
            # markup is shown as written, folded, and never runs
            assert shown.startswith("goal team match 3 <script>window.pwned = 1")
            assert "<b>not bold</b>" in shown and shown.endswith("…")
            assert page.evaluate("window.pwned") is None
            assert long_card.locator("b").count() == 0
            page.click('.card[data-item="3"] button.more')
            full = page.locator('.card[data-item="3"] p.text').inner_text()
            assert len(full) > len(shown) and full.rstrip().endswith("long")
            assert (
                page.locator('.card[data-item="3"] button.more').inner_text() == "less"
            )
            assert "guess" in page.locator(".card.current").inner_text()
            # a key labels the highlighted card (money is key 1, sport key 2)
            item = int(page.locator(".card.current").get_attribute("data-item"))
            page.keyboard.press("2" if item % 2 else "1")
            page.wait_for_function("document.querySelectorAll('.card').length == 9")
            db = LabelDB(proj / "labels.sqlite")
            assert db.labels()[item] == ("sport" if item % 2 else "money")
            assert len(db.labels()) == 3
            db.close()
            browser.close()
    finally:
        proc.kill()
        proc.wait(timeout=10)
