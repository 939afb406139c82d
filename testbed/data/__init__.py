"""Datasets by name, decoded once into uint8 tensors, and augmentation on tensors.

First arrow of the pipeline: :func:`load_split` reads torchvision's on-disk formats (or an
image-folder tree) under a user-given root; :func:`batches` yields augmented, normalised
float batches for training and evaluation.
"""

from .datasets import DATASETS, Split, load_split, resolve_root
from .loader import batches, normalize

__all__ = ["DATASETS", "Split", "batches", "load_split", "normalize", "resolve_root"]
