"""Draw the README's screenshot of the labeling app (Fashion-MNIST demo).

Creates the demo project, labels three batches over HTTP with the hidden labels
(so the page has a model, guesses, scores and a learning curve), then opens the
page in headless Chromium and saves ``docs/img/label_app.png``.

    python benchmarks/app_screenshot.py [--out docs/img/label_app.png]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from label_latency import TOKEN, _call, _free_port


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("docs/img/label_app.png"))
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from labelwise.app import init_project

    proj = Path(tempfile.mkdtemp(prefix="labelwise-shot-")) / "demo"
    init_project(
        proj,
        dataset="fashion-mnist",
        pool_size=5000,
        batch_size=8,
        budget=200,
        model_params={"epochs": 40},
    )
    truth = np.load(proj / "hidden.npy")
    port = _free_port()
    exe = Path(sys.executable).with_name("labelwise")
    server = subprocess.Popen(
        [str(exe), "label", "serve", str(proj), "--port", str(port), "--token", TOKEN],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                _call(f"{base}/api/state")
                break
            except OSError:
                time.sleep(0.2)
        for _ in range(3):  # three batches, waiting for each retrain
            while (
                not (state := _call(f"{base}/api/state"))["batch"] or state["training"]
            ):
                time.sleep(0.2)
            for q in state["batch"]:
                _call(
                    f"{base}/api/label", {"item": q["item"], "value": truth[q["item"]]}
                )
        while (state := _call(f"{base}/api/state"))["training"] or not state["batch"]:
            time.sleep(0.2)
        first = state["batch"][0]["item"]
        _call(f"{base}/api/label", {"item": first, "value": truth[first]})
        time.sleep(0.5)
        chromium = shutil.which("chromium") or "/usr/bin/chromium"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=chromium, args=["--no-sandbox"]
            )
            page = browser.new_page(viewport={"width": 1280, "height": 760})
            page.goto(f"{base}/?token={TOKEN}")
            page.wait_for_selector(".card img")
            page.wait_for_timeout(800)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out))
            browser.close()
    finally:
        server.kill()
        server.wait()
    print(f"screenshot: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
