"""The registry: verified downloads, mirrors, damaged files, offline mode, fallbacks."""

import gzip
import hashlib

import pytest
import torch

from course_utils import data, datasets, tabular
from course_utils.data import DataUnavailable, DatasetInfo, RemoteFile


@pytest.fixture
def fake_dataset(tmp_path, monkeypatch):
    """A registered dataset whose mirrors are local files: the first one damaged, the second good."""
    good = b"the real bytes of a dataset file\n" * 100
    mirror_bad, mirror_good = tmp_path / "mirror_bad", tmp_path / "mirror_good"
    mirror_bad.mkdir(), mirror_good.mkdir()
    (mirror_bad / "file.bin").write_bytes(good[:-7] + b"garbage")  # same size, wrong content
    (mirror_good / "file.bin").write_bytes(good)
    remote = RemoteFile("file.bin", hashlib.sha256(good).hexdigest(),
                        (mirror_bad.as_uri() + "/file.bin", mirror_good.as_uri() + "/file.bin"), len(good))
    info = DatasetInfo("fake", "Fake data (for tests)", "fake", (remote,), license="none", citation="none")
    monkeypatch.setitem(data.DATASETS, "fake", info)
    return good, mirror_good


def test_download_skips_damaged_mirror_and_verifies(fake_dataset, tmp_path, capsys):
    good, _ = fake_dataset
    folder = data.download("fake", root=tmp_path / "root")
    assert (folder / "file.bin").read_bytes() == good
    assert not list(folder.glob("*.part")) and not list(folder.glob("*.tmp"))


def test_damaged_local_file_is_fetched_again(fake_dataset, tmp_path, capsys):
    good, _ = fake_dataset
    target = tmp_path / "root" / "fake" / "file.bin"
    target.parent.mkdir(parents=True)
    target.write_bytes(good[:100])  # a partial download from an earlier, interrupted run
    data.download("fake", root=tmp_path / "root")
    assert target.read_bytes() == good
    assert "damaged" in capsys.readouterr().out


def test_every_mirror_failing_lists_each_one(fake_dataset, tmp_path):
    _, mirror_good = fake_dataset
    (mirror_good / "file.bin").write_bytes(b"truncated")
    with pytest.raises(DataUnavailable) as error:
        data.download("fake", root=tmp_path / "root")
    message = str(error.value)
    assert "mirror_bad" in message and "mirror_good" in message and "damaged" in message
    assert not (tmp_path / "root" / "fake" / "file.bin").exists()  # nothing half-written is kept


def test_offline_mode_never_downloads(fake_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.raises(DataUnavailable, match="COURSE_OFFLINE=1"):
        data.download("fake", root=tmp_path / "root")


def test_unknown_dataset_name_lists_known_ones():
    with pytest.raises(KeyError, match="Known datasets: .*cifar10.*mnist"):
        data.download("imagenet")


def test_registry_entries_are_complete():
    for info in data.DATASETS.values():
        assert info.license and info.citation and info.files
        for remote in info.files:
            assert len(remote.sha256) == 64 and int(remote.sha256, 16) >= 0
            assert remote.urls and all(url.startswith(("https://", "http://")) for url in remote.urls)


def test_data_page_documents_every_dataset():
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "pages" / "data.md").read_text()
    for name in data.DATASETS:
        assert f"`{name}`" in page


@pytest.fixture(autouse=True)
def _announce_again(monkeypatch):
    monkeypatch.setattr(data, "_ANNOUNCED", set())  # each test sees the fallback notice afresh


def test_mnist_offline_uses_labelled_digits_fallback(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    train, test = datasets.load_mnist("train"), datasets.load_mnist("test")
    lines = [line for line in capsys.readouterr().out.splitlines() if line]
    assert len(lines) == 1 and "FALLBACK" in lines[0] and "NOT results on the real dataset" in lines[0]
    assert train.is_fallback and "FALLBACK" in train.description
    assert train.images.shape[1:] == (1, 28, 28) and train.images.dtype == torch.uint8
    assert len(train) == 1437 and len(test) == 360
    assert set(train.targets.tolist()) == set(range(10))
    x, y = train[0]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64


def test_mnist_from_course_data_dir_without_network(tmp_path, monkeypatch):
    """Pre-downloaded data in torchvision's layout is used offline, no fallback."""
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    labels = torch.tensor([3, 1, 4, 1, 5], dtype=torch.uint8)
    for prefix in ("train", "t10k"):
        header = (2051).to_bytes(4, "big") + (5).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(header + images.numpy().tobytes())
        header = (2049).to_bytes(4, "big") + (5).to_bytes(4, "big")
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(header + labels.numpy().tobytes())
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    train = datasets.load_mnist("train")
    assert not train.is_fallback and train.name == "MNIST"
    assert torch.equal(train.images[:, 0], images) and train.targets.tolist() == [3, 1, 4, 1, 5]


def test_gz_files_are_unpacked_after_verification(tmp_path, monkeypatch):
    payload = gzip.compress(b"unpacked content")
    source = tmp_path / "src.gz"
    source.write_bytes(payload)
    remote = RemoteFile("x.gz", hashlib.sha256(payload).hexdigest(), (source.as_uri(),), len(payload))
    monkeypatch.setitem(data.DATASETS, "gz", DatasetInfo("gz", "gz", "gz", (remote,), "none", "none", extract=True))
    folder = data.download("gz", root=tmp_path / "root")
    assert (folder / "x").read_bytes() == b"unpacked content"


def test_cifar10_offline_uses_learnable_synthetic_fallback(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    test = datasets.load_cifar10("test")
    assert test.is_fallback and "synthetic" in test.description
    assert test.images.shape == (4000, 3, 32, 32)
    assert torch.bincount(test.targets).tolist() == [400] * 10
    assert "FALLBACK" in capsys.readouterr().out


def test_image_dataset_split_and_subset(monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    flip = lambda image: image.flip(-1)  # noqa: E731
    full = datasets.load_mnist("train", transform=flip)
    train, dev = full.split(0.2, seed=0)
    assert len(train) + len(dev) == len(full) and len(dev) == round(0.2 * len(full))
    assert train.transform is flip and dev.transform is None  # never augment the dev split
    assert len(full.subset(100)) == 100
    x, _ = full.tensors()
    assert torch.allclose(full.unnormalize(x), full.images.float() / 255, atol=1e-6)


def test_transform_sees_pixel_values_then_normalisation(monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    seen = []
    plain = datasets.load_mnist("test")
    spy = datasets.load_mnist("test", transform=lambda image: seen.append(image) or 1 - image)  # inverts pixels
    x, _ = spy[0]
    assert 0 <= seen[0].min() and seen[0].max() <= 1  # the transform got pixel values in [0, 1]
    assert torch.allclose(x, plain.normalize(1 - plain.images[0].float() / 255))


def test_tabular_fallbacks_are_labelled(monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    survey = tabular.load_somerville()
    assert survey.is_fallback and list(survey.frame.columns) == ["D", "X1", "X2", "X3", "X4", "X5", "X6"]
    assert survey.frame.shape == (143, 7) and set(survey.labels.unique()) <= {0, 1}
    energy = tabular.load_energy()
    assert energy.is_fallback and "diabetes" in energy.description
    credit = tabular.load_credit_default()
    assert credit.is_fallback and credit.features.shape == (30000, 23)
    assert 0.2 < credit.labels.mean() < 0.25
