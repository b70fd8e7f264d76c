"""Greedy A-optimal experimental design with Kronecker-factored candidates (BAIT).

Candidate ``x`` contributes the information ``V_xᵀ V_x`` with
``V_x = L_x ⊗ h_xᵀ`` (``L_x`` is ``r x k``, ``h_x`` has ``d`` entries, so ``V_x`` is
``r x (k d)``). Starting from a precision ``M``, the selection minimises
``tr(M_S⁻¹ F)`` greedily: forward steps add the candidate with the largest
decrease (Woodbury update with the trace rotation), then backward steps remove the
selected point whose removal increases the trace least.

Instead of evaluating ``V_x M⁻¹ F M⁻¹ V_xᵀ`` from scratch for every candidate at
every step (BAIT's reference code: four ``(N r x D) (D x D)`` products per step),
each candidate carries two ``r x r`` matrices, ``P_x = V_x M⁻¹ V_xᵀ`` and
``C_x = V_x M⁻¹ F M⁻¹ V_xᵀ``, updated after each pick from one ``(N x d)`` by
``(d x 2 k r)`` product. ``M⁻¹`` and ``G = M⁻¹ F M⁻¹`` are kept as ``D x D``
float64 matrices (`_State`), updated by low-rank terms eight steps at a time;
``G`` is formed from ``F`` (by row blocks) at the start and again before
backward pruning, which recomputes the picks' state exactly from ``M⁻¹`` and
``G`` (the incremental state drifts and pruning amplifies the drift). The
projection is taken in the precision of the embeddings: float32 ones are
projected in float32 (half the loop's largest product), and every pick's stored
score is checked against its exact gain from the float64 matrices; past a
relative difference of ``1e-5`` (rounding that piles up where the state
cancels, as gains fall or ``‖h‖² / λ`` is large), or if no candidate is left
with a finite score, the candidates' state is recomputed (in float32 up to
three times, then in float64 for the rest: `_forward`; in float64 from the
start where float32 products may run in TF32 or bfloat16). So picks are those
of the float64 computation except where two scores lie within about ``1e-5``
of each other, and the gains are exact. Everything runs on the device of the candidate
tensors; ``fisher`` and ``precision`` are moved there. Each pick updates every
candidate (in cache-sized chunks on the CPU, in a few large ones on a GPU) and
factorises only those whose score bounds (`_bounds`) leave them in the
running: a few dozen of 10 000 on the CPU benchmark, instead of a batched
Cholesky factorisation of every candidate (which dominated the GPU's time at
N = 10⁶); the loop reads a few numbers back to the host a pick to know which.
On the CPU it shares its work among worker threads of its own that run
PyTorch single-threaded (`_cpu_parts`); picks and gains are the same for any
number of threads.

References:
    Ash, J., Goel, S., Krishnamurthy, A., Kakade, S. Gone Fishing: Neural Active
    Learning with Fisher Embeddings (NeurIPS 2021).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np
import torch

from labelwise._typing import IndexArray
from labelwise.exceptions import InvalidParameterError
from labelwise.kernels._greedy import _check_n_select
from labelwise.kernels._inputs import check_finite_tensor

_DT = torch.float64


_BUDGET = 1 << 19  # float64 entries of a chunk's temporary on the CPU (4 MB)
_DEVICE_BUDGET = 1 << 25  # on a GPU (256 MB): few chunks, so few kernel launches


def _rows_per_chunk(width: int, device: torch.device) -> int:
    """Rows per chunk so that a ``(rows, width)`` float64 temporary fits the budget.

    Small chunks on the CPU (host memory is the constraint there); large ones on a
    GPU, where every chunk costs a handful of kernel launches per pick.
    """
    budget = _BUDGET if device.type == "cpu" else _DEVICE_BUDGET
    return max(1, budget // max(1, width))


def kron_quadratic_blocks(
    mat: torch.Tensor, right: torch.Tensor, k: int
) -> torch.Tensor:
    """``Q[n, a, b] = h_nᵀ mat[a-block, b-block] h_n`` for a symmetric ``(k d, k d)``.

    ``mat`` must be symmetric (``M⁻¹`` and ``M⁻¹ F M⁻¹`` are), so ``Q[n]`` is too:
    only the ``k (k + 1) / 2`` blocks with ``a <= b`` are computed (one
    ``(n x d) (d x k(k+1)d/2)`` product per chunk of rows) and mirrored.

    Args:
        mat: Symmetric matrix of shape ``(k*d, k*d)``.
        right: The ``h_n``, shape ``(n, d)``.
        k: Number of blocks.

    Returns:
        Tensor of shape ``(n, k, k)``, computed in chunks of rows.
    """
    return _quadratic_rows(_quadratic_operator(mat, k), right, k)


def _quadratic_operator(mat: torch.Tensor, k: int) -> torch.Tensor:
    """``m4[i, p, j] = mat[a_p d + i, b_p d + j]`` for the pairs ``a_p <= b_p``.

    Shape ``(d, P d)`` with ``P = k (k + 1) / 2``: one copy of half of ``mat``,
    made once and shared by every chunk of `_quadratic_rows`.
    """
    d = mat.shape[0] // k
    rows, cols = torch.triu_indices(k, k, device=mat.device)
    blocks = mat.reshape(k, d, k, d).permute(0, 2, 1, 3)[rows, cols]  # (P, d, d)
    return blocks.permute(1, 0, 2).reshape(d, int(rows.numel()) * d)


def _quadratic_rows(
    m4: torch.Tensor, right: torch.Tensor, k: int, buf: torch.Tensor | None = None
) -> torch.Tensor:
    """`kron_quadratic_blocks` of the rows ``right`` from `_quadratic_operator`.

    ``buf``: optional scratch of shape ``(rows, P d)`` for the chunks' products
    (a worker thread reuses one instead of allocating 4 MB per chunk, which
    grew each thread's malloc arena by tens of MB); its rows set the chunk size.
    """
    n, d = right.shape
    rows, cols = torch.triu_indices(k, k, device=m4.device)
    n_pairs = int(rows.numel())
    out = torch.empty((n, k, k), dtype=m4.dtype, device=m4.device)
    step = _rows_per_chunk(n_pairs * d, m4.device) if buf is None else buf.shape[0]
    for s in range(0, n, step):
        h = right[s : s + step].to(m4.dtype)
        if buf is None:
            y = (h @ m4).reshape(-1, n_pairs, d)
        else:
            y = torch.mm(h, m4, out=buf[: h.shape[0]]).view(-1, n_pairs, d)
        q = y.mul_(h[:, None, :]).sum(2)  # in place: no batched mat-vec
        out[s : s + step, rows, cols] = q
        out[s : s + step, cols, rows] = q
    return out


def _raw_tensor(x: Any, device: torch.device | None = None) -> torch.Tensor:
    """``x`` as a tensor (no copy for numpy or torch input), optionally moved."""
    t = x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    return t if device is None else t.to(device)


def kron_gram(left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """``sum_n V_nᵀ V_n`` for ``V_n = left_n ⊗ right_nᵀ``, shape ``(k d, k d)``.

    Block ``(a, b)`` is ``sum_n K_n[a, b] h_n h_nᵀ`` with ``K_n = left_nᵀ left_n``
    symmetric, so only the ``k (k + 1) / 2`` blocks with ``a <= b`` are computed
    and the others are their transposes; each block is itself symmetric, so of
    its ``s x s`` sub-blocks (``s = _GRAM_PARTS`` parts of the ``d`` features)
    only those on or above the diagonal are computed, ``(s + 1) / 2s`` of the
    work (measured 2x faster than whole blocks for ``s = 4``, ``d = 128``): per
    chunk of ``m`` rows and part ``i``, one ``(k(k+1)d/2s x m)`` by ``(m x (d -
    a_i))`` product, ``a_i`` the part's first feature. Cost ``O(n k² d²)``;
    memory the result plus a 4 MB chunk.

    Args:
        left: Shape ``(n, r, k)``.
        right: Shape ``(n, d)``.

    Returns:
        The ``(k*d, k*d)`` sum, in float64.
    """
    n, _, k = left.shape
    d = right.shape[1]
    rows, cols = torch.triu_indices(k, k, device=right.device)
    n_pairs = int(rows.numel())
    cuts = [d * i // _GRAM_PARTS for i in range(_GRAM_PARTS + 1)]
    parts = [(a, b) for a, b in itertools.pairwise(cuts) if b > a]
    # acc[i] = sum_n K_n[pair] h_n[part i] h_n[part i:]ᵀ, (P, d_i, d - a_i)
    acc = [
        torch.zeros((n_pairs * (b - a), d - a), dtype=_DT, device=right.device)
        for a, b in parts
    ]
    step = _rows_per_chunk(n_pairs * d, right.device)
    for s in range(0, n, step):
        lt = left[s : s + step].to(_DT)
        h = right[s : s + step].to(_DT)
        kk = (lt.transpose(1, 2) @ lt)[:, rows, cols]  # (m, P)
        for (a, b), out_i in zip(parts, acc, strict=True):
            z = (kk[:, :, None] * h[:, None, a:b]).reshape(-1, n_pairs * (b - a))
            out_i.addmm_(z.t(), h[:, a:])
    blocks = torch.empty((n_pairs, d, d), dtype=_DT, device=right.device)
    for (a, b), out_i in zip(parts, acc, strict=True):
        got = out_i.view(n_pairs, b - a, d - a)
        blocks[:, a:b, a:] = got
        blocks[:, b:, a:b] = got[:, :, b - a :].transpose(1, 2)
    out = torch.empty((k, d, k, d), dtype=_DT, device=right.device)
    out[cols, :, rows, :] = blocks.transpose(1, 2)
    out[rows, :, cols, :] = blocks
    return out.reshape(k * d, k * d)


_GRAM_PARTS = 4  # sub-blocks per side of each d x d block of `kron_gram`


# candidates per chunk on the CPU: the chunk's temporaries stay in cache
_CPU_ROWS = 768


def _candidate_rows(width: int, device: torch.device) -> int:
    """Candidates per chunk of `_update_candidates` and `_part_best`.

    On the CPU a fixed 768 (a chunk's projection, ``(768, k, 2r)``, and its ``r x
    2r`` blocks stay in the core's cache between the product that makes them and
    the updates that read them; measured 1.5-2x faster than 4 MB chunks, and 4-7 %
    faster than 512, which makes more Python calls); on a GPU `_rows_per_chunk`.
    """
    return _CPU_ROWS if device.type == "cpu" else _rows_per_chunk(width, device)


def _step_matrix(step: _Step, k: int, dtype: torch.dtype = _DT) -> torch.Tensor:
    """``[Û | 2 Ẑ]`` arranged ``(d, k 2r)`` for one projection of ``h``, in ``dtype``.

    ``Ẑ = Ŵ - σ Û T̂ / 2`` (`_Step`): the candidates' ``2 z`` comes out of the
    projection itself.
    """
    mats = torch.cat([step.ut, 2.0 * step.zt]).t()  # (D, 2r)
    m2 = mats.shape[1]
    d = mats.shape[0] // k
    return mats.reshape(k, d, m2).permute(1, 0, 2).reshape(d, k * m2).to(dtype)


def _update_block(
    pi: torch.Tensor,
    c: torch.Tensor,
    left: torch.Tensor,
    right: torch.Tensor,
    mm: torch.Tensor,
    sign: float,
) -> None:
    """One chunk of `_update_candidates` (all arguments are the chunk's rows).

    The chunk's ``r x r`` products are thousands of tiny matrices: on the CPU
    numpy's batched ``matmul`` runs them 1.8x faster than PyTorch's batched
    GEMM (which pays a per-matrix overhead; measured on 512 products of 9 x 9
    by 9 x 18), on the same memory.
    """
    k = left.shape[2]
    e = (right.to(mm.dtype) @ mm).view(-1, k, mm.shape[1] // k).to(_DT)
    if pi.device.type == "cpu":
        _small_updates_numpy(
            pi.numpy(), c.numpy(), left.to(_DT).numpy(), e.numpy(), sign
        )
        return
    r = left.shape[1]
    aw = torch.bmm(left.to(_DT), e)  # (m, r, 2r) = [a | 2z]
    del e
    a, z2 = aw[:, :, :r], aw[:, :, r:]
    pi.baddbmm_(a, a.transpose(1, 2), alpha=-sign)
    # C stays symmetric (C -= σ (a zᵀ + z aᵀ)): an antisymmetric part, harmless
    # in exact arithmetic, grew to 10⁹ tr C in float64 at large ‖h‖² / λ and
    # broke the bounds of `_bounds`
    az = torch.bmm(a, z2.transpose(1, 2))
    c.add_(az, alpha=-0.5 * sign).add_(az.transpose(1, 2), alpha=-0.5 * sign)


def _small_updates_numpy(
    pi: np.ndarray, c: np.ndarray, left: np.ndarray, e: np.ndarray, sign: float
) -> None:
    """`_update_block`'s small products with numpy, in place (CPU arrays).

    Same operations as the GPU branch, on contiguous operands (numpy's
    ``matmul`` is fastest on them): ``[a | 2z] = left e``, ``P -= σ a aᵀ``,
    ``C -= σ (a zᵀ + z aᵀ)``, kept symmetric.
    """
    r = left.shape[1]
    aw = np.matmul(left, e)  # (m, r, 2r) = [a | 2z]
    a = np.ascontiguousarray(aw[:, :, :r])
    aa = np.matmul(a, np.ascontiguousarray(a.transpose(0, 2, 1)))
    aa *= sign
    np.subtract(pi, aa, out=pi)
    az = np.matmul(a, np.ascontiguousarray(aw[:, :, r:].transpose(0, 2, 1)))
    az *= 0.5 * sign
    np.subtract(c, az, out=c)
    np.subtract(c, az.transpose(0, 2, 1), out=c)


def _update_candidates(
    pi: torch.Tensor,
    c: torch.Tensor,
    left: torch.Tensor,
    right: torch.Tensor,
    step: _Step,
) -> None:
    """Rank-``r`` update of every candidate's ``I + P`` and ``C``, in place.

    With ``a = V_x Û`` and ``z = V_x Ẑ`` (from `_State.update`; ``σ`` its
    sign; one ``(m x d) (d x 2 k r)`` product and one batched ``(r x k) (k x
    2r)`` product per chunk of ``m`` candidates): ``P -= σ a aᵀ`` and ``C -= σ
    (a zᵀ + z aᵀ)``, as ``M⁻¹`` and ``G`` in `_State.commit`. Chunks:
    `_candidate_rows`.
    """
    n, _, k = left.shape
    mm = _step_matrix(step, k)
    rows = _candidate_rows(mm.shape[1], pi.device)
    for s0 in range(0, n, rows):
        sl = slice(s0, s0 + rows)
        _update_block(pi[sl], c[sl], left[sl], right[sl], mm, step.sign)


def _sandwich(left: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """``left_x q_x left_xᵀ`` batched."""
    lt = left.to(_DT)
    return lt @ q.to(_DT) @ lt.transpose(1, 2)


class _Step(NamedTuple):
    """One rank-``r`` step of `_State`: adding (``sign = 1``) or removing a point.

    ``ut = Ûᵀ`` and ``zt = Ẑᵀ`` (``r x D``), ``t = T̂`` (``r x r``), in the
    notation of `_State.prepare`; ``gain = tr T̂``, the decrease of ``tr(M⁻¹ F)``
    (its increase for a removal).
    """

    ut: torch.Tensor
    zt: torch.Tensor
    t: torch.Tensor
    sign: float

    @property
    def gain(self) -> float:
        return float(self.t.diagonal().sum())


class _State:
    """``M⁻¹`` and ``G = M⁻¹ F M⁻¹``, both updated in place by low-rank terms.

    Keeping ``G`` (one more ``D x D`` matrix, built anyway to initialise the
    candidates) makes every step two passes over each matrix: ``M⁻¹ Vᵀ`` and
    ``G Vᵀ`` through the Kronecker structure of ``V`` (``O(D²)``), then a
    rank-``r`` update of ``M⁻¹`` and a rank-``2r`` update of ``G``. ``F`` (the
    caller's) is kept to form ``G`` anew before pruning (`matrices`): the
    updates leave ``G`` an absolute error near ``ε ‖G₀‖``, above all that is
    left of ``G`` in the directions the picks cover once ``‖h‖² / λ`` passes
    about ``10⁸``.
    """

    def __init__(
        self,
        precision: torch.Tensor,
        fisher: torch.Tensor,
        k: int,
        parts: _Parts | None = None,
    ):
        chol, info = torch.linalg.cholesky_ex(precision)
        if int(info) != 0:
            raise InvalidParameterError(
                "precision must be symmetric positive definite; its Cholesky "
                f"factorisation failed at pivot {int(info)}. Increase the prior "
                "(e.g. lambda)."
            )
        self.k = k
        self.minv = torch.cholesky_inverse(chol).contiguous()
        del chol
        self.fisher = fisher
        self.g = torch.empty_like(self.minv)
        self._pending: list[_Step] = []
        self._form_g(parts)

    def _form_g(self, parts: _Parts | None) -> None:
        """``G = M⁻¹ F M⁻¹`` from the stored ``M⁻¹`` and ``F``, by blocks of rows."""
        dim = self.minv.shape[0]

        def rows(b: slice) -> None:  # by blocks of rows: no D x D temporary
            self.g[b] = (self.minv[b] @ self.fisher) @ self.minv

        if parts is None:
            step = _rows_per_chunk(dim, self.minv.device)
            for s in range(0, dim, step):
                rows(slice(s, s + step))
        else:
            parts.run(rows, dim, _STATE_ROWS)

    def _v_times(
        self, mat: torch.Tensor, left: torch.Tensor, h: torch.Tensor
    ) -> torch.Tensor:
        """``V mat`` for ``V = left ⊗ hᵀ`` and ``mat`` with ``D`` rows: ``(r, cols)``.

        ``hᵀ`` times each of the ``k`` blocks of ``d`` rows, then ``left``: the
        orientation that streams ``mat``'s rows (the matrix-vector product the
        other way round ran 2x slower from memory).
        """
        return left @ torch.matmul(h, mat.view(self.k, h.shape[0], mat.shape[1]))

    def _sym_inner(
        self, mt: torch.Tensor, left: torch.Tensor, h: torch.Tensor
    ) -> torch.Tensor:
        """``V mat Vᵀ`` (``r x r``) from ``mt = V mat`` (``r x D``), symmetrised."""
        vm = self._v_times(mt.t(), left, h)
        return 0.5 * (vm + vm.t())

    def prepare(
        self,
        left: torch.Tensor,
        h: torch.Tensor,
        sign: float,
        parts: _Parts | None = None,
    ) -> _Step:
        """The step that adds (``sign=1``) or removes (``sign=-1``) ``VᵀV``.

        Woodbury: ``M⁻¹ ← M⁻¹ - U S Uᵀ`` with ``U = M⁻¹ Vᵀ`` and ``S = (sign I
        + V U)⁻¹ = σ R Rᵀ`` (``σ = ±1``, ``R = L⁻ᵀ`` from the Cholesky factor
        ``L`` of ``σ (sign I + V U)``), applied as ``M⁻¹ ← M⁻¹ - σ Û Ûᵀ`` with
        ``Û = U R``. With ``Ŵ = M⁻¹ F Û = G Vᵀ R`` and ``T̂ = Ûᵀ F Û = Rᵀ (V G
        Vᵀ) R``, ``G ← G - σ (Û Ẑᵀ + Ẑ Ûᵀ)`` for ``Ẑ = Ŵ - σ Û T̂ / 2``. Nothing
        is changed here (`commit` does): the forward loop first checks the
        candidate's stored score against the exact ``tr T̂``. With ``parts``
        (CPU) the worker threads share the passes by blocks of `_STATE_COLS`
        columns (the same numbers for any number of threads).
        """
        dim = self.minv.shape[0]

        def cols(b: slice) -> tuple[torch.Tensor, torch.Tensor]:
            return self._v_times(self.minv[:, b], left, h), self._v_times(
                self.g[:, b], left, h
            )

        blocks = _in_blocks(cols, dim, parts, _STATE_COLS)
        u = torch.cat([b[0] for b in blocks], 1)  # Uᵀ = V M⁻¹ (M⁻¹ symmetric)
        gv = torch.cat([b[1] for b in blocks], 1)  # V G
        if self._pending:  # the steps not yet applied to the stored matrices
            up, zp, sp, szp = self._pending_terms()
            vu = self._v_times(up.t(), left, h)  # V Û_sᵀ, (r, p r)
            vz = self._v_times(zp.t(), left, h)
            u = u.addmm_(vu, sp, alpha=-1.0)
            gv = gv.addmm_(vu, szp, alpha=-1.0).addmm_(vz, sp, alpha=-1.0)
        inner = self._sym_inner(u, left, h) + sign * torch.eye(
            left.shape[0], dtype=_DT, device=left.device
        )
        # σ = sign: I + P is positive definite, and P - I of a selected point
        # negative definite (its removal keeps M positive definite)
        chol = torch.linalg.cholesky_ex(inner.mul_(sign)).L  # no host sync on a GPU
        # Ûᵀ = L⁻¹ Uᵀ, Ŵᵀ = L⁻¹ (G Vᵀ)ᵀ; LAPACK returns them column-major, and
        # the BLAS runs the updates 2-3x faster on them row-major
        ut = torch.linalg.solve_triangular(chol, u, upper=False).contiguous()
        wt = torch.linalg.solve_triangular(chol, gv, upper=False)
        x = torch.linalg.solve_triangular(
            chol, self._sym_inner(gv, left, h), upper=False
        )
        t = torch.linalg.solve_triangular(chol, x.t().contiguous(), upper=False)
        t = 0.5 * (t + t.t())  # T̂ = L⁻¹ C L⁻ᵀ
        zt = torch.addmm(wt, t, ut, alpha=-0.5 * sign).contiguous()
        return _Step(ut, zt, t, sign)

    def commit(self, step: _Step, parts: _Parts | None = None) -> None:
        """Apply `prepare`'s step: ``M⁻¹ -= σ Û Ûᵀ``, ``G -= σ (Û Ẑᵀ + Ẑ Ûᵀ)``.

        The step is kept as a low-rank term (`prepare` corrects its products
        for the pending ones) and applied with `_DEFER` - 1 others in one
        rank-``_DEFER r`` update: a rank-``r`` update of a ``D x D`` matrix is
        bound by the memory it streams (measured 2.4x slower per rank than a
        rank-72 one).
        """
        self._pending.append(step)
        if len(self._pending) >= _DEFER:
            self._flush(parts)

    def _pending_terms(self) -> tuple[torch.Tensor, ...]:
        """Pending ``Ûᵀ``, ``Ẑᵀ`` (rows stacked) and their σ-scaled copies."""
        up = torch.cat([s.ut for s in self._pending])  # (p r, D)
        zp = torch.cat([s.zt for s in self._pending])
        if all(s.sign == 1.0 for s in self._pending):  # forward steps: no copy
            return up, zp, up, zp
        # scaled by Python floats: no host-to-device copy of the signs
        sp = torch.cat([s.ut * s.sign for s in self._pending])
        szp = torch.cat([s.zt * s.sign for s in self._pending])
        return up, zp, sp, szp

    def _flush(self, parts: _Parts | None = None) -> None:
        """Apply the pending steps to ``M⁻¹`` and ``G`` (by blocks of rows)."""
        if not self._pending:
            return
        up, zp, sp, szp = self._pending_terms()
        uz = torch.cat([sp, szp])  # G -= Σ σ (Û Ẑᵀ + Ẑ Ûᵀ)
        zu = torch.cat([zp, up])

        def rows(b: slice) -> None:
            self.minv[b].addmm_(sp[:, b].t(), up, alpha=-1.0)
            self.g[b].addmm_(uz[:, b].t(), zu, alpha=-1.0)

        _in_blocks(rows, self.minv.shape[0], parts, _STATE_ROWS)
        self._pending.clear()

    def matrices(
        self, parts: _Parts | None = None, exact: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``M⁻¹`` and ``G`` with every step applied.

        ``exact``: ``G`` formed anew from ``M⁻¹`` and ``F`` (``O(D³)``).
        """
        self._flush(parts)
        if exact:
            self._form_g(parts)
        return self.minv, self.g

    def update(
        self,
        left: torch.Tensor,
        h: torch.Tensor,
        sign: float,
        parts: _Parts | None = None,
    ) -> _Step:
        """`prepare` then `commit`; returns the step."""
        step = self.prepare(left, h, sign, parts)
        self.commit(step, parts)
        return step


def _in_blocks(fn: Any, n: int, parts: _Parts | None, size: int) -> list[Any]:
    """``fn(block)`` over ``range(n)``, rows or columns.

    Whole on a GPU (``parts`` is ``None``); in the workers' blocks of ``size``
    on the CPU. Returns the results in block order.
    """
    if parts is None:
        return [fn(slice(0, n))]
    out: list[Any] = parts.run(fn, n, size)
    return out


_STATE_ROWS = 64  # rows of M⁻¹ and G per block of the CPU updates (about 0.6 MB)
_DEFER = 8  # steps `_State.commit` keeps pending before it updates M⁻¹ and G
_STATE_COLS = 192  # columns of M⁻¹ and G per block of the CPU projections


def _trace_solve_block(c: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """``tr(C A⁻¹)`` batched for symmetric ``C`` and SPD ``A``; ``nan`` if not SPD.

    Uses ``A = L Lᵀ`` and ``tr(C A⁻¹) = tr(L⁻¹ C L⁻ᵀ)``: one batched Cholesky
    factorisation and two batched triangular solves (on a GPU these are batched
    library calls; a batched Cholesky solve with several right-hand sides can
    loop over the batch there).
    """
    chol, info = torch.linalg.cholesky_ex(a)
    x = torch.linalg.solve_triangular(chol, c, upper=False)
    y = torch.linalg.solve_triangular(chol, x.transpose(1, 2), upper=False)
    del x
    out: torch.Tensor = y.diagonal(dim1=1, dim2=2).sum(1)
    return out.masked_fill_(info != 0, float("nan"))


_EPS = float(torch.finfo(_DT).eps)
# the removal score of a selected point whose removal is undefined (``I - P`` not
# positive definite, from rounding at large ``‖h‖² / λ``): below every defined
# score but above the ``-inf`` of the points already removed, so that pruning
# still removes exactly ``n_forward - n_select`` distinct points
_UNDEFINED = -float(torch.finfo(_DT).max)


def _block_sums(pi: torch.Tensor, c: torch.Tensor, out: torch.Tensor) -> None:
    """``out[0..3] = tr C, <C, I + P>, ‖I + P‖_F², tr(I + P)`` of a chunk.

    ``pi`` holds ``I + P``; ``out`` has shape ``(4, m)``: the four numbers per
    candidate that `_bounds` needs, taken while the chunk is in cache (one
    operation each, written in place: no temporaries).
    """
    m = pi.shape[0]
    torch.sum(c.diagonal(dim1=1, dim2=2), 1, out=out[0])
    torch.linalg.vecdot(c.reshape(m, -1), pi.reshape(m, -1), out=out[1])
    torch.linalg.vecdot(pi.reshape(m, -1), pi.reshape(m, -1), out=out[2])
    torch.sum(pi.diagonal(dim1=1, dim2=2), 1, out=out[3])


def _bounds(sums: torch.Tensor, r: int, lo: torch.Tensor, hi: torch.Tensor) -> None:
    """Bounds ``lo <= tr(C (I + P)⁻¹) <= hi`` from `_block_sums`, in place.

    With the eigenvalues ``x`` of ``P ⪰ 0`` (``r x r``) in ``[0, ρ]``, ``ρ =
    ‖P‖_F``: on that interval the convex ``1 / (1 + x)`` lies below its chord,
    ``1 - x / (1 + ρ)``, and (Jensen, with the weights ``C ⪰ 0`` puts on ``P``'s
    eigenvectors) its ``C``-weighted mean is at least ``1 / (1 + tr(C P) /
    tr(C))``. So ``tr(C)² / (tr(C) + tr(C P)) <= tr(C (I + P)⁻¹) <= tr(C) -
    tr(C P) / (1 + ρ)``, with ``tr(C) + tr(C P) = <C, I + P>`` and ``‖P‖_F² =
    ‖I + P‖_F² - 2 tr(I + P) + r``. Both bounds are widened against rounding by
    ``1e-9 (|tr C| + |<C, I + P>|)`` plus ``64 ε (1 + ρ) |tr C|`` (a stored ``P``
    as large as ``ρ`` carries eigenvalues near ``-ε ρ``); the lower bound is
    ``-inf`` where ``tr C <= 0`` or ``<C, I + P> <= 0`` (a state that rounding
    made indefinite). Cost ``O(r²)`` a candidate, against the ``O(r³)`` of a
    factorisation.
    """
    trc, cpi, pp, tp = sums.unbind(0)
    rho = pp.sub(tp, alpha=2.0).add_(r).clamp_(min=0.0).sqrt_().add_(1.0)  # 1 + ρ
    slack = (trc.abs() + cpi.abs()).mul_(1e-9)
    slack.addcmul_(rho, trc.abs(), value=64 * _EPS)
    torch.sub(2.0 * trc, cpi, out=hi)  # tr(C) - tr(C P)
    hi.sub_(trc).div_(rho).add_(trc).add_(slack)
    torch.div(trc * trc, cpi, out=lo)
    lo.sub_(slack).masked_fill_((trc <= 0) | (cpi <= 0) | lo.isnan(), -math.inf)


_SCOUTS = 32  # candidates per part scored first, by the largest upper bound


def _part_best(
    pi: torch.Tensor,
    c: torch.Tensor,
    left: torch.Tensor,
    right: torch.Tensor,
    blocked: torch.Tensor,
    mm: torch.Tensor | None,
) -> tuple[float, int]:
    """Update a part of the candidates by the last pick, then find its best.

    ``mm``: the last pick's `_step_matrix` (``None`` before the first pick).
    Each chunk of `_candidate_rows` candidates is updated and summed while it
    is in cache (`_block_sums`, then `_bounds`). The `_SCOUTS` candidates of
    largest upper bound are scored exactly; the largest of their scores and of
    the lower bounds rules out every candidate whose upper bound is smaller,
    and the rest are factorised (60 of 10 000 a pick on the scale benchmark).
    Where the bounds contradict each other (``lo > hi``: a state rounding made
    indefinite, at extreme ``‖h‖² / λ``) or rule out everyone, every unblocked
    candidate of the part is scored. The result is the largest exact score
    ``tr(C (I + P)⁻¹)`` of the part and its position (ties: the smallest), the
    same as scoring every candidate while the state is numerically positive
    semidefinite; ``(-inf, -1)`` if no unblocked candidate has a finite score.
    On a GPU the few numbers this needs on the host (the threshold, the
    survivors' positions, the winner) are the loop's only synchronisations.
    """
    n, r, k = left.shape
    lo = torch.empty(n, dtype=_DT, device=pi.device)
    hi = torch.empty(n, dtype=_DT, device=pi.device)
    sums = torch.empty((4, n), dtype=_DT, device=pi.device)
    rows = _candidate_rows(2 * r * k, pi.device)
    for s0 in range(0, n, rows):
        sl = slice(s0, s0 + rows)
        if mm is not None:
            _update_block(pi[sl], c[sl], left[sl], right[sl], mm, 1.0)
        _block_sums(pi[sl], c[sl], sums[:, sl])
    _bounds(sums, r, lo, hi)
    hi.add_(blocked)
    lo.add_(blocked)
    scouts = torch.topk(hi, min(_SCOUTS, n)).indices
    first = _trace_solve_block(c[scouts], pi[scouts]).nan_to_num_(nan=-math.inf)
    best = float(torch.maximum(first.add_(blocked[scouts]).max(), lo.max()))
    keep = torch.nonzero(hi >= best).flatten() if best > -math.inf else None
    if keep is None or keep.numel() == 0 or bool((lo > hi).any()):
        keep = torch.nonzero(blocked == 0).flatten()
    if keep.numel() == 0:
        return -math.inf, -1
    score = _trace_solve_block(c[keep], pi[keep]).nan_to_num_(nan=-math.inf)
    i = int(torch.argmax(score.add_(blocked[keep])))
    if not math.isfinite(float(score[i])):
        return -math.inf, -1
    return float(score[i]), int(keep[i])


def _cpu_threads() -> int:
    return max(1, torch.get_num_threads())


class _Parts:
    """The kernel's CPU worker threads and how they share work.

    Work goes by a fixed grid of row blocks whatever the number of threads, and
    each worker takes a contiguous group of blocks: every block is computed by
    the same operations, and reductions add the blocks' terms in block order,
    so the picks and gains do not depend on the number of threads.
    """

    def __init__(self, pool: ThreadPoolExecutor | None, count: int):
        self.pool = pool
        self.count = count

    def groups(self, n: int, size: int) -> list[slice]:
        """Up to `count` nonempty slices of ``range(n)`` made of whole blocks."""
        n_blocks = -(-n // size)
        cuts = np.linspace(0, n_blocks, self.count + 1).astype(int) * size
        cuts = np.minimum(cuts, n)
        return [slice(int(a), int(b)) for a, b in itertools.pairwise(cuts) if b > a]

    def map(self, fn: Any, slices: list[slice]) -> list[Any]:
        """``fn(sl)`` for each slice, on the worker threads when there are some."""
        if self.pool is None or len(slices) < 2:
            return [fn(sl) for sl in slices]
        return list(self.pool.map(fn, slices))

    def run(self, fn: Any, n: int, size: int) -> list[Any]:
        """``fn(block)`` for the blocks of ``size`` rows of ``range(n)``, in order."""

        def group(sl: slice) -> list[Any]:
            return [
                fn(slice(s, min(s + size, sl.stop)))
                for s in range(sl.start, sl.stop, size)
            ]

        return [x for out in self.map(group, self.groups(n, size)) for x in out]


@contextmanager
def _cpu_parts(device: torch.device) -> Iterator[_Parts | None]:
    """How the kernel spreads its work: ``None`` on a GPU, else `_Parts`.

    On the CPU, one worker thread per torch thread, and the whole kernel runs
    PyTorch single-threaded in every thread (workers and caller; restored on
    exit). PyTorch's intra-op threads synchronise at every operation, and on a
    loaded two-core machine a peer thread that waits for its time slice made
    two threads 10-80x slower than one (a 1152 x 1152 Cholesky inverse took
    5.6 s instead of 0.07 s); here the threads meet a few times a pick.
    """
    if device.type != "cpu":
        yield None
        return
    threads = _cpu_threads()
    if threads < 2:
        yield _Parts(None, 1)
        return
    try:
        torch.set_num_threads(1)
        with ThreadPoolExecutor(
            threads,
            thread_name_prefix="bait",
            initializer=torch.set_num_threads,
            initargs=(1,),
        ) as pool:
            yield _Parts(pool, threads)
    finally:
        # a worker's set_num_threads(1) also set the default of new threads
        torch.set_num_threads(threads)


def _initial_blocks(
    mat: torch.Tensor,
    left: torch.Tensor,
    right: torch.Tensor,
    parts: _Parts | None,
    out: torch.Tensor,
    dtype: torch.dtype = _DT,
) -> None:
    """Every candidate's ``V_x mat V_xᵀ`` into ``out``, ``(n, r, r)``.

    The quadratic forms ``h_xᵀ mat[a, b] h_x`` are taken in ``dtype``, the
    sandwich by ``left`` in float64.
    """
    n, _, k = left.shape
    m4 = _quadratic_operator(mat, k).to(dtype)
    if parts is None:
        step = _rows_per_chunk(m4.shape[1], m4.device)
        for s0 in range(0, n, step):
            b = slice(s0, s0 + step)
            out[b] = _sandwich(left[b], _quadratic_rows(m4, right[b], k))
        return

    def group(sl: slice) -> None:
        buf = torch.empty(
            (_rows_per_chunk(m4.shape[1], m4.device), m4.shape[1]),
            dtype=dtype,
            device=m4.device,
        )
        for s0 in range(sl.start, sl.stop, _CPU_ROWS):
            b = slice(s0, min(s0 + _CPU_ROWS, sl.stop))
            out[b] = _sandwich(left[b], _quadratic_rows(m4, right[b], k, buf))

    parts.map(group, parts.groups(n, _CPU_ROWS))


def _candidate_state(
    state: _State,
    left: torch.Tensor,
    right: torch.Tensor,
    parts: _Parts | None,
    dtype: torch.dtype = _DT,
    out: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every candidate's ``I + P`` and ``C`` from ``M⁻¹`` and ``G``, float64.

    ``dtype``: the precision of the quadratic forms (`_initial_blocks`);
    ``out``: the two ``(n, r, r)`` buffers to fill (new ones if ``None``).
    """
    n, r, _ = left.shape
    pi, c = out or (
        torch.empty((n, r, r), dtype=_DT, device=left.device) for _ in range(2)
    )
    minv, g = state.matrices(parts)
    _initial_blocks(minv, left, right, parts, pi, dtype)
    pi.diagonal(dim1=1, dim2=2).add_(1.0)
    _initial_blocks(g, left, right, parts, c, dtype)
    return pi, c


# relative difference between a pick's stored score and its exact gain above
# which `_forward` recomputes the candidates' state (float32 projection)
_DRIFT = 1e-5
_F32_REFRESHES = 3  # recomputations in float32 before the rest runs in float64
_MIN_STRETCH = 8  # float32 picks between two recomputations, or float64


def _forward(
    state: _State,
    pi: torch.Tensor,
    c: torch.Tensor,
    left: torch.Tensor,
    right: torch.Tensor,
    n_forward: int,
    parts: _Parts | None,
    dtype: torch.dtype,
) -> tuple[list[int], list[float]]:
    """The forward greedy: bounded scoring (`_part_best`), picks and exact gains.

    On the CPU the candidates are split among the worker threads (``parts``);
    on a GPU (``parts`` is ``None``) they are one part, updated in a few large
    chunks. ``dtype`` is the projection's: with float32 (`_greedy_a_optimal`:
    embeddings stored in float32 or less, ``pi`` and ``c`` computed from
    float32 quadratic forms) the candidates are projected onto each step in
    float32, which halves the loop's largest product; their state stays
    float64. Then every pick's stored score is checked against its exact gain
    ``tr T̂`` (`_State.prepare`, from the float64 ``M⁻¹`` and ``G``): where
    they differ by more than
    `_DRIFT` (relative; float32 rounding piles up where the candidates' state
    cancels, as the gains fall or at large ``‖h‖² / λ``), or where no
    candidate has a finite score, every candidate's state is recomputed and the
    pick made again. The recomputation is in float32 (the drift starts from
    zero again) up to `_F32_REFRESHES` times while float32 lasted at least
    `_MIN_STRETCH` picks; after that in float64, and the rest of the selection
    runs in float64. (On the main job's BAIT query float32 drifted past `_DRIFT`
    after 25 picks and next after 176.) The gains returned are the exact ``tr
    T̂``.
    """
    k, n = left.shape[2], left.shape[0]
    blocked = torch.zeros(n, dtype=_DT, device=left.device)
    picks: list[int] = []
    gains: list[float] = []
    mm: torch.Tensor | None = None
    groups = [slice(0, n)] if parts is None else parts.groups(n, _CPU_ROWS)

    def part(sl: slice) -> tuple[float, int]:
        return _part_best(pi[sl], c[sl], left[sl], right[sl], blocked[sl], mm)

    low = dtype != _DT
    refreshes = since = 0  # float32 recomputations; picks before the last one
    while len(picks) < n_forward:
        found = [part(groups[0])] if parts is None else parts.map(part, groups)
        # the largest score; ties: the first group's (smallest index)
        p = max(range(len(groups)), key=lambda q: (found[q][0], -q))
        j = groups[p].start + found[p][1]
        step = None
        if found[p][1] >= 0:
            step = state.prepare(left[j].to(_DT), right[j].to(_DT), 1.0, parts)
        # float32 drift: the best score off its exact gain, or no finite score
        # left (the float32 state made every I + P indefinite)
        if low and (
            step is None or not abs(found[p][0] - step.gain) <= _DRIFT * abs(step.gain)
        ):
            # recomputed exactly, the state drifts from zero again: float32 goes on
            # unless it has been recomputed `_F32_REFRESHES` times or drifted within
            # `_MIN_STRETCH` picks of the last time
            refreshes += 1
            low = refreshes <= _F32_REFRESHES and len(picks) - since >= _MIN_STRETCH
            since, mm = len(picks), None
            dtype = torch.float32 if low else _DT
            _candidate_state(state, left, right, parts, dtype, (pi, c))
            continue
        if step is None:
            raise InvalidParameterError(
                f"greedy_a_optimal: no candidate has a finite score at forward step "
                f"{len(picks)} (the information matrices overflow float64 or are "
                "not positive definite). Scale the embeddings (right) to a moderate "
                "size, e.g. standardise them, or increase the prior precision."
            )
        picks.append(j)
        gains.append(step.gain)
        blocked[j] = -math.inf
        state.commit(step, parts)
        # the chunks of ``right`` are cast to its dtype (`_update_block`): no
        # whole copy of the embeddings, in float32 or float64
        mm = _step_matrix(step, k, dtype)
    return picks, gains


def greedy_a_optimal(
    left: Any,
    right: Any,
    n_select: int,
    *,
    fisher: Any,
    precision: Any,
    n_forward: int | None = None,
) -> tuple[IndexArray, np.ndarray]:
    """Greedy forward-backward A-optimal design (BAIT's selection).

    Minimises ``tr((precision + sum_{x in S} V_xᵀ V_x)⁻¹ fisher)`` over batches
    ``S`` of ``n_select`` candidates, with ``V_x = left_x ⊗ right_xᵀ``: forward
    greedy to ``n_forward`` picks (default ``2 * n_select``, BAIT's oversampling),
    then backward pruning to ``n_select``. Equal scores go to the smallest index
    (in pruning: the earliest forward pick is removed first); the scores of
    exactly duplicated candidates can differ in their last bits, since the BLAS
    rounds a row's products differently by its position, so either may be
    picked.
    Float32 embeddings are projected in float32 with a float64 check on every
    pick (the module's docstring): the picks equal those of the same embeddings
    in float64 except where two scores are within about ``1e-5`` (relative).

    Args:
        left: Candidate factors, shape ``(n, r, k)``.
        right: Candidate features, shape ``(n, d)``.
        n_select: Batch size, in ``[1, n]``.
        fisher: Target information ``F``, shape ``(k*d, k*d)``, symmetric PSD.
        precision: Starting precision ``M``, shape ``(k*d, k*d)``, symmetric PD.
        n_forward: Forward steps before pruning; clipped to ``[n_select, n]``.

    Returns:
        ``(indices, gains)``: the selected candidate indices in forward order,
        shape ``(n_select,)``, and the forward gain (trace decrease, computed
        from the float64 ``M⁻¹`` and ``F``) of each forward pick, shape
        ``(n_forward,)``.
    """
    lt = _raw_tensor(left)
    ht = _raw_tensor(right, lt.device)
    if lt.ndim != 3 or ht.ndim != 2 or lt.shape[0] != ht.shape[0]:
        raise InvalidParameterError(
            "greedy_a_optimal expects left of shape (n, r, k) and right of shape "
            f"(n, d) with the same n; got {tuple(lt.shape)} and {tuple(ht.shape)}."
        )
    n, _, k = lt.shape
    check_finite_tensor(lt, "left")
    check_finite_tensor(ht, "right")
    f, m0, n_fwd = _check_design(
        fisher, precision, k * ht.shape[1], "k*d", n, n_select, n_forward, lt.device
    )
    return _greedy_a_optimal(lt, ht, int(n_select), f, m0, n_fwd)


def _check_design(
    fisher: Any,
    precision: Any,
    dim: int,
    dim_name: str,
    n: int,
    n_select: Any,
    n_forward: int | None,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Validated float64 ``F``, ``M`` (``dim x dim``, on ``device``), step count."""
    f = _raw_tensor(fisher, device).to(_DT)
    m0 = _raw_tensor(precision, device).to(_DT)
    for name, mat in (("fisher", f), ("precision", m0)):
        if tuple(mat.shape) != (dim, dim):
            raise InvalidParameterError(
                f"{name} must have shape ({dim_name}, {dim_name}) = ({dim}, {dim}); "
                f"got {tuple(mat.shape)}."
            )
        if not torch.isfinite(mat).all():
            raise InvalidParameterError(f"{name} contains NaN or infinite values.")
    n_select = _check_n_select(n_select, n)
    n_fwd = 2 * n_select if n_forward is None else int(n_forward)
    return f, m0, min(max(n_fwd, n_select), n)


def _greedy_a_optimal(
    left: torch.Tensor,
    right: torch.Tensor,
    n_select: int,
    fisher: torch.Tensor,
    precision: torch.Tensor,
    n_forward: int,
) -> tuple[IndexArray, np.ndarray]:
    k = left.shape[2]
    dev = left.device
    with _cpu_parts(dev) as parts:
        state = _State(precision, fisher, k, parts)
        # embeddings stored in float32 or less: the candidates' quadratic forms
        # and projections in float32, checked pick by pick (`_forward`), unless
        # float32 products run in a lower precision (TF32, bfloat16) there
        low = right.dtype != _DT and _float32_is_ieee(dev)
        dtype = torch.float32 if low else _DT
        pi, c = _candidate_state(state, left, right, parts, dtype)
        picks, gains = _forward(state, pi, c, left, right, n_forward, parts, dtype)
        del pi, c
        chosen = torch.tensor(picks, dtype=torch.long, device=dev)
        if n_forward > n_select:
            chosen = chosen[_prune(state, left[chosen], right[chosen], n_select, parts)]
    return chosen.cpu().numpy(), np.asarray(gains, dtype=np.float64)


def _float32_is_ieee(device: torch.device) -> bool:
    """Whether PyTorch multiplies float32 matrices on ``device`` in IEEE float32.

    A user who allowed TF32 (CUDA: 10-bit mantissas) or bfloat16 (oneDNN on
    the CPU) products, e.g. with ``torch.set_float32_matmul_precision("high")``,
    may get float32 products far less exact than float32: past `_DRIFT` at the
    first pick, so the kernel projects in float64 from the start instead.
    """
    backends: Any = torch.backends
    matmul = backends.cuda.matmul if device.type == "cuda" else backends.mkldnn.matmul
    own = getattr(matmul, "fp32_precision", None)
    if own is None:  # PyTorch before the per-backend precision settings
        if device.type == "cuda":
            return not backends.cuda.matmul.allow_tf32
        # oneDNN multiplies float32 in bfloat16 at "medium" on CPUs with it
        return bool(torch.get_float32_matmul_precision() != "medium")
    if own == "none":  # the backend follows the global setting
        own = getattr(backends, "fp32_precision", "none")
    return own in ("ieee", "none")


def _prune(
    state: _State,
    left: torch.Tensor,
    right: torch.Tensor,
    n_select: int,
    parts: _Parts | None = None,
) -> torch.Tensor:
    """Backward steps: drop the picks whose removal raises ``tr(M⁻¹F)`` least.

    The selected points' ``P`` and ``C`` are recomputed exactly from ``M⁻¹``
    and ``G``, formed anew from ``F``, first. Returns the positions (in forward
    order) of the ``n_select`` kept.
    ``parts``: the CPU worker threads, which share the passes over ``M⁻¹``.
    """
    k, dev = left.shape[2], left.device
    minv, g = state.matrices(parts, exact=True)
    ps = _sandwich(left, kron_quadratic_blocks(minv, right, k))
    cs = _sandwich(left, kron_quadratic_blocks(g, right, k))
    eye = torch.eye(left.shape[1], dtype=_DT, device=dev)
    dead = torch.zeros(left.shape[0], dtype=_DT, device=dev)
    for _ in range(left.shape[0] - n_select):
        # removal raises tr(M⁻¹F) by tr(C (I - P)⁻¹) = -tr(C (P - I)⁻¹)
        score = _trace_solve_block(cs, eye - ps).neg_()
        score.nan_to_num_(nan=_UNDEFINED, posinf=-_UNDEFINED, neginf=_UNDEFINED)
        q = torch.argmax(score.add_(dead))
        dead[q] = -float("inf")
        step = state.update(left[q].to(_DT), right[q].to(_DT), -1.0, parts)
        _update_candidates(ps, cs, left, right, step)
    return torch.nonzero(dead == 0).flatten()


def greedy_a_optimal_rank_one(
    features: Any,
    n_select: int,
    *,
    fisher: Any,
    precision: Any,
    n_forward: int | None = None,
) -> tuple[IndexArray, np.ndarray]:
    """`greedy_a_optimal` for rank-one information ``φ_x φ_xᵀ`` (regression).

    BAIT's regression form (Ash et al. 2021, §5): minimise ``tr((M + Σ_S φφᵀ)⁻¹
    F)``. Each candidate keeps ``a_x = φᵀM⁻¹φ`` and ``b_x = φᵀM⁻¹FM⁻¹φ``; the
    forward gain is ``b_x / (1 + a_x)``, and after a Sherman–Morrison update
    ``M⁻¹ ← M⁻¹ - w wᵀ / c`` (``w = M⁻¹ φ_s``, ``c = 1 + a_s``, or ``a_s - 1`` for
    a removal) both are updated from two projections of all candidates:
    ``a ← a - (Φw)² / c`` and ``b ← b - 2 (Φw)(Φz) / c + (Φw)² wᵀFw / c²`` with
    ``z = M⁻¹Fw``. One step costs ``O(n d)``, not ``O(n d²)``. Float64 throughout
    (float32 drifts after about 70 picks), on the device of ``features``.

    Args:
        features: Candidate features ``φ_x``, shape ``(n, d)``.
        n_select: Batch size, in ``[1, n]``.
        fisher: ``F``, shape ``(d, d)``, symmetric PSD.
        precision: ``M``, shape ``(d, d)``, symmetric PD.
        n_forward: Forward steps before pruning (default ``2 * n_select``).

    Returns:
        ``(indices, gains)`` as `greedy_a_optimal`.
    """
    h = _raw_tensor(features).to(_DT)
    if h.ndim != 2:
        raise InvalidParameterError(
            f"features must have shape (n, d); got {tuple(h.shape)}."
        )
    n, d = h.shape
    check_finite_tensor(h, "features")
    f, m0, n_fwd = _check_design(
        fisher, precision, d, "d", n, n_select, n_forward, h.device
    )
    minv = torch.linalg.inv(m0)
    minv = (minv + minv.t()) / 2
    a = torch.empty(n, dtype=h.dtype, device=h.device)
    b = torch.empty(n, dtype=h.dtype, device=h.device)
    for s in range(0, n, 8192):  # row chunks: no n x d temporaries
        hc = h[s : s + 8192]
        hm = hc @ minv
        a[s : s + 8192] = (hm * hc).sum(1)
        b[s : s + 8192] = ((hm @ f) * hm).sum(1)
    del hm
    ht = h.t().contiguous()  # (d, n): one skinny GEMM projects every candidate

    def update(
        rows: torch.Tensor,
        a: torch.Tensor,
        b: torch.Tensor,
        phi: torch.Tensor,
        c: float,
    ) -> None:
        nonlocal minv
        w = minv @ phi
        fw = f @ w
        z = minv @ fw
        wfw = float(w @ fw)
        proj = torch.stack([w, z]) @ rows  # (2, n)
        pw, pz = proj[0], proj[1]
        a.sub_(pw * pw / c)
        b.add_(-2.0 * pw * pz / c + pw * pw * (wfw / c**2))
        minv = minv - torch.outer(w, w) / c

    blocked = torch.zeros(n, dtype=_DT, device=h.device)
    picks: list[int] = []
    gains = np.empty(n_fwd)
    for step in range(n_fwd):
        score = b / (1.0 + a) + blocked
        j = int(torch.argmax(score))
        gains[step] = float(score[j])
        picks.append(j)
        blocked[j] = -float("inf")
        update(ht, a, b, h[j].clone(), 1.0 + float(a[j]))
    if n_fwd > int(n_select):
        # pruning only needs the picked candidates' values
        sel = torch.as_tensor(picks, device=h.device)
        hs, as_, bs = ht[:, sel].contiguous(), a[sel].clone(), b[sel].clone()
        alive = torch.zeros(len(picks), dtype=_DT, device=h.device)
        for _ in range(n_fwd - int(n_select)):
            # removal raises tr(M⁻¹F) by b / (1 - a): the smallest rise goes;
            # a >= 1 (rounding) is `_UNDEFINED`, as in `_prune`
            rise = torch.where(as_ < 1.0, bs / (1.0 - as_), -_UNDEFINED)
            score = rise.neg_().nan_to_num_(nan=_UNDEFINED) + alive
            q = int(torch.argmax(score))
            alive[q] = -float("inf")
            if float(as_[q]) < 1.0:  # else no Sherman-Morrison downdate exists
                update(hs, as_, bs, hs[:, q].clone(), float(as_[q]) - 1.0)
        picks = [p for p, dead in zip(picks, alive.tolist(), strict=True) if dead == 0]
    return np.asarray(picks, dtype=np.int64), gains
