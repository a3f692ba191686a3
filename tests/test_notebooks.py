"""Gates on the committed notebooks: clean, complete exercises, listed in the book, student versions."""

from pathlib import Path

import nbformat
import pytest
import yaml

from course_utils.student import make_student_version

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))
IDS = [path.name for path in NOTEBOOKS]


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def test_the_book_has_its_chapters():
    """The chapters the book promises exist, and every chapter notebook in the table of contents is checked here."""
    found = {path.stem for path in NOTEBOOKS}
    assert {"00_getting_started", "04_tensors_autograd", "05_linear_logistic_regression",
            "06_mlp_backprop_dropout_batchnorm", "07_cnn_mnist_resnet_cifar"} <= found
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    listed = {entry["file"] for part in toc["parts"] for entry in part["chapters"]}
    assert {name.removeprefix("chapters/") for name in listed if name.startswith("chapters/")} <= found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    dirty = [i for i, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_exercises_follow_the_convention(path):
    """Each solution cell comes right after its exercise stub and right before a self-check."""
    cells = nbformat.read(path, as_version=4).cells
    solutions = [i for i, cell in enumerate(cells) if "solution" in tags(cell)]
    minimum = 1 if path.name.startswith("00_") else 6
    assert len(solutions) >= minimum, f"{path.name} has {len(solutions)} exercises, needs at least {minimum}"
    for i in solutions:
        assert "hide-cell" in tags(cells[i]), f"{path.name} cell {i}: a solution must be tagged hide-cell too"
        assert cells[i].metadata.get("mystnb", {}).get("code_prompt_show") == "Show the solution", \
            f"{path.name} cell {i}: the website's toggle should read 'Show the solution' (mystnb.code_prompt_show)"
        assert "exercise" in tags(cells[i - 1]), f"{path.name} cell {i}: no exercise stub before the solution"
        assert "NotImplementedError" in cells[i - 1].source or "..." in cells[i - 1].source
        assert "with check(" in cells[i + 1].source, f"{path.name} cell {i}: no self-check after the solution"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_exact_output_cells_declare_their_output(path):
    for cell in nbformat.read(path, as_version=4).cells:
        if "nbval-check-output" in tags(cell):
            assert isinstance(cell.metadata.get("expected_output"), str)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_figures_have_alt_text(path):
    """Cells that show a figure say in words what it shows (cell metadata mystnb.image.alt)."""
    for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type == "code" and "plt.show()" in cell.source and "solution" not in tags(cell):
            alt = cell.metadata.get("mystnb", {}).get("image", {}).get("alt", "")
            assert len(alt) > 15, f"{path.name} cell {i} shows a figure but has no alt text in mystnb.image.alt"


def test_every_chapter_is_in_the_table_of_contents():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = {entry["file"] for part in toc["parts"] for entry in part["chapters"]}
    for path in NOTEBOOKS:
        assert f"chapters/{path.stem}" in files, f"{path.name} is missing from _toc.yml"
    for name in files:
        assert (ROOT / f"{name}.ipynb").exists() or (ROOT / f"{name}.md").exists(), f"_toc.yml lists missing {name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_student_version_drops_solutions_only(path, tmp_path):
    """Found by position, not by the generator's tag test: each exercise stub is followed by its solution,
    then its check (test_exercises_follow_the_convention); the student version keeps stub and check only."""
    original = nbformat.read(path, as_version=4).cells
    stubs = [i for i, cell in enumerate(original) if "exercise" in tags(cell)]
    solutions = {i + 1 for i in stubs}
    student = nbformat.read(make_student_version(path, tmp_path), as_version=4).cells
    assert "Student version" in student[0].source
    kept = [cell for i, cell in enumerate(original) if i not in solutions]
    assert len(student) == len(kept) + 1
    for mine, theirs in zip(student[1:], kept):  # identical, except folded answers replaced by a note
        if mine.source != theirs.source:
            assert mine.cell_type == "markdown" and "not in the student version" in mine.source
            assert "<details" not in mine.source and ":class: dropdown" not in mine.source
            assert "<details" in theirs.source or ":class: dropdown" in theirs.source
    for i in stubs:
        assert original[i + 1].source not in {cell.source for cell in student}, f"cell {i + 1} leaked"
    assert all(cell.cell_type != "code" or (not cell.outputs and cell.execution_count is None) for cell in student)


MAX_CODE_LINE = 80  # the website's code column shows about 80 characters without scrolling


@pytest.mark.parametrize("path", NOTEBOOKS + [ROOT / "pages" / "status.ipynb"],
                         ids=IDS + ["status.ipynb"])
def test_code_lines_fit_the_page(path):
    """Every code line fits the website's column (at most 80 characters): no sideways scrolling."""
    long_lines = [f"cell {i}: {line[:40]}... ({len(line)} characters)"
                  for i, cell in enumerate(nbformat.read(path, as_version=4).cells) if cell.cell_type == "code"
                  for line in cell.source.splitlines() if len(line) > MAX_CODE_LINE]
    assert not long_lines, (f"{path.name}: {len(long_lines)} code line(s) longer than {MAX_CODE_LINE} "
                            f"characters, e.g. {long_lines[:3]}")
