"""The process that runs one submission: started by the grader, never by hand.

It runs one cell at a time, as the grader sends them on its standard input, and
answers each with one JSON line on file descriptor 3. Before any student code
runs it limits its own memory, CPU time and file sizes, moves into its scratch
folder, loads a private copy of the checking functions and notes which
functions the libraries hold; then it installs an audit hook (PEP 578) that
refuses to open, list or change the instructor's files, the submissions, the
other scratch folders and anything outside its own scratch folder for writing,
and refuses to start processes or load C code. A hidden check runs with the
private checking functions and the modules as the locked cells imported them;
if a library function was replaced, the check is reported as tampered with.

This makes cheating by ordinary means fail; it is not a security sandbox against
code written to escape it (see pages/instructors.md).
"""

from __future__ import annotations

import builtins
import importlib.util
import io
import json
import linecache
import os
import re
import resource
import sys
import traceback
import types

import torch

# Bound before any student code runs, and used after it: a submission that replaces json.dumps,
# sorted or vars (say) changes nothing the grader relies on.
_dumps, _loads, _write, _vars, _sorted, _isinstance, _type, _str, _len, _set, _getattr = (
    json.dumps, json.loads, os.write, vars, sorted, isinstance, type, str, len, set, getattr)
_exec, _compile, _eval, MODULES = exec, compile, eval, sys.modules
_stack_depth, _gettrace, _getprofile = torch._C._len_torch_function_stack, sys.gettrace, sys.getprofile
_version = torch.Tensor._version.__get__  # a tensor's in-place change counter
_Tensor = torch.Tensor

WATCHED = ("builtins", "torch", "torch.nn.functional", "numpy", "math", "course_utils.exercises",
           "torch.Tensor", "numpy.ndarray")  # modules, and classes (whose added methods count too)
BLOCKED_EVENTS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                  "os.forkpty", "pty.spawn", "ctypes.", "socket.connect", "socket.bind", "os.kill", "os.killpg")
CHANGING_EVENTS = ("os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.symlink", "os.link", "os.chmod",
                   "os.chown", "os.truncate", "os.utime", "shutil.")


class OutputLimit(BaseException):
    """Raised when a cell prints more than the grader allows (BaseException: `except Exception` cannot hide it)."""


class CappedOutput(io.TextIOBase):
    """Stands in for stdout and stderr: counts what a cell prints, keeps nothing, stops a flood."""

    def __init__(self, limit: int):
        self.limit, self.count = limit, 0

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        self.count += len(text)
        if self.count > self.limit:
            self.count = -10 ** 12  # raise once per cell, then let the error's own printing through
            raise OutputLimit(f"the cell printed more than {self.limit} characters")
        return len(text)


def _limit(kind: int, value: int) -> None:
    hard = resource.getrlimit(kind)[1]
    value = value if hard == resource.RLIM_INFINITY else min(value, hard)
    resource.setrlimit(kind, (value, value))


def _audit_hook(scratch: str, forbidden: list[str]):
    """An audit hook that keeps the submission's code inside `scratch`."""
    scratch = os.path.realpath(scratch)
    forbidden = [os.path.realpath(path) for path in forbidden]
    own_pid = str(os.getpid())

    def inside(path: str, root: str) -> bool:
        return path == root or path.startswith(root.rstrip(os.sep) + os.sep)

    def refuse_path(path, writing: bool) -> None:
        if isinstance(path, int) or path is None:
            return
        real = os.path.realpath(os.fsdecode(path))
        parts = real.split(os.sep)
        if (not inside(real, scratch) and (writing or any(inside(real, root) for root in forbidden))
                and real != os.devnull):
            raise PermissionError(f"the grader does not let a submission {'change' if writing else 'read'} {real}")
        if len(parts) > 2 and parts[1] == "proc" and parts[2] not in (own_pid, "self", "thread-self"):
            raise PermissionError(f"the grader does not let a submission look at other processes ({real})")

    def hook(event: str, args) -> None:
        if event == "open":
            path, mode, flags = args
            writing = any(c in (mode or "") for c in "wax+") or bool((flags or 0) & (os.O_WRONLY | os.O_RDWR))
            refuse_path(path, writing)
        elif event in ("os.listdir", "os.scandir"):
            refuse_path(args[0] if args and args[0] is not None else ".", False)
        elif event.startswith(CHANGING_EVENTS):
            for path in args[:2]:
                if isinstance(path, (str, bytes, os.PathLike)):
                    refuse_path(path, True)
        elif event.startswith(BLOCKED_EVENTS):
            raise PermissionError(f"the grader does not let a submission do this: {event}")

    return hook


def _private_checks() -> dict:
    """A private copy of `course_utils/exercises.py`, loaded from its file and kept out of sys.modules
    (so patching `course_utils.exercises` changes nothing, and the heavy package is not imported).
    It gets its own copy of the builtins, so a student's later patch of `builtins` cannot reach it."""
    package = importlib.util.find_spec("course_utils")
    path = os.path.join(package.submodule_search_locations[0], "exercises.py")
    spec = importlib.util.spec_from_file_location("_grader_exercises", path)
    module = importlib.util.module_from_spec(spec)
    module.__dict__["__builtins__"] = dict(vars(builtins))
    spec.loader.exec_module(module)
    return {name: getattr(module, name) for name in module.__all__}


def _watched() -> dict:
    """name -> module or class that a check relies on."""
    objects = {}
    for name in WATCHED:
        module, _, attribute = name.rpartition(".")
        objects[name] = MODULES.get(name) or _getattr(MODULES.get(module), attribute, None)
    return {name: value for name, value in objects.items() if value is not None}


def _snapshot() -> dict:
    """(name, attribute) -> the object, for the modules and classes a check relies on."""
    return {(name, attribute): value for name, owner in _watched().items()
            for attribute, value in _vars(owner).items() if attribute != "__warningregistry__"}


def _replaced(snapshot: dict, modes: int) -> list[str]:
    """The watched attributes replaced or removed since the snapshot, methods added to watched classes,
    a torch function mode left on (the locked cells left `modes` of them) and a tracing function."""
    missing, watched = object(), _watched()
    changed = _set(f"{name}.{attribute}" for (name, attribute), value in snapshot.items()
                   if _vars(watched[name]).get(attribute, missing) is not value)
    changed |= _set(f"{name}.{attribute}" for name, owner in watched.items() if _isinstance(owner, _type)
                    for attribute in _vars(owner) if (name, attribute) not in snapshot)
    if _stack_depth() != modes:
        changed.add("the torch function mode stack (a TorchFunctionMode was left on)")
    if _gettrace() is not None or _getprofile() is not None:
        changed.add("sys.settrace or sys.setprofile (a tracing function was installed)")
    return _sorted(changed)


def _tensor_version(value):
    """A tensor's in-place change counter; None for anything else (and for inference tensors, which have none)."""
    if not _isinstance(value, _Tensor):
        return None
    try:
        return _version(value)
    except RuntimeError:
        return None


class Shell:
    """Stands in for IPython's `get_ipython()`, which IPython's own syntax turns into calls (`%time x` is
    `get_ipython().run_line_magic("time", "x")`): the magics that time or capture code just run it once;
    every other magic and shell command (`%matplotlib`, `!pip install ...`) does nothing."""

    RUN = ("time", "timeit", "capture", "prun")

    def __init__(self, namespace: dict):
        self.namespace, self.filename = namespace, "<cell>"

    def run_line_magic(self, name, line, *args, **kwargs):
        if name not in self.RUN:
            return None
        line = re.sub(r"^(\s*-\w+(\s+\d+)?)*\s*", "", line)  # options such as -n 10 -r 3
        try:
            code = _compile(line, self.filename, "eval")
        except SyntaxError:
            return _exec(_compile(line, self.filename, "exec"), self.namespace)
        return _eval(code, self.namespace)

    def run_cell_magic(self, name, line, cell, *args, **kwargs):
        if name in self.RUN:  # the cell's code starts on its second line
            _exec(_compile("\n" + cell, self.filename, "exec"), self.namespace)

    def __getattr__(self, name):
        return lambda *args, **kwargs: None  # system, getoutput, and everything else


def _describe(error: BaseException, sources: dict, filename: str, trusted: type) -> dict:
    """The error as the grader reports it: its type, first message line, and the student's line that
    ran last (in an exercise cell), or the cell's own line. `trusted`: the private ExerciseFailed (only
    its message is shown without the error's type)."""
    try:
        message = (_str(error).strip().splitlines() or [""])[0][:300]
    except Exception:  # noqa: BLE001  (a student's exception whose __str__ fails)
        message = "(the error's message could not be read)"
    frames = [(frame.filename, frame.lineno) for frame in traceback.extract_tb(error.__traceback__)]
    if isinstance(error, SyntaxError) and error.filename:
        frames.append((error.filename, error.lineno))
    students = [frame for frame in frames if frame[0].startswith("<exercise")]
    here = [frame for frame in frames if frame[0] == filename]
    name, line = (students or here or [(filename, None)])[-1]
    if not students and filename.startswith("<check"):
        name, line = filename, None  # the check's own line says nothing the message does not
    lines = sources.get(name, "").splitlines()
    text = lines[line - 1].strip()[:120] if line and 0 < line <= len(lines) else ""
    where = f"line {line} of {name.strip('<>')}" if line else ""
    memory = isinstance(error, MemoryError) or "can't allocate memory" in str(error)
    return {"error_type": _str(_type(error).__name__), "message": message, "where": where, "line_text": text,
            "memory": memory, "output_limit": isinstance(error, OutputLimit), "trusted": _type(error) is trusted}


def main() -> None:
    commands = os.fdopen(os.dup(0), "r")
    config = json.loads(commands.readline())
    readline, answer_fd = commands.readline, config["answer_fd"]
    _limit(resource.RLIMIT_AS, config["memory_mb"] * 2 ** 20)
    _limit(resource.RLIMIT_CPU, config["cpu_s"])
    _limit(resource.RLIMIT_FSIZE, config["file_mb"] * 2 ** 20)
    os.chdir(config["scratch"])
    with open(os.devnull) as devnull:
        os.dup2(devnull.fileno(), 0)  # the submission cannot read the next cells from stdin
    sys.stdin = open(os.devnull)
    import matplotlib
    matplotlib.use("Agg")
    import numpy  # noqa: F401  (imported before the snapshot, so they are watched)
    import torch  # noqa: F401
    import torch.nn.functional  # noqa: F401
    # Loaded before the audit hook and the snapshot, as the chapters' own code needs them:
    # torchvision loads its operators through ctypes, which the hook refuses, and importing
    # torch._dynamo (the first optimizer does) wraps torch.manual_seed, which is no cheat.
    import sklearn  # noqa: F401
    import torch._dynamo  # noqa: F401
    import torchvision  # noqa: F401
    checks = _private_checks()
    snapshot = _snapshot()
    sys.addaudithook(_audit_hook(config["scratch"], config["forbidden"]))
    main_module = types.ModuleType("__main__")  # as in Jupyter, the cells' namespace is __main__
    namespace = main_module.__dict__
    namespace["__builtins__"] = builtins
    MODULES["__main__"] = main_module
    shell = Shell(namespace)
    namespace.update(get_ipython=lambda: shell, display=lambda *objects, **kwargs: None)
    sources: dict = {}  # cell file name -> source, to quote the line of an error
    locked_modules: dict = {}  # names the locked cells bound to modules (torch, F, np, ...)
    locked_values: dict = {}  # other names the locked cells bound -> (value, a tensor's version)
    modes = _stack_depth()  # torch function modes the locked cells left on
    missing = object()
    while True:
        command = _loads(readline() or '{"kind": "exit"}')
        if command["kind"] == "exit":
            break
        answer = {"index": command["index"], "nonce": command["nonce"], "ok": True}
        filename, source, kind = command["filename"], command["source"], command["kind"]
        sources[filename] = shown = command.get("shown", source)  # the student's source, before IPython's syntax
        linecache.cache[filename] = (_len(shown), None, shown.splitlines(True), filename)  # for inspect, as IPython
        shell.filename = filename
        output = CappedOutput(config["output_chars"])
        sys.stdout = sys.stderr = output
        try:
            code = _compile(source, filename, "exec")
            if kind == "check":
                # the locked cells' values, where a student's cell rebound them (the exercise's own names aside)
                own, uses = _set(command.get("student_names", ())), _set(command.get("student_uses", ()))
                reads = _set(command.get("check_reads", ()))
                restored = {name: value for name, (value, _) in locked_values.items()
                            if name not in own and namespace.get(name, missing) is not value}
                # a tensor the check reads, changed in place by student code that never names it
                in_place = [name for name, (value, version) in locked_values.items() if name in reads
                            and name not in uses
                            and version is not None and name not in restored and _version(value) != version]
                tampered = _replaced(snapshot, modes) + [f"the locked variable {name} (in place)" for name in in_place]
                if tampered:
                    answer.update(ok=False, tampered=tampered[:5])
                else:
                    if restored:
                        answer["restored"] = _sorted(restored)
                    _exec(code, {**namespace, **restored, **locked_modules, **checks})
            else:
                before = dict(namespace)
                _exec(code, namespace)
                if kind == "locked":  # trusted code: watch what it imported and defined, too
                    for key, value in _snapshot().items():
                        snapshot.setdefault(key, value)
                    locked_modules.update({name: namespace[name] for name in code.co_names if
                                           _isinstance(namespace.get(name), types.ModuleType)})
                    for name, value in namespace.items():  # new values, and tensors this cell changed
                        if (not name.startswith("__") and not _isinstance(value, types.ModuleType)
                                and (before.get(name, missing) is not value or name in code.co_names
                                     and locked_values.get(name, (missing,))[0] is value)):
                            locked_values[name] = (value, _tensor_version(value))
                    for name, (value, _) in locked_values.items():  # what trusted code changed in place is fine
                        locked_values[name] = (value, _tensor_version(value))
                    modes = _stack_depth()
        except BaseException as error:  # noqa: BLE001  (SystemExit and OutputLimit too: all are the cell's)
            answer.update(ok=False, **_describe(error, sources, filename, checks["ExerciseFailed"]))
        finally:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        if kind == "check" and answer["ok"] and _replaced(snapshot, modes):
            answer.update(ok=False, tampered=_replaced(snapshot, modes)[:5])
        _write(answer_fd, (_dumps(answer) + "\n").encode())


if __name__ == "__main__":
    main()
