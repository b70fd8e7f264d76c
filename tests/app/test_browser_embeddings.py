"""In headless Chromium: a project that learns from embeddings shows its images
and is labeled by key (the helpers are those of test_browser.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from test_browser import CHROMIUM, TOKEN, _free_port, _serve, _wait
from test_embeddings import noise_images, separable_embeddings

from labelwise.app import LabelDB, init_project


def test_embeddings_project_shows_images_and_labels_by_key(tmp_path):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Chromium missing: apt-get install chromium"
    folder, truth = noise_images(tmp_path)
    np.save(tmp_path / "emb.npy", separable_embeddings(truth))
    proj = tmp_path / "proj"
    init_project(
        proj,
        images=folder,
        classes=["even", "odd"],
        strategy="margin",
        batch_size=3,
        embeddings=tmp_path / "emb.npy",
    )
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
            texts = page.locator(".card.current .buttons button").all_inner_texts()
            assert [t for t in texts if not t.startswith("skip")] == [
                "[1] even",
                "[2] odd",
            ]
            db = LabelDB(proj / "labels.sqlite")
            done: dict[int, str] = {}
            for left in (2, 1, 0):
                item = int(page.locator(".card.current").get_attribute("data-item"))
                page.keyboard.press("1" if truth[item] == "even" else "2")
                done[item] = str(truth[item])
                if left:  # the last one ends the batch: the next one comes
                    page.wait_for_function(
                        f"document.querySelectorAll('.card').length == {left}"
                    )
            _wait(lambda: db.labels() == done)
            # the next batch, chosen on the embeddings, with the model's guesses
            page.wait_for_function(
                "[...document.querySelectorAll('.card .meta')]"
                ".filter(m => m.textContent.includes('guess')).length == 3",
                timeout=60_000,
            )
            cards = page.locator(".card")
            for k in range(3):
                item = int(cards.nth(k).get_attribute("data-item"))
                assert item not in done
                assert f"guess {truth[item]}" in cards.nth(k).inner_text()
            db.close()
            browser.close()
    finally:
        proc.kill()
        proc.wait(timeout=10)
