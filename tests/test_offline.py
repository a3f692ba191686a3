"""The offline classroom kit: an institution mirror on 127.0.0.1, fetch, verify and import of a copied folder.

Every dataset here is made up and registered by the test; nothing real is downloaded.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import tarfile
import threading
from pathlib import Path

import pytest

from course_utils import data, offline
from course_utils.data import DataUnavailable, DatasetInfo, RemoteFile

CLOSED = "http://127.0.0.1:9/"  # the discard port: nothing listens there, so a "public host" that always fails


class Server:
    """A static HTTP server on 127.0.0.1 that records the paths it was asked for."""

    def __init__(self, folder: Path):
        hits = self.hits = []

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=folder))
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files.items():
            member = tarfile.TarInfo(name)
            member.size = len(content)
            tar.addfile(member, io.BytesIO(content))
    return buffer.getvalue()


TABLE = b"rating,happy\n" + b"".join(f"{i % 5},{i % 2}\n".encode() for i in range(200))
WEIGHTS = bytes(range(256)) * 40
ARCHIVE = tar_gz({"toy_batches/batch_1": b"a" * 1000, "toy_batches/batch_2": b"b" * 500})


@pytest.fixture
def toy_registry(monkeypatch):
    """Three made-up datasets: a table with a space in its name, weights, and an archive to unpack."""
    monkeypatch.setattr(data, "DATASETS", dict(data.DATASETS))
    monkeypatch.setattr(offline, "_REGISTERING_MODULES", ())
    infos = [
        DatasetInfo("toy_table", "Toy table", "toy_table",
                    (RemoteFile("toy survey.csv", sha(TABLE), (CLOSED + "toy survey.csv",), len(TABLE)),),
                    license="made up for the test", citation="none"),
        DatasetInfo("toy_weights", "Toy weights", "weights",
                    (RemoteFile("toy-1234.pth", sha(WEIGHTS), (CLOSED + "toy-1234.pth",)),),
                    license="made up for the test", citation="none"),
        DatasetInfo("toy_archive", "Toy archive", "",
                    (RemoteFile("toy.tar.gz", sha(ARCHIVE), (CLOSED + "toy.tar.gz",), len(ARCHIVE)),),
                    license="made up for the test", citation="none", extract=True),
    ]
    for info in infos:
        data.register_dataset(info)
    return [info.name for info in infos]


CONTENTS = {"toy_table/toy survey.csv": TABLE, "weights/toy-1234.pth": WEIGHTS, "toy.tar.gz": ARCHIVE}


def write_tree(folder: Path, contents: dict[str, bytes]) -> Path:
    for relative, content in contents.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(content)
    return folder


@pytest.fixture
def mirror(tmp_path):
    server = Server(write_tree(tmp_path / "mirror", CONTENTS))
    yield server
    server.close()


def test_fetch_uses_the_institution_mirror_before_the_public_hosts(toy_registry, mirror, tmp_path, monkeypatch):
    public = Server(write_tree(tmp_path / "public", {"toy-1234.pth": WEIGHTS}))
    try:
        # The weights' public host is a live server here: it must not be asked.
        data.DATASETS["toy_weights"] = DatasetInfo(
            "toy_weights", "Toy weights", "weights",
            (RemoteFile("toy-1234.pth", sha(WEIGHTS), (public.url + "/toy-1234.pth",)),),
            license="made up for the test", citation="none")
        monkeypatch.setenv("COURSE_DATA_MIRROR", mirror.url)
        root = tmp_path / "classroom"
        outcomes = offline.fetch(root, toy_registry)
        assert [o.ok for o in outcomes] == [True, True, True], [o.detail for o in outcomes]
        assert (root / "toy_table" / "toy survey.csv").read_bytes() == TABLE
        assert (root / "weights" / "toy-1234.pth").read_bytes() == WEIGHTS
        assert (root / "toy_batches" / "batch_2").read_bytes() == b"b" * 500  # the archive was unpacked
        assert "/toy_table/toy%20survey.csv" in mirror.hits  # a name with a space, quoted
        assert public.hits == []  # the mirror answered, so the public host was never asked
        assert all(o.ok for o in offline.verify(root, toy_registry))
    finally:
        public.close()


def test_a_mirror_can_be_a_folder(toy_registry, tmp_path, monkeypatch):
    """file:// mirrors: a network share or a stick mounted on every machine of the lab."""
    share = write_tree(tmp_path / "share", CONTENTS)
    monkeypatch.setenv("COURSE_DATA_MIRROR", share.as_uri())
    assert all(o.ok for o in offline.fetch(tmp_path / "root", toy_registry))


def test_a_damaged_file_on_the_mirror_is_rejected_and_the_next_host_tried(toy_registry, tmp_path, monkeypatch):
    bad = Server(write_tree(tmp_path / "bad", {**CONTENTS, "weights/toy-1234.pth": WEIGHTS[:-1] + b"X"}))
    good = Server(write_tree(tmp_path / "good", CONTENTS))
    try:
        monkeypatch.setenv("COURSE_DATA_MIRROR", f"{bad.url} {good.url}")  # several mirrors, in order
        root = tmp_path / "root"
        assert all(o.ok for o in offline.fetch(root, ["toy_weights"]))
        assert (root / "weights" / "toy-1234.pth").read_bytes() == WEIGHTS
        assert bad.hits == ["/weights/toy-1234.pth"] and good.hits == ["/weights/toy-1234.pth"]
    finally:
        bad.close()
        good.close()


def test_fetch_reports_a_dataset_that_no_host_has(toy_registry, tmp_path, monkeypatch, capsys):
    empty = Server(write_tree(tmp_path / "empty", {"unrelated.txt": b"x"}))
    try:
        monkeypatch.setenv("COURSE_DATA_MIRROR", empty.url)
        root = tmp_path / "root"
        code = offline.main(["fetch", "--data-dir", str(root), "--only", "toy_weights"])
        out = capsys.readouterr().out
        assert code == 1 and "FAILED toy_weights" in out and f"tried {empty.url}/weights" in out, out
        assert not (root / "weights" / "toy-1234.pth").exists()
        assert not list(root.rglob("*.part"))  # nothing half-written left behind
    finally:
        empty.close()


def test_verify_finds_a_damaged_file_and_a_damaged_unpacked_file(toy_registry, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_DATA_MIRROR", write_tree(tmp_path / "share", CONTENTS).as_uri())
    root = tmp_path / "root"
    offline.fetch(root, toy_registry)
    assert offline.main(["verify", "--data-dir", str(root), "--only", *toy_registry]) == 0
    (root / "weights" / "toy-1234.pth").write_bytes(WEIGHTS[::-1])  # same size, other bytes
    (root / "toy_batches" / "batch_1").write_bytes(b"c" * 1000)
    outcomes = {o.name: o for o in offline.verify(root, toy_registry)}
    assert not outcomes["toy_weights"].ok and "SHA-256" in outcomes["toy_weights"].detail
    assert not outcomes["toy_archive"].ok and "batch_1" in outcomes["toy_archive"].detail
    assert outcomes["toy_table"].ok
    capsys.readouterr()
    assert offline.main(["verify", "--data-dir", str(root), "--only", *toy_registry]) == 1
    assert "not complete: toy_weights, toy_archive" in capsys.readouterr().out


def tree_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): sha(p.read_bytes()) for p in folder.rglob("*") if p.is_file()}


def test_import_checks_every_file_rejects_a_damaged_one_and_loses_nothing(toy_registry, tmp_path):
    # A stick with the table in the data folder's layout, the weights thrown in flat, a damaged archive.
    stick = write_tree(tmp_path / "stick", {"toy_table/toy survey.csv": TABLE, "toy-1234.pth": WEIGHTS,
                                            "toy.tar.gz": ARCHIVE[:-10] + b"0123456789"})
    before = tree_hashes(stick)
    root = tmp_path / "lab"
    outcomes = {o.name: o for o in offline.import_folder(stick, root, toy_registry)}
    assert outcomes["toy_table"].ok and outcomes["toy_weights"].ok
    assert not outcomes["toy_archive"].ok and "rejected" in outcomes["toy_archive"].detail
    assert (root / "weights" / "toy-1234.pth").read_bytes() == WEIGHTS  # found by name, placed by the registry
    assert not (root / "toy.tar.gz").exists()  # the damaged copy was not imported
    assert tree_hashes(stick) == before  # the source is never changed

    # A second stick: a good archive, and a damaged table that must not replace the verified one.
    stick2 = write_tree(tmp_path / "stick2", {"toy.tar.gz": ARCHIVE, "toy_table/toy survey.csv": b"broken"})
    outcomes = {o.name: o for o in offline.import_folder(stick2, root, toy_registry)}
    assert all(o.ok for o in outcomes.values()), outcomes
    assert (root / "toy_table" / "toy survey.csv").read_bytes() == TABLE
    assert (root / "toy_batches" / "batch_1").read_bytes() == b"a" * 1000  # unpacked after the import
    assert not list(root.rglob("*.part"))


def test_import_replaces_a_damaged_file_only_with_a_verified_one(toy_registry, tmp_path):
    root = write_tree(tmp_path / "lab", {"weights/toy-1234.pth": b"truncated"})
    bad_stick = write_tree(tmp_path / "bad", {"weights/toy-1234.pth": WEIGHTS[:100]})
    [outcome] = offline.import_folder(bad_stick, root, ["toy_weights"])
    assert not outcome.ok and "rejected" in outcome.detail
    assert (root / "weights" / "toy-1234.pth").read_bytes() == b"truncated"  # left as it was, reported
    good_stick = write_tree(tmp_path / "good", {"weights/toy-1234.pth": WEIGHTS})
    [outcome] = offline.import_folder(good_stick, root, ["toy_weights"])
    assert outcome.ok and (root / "weights" / "toy-1234.pth").read_bytes() == WEIGHTS


def test_the_command_line_explains_bad_input(toy_registry, tmp_path, capsys):
    assert offline.main(["import", str(tmp_path / "no such stick"), "--data-dir", str(tmp_path)]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert offline.main(["verify", "--only", "no_such_dataset"]) == 2
    assert "Known datasets" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        offline.main(["import"])
    assert "needs the folder" in capsys.readouterr().err


def test_every_real_dataset_is_listed_with_its_checksum():
    """The kit covers every dataset and weight file that the chapters' modules register."""
    names = {info.name for info in offline.all_datasets()}
    assert {"mnist", "cifar10", "somerville", "energy", "credit_default", "song_years", "imdb",
            "style_content", "style_painting", "vgg19_imagenet"} <= names
    for info in offline.all_datasets():
        assert all(len(remote.sha256) == 64 and remote.urls for remote in info.files), info.name


def test_mirror_urls_follow_the_data_folder_layout(monkeypatch):
    monkeypatch.setenv("COURSE_DATA_MIRROR", "http://lab.local/data/ file:///mnt/share")
    info = data.dataset_info("credit_default")
    assert data.mirror_urls(info, info.files[0]) == [
        "http://lab.local/data/credit_default/default%20of%20credit%20card%20clients.xls",
        "file:///mnt/share/credit_default/default%20of%20credit%20card%20clients.xls"]
    monkeypatch.delenv("COURSE_DATA_MIRROR")
    assert data.mirror_urls(info, info.files[0]) == []


def test_download_offline_argument_overrides_the_environment(toy_registry, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_MIRROR", write_tree(tmp_path / "share", CONTENTS).as_uri())
    with pytest.raises(DataUnavailable, match="forbids downloading"):
        data.download("toy_table", tmp_path / "root", offline=True)
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    assert (data.download("toy_table", tmp_path / "root", offline=False) / "toy survey.csv").read_bytes() == TABLE


def test_verify_says_when_archives_were_never_unpacked(toy_registry, tmp_path):
    """Archives copied by hand but never unpacked: the chapters would have to unpack them, so it is not complete."""
    root = write_tree(tmp_path / "class", {"toy.tar.gz": ARCHIVE})
    [outcome] = offline.verify(root, ["toy_archive"])
    assert not outcome.ok and "never unpacked" in outcome.detail and "--only toy_archive" in outcome.detail
    assert offline.main(["fetch", "--data-dir", str(root), "--only", "toy_archive"]) == 0  # unpacks, fetches nothing
    [outcome] = offline.verify(root, ["toy_archive"])
    assert outcome.ok, outcome.detail


def test_import_onto_a_full_disk_reports_each_dataset_and_leaves_nothing(toy_registry, tmp_path, monkeypatch,
                                                                           capsys):
    def full_disk(source, target):
        Path(target).write_bytes(b"x" * 10)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(offline.shutil, "copyfile", full_disk)
    stick, root = write_tree(tmp_path / "stick", CONTENTS), tmp_path / "lab"
    assert offline.main(["import", str(stick), "--data-dir", str(root), "--only", *toy_registry]) == 1
    out = capsys.readouterr().out
    assert out.count("No space left on device") == 3 and "not complete: toy_table, toy_weights, toy_archive" in out
    assert not [path for path in root.rglob("*") if path.is_file() and path.name != ".course-data.lock"]


def test_import_into_a_read_only_folder_is_refused_before_copying(toy_registry, tmp_path, monkeypatch):
    stick, root = write_tree(tmp_path / "stick", CONTENTS), tmp_path / "lab"
    root.mkdir()
    monkeypatch.setattr(data.os, "access", lambda path, mode: False)  # the tests run as root: chmod would not do
    outcomes = offline.import_folder(stick, root, toy_registry)
    assert all(not o.ok and "read-only" in o.detail for o in outcomes), outcomes
    assert list(root.iterdir()) == []
