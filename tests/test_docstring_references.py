"""The book's API page renders nmm_core's docstrings with Sphinx in nitpicky mode and no
intersphinx (the book builds offline), so a cross-reference such as :func:`ast.dump` to anything
outside nmm_core fails the strict build, and the failure only shows after a quick reproduction
(about ten minutes). The first tests resolve every reference in the rendered docstrings the way
Sphinx does (in the class, the module, then absolute; only what the page renders) in a second,
naming the file and line; the last builds the API page alone, strictly, in about fifteen."""
import ast
import importlib
import importlib.util
import re
import shutil
import subprocess
import sys
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
    return set(re.findall(r"automodule:: ([\w.]+)", api))


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
            return _rendered(obj, candidate, ".".join(parts[:cut]))
    return False


def _rendered(obj, name: str, module_name: str) -> bool:
    """Whether the API page renders ``obj`` under ``name``: a documented module; a function,
    class or method under its own name in a documented module, public (autodoc's ``:members:``
    leaves out names that start with an underscore, and those outside ``__all__``); or public
    data of a documented module."""
    if isinstance(obj, types.ModuleType):
        return obj.__name__ == name and name in DOCUMENTED
    if callable(obj) and hasattr(obj, "__qualname__"):
        module_name, qualname = obj.__module__, obj.__qualname__
        if f"{module_name}.{qualname}" != name:
            return False  # imported into another module: Sphinx knows it by its own name only
    else:
        qualname = name[len(module_name) + 1:]
    public = getattr(importlib.import_module(module_name), "__all__", None)
    return (module_name in DOCUMENTED and not any(part.startswith("_") for part in qualname.split("."))
            and (public is None or qualname.split(".")[0] in public))


def _public(body):
    return [n for n in body if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and not n.name.startswith("_")]


def _references(module: ast.Module):
    """(line, reference, target, enclosing class) for every reference in the docstrings the API
    page renders: the module's, its public functions' and classes', and their public methods'
    (a private name's docstring, or a function's nested in another, is never rendered)."""
    rendered = [(module, "")]
    for node in _public(module.body):
        rendered.append((node, node.name if isinstance(node, ast.ClassDef) else ""))
        if isinstance(node, ast.ClassDef):
            rendered += [(method, node.name) for method in _public(node.body)]
    for node, class_name in rendered:
        for match in ROLE.finditer(ast.get_docstring(node, clean=False) or ""):
            yield getattr(node, "lineno", 1), match.group(0), match.group(2).strip(), class_name


MODULES = sorted(DOCUMENTED)


@pytest.mark.parametrize("module_name", MODULES)
def test_every_docstring_reference_resolves_inside_the_package(module_name):
    path = Path(importlib.util.find_spec(module_name).origin)
    tree = ast.parse(path.read_text(), filename=str(path))
    broken = [f"{path.name}:{line}: {text}" for line, text, target, class_name in _references(tree)
              if not _resolves(target, module_name, class_name)]
    assert not broken, ("references the offline, nitpicky book build cannot resolve "
                        "(write ``name`` for anything outside nmm_core): " + "; ".join(broken))


def test_the_check_catches_a_reference_outside_the_package():
    assert not _resolves("ast.dump", "nmm_core.sources")  # ``ast`` is imported there
    assert not _resolves("Path", "nmm_core.paths")  # pathlib's, imported there
    assert not _resolves("_code_cells", "nmm_core.reproduce")  # private: not rendered
    assert _resolves("fingerprint", "nmm_core.reproduce")
    assert not _resolves("no_such_function", "nmm_core.sources")
    assert _resolves("source_code", "nmm_core.sources")
    assert _resolves("nmm_core.reproduce.code_digest", "nmm_core.sources")
    assert _resolves("to_dict", "nmm_core.arm_model", "MuscleGeometry")
    assert not _resolves("to_dict", "nmm_core.arm_model")  # a method resolves in its class


@pytest.mark.book
def test_the_api_page_alone_builds_strictly(tmp_path):
    """The ground truth for the check above: the book's configuration and its API page, built
    alone with the strict flags the reproduction uses (seconds, not the quick reproduction's
    minutes); any warning, a reference or a docstring's markup, fails it."""
    repo = PACKAGE.parent
    shutil.copy(repo / "_config.yml", tmp_path)
    (tmp_path / "book").mkdir()
    for name in ("api.md", "references.bib"):
        shutil.copy(repo / "book" / name, tmp_path / "book")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/api\n")
    build = subprocess.run([str(Path(sys.executable).with_name("jupyter-book")), "build", str(tmp_path),
                            "-W", "-n", "--keep-going"], capture_output=True, text=True, timeout=600)
    warnings = [line for line in (build.stdout + build.stderr).splitlines() if "WARNING" in line
                and "absl::InitializeLog" not in line]
    assert build.returncode == 0 and not warnings, "\n".join(warnings) or build.stdout[-3000:]
