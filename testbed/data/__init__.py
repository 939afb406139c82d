"""Datasets by name, decoded once into uint8 tensors, and augmentation on tensors.

First arrow of the pipeline: :func:`load_split` reads torchvision's on-disk formats (or an
image-folder tree) under a user-given root; :func:`batches` yields augmented, normalised
float batches for training and evaluation. Needs PyTorch (the ``train`` extra): on the
light install, importing this package is a one-line :class:`~testbed.errors.DataError`
(e.g. for ``testbed run --live``, which reads the real images).
"""

try:
    import torch  # noqa: F401
except ImportError as exc:
    from ..errors import DataError
    why = "is not installed" if exc.name == "torch" else f"fails to import ({exc})"
    raise DataError(f"reading dataset images needs torch, which {why}: "
                    f"pip install -e '.[train]'") from None

from .datasets import DATASETS, Split, load_split, resolve_root  # noqa: E402
from .loader import batches, normalize  # noqa: E402

__all__ = ["DATASETS", "Split", "batches", "load_split", "normalize", "resolve_root"]
