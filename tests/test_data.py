import hashlib
import io
import zipfile
from pathlib import Path

import pytest
import torch
from PIL import Image

from sslvit_lite.data import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    DatasetUnavailableError,
    load_dataset,
    load_sample,
    normalize,
    synthetic_dataset,
)

SHARED_CIFAR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar10"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLVIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SSLVIT_DATA", raising=False)


def jpeg_bytes(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buf, format="PNG")
    return buf.getvalue()


def make_zip_dataset(root: Path, name="cifar10", split="test") -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    archive = folder / f"{name}-{split}.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for cls, colour in [("cat", (255, 0, 0)), ("dog", (0, 0, 255))]:
            for i in range(3):
                zf.writestr(f"{split}/{cls}/{i:04d}.png", jpeg_bytes(colour))
    return archive


def test_embedded_sample_is_real_balanced_cifar10():
    sample = load_sample()
    assert sample.images.shape == (2000, 3, 32, 32) and sample.images.dtype == torch.uint8
    assert torch.bincount(sample.labels).tolist() == [200] * 10
    assert sample.classes[0] == "airplane" and sample.classes[-1] == "truck"
    assert sample.is_sample and "SAMPLE" in sample.source
    assert sample.images.float().std() > 30  # natural images, not a constant fill


def test_sample_source_requires_cifar10():
    with pytest.raises(ValueError, match="CIFAR-10 only"):
        load_dataset("stl10", "test", source="sample")


def test_folder_zip_layout_is_decoded_resized_and_cached(tmp_path):
    make_zip_dataset(tmp_path / "data")
    ds = load_dataset("cifar10", "test", source="folder", root=tmp_path / "data")
    assert ds.images.shape == (6, 3, 32, 32) and ds.classes == ["cat", "dog"]
    assert ds.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert ds.images[0, 0].float().mean() > 250 and ds.images[0, 2].float().mean() < 5  # red stays red
    assert list((tmp_path / "cache" / "datasets").glob("*.pt"))
    again = load_dataset("cifar10", "test", source="folder", root=tmp_path / "data")
    assert torch.equal(again.images, ds.images)


def test_folder_tree_layout_and_env_variable(tmp_path, monkeypatch):
    for cls in ("a", "b"):
        (tmp_path / "cifar10" / "train" / cls).mkdir(parents=True)
        (tmp_path / "cifar10" / "train" / cls / "0.png").write_bytes(jpeg_bytes((10, 200, 10)))
    monkeypatch.setenv("SSLVIT_DATA", str(tmp_path))
    ds = load_dataset("cifar10", "train")
    assert len(ds) == 2 and "folder" not in ds.classes and str(tmp_path) in ds.source


def test_corrupt_cache_is_rebuilt(tmp_path):
    make_zip_dataset(tmp_path / "data")
    load_dataset("cifar10", "test", source="folder", root=tmp_path / "data")
    (cached,) = (tmp_path / "cache" / "datasets").glob("*.pt")
    cached.write_bytes(b"not a tensor file")
    assert len(load_dataset("cifar10", "test", source="folder", root=tmp_path / "data")) == 6


def test_checksum_mismatch_is_reported(tmp_path):
    archive = make_zip_dataset(tmp_path / "data")
    (archive.parent / "SHA256SUMS").write_text(f"{'0' * 64}  {archive.name}\n")
    with pytest.raises(DatasetUnavailableError, match="checksum mismatch"):
        load_dataset("cifar10", "test", source="folder", root=tmp_path / "data")
    good = hashlib.sha256(archive.read_bytes()).hexdigest()
    (archive.parent / "SHA256SUMS").write_text(f"{good}  {archive.name}\n")
    assert len(load_dataset("cifar10", "test", source="folder", root=tmp_path / "data")) == 6


def test_missing_data_offline_gives_a_clear_error():
    with pytest.raises(DatasetUnavailableError, match="SSLVIT_DATA"):
        load_dataset("cifar10", "train", source="folder")
    with pytest.raises(DatasetUnavailableError, match="source='sample'"):
        load_dataset("cifar10", "train", source="torchvision", download=False)
    with pytest.raises(DatasetUnavailableError, match="no torchvision loader"):
        load_dataset("tiny-imagenet", "train")


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "mnist"}, "valid: cifar10"),
    ({"name": "cifar10", "split": "val"}, "valid: train, test"),
    ({"name": "cifar10", "source": "web"}, "valid: auto"),
])
def test_bad_arguments_list_the_valid_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_dataset(**kwargs)


def test_normalize_matches_the_definition():
    images = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    out = normalize(images)
    expected = (images[:, 1].float() / 255 - CIFAR10_MEAN[1]) / CIFAR10_STD[1]
    torch.testing.assert_close(out[:, 1], expected)


def test_synthetic_is_deterministic_and_resizable():
    a, b = synthetic_dataset(64, 16, seed=3), synthetic_dataset(64, 16, seed=3)
    assert torch.equal(a.images, b.images) and a.images.shape == (64, 3, 16, 16)
    assert not torch.equal(a.images, synthetic_dataset(64, 16, seed=4).images)


def test_subset_balanced_per_class():
    sample = load_sample().subset(50, seed=1, per_class=True)
    assert torch.bincount(sample.labels).tolist() == [5] * 10 and "subset" in sample.source


@pytest.mark.skipif(not SHARED_CIFAR.is_dir(), reason="the project's shared CIFAR-10 copy is not on this machine")
def test_real_cifar10_test_split_from_shared_folder():
    ds = load_dataset("cifar10", "test", source="folder", root=SHARED_CIFAR.parent)
    assert ds.images.shape == (10000, 3, 32, 32)
    assert torch.bincount(ds.labels).tolist() == [1000] * 10
    # the embedded sample is byte-identical JPEG data, so it decodes to the same first image
    sample = load_sample()
    assert torch.equal(ds.images[ds.labels == 0][0], sample.images[sample.labels == 0][0])


def test_book_source_builds_offline_from_the_embedded_sample(monkeypatch, tmp_path):
    """The book's default: no SSLVIT_DATA, no network, an empty cache: the sample, labelled as such."""
    import socket

    def offline(*args, **kwargs):
        raise socket.gaierror("no network in this test")

    monkeypatch.delenv("SSLVIT_DATA", raising=False)
    monkeypatch.setattr(socket, "getaddrinfo", offline)
    monkeypatch.setattr(socket, "create_connection", offline)
    test = load_dataset("cifar10", "test", source="auto+sample")
    assert test.is_sample and "sample" in test.source.lower() and len(test) == 2000
    with pytest.raises(DatasetUnavailableError):  # plain "auto" still refuses to pretend
        load_dataset("cifar10", "test", source="auto")


def test_book_source_prefers_real_data(tmp_path):
    make_zip_dataset(tmp_path / "data")
    dataset = load_dataset("cifar10", "test", source="auto+sample", root=tmp_path / "data")
    assert not dataset.is_sample and len(dataset) == 6 and "cifar10-test.zip" in dataset.source
