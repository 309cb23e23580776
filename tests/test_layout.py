"""The layout map at the top of README.md is the truth: every package of
sync_server/ has its line, each imports only what its line allows, the
allowed imports form no cycle, and no project code is loaded from a name
string."""
import ast
import os
import re

from tests.realparts import ROOT

CODE = ("protocol", "sync_server", "simulator")


def readme_map():
    """{package: set of packages it may import} from README's layout table."""
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    table = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    allowed = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not re.fullmatch(r"`[a-z_.]+`", cells[0]):
            continue
        allowed[cells[0].strip("`")] = set(re.findall(r"`([a-z_.]+)`", cells[2]))
    return allowed


def package_of(dotted, packages):
    """The longest package of the map that holds module `dotted`."""
    best = None
    for p in packages:
        if (dotted == p or dotted.startswith(p + ".")) and (best is None or len(p) > len(best)):
            best = p
    return best


def modules():
    for top in CODE:
        for folder, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            if top == "simulator" and os.path.relpath(folder, ROOT) != "simulator":
                continue  # simulator/mpy/ runs under MicroPython, not imported by CPython
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    dotted = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                    yield path, dotted.removesuffix(".__init__")


def imports(path):
    """(line, imported dotted name) of every import in the file, at any depth."""
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                yield node.lineno, node.module + "." + a.name


def test_every_server_package_has_its_line_in_the_map():
    allowed = readme_map()
    server = os.path.join(ROOT, "sync_server")
    for name in os.listdir(server):
        if os.path.isfile(os.path.join(server, name, "__init__.py")):
            assert "sync_server." + name in allowed, "README's map lacks sync_server." + name


def test_each_package_imports_only_what_the_map_allows():
    allowed = readme_map()
    packages = set(allowed)
    wrong = []
    for path, dotted in modules():
        src = package_of(dotted, allowed)
        assert src, "%s belongs to no package of README's map" % dotted
        for line, name in imports(path):
            dst = package_of(name, packages)
            if dst is None or dst == src or dst in allowed[src]:
                continue
            wrong.append("%s:%d imports %s (%s may import %s)"
                         % (os.path.relpath(path, ROOT), line, name, src,
                            ", ".join(sorted(allowed[src])) or "nothing"))
    assert not wrong, "\n".join(wrong)


def test_the_allowed_imports_form_no_cycle():
    allowed = readme_map()
    state = {}

    def visit(p, trail):
        if state.get(p) == "done":
            return
        assert state.get(p) != "open", "cycle: " + " -> ".join(trail + [p])
        state[p] = "open"
        for q in allowed.get(p, ()):
            visit(q, trail + [p])
        state[p] = "done"

    for p in allowed:
        visit(p, [])


def test_no_project_code_is_loaded_from_a_name_string():
    found = []
    for path, _ in modules():
        for line, name in imports(path):
            if name in ("importlib.import_module", "importlib.__import__"):
                found.append("%s:%d" % (os.path.relpath(path, ROOT), line))
        text = open(path, encoding="utf-8").read()
        for m in re.finditer(r"\b(import_module|__import__)\(", text):
            found.append("%s:%d" % (os.path.relpath(path, ROOT),
                                    text.count("\n", 0, m.start()) + 1))
    assert not found, "modules loaded from a name string at " + ", ".join(found)


def test_the_server_never_imports_the_simulator():
    for path, dotted in modules():
        if dotted.startswith("sync_server"):
            for line, name in imports(path):
                assert not name.startswith("simulator"), "%s:%d" % (path, line)
