"""Generate student versions of chapter notebooks: solutions removed, outputs cleared.

Usage:
    python -m course_utils.student chapters/04_tensors_autograd.ipynb [more.ipynb ...] --output-dir student

What the student version keeps and drops:

* Cells tagged `solution` are dropped, whatever the tag's case and spacing
  (`Solution`, `solutions`, `' solution'` all count).
* A cell the website hides or removes (`hide-cell`, `remove-cell`, `hide-input`,
  `remove-input`) but that is not tagged as a solution is refused: it may be a
  solution whose tag was forgotten, or code the notebook needs, and only the
  author can tell. Tag it `solution`, or remove the hiding tag.
* In markdown cells, answers folded away on the website are replaced by a short
  note (the question stays): MyST `{admonition}` blocks with `:class: dropdown`,
  `{dropdown}`, `{toggle}` and `{solution}` blocks, and HTML `<details>` blocks.
  Jupyter and Colab do not fold them, so they would show the answer.
* Every other cell stays, so a student's check says "not done yet" until the
  `exercise` stub is replaced with working code. Outputs, execution counts and
  attachments are cleared; of the metadata only what a student needs is kept
  (a cell's tags; the notebook's kernel and language), since anything else,
  such as an expected output, could carry a solution.

Nothing is written when a notebook is refused, nor when a student version would
overwrite its source (the output folder must not be the source's folder).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import nbformat

__all__ = ["make_student_version", "student_notebook"]

NOTE = ("**Student version.** The solutions were removed from this notebook. Write your code in the cells marked "
        "*Exercise*, then run the check cell below each one.")
HIDING_TAGS = {"hide-cell", "remove-cell", "hide-input", "remove-input"}
NOTEBOOK_METADATA = ("kernelspec", "language_info")
REMOVED = "*(The answer is not in the student version: work it out, then ask your instructor.)*"
FOLDING = ("dropdown", "toggle", "solution")  # MyST directives that fold their content away
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|:{3,})\{(?P<name>[\w-]+)\}")
DETAILS = re.compile(r"<details\b.*?</details\s*>", re.IGNORECASE | re.DOTALL)


def _tags(cell) -> set[str]:
    """A cell's tags, lower-cased and without spaces ("  Solution " -> "solution")."""
    tags = cell.get("metadata", {}).get("tags", [])
    tags = [tags] if isinstance(tags, str) else tags
    return {re.sub(r"\s+", "", str(tag)).lower() for tag in tags}


def _is_solution(cell) -> bool:
    return bool(_tags(cell) & {"solution", "solutions"})


def _unfolded(text: str) -> str:
    """Markdown with each folded answer replaced by the note REMOVED (the text around it is kept)."""
    text = DETAILS.sub(REMOVED, text)
    lines, kept, index = text.split("\n"), [], 0
    while index < len(lines):
        start = FENCE.match(lines[index])
        end = index + 1
        if start:  # the block ends at a fence of the same character, at least as long, alone on its line
            fence = start["fence"]
            while end < len(lines) and not re.fullmatch(rf"[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*",
                                                        lines[end]):
                end += 1
            options = [line.strip() for line in lines[index + 1:end] if line.strip().startswith(":")]
            folded = start["name"] in FOLDING or (start["name"] == "admonition" and any(
                option.startswith(":class:") and "dropdown" in option.split() for option in options))
            if folded:
                kept.append(start["indent"] + REMOVED)
                index = end + 1
                continue
        kept.append(lines[index])
        index += 1
    return "\n".join(kept)


def student_notebook(source: str | Path) -> nbformat.NotebookNode:
    """The student version of notebook `source`, in memory.

    Raises:
        ValueError: if a cell is hidden on the website but not tagged as a solution.
    """
    source = Path(source)
    notebook = nbformat.read(source, as_version=4)
    unclear = [i for i, cell in enumerate(notebook.cells) if _tags(cell) & HIDING_TAGS and not _is_solution(cell)]
    if unclear:
        raise ValueError(f"{source}: cells {unclear} are hidden on the website ({', '.join(sorted(HIDING_TAGS))}) "
                         "but not tagged 'solution'. Tag each one 'solution' if it is one (it is then removed), "
                         "or remove the hiding tag if students should see it.")
    cells = [cell for cell in notebook.cells if not _is_solution(cell)]
    if len(cells) == len(notebook.cells):
        print(f"note: {source} has no cells tagged 'solution'; only outputs and metadata were removed")
    for cell in cells:
        tags = cell.get("metadata", {}).get("tags")
        cell.metadata = nbformat.NotebookNode({"tags": tags} if tags else {})
        cell.pop("attachments", None)  # pasted images can show a solution
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        elif cell.cell_type == "markdown":
            cell.source = _unfolded(cell.source)
    notebook.metadata = nbformat.NotebookNode({key: notebook.metadata[key] for key in NOTEBOOK_METADATA
                                               if key in notebook.metadata})
    notebook.cells = [nbformat.v4.new_markdown_cell(NOTE)] + cells
    return notebook


def _output_path(source: Path, output_dir: str | Path) -> Path:
    output = Path(output_dir) / source.name
    if output.resolve().parent == source.resolve().parent or (output.exists() and output.samefile(source)):
        raise ValueError(f"the student version of {source} would overwrite it: choose an --output-dir other "
                         f"than the notebook's own folder ({source.resolve().parent}).")
    return output


def make_student_version(source: str | Path, output_dir: str | Path) -> Path:
    """Write the student version of notebook `source` into `output_dir`; return its path.

    Raises:
        ValueError: if `output_dir` is the source's folder, or the notebook has a hidden cell that is
            not tagged as a solution; nothing is written then.
    """
    source = Path(source)
    output = _output_path(source, output_dir)
    notebook = student_notebook(source)
    output.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, output)
    return output


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Make student versions of chapter notebooks (solutions removed).")
    parser.add_argument("notebooks", nargs="+", type=Path, help="chapter notebooks (.ipynb)")
    parser.add_argument("--output-dir", type=Path, default=Path("student"), help="folder for the student versions")
    args = parser.parse_args(argv)
    versions = {}  # output path -> (source, student notebook): all made before any is written
    for path in args.notebooks:
        if path.suffix != ".ipynb" or not path.is_file():
            parser.error(f"{path} is not a notebook file (.ipynb)")
        try:
            output = _output_path(path, args.output_dir)
            if output in versions:
                raise ValueError(f"{versions[output][0]} and {path} would both be written to {output}")
            versions[output] = path, student_notebook(path)
        except ValueError as error:
            parser.error(f"{error} Nothing was written.")  # exits with status 2
    for output, (path, notebook) in versions.items():
        output.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, output)
        print(f"{path} -> {output}")


if __name__ == "__main__":
    main()
