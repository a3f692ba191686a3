"""Generate student versions of chapter notebooks: solutions removed, outputs cleared.

Usage:
    python -m course_utils.student chapters/04_tensors_autograd.ipynb [more.ipynb ...] --output-dir student

Cells tagged `solution` are dropped; the `exercise` cells (stubs) and the
self-check cells stay, so a student's check says "not done yet" until the
stub is replaced with working code.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nbformat

__all__ = ["make_student_version"]

SOLUTION_TAG = "solution"
NOTE = ("**Student version.** The solutions were removed from this notebook. Write your code in the cells marked "
        "*Exercise*, then run the check cell below each one.")


def make_student_version(source: str | Path, output_dir: str | Path) -> Path:
    """Write the student version of notebook `source` into `output_dir`; return its path."""
    source = Path(source)
    notebook = nbformat.read(source, as_version=4)
    cells = [cell for cell in notebook.cells if SOLUTION_TAG not in cell.get("metadata", {}).get("tags", [])]
    if len(cells) == len(notebook.cells):
        print(f"note: {source} has no cells tagged {SOLUTION_TAG!r}; copied without changes")
    for cell in cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    notebook.cells = [nbformat.v4.new_markdown_cell(NOTE)] + cells
    output = Path(output_dir) / source.name
    output.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, output)
    return output


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Make student versions of chapter notebooks (solutions removed).")
    parser.add_argument("notebooks", nargs="+", type=Path, help="chapter notebooks (.ipynb)")
    parser.add_argument("--output-dir", type=Path, default=Path("student"), help="folder for the student versions")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        if path.suffix != ".ipynb" or not path.is_file():
            parser.error(f"{path} is not a notebook file (.ipynb)")
        print(f"{path} -> {make_student_version(path, args.output_dir)}")


if __name__ == "__main__":
    main()
