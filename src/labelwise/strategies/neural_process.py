"""The learned strategy: an Attentive Conditional Neural Process.

Bakker, van Hoof & Welling (ECML-PKDD 2023).

At every acquisition step the NP is trained from scratch on simulated problems
drawn from the annotated set: a random fraction ``q ∈ {0.1, ..., 0.9}`` of the
annotated points is the simulated labeled set (the *context*), the rest the
simulated pool (the *targets*), and each target's regression value is the myopic
oracle's improvement of the score on a held-out labeled *reward set* when that
point is added (`myopic_improvements`).
The trained NP then reads the real labeled set as context and predicts the
improvement ``μ`` of every real pool point; the strategy takes the largest.

Architecture (AttnCNP; r_dim 32; 21 924 weights for 21 inputs, as the
paper's supplement counts): a shared x-encoder MLP(d → 32, one hidden layer of
32); a value encoder (x-encoding + MLP(y: 1 → 32, one hidden unit)) → MLP(32 →
32, two hidden layers of 64); one 8-head cross-attention (keys: encoded context
x, queries: encoded target x, values: value encodings; head size 4; no output
projection) followed by LayerNorm(attention + query) and LayerNorm(z + MLP(z));
**no self-attention**, so each pool point's prediction depends on the context
only and permuting the context changes nothing; a decoder (x-encoding +
MLP(r)) → MLP(32 → 2, four hidden layers of 32) → ``μ`` and ``σ = 0.01 + 0.99
softplus(s)``. Context values are zeros (the code's default: the context says
which points are labeled, not their labels). Inputs are divided by the largest
absolute value over the annotated set and the pool.

Training: Gaussian negative log-likelihood per target point, averaged;
Adam 1e-3 for 100 epochs with the learning rate decayed by 10 overall
(``γ = 0.1^(1/100)`` per epoch); batches of up to 64 simulated problems with
equal (context, target) sizes. ``n_sim = 300`` problems.

References:
    Bakker, T., van Hoof, H., Welling, M. Learning Objective-Specific Active
    Learning Strategies with Attentive Neural Processes (ECML-PKDD 2023).
"""

from __future__ import annotations

import copy
import math
import pickle
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from labelwise._validation import check_positive, child_seed
from labelwise.exceptions import (
    ConvergenceError,
    FallbackWarning,
    InvalidParameterError,
)
from labelwise.kernels import fit_logistic_plus_one
from labelwise.pool import LabelState
from labelwise.strategies._registry import register
from labelwise.strategies.base import (
    Selection,
    SimulationContext,
    check_context,
    top_k,
)
from labelwise.strategies.lookahead import (
    RewardSetStrategy,
    batched_C,
    batched_or_refit,
    check_batched,
    check_n_jobs,
    context_weights,
    fit_and_score,
    myopic_improvements,
)

R_DIM = 32
N_HEADS = 8
Q_FRACTIONS = tuple(round(0.1 * i, 1) for i in range(1, 10))
TARGETS = ("gain", "log-loss")
TARGET_NORMS = (None, "per-problem")


def weighted_log_loss(
    log_p: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Mean ``-log p(y_e|e)`` of ``m`` models, weighted by ``w_{y_e}``.

    Args:
        log_p: Log-probabilities ``(m, n, n_classes)``.
        y: True classes ``(n,)``.
        weights: Per-class weights ``(n_classes,)`` or ``None`` (ones).

    Returns:
        ``(m,)`` log losses.
    """
    w = np.ones(log_p.shape[2]) if weights is None else np.asarray(weights, float)
    wy = w[y]
    out: np.ndarray = (-log_p[:, np.arange(y.size), y] @ wy) / wy.sum()
    return out


def myopic_log_loss_gains(
    model: Any,
    X: np.ndarray,
    labeled: np.ndarray,
    y_labeled: np.ndarray,
    candidates: np.ndarray,
    y_candidates: np.ndarray,
    X_eval: np.ndarray,
    y_eval: np.ndarray,
    *,
    n_classes: int,
    weights: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    seed: int = 0,
    batched: bool | None = None,
) -> np.ndarray:
    """Fall of the eval set's log loss from adding each candidate's true label.

    ``v(x) = LL(fit(L)) - LL(fit(L ∪ {(x, y)}))`` with ``LL`` the
    (``w_{y_e}``-weighted) mean log loss: the myopic oracle of
    `myopic_improvements` with a smooth
    score instead of the 0/1 accuracy. Batched logistic fits where possible
    (``batched`` as there), else a fresh copy of ``model`` per fit.

    Returns:
        ``(len(candidates),)`` gains (positive: the log loss falls).
    """
    flat = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    y_lab = np.asarray(y_labeled, dtype=np.int64)
    y_c = np.asarray(y_candidates, dtype=np.int64)
    y_e = np.asarray(y_eval, dtype=np.int64)
    sw = None if sample_weight is None else np.asarray(sample_weight, float)
    C = batched_C(model, n_classes, y_lab, batched)

    def fast() -> np.ndarray:
        assert C is not None
        theta0, thetas = fit_logistic_plus_one(
            flat[labeled], y_lab, flat[candidates], y_c,
            None if sw is None else sw[y_lab], None if sw is None else sw[y_c], C=C,
        )  # fmt: skip
        xe = np.asarray(X_eval, dtype=np.float64).reshape(len(X_eval), -1)
        every = np.vstack([theta0, thetas])
        z = (xe @ every[:, :-1].T + every[:, -1]).T  # (1 + m, n_eval)
        log_p = np.stack([-np.logaddexp(0.0, z), -np.logaddexp(0.0, -z)], axis=2)
        ll = weighted_log_loss(log_p, y_e, weights)
        out: np.ndarray = ll[0] - ll[1:]
        return out

    def loss(rows: np.ndarray, ys: np.ndarray) -> float:
        return fit_log_loss(
            model, X[rows], ys, X_eval, y_e, n_classes=n_classes, weights=weights,
            sample_weight=sw, seed=seed,
        )  # fmt: skip

    def slow() -> np.ndarray:
        base = loss(labeled, y_lab)
        return np.array([
            base - loss(np.append(labeled, c), np.append(y_lab, y))
            for c, y in zip(candidates, y_c, strict=True)
        ])  # fmt: skip

    return slow() if C is None else batched_or_refit(batched, fast, slow)


def fit_log_loss(
    model: Any,
    X: np.ndarray,
    y: np.ndarray,
    X_eval: np.ndarray,
    y_eval: np.ndarray,
    *,
    n_classes: int,
    weights: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    seed: int = 0,
) -> float:
    """Weighted log loss on the eval set of a fresh copy of ``model`` fit on ``(X, y)``.

    ``sample_weight`` holds per-class training weights, ``weights`` per-class
    evaluation weights (`weighted_log_loss`).
    """
    m = copy.deepcopy(model)
    extra = {} if sample_weight is None else {"sample_weight": sample_weight[y]}
    m.fit(X, y, n_classes=n_classes, rng=seed, **extra)
    p = np.asarray(m.predict_proba(X_eval), dtype=np.float64)
    log_p = np.log(np.maximum(p, 1e-300))[None]
    return float(weighted_log_loss(log_p, np.asarray(y_eval), weights)[0])


def normalise_per_problem(
    problems: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Z-score each simulated problem's targets; zeros where they do not vary.

    Each problem's values get mean 0 and (population) standard deviation 1, so
    the NP learns the ranking within a problem rather than its level and
    spread, which change from problem to problem.
    """
    out = []
    for ctx, tgt, v in problems:
        v64 = v.astype(np.float64)
        sd = float(v64.std())
        z = np.zeros_like(v64) if np.ptp(v64) == 0 else (v64 - v64.mean()) / sd
        out.append((ctx, tgt, z.astype(np.float32)))
    return out


def _mlp(d_in: int, d_out: int, hidden: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    d = d_in
    for h in hidden:
        layers += [nn.Linear(d, h), nn.ReLU()]
        d = h
    layers.append(nn.Linear(d, d_out))
    return nn.Sequential(*layers)


class AttnCNP(nn.Module):
    """Attentive conditional NP without self-attention (see the module doc).

    Args:
        x_dim: Input dimension.

    Shapes: ``forward(x_context (B, C, d), y_context (B, C, 1), x_target
    (B, T, d))`` returns ``(μ, σ)``, each ``(B, T)``.
    """

    def __init__(self, x_dim: int):
        super().__init__()
        self.x_enc = _mlp(x_dim, R_DIM, [R_DIM])
        self.y_enc = _mlp(1, R_DIM, [1])  # one hidden unit: 21 924 weights at d = 21
        self.value_enc = _mlp(R_DIM, R_DIM, [64, 64])
        self.w_k = nn.Linear(R_DIM, R_DIM, bias=False)
        self.w_q = nn.Linear(R_DIM, R_DIM, bias=True)
        self.w_v = nn.Linear(R_DIM, R_DIM, bias=False)
        self.norm1 = nn.LayerNorm(R_DIM)
        self.post = _mlp(R_DIM, R_DIM, [R_DIM])
        self.norm2 = nn.LayerNorm(R_DIM)
        self.r_map = _mlp(R_DIM, R_DIM, [R_DIM])
        self.decoder = _mlp(R_DIM, 2, [R_DIM] * 4)
        self._init()

    def _init(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        std = math.sqrt(2.0 / (R_DIM + R_DIM // N_HEADS))
        for lin in (self.w_k, self.w_q, self.w_v):
            nn.init.normal_(lin.weight, 0.0, std)

    def forward(
        self, x_c: torch.Tensor, y_c: torch.Tensor, x_t: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(μ, σ)`` of every target point, shapes ``(B, T)``."""
        kx, qx = self.x_enc(x_c), self.x_enc(x_t)
        values = self.value_enc(kx + self.y_enc(y_c))
        b, c, _ = kx.shape
        t = qx.shape[1]
        h, dh = N_HEADS, R_DIM // N_HEADS
        k = self.w_k(kx).view(b, c, h, dh).transpose(1, 2)  # (B, H, C, dh)
        q = self.w_q(qx).view(b, t, h, dh).transpose(1, 2)  # (B, H, T, dh)
        v = self.w_v(values).view(b, c, h, dh).transpose(1, 2)
        # softmax(q kᵀ / sqrt(dh)) v, per head
        att = nn.functional.scaled_dot_product_attention(q, k, v)
        r = att.transpose(1, 2).reshape(b, t, R_DIM)  # heads concatenated
        z = self.norm1(r + qx)
        z = self.norm2(z + self.post(z))
        out = self.decoder(qx + self.r_map(z))
        mu, s = out[..., 0], out[..., 1]
        sigma = 0.01 + 0.99 * nn.functional.softplus(s)
        return mu, sigma


def simulate(
    model: Any,
    X: np.ndarray,
    annotated: np.ndarray,
    y_annotated: np.ndarray,
    X_reward: np.ndarray,
    y_reward: np.ndarray,
    *,
    n_classes: int,
    n_sim: int,
    rng: np.random.Generator,
    weights: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    n_jobs: int = 1,
    progress: bool = False,
    batched: bool | None = None,
    target: str = "gain",
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Simulated problems ``(context rows, target rows, oracle targets)``.

    Each draws ``q`` from ``Q`` and ``int(q n)`` context points from the
    annotated set (redrawn until two classes are present, at most 1 000 tries);
    targets are the myopic improvements on the reward set: of the (weighted)
    accuracy with ``target="gain"`` (the paper's), of the (weighted) log loss
    with ``target="log-loss"`` (`myopic_log_loss_gains`). With a binary
    logistic regression the fits of each problem are solved together
    (`myopic_improvements`; ``batched``
    as there); otherwise all fits of all problems run in one joblib pool.
    """
    problems = _draw_problems(y_annotated, n_sim, rng)
    # every problem holds both classes, as the annotated set does
    if target not in TARGETS:
        raise InvalidParameterError(f"target must be one of {TARGETS}; got {target!r}.")
    setup = _Fits(
        model, X, annotated, y_annotated, X_reward, y_reward, n_classes, weights,
        sample_weight, target,
    )  # fmt: skip
    if batched_C(model, n_classes, y_annotated, batched) is not None:
        return _batched_targets(setup, problems, progress, batched)
    return _refit_targets(setup, problems, n_jobs, progress)


def _draw_problems(
    y_annotated: np.ndarray, n_sim: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n_sim`` (sorted context rows, target rows), each holding two classes."""
    n = len(y_annotated)
    classes = np.unique(y_annotated)
    if n < 3 or classes.size < 2:
        raise InvalidParameterError(
            "The annotated set needs at least two classes and three items to "
            f"simulate problems (two as context, one as target); got {n} item(s) "
            f"of classes {classes.tolist()}. Label a few more first (e.g. with "
            "random)."
        )
    problems = []
    for _ in range(n_sim):
        q = float(rng.choice(Q_FRACTIONS))
        k = max(int(q * n), 2)  # two points at least, for two classes
        for _try in range(1000):
            ctx = rng.choice(n, size=k, replace=False)
            if np.unique(y_annotated[ctx]).size >= 2:
                break
        else:
            raise InvalidParameterError(
                "The annotated set needs at least two classes to simulate problems."
            )
        problems.append((np.sort(ctx), np.setdiff1d(np.arange(n), ctx)))
    return problems


@dataclass(frozen=True)
class _Fits:
    """What every oracle fit of one simulation step shares."""

    model: Any
    X: np.ndarray
    annotated: np.ndarray
    y_annotated: np.ndarray
    X_reward: np.ndarray
    y_reward: np.ndarray
    n_classes: int
    weights: np.ndarray | None
    sample_weight: np.ndarray | None
    target: str

    def score(self, rows: np.ndarray) -> float:
        """Reward-set score of a fit on the annotated ``rows`` (higher is better)."""
        kw: dict[str, Any] = {
            "n_classes": self.n_classes,
            "weights": self.weights,
            "sample_weight": self.sample_weight,
        }
        x, y = self.X[self.annotated[rows]], self.y_annotated[rows]
        if self.target == "log-loss":  # the negative log loss: gains are its fall
            return -fit_log_loss(self.model, x, y, self.X_reward, self.y_reward, **kw)
        return fit_and_score(self.model, x, y, self.X_reward, self.y_reward, **kw)


def _batched_targets(
    f: _Fits,
    problems: list[tuple[np.ndarray, np.ndarray]],
    progress: bool,
    batched: bool | None,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Targets with each problem's fits solved together (binary logreg).

    With ``batched=None`` a problem whose fits do not converge is refit one by
    one instead, and one `FallbackWarning` counts such problems.
    """
    bar_it: Any = problems
    if progress:
        from tqdm.auto import tqdm

        bar_it = tqdm(problems, desc="np: oracle fits", unit="problem", leave=False)
    gains = myopic_improvements if f.target == "gain" else myopic_log_loss_gains
    out, failed = [], []
    for ctx, tgt in bar_it:
        args = (
            f.model, f.X, f.annotated[ctx], f.y_annotated[ctx], f.annotated[tgt],
            f.y_annotated[tgt], f.X_reward, f.y_reward,
        )  # fmt: skip
        kw: dict[str, Any] = {
            "n_classes": f.n_classes,
            "weights": f.weights,
            "sample_weight": f.sample_weight,
        }
        try:
            values = gains(*args, **kw, batched=True)
        except ConvergenceError as exc:
            if batched:
                raise
            failed.append(str(exc))
            values = gains(*args, **kw, batched=False)
        out.append((ctx, tgt, values.astype(np.float32)))
    if failed:
        warnings.warn(
            f"The batched logistic fits did not converge on {len(failed)} of "
            f"{len(problems)} simulated problems (first: {failed[0]}); those "
            "were refit one by one instead (slower).",
            FallbackWarning,
            stacklevel=4,
        )
    return out


def _refit_targets(
    f: _Fits,
    problems: list[tuple[np.ndarray, np.ndarray]],
    n_jobs: int,
    progress: bool,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Targets from one refit per (problem, candidate), all in one joblib pool."""
    from joblib import Parallel, delayed

    tasks = []
    for p, (ctx, tgt) in enumerate(problems):
        tasks.append((p, -1, ctx))
        tasks += [(p, int(j), np.append(ctx, j)) for j in tgt]
    chunks = np.array_split(np.arange(len(tasks)), max(1, 16 * max(n_jobs, 1)))

    def run(chunk: np.ndarray) -> list[float]:
        return [f.score(tasks[i][2]) for i in chunk]

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(tasks), desc="np: oracle fits", unit="fit", leave=False)
    results: list[float] = []
    for part in Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(run)(c) for c in chunks if c.size
    ):
        results += part
        if bar is not None:
            bar.update(len(part))
    if bar is not None:
        bar.close()
    base: dict[int, float] = {}
    values: dict[int, dict[int, float]] = defaultdict(dict)
    for (p, j, _), v in zip(tasks, results, strict=True):
        if j < 0:
            base[p] = v
        else:
            values[p][j] = v
    return [
        (ctx, tgt, np.array([values[p][int(j)] - base[p] for j in tgt], np.float32))
        for p, (ctx, tgt) in enumerate(problems)
    ]


def train_np(
    x: np.ndarray,
    problems: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    *,
    epochs: int = 100,
    lr: float = 1e-3,
    batch: int = 64,
    seed: int = 0,
    progress: bool = False,
    device: str = "cpu",
) -> AttnCNP:
    """Train a fresh `AttnCNP` on simulated problems over inputs ``x``.

    Args:
        x: Scaled inputs of the annotated points ``(n, d)``; problems index it.
        problems: ``(context, target, values)`` triples from `simulate`.
        epochs: Epochs. Defaults to 100.
        lr: Adam learning rate (decayed by 10 over the epochs).
        batch: Problems per minibatch (same sizes only).
        seed: Seed of the initialisation and the shuffling.
        progress: Show a progress bar.
        device: Torch device to train on (``"cpu"``, ``"cuda"``, ...). The
            weights are initialised on the CPU, so the seed gives the same
            start on every device; the returned NP stays on ``device``.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = AttnCNP(x.shape[1])
    dev = torch.device(device)
    net = net.to(dev)
    xt = torch.as_tensor(x, dtype=torch.float32, device=dev)
    targets = [torch.as_tensor(p[2], device=dev) for p in problems]
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, (ctx, tgt, _) in enumerate(problems):
        groups[(len(ctx), len(tgt))].append(i)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.1 ** (1 / epochs))
    it: Any = range(epochs)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="np: training", unit="epoch", leave=False)
    for _ in it:
        batches = []
        for ids in groups.values():
            perm = torch.randperm(len(ids), generator=gen).tolist()
            ids = [ids[p] for p in perm]
            batches += [ids[s : s + batch] for s in range(0, len(ids), batch)]
        order = torch.randperm(len(batches), generator=gen).tolist()
        for b in order:
            ids = batches[b]
            xc = torch.stack([xt[problems[i][0]] for i in ids])
            xq = torch.stack([xt[problems[i][1]] for i in ids])
            y = torch.stack([targets[i] for i in ids])
            mu, sigma = net(xc, torch.zeros(*xc.shape[:2], 1, device=dev), xq)
            nll = torch.log(sigma) + 0.5 * ((y - mu) / sigma) ** 2
            nll = nll + 0.5 * math.log(2 * math.pi)  # Gaussian NLL
            loss = nll.mean(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    net.eval()
    return net


@register("np")
class NeuralProcess(RewardSetStrategy):
    """Learned acquisition with an AttnCNP trained on myopic-oracle simulations.

    Needs a labeled reward set (`prepare_simulation` or
    `set_reward`; the imbalance-setting datasets carry one, and the
    benchmark harness passes it). The NP is trained
    from scratch at every step (``n_sim`` problems, ``epochs`` epochs), unless
    ``pretrained`` names a saved model (`save_model`), which is then used
    as is. Budget > 1 takes the top ``μ``.

    Args:
        n_sim: Simulated problems per step. Defaults to 300.
        epochs: Training epochs. Defaults to 100.
        n_jobs: joblib workers for the oracle fits. Defaults to 1.
        pretrained: Path of a saved NP to acquire with instead of training.
        progress: Show progress bars. Defaults to ``True``.
        batched: Oracle fits of a logistic regression solved together
            (``None``, default: where possible; ``False``: refit copies of the
            model; see `simulate`).
        device: Torch device of the NP's training and scoring (``"cpu"``,
            default; ``"cuda"`` on a GPU machine). Results on a GPU differ from
            the CPU's in the last digits, so picks may too.
        target: What the simulated targets measure: ``"gain"`` (default, the
            paper's: the rise of the reward set's (weighted) accuracy) or
            ``"log-loss"`` (the fall of its (weighted) log loss, a smoother
            signal; `myopic_log_loss_gains`).
        target_norm: ``None`` (default, raw targets) or ``"per-problem"``:
            z-score every simulated problem's targets
            (`normalise_per_problem`; zeros where a problem's targets do
            not vary). μ is then in units of a problem's spread; the ranking
            is what the strategy uses.
        reward_size: Use at most this many points of the reward set, a seeded
            random subset drawn once per step (``None``, default: all of it).
            The imbalance settings hold 100; a larger set given to
            `set_reward` (where the data allow it) is used up to this
            size.
    """

    def __init__(
        self,
        *,
        n_sim: int = 300,
        epochs: int = 100,
        n_jobs: int = 1,
        pretrained: str | None = None,
        progress: bool = True,
        batched: bool | None = None,
        device: str = "cpu",
        target: str = "gain",
        target_norm: str | None = None,
        reward_size: int | None = None,
    ):
        check_positive(n_sim, "n_sim", integer=True)
        if target not in TARGETS:
            raise InvalidParameterError(
                f"target must be one of {TARGETS}; got {target!r}."
            )
        if target_norm not in TARGET_NORMS:
            raise InvalidParameterError(
                f"target_norm must be None or 'per-problem'; got {target_norm!r}."
            )
        if reward_size is not None:
            check_positive(reward_size, "reward_size", integer=True)
        self.target = target
        self.target_norm = target_norm
        self.reward_size = reward_size
        check_positive(epochs, "epochs", integer=True)
        check_n_jobs(n_jobs)
        self.n_sim = n_sim
        self.epochs = epochs
        self.n_jobs = n_jobs
        self.pretrained = pretrained
        self.progress = progress
        self.batched = check_batched(batched)
        try:
            torch.device(device)
        except (RuntimeError, TypeError):
            raise InvalidParameterError(
                f"device must name a torch device such as 'cpu' or 'cuda'; got "
                f"{device!r}."
            ) from None
        self.device = device
        self._reward: dict[str, Any] | None = None
        self.net_: AttnCNP | None = None
        # the last step's training problems (context, target, values as trained)
        self.problems_: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.timings_: dict[str, float] = {}
        if pretrained is not None:
            self.net_ = load_np(pretrained).to(torch.device(device))

    def prepare_simulation(self, context: SimulationContext) -> None:
        """Take the labeled reward set the simulations are scored on.

        Reads ``X_reward``, ``y_reward``, ``eval_weights`` and
        ``class_weights``. A ``pretrained`` NP needs none of them.

        Raises:
            InvalidParameterError: No reward set and no ``pretrained`` NP.
        """
        c = check_context(context)
        if c.X_reward is None or c.y_reward is None:
            if self.pretrained is None:
                data = f"dataset {c.dataset}" if c.dataset else "the simulation"
                raise InvalidParameterError(
                    f"{type(self).__name__} needs a labeled reward set; {data} has "
                    "none (use NAME:balanced, NAME:imbalanced or "
                    "NAME:imbalanced-weighted, or a pretrained NP)."
                )
            return
        self._reward = {
            "X": np.asarray(c.X_reward),
            "y": np.asarray(c.y_reward),  # checked against the classes in select
            **context_weights(c),
        }

    def save_model(self, path: str | Path) -> None:
        """Save the last trained NP (input dimension and weights)."""
        if self.net_ is None:
            raise InvalidParameterError("No trained NP yet: select once first.")
        save_np(self.net_, path)

    def _select(
        self,
        model: Any,
        X: np.ndarray,
        state: LabelState,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        x = np.asarray(X, dtype=np.float32).reshape(X.shape[0], -1)
        labeled = state.labeled_indices()
        pool = state.unlabeled_indices()
        scale = float(np.abs(x).max()) or 1.0
        xs = x / scale
        timings: dict[str, float] = {}
        if self.pretrained is None:
            if self._reward is None:
                raise InvalidParameterError(
                    "The np strategy needs a labeled reward set: call set_reward("
                    "X_reward, y_reward), or use a dataset with one "
                    "(NAME:balanced|imbalanced|imbalanced-weighted)."
                )
            r = self.checked_reward(self._reward, X, state.n_classes)
            y_lab = np.asarray(state.labels(labeled), dtype=np.int64)
            rows = np.arange(len(r["y"]))
            if self.reward_size is not None and rows.size > self.reward_size:
                rows = np.sort(rng.choice(rows, size=self.reward_size, replace=False))
            start = time.perf_counter()
            problems = simulate(
                model,
                x,
                labeled,
                y_lab,
                r["X"][rows],
                r["y"][rows],
                n_classes=state.n_classes,
                n_sim=self.n_sim,
                rng=np.random.default_rng(child_seed(rng)),
                weights=r["weights"],
                sample_weight=r["class_weights"],
                n_jobs=self.n_jobs,
                progress=self.progress,
                batched=self.batched,
                target=self.target,
            )
            if self.target_norm == "per-problem":
                problems = normalise_per_problem(problems)
            self.problems_ = problems
            timings["simulate_seconds"] = time.perf_counter() - start
            start = time.perf_counter()
            self.net_ = train_np(
                xs[labeled],
                problems,
                epochs=self.epochs,
                seed=child_seed(rng),
                progress=self.progress,
                device=self.device,
            )
            timings["train_seconds"] = time.perf_counter() - start
        assert self.net_ is not None
        if np_input_dim(self.net_) != xs.shape[1]:
            raise InvalidParameterError(
                f"The pretrained NP takes {np_input_dim(self.net_)} features per item; "
                f"the pool has {xs.shape[1]}. Use an NP trained on this pool's "
                "features, or train one (no pretrained=)."
            )
        start = time.perf_counter()
        mu = predict_np(self.net_, xs[labeled], xs[pool])
        timings["score_seconds"] = time.perf_counter() - start
        self.timings_ = timings
        best = top_k(mu, batch_size)
        return Selection(indices=pool[best], scores=mu[best], info=dict(timings))


@torch.no_grad()
def predict_np(net: AttnCNP, x_context: np.ndarray, x_target: np.ndarray) -> np.ndarray:
    """``μ`` of every target given the context (zeros as context values)."""
    dev = next(net.parameters()).device
    xc = torch.as_tensor(x_context, dtype=torch.float32, device=dev)[None]
    xq = torch.as_tensor(x_target, dtype=torch.float32, device=dev)[None]
    mu, _ = net(xc, torch.zeros(1, xc.shape[1], 1, device=dev), xq)
    out: np.ndarray = mu[0].cpu().numpy().astype(np.float64)
    return out


def np_input_dim(net: AttnCNP) -> int:
    """The number of features per item the NP takes."""
    first = net.x_enc[0]
    assert isinstance(first, nn.Linear)
    return int(first.in_features)


def save_np(net: AttnCNP, path: str | Path) -> None:
    """Write the NP's input dimension and weights to ``path`` (torch format)."""
    x_dim = np_input_dim(net)
    state = {k: v.cpu() for k, v in net.state_dict().items()}
    torch.save({"x_dim": x_dim, "state_dict": state}, Path(path))


def load_np(path: str | Path) -> AttnCNP:
    """Read an NP written by `save_np`."""
    p = Path(path)
    if not p.exists():
        raise InvalidParameterError(f"No saved NP at {p}.")
    try:  # only tensors and plain containers are read: never arbitrary code
        blob = torch.load(p, weights_only=True)
        net = AttnCNP(int(blob["x_dim"]))
        net.load_state_dict(blob["state_dict"])
    except Exception as exc:
        # torch's unpickling message advises an unsafe load: name the type only
        text = "" if isinstance(exc, pickle.UnpicklingError) else str(exc).strip()
        first = text.splitlines()[0][:200] if text else ""
        raise InvalidParameterError(
            f"{p} is not an NP written by save_model ({type(exc).__name__}"
            f"{': ' + first if first else ''}). Save one with "
            "get_strategy('np').save_model(path) after a select."
        ) from None
    net.eval()
    return net
