"""mypy checks sync_server/ and simulator/ with the configuration of
pyproject.toml ([tool.mypy]); every public function of sync_server/ carries
type hints, so that mypy checks its body and its callers."""
import ast
import subprocess
import sys
from pathlib import Path

from tests.realparts import ROOT


def test_mypy_finds_no_type_error():
    out = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr


def _public_functions(tree):
    """Module-level functions and methods of classes (nested ones too);
    functions defined inside functions are private to them."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.ClassDef):
            todo.extend(node.body)
        elif (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
              and not node.name.startswith("_")):
            yield node


def _missing_annotations(fn):
    a = fn.args
    params = a.posonlyargs + a.args + a.kwonlyargs + [p for p in (a.vararg, a.kwarg) if p]
    missing = [p.arg for p in params if p.annotation is None and p.arg not in ("self", "cls")]
    if fn.returns is None:
        missing.append("return")
    return missing


def test_every_public_server_function_is_annotated():
    gaps = []
    for path in sorted(Path(ROOT, "sync_server").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for fn in _public_functions(tree):
            missing = _missing_annotations(fn)
            if missing:
                gaps.append("%s:%d %s: %s" % (path.relative_to(ROOT), fn.lineno, fn.name,
                                              ", ".join(missing)))
    assert not gaps, "public functions without type hints:\n" + "\n".join(gaps)


def test_the_annotation_check_sees_a_gap():
    tree = ast.parse("def f(a, b: int) -> None: ...\n"
                     "class C:\n    def m(self, x: int): ...\n    def _p(self, y): ...\n"
                     "def g(*args: int, **kw) -> int:\n    def inner(z): ...\n    return 0\n")
    found = {fn.name: _missing_annotations(fn) for fn in _public_functions(tree)}
    assert found == {"f": ["a"], "m": ["return"], "g": ["kw"]}
