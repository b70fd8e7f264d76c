"""ResNet-18 in its CIFAR form, the network of the deep active-learning papers.

He et al. (CVPR 2016) defined ResNet-18 for 224 x 224 ImageNet images (7 x 7
stride-2 stem and a max-pool). For 32 x 32 images the BADGE, Core-Set, LLOSS and
learning-AL experiments use the CIFAR variant (the ``kuangliu/pytorch-cifar``
layout): a 3 x 3 stride-1 stem without max-pool, then four stages of two
BasicBlocks (64, 128, 256, 512 channels; stride 2 from the second stage on),
global average pooling and a linear head. It takes 28 x 28 (MNIST-like) and
32 x 32 (CIFAR, SVHN) inputs with any number of channels.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from labelwise.exceptions import InvalidParameterError
from labelwise.models.pytorch import SplitNetwork


class BasicBlock(nn.Module):
    """Two 3 x 3 conv-BN layers with an identity (or 1 x 1 projection) shortcut.

    Args:
        c_in: Input channels.
        c_out: Output channels.
        stride: Stride of the first convolution (and of the projection).
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, c_out, H/stride, W/stride)``."""
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNetFeatures(nn.Module):
    """Stem, the four stages ``layer1`` .. ``layer4``, global average pooling.

    The stages are named submodules so that forward hooks can tap them (e.g. a
    loss-prediction module reading every stage's output).

    Args:
        channels: Input channels.
        blocks: BasicBlocks per stage. Defaults to ``(2, 2, 2, 2)`` (ResNet-18).
        dropout: Dropout rate on the pooled embedding (0 = none).
    """

    def __init__(
        self,
        channels: int,
        blocks: Sequence[int] = (2, 2, 2, 2),
        dropout: float = 0.0,
    ):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(channels, 64, 3, 1, 1, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(),
        )
        widths = (64, 128, 256, 512)
        c_in = 64
        stages = []
        for i, (width, n) in enumerate(zip(widths, blocks, strict=True)):
            stride = 1 if i == 0 else 2
            layers = [BasicBlock(c_in, width, stride)]
            layers += [BasicBlock(width, width) for _ in range(n - 1)]
            stages.append(nn.Sequential(*layers))
            c_in = width
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.dropout: nn.Module = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.out_features = 512

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled embeddings ``(n, 512)`` of images ``(n, C, H, W)``."""
        h = self.stem(x)
        h = self.layer4(self.layer3(self.layer2(self.layer1(h))))
        out: torch.Tensor = self.dropout(self.pool(h))
        return out


def resnet18(
    input_shape: Sequence[int],
    n_classes: int,
    *,
    dropout: float = 0.0,
) -> SplitNetwork:
    """CIFAR ResNet-18: 3 x 3 stem, no max-pool, stages ``[2, 2, 2, 2]``, linear head.

    ``features`` is `ResNetFeatures` (the pooled 512-d embedding; its
    stages are ``features.layer1`` .. ``features.layer4``); ``head`` is
    ``nn.Linear(512, n_classes)``. About 11.2 M parameters.

    Args:
        input_shape: ``(channels, H, W)``, e.g. ``(1, 28, 28)`` or ``(3, 32, 32)``;
            ``H, W >= 8`` and ``H x W > 64`` (layer4's map is then larger than
            one pixel, so batch norm trains on a minibatch of one image).
        n_classes: Number of classes.
        dropout: Dropout rate on the embedding (MC dropout needs > 0). Defaults
            to 0.

    Returns:
        A `SplitNetwork`.

    Examples:
        >>> net = resnet18((1, 28, 28), 10)
        >>> net(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape[1:]) < 8 or shape[0] < 1:
        raise InvalidParameterError(
            "resnet18 expects images of shape (channels, H, W) with H, W >= 8 (e.g. "
            f"(1, 28, 28) or (3, 32, 32)); got {shape}. Use mlp for tabular data."
        )
    if shape[1] * shape[2] <= 64:
        raise InvalidParameterError(
            f"resnet18 needs H x W > 64; got {shape}: 8 x 8 images shrink to one "
            "pixel in layer4, where batch norm cannot train on a minibatch of one "
            "image. Pad the images to 9 x 9 or more, or use cnn or mlp."
        )
    if not 0 <= dropout < 1:
        raise InvalidParameterError(f"dropout must be in [0, 1); got {dropout!r}.")
    features = ResNetFeatures(shape[0], dropout=dropout)
    return SplitNetwork(features, nn.Linear(features.out_features, n_classes))
