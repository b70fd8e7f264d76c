"""Augmentations: each op against a slow reference or an exact geometric fact."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from labelwise.exceptions import InvalidParameterError
from labelwise.models.augment import (
    IMAGE_OPS,
    ImageAugment,
    TabularAugment,
    autocontrast,
    brightness,
    contrast,
    cutout,
    default_augment,
    equalize,
    posterize,
    rotate,
    sharpness,
    shear_x,
    solarize,
    translate_x,
    translate_y,
)


def _levels(x: torch.Tensor) -> np.ndarray:
    return (x * 255).round().long().numpy()


def _equalize_reference(img: np.ndarray) -> np.ndarray:
    """PIL's ImageOps.equalize on one 8-bit channel, written as a plain loop."""
    hist = [int((img == i).sum()) for i in range(256)]
    nonzero = [h for h in hist if h]
    step = (sum(nonzero) - nonzero[-1]) // 255
    if step == 0:
        return img.copy()
    lut = []
    n = step // 2
    for i in range(256):
        lut.append(min(255, n // step))
        n += hist[i]
    return np.array([lut[v] for v in img.ravel()]).reshape(img.shape)


def _images(seed: int, n: int = 4, c: int = 1, h: int = 8, w: int = 8) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 256, (n, c, h, w), generator=g) / 255).float()


def test_equalize_matches_reference() -> None:
    x = _images(0, n=3, c=2)
    x[1] = (x[1] * 40).round() / 255  # few levels
    x[2, 0] = 0.5  # constant channel: unchanged
    got = _levels(equalize(x, torch.zeros(3)))
    for i in range(3):
        for c in range(2):
            want = _equalize_reference(_levels(x)[i, c])
            np.testing.assert_array_equal(got[i, c], want)


def test_posterize_and_solarize_match_bit_arithmetic() -> None:
    x = _images(1)
    bits = torch.tensor([4.0, 5.5, 7.9, 8.0])
    got = _levels(posterize(x, bits))
    lv = _levels(x)
    for i, b in enumerate([4, 5, 7, 8]):
        np.testing.assert_array_equal(got[i], lv[i] & ~((1 << (8 - b)) - 1))
    thr = torch.tensor([0.0, 100.0, 200.0, 256.0])
    sol = _levels(solarize(x, thr))
    for i, t in enumerate([0, 100, 200, 256]):
        np.testing.assert_array_equal(sol[i], np.where(lv[i] >= t, 255 - lv[i], lv[i]))


def test_autocontrast_spans_unit_range() -> None:
    x = _images(2) * 0.5 + 0.2
    out = autocontrast(x, torch.zeros(4))
    assert torch.allclose(out.amin(dim=(2, 3)), torch.zeros(4, 1))
    assert torch.allclose(out.amax(dim=(2, 3)), torch.ones(4, 1))
    const = torch.full((1, 1, 4, 4), 0.3)
    assert torch.equal(autocontrast(const, torch.zeros(1)), const)


def test_enhance_ops_blend_as_pil() -> None:
    x = _images(3)
    v = torch.tensor([0.0, 0.5, 1.0, 0.25])
    assert torch.allclose(brightness(x, v), x * v.reshape(-1, 1, 1, 1))
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    want = (mean + v.reshape(-1, 1, 1, 1) * (x - mean)).clamp(0, 1)
    assert torch.allclose(contrast(x, v), want)
    # factor 1 is the identity; factor 0 is the smoothed image inside the border
    one = torch.ones(4)
    assert torch.allclose(sharpness(x, one), x)
    smooth = sharpness(x, torch.zeros(4))
    k = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]]) / 13
    ref = x[0, 0].numpy()
    for r in range(1, 7):
        for c in range(1, 7):
            want_px = float((ref[r - 1 : r + 2, c - 1 : c + 2] * k).sum())
            assert smooth[0, 0, r, c].item() == pytest.approx(want_px, abs=1e-6)
    assert torch.equal(smooth[0, 0, 0], x[0, 0, 0])


def test_geometric_ops_move_pixels_exactly() -> None:
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 0, 2] = 1.0
    # PIL's rotate is counter-clockwise, like rot90 with k=1
    assert torch.equal(rotate(x, torch.tensor([90.0])), torch.rot90(x, 1, (2, 3)))
    y = torch.zeros(1, 1, 5, 5)
    y[0, 0, 2, 2] = 1.0
    moved = translate_x(y, torch.tensor([0.2]))  # 0.2 x 5 = 1 pixel, to the left
    assert moved[0, 0, 2, 1] == 1 and moved.sum() == 1
    moved = translate_y(y, torch.tensor([-0.4]))  # 2 pixels down
    assert moved[0, 0, 4, 2] == 1 and moved.sum() == 1
    # a shear keeps the centre row fixed
    row = torch.zeros(1, 1, 5, 5)
    row[0, 0, 2, :] = 1.0
    assert torch.equal(shear_x(row, torch.tensor([0.1])), row)


def test_cutout_zeroes_one_clipped_square() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.ones(200, 1, 12, 12)
    out = cutout(x, 6, g)
    for img in out[:, 0]:
        rows, cols = torch.nonzero(img == 0, as_tuple=True)
        assert rows.numel() >= 1
        h = int(rows.max() - rows.min() + 1)
        w = int(cols.max() - cols.min() + 1)
        assert h <= 6 and w <= 6 and rows.numel() == h * w
    assert torch.equal(x, torch.ones(200, 1, 12, 12))  # input untouched


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    op=st.sampled_from(sorted(IMAGE_OPS)),
    u=st.floats(0, 1),
)
def test_every_op_keeps_shape_and_pixel_range(seed: int, op: str, u: float) -> None:
    fn, lo, hi, _ = IMAGE_OPS[op]
    x = _images(seed % 1000, n=2, c=3, h=9, w=7)
    out = fn(x, torch.full((2,), lo + (hi - lo) * u))
    assert out.shape == x.shape
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_image_augment_is_seeded_and_maps_back_to_standardised_space() -> None:
    x = (_images(4, n=16, h=28, w=28) - 0.3) / 0.4
    aug = ImageAugment(low=-0.75, high=1.75)
    a = aug(x, torch.Generator().manual_seed(5))
    b = aug(x, torch.Generator().manual_seed(5))
    c = aug(x, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape
    assert float(a.min()) >= -0.75 - 1e-5 and float(a.max()) <= 1.75 + 1e-5
    plain = ImageAugment(low=-0.75, high=1.75, n_ops=0, cutout=0)
    assert torch.allclose(plain(x, torch.Generator()), x, atol=1e-6)


def test_image_augment_rejects_bad_settings() -> None:
    with pytest.raises(InvalidParameterError, match="high > low"):
        ImageAugment(low=1.0, high=1.0)
    with pytest.raises(InvalidParameterError, match="Unknown augmentation op"):
        ImageAugment(low=0.0, high=1.0, ops=["rotate", "warp"])
    with pytest.raises(InvalidParameterError, match=r"\(n, C, H, W\)"):
        ImageAugment(low=0.0, high=1.0)(torch.zeros(3, 4), torch.Generator())


def test_tabular_augment_masks_and_jitters() -> None:
    x = torch.ones(2000, 10)
    out = TabularAugment(noise=0.0, mask=0.25)(x, torch.Generator().manual_seed(0))
    assert float((out == 0).float().mean()) == pytest.approx(0.25, abs=0.02)
    jit = TabularAugment(noise=0.1, mask=0.0)(x, torch.Generator().manual_seed(0))
    assert float((jit - x).std()) == pytest.approx(0.1, rel=0.05)


def test_default_augment_picks_by_shape() -> None:
    assert isinstance(default_augment(torch.zeros(2, 1, 28, 28)), ImageAugment)
    assert isinstance(default_augment(torch.zeros(2, 5)), TabularAugment)
