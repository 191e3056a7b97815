"""What the fingerprints read of a source file (``nmm_core.sources``): edits that cannot change
what the code computes leave it as it is, and every other edit changes it."""

import textwrap

import pytest

from nmm_core.sources import source_code

ORIGINAL = '''
"""A module."""

import math

#: A constant.
SCALE = 2.0


class Muscle:
    """A muscle."""

    def force(self, activation):
        """Its force."""
        return SCALE * math.sqrt(activation)


def only_a_docstring():
    """Nothing else."""
'''

#: Edits of docstrings, comments, blank lines and layout: the code is the same.
SAME = {
    "module docstring": ORIGINAL.replace('"""A module."""', '"""A module, described at length\n\nover lines."""'),
    "no module docstring": ORIGINAL.replace('"""A module."""\n', ""),
    "class docstring": ORIGINAL.replace('"""A muscle."""', "'''Another text.'''"),
    "method docstring removed": ORIGINAL.replace('        """Its force."""\n', ""),
    "comment": ORIGINAL.replace("#: A constant.", "# a comment, reworded"),
    "trailing comment": ORIGINAL.replace("SCALE = 2.0", "SCALE = 2.0  # N per unit"),
    "blank lines": ORIGINAL.replace("\n\n\n", "\n\n\n\n\n"),
    "a statement reflowed": ORIGINAL.replace("return SCALE * math.sqrt(activation)",
                                             "return (SCALE\n                * math.sqrt(activation))"),
    "the last docstring": ORIGINAL.replace('"""Nothing else."""', '"""Still nothing."""'),
}

#: Edits of what the code does: the code differs.
DIFFERENT = {
    "a value": ORIGINAL.replace("SCALE = 2.0", "SCALE = 3.0"),
    "a name": ORIGINAL.replace("activation", "a"),
    "an operator": ORIGINAL.replace("SCALE * math", "SCALE + math"),
    "a statement added": ORIGINAL.replace("SCALE = 2.0", "SCALE = 2.0\nOFFSET = 0"),
    "an import": ORIGINAL.replace("import math", "import cmath as math"),
    # A string that is not the first statement of a body is data, not a docstring.
    "a string after the docstring": ORIGINAL.replace('"""Its force."""', '"""Its force."""\n        "kept"'),
    "a function body": ORIGINAL.replace('    """Nothing else."""', '    """Nothing else."""\n    return 1'),
}


def _code(tmp_path, text, name="module.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return source_code(path)


@pytest.mark.parametrize("edit", sorted(SAME))
def test_docstrings_comments_and_layout_do_not_change_the_code(tmp_path, edit):
    assert _code(tmp_path, SAME[edit], "edited.py") == _code(tmp_path, ORIGINAL)


@pytest.mark.parametrize("edit", sorted(DIFFERENT))
def test_every_edit_of_what_the_code_does_changes_it(tmp_path, edit):
    assert _code(tmp_path, DIFFERENT[edit], "edited.py") != _code(tmp_path, ORIGINAL)


def test_the_edited_sources_still_run_as_the_original_does(tmp_path):
    """The cases are honest: every 'same' edit computes what the original computes (run here)."""
    def force(text):
        namespace = {}
        exec(compile(textwrap.dedent(text), "case", "exec"), namespace)
        return namespace["Muscle"]().force(0.25), namespace["only_a_docstring"]()

    expected = force(ORIGINAL)
    assert all(force(text) == expected for text in SAME.values())
    assert force(DIFFERENT["a value"]) != expected and force(DIFFERENT["a function body"]) != expected


def test_a_file_that_does_not_parse_is_named_with_its_line(tmp_path):
    with pytest.raises(SyntaxError, match=r"broken\.py, line 2: .*fix the file"):
        _code(tmp_path, "X = 1\ndef (:\n", "broken.py")
