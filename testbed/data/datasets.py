"""Dataset lookup: ``cifar10``, ``cifar100``, ``fashion-mnist`` from a root folder in
torchvision's standard on-disk formats, with an image-folder tree as fallback, plus a
``synthetic`` dataset for tests and smoke recipes. Never downloads.

Image-folder trees are decoded once and cached as ``.npz`` under ``$TESTBED_CACHE`` (default
``~/.cache/testbed``), so an epoch is not dominated by JPEG decoding.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                   "horse", "ship", "truck")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                   "Shirt", "Sneaker", "Bag", "Ankle boot")


@dataclass(frozen=True)
class DatasetInfo:
    shape: tuple[int, int, int]
    mean: tuple[float, ...]      # per channel, for pixels scaled to [0, 1]
    std: tuple[float, ...]
    crop_flip: bool              # random crop (pad 4) + horizontal flip when training
    how_to_get: str


DATASETS = {
    "cifar10": DatasetInfo((3, 32, 32), (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), True,
                           "torchvision.datasets.CIFAR10(ROOT, download=True) on a machine with "
                           "internet, or an image-folder tree ROOT/cifar10/{train,test}/<class>/*"),
    "cifar100": DatasetInfo((3, 32, 32), (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762), True,
                            "torchvision.datasets.CIFAR100(ROOT, download=True), or an image-folder "
                            "tree ROOT/cifar100/{train,test}/<class>/*"),
    "fashion-mnist": DatasetInfo((1, 28, 28), (0.2860,), (0.3530,), False,
                                 "torchvision.datasets.FashionMNIST(ROOT, download=True), or "
                                 "`apt-get install dataset-fashion-mnist` and "
                                 "--data-root /usr/share/datasets"),
    "synthetic": DatasetInfo((3, 32, 32), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), True,
                             "nothing: it is generated"),
}


@dataclass(frozen=True)
class Split:
    name: str
    split: str                   # "train" | "test"
    images: torch.Tensor         # [N, C, H, W] uint8
    labels: torch.Tensor         # [N] int64
    classes: tuple[str, ...]

    @property
    def info(self) -> DatasetInfo:
        return DATASETS[self.name]

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def resolve_root(root: str | os.PathLike | None) -> Path:
    root = root or os.environ.get("TESTBED_DATA")
    if not root:
        raise DataError("no dataset root: pass --data-root DIR or set TESTBED_DATA")
    return Path(root).expanduser()


def load_split(name: str, root: str | os.PathLike | None, split: str = "train") -> Split:
    """Load ``split`` ("train" or "test") of dataset ``name`` as uint8 tensors."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}: expected one of {', '.join(DATASETS)}")
    if split not in ("train", "test"):
        raise DataError(f"unknown split {split!r}: expected train or test")
    if name == "synthetic":
        return synthetic_split(split)
    base = resolve_root(root)
    looked: list[str] = []
    for finder in (_torchvision_format, _image_folder):
        found = finder(name, base, split, looked)
        if found is not None:
            images, labels, classes = found
            return Split(name, split, images, labels, tuple(classes))
    raise DataError(f"dataset {name} ({split}) not found; looked in: {'; '.join(looked)}. "
                    f"To get it: {DATASETS[name].how_to_get}")


def _torchvision_format(name: str, base: Path, split: str, looked: list[str]):
    train = split == "train"
    if name in ("cifar10", "cifar100"):
        folder = base / ("cifar-10-batches-py" if name == "cifar10" else "cifar-100-python")
        looked.append(str(folder))
        if not folder.is_dir():
            return None
        from torchvision import datasets
        cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
        try:
            ds = cls(str(base), train=train, download=False)
        except RuntimeError as exc:
            raise DataError(f"{folder}: not a valid {name} folder ({exc})") from None
        images = torch.from_numpy(np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2)))
        return images, torch.as_tensor(ds.targets, dtype=torch.long), ds.classes
    if name == "fashion-mnist":
        return _fashion_idx(base, train, looked)
    return None


def _fashion_idx(base: Path, train: bool, looked: list[str]):
    prefix = "train" if train else "t10k"
    for folder in (base / "FashionMNIST" / "raw", base / "fashion-mnist", base):
        looked.append(str(folder))
        img, lab = _idx_file(folder, f"{prefix}-images-idx3-ubyte"), _idx_file(folder, f"{prefix}-labels-idx1-ubyte")
        if img and lab:
            images = torch.from_numpy(_read_idx(img)).unsqueeze(1)
            return images, torch.from_numpy(_read_idx(lab).astype(np.int64)), FASHION_CLASSES
    return None


def _idx_file(folder: Path, stem: str) -> Path | None:
    for cand in (folder / stem, folder / f"{stem}.gz"):
        if cand.is_file():
            return cand
    return None


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
        ndim = data[3]
        dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
        return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims).copy()
    except (OSError, ValueError, IndexError) as exc:
        raise DataError(f"{path}: not a readable idx file ({exc})") from None


def _image_folder(name: str, base: Path, split: str, looked: list[str]):
    for folder in (base / name / split, base / f"{name}-jpeg" / split, base / split):
        looked.append(str(folder))
        if folder.is_dir() and any(p.is_dir() for p in folder.iterdir()):
            return _decode_cached(folder, DATASETS[name].shape)
    return None


def _cache_path(folder: Path) -> Path:
    files = sorted(str(p.relative_to(folder)) for p in folder.glob("*/*") if p.is_file())
    key = hashlib.sha1(("\n".join([str(folder.resolve())] + files)).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("TESTBED_CACHE", Path.home() / ".cache" / "testbed"))
    return cache / f"imagefolder-{key}.npz"


def _decode_cached(folder: Path, shape: tuple[int, int, int]):
    cache = _cache_path(folder)
    if cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as z:
                return torch.from_numpy(z["images"]), torch.from_numpy(z["labels"]), [str(c) for c in z["classes"]]
        except Exception:
            pass  # a broken cache is rebuilt below
    images, labels, classes = _decode_folder(folder, shape)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".tmp{os.getpid()}.npz")
    np.savez(tmp, images=images, labels=labels, classes=np.array(classes))
    os.replace(tmp, cache)
    return torch.from_numpy(images), torch.from_numpy(labels), classes


def _decode_folder(folder: Path, shape: tuple[int, int, int]):
    from PIL import Image
    from torchvision.datasets import ImageFolder
    from tqdm import tqdm
    ds = ImageFolder(str(folder))
    c, h, w = shape
    images = np.empty((len(ds.samples), c, h, w), dtype=np.uint8)
    mode = "RGB" if c == 3 else "L"
    for i, (path, _) in enumerate(tqdm(ds.samples, desc=f"decoding {folder}", unit="img",
                                       leave=False, mininterval=1.0)):
        with Image.open(path) as im:
            arr = np.asarray(im.convert(mode).resize((w, h)) if im.size != (w, h) else im.convert(mode))
        images[i] = arr.reshape(h, w, c).transpose(2, 0, 1)
    return images, np.asarray(ds.targets, dtype=np.int64), ds.classes


def synthetic_split(split: str, n: int | None = None, seed: int = 0) -> Split:
    """A small learnable 10-class dataset (class = a colour/stripe pattern plus noise),
    for tests and smoke recipes; identical on every machine for a given seed."""
    n = n or (2000 if split == "train" else 500)
    g = torch.Generator().manual_seed(seed * 2 + (split == "test"))
    protos = torch.rand(10, 3, 1, 1, generator=torch.Generator().manual_seed(seed)) * 160 + 40
    labels = torch.randint(0, 10, (n,), generator=g)
    rows = torch.arange(32).view(1, 1, 32, 1)
    stripes = ((rows // (labels.view(-1, 1, 1, 1) % 5 + 2)) % 2) * 40.0
    noise = torch.randn(n, 3, 32, 32, generator=g) * 30
    images = (protos[labels] + stripes + noise).clamp(0, 255).to(torch.uint8)
    return Split("synthetic", split, images, labels, tuple(f"class{i}" for i in range(10)))
