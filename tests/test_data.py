"""Data layer: datasets by name from the on-disk formats, clear errors, tensor augmentation."""

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from testbed.data import batches, load_split
from testbed.data.loader import crop_flip
from testbed.errors import DataError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_missing_dataset_says_where_it_looked_and_how_to_get_it(tmp_path):
    with pytest.raises(DataError) as err:
        load_split("cifar10", tmp_path, "test")
    msg = str(err.value)
    assert str(tmp_path / "cifar-10-batches-py") in msg and "download=True" in msg


def test_no_root_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("TESTBED_DATA", raising=False)
    with pytest.raises(DataError, match="--data-root"):
        load_split("cifar10", None, "train")


def test_unknown_dataset_name():
    with pytest.raises(DataError, match="expected one of"):
        load_split("imagenet", "/nonexistent", "train")


def _write_idx(path: Path, arr: np.ndarray) -> None:
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def test_fashion_mnist_idx_files(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    imgs = np.random.default_rng(0).integers(0, 255, (5, 28, 28))
    _write_idx(raw / "t10k-images-idx3-ubyte.gz", imgs)
    _write_idx(raw / "t10k-labels-idx1-ubyte.gz", np.array([0, 1, 2, 3, 9]))
    split = load_split("fashion-mnist", tmp_path, "test")
    assert split.images.shape == (5, 1, 28, 28) and split.images.dtype == torch.uint8
    assert torch.equal(split.images[:, 0], torch.from_numpy(imgs.astype(np.uint8)))
    assert split.labels.tolist() == [0, 1, 2, 3, 9] and split.classes[9] == "Ankle boot"


def test_image_folder_tree_decodes_and_caches(tmp_path, monkeypatch):
    from PIL import Image
    monkeypatch.setenv("TESTBED_CACHE", str(tmp_path / "cache"))
    for label, cls in enumerate(("cat", "dog")):
        (tmp_path / "cifar10" / "test" / cls).mkdir(parents=True)
        Image.fromarray(np.full((32, 32, 3), 60 * (label + 1), np.uint8)).save(
            tmp_path / "cifar10" / "test" / cls / "0.png")
    first = load_split("cifar10", tmp_path, "test")
    assert first.classes == ("cat", "dog") and first.labels.tolist() == [0, 1]
    assert first.images[1].float().mean() == 120
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1
    again = load_split("cifar10", tmp_path, "test")
    assert torch.equal(first.images, again.images) and again.classes == first.classes


def test_shared_cifar10_jpeg_tree():
    split = load_split("cifar10", SHARED, "test")
    assert split.images.shape == (10000, 3, 32, 32) and split.classes[0] == "airplane"
    assert torch.bincount(split.labels).tolist() == [1000] * 10
    means = split.images.float().mean((0, 2, 3))
    torch.testing.assert_close(means, torch.tensor([126.0, 123.7, 114.8]), atol=0.2, rtol=0)


def test_crop_flip_is_a_shifted_window_of_the_padded_image():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.uint8).view(2, 3, 8, 8)
    g = torch.Generator().manual_seed(3)
    out = crop_flip(x, g, pad=2)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    windows = [padded[:, :, dy:dy + 8, dx:dx + 8] for dy in range(5) for dx in range(5)]
    for i in range(2):
        assert any(torch.equal(out[i], w[i]) or torch.equal(out[i], w[i].flip(2)) for w in windows)


def test_batches_are_seeded_and_normalised():
    split = load_split("synthetic", None, "train")
    a = list(batches(split, 64, generator=torch.Generator().manual_seed(1), augment=True, limit=200))
    b = list(batches(split, 64, generator=torch.Generator().manual_seed(1), augment=True, limit=200))
    assert [x.shape[0] for x, _ in a] == [64, 64, 64, 8]
    assert all(torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(a, b))
    x = torch.cat([x for x, _ in a])
    assert abs(float(x.mean())) < 1.0 and x.dtype == torch.float32
