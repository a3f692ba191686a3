"""The `course-grade` command: assign, grade, selfcheck."""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from course_utils.grading.assignment import load_assignment, write_assignment
from course_utils.grading.grader import Limits, grade_folder
from course_utils.grading.selfcheck import selfcheck


def _points(text: str) -> dict:
    try:
        return {key.strip(): float(value) for key, value in (item.split("=") for item in text.split(",") if item)}
    except ValueError:
        raise argparse.ArgumentTypeError(f"write points as 4.1=2,4.2=1.5 (got {text!r})") from None


def _limits(args) -> Limits:
    return Limits(wall_s=args.time_limit, memory_mb=args.memory_mb, jobs=args.jobs, file_mb=args.max_file_mb,
                  disk_mb=args.max_disk_mb)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="course-grade", description="Assign chapters as homework and grade them.")
    commands = parser.add_subparsers(dest="command", required=True)
    assign = commands.add_parser("assign", help="chapter -> student notebook + instructor's hidden checks")
    assign.add_argument("chapter", type=Path, help="the chapter notebook, with its solutions")
    assign.add_argument("--output-dir", type=Path, default=Path("homework"))
    assign.add_argument("--points", type=_points, default=None, help="e.g. 4.1=2,4.2=1 (default: 1 each)")
    assign.add_argument("--force", action="store_true",
                        help="overwrite hidden checks you edited in the .grading.json (the old file is kept as .bak)")
    grade = commands.add_parser("grade", help="folder of submissions -> gradebook.csv + feedback/")
    grade.add_argument("checks", type=Path, help="the instructor's .grading.json")
    grade.add_argument("submissions", type=Path, help="folder: <student>.ipynb files or <student>/ folders")
    grade.add_argument("--output-dir", type=Path, default=None, help="default: results/<chapter>/")
    grade.add_argument("--force", action="store_true", help="replace an earlier run's results in --output-dir")
    check = commands.add_parser("selfcheck", help="solutions pass the hidden checks, stubs fail them")
    check.add_argument("checks", type=Path, help="the instructor's .grading.json")
    for sub in (grade, check):
        sub.add_argument("--time-limit", type=float, default=300, help="seconds per submission (default 300)")
        sub.add_argument("--memory-mb", type=int, default=8192,
                         help="address space per submission in MiB (default 8192; torch alone maps about 4000)")
        sub.add_argument("--jobs", type=int, default=2, help="submissions graded at once (default 2)")
        sub.add_argument("--max-file-mb", type=int, default=50, help="larger submitted files are refused (default 50)")
        sub.add_argument("--max-disk-mb", type=int, default=1024,
                         help="disk that one submission's files may take (default 1024)")
    args = parser.parse_args(argv)

    if args.command == "assign":
        try:
            paths = write_assignment(args.chapter, args.output_dir, args.points, force=args.force)
        except ValueError as error:
            parser.error(str(error))
        for name, path in paths.items():
            print(f"{name:9} {path}")
        print("Hand out the student notebook; keep instructor/ private.")
        return
    try:
        assignment = load_assignment(args.checks)
    except ValueError as error:
        parser.error(str(error))
    if args.command == "selfcheck":
        report = selfcheck(assignment, _limits(args))
        for side in ("solutions", "stubs"):
            print(f"{side}: " + ", ".join(f"{key} {status}" for key, (status, _) in report[side].items()))
        if report["problems"]:
            parser.exit(1, "PROBLEMS:\n" + "\n".join(report["problems"]) + "\n")
        print("Every solution passes its hidden check and every stub fails it.")
        return
    if not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder of submissions")
    output_dir = args.output_dir or Path("results") / assignment.name
    start = time.perf_counter()
    try:
        rows = grade_folder(assignment, args.submissions, output_dir, _limits(args),
                            instructor_files=(args.checks.resolve().parent,), force=args.force)
    except ValueError as error:
        parser.error(str(error))
    students = len({row.student for row in rows})
    print(f"graded {students} submissions in {time.perf_counter() - start:.0f} s: "
          + ", ".join(f"{count} {status}" for status, count in Counter(row.status for row in rows).most_common()))
    print(f"gradebook: {output_dir / 'gradebook.csv'}; feedback: {output_dir / 'feedback'}/")
