"""Exact L2 logistic regression for many "base set plus one point" problems.

The myopic oracle (learning-AL paper: Bakker, van Hoof & Welling, ECML PKDD 2023,
§3) refits a logistic
regression once per pool point: the labeled set plus that point. Every one of
these problems shares the base set, so they are solved together here instead
of by thousands of scikit-learn fits.

The objective is scikit-learn's ``LogisticRegression`` (penalty ``l2``,
``fit_intercept=True``, solvers ``lbfgs``/``newton-cg``/``newton-cholesky``,
which leave the intercept unpenalised)::

    f(θ) = C Σ_i s_i log(1 + exp(-(2y_i - 1) x̃_i·θ)) + ½ ||w||²,   θ = (w, b),

with ``x̃ = (x, 1)`` and sample weights ``s``. It is strictly convex, so its
minimiser is unique and every solver reaches the same model up to its
tolerance; these kernels solve to a gradient norm of ``tol`` (default 1e-8),
tighter than scikit-learn's default ``tol=1e-4``.

Method. The base problem is solved by Newton's method with a backtracking line
search, giving ``θ₀`` and the Hessian ``H₀``. Adding the point ``x̃_c`` changes
the Hessian at ``θ₀`` by the rank one ``a_c x̃_c x̃_cᵀ``; each candidate then
iterates ``θ ← θ - Ĥ_c⁻¹ ∇f_c(θ)`` with that fixed ``Ĥ_c = H₀ + a_c x̃_c x̃_cᵀ``
(a chord method, inverse by Sherman–Morrison). The first step is the exact
Newton step from ``θ₀``; later ones converge linearly, fast because one point
moves ``θ`` little. All candidates of a chunk advance together as matrix
products: ``O(n d)`` a candidate and iteration instead of a scikit-learn fit.
Candidates the chord iteration does not settle in ``max_iter`` steps are
finished by plain Newton on their own problem.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import expit

from labelwise.exceptions import ConvergenceError, InvalidParameterError


def _augment(X: np.ndarray) -> np.ndarray:
    return np.hstack([X, np.ones((X.shape[0], 1))])


def _reg(d1: int) -> np.ndarray:
    r = np.ones(d1)
    r[-1] = 0.0  # the intercept is not penalised
    return r


def _objective(
    Xa: np.ndarray, y: np.ndarray, s: np.ndarray, C: float, t: np.ndarray
) -> float:
    z = Xa @ t
    signed = np.where(y > 0, z, -z)
    return float(C * np.sum(s * np.logaddexp(0.0, -signed)) + 0.5 * np.sum(t[:-1] ** 2))


def _objectives(
    b: _Base, xa: np.ndarray, yc: np.ndarray, sc: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Objectives of ``k`` problems (base set plus row ``c``) at ``T`` ``(k, d1)``."""
    Z = b.Xa @ T.T  # (n, k)
    signed = np.where(b.y[:, None] > 0, Z, -Z)
    zc = np.sum(xa * T, axis=1)
    sc_signed = np.where(yc > 0, zc, -zc)
    loss = b.s @ np.logaddexp(0.0, -signed) + sc * np.logaddexp(0.0, -sc_signed)
    out: np.ndarray = b.C * loss + 0.5 * np.sum(T[:, :-1] ** 2, axis=1)
    return out


def _newton(
    Xa: np.ndarray,
    y: np.ndarray,
    s: np.ndarray,
    C: float,
    theta: np.ndarray,
    tol: float,
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Damped Newton on one problem; returns ``(θ, H(θ), converged)``."""
    r = _reg(Xa.shape[1])
    for it in range(max_iter + 1):
        p = expit(Xa @ theta)
        g = C * (Xa.T @ (s * (p - y))) + r * theta
        H = C * (Xa.T * (s * p * (1.0 - p))) @ Xa + np.diag(r)
        if np.max(np.abs(g)) <= tol or it == max_iter:
            break
        step = np.linalg.solve(H, g)
        f0 = _objective(Xa, y, s, C, theta)
        slope = float(g @ step)
        t = 1.0
        # near the optimum the decrease is below rounding: take the full step
        while slope > 1e-12 * max(1.0, abs(f0)) and t > 1e-10:
            cand = theta - t * step
            if _objective(Xa, y, s, C, cand) <= f0 - 1e-4 * t * slope:
                break
            t *= 0.5
        theta = theta - t * step
    return theta, H, bool(np.max(np.abs(g)) <= tol)


def _check(X: np.ndarray, y: np.ndarray, s: np.ndarray | None, name: str) -> np.ndarray:
    if X.ndim != 2:
        raise InvalidParameterError(f"{name} must be 2-D (n, d); got shape {X.shape}.")
    if y.shape != (X.shape[0],):
        raise InvalidParameterError(
            f"The labels of {name} must have shape ({X.shape[0]},); got {y.shape}."
        )
    if not np.isin(y, (0, 1)).all():
        raise InvalidParameterError(
            f"The labels of {name} must be 0 or 1 (binary logistic regression); got "
            f"values {np.unique(y)[:5].tolist()}."
        )
    w = np.ones(X.shape[0]) if s is None else np.asarray(s, dtype=np.float64)
    if w.shape != (X.shape[0],) or (w < 0).any():
        raise InvalidParameterError(
            f"The sample weights of {name} must be {X.shape[0]} non-negative numbers; "
            f"got shape {w.shape}."
        )
    return w


def fit_logistic(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    *,
    C: float = 1.0,
    tol: float = 1e-8,
    max_iter: int = 100,
) -> np.ndarray:
    """The L2 logistic regression ``θ = (w, b)`` of ``(X, y)``, shape ``(d + 1,)``.

    Args:
        X: Inputs ``(n, d)``.
        y: Labels in {0, 1}, ``(n,)``.
        sample_weight: ``(n,)`` or ``None`` (ones).
        C: Inverse regularisation strength, as scikit-learn's.
        tol: Stop when the gradient's largest entry is at most this.
        max_iter: Newton steps at most.

    Examples:
        >>> X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
        >>> theta = fit_logistic(X, np.array([0, 0, 1, 1]))
        >>> bool(theta[0] > 0), abs(float(theta[1])) < 1e-9
        (True, True)
    """
    X = np.asarray(X, dtype=np.float64)
    yy = np.asarray(y, dtype=np.float64)
    s = _check(X, yy, sample_weight, "X")
    Xa = _augment(X)
    theta, _, ok = _newton(Xa, yy, s, float(C), np.zeros(Xa.shape[1]), tol, max_iter)
    if not ok:
        raise InvalidParameterError(
            f"Newton's method did not reach a gradient of {tol} in {max_iter} steps; "
            "raise max_iter or tol."
        )
    return theta


def fit_logistic_plus_one(
    X: np.ndarray,
    y: np.ndarray,
    X_new: np.ndarray,
    y_new: np.ndarray,
    sample_weight: np.ndarray | None = None,
    new_weight: np.ndarray | None = None,
    *,
    C: float = 1.0,
    tol: float = 1e-8,
    max_iter: int = 60,
    n_chord: int = 20,
    chunk: int = 1024,
) -> tuple[np.ndarray, np.ndarray]:
    """Fits on ``(X, y)`` alone and on ``(X, y)`` plus each row of ``X_new``.

    Solves ``m + 1`` L2 logistic regressions: the base set, then the base set
    with the point ``(X_new[c], y_new[c])`` added, for every ``c``.

    Args:
        X: Base inputs ``(n, d)``; both classes should be present.
        y: Base labels in {0, 1}, ``(n,)``.
        X_new: Added points ``(m, d)``, one problem each.
        y_new: Their labels ``(m,)``.
        sample_weight: Base weights ``(n,)`` or ``None``.
        new_weight: Weights of the added points ``(m,)`` or ``None``.
        C: Inverse regularisation strength.
        tol: Gradient tolerance of every problem.
        max_iter: Iterations (chord, then batched Newton) before a problem is
            finished by damped Newton on its own.
        n_chord: Chord iterations before the batched Newton steps.
        chunk: Problems advanced together (memory ``O(chunk (n + d))``).

    Returns:
        ``(θ_base (d + 1,), Θ (m, d + 1))``: weights then intercept.

    Raises:
        ConvergenceError: A problem is not solved to ``tol`` (or its Newton
            system is singular), e.g. on features of very different scales.
    """
    X = np.asarray(X, dtype=np.float64)
    yy = np.asarray(y, dtype=np.float64)
    s = _check(X, yy, sample_weight, "X")
    Xn = np.asarray(X_new, dtype=np.float64)
    yn = np.asarray(y_new, dtype=np.float64)
    sn = _check(Xn, yn, new_weight, "X_new")
    if Xn.shape[1] != X.shape[1]:
        raise InvalidParameterError(
            f"X_new has {Xn.shape[1]} features; X has {X.shape[1]}."
        )
    try:
        return _plus_one(X, yy, s, Xn, yn, sn, float(C), tol, max_iter, n_chord, chunk)
    except np.linalg.LinAlgError as exc:  # a singular Newton system
        raise ConvergenceError(
            f"Newton's method failed ({exc}).{_SCALE_HINT}"
        ) from None


def _plus_one(
    X: np.ndarray,
    yy: np.ndarray,
    s: np.ndarray,
    Xn: np.ndarray,
    yn: np.ndarray,
    sn: np.ndarray,
    C: float,
    tol: float,
    max_iter: int,
    n_chord: int,
    chunk: int,
) -> tuple[np.ndarray, np.ndarray]:
    """`fit_logistic_plus_one` on checked float64 inputs."""
    Xa = _augment(X)
    theta0, H0, ok = _newton(Xa, yy, s, C, np.zeros(Xa.shape[1]), tol, 100)
    if not ok:
        raise ConvergenceError(
            f"Newton's method did not fit the base set to a gradient of {tol}."
            f"{_SCALE_HINT}"
        )
    H0inv = np.linalg.inv(H0)
    H0inv = 0.5 * (H0inv + H0inv.T)
    out = np.empty((Xn.shape[0], Xa.shape[1]))
    for start in range(0, Xn.shape[0], chunk):
        stop = min(start + chunk, Xn.shape[0])
        base = _Base(Xa, yy, s, C, theta0, H0inv)
        out[start:stop] = _solve_chunk(
            base, _augment(Xn[start:stop]), yn[start:stop], sn[start:stop],
            tol=tol, max_iter=max_iter, n_chord=n_chord,
        )  # fmt: skip
    return theta0, out


class _Base(NamedTuple):
    Xa: np.ndarray  # (n, d1) augmented base inputs
    y: np.ndarray
    s: np.ndarray
    C: float
    theta0: np.ndarray  # the base fit
    H0inv: np.ndarray  # inverse Hessian at theta0


def _gradients(
    b: _Base, xa: np.ndarray, yc: np.ndarray, sc: np.ndarray, T: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(k, d1)`` of ``k`` problems at ``T``, with ``σ`` of base and new."""
    P = expit(b.Xa @ T.T)  # (n, k)
    G = b.C * (b.Xa.T @ (b.s[:, None] * (P - b.y[:, None]))).T
    G += _reg(T.shape[1]) * T
    pn = expit(np.sum(xa * T, axis=1))
    G += (b.C * sc * (pn - yc))[:, None] * xa
    return G, P, pn


def _newton_steps(
    b: _Base,
    xa: np.ndarray,
    sc: np.ndarray,
    G: np.ndarray,
    P: np.ndarray,
    pn: np.ndarray,
) -> np.ndarray:
    """Newton directions ``H_c⁻¹ g_c`` with each problem's own Hessian."""
    d1 = xa.shape[1]
    Wt = (b.s[:, None] * P * (1.0 - P)).T  # (k, n)
    H = b.C * np.matmul((Wt[:, :, None] * b.Xa[None]).transpose(0, 2, 1), b.Xa)
    H += (b.C * sc * pn * (1.0 - pn))[:, None, None] * (xa[:, :, None] * xa[:, None, :])
    H[:, np.arange(d1), np.arange(d1)] += _reg(d1)
    out: np.ndarray = np.linalg.solve(H, G[:, :, None])[:, :, 0]
    return out


def _solve_chunk(
    b: _Base,
    xa: np.ndarray,
    yc: np.ndarray,
    sc: np.ndarray,
    *,
    tol: float,
    max_iter: int,
    n_chord: int,
) -> np.ndarray:
    """Fits of "base + row c" for the rows of ``xa`` ``(k, d1)``: ``(k, d1)``."""
    p0 = expit(xa @ b.theta0)
    a = b.C * sc * p0 * (1.0 - p0)  # the rank-one Hessian change at theta0
    U = xa @ b.H0inv  # rows H0⁻¹ x̃_c
    denom = 1.0 + a * np.sum(xa * U, axis=1)
    T = np.tile(b.theta0, (xa.shape[0], 1))
    active = np.arange(xa.shape[0])
    for it in range(max_iter):
        G, P, pn = _gradients(b, xa[active], yc[active], sc[active], T[active])
        done = np.max(np.abs(G), axis=1) <= tol
        if done.all():
            return T
        active, G = active[~done], G[~done]
        if it < n_chord:  # chord: H0 + rank one, by Sherman-Morrison
            V = G @ b.H0inv
            V -= (a[active] * np.sum(xa[active] * V, axis=1) / denom[active])[
                :, None
            ] * U[active]
        else:  # the slow ones: their own Hessians
            V = _newton_steps(b, xa[active], sc[active], G, P[:, ~done], pn[~done])
        # both directions descend (positive-definite matrices): backtrack each
        # problem until its objective falls enough (Armijo)
        Ta = T[active]
        f0 = _objectives(b, xa[active], yc[active], sc[active], Ta)
        slope = np.sum(G * V, axis=1)
        step = np.ones(active.size)
        trial = np.arange(active.size)
        for _halving in range(40):
            cand = Ta[trial] - step[trial, None] * V[trial]
            idx = active[trial]
            f1 = _objectives(b, xa[idx], yc[idx], sc[idx], cand)
            ok = (f1 <= f0[trial] - 1e-4 * step[trial] * slope[trial]) | (
                slope[trial] <= 1e-12 * np.maximum(1.0, np.abs(f0[trial]))
            )
            T[idx[ok]] = cand[ok]
            trial = trial[~ok]
            if trial.size == 0:
                break
            step[trial] *= 0.5
    for k in active:  # not settled in max_iter steps: damped Newton alone
        T[k], _, ok = _newton(
            np.vstack([b.Xa, xa[k]]), np.append(b.y, yc[k]), np.append(b.s, sc[k]),
            b.C, b.theta0, tol, 100,
        )  # fmt: skip
        if not ok:
            raise ConvergenceError(
                f"Newton's method did not fit a problem to a gradient of {tol}."
                f"{_SCALE_HINT}"
            )
    return T


_SCALE_HINT = (
    " Features on very different scales (or huge values) cause this; "
    "standardise them (e.g. scikit-learn's StandardScaler)."
)


__all__ = ["fit_logistic", "fit_logistic_plus_one"]
