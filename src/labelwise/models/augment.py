"""Strong data augmentation for fine-tuning, written with torch tensor ops only.

`ImageAugment` is the RandAugment-style ``Augment(4)`` + Cutout of the LHD
code (``augment.py``): each image gets ``n_ops`` operations drawn with replacement
from `IMAGE_OPS`, each with a magnitude uniform in its range (rotations,
shears and translations flip sign with probability 1/2), then one square Cutout
hole. It works on batches ``(n, C, H, W)`` of standardised images: they are
mapped to ``[0, 1]`` with the pixel range given at construction, augmented, and
mapped back; Cutout writes zeros (the mean) on the standardised tensor, as in the
code. Pixel ops follow PIL's definitions (``ImageOps``/``ImageEnhance``);
geometric ops use nearest-neighbour sampling with black fill, as PIL's defaults,
but shear about the image centre rather than the top-left corner.

`TabularAugment` is what labelwise uses for feature vectors, where the
image ops mean nothing: Gaussian jitter plus random feature masking (the
tabular analogue of Cutout).

Every call takes a ``torch.Generator`` (a CPU one); the same generator state gives
the same augmentation. Batches may live on any device: the random draws are made
on the CPU generator and moved to the batch's device, so a seed draws the same
operations on the CPU and on a GPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from labelwise.exceptions import InvalidParameterError

Op = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# ------------------------------------------------------------------ pixel ops
def identity(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Return ``x`` unchanged."""
    return x


def autocontrast(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Stretch each image channel to span ``[0, 1]`` (constant channels unchanged)."""
    lo = x.amin(dim=(2, 3), keepdim=True)
    hi = x.amax(dim=(2, 3), keepdim=True)
    span = hi - lo
    out = (x - lo) / torch.where(span > 0, span, torch.ones_like(span))
    return torch.where(span > 0, out, x)


def equalize(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Histogram equalisation per image channel on 256 levels (PIL's lookup table).

    PIL: ``step = (n_pixels - count of the last non-empty level) // 255``; if
    ``step == 0`` the channel is unchanged, else level ``i`` maps to
    ``(cum_i + step // 2) // step`` where ``cum_i`` counts pixels below level ``i``.
    """
    n, c, h, w = x.shape
    q = (x * 255).round().clamp(0, 255).long().reshape(n * c, h * w)
    hist = torch.zeros(n * c, 256, dtype=torch.long, device=x.device)
    hist.scatter_add_(1, q, torch.ones_like(q))
    levels = torch.arange(256, device=x.device).expand(n * c, 256)
    last = torch.where(hist > 0, levels, torch.full_like(levels, -1)).amax(dim=1)
    last_count = hist.gather(1, last.clamp(min=0)[:, None])[:, 0]
    step = (h * w - last_count) // 255
    cum = torch.cumsum(hist, dim=1) - hist  # pixels strictly below each level
    safe = torch.where(step > 0, step, torch.ones_like(step))[:, None]
    lut = ((cum + torch.div(safe, 2, rounding_mode="floor")) // safe).clamp(max=255)
    mapped = lut.gather(1, q).float() / 255
    out = torch.where((step > 0)[:, None], mapped, q.float() / 255)
    return out.reshape(n, c, h, w)


def solarize(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Invert pixels at or above the threshold ``v`` (in 0..256 pixel levels)."""
    return torch.where(x * 255 >= v.reshape(-1, 1, 1, 1), 1 - x, x)


def posterize(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Keep the ``floor(v)`` most significant bits of each 8-bit pixel."""
    bits = v.floor().long().clamp(1, 8).reshape(-1, 1, 1, 1)
    q = (x * 255).round().clamp(0, 255).long()
    drop = 8 - bits
    kept = torch.div(q, 2**drop, rounding_mode="floor") * 2**drop
    return kept.float() / 255


def _blend(degenerate: torch.Tensor, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """PIL ``ImageEnhance``: ``degenerate + v (x - degenerate)``, clipped."""
    return (degenerate + v.reshape(-1, 1, 1, 1) * (x - degenerate)).clamp(0, 1)


def _gray(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] == 3:
        w = torch.tensor([0.299, 0.587, 0.114], device=x.device).reshape(1, 3, 1, 1)
        return (x * w).sum(1, keepdim=True).expand_as(x)
    return x.mean(1, keepdim=True).expand_as(x)


def color(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Saturation: blend with the greyscale image (no effect on one channel)."""
    return _blend(_gray(x), x, v)


def contrast(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Blend with the mean grey level of each image."""
    mean = _gray(x).mean(dim=(1, 2, 3), keepdim=True)
    return _blend(mean.expand_as(x), x, v)


def brightness(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Blend with a black image."""
    return _blend(torch.zeros_like(x), x, v)


def sharpness(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Blend with PIL's SMOOTH-filtered image (border pixels kept)."""
    k = torch.tensor(
        [[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]], device=x.device
    )
    k = k / 13
    c = x.shape[1]
    smooth = F.conv2d(x, k.expand(c, 1, 3, 3), groups=c)
    degenerate = x.clone()
    degenerate[:, :, 1:-1, 1:-1] = smooth
    return _blend(degenerate, x, v)


# -------------------------------------------------------------- geometric ops
def _affine(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Sample ``x`` at ``theta @ [u, v, 1]`` (normalised coordinates), black fill."""
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(
        x, grid, mode="nearest", padding_mode="zeros", align_corners=False
    )


def _theta(x: torch.Tensor) -> torch.Tensor:
    return torch.eye(2, 3, device=x.device).repeat(x.shape[0], 1, 1)


def rotate(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate by ``v`` degrees about the centre."""
    a = v * math.pi / 180
    theta = _theta(x)
    h, w = x.shape[2:]
    theta[:, 0, 0] = torch.cos(a)
    theta[:, 0, 1] = -torch.sin(a) * h / w
    theta[:, 1, 0] = torch.sin(a) * w / h
    theta[:, 1, 1] = torch.cos(a)
    return _affine(x, theta)


def shear_x(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Horizontal shear ``x_in = x + v y`` (pixel units, about the centre)."""
    theta = _theta(x)
    theta[:, 0, 1] = v * x.shape[2] / x.shape[3]
    return _affine(x, theta)


def shear_y(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Vertical shear ``y_in = y + v x``."""
    theta = _theta(x)
    theta[:, 1, 0] = v * x.shape[3] / x.shape[2]
    return _affine(x, theta)


def translate_x(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Shift by ``v`` times the width (the content moves left for ``v > 0``)."""
    theta = _theta(x)
    theta[:, 0, 2] = 2 * v
    return _affine(x, theta)


def translate_y(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Shift by ``v`` times the height."""
    theta = _theta(x)
    theta[:, 1, 2] = 2 * v
    return _affine(x, theta)


IMAGE_OPS: dict[str, tuple[Op, float, float, bool]] = {
    "identity": (identity, 0.0, 1.0, False),
    "autocontrast": (autocontrast, 0.0, 1.0, False),
    "equalize": (equalize, 0.0, 1.0, False),
    "rotate": (rotate, -30.0, 30.0, True),
    "solarize": (solarize, 0.0, 256.0, False),
    "color": (color, 0.05, 0.95, False),
    "contrast": (contrast, 0.05, 0.95, False),
    "brightness": (brightness, 0.05, 0.95, False),
    "sharpness": (sharpness, 0.05, 0.95, False),
    "shear_x": (shear_x, -0.1, 0.1, True),
    "shear_y": (shear_y, -0.1, 0.1, True),
    "translate_x": (translate_x, -0.1, 0.1, True),
    "translate_y": (translate_y, -0.1, 0.1, True),
    "posterize": (posterize, 4.0, 8.0, False),
}
"""name -> (op, low, high, random sign): the 14 operations of the LHD code."""


def cutout(x: torch.Tensor, max_size: int, gen: torch.Generator) -> torch.Tensor:
    """Zero one square per image: side uniform in ``1..max_size``, centre uniform.

    The square is clipped at the borders. Returns a new tensor.
    """
    n, _, h, w = x.shape
    # drawn on the CPU generator (the same draws on every device), then moved
    side = torch.randint(1, max_size + 1, (n,), generator=gen).to(x.device)
    cy = torch.randint(0, h, (n,), generator=gen).to(x.device)
    cx = torch.randint(0, w, (n,), generator=gen).to(x.device)
    y0 = (cy - side // 2).clamp(min=0)
    y1 = (cy - side // 2 + side).clamp(max=h)
    x0 = (cx - side // 2).clamp(min=0)
    x1 = (cx - side // 2 + side).clamp(max=w)
    rows = torch.arange(h, device=x.device)[None, :, None]
    cols = torch.arange(w, device=x.device)[None, None, :]
    hole = (
        (rows >= y0[:, None, None])
        & (rows < y1[:, None, None])
        & (cols >= x0[:, None, None])
        & (cols < x1[:, None, None])
    )
    return x.masked_fill(hole[:, None], 0.0)


class ImageAugment:
    """RandAugment-style ``n_ops`` random ops, optional flip, then Cutout.

    Args:
        low: Standardised value of pixel level 0 (black).
        high: Standardised value of pixel level 255 (white).
        n_ops: Operations per image. Defaults to 4 (the LHD code).
        cutout: Largest Cutout side; ``None`` = half the image height (14 for
            28 x 28, 16 for 32 x 32, as in the code); 0 disables.
        flip: Random horizontal flip first (the code flips CIFAR-10 and SVHN).
            Defaults to ``False``: digits are not mirror-symmetric.
        ops: Names from `IMAGE_OPS` to draw from. Defaults to all 14.

    Examples:
        >>> aug = ImageAugment(low=0.0, high=1.0)
        >>> x = torch.zeros(8, 1, 28, 28)
        >>> aug(x, torch.Generator().manual_seed(0)).shape
        torch.Size([8, 1, 28, 28])
    """

    def __init__(
        self,
        *,
        low: float,
        high: float,
        n_ops: int = 4,
        cutout: int | None = None,
        flip: bool = False,
        ops: Sequence[str] | None = None,
    ):
        if not high > low:
            raise InvalidParameterError(
                f"ImageAugment needs high > low (the pixel range); got low={low}, "
                f"high={high}."
            )
        if n_ops < 0:
            raise InvalidParameterError(f"n_ops must be >= 0; got {n_ops}.")
        names = list(IMAGE_OPS) if ops is None else list(ops)
        unknown = [o for o in names if o not in IMAGE_OPS]
        if unknown or not names:
            raise InvalidParameterError(
                f"Unknown augmentation op(s) {unknown or names}; valid: "
                f"{', '.join(IMAGE_OPS)}."
            )
        self.low = float(low)
        self.high = float(high)
        self.n_ops = int(n_ops)
        self.cutout = cutout
        self.flip = flip
        self.ops = names

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Augment a batch ``(n, C, H, W)`` of standardised images."""
        if x.ndim != 4:
            raise InvalidParameterError(
                f"ImageAugment expects (n, C, H, W) images; got shape {tuple(x.shape)}."
            )
        n = x.shape[0]
        z = ((x - self.low) / (self.high - self.low)).clamp(0, 1)
        if self.flip:
            flip = (torch.rand(n, generator=gen) < 0.5).to(x.device)
            z = torch.where(flip[:, None, None, None], z.flip(3), z)
        for _ in range(self.n_ops):
            which = torch.randint(0, len(self.ops), (n,), generator=gen)
            u = torch.rand(n, generator=gen).to(x.device)
            sign = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
            sign = sign.to(x.device)
            z = z.clone()
            for k, name in enumerate(self.ops):
                rows = which == k
                if not bool(rows.any()):
                    continue
                mask = rows.to(x.device)
                op, lo, hi, signed = IMAGE_OPS[name]
                v = lo + (hi - lo) * u[mask]
                if signed:
                    v = v * sign[mask]
                z[mask] = op(z[mask], v)
        out = z * (self.high - self.low) + self.low
        size = x.shape[2] // 2 if self.cutout is None else self.cutout
        if size > 0:
            out = cutout(out, size, gen)
        return out


class TabularAugment:
    """Strong augmentation for standardised feature vectors ``(n, d)``.

    Adds Gaussian noise of standard deviation ``noise`` (in units of each
    feature's standard deviation) and sets each feature to 0 (its mean) with
    probability ``mask``.

    Args:
        noise: Jitter scale. Defaults to 0.1.
        mask: Probability of masking a feature. Defaults to 0.1.
    """

    def __init__(self, *, noise: float = 0.1, mask: float = 0.1):
        if noise < 0 or not 0 <= mask < 1:
            raise InvalidParameterError(
                f"TabularAugment needs noise >= 0 and 0 <= mask < 1; got noise="
                f"{noise}, mask={mask}."
            )
        self.noise = float(noise)
        self.mask = float(mask)

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Augment a batch of shape ``(n, ...)``."""
        # drawn on the CPU generator (the same draws on every device), then moved
        jitter = (torch.randn(x.shape, generator=gen) * self.noise).to(x.device)
        keep = (torch.rand(x.shape, generator=gen) >= self.mask).to(x.device)
        return (x + jitter) * keep


Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def default_augment(x: torch.Tensor) -> Augment:
    """`ImageAugment` for ``(n, C, H, W)`` with ``H, W >= 8``, else tabular.

    The pixel range of the images is taken as the minimum and maximum of ``x``
    (the standardised values of black and white when both occur).
    """
    if x.ndim == 4 and min(x.shape[2:]) >= 8:
        lo, hi = float(x.min()), float(x.max())
        return ImageAugment(low=lo, high=hi if hi > lo else lo + 1.0)
    return TabularAugment()
