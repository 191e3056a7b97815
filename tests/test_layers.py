"""The map of the library (``nmm_core.LAYERS``) against the imports the code really makes.

Every import is read from the source with ``ast``, at the top of a file or inside a function:
``import nmm_core.x``, ``from nmm_core import x``, ``from nmm_core.x import y``, ``from . import
x``, ``from .x import y``, ``import data_download``, ``from data_download import zenodo``.
"""

import ast
import re
from pathlib import Path

import nmm_core
from nmm_core import cohort

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("nmm_core", "data_download")


def module_name(package: str, stem: str) -> str:
    """The map's name of ``<package>/<stem>.py``: bare in nmm_core, qualified in data_download."""
    if package == "nmm_core":
        return "nmm_core" if stem == "__init__" else stem
    return package if stem == "__init__" else f"{package}.{stem}"


def module_files(root: Path = ROOT) -> dict[str, Path]:
    return {module_name(package, path.stem): path
            for package in PACKAGES for path in sorted((root / package).glob("*.py"))}


def _target(package: str, dotted: str, root: Path) -> str | None:
    """The map's name of ``package.dotted`` when it is a module of ours, else None."""
    head, _, rest = dotted.partition(".")
    if head not in PACKAGES:
        return None
    if rest and (root / head / f"{rest.split('.')[0]}.py").is_file():
        return module_name(head, rest.split(".")[0])
    return module_name(head, "__init__")


def imports_of(path: Path, package: str, root: Path = ROOT) -> set[str]:
    """The modules of ours that the file at ``path`` (in ``package``) imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {_target(package, alias.name, root) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package if node.level else (node.module or "")
            if node.level and node.module:
                base = f"{package}.{node.module}"
            if base in PACKAGES:  # `from package import x`: x may be a module or a name
                found |= {_target(base, f"{base}.{alias.name}", root) for alias in node.names}
            else:
                found.add(_target(base.split(".")[0], base, root))
    found.discard(None)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """``{module: modules it imports}`` for every module of both packages."""
    graph = {}
    for package in PACKAGES:
        for path in sorted((root / package).glob("*.py")):
            name = module_name(package, path.stem)
            graph[name] = imports_of(path, package, root) - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import cycles of ``graph``, each as the path that closes it (depth-first search)."""
    found, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for successor in sorted(graph.get(node, ())):
            if state.get(successor) == "open":
                found.append(stack[stack.index(successor):] + [successor])
            elif successor not in state:
                visit(successor, stack + [successor])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def layer_of(layers) -> dict[str, int]:
    return {name: index for index, layer in enumerate(layers) for name in layer}


def violations(graph: dict[str, set[str]], layers) -> list[str]:
    """Imports that do not go to a strictly lower layer (the package ``nmm_core`` itself, which
    imports nothing, may be imported by anything)."""
    level = layer_of(layers)
    problems = []
    for module, imported in sorted(graph.items()):
        for other in sorted(imported - {"nmm_core"}):
            if module in level and other in level and level[other] >= level[module]:
                problems.append(f"{module} (layer {level[module]}) imports {other} (layer {level[other]}): "
                                "move what it needs to a lower module, pass it in as an argument, or "
                                "change LAYERS in nmm_core/__init__.py if the map is wrong")
    return problems


# --------------------------------------------------------------------------------------------
# The checker itself, on a small package with known faults.
# --------------------------------------------------------------------------------------------
def test_the_checker_finds_every_import_form_an_upward_import_and_a_cycle(tmp_path):
    (tmp_path / "nmm_core").mkdir()
    (tmp_path / "data_download").mkdir()
    files = {
        "nmm_core/__init__.py": "__version__ = '0'\n",
        "nmm_core/low.py": "def f():\n    from .high import g  # upward, inside a function\n",
        "nmm_core/mid.py": "import nmm_core.low\nfrom nmm_core import low as again\nfrom . import __version__\n",
        "nmm_core/high.py": "from .mid import x\nfrom nmm_core.low import y\nimport numpy\n",
        "nmm_core/a.py": "from . import b\n",
        "nmm_core/b.py": "def f():\n    import nmm_core.a\n",
        "data_download/__init__.py": "from nmm_core import high\n",
        "data_download/zenodo.py": "from . import ChecksumError\nfrom data_download import zenodo as self_\n",
        "data_download/__main__.py": "import data_download\nfrom data_download import zenodo\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path)
    assert graph == {"nmm_core": set(), "low": {"high"}, "mid": {"low", "nmm_core"}, "high": {"mid", "low"},
                     "a": {"b"}, "b": {"a"}, "data_download": {"high"}, "data_download.zenodo": {"data_download"},
                     "data_download.__main__": {"data_download", "data_download.zenodo"}}
    # Depth-first search reports each cycle it closes (high -> mid -> low -> high shares low -> high).
    assert sorted(map(tuple, cycles(graph))) == [("a", "b", "a"), ("high", "low", "high")]
    layers = (("low", "a", "b"), ("mid",), ("high",), ("data_download",), ("data_download.zenodo",),
              ("data_download.__main__",))
    problems = violations(graph, layers)
    assert len(problems) == 3 and problems[0].startswith("a (layer 0) imports b (layer 0)")
    assert any(p.startswith("low (layer 0) imports high (layer 2)") for p in problems)


# --------------------------------------------------------------------------------------------
# The project.
# --------------------------------------------------------------------------------------------
def test_every_module_is_on_the_map_once():
    listed = [name for layer in nmm_core.LAYERS for name in layer]
    assert len(listed) == len(set(listed)), "a module is listed twice in nmm_core.LAYERS"
    unmapped = sorted(set(module_files()) - set(listed) - {"nmm_core"})
    assert unmapped == [], f"add {unmapped} to LAYERS (and the docstring) in nmm_core/__init__.py"


def test_imports_go_only_to_lower_layers():
    assert violations(import_graph(), nmm_core.LAYERS) == []


def test_no_modules_import_each_other():
    assert cycles(import_graph()) == []


def test_the_package_itself_imports_no_module():
    assert import_graph()["nmm_core"] == set()


def test_the_docstring_shows_the_same_map():
    described, layer = {}, None
    for line in nmm_core.__doc__.splitlines():
        if match := re.fullmatch(r"Layer (\d+)", line):
            layer = int(match[1])
        elif match := re.match(r"    - ``([\w.]+)``: \S", line):
            described.setdefault(layer, []).append(match[1])
    assert [tuple(described[index]) for index in sorted(described)] == list(nmm_core.LAYERS)


def test_the_cohort_fingerprint_covers_the_code_the_cohort_runs():
    """GENERATING_MODULES is what cohort imports, directly or not, except where files live."""
    graph = import_graph()
    reached, todo = set(), ["cohort"]
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo += graph[module]
    assert set(cohort.GENERATING_MODULES) == reached - {"paths", "nmm_core"}

