"""The examples in the package docstring and in docs/python.md run."""

from __future__ import annotations

import doctest
import pathlib
import re

import scuttle

# docs/python.md of the repository, when the tests run from a checkout.
DOC = next(
    (p / "docs" / "python.md" for p in pathlib.Path(__file__).resolve().parents
     if (p / "docs" / "python.md").exists()),
    pathlib.Path("docs/python.md"),
)


def test_package_docstring_examples() -> None:
    result = doctest.testmod(scuttle, raise_on_error=False, verbose=False)
    assert result.attempted > 0 and result.failed == 0


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def _block(marker: str) -> str:
    """The first example of docs/python.md that contains `marker`."""
    return next(b for b in _blocks() if marker in b)


def test_node_examples_in_docs() -> None:
    if not DOC.exists():  # the package is used outside the repository
        return
    first = _blocks()[0]
    assert "scuttle.Node.start" in first, "the docs show the networked node first"
    for example in (first, _block("scuttle.BlockingNode(")):
        exec(compile(example, str(DOC), "exec"), {"__name__": "__docs__"})


def test_quick_start_in_docs() -> None:
    if not DOC.exists():  # the package is used outside the repository
        return
    quick_start = _block('scuttle.Gossip("a")')
    namespace: dict[str, object] = {}
    exec(compile(quick_start, str(DOC), "exec"), namespace)
    single_pipe = _block("a.gossip()")
    a, b = scuttle.Gossip("a"), scuttle.Gossip("b")
    a.set("k", 1)
    exec(compile(single_pipe, str(DOC), "exec"), {"a": a, "b": b})
    assert b["k"] == 1
