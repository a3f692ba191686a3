"""Time chapter 7 in its default mode on a GPU (for the lead; not part of the book).

Run from the repository root on the GPU machine:

    python .ch07_gpu/check.py [OUT_DIR]

It executes chapters/07_cnn_mnist_resnet_cifar.ipynb in the default mode (no
COURSE_FAST) with progress bars off, as CI does, so that the GPU branch of the
config cell (ON_GPU: RESNET_WIDTH 64, RESNET_SUBSET 8,000, all MNIST images,
bf16 autocast for the ResNets, all CIFAR test images) is what runs. It prints
the settings the chapter printed, any error, the ten slowest cells and the
total wall time, and says whether the chapter fits its 60-second GPU budget.
The executed notebook is written to OUT_DIR (default: $OUT or /tmp) so that its
printed numbers can be read afterwards. Exit status 0: no error and within budget.
"""

import os
import sys
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient

BUDGET_S = 60.0
CHAPTER = Path("chapters/07_cnn_mnist_resnet_cifar.ipynb")


def seconds(cell) -> float:
    timing = cell.metadata.get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def main() -> int:
    out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("OUT", "/tmp"))
    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ.pop("COURSE_FAST", None)
    os.environ["COURSE_PROGRESS"] = "0"
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device: this script times the GPU branch and needs a GPU")
        return 2
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}", flush=True)
    notebook = nbformat.read(CHAPTER, as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3", record_timing=True,
                            allow_errors=True, resources={"metadata": {"path": str(CHAPTER.parent)}})
    start = time.perf_counter()
    client.execute()
    total = time.perf_counter() - start
    nbformat.write(notebook, out_dir / "07_gpu_default.ipynb")

    errors, timings = [], []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        timings.append((seconds(cell), index, cell.source.splitlines()[0][:60] if cell.source else ""))
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                errors.append(f"cell {index}: {output.ename}: {output.evalue[:300]}")
            if index == 3 and output.output_type == "stream":  # the settings the chapter printed
                print(output.text)
    for line in errors:
        print("ERROR", line)
    print("slowest cells (wall seconds):")
    for secs, index, first_line in sorted(timings, reverse=True)[:10]:
        print(f"  {secs:6.1f} s  cell {index:>3}: {first_line}")
    cells_total = sum(secs for secs, _, _ in timings)
    print(f"total: {total:.1f} s wall (cells {cells_total:.1f} s, kernel start and imports included "
          f"in the first); budget {BUDGET_S:.0f} s: {'OK' if total <= BUDGET_S else 'OVER'}")
    print(f"executed notebook: {out_dir / '07_gpu_default.ipynb'}")
    return 0 if not errors and total <= BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
