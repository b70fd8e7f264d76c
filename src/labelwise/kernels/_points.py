"""Point sets with cheap incremental squared distances (private).

Both classes store their data transposed (features x points, column-major for the
points) because torch's CPU BLAS runs ``X.T @ v`` on a ``(d, n)`` contiguous array
several times faster than ``X @ v`` on a row-major ``(n, d)`` array. No
``n x n`` matrix is ever formed. Everything stays on the device of the input.
"""

from __future__ import annotations

import torch

_CHUNK = 8192


def _sq_norms(x: torch.Tensor) -> torch.Tensor:
    """Squared row norms without an ``x``-sized temporary."""
    out = torch.empty(x.shape[0], dtype=x.dtype, device=x.device)
    for s in range(0, x.shape[0], _CHUNK):
        out[s : s + _CHUNK] = torch.linalg.vector_norm(x[s : s + _CHUNK], dim=1) ** 2
    return out


class DensePoints:
    """Rows ``x_i`` of a ``(n, d)`` matrix; ``||x_i - x_j||^2`` by the norms trick."""

    def __init__(self, x: torch.Tensor):
        self.n = int(x.shape[0])
        self.xt = x.t().contiguous()
        self.sq = _sq_norms(x)

    @classmethod
    def stacked(cls, *parts: torch.Tensor) -> DensePoints:
        """The rows of several ``(n_i, d)`` matrices, without concatenating them."""
        out = cls.__new__(cls)
        out.n = sum(int(p.shape[0]) for p in parts)
        out.xt = torch.empty(
            parts[0].shape[1], out.n, dtype=parts[0].dtype, device=parts[0].device
        )
        s = 0
        for p in parts:
            out.xt[:, s : s + p.shape[0]] = p.t()
            s += p.shape[0]
        out.sq = torch.cat([_sq_norms(p) for p in parts])
        return out

    def sqdist_to(self, i: int | torch.Tensor) -> torch.Tensor:
        """Squared distances of all points to point ``i``, shape ``(n,)``.

        ``i`` is an int or a 0-d index tensor on the points' device.
        """
        dots = torch.mv(self.xt.t(), self.xt[:, i].contiguous())
        out = dots.mul_(-2.0).add_(self.sq).add_(self.sq[i])
        return out.clamp_min_(0.0)

    def sq_norms(self) -> torch.Tensor:
        """Squared norms, shape ``(n,)``."""
        return self.sq

    def sqdist_block(
        self, idx: torch.Tensor, rows: slice = slice(None)
    ) -> torch.Tensor:
        """Squared distances of points ``rows`` to the points ``idx``, ``(r, m)``."""
        dots = self.xt[:, rows].t() @ self.xt[:, idx]
        out = dots.mul_(-2.0).add_(self.sq[rows, None]).add_(self.sq[idx][None, :])
        return out.clamp_min_(0.0)


class KroneckerPoints:
    """Points ``g_i = a_i ⊗ h_i`` given only ``a`` ``(n, k)`` and ``h`` ``(n, d)``.

    ``||g_i - g_j||^2 = |a_i|^2 |h_i|^2 + |a_j|^2 |h_j|^2 - 2 (a_i·a_j)(h_i·h_j)``,
    so the ``(n, k*d)`` matrix of the ``g_i`` (BADGE's gradient embedding) is never
    built: each distance pass reads ``n * (k + d)`` numbers instead of ``n * k * d``.
    """

    def __init__(self, a: torch.Tensor, h: torch.Tensor):
        self.n = int(a.shape[0])
        self.at = a.t().contiguous()
        self.ht = h.t().contiguous()
        self.sq = _sq_norms(a) * _sq_norms(h)

    def sqdist_to(self, i: int | torch.Tensor) -> torch.Tensor:
        """Squared distances of all points to point ``i``, shape ``(n,)``.

        ``i`` is an int or a 0-d index tensor on the points' device.
        """
        da = torch.mv(self.at.t(), self.at[:, i].contiguous())
        dh = torch.mv(self.ht.t(), self.ht[:, i].contiguous())
        out = da.mul_(dh).mul_(-2.0).add_(self.sq).add_(self.sq[i])
        return out.clamp_min_(0.0)

    def sq_norms(self) -> torch.Tensor:
        """Squared norms ``|a_i|^2 |h_i|^2``, shape ``(n,)``."""
        return self.sq


def min_sqdist_to_set(
    x: torch.Tensor, centers: torch.Tensor, chunk_size: int = 2048
) -> torch.Tensor:
    """Squared distance of each row of ``x`` to its nearest row of ``centers``.

    Chunked over both ``x`` and ``centers`` so memory stays
    ``O(chunk_size * chunk_size)``.
    """
    n = x.shape[0]
    out = torch.full((n,), float("inf"), dtype=x.dtype, device=x.device)
    c_sq = _sq_norms(centers)
    for s in range(0, n, chunk_size):
        blk = x[s : s + chunk_size]
        b_sq = _sq_norms(blk)[:, None]
        best = out[s : s + chunk_size]
        for t in range(0, centers.shape[0], chunk_size):
            c = centers[t : t + chunk_size]
            d2 = torch.addmm(c_sq[None, t : t + chunk_size], blk, c.t(), alpha=-2.0)
            d2.add_(b_sq)
            torch.minimum(best, d2.min(1).values, out=best)
    return out.clamp_min_(0.0)
