"""Batches from a :class:`~testbed.data.datasets.Split`: seeded shuffling, augmentation on
uint8 tensors (random crop with 4-pixel padding + horizontal flip, vectorised per batch),
and normalisation with the dataset's mean/std. No worker processes: the data already
sits decoded in memory.
"""

from __future__ import annotations

from typing import Iterator

import torch
import torch.nn.functional as F

from .datasets import Split


def normalize(images: torch.Tensor, mean, std) -> torch.Tensor:
    """uint8 [N,C,H,W] -> float32, scaled to [0,1] then standardised per channel."""
    m = torch.as_tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    return (images.float() / 255.0 - m) / s


def crop_flip(images: torch.Tensor, g: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random crop of the zero-padded images back to their size, then random h-flip."""
    n, c, h, w = images.shape
    padded = F.pad(images, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=g)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=g)
    rows = (dy[:, None] + torch.arange(h)[None, :])[:, None, :, None].expand(n, c, h, w)
    cols = (dx[:, None] + torch.arange(w)[None, :])
    flip = torch.rand(n, generator=g) < 0.5
    cols = torch.where(flip[:, None], cols.flip(1), cols)[:, None, None, :].expand(n, c, h, w)
    sel = padded[torch.arange(n)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols]
    return sel


def batches(split: Split, batch_size: int, *, generator: torch.Generator | None = None,
            augment: bool = False, drop_last: bool = False, limit: int | None = None,
            device: str | torch.device = "cpu") -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield normalised ``(images, labels)``; shuffled when a generator is given."""
    n = len(split) if limit is None else min(limit, len(split))
    order = torch.randperm(len(split), generator=generator)[:n] if generator is not None else torch.arange(n)
    info = split.info
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start: start + batch_size]
        x = split.images[idx]
        if augment and info.crop_flip:
            x = crop_flip(x, generator if generator is not None else torch.Generator().manual_seed(0))
        yield normalize(x, info.mean, info.std).to(device), split.labels[idx].to(device)
