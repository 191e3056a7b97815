"""The book's API page renders nmm_core's docstrings with Sphinx in nitpicky mode and no
intersphinx (the book builds offline), so a cross-reference such as :func:`ast.dump` to anything
outside nmm_core fails the strict build, and the failure only shows after a quick reproduction
(about ten minutes). This test resolves every reference in the docstrings the way Sphinx does
(relative to the module, then absolute) in a second."""
import ast
import importlib
import re
import types
from pathlib import Path

import pytest

import nmm_core

PACKAGE = Path(nmm_core.__file__).parent
# py:class is ignored by the book's nitpick_ignore_regex (type words in numpydoc sections).
ROLE = re.compile(r":(func|meth|mod|attr|data|obj|exc):`~?\.?([^`<>]+?)`")


def _documented_modules() -> set:
    """The modules the book's API page renders: the only targets a reference can reach."""
    api = (PACKAGE.parent / "book" / "api.md").read_text()
    return set(re.findall(r"automodule:: ([\w.]+)", api)) | {"nmm_core"}


DOCUMENTED = _documented_modules()


def _resolves(dotted: str, module_name: str, class_name: str = "") -> bool:
    """Whether Sphinx can link ``dotted`` from a docstring in ``module_name`` (inside
    ``class_name``): it must name a documented module or an object defined in one."""
    scopes = ([f"{module_name}.{class_name}"] if class_name else []) + [module_name, ""]
    for candidate in (f"{scope}.{dotted}".lstrip(".") for scope in scopes):
        parts = candidate.split(".")
        for cut in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            try:
                for attribute in parts[cut:]:
                    obj = getattr(obj, attribute)
            except AttributeError:
                break
            if isinstance(obj, types.ModuleType):
                home = obj.__name__
            elif callable(obj) and hasattr(obj, "__qualname__"):  # function, class, method
                home = obj.__module__
            else:  # data: documented where it is found
                home = ".".join(parts[:cut])
            return home in DOCUMENTED
    return False


def _references(node: ast.AST, class_name: str = ""):
    """(line, reference, target, enclosing class) for every reference in the docstrings."""
    if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        if isinstance(node, ast.ClassDef):
            class_name = node.name
        for match in ROLE.finditer(ast.get_docstring(node, clean=False) or ""):
            yield getattr(node, "lineno", 1), match.group(0), match.group(2).strip(), class_name
    for child in ast.iter_child_nodes(node):
        yield from _references(child, class_name)


MODULES = sorted(PACKAGE.glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[p.stem for p in MODULES])
def test_every_docstring_reference_resolves_inside_the_package(path):
    module_name = f"nmm_core.{path.stem}" if path.stem != "__init__" else "nmm_core"
    tree = ast.parse(path.read_text(), filename=str(path))
    broken = [f"{path.name}:{line}: {text}" for line, text, target, class_name in _references(tree)
              if not _resolves(target, module_name, class_name)]
    assert not broken, ("references the offline, nitpicky book build cannot resolve "
                        "(write ``name`` for anything outside nmm_core): " + "; ".join(broken))


def test_the_check_catches_a_reference_outside_the_package():
    assert not _resolves("ast.dump", "nmm_core.sources")  # ``ast`` is imported there
    assert not _resolves("Path", "nmm_core.paths")  # pathlib's, imported there
    assert not _resolves("no_such_function", "nmm_core.sources")
    assert _resolves("source_code", "nmm_core.sources")
    assert _resolves("nmm_core.reproduce.code_digest", "nmm_core.sources")
    assert _resolves("to_dict", "nmm_core.arm_model", "MuscleGeometry")
    assert not _resolves("to_dict", "nmm_core.arm_model")  # a method resolves in its class
