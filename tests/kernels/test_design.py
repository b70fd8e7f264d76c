from typing import Any

import numpy as np
import pytest
import torch

from labelwise import InvalidParameterError
from labelwise.kernels import greedy_a_optimal, kron_gram
from labelwise.kernels._design import kron_quadratic_blocks
from labelwise.strategies.design import fisher_factors


def _objective(v_list, m0, f, subset):
    m = m0 + sum(v_list[i].T @ v_list[i] for i in subset)
    return np.trace(np.linalg.solve(m, f))


def slow_forward_backward(left, right, n_select, f, m0, n_forward):
    """Brute force: every step recomputes the trace for every candidate."""
    v = [np.kron(left[i], right[i][None, :]) for i in range(len(left))]
    chosen: list[int] = []
    for _ in range(n_forward):
        cands = [i for i in range(len(v)) if i not in chosen]
        chosen.append(min(cands, key=lambda i: _objective(v, m0, f, [*chosen, i])))
    while len(chosen) > n_select:
        drop = min(
            chosen, key=lambda i: _objective(v, m0, f, [c for c in chosen if c != i])
        )
        chosen.remove(drop)
    return chosen


def _score_everyone(pi, c, left, right, blocked, mm):
    """Reference for `_part_best`: the same update, then every candidate factorised."""
    from labelwise.kernels import _design

    if mm is not None:
        for s0 in range(0, pi.shape[0], _design._CPU_ROWS):
            sl = slice(s0, s0 + _design._CPU_ROWS)
            _design._update_block(pi[sl], c[sl], left[sl], right[sl], mm, 1.0)
    score = _design._trace_solve_block(c, pi).nan_to_num_(nan=-float("inf"))
    j = int(torch.argmax(score.add_(blocked)))
    return float(score[j]), j


def _problem(seed, n=30, k=3, d=4):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, k))
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    h = rng.normal(size=(n, d))
    left = fisher_factors(p)
    f = kron_gram(torch.tensor(left), torch.tensor(h)).numpy() / n
    return left, h, f


@pytest.mark.parametrize("seed", range(6))
def test_matches_brute_force(seed):
    left, h, f = _problem(seed)
    m0 = np.eye(f.shape[0]) * 0.3 + f
    fast, gains = greedy_a_optimal(left * 0.8, h, 4, fisher=f, precision=m0)
    ref = slow_forward_backward(left * 0.8, h, 4, f, m0, 8)
    assert fast.tolist() == ref
    assert gains.shape == (8,) and (gains > 0).all()


def test_gains_are_trace_decreases():
    left, h, f = _problem(1)
    m0 = np.eye(f.shape[0])
    idx, gains = greedy_a_optimal(left, h, 5, fisher=f, precision=m0, n_forward=5)
    v = [np.kron(left[i], h[i][None, :]) for i in range(len(left))]
    before = [_objective(v, m0, f, idx[:t].tolist()) for t in range(6)]
    assert np.allclose(-np.diff(before), gains, rtol=1e-8)


def test_fisher_factor_identity():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(4), size=3)
    b = fisher_factors(p)
    for i in range(3):
        assert np.allclose(b[i].T @ b[i], np.diag(p[i]) - np.outer(p[i], p[i]))
    h = rng.normal(size=(3, 5))
    explicit = sum(
        np.kron(b[i], h[i][None]).T @ np.kron(b[i], h[i][None]) for i in range(3)
    )
    assert np.allclose(kron_gram(torch.tensor(b), torch.tensor(h)).numpy(), explicit)


def test_quadratic_blocks():
    rng = np.random.default_rng(2)
    k, d = 3, 4
    mat = rng.normal(size=(k * d, k * d))
    mat = mat + mat.T  # symmetric, as M⁻¹ and M⁻¹ F M⁻¹ are
    h = rng.normal(size=(5, d))
    q = kron_quadratic_blocks(torch.tensor(mat), torch.tensor(h), k).numpy()
    for n in range(5):
        e = np.kron(np.eye(k), h[n][:, None])  # (k d, k)
        assert np.allclose(q[n], e.T @ mat @ e)


def test_validation():
    left, h, f = _problem(0, n=6)
    with pytest.raises(InvalidParameterError, match="shape"):
        greedy_a_optimal(left[:, 0], h, 2, fisher=f, precision=np.eye(12))
    with pytest.raises(InvalidParameterError, match="positive definite"):
        greedy_a_optimal(left, h, 2, fisher=f, precision=-np.eye(12))
    with pytest.raises(InvalidParameterError, match=r"\(12, 12\)"):
        greedy_a_optimal(left, h, 2, fisher=f[:3, :3], precision=np.eye(12))
    with pytest.raises(InvalidParameterError, match="n_select"):
        greedy_a_optimal(left, h, 7, fisher=f, precision=np.eye(12))


@pytest.mark.parametrize("seed", range(4))
def test_rank_one_matches_brute_force_and_the_general_kernel(seed):
    from labelwise.kernels import greedy_a_optimal_rank_one

    rng = np.random.default_rng(seed)
    h = rng.normal(size=(25, 4))
    f = h.T @ h / 25
    m0 = np.eye(4) * 0.5 + h[:3].T @ h[:3] / 5
    fast, gains = greedy_a_optimal_rank_one(h * 0.7, 3, fisher=f, precision=m0)
    ones = np.ones((25, 1, 1))
    assert fast.tolist() == slow_forward_backward(ones, h * 0.7, 3, f, m0, 6)
    general, g2 = greedy_a_optimal(ones, h * 0.7, 3, fisher=f, precision=m0)
    assert fast.tolist() == general.tolist() and np.allclose(gains, g2)
    with pytest.raises(InvalidParameterError, match=r"shape \(d, d\)"):
        greedy_a_optimal_rank_one(h, 3, fisher=f[:2, :2], precision=m0)
    with pytest.raises(InvalidParameterError, match="n_select"):
        greedy_a_optimal_rank_one(h, 26, fisher=f, precision=m0)


def test_kron_gram_mirrors_its_upper_blocks_across_chunks():
    """kron_gram computes the blocks a <= b only (in row chunks) and mirrors them;
    the result is the explicit sum for any left factors (r != k), past a chunk."""
    rng = np.random.default_rng(7)
    n, r, k, d = 30_000, 2, 3, 4  # more rows than one 4 MB chunk holds
    left, h = rng.normal(size=(n, r, k)), rng.normal(size=(n, d))
    kk = np.einsum("nca,ncb->nab", left, left)
    want = np.einsum("nab,ni,nj->aibj", kk, h, h).reshape(k * d, k * d)
    got = kron_gram(torch.tensor(left), torch.tensor(h)).numpy()
    assert np.allclose(got, want, rtol=1e-10, atol=1e-8)
    # the lower blocks are the upper ones transposed, bit for bit
    assert np.array_equal(got[d : 2 * d, :d], got[:d, d : 2 * d].T)
    assert np.array_equal(got[2 * d :, d : 2 * d], got[d : 2 * d, 2 * d :].T)


@pytest.mark.parametrize("d", [1, 3, 5, 9])
def test_kron_gram_sub_blocks_for_any_number_of_features(d):
    # each d x d block is assembled from the sub-blocks on and above its
    # diagonal (`_GRAM_PARTS` parts of the features, some empty when d is small)
    rng = np.random.default_rng(d)
    n, r, k = 5_000, 3, 3
    left, h = rng.normal(size=(n, r, k)), rng.normal(size=(n, d))
    kk = np.einsum("nca,ncb->nab", left, left)
    want = np.einsum("nab,ni,nj->aibj", kk, h, h).reshape(k * d, k * d)
    got = kron_gram(torch.tensor(left), torch.tensor(h)).numpy()
    assert np.allclose(got, want, rtol=1e-10, atol=1e-8)


def _scaled_problem(seed, n, k, d, temperature, h_scale, lam):
    """`_first_round_problem` with float32 embeddings, as tensors, and M = λI."""
    left, h, f = _first_round_problem(
        seed, n, k, d, temperature, h_scale, dtype=np.float32
    )
    eye = torch.eye(f.shape[0], dtype=torch.float64)
    return torch.tensor(left), torch.tensor(h), torch.tensor(f), lam * eye


def _count_refreshes():
    """Patches `_candidate_state`; the list gets the dtype of each call."""
    from unittest import mock

    from labelwise.kernels import _design

    calls = []
    real = _design._candidate_state

    def counted(state, left, right, parts, dtype=torch.float64, out=None):
        calls.append(dtype)
        return real(state, left, right, parts, dtype, out)

    return calls, mock.patch.object(_design, "_candidate_state", counted)


def test_float32_embeddings_pick_as_float64_ones():
    # float32 embeddings are projected in float32 (the state stays float64):
    # on a well-conditioned problem the picks and the (exact) gains are those
    # of the same embeddings in float64, and no refresh was needed
    left, h, f, m0 = _scaled_problem(
        3, n=900, k=6, d=12, temperature=1.0, h_scale=1.0, lam=1.0
    )
    calls, patch = _count_refreshes()
    with patch:
        low = greedy_a_optimal(left, h, 15, fisher=f, precision=m0)
    assert calls == [torch.float32]
    high = greedy_a_optimal(left, h.double(), 15, fisher=f, precision=m0)
    assert low[0].tolist() == high[0].tolist()
    assert np.allclose(low[1], high[1], rtol=1e-12, atol=0)


def test_float32_drift_is_caught_and_the_state_recomputed():
    # at large ‖h‖² / λ the float32 projection's rounding piles up in the
    # cancelling state; the pick-by-pick check against the exact gain catches
    # it and recomputes the state (in float32 while that lasts long enough),
    # and the forward picks and gains are those of the float64 selection
    from unittest import mock

    from labelwise.kernels import _design

    left, h, f, m0 = _scaled_problem(
        0, n=1200, k=8, d=16, temperature=5.0, h_scale=10.0, lam=0.01
    )
    high = greedy_a_optimal(left, h.double(), 60, fisher=f, precision=m0, n_forward=60)
    calls, patch = _count_refreshes()
    with patch:
        low = greedy_a_optimal(left, h, 60, fisher=f, precision=m0, n_forward=60)
    assert calls[:2] == [torch.float32, torch.float32]  # drifted, recomputed
    assert calls.count(torch.float32) <= 1 + _design._F32_REFRESHES
    assert low[0].tolist() == high[0].tolist()
    assert np.allclose(low[1], high[1], rtol=1e-9, atol=0)
    # no float32 recomputation allowed: float64 after the first drift
    calls, patch = _count_refreshes()
    with patch, mock.patch.object(_design, "_F32_REFRESHES", 0):
        low = greedy_a_optimal(left, h, 60, fisher=f, precision=m0, n_forward=60)
    assert calls == [torch.float32, torch.float64]
    assert low[0].tolist() == high[0].tolist()
    # a drift within `_MIN_STRETCH` picks of the last computation (here the
    # first pick, every difference counting as drift): float64 at once
    calls, patch = _count_refreshes()
    with patch, mock.patch.object(_design, "_DRIFT", 0.0):
        low = greedy_a_optimal(left, h, 60, fisher=f, precision=m0, n_forward=60)
    assert calls == [torch.float32, torch.float64]
    assert low[0].tolist() == high[0].tolist()


def test_pending_steps_give_the_matrices_of_a_direct_inverse():
    # `_State` keeps up to `_DEFER` steps as low-rank terms: its prepared steps
    # and its matrices equal those of M⁻¹ and G recomputed from scratch
    from labelwise.kernels import _design

    left, h, f = _problem(4, n=20, k=3, d=4)
    m0 = np.eye(f.shape[0]) * 0.5 + f
    lt, ht = torch.tensor(left), torch.tensor(h)
    state = _design._State(torch.tensor(m0), torch.tensor(f), 3)
    added = [0, 3, 5, 7, 11, 12, 13, 17, 19, 2, 4]  # more than _DEFER
    for q in added:
        state.update(lt[q], ht[q], 1.0)
    state.update(lt[5], ht[5], -1.0)  # and a removal
    assert 0 < len(state._pending) < _design._DEFER
    kept = [q for q in added if q != 5]
    v = [np.kron(left[q], h[q][None, :]) for q in kept]
    minv = np.linalg.inv(m0 + sum(x.T @ x for x in v))
    g = minv @ f @ minv
    pending = state.prepare(lt[8], ht[8], 1.0)
    got_minv, got_g = state.matrices()
    assert np.allclose(got_minv.numpy(), minv, rtol=1e-9, atol=1e-12)
    assert np.allclose(got_g.numpy(), g, rtol=1e-9, atol=1e-12)
    flushed = state.prepare(lt[8], ht[8], 1.0)
    for a, b in zip(pending[:3], flushed[:3], strict=True):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-13)
    x = np.kron(left[8], h[8][None, :])
    exact_gain = np.trace(minv @ f) - np.trace(
        np.linalg.solve(m0 + sum(y.T @ y for y in [*v, x]), f)
    )
    assert np.isclose(flushed.gain, exact_gain, rtol=1e-9)


@pytest.mark.parametrize("seed", range(2))
def test_matches_brute_force_with_more_candidates_than_picks(seed):
    """A larger brute-force check of the incremental state (40 forward picks' worth
    of rank-k updates are replayed exactly by the objective)."""
    left, h, f = _problem(seed + 10, n=70, k=4, d=5)
    m0 = np.eye(f.shape[0]) * 0.5 + f
    fast, _ = greedy_a_optimal(left * 0.6, h, 7, fisher=f, precision=m0)
    assert fast.tolist() == slow_forward_backward(left * 0.6, h, 7, f, m0, 14)


def test_bounds_hold_for_psd_blocks_and_ignore_the_antisymmetric_part():
    # lo <= tr(C (I + P)⁻¹) <= hi for P, C ⪰ 0, whatever antisymmetric part the
    # stored C carries (the kernel keeps C only up to one)
    from labelwise.kernels import _design

    rng = np.random.default_rng(4)
    n, r = 400, 5
    scale = rng.choice([1e-3, 0.1, 1.0, 10.0], size=(n, 1, 1))
    p = rng.normal(size=(n, r, r)) * np.sqrt(scale)
    p = p @ p.transpose(0, 2, 1)
    p[:5] = 0.0  # P = 0: both bounds equal tr(C)
    cf = rng.normal(size=(n, r, 2))  # rank two: far from a multiple of I
    c = cf @ cf.transpose(0, 2, 1)
    skew = rng.normal(size=(n, r, r))
    pi = torch.tensor(p + np.eye(r))
    c_stored = torch.tensor(c + (skew - skew.transpose(0, 2, 1)))
    exact = np.trace(np.linalg.solve(p + np.eye(r), c), axis1=1, axis2=2)
    lo, hi = torch.empty(n, dtype=torch.float64), torch.empty(n, dtype=torch.float64)
    sums = torch.empty((4, n), dtype=torch.float64)
    _design._block_sums(pi, c_stored, sums)
    _design._bounds(sums, r, lo, hi)
    assert (lo.numpy() <= exact).all() and (exact <= hi.numpy()).all()
    assert np.allclose(lo[:5], exact[:5]) and np.allclose(hi[:5], exact[:5])
    score = _design._trace_solve_block(c_stored, pi).numpy()
    assert np.allclose(score, exact, rtol=1e-10)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_picks_and_gains_do_not_depend_on_the_number_of_threads(threads):
    # the CPU kernel shares fixed blocks among its threads: same picks and the
    # same gains to the last bit for any number of threads
    left, h, f = _problem(5, n=2600, k=3, d=6)
    m0 = np.eye(f.shape[0]) * 0.3 + f
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = greedy_a_optimal(left, h, 12, fisher=f, precision=m0)
        torch.set_num_threads(threads)
        many = greedy_a_optimal(left, h, 12, fisher=f, precision=m0)
        assert torch.get_num_threads() == threads  # restored after the kernel
    finally:
        torch.set_num_threads(before)
    assert one[0].tolist() == many[0].tolist()
    assert np.array_equal(one[1], many[1])


def test_bounded_scoring_picks_and_gains_as_scoring_everyone():
    # the pick and its gain must be exactly those of factorising every candidate
    from unittest import mock

    from labelwise.kernels import _design

    left, h, f = _problem(11, n=1700, k=4, d=3)
    m0 = np.eye(f.shape[0]) * 0.2 + f
    calls = []
    real = _design._trace_solve_block

    def counted(c, a):
        calls.append(c.shape[0])
        return real(c, a)

    with mock.patch.object(_design, "_trace_solve_block", counted):
        got = greedy_a_optimal(left, h, 20, fisher=f, precision=m0)
    with mock.patch.object(_design, "_part_best", _score_everyone):
        want = greedy_a_optimal(left, h, 20, fisher=f, precision=m0)
    assert got[0].tolist() == want[0].tolist()
    assert np.array_equal(got[1], want[1])
    assert sum(calls) < 0.5 * 40 * 1700  # the bounds rule most candidates out


def test_the_device_loop_picks_as_the_cpu_loop():
    # the loop a GPU runs (no worker threads: the candidates are one part, the
    # state updated as whole matrices) gives the CPU loop's picks and gains up
    # to rounding, and exactly those of factorising every candidate
    from contextlib import contextmanager
    from unittest import mock

    from labelwise.kernels import _design

    @contextmanager
    def no_parts(device):
        yield None

    left, h, f = _problem(7, n=900, k=3, d=5)
    m0 = np.eye(f.shape[0]) * 0.3 + f
    cpu = greedy_a_optimal(left, h, 15, fisher=f, precision=m0)
    with mock.patch.object(_design, "_cpu_parts", no_parts):
        dev = greedy_a_optimal(left, h, 15, fisher=f, precision=m0)
        with mock.patch.object(_design, "_part_best", _score_everyone):
            everyone = greedy_a_optimal(left, h, 15, fisher=f, precision=m0)
    assert cpu[0].tolist() == dev[0].tolist()
    assert np.allclose(cpu[1], dev[1], rtol=1e-10, atol=0)
    assert dev[0].tolist() == everyone[0].tolist()
    assert np.array_equal(dev[1], everyone[1])


@pytest.mark.parametrize("seed", [5, 20])
def test_float32_state_without_a_finite_score_goes_on_in_float64(seed):
    # three rank-3 picks cover all 9 dimensions at ‖h‖² / λ ~ 10⁸: rounding of
    # the float32 projections left the last candidate's I + P indefinite, and
    # the kernel refused the float32 embeddings ("no candidate has a finite
    # score") where it selects from the same values in float64
    rng = np.random.default_rng(seed)
    left = rng.normal(size=(4, 3, 3)) / np.sqrt(3)
    h = torch.tensor(rng.normal(size=(4, 3)) * 400, dtype=torch.float32)
    f = kron_gram(torch.tensor(left), h) / 4
    design = {"fisher": f, "precision": 1e-3 * np.eye(9)}
    low, low_gains = greedy_a_optimal(left, h, 4, **design)
    high, high_gains = greedy_a_optimal(left, h.double(), 4, **design)
    assert low[:3].tolist() == high[:3].tolist()  # the fourth is the one left
    assert np.allclose(low_gains[:3], high_gains[:3], rtol=1e-9, atol=0)


def _first_round_problem(seed, n, k, d, temperature, h_scale, dtype=np.float64):
    # BAIT's first round: confident softmax factors, large embeddings, no labels;
    # F from the embeddings as stored (``dtype``)
    from labelwise.strategies.design import reduced_fisher_factors

    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, k)) * temperature
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    h = (rng.normal(size=(n, d)) * h_scale).astype(dtype)
    left = reduced_fisher_factors(torch.tensor(p)).numpy()
    f = kron_gram(torch.tensor(left), torch.tensor(h)).numpy() / n
    return left, h, f


def test_large_embeddings_without_labels_pick_as_scoring_everyone():
    # at ‖h‖² / λ ~ 10⁶ the bounds once ruled out every candidate (an
    # antisymmetric part of the stored C had grown to 10⁹ tr C): IndexError
    from unittest import mock

    from labelwise.kernels import _design

    left, h, f = _first_round_problem(
        40, n=695, k=5, d=2, temperature=10.0, h_scale=100.0
    )
    m0 = 0.01 * np.eye(f.shape[0])
    got = greedy_a_optimal(left, h, 9, fisher=f, precision=m0)
    with mock.patch.object(_design, "_part_best", _score_everyone):
        want = greedy_a_optimal(left, h, 9, fisher=f, precision=m0)
    assert got[0].tolist() == want[0].tolist()
    assert np.array_equal(got[1], want[1])


@pytest.mark.parametrize(("seed", "n", "d", "n_select"), [(14, 9, 3, 3), (23, 8, 2, 2)])
def test_pruning_at_large_embeddings_keeps_the_brute_force_batch(seed, n, d, n_select):
    # at ‖h‖² / λ ~ 10⁹ the low-rank updates of G = M⁻¹ F M⁻¹ leave it an
    # error far above what is left of G where the picks are: pruning on the
    # updated G kept batches 10⁴-10⁷x worse than brute force's; it forms G anew
    left, h, f = _first_round_problem(
        seed, n=n, k=3, d=d, temperature=5.0, h_scale=100.0
    )
    m0 = 1e-4 * np.eye(f.shape[0])
    got, _ = greedy_a_optimal(left, h, n_select, fisher=f, precision=m0)
    ref = slow_forward_backward(left, h, n_select, f, m0, 2 * n_select)
    v = [np.kron(left[i], h[i][None, :]) for i in range(n)]
    assert _objective(v, m0, f, got.tolist()) <= 1.01 * _objective(v, m0, f, ref)


def test_overflowing_embeddings_are_refused_with_a_clear_error():
    left, h, f = _problem(1, n=40, k=3, d=4)
    m0 = np.eye(f.shape[0]) * 0.3 + f
    with pytest.raises(InvalidParameterError, match="no candidate has a finite score"):
        greedy_a_optimal(left, h * 1e160, 3, fisher=f, precision=m0)


@pytest.mark.parametrize(("scale", "lam"), [(1e6, 1.0), (1e11, 1.0), (1e13, 1e-3)])
def test_pruning_keeps_n_select_points_where_removals_are_undefined(scale, lam):
    # four orthogonal candidates, each the only information in its direction:
    # at ‖h‖² / λ >= 1e12 rounding leaves I - P of the picks indefinite (removal
    # undefined); pruning once removed a point twice (3 indices for n_select=2)
    # and the rank-one kernel divided by zero (1 - a = 0)
    from labelwise.kernels import greedy_a_optimal_rank_one

    h = np.eye(4) * scale
    design = {"fisher": np.eye(4), "precision": np.eye(4) * lam, "n_forward": 4}
    general, _ = greedy_a_optimal(np.ones((4, 1, 1)), h, 2, **design)
    rank_one, _ = greedy_a_optimal_rank_one(h, 2, **design)
    for idx in (general, rank_one):
        assert idx.shape == (2,) and np.unique(idx).size == 2
        assert ((idx >= 0) & (idx < 4)).all()


def test_pruning_removes_distinct_points_when_no_removal_is_defined():
    # every removal score undefined (NaN): pruning still removes
    # n_forward - n_select distinct points, whatever the platform's rounding
    from unittest import mock

    from labelwise.kernels import _design

    left, h, f = _problem(3, n=8)
    m0 = np.eye(f.shape[0]) + f
    state = _design._State(torch.tensor(m0), torch.tensor(f), 3)
    for q in range(8):
        state.update(torch.tensor(left[q]), torch.tensor(h[q]), 1.0)

    def undefined(c, a):
        return torch.full((c.shape[0],), float("nan"), dtype=c.dtype)

    with mock.patch.object(_design, "_trace_solve_block", undefined):
        kept = _design._prune(state, torch.tensor(left), torch.tensor(h), 3)
    assert kept.tolist() == [5, 6, 7]  # the first alive ones go, in order


def _precision_nodes():
    """The settings objects that have a per-backend ``fp32_precision``."""
    backends = torch.backends
    nodes = [backends, backends.cuda, backends.mkldnn, backends.cudnn]
    for name in ("cuda", "mkldnn", "cudnn"):
        nodes += [
            getattr(getattr(backends, name), s, None) for s in ("matmul", "conv", "rnn")
        ]
    return [n for n in nodes if hasattr(n, "fp32_precision")]


@pytest.fixture
def float32_precision_restored():
    """Every float32 precision setting as it was, legacy and per backend.

    Both APIs used together make ``torch.get_float32_matmul_precision()``
    raise, so nothing here reads it; the legacy setting goes back to its
    default ("highest") first, then the per-backend ones (the parents first).
    """
    nodes = _precision_nodes()
    before = [n.fp32_precision for n in nodes]
    yield
    torch.set_float32_matmul_precision("highest")
    for node, value in zip(nodes, before, strict=True):
        node.fp32_precision = value


@pytest.mark.usefixtures("float32_precision_restored")
def test_float32_products_in_lower_precision_project_in_float64():
    # with TF32 or bfloat16 allowed for float32 products the float32 path would
    # drift at once: the kernel projects float32 embeddings in float64 then
    from labelwise.kernels import _design

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert _design._float32_is_ieee(cpu) and _design._float32_is_ieee(cuda)
    torch.set_float32_matmul_precision("medium")  # bfloat16 on the CPU
    assert not _design._float32_is_ieee(cpu)
    assert not _design._float32_is_ieee(cuda)  # TF32
    left, h, f, m0 = _scaled_problem(
        3, n=300, k=4, d=6, temperature=1.0, h_scale=1.0, lam=1.0
    )
    calls, patch = _count_refreshes()
    with patch:
        greedy_a_optimal(left, h, 5, fisher=f, precision=m0)
    assert calls == [torch.float64]
    torch.set_float32_matmul_precision("highest")
    assert _design._float32_is_ieee(cpu) and _design._float32_is_ieee(cuda)
    if not _precision_nodes():  # PyTorch before the per-backend settings
        return
    backends: Any = torch.backends
    backends.cuda.matmul.fp32_precision = "tf32"  # the new API, CUDA only
    assert _design._float32_is_ieee(cpu) and not _design._float32_is_ieee(cuda)
    backends.mkldnn.matmul.fp32_precision = "bf16"
    assert not _design._float32_is_ieee(cpu)
    torch.set_float32_matmul_precision("high")  # and the legacy one: mixed
    backends.mkldnn.matmul.fp32_precision = "bf16"
    with pytest.raises(RuntimeError):  # PyTorch refuses to say
        torch.get_float32_matmul_precision()
    calls, patch = _count_refreshes()
    with patch:  # the kernel reads only the per-backend settings
        greedy_a_optimal(left, h, 5, fisher=f, precision=m0)
    assert calls == [torch.float64]
    for value in ("none", "ieee"):  # "none" follows the global setting
        backends.cuda.matmul.fp32_precision = backends.mkldnn.matmul.fp32_precision = (
            value
        )
        backends.fp32_precision = "tf32"
        assert _design._float32_is_ieee(cuda) == (value == "ieee")
        backends.fp32_precision = "ieee"
        assert _design._float32_is_ieee(cpu) and _design._float32_is_ieee(cuda)


def test_float32_products_in_bfloat16_before_the_per_backend_settings():
    # PyTorch before the per-backend settings: "medium" let oneDNN multiply
    # float32 in bfloat16 on CPUs that have it, and the kernel projected in
    # float32 there
    from types import SimpleNamespace
    from unittest import mock

    from labelwise.kernels import _design

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    for precision, ieee in (("highest", True), ("high", True), ("medium", False)):
        tf32 = precision != "highest"
        with (
            mock.patch.object(torch.backends.mkldnn, "matmul", SimpleNamespace()),
            mock.patch.object(
                torch.backends.cuda, "matmul", SimpleNamespace(allow_tf32=tf32)
            ),
            mock.patch.object(
                torch, "get_float32_matmul_precision", return_value=precision
            ),
        ):
            assert _design._float32_is_ieee(cpu) == ieee
            assert _design._float32_is_ieee(cuda) == (not tf32)
