"""The book's public home, set once in `_config.yml`, and everything derived from it.

    python -m course_utils.bookhome sync    # write the install cells and the README/setup links
    python -m course_utils.bookhome sync --docs-only   # README and setup page only
    python -m course_utils.bookhome check   # exit 1, listing the files that disagree with _config.yml
    python -m course_utils.bookhome show    # print the home and the launch links of chapter 0

`_config.yml` holds the repository address (`repository: url`, `branch`,
`path_to_book`) and the launch services (`launch_buttons`). Jupyter Book makes
the launch buttons from it; this module writes, from the same setting:

* the install cell at the top of every chapter (tagged `install`), which makes a
  chapter run alone in Colab or on a JupyterHub: where `course_utils` is missing
  it pip-installs it from the home, with a constraints file that pins the
  torch, torchvision, torchaudio and numpy already installed, so they are kept;
  elsewhere it does nothing. `COURSE_UTILS_SOURCE` replaces the source (a
  wheel, a local clone, `course-utils @ git+file:///...`) for labs and tests;
* the links and the install command between the `book-home` markers of
  README.md and pages/setup.md.

A fork changes `repository: url` in `_config.yml` and runs `sync`.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import nbformat

__all__ = ["BookHome", "INSTALL_TAG", "install_cell_source", "load_home", "main", "sync"]

ROOT = Path(__file__).resolve().parents[1]
INSTALL_TAG = "install"
BEGIN = "<!-- book-home: written by `python -m course_utils.bookhome sync` from _config.yml; edit there -->"
END = "<!-- /book-home -->"
DOCS = ("README.md", "pages/setup.md")
_UI = {"classic": "tree", "jupyterlab": "lab/tree"}


@dataclass(frozen=True)
class BookHome:
    url: str  # https://github.com/ORG/REPO
    branch: str
    path_to_book: str  # the book's folder inside the repository ("" for its root)
    binderhub_url: str
    jupyterhub_url: str
    colab_url: str
    interface: str  # "classic" or "jupyterlab"

    @property
    def org_repo(self) -> tuple[str, str]:
        org, repo = self.url.removeprefix("https://github.com/").split("/")[:2]
        return org, repo

    def repo_path(self, notebook: str) -> str:
        """A notebook's path inside the repository, e.g. 'chapters/00_getting_started.ipynb'."""
        return "/".join(part for part in (self.path_to_book.strip("/"), notebook) if part)

    def pip_requirement(self) -> str:
        return f"course-utils @ git+{self.url}@{self.branch}{self.pip_subdirectory}"

    @property
    def pip_subdirectory(self) -> str:
        """pip's `#subdirectory=` for a book that is not at the repository's root (its pyproject.toml is in it)."""
        folder = self.path_to_book.strip("/")
        return f"#subdirectory={folder}" if folder else ""

    def launch_links(self, notebook: str) -> dict[str, str]:
        """The addresses that Jupyter Book's launch buttons give `notebook` (same rules as sphinx-book-theme)."""
        org, repo = self.org_repo
        path, ui = self.repo_path(notebook), _UI[self.interface]
        links = {}
        if self.colab_url:
            links["Colab"] = f"{self.colab_url.strip('/')}/github/{org}/{repo}/blob/{self.branch}/{path}"
        if self.binderhub_url:
            links["Binder"] = f"{self.binderhub_url.strip('/')}/v2/gh/{org}/{repo}/{self.branch}?urlpath={ui}/{path}"
        if self.jupyterhub_url:
            query = urlencode({"repo": self.url, "urlpath": f"{ui}/{repo}/{path}", "branch": self.branch}, safe="/")
            links["JupyterHub"] = f"{self.jupyterhub_url.strip('/')}/hub/user-redirect/git-pull?{query}"
        links["download"] = f"{self.url}/raw/{self.branch}/{path}"
        return links


def load_home(root: str | Path = ROOT) -> BookHome:
    """Read the book's home from `root/_config.yml`, with a clear error for a missing or unusable setting."""
    import yaml  # comes with Jupyter Book; needed only where the book's sources are

    config_path = Path(root) / "_config.yml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    repository, launch = config.get("repository") or {}, config.get("launch_buttons") or {}
    url = str(repository.get("url", "")).rstrip("/").removesuffix(".git")
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
        raise ValueError(f"{config_path}: repository: url must be the book's GitHub address, "
                         f"https://github.com/ORG/REPO (Colab opens notebooks from GitHub only); got {url!r}")
    interface = launch.get("notebook_interface", "classic")
    if interface not in _UI:
        raise ValueError(f"{config_path}: launch_buttons: notebook_interface must be one of {sorted(_UI)}, "
                         f"got {interface!r}")
    return BookHome(url=url, branch=str(repository.get("branch") or "master"),
                    path_to_book=str(repository.get("path_to_book") or ""),
                    binderhub_url=str(launch.get("binderhub_url") or ""),
                    jupyterhub_url=str(launch.get("jupyterhub_url") or ""),
                    colab_url=str(launch.get("colab_url") or ""), interface=interface)


_INSTALL_CELL = '''\
# Makes this chapter run on its own (Colab, a JupyterHub, anywhere): if the
# book's helper package `course_utils` is missing, pip installs it from the
# book's home (about a minute), pinning the torch, torchvision and numpy that
# are installed so that they are kept. Elsewhere this cell does nothing.
# Written by `python -m course_utils.bookhome sync` from _config.yml.
import importlib
import importlib.metadata as metadata
import importlib.util
import os
import site
import subprocess
import sys
import tempfile

BOOK_HOME = "{url}"
BOOK_BRANCH = "{branch}"

if importlib.util.find_spec("course_utils") is None:
    # A teacher (or a test) may set COURSE_UTILS_SOURCE to a wheel or a clone.
    source = os.environ.get("COURSE_UTILS_SOURCE") or (
        f"course-utils @ git+{{BOOK_HOME}}@{{BOOK_BRANCH}}{subdirectory}")
    keep = [f"{{name}}=={{metadata.version(name)}}"
            for name in ("torch", "torchvision", "torchaudio", "numpy")
            if importlib.util.find_spec(name)]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as pins:
        pins.write("\\n".join(keep) + "\\n")  # a pip constraints file
    print(f"Installing {{source}}, keeping {{', '.join(keep) or 'nothing'}}")
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                          "--constraint", pins.name, source],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        print(pip.stdout[-4000:], pip.stderr[-4000:], sep="\\n")
        raise RuntimeError(
            "Installing course_utils failed (pip's messages are above). "
            "Without internet, ask for the book's wheel and set "
            f"COURSE_UTILS_SOURCE to it; see pages/setup.md at {{BOOK_HOME}}")
    importlib.invalidate_caches()
    if site.getusersitepackages() not in sys.path:  # pip's --user fallback
        site.addsitedir(site.getusersitepackages())
    from course_utils.data import data_root

    data_root().mkdir(parents=True, exist_ok=True)
    print(f"Installed. Data folder: {{data_root()}} (COURSE_DATA_DIR moves it)")
'''


def install_cell_source(home: BookHome) -> str:
    """The source of the install cell for `home`."""
    return _INSTALL_CELL.format(url=home.url, branch=home.branch, subdirectory=home.pip_subdirectory)


def _install_cell(home: BookHome) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(install_cell_source(home))
    cell.id = "install-course-utils"
    cell.metadata = {"tags": [INSTALL_TAG]}  # visible: students see what it does
    return cell


def _with_install_cell(notebook: nbformat.NotebookNode, home: BookHome) -> bool:
    """Put the current install cell into `notebook`; True if anything changed."""
    wanted = _install_cell(home)
    present = [i for i, cell in enumerate(notebook.cells) if INSTALL_TAG in cell.metadata.get("tags", [])]
    if present:
        cell = notebook.cells[present[0]]
        changed = cell.source != wanted.source or cell.metadata.get("tags") != wanted.metadata["tags"]
        cell.source, cell.metadata["tags"] = wanted.source, wanted.metadata["tags"]
        for extra in reversed(present[1:]):  # one install cell per notebook
            del notebook.cells[extra]
        return changed or len(present) > 1
    first_code = next((i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"), len(notebook.cells))
    if any(cell.get("id") == wanted.id for cell in notebook.cells):
        wanted.id = nbformat.v4.new_code_cell().id  # a fresh random id
    notebook.cells.insert(first_code, wanted)
    return True


def docs_block(home: BookHome) -> str:
    """The lines between the book-home markers of README.md and pages/setup.md."""
    links = home.launch_links("chapters/00_getting_started.ipynb")
    lines = [BEGIN, "",
             f"- The book's home: <{home.url}> (branch `{home.branch}`).",
             f"- Open chapter 0 in [Colab]({links['Colab']})"
             + (f" or on [Binder]({links['Binder']})" if "Binder" in links else "")
             + "; every chapter page of the website has these launch buttons.",
             "- Install the helpers into any Python environment (an installed torch 2.1 or newer is kept):", "",
             "  ```bash",
             f'  pip install "{home.pip_requirement()}"',
             "  ```", "", END]
    return "\n".join(lines)


def _with_docs_block(text: str, home: BookHome, path: Path) -> str:
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"{path} has no book-home block: put the two lines\n{BEGIN}\n{END}\nwhere the links go")
    return text[:start] + docs_block(home) + text[end + len(END):]


def sync(root: str | Path = ROOT, write: bool = True, chapters: str | None = "chapters") -> list[Path]:
    """Bring the install cells and the README/setup links in line with _config.yml.

    Returns the files that were out of date (and, with write=True, are now rewritten).
    Running it twice changes nothing the second time. `chapters=None` leaves the notebooks alone.
    """
    root = Path(root)
    home, stale = load_home(root), []
    for path in sorted((root / chapters).glob("*.ipynb")) if chapters else ():
        notebook = nbformat.read(path, as_version=4)
        if _with_install_cell(notebook, home):
            stale.append(path)
            if write:
                nbformat.write(notebook, path)
    for name in DOCS:
        path = root / name
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        new = _with_docs_block(text, home, path)
        if new != text:
            stale.append(path)
            if write:
                path.write_text(new, encoding="utf-8")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.bookhome", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["sync", "check", "show"])
    parser.add_argument("--root", default=str(ROOT), help="the book's folder (the one with _config.yml)")
    parser.add_argument("--docs-only", action="store_true", help="README and setup page only, not the chapters")
    args = parser.parse_args(argv)
    try:
        home = load_home(args.root)
        if args.command == "show":
            print(f"home: {home.url} (branch {home.branch})\ninstall: pip install \"{home.pip_requirement()}\"")
            for name, link in home.launch_links("chapters/00_getting_started.ipynb").items():
                print(f"{name}: {link}")
            return 0
        stale = sync(args.root, write=args.command == "sync", chapters=None if args.docs_only else "chapters")
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in stale:
        print(f"{'updated' if args.command == 'sync' else 'out of date'}: {path}")
    if args.command == "check" and stale:
        print("Run `python -m course_utils.bookhome sync` to bring them in line with _config.yml.", file=sys.stderr)
        return 1
    print(f"{len(stale)} file(s) {'updated' if args.command == 'sync' else 'out of date'}; home {home.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
