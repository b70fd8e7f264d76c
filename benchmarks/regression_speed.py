"""Regression selection speed: labelwise against the published bmdal-reg 3.0.2.

Same inputs for both: a pool of N = 50 000 and 200 training points with 20
standard-normal features, the BMDAL 512-512 ReLU network in NTK
parametrisation (labelwise's weights copied into bmdal-reg's ``LinearLayer``s,
so both compute the same function and kernel), B = 200, each method in its
preferred configuration on grad -> rp(512) (the BMDAL paper's preferred setting), float64
allowed in bmdal-reg as in its benchmark. The kernel (feature) time and the
selection time are reported separately (bmdal-reg's own timers), with the peak
extra resident memory of the call; each (implementation, method) runs in a
fresh subprocess. Ratios measured in one run are what to compare on a shared
machine.

bmdal-reg is not a dependency; install it without its (unpinned) requirements:
``pip install --no-deps bmdal-reg==3.0.2 dill``.

    python benchmarks/regression_speed.py            # N = 50 000 (a few minutes)
    python benchmarks/regression_speed.py --quick    # N = 5 000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

METHODS = ["lcmd", "maxdet", "bait", "kmeanspp"]
BMDAL_CONFIG = {
    "lcmd": ([("rp", [512])], "lcmd", {"sel_with_train": True}),
    "maxdet": (
        [("rp", [512]), ("train", [1e-3, None])],
        "maxdet",
        {"sel_with_train": False, "maxdet_sigma": 1e-3},
    ),
    "bait": (
        [("rp", [512]), ("train", [1e-3, None])],
        "bait",
        {"sel_with_train": False, "bait_sigma": 1e-3},
    ),
    "kmeanspp": (
        [("rp", [512]), ("acs-rf", [512, 1e-3, None])],
        "kmeanspp",
        {"sel_with_train": False},
    ),
}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one(impl: str, method: str, n: int, threads: int) -> dict[str, float]:
    """Time one selection (run inside a fresh subprocess)."""
    import numpy as np
    import torch

    from labelwise.models import TorchRegressor, bmdal_mlp

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    x_pool = rng.normal(size=(n, 20)).astype(np.float32)
    x_train = rng.normal(size=(200, 20)).astype(np.float32)
    y_train = np.sin(x_train[:, 0])
    model = TorchRegressor(bmdal_mlp, max_epochs=1).fit(x_train, y_train, rng=0)
    base = _rss_mb()
    if impl == "labelwise":
        from labelwise.kernels import select_bmdal
        from labelwise.strategies import get_strategy

        s = get_strategy("bmdal-bait" if method == "bait" else method)
        start = time.perf_counter()
        fp, ft = s.features(model, x_pool, x_train, y_train, np.random.default_rng(1))
        kernel = time.perf_counter() - start
        start = time.perf_counter()
        select_bmdal(fp, ft, 200, method=s.selection, mode=s.mode, sigma=s.sigma, rng=2)
        selection = time.perf_counter() - start
    else:
        if not hasattr(np, "Inf"):  # bmdal-reg 3.0.2 still uses NumPy 1's np.Inf
            np.Inf = np.inf  # type: ignore[attr-defined]
        from bmdal_reg.bmdal.algorithms import select_batch
        from bmdal_reg.bmdal.feature_data import TensorFeatureData
        from bmdal_reg.bmdal.layer_features import LinearLayer

        layers: list[torch.nn.Module] = []
        for m in model.members_[0]:
            if hasattr(m, "in_factor"):
                layers.append(
                    LinearLayer(
                        m.weight.detach().t().clone(),
                        m.bias.detach().clone(),
                        m.in_factor,
                        m.bias_factor,
                    )
                )
            elif isinstance(m, torch.nn.ReLU):
                layers.append(torch.nn.ReLU())
        net = torch.nn.Sequential(*layers)
        transforms, sel, extra = BMDAL_CONFIG[method]
        _, res = select_batch(
            batch_size=200,
            models=[net],
            data={
                "train": TensorFeatureData(torch.as_tensor(x_train)),
                "pool": TensorFeatureData(torch.as_tensor(x_pool)),
            },
            y_train=torch.as_tensor(y_train[:, None]),
            base_kernel="grad",
            kernel_transforms=transforms,
            selection_method=sel,
            allow_float64=True,
            **extra,
        )
        kernel = res["kernel_time"]["total"]
        selection = res["selection_time"]["total"]
    return {"kernel_s": kernel, "select_s": selection, "extra_mb": _rss_mb() - base}


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--one", nargs=2, metavar=("IMPL", "METHOD"), help=argparse.SUPPRESS
    )
    args = ap.parse_args(argv)
    n = 5_000 if args.quick else 50_000
    if args.one:
        print(json.dumps(one(args.one[0], args.one[1], n, args.threads)))
        return 0
    try:
        import bmdal_reg  # noqa: F401

        impls = ["labelwise", "bmdal-reg"]
    except ImportError:
        print(
            "bmdal-reg is not installed (pip install --no-deps bmdal-reg==3.0.2 dill);"
        )
        print("timing labelwise alone.")
        impls = ["labelwise"]
    rows = []
    for method in METHODS:
        row: dict[str, object] = {"method": method}
        for impl in impls:
            cmd = [sys.executable, __file__, "--one", impl, method]
            cmd += ["--threads", str(args.threads)] + (
                ["--quick"] if args.quick else []
            )
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            row[impl] = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
    if args.json:
        print(json.dumps({"n": n, "rows": rows}))
        return 0
    print(
        f"pool {n}, 200 training points, B = 200, grad -> rp(512), {args.threads} threads"
    )
    head = "| method | labelwise kernel s | labelwise select s | labelwise MB |"
    if len(impls) == 2:
        head += (
            " bmdal-reg kernel s | bmdal-reg select s | bmdal-reg MB | select ratio |"
        )
    print(head)
    print("|---" * (head.count("|") - 1) + "|")
    for row in rows:
        lw = row["labelwise"]
        assert isinstance(lw, dict)
        line = (
            f"| {row['method']} | {lw['kernel_s']:.2f} | {lw['select_s']:.2f} | "
            f"{lw['extra_mb']:.0f} |"
        )
        if len(impls) == 2:
            bm = row["bmdal-reg"]
            assert isinstance(bm, dict)
            line += (
                f" {bm['kernel_s']:.2f} | {bm['select_s']:.2f} | {bm['extra_mb']:.0f} | "
                f"{bm['select_s'] / lw['select_s']:.1f}x |"
            )
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
