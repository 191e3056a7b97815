"""What a Python source file computes, for the fingerprints that decide what a rerun redoes.

The chapters' fingerprints (:func:`nmm_core.reproduce.code_digest`) and the generated cohorts'
(:func:`nmm_core.cohort.cohort_fingerprint`) cover the code of the modules they use. They read it
with :func:`source_code`: the file's syntax tree without its docstrings, so that editing a
docstring, a comment, a blank line or the layout of a statement reruns nothing, while editing a
statement, a name or a value reruns what uses it.
"""

from __future__ import annotations

import ast
from pathlib import Path

_HAS_DOCSTRING = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _without_docstrings(tree: ast.AST) -> ast.AST:
    """``tree`` with the docstrings of its module, classes and functions taken out (in place)."""
    for node in ast.walk(tree):
        if isinstance(node, _HAS_DOCSTRING) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return tree


def source_code(path) -> str:
    """The code of the Python file at ``path`` as text: its syntax tree (``ast.dump``, no line
    numbers) without docstrings. Comments, blank lines and layout do not reach the tree. A file
    that does not parse raises SyntaxError naming the file and the line."""
    path = Path(path)
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except SyntaxError as error:
        raise SyntaxError(f"{path}, line {error.lineno}: {error.msg}; fix the file: its code decides "
                          f"what a rerun of the reproduction redoes.") from None
    return ast.dump(_without_docstrings(tree))
