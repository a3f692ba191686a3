"""The registry: verified downloads, mirrors, damaged files, offline mode, fallbacks."""

import gzip
import hashlib
import time

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
    import importlib
    import pkgutil
    from pathlib import Path

    import course_utils

    for module in pkgutil.iter_modules(course_utils.__path__):  # modules of later chapters register their data
        importlib.import_module(f"course_utils.{module.name}")
    page = (Path(__file__).resolve().parents[1] / "pages" / "data.md").read_text()
    missing = [name for name in data.DATASETS if f"`{name}`" not in page]
    assert not missing, f"pages/data.md does not describe {missing}"


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
    assert len(train) == 1437 * datasets.DIGIT_COPIES[True] and len(test) == 360 * datasets.DIGIT_COPIES[False]
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


# ---- unpacked files: re-unpacked when missing or changed, verified before use (issue 11, point 2) ------------
def _gz_dataset(tmp_path, monkeypatch, name, folder, files: dict[str, bytes]) -> DatasetInfo:
    """Register dataset `name` whose .gz archives (of `files`) come from a local mirror."""
    mirror = tmp_path / f"mirror_{name}"
    mirror.mkdir()
    remotes = []
    for file_name, content in files.items():
        payload = gzip.compress(content, mtime=0)
        (mirror / f"{file_name}.gz").write_bytes(payload)
        remotes.append(RemoteFile(f"{file_name}.gz", hashlib.sha256(payload).hexdigest(),
                                  ((mirror / f"{file_name}.gz").as_uri(),), len(payload)))
    info = DatasetInfo(name, f"{name} (for tests)", folder, tuple(remotes), "none", "none", extract=True)
    monkeypatch.setitem(data.DATASETS, name, info)
    return info


def _idx(images: torch.Tensor, labels: torch.Tensor) -> tuple[bytes, bytes]:
    """MNIST's IDX format: a big-endian header (magic, counts, sizes), then the bytes."""
    image_header = b"".join(n.to_bytes(4, "big") for n in (2051, len(images), 28, 28))
    label_header = b"".join(n.to_bytes(4, "big") for n in (2049, len(labels)))
    return image_header + images.numpy().tobytes(), label_header + labels.numpy().tobytes()


@pytest.fixture
def fake_mnist(tmp_path, monkeypatch):
    """The "mnist" entry pointed at a local mirror of a 5-image MNIST; returns the training images and labels."""
    images = torch.randint(1, 256, (5, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([3, 1, 4, 1, 5], dtype=torch.uint8)
    image_bytes, label_bytes = _idx(images, labels)
    _gz_dataset(tmp_path, monkeypatch, "mnist", "MNIST/raw", {
        "train-images-idx3-ubyte": image_bytes, "train-labels-idx1-ubyte": label_bytes,
        "t10k-images-idx3-ubyte": image_bytes, "t10k-labels-idx1-ubyte": label_bytes})
    return images, labels


def _damage(path, how: str) -> None:
    content = path.read_bytes()
    if how == "deleted":
        path.unlink()
    elif how == "random bytes":
        path.write_bytes(bytes(torch.randint(0, 256, (len(content),), dtype=torch.uint8).tolist()))
    elif how == "truncated":
        path.write_bytes(content[:len(content) // 2])
    elif how == "zeroed":  # header intact, pixels zeroed: the same size, only a checksum notices
        path.write_bytes(content[:16] + bytes(len(content) - 16))


DAMAGES = ["deleted", "random bytes", "truncated", "zeroed"]


@pytest.mark.parametrize("offline", [False, True], ids=["online", "offline"])
@pytest.mark.parametrize("how", DAMAGES)
def test_damaged_unpacked_mnist_is_unpacked_again(fake_mnist, how, offline, tmp_path, monkeypatch, capsys):
    """With the verified archive at hand, a damaged unpacked file is unpacked again (offline too), never used."""
    images, labels = fake_mnist
    assert torch.equal(datasets.load_mnist("train").images[:, 0], images)
    if offline:
        monkeypatch.setenv("COURSE_OFFLINE", "1")
    _damage(tmp_path / "data" / "MNIST" / "raw" / "train-images-idx3-ubyte", how)
    train = datasets.load_mnist("train")
    assert not train.is_fallback and "FALLBACK" not in capsys.readouterr().out
    assert torch.equal(train.images[:, 0], images) and train.targets.tolist() == labels.tolist()


@pytest.mark.parametrize("how", DAMAGES)
def test_archive_fetched_again_is_unpacked_again(fake_mnist, how, tmp_path, capsys):
    """A damaged archive is fetched again, and what was unpacked from it is checked, not trusted."""
    images, _ = fake_mnist
    raw = data.download("mnist")
    (raw / "train-images-idx3-ubyte.gz").write_bytes(b"partial")
    _damage(raw / "train-images-idx3-ubyte", how)
    data.download("mnist")
    assert "damaged" in capsys.readouterr().out
    assert torch.equal(datasets.load_mnist("train").images[:, 0], images)


@pytest.mark.parametrize("how, says, record", [
    ("random bytes", "not an MNIST file", False), ("truncated", "truncated", False), ("zeroed", "changed", True)])
def test_damaged_mnist_without_archive_is_reported_offline(fake_mnist, how, says, record, monkeypatch, capsys):
    """Unpacked files only, offline: a damaged one is named in the fallback line and left in place.

    Files unpacked by other means (no record) are checked by format; recorded ones by checksum.
    """
    raw = data.download("mnist")
    for archive in raw.glob("*.gz") if record else raw.glob("*gz*"):  # "*gz*": the hidden records too
        archive.unlink()
    _damage(raw / "train-images-idx3-ubyte", how)
    damaged = (raw / "train-images-idx3-ubyte").read_bytes()
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    train = datasets.load_mnist("train")
    lines = [line for line in capsys.readouterr().out.splitlines() if line]
    assert train.is_fallback and len(lines) == 1
    assert "train-images-idx3-ubyte" in lines[0] and says in lines[0] and "COURSE_OFFLINE=1" in lines[0]
    assert (raw / "train-images-idx3-ubyte").read_bytes() == damaged  # offline mode deletes nothing


def test_unpacking_is_recorded_with_the_archive_checksum(fake_mnist):
    import json

    raw = data.download("mnist")
    remote = data.DATASETS["mnist"].files[0]
    record = json.loads((raw / f".{remote.name}.extracted").read_text())
    assert record["archive_sha256"] == remote.sha256
    unpacked = raw / "train-images-idx3-ubyte"
    assert record["files"][unpacked.name] == [5 * 28 * 28 + 16, data.sha256sum(unpacked)]
    assert data.check_unpacked("mnist") is None
    _damage(raw / "train-images-idx3-ubyte", "zeroed")
    assert "damaged" in data.check_unpacked("mnist")


def test_damaged_cifar_batch_is_unpacked_again(tmp_path, monkeypatch):
    """The tar.gz path: a deleted or changed file below the archive's folder is unpacked again."""
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in (("batches/data_1", b"first batch" * 100), ("batches/meta", b"meta")):
            member = tarfile.TarInfo(name)
            member.size = len(content)
            tar.addfile(member, io.BytesIO(content))
    archive = tmp_path / "pack.tar.gz"
    archive.write_bytes(buffer.getvalue())
    remote = RemoteFile("pack.tar.gz", data.sha256sum(archive), (archive.as_uri(),), archive.stat().st_size)
    monkeypatch.setitem(data.DATASETS, "pack", DatasetInfo("pack", "pack", "", (remote,), "none", "none", extract=True))
    folder = data.download("pack")
    (folder / "batches" / "meta").unlink()
    (folder / "batches" / "data_1").write_bytes(b"tampered!!!" * 100)
    data.download("pack")
    assert (folder / "batches" / "meta").read_bytes() == b"meta"
    assert (folder / "batches" / "data_1").read_bytes() == b"first batch" * 100


# ---- a data folder that cannot be used, and offline mode (issue 11, point 3) ----------------------------------
@pytest.fixture
def read_only(tmp_path):
    """Make a folder read-only for this process: chmod for a user, the immutable attribute for root."""
    import os
    import subprocess

    made = []

    def make(folder):
        folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            folder.chmod(0o555)
        elif subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
            pytest.skip("running as root without chattr: no way to make a folder read-only")
        made.append(folder)
        return folder

    yield make
    for folder in made:
        if os.geteuid() != 0:
            folder.chmod(0o755)
        else:
            subprocess.run(["chattr", "-i", str(folder)])


def _loaders_fall_back_with_one_line(capsys, says: str) -> None:
    data._ANNOUNCED.clear()
    assert datasets.load_mnist("test").is_fallback and tabular.load_somerville().is_fallback
    lines = [line for line in capsys.readouterr().out.splitlines() if line]
    assert len(lines) == 2 and all("FALLBACK" in line and says in line for line in lines), lines


@pytest.mark.parametrize("offline", [False, True], ids=["online", "offline"])
def test_data_dir_that_is_a_file_is_explained(fake_dataset, offline, tmp_path, monkeypatch, capsys):
    not_a_folder = tmp_path / "data.txt"
    not_a_folder.write_text("not a folder")
    monkeypatch.setenv("COURSE_DATA_DIR", str(not_a_folder))
    if offline:
        monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.raises(DataUnavailable, match=r"data.txt is a file, not a folder; set COURSE_DATA_DIR to a folder"):
        data.download("fake")
    _loaders_fall_back_with_one_line(capsys, "is a file, not a folder")


@pytest.mark.parametrize("offline", [False, True], ids=["online", "offline"])
def test_read_only_data_dir_is_explained(fake_dataset, offline, read_only, tmp_path, monkeypatch, capsys):
    folder = read_only(tmp_path / "data")
    if offline:
        monkeypatch.setenv("COURSE_OFFLINE", "1")
        with pytest.raises(DataUnavailable, match="COURSE_OFFLINE=1"):
            data.download("fake")
        _loaders_fall_back_with_one_line(capsys, "COURSE_OFFLINE=1")
    else:
        with pytest.raises(DataUnavailable, match=r"data is read-only .*set COURSE_DATA_DIR to a folder you can write"):
            data.download("fake")
        _loaders_fall_back_with_one_line(capsys, "is read-only")
    assert not any(folder.iterdir())  # nothing created


def test_offline_mode_keeps_damaged_files_and_creates_no_folders(fake_dataset, tmp_path, monkeypatch, capsys):
    good, _ = fake_dataset
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    root = tmp_path / "root"
    with pytest.raises(DataUnavailable):
        data.download("fake", root=root)
    assert not root.exists()  # the offline check comes before any folder is made
    target = root / "fake" / "file.bin"
    target.parent.mkdir(parents=True)
    target.write_bytes(good[:100])
    with pytest.raises(DataUnavailable, match=r"file.bin is damaged .*COURSE_OFFLINE=1 forbids downloading a new copy"):
        data.download("fake", root=root)
    assert target.read_bytes() == good[:100]  # reported, not deleted
    assert "fetching it again" not in capsys.readouterr().out


def test_a_mirror_that_is_not_a_url_is_skipped_not_fatal(tmp_path):
    # COURSE_DATA_MIRROR=/srv/mirror (no file://) made urlopen raise ValueError, which escaped the loop
    payload = b"the real bytes"
    source = tmp_path / "f.bin"
    source.write_bytes(payload)
    remote = RemoteFile("f.bin", hashlib.sha256(payload).hexdigest(), (source.as_uri(),), len(payload))
    target = tmp_path / "out" / "f.bin"
    target.parent.mkdir()
    data._fetch(remote, target, timeout=5, mirrors=["/srv/mirror/f.bin"])
    assert target.read_bytes() == payload


def _tar_gz(path, members):
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tar:
        for name, text in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text))


def test_unpacking_works_and_stays_safe_without_the_tar_data_filter(tmp_path, monkeypatch):
    # Python before 3.10.12 / 3.11.4 has no extractall(filter=...): it raised TypeError there
    import tarfile

    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    _tar_gz(tmp_path / "good.tar.gz", {"set/a.txt": b"aaa", "set/b.txt": b"bb"})
    files = data._extract(tmp_path / "good.tar.gz")
    assert sorted(files) == ["set/a.txt", "set/b.txt"] and (tmp_path / "set" / "b.txt").read_bytes() == b"bb"
    (tmp_path / "inner").mkdir()
    _tar_gz(tmp_path / "inner" / "evil.tar.gz", {"../escaped.txt": b"x"})
    with pytest.raises(DataUnavailable, match="unsafe member"):
        data._extract(tmp_path / "inner" / "evil.tar.gz")
    assert not (tmp_path / "escaped.txt").exists()


_STUDENT = """
import json, sys, time
from pathlib import Path
from course_utils import data
spec, root, go, ready = json.loads(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
remotes = tuple(data.RemoteFile(name, sha, (url,), size) for name, sha, url, size in spec)
data.register_dataset(data.DatasetInfo("race", "Race data", "race", remotes, "none", "none", extract=True))
ready.touch()
while not go.exists():  # every student starts at the same moment
    time.sleep(0.001)
try:
    folder = data.download("race", root)
    print("ok", data.check_unpacked("race", root))
except Exception as error:
    print("CRASH", type(error).__name__, error)
"""


def test_students_loading_a_dataset_at_once_all_get_it(tmp_path):
    """Four processes fetch and unpack the same archives into one folder at once: each gets the verified data.

    With fixed temporary names and no lock, they truncated and deleted each other's halves.
    """
    import json
    import os
    import subprocess
    import sys

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    spec = []
    for index in range(2):
        content = hashlib.sha256(str(index).encode()).digest() * (1 << 19)  # 16 MB unpacked
        (mirror / f"part{index}.gz").write_bytes(gzip.compress(content, compresslevel=1, mtime=0))
        archive = mirror / f"part{index}.gz"
        spec.append((archive.name, data.sha256sum(archive), archive.as_uri(), archive.stat().st_size))
    root, go = tmp_path / "shared", tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    ready = [tmp_path / f"ready{index}" for index in range(4)]
    students = [subprocess.Popen([sys.executable, "-c", _STUDENT, json.dumps(spec), str(root), str(go), str(flag)],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
                for flag in ready]
    while not all(flag.exists() for flag in ready) and all(student.poll() is None for student in students):
        time.sleep(0.01)  # until every student has imported torch and waits at the start line
    go.touch()
    outputs = [student.communicate(timeout=120)[0] for student in students]
    assert all(output.strip().endswith("ok None") for output in outputs), outputs
    assert [path.name for path in sorted((root / "race").iterdir()) if path.suffix == ".part"] == []
    for index in range(2):
        unpacked = (root / "race" / f"part{index}").read_bytes()
        assert unpacked == hashlib.sha256(str(index).encode()).digest() * (1 << 19)


def test_a_full_disk_while_unpacking_is_explained_and_leaves_nothing(fake_mnist, tmp_path, monkeypatch):
    def full_disk(source, target, *args):
        target.write(b"x" * 1000)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(data.shutil, "copyfileobj", full_disk)
    with pytest.raises(DataUnavailable, match="cannot unpack train-images-idx3-ubyte.gz into .*No space left"):
        data.download("mnist", root=tmp_path / "root")
    folder = tmp_path / "root" / "MNIST" / "raw"
    assert not list(folder.glob("*.part")) and not list(folder.glob("*-ubyte"))  # no half-unpacked file
    monkeypatch.undo()


def test_a_second_process_waits_for_the_first_and_says_so(fake_dataset, tmp_path, capsys):
    import threading

    import filelock

    folder = tmp_path / "root" / "fake"
    folder.mkdir(parents=True)
    held = threading.Event()

    def other_process():  # a thread stands in for it: the lock is the same
        with filelock.FileLock(folder / ".course-data.lock"):
            held.set()
            time.sleep(0.5)

    other = threading.Thread(target=other_process)
    other.start()
    held.wait()
    started = time.perf_counter()
    data.download("fake", root=tmp_path / "root")
    other.join()
    assert time.perf_counter() - started >= 0.4
    assert "another process is fetching or unpacking Fake data (for tests)" in capsys.readouterr().out


def test_files_written_are_readable_like_any_new_file(fake_dataset, tmp_path):
    """A class's shared data folder and a TA reading checkpoints need the usual permissions, not mkstemp's 0o600."""
    import os

    from course_utils.checkpoint import atomic_save

    old = os.umask(0o022)
    try:
        downloaded = data.download("fake", root=tmp_path / "root") / "file.bin"
        saved = atomic_save({"x": 1}, tmp_path / "run.pt")
    finally:
        os.umask(old)
    assert downloaded.stat().st_mode & 0o777 == 0o644 and saved.stat().st_mode & 0o777 == 0o644


def test_what_killed_downloads_and_unpackings_left_is_cleared(fake_mnist, tmp_path):
    folder = tmp_path / "root" / "MNIST" / "raw"
    folder.mkdir(parents=True)
    left = [folder / ".train-images-idx3-ubyte.gz.k1ll3d.part", folder / ".t10k-labels-idx1-ubyte.k1ll3d.part",
            folder / "..train-labels-idx1-ubyte.gz.extracted.k1ll3d.part"]
    for path in left:
        path.write_bytes(b"half")
    mine = folder / ".notes.k1ll3d.part"  # not the dataset's: left alone
    mine.write_bytes(b"x")
    data.download("mnist", root=tmp_path / "root")
    assert not any(path.exists() for path in left) and mine.exists()
