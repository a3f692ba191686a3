"""One home for the book: _config.yml's repository address drives the launch buttons, the install
cell of every chapter, the README and the setup page. The install cell is run here in fresh virtual
environments with made-up packages (fast); tests/colab_sim.py runs real chapters in a simulated Colab
(slow: COURSE_COLAB_SIM=1)."""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from course_utils import bookhome
from course_utils.bookhome import INSTALL_TAG, install_cell_source, load_home, sync

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
HOME = load_home(ROOT)
THIRD_PARTY = ("https://github.com/pytorch/", "https://github.com/jupyterhub/")  # named as tools, not as the book


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


# ---------------------------------------------------------------- the setting and what derives from it

def test_the_home_is_set_once_with_every_launch_service():
    assert HOME.url.startswith("https://github.com/") and "<" not in HOME.url
    links = HOME.launch_links("chapters/00_getting_started.ipynb")
    assert set(links) == {"Colab", "Binder", "JupyterHub", "download"}
    assert "/hub/user-redirect/git-pull?" in links["JupyterHub"]  # nbgitpuller


def test_readme_and_setup_page_agree_with_the_setting():
    stale = [path for path in sync(ROOT, write=False) if path.suffix == ".md"]
    assert not stale, f"{stale} disagree with _config.yml: run python -m course_utils.bookhome sync"
    for name in ("README.md", "pages/setup.md", "pages/offline.md"):
        text = (ROOT / name).read_text()
        assert "<owner>" not in text and "<repository>" not in text, f"{name} still has a placeholder address"
        outside = text.replace(bookhome.docs_block(HOME), "")
        assert "git+https://" not in outside, f"{name}: an install command outside the book-home block"
        for url in re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", outside):
            assert url == HOME.url or url.startswith(THIRD_PARTY), f"{name} names {url}, not the book's home {HOME.url}"


def test_every_chapter_has_the_current_install_cell():
    """Fails until the install cells are written: python -m course_utils.bookhome sync."""
    stale = [path.name for path in sync(ROOT, write=False) if path.suffix == ".ipynb"]
    assert not stale, f"{stale} lack the current install cell: run python -m course_utils.bookhome sync"
    for path in CHAPTERS:
        cells = nbformat.read(path, as_version=4).cells
        first_code = next(cell for cell in cells if cell.cell_type == "code")
        assert INSTALL_TAG in tags(first_code) and HOME.url in first_code.source


def book_copy(tmp_path: Path, chapters: list[Path]) -> Path:
    book = tmp_path / "book"
    (book / "chapters").mkdir(parents=True)
    (book / "pages").mkdir()
    shutil.copy(ROOT / "_config.yml", book)
    shutil.copy(ROOT / "README.md", book)
    shutil.copy(ROOT / "pages" / "setup.md", book / "pages")
    for path in chapters:
        notebook = nbformat.read(path, as_version=4)
        notebook.cells = [cell for cell in notebook.cells if INSTALL_TAG not in tags(cell)]
        nbformat.write(notebook, book / "chapters" / path.name)
    return book


def test_sync_writes_one_install_cell_idempotently_and_follows_a_new_home(tmp_path):
    book = book_copy(tmp_path, CHAPTERS[:2])
    before = {path.name: nbformat.read(path, as_version=4) for path in (book / "chapters").glob("*.ipynb")}
    assert set(before) <= {path.name for path in sync(book)}
    assert sync(book) == []  # a second run changes nothing
    for path in (book / "chapters").glob("*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        installs = [i for i, cell in enumerate(notebook.cells) if INSTALL_TAG in tags(cell)]
        first_code = next(i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code")
        assert installs == [first_code], path.name
        rest = [cell.source for cell in notebook.cells if INSTALL_TAG not in tags(cell)]
        assert rest == [cell.source for cell in before[path.name].cells]  # nothing else touched
        assert not notebook.cells[first_code].outputs

    config = book / "_config.yml"
    config.write_text(config.read_text().replace(HOME.url, "https://github.com/a-fork/dl-book")
                      .replace("branch: main", "branch: teaching"))
    changed = sync(book)
    assert {path.name for path in changed} == {*before, "README.md", "setup.md"}
    assert sync(book) == []
    for path in [*(book / "chapters").glob("*.ipynb"), book / "README.md", book / "pages" / "setup.md"]:
        text = path.read_text()
        assert "https://github.com/a-fork/dl-book" in text and HOME.url not in text, path.name
    cell = install_cell_source(load_home(book))
    assert 'BOOK_HOME = "https://github.com/a-fork/dl-book"' in cell and 'BOOK_BRANCH = "teaching"' in cell


def test_a_book_in_a_subfolder_is_installed_from_that_subfolder(tmp_path):
    """pyproject.toml lies next to _config.yml: pip must be told the folder (it failed: 'not a Python project')."""
    (tmp_path / "_config.yml").write_text(f"repository:\n  url: {HOME.url}\n  path_to_book: book/\n  branch: main\n")
    home = load_home(tmp_path)
    assert home.pip_requirement() == f"course-utils @ git+{HOME.url}@main#subdirectory=book"
    cell = install_cell_source(home)
    assert '@{BOOK_BRANCH}#subdirectory=book")' in cell and "#subdirectory" not in install_cell_source(HOME)


def test_bad_settings_get_a_clear_error(tmp_path):
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://github.com/<owner>/<repository>\n")
    with pytest.raises(ValueError, match="must be the book's GitHub address"):
        load_home(tmp_path)
    assert bookhome.main(["check", "--root", str(tmp_path)]) == 2


def test_install_cell_lines_fit_the_page():
    source = install_cell_source(HOME)
    compile(source, "install cell", "exec")
    assert max(len(line) for line in source.splitlines()) <= 80


# ---------------------------------------------------------------- the install cell, run for real

def test_install_cell_does_nothing_where_course_utils_is_installed(tmp_path):
    env = {**os.environ, "COURSE_UTILS_SOURCE": str(tmp_path / "no such wheel"), "PIP_NO_INDEX": "1"}
    result = subprocess.run([sys.executable, "-c", install_cell_source(HOME)], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def make_wheel(folder: Path, name: str, version: str, requires: list[str], files: dict[str, str]) -> Path:
    """A minimal pure-Python wheel, written by hand (no build tools, no network)."""
    dist = f"{name.replace('-', '_')}-{version}"
    contents = {**files,
                f"{dist}.dist-info/METADATA": "Metadata-Version: 2.1\n"
                f"Name: {name}\nVersion: {version}\n" + "".join(f"Requires-Dist: {r}\n" for r in requires),
                f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                           "Tag: py3-none-any\n"}
    record = []
    for path, text in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}.dist-info/RECORD,,")
    wheel = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in contents.items():
            archive.writestr(path, text)
        archive.writestr(f"{dist}.dist-info/RECORD", "\n".join(record) + "\n")
    return wheel


FAKE_DATA = "from pathlib import Path\ndef data_root():\n    return Path.home() / 'course_data'\n"


@pytest.fixture(scope="module")
def fake_index(tmp_path_factory):
    """A local package folder: torch 1.0 and 2.0, numpy 1.0, and two course-utils that need other versions."""
    folder = tmp_path_factory.mktemp("wheels")
    for version in ("1.0", "2.0"):
        make_wheel(folder, "torch", version, [], {"torch/__init__.py": f"__version__ = '{version}'\n"})
    make_wheel(folder, "numpy", "1.0", [], {"numpy/__init__.py": ""})
    make_wheel(folder, "helper", "1.0", ["torch>=2.0"], {"helper/__init__.py": ""})
    make_wheel(folder, "course-utils", "0.1", ["torch>=1.0", "numpy"],
               {"course_utils/__init__.py": "", "course_utils/data.py": FAKE_DATA})
    make_wheel(folder, "course-utils", "0.2", ["torch", "helper"],  # helper would pull torch 2.0 in
               {"course_utils/__init__.py": "", "course_utils/data.py": FAKE_DATA})
    return folder


@pytest.fixture(scope="module")
def fake_venv(tmp_path_factory, fake_index):
    """A fresh virtual environment with the made-up torch 1.0 and numpy 1.0 (made once, reset per test)."""
    folder = tmp_path_factory.mktemp("venv")
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PIP_", "COURSE_", "PYTHON"))}
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(fake_index), PIP_DISABLE_PIP_VERSION_CHECK="1",
               PIP_CONFIG_FILE=os.devnull)
    return venv, env


def fresh_env(tmp_path: Path, fake_venv) -> tuple[Path, dict]:
    """The shared environment with course_utils removed again and torch 1.0, numpy 1.0 as preinstalled."""
    venv, env = fake_venv
    env = {**env, "HOME": str(tmp_path / "home")}
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    subprocess.run([*pip, "uninstall", "--quiet", "-y", "course-utils", "helper"], env=env, timeout=300,
                   capture_output=True)
    subprocess.run([*pip, "install", "--quiet", "torch==1.0", "numpy==1.0"], check=True, env=env, timeout=300)
    return venv, env


def run_cell(venv: Path, env: dict, source: str, cwd: Path) -> subprocess.CompletedProcess:
    after = "\nimport course_utils, torch\nprint('course_utils from', course_utils.__file__, 'torch', torch.__version__)"
    return subprocess.run([str(venv / "bin" / "python"), "-c", install_cell_source(HOME) + after],
                          env={**env, "COURSE_UTILS_SOURCE": source}, cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_install_cell_installs_course_utils_and_keeps_torch(tmp_path, fake_venv):
    venv, env = fresh_env(tmp_path, fake_venv)
    bare = tmp_path / "bare"
    bare.mkdir()
    result = run_cell(venv, env, "course-utils==0.1", bare)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "keeping torch==1.0, numpy==1.0" in result.stdout
    assert f"Installed. Data folder: {tmp_path / 'home' / 'course_data'}" in result.stdout
    assert (tmp_path / "home" / "course_data").is_dir()
    assert "course_utils from " + str(venv) in result.stdout and "torch 1.0" in result.stdout


def test_install_cell_never_replaces_torch_and_says_why_it_failed(tmp_path, fake_venv):
    """course-utils 0.2 needs a package that needs torch 2.0: pip must refuse rather than replace torch 1.0."""
    venv, env = fresh_env(tmp_path, fake_venv)
    result = run_cell(venv, env, "course-utils==0.2", tmp_path)
    assert result.returncode != 0
    assert "Installing course_utils failed" in result.stderr and "COURSE_UTILS_SOURCE" in result.stderr
    version = subprocess.run([str(venv / "bin" / "python"), "-c", "import torch; print(torch.__version__)"],
                             capture_output=True, text=True, env=env).stdout.strip()
    assert version == "1.0"


# ---------------------------------------------------------------- the launch buttons, built for real

def test_launch_buttons_on_a_built_chapter_page(tmp_path):
    """A one-chapter book with this _config.yml: its page links to Colab, Binder, JupyterHub and the .ipynb."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    if not jupyter_book.exists():
        pytest.skip("jupyter-book is not installed here")
    book = tmp_path / "book"
    (book / "chapters").mkdir(parents=True)
    config = (ROOT / "_config.yml").read_text()
    config = re.sub(r"(?ms)^sphinx:.*", "", config).replace("execute_notebooks: force", "execute_notebooks: 'off'")
    (book / "_config.yml").write_text(config)
    (book / "_toc.yml").write_text("format: jb-book\nroot: chapters/00_getting_started\n")
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_markdown_cell("# A chapter"), nbformat.v4.new_code_cell("1 + 1")]
    nbformat.write(notebook, book / "chapters" / "00_getting_started.ipynb")
    result = subprocess.run([str(jupyter_book), "build", str(book), "--builder", "html"], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    page = (book / "_build" / "html" / "chapters" / "00_getting_started.html").read_text()
    links = HOME.launch_links("chapters/00_getting_started.ipynb")
    for name in ("Colab", "Binder", "JupyterHub"):
        assert html.escape(links[name]) in page or links[name] in page, f"no {name} button with {links[name]}"
    assert "download-notebook-button" in page or "_sources/chapters/00_getting_started.ipynb" in page


# ---------------------------------------------------------------- Binder

def pins(path: Path) -> dict[str, str]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return {name.lower(): version for name, _, version in
            (line.partition("==") for line in lines if "==" in line and not line.startswith("-"))}


def test_binder_pins_the_tested_versions_with_a_cpu_only_torch():
    binder, tested = pins(ROOT / "binder" / "requirements.txt"), pins(ROOT / "requirements.txt")
    text = (ROOT / "binder" / "requirements.txt").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text
    assert binder["torch"] == tested["torch"] + "+cpu" and binder["torchvision"] == tested["torchvision"] + "+cpu"
    for name, version in binder.items():
        if name not in ("torch", "torchvision"):
            assert tested.get(name) == version, f"binder pins {name}=={version}, requirements.txt {tested.get(name)}"
    # postBuild installs course_utils with --no-deps: every one of its requirements must be pinned here
    import tomllib
    needed = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!~ \[;]", requirement)[0].lower() for requirement in needed}
    assert names <= set(binder), f"binder/requirements.txt lacks {sorted(names - set(binder))}"
    post_build = ROOT / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK) and "--no-deps -e ." in post_build.read_text()
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"


# ---------------------------------------------------------------- the simulated Colab (slow)

@pytest.mark.skipif(os.environ.get("COURSE_COLAB_SIM") != "1",
                    reason="slow (a 5 GB environment, built once; then about a minute per chapter): "
                           "COURSE_COLAB_SIM=1 runs it")
def test_chapter_0_runs_alone_in_a_simulated_colab_and_torch_is_kept():
    sys.path.insert(0, str(ROOT / "tests"))
    import colab_sim

    venv = Path(os.environ.get("COURSE_COLAB_SIM_VENV", colab_sim.DEFAULT_VENV))
    results, before, after = colab_sim.simulate([ROOT / "chapters" / "00_getting_started.ipynb"], venv, fast=True)
    [result] = results
    assert result["ok"], result["error"]
    assert result["installed"] and result["kept"], result  # the cell installed course_utils, torch untouched
    assert before == after and before["torch"] == "2.13.0"
    assert result["data_folder"].endswith("home/course_data")
