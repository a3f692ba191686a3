"""Prepare the chapter notebooks for nbval's exact-output checks.

Notebooks are committed without outputs, but nbval compares a cell's output
with the output stored in the notebook. A cell whose output is deterministic
is tagged `nbval-check-output` and keeps its expected text in the cell
metadata under "expected_output". This script writes copies of the notebooks
with that text stored as the cell's output, so `pytest --nbval-lax` on the
copies checks those cells exactly and every other cell for errors only.

Usage: python tests/nbval_copies.py chapters build/nbval
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

CHECK_TAG = "nbval-check-output"


def make_copy(source: Path, output_dir: Path) -> tuple[Path, int]:
    notebook = nbformat.read(source, as_version=4)
    checked = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if CHECK_TAG in cell.metadata.get("tags", []):
            if "expected_output" not in cell.metadata:
                raise ValueError(f"{source}: a cell tagged {CHECK_TAG} has no metadata 'expected_output'")
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=cell.metadata["expected_output"])]
            cell.execution_count = 1  # nbval rejects stored outputs on a cell that was never run
            checked += 1
    target = output_dir / source.name
    nbformat.write(notebook, target)
    return target, checked


def main(source_dir: str, output_dir: str) -> None:
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    for old in output.glob("*.ipynb"):
        old.unlink()
    for path in sorted(Path(source_dir).glob("*.ipynb")):
        target, checked = make_copy(path, output)
        print(f"{path} -> {target} ({checked} exact-output cells)")


if __name__ == "__main__":
    main(*sys.argv[1:3])
