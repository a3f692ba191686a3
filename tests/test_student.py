"""The student-version generator, on hand-made notebooks with each tricky case (issue 11, point 4)."""

import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from course_utils.student import main, make_student_version


def _notebook(path, cells, **metadata):
    notebook = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                  "language": "python"}, **metadata})
    nbformat.write(notebook, path)
    return path


def _cell(source, *tags, kind=new_code_cell, **metadata):
    return kind(source, metadata={"tags": list(tags), **metadata} if tags else metadata)


@pytest.fixture
def chapter(tmp_path):
    """A notebook with a solution under every spelling the generator must recognise."""
    source = tmp_path / "chapters" / "99_tricky.ipynb"
    source.parent.mkdir()
    stub = _cell("def f(x):\n    raise NotImplementedError", "exercise")
    stub.outputs = [new_output("stream", text="an old output\n")]
    stub.execution_count = 3
    cells = [
        _cell("# Title", kind=new_markdown_cell),
        stub,
        _cell("SECRET_1 = 'plain'", "solution", "hide-cell"),
        _cell("SECRET_2 = 'capital'", "Solution", "hide-cell"),
        _cell("SECRET_3 = 'plural'", "solutions"),
        _cell("SECRET_4 = 'padded'", " solution ", "remove-cell"),
        _cell("SECRET_5 = 'shouting'", "SOLUTION"),
        _cell("The answer is SECRET_6.", "Solution", kind=new_markdown_cell),
        _cell("with check('9.1'):\n    pass", "nbval-check-output", expected_output="SECRET_7 printed\n",
              mystnb={"code_prompt_show": "SECRET_8"}),
        new_markdown_cell("A pasted figure: ![x](attachment:plot.png)",
                          attachments={"plot.png": {"image/png": "U0VDUkVUXzk="}}),  # "SECRET_9"
    ]
    return _notebook(source, cells, solutions={"hint": "SECRET_10"}, widgets={"state": "SECRET_11"})


def test_every_spelling_of_solution_is_removed(chapter, tmp_path):
    student = nbformat.read(make_student_version(chapter, tmp_path / "student"), as_version=4)
    text = nbformat.writes(student)
    assert "SECRET_" not in text and "U0VDUkVUXzk=" not in text  # no solution, metadata or attachment left
    sources = [cell.source for cell in student.cells]
    assert sources[1:] == ["# Title", "def f(x):\n    raise NotImplementedError", "with check('9.1'):\n    pass",
                           "A pasted figure: ![x](attachment:plot.png)"]
    assert "Student version" in sources[0]
    stub = student.cells[2]
    assert stub.outputs == [] and stub.execution_count is None and stub.metadata == {"tags": ["exercise"]}
    assert student.cells[3].metadata == {"tags": ["nbval-check-output"]}
    assert set(student.metadata) == {"kernelspec"}
    nbformat.validate(student)


@pytest.mark.parametrize("tag", ["hide-cell", "remove-cell", "Hide-Cell ", "hide-input", "remove-input"])
def test_hidden_cell_that_is_not_a_solution_is_refused(tag, tmp_path, capsys):
    source = _notebook(tmp_path / "hidden.ipynb", [_cell("x = 1"), _cell("answer = 42", tag)])
    with pytest.raises(ValueError, match=r"cells \[1\] are hidden on the website .* not tagged 'solution'"):
        make_student_version(source, tmp_path / "student")
    with pytest.raises(SystemExit) as exit_status:
        main([str(source), "--output-dir", str(tmp_path / "student")])
    assert exit_status.value.code != 0 and "Nothing was written" in capsys.readouterr().err
    assert not (tmp_path / "student").exists()


def test_refuses_to_overwrite_the_source(chapter, capsys):
    original = chapter.read_bytes()
    for output_dir in (chapter.parent, chapter.parent / ".." / "chapters"):
        with pytest.raises(ValueError, match="would overwrite it"):
            make_student_version(chapter, output_dir)
    result = subprocess.run([sys.executable, "-m", "course_utils.student", str(chapter), "--output-dir",
                             str(chapter.parent)], capture_output=True, text=True)
    assert result.returncode != 0 and "would overwrite" in result.stderr
    assert chapter.read_bytes() == original


def test_command_line_writes_nothing_when_one_notebook_is_refused(chapter, tmp_path, capsys):
    bad = _notebook(tmp_path / "bad.ipynb", [_cell("answer = 42", "remove-cell")])
    with pytest.raises(SystemExit):
        main([str(chapter), str(bad), "--output-dir", str(tmp_path / "student")])
    assert not (tmp_path / "student").exists()
    main([str(chapter), "--output-dir", str(tmp_path / "student")])
    assert (tmp_path / "student" / chapter.name).exists()


FOLDED = """\
1. Why? (the question stays)

   ```{admonition} Answer
   :class: dropdown
   SECRET_A because.
   ```

2. And this?

   <details><summary>Answer</summary>

   SECRET_B, in HTML.

   </details>

````{dropdown} Show
SECRET_C
```python
x = 1
```
````

:::{toggle}
SECRET_D
:::

```{admonition} Note
:class: tip
Kept: a visible note.
```"""


def test_folded_answers_in_markdown_are_removed(tmp_path):
    """Review finding 10: answers folded on the website (MyST dropdowns, HTML <details>) are shown in
    Jupyter and Colab, so the student version must not carry them."""
    source = _notebook(tmp_path / "98_folded.ipynb", [_cell(FOLDED, kind=new_markdown_cell)])
    text = nbformat.read(make_student_version(source, tmp_path / "student"), as_version=4).cells[1].source
    assert "SECRET_" not in text and "<details" not in text and ":class: dropdown" not in text
    assert "1. Why? (the question stays)" in text and "2. And this?" in text and "Kept: a visible note." in text
    assert text.count("The answer is not in the student version") == 4
    assert "   *(The answer is not in the student version" in text  # keeps the list item's indentation
