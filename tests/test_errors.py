"""How a Problem reads: `file:line: key.path: message`, the key path left out when empty."""

from __future__ import annotations

from gitbot.errors import InvalidObjects, Problem


def test_a_problem_without_a_key_path_reads_file_line_message() -> None:
    # A whole document's problem (e.g. a request whose Promise has errors) has no key path.
    assert str(Problem("r.yaml", 1, "", "not loaded")) == "r.yaml:1: not loaded"
    assert str(Problem("r.yaml", 1, "", "x", warning=True)) == "r.yaml:1: warning: x"


def test_a_problem_with_a_key_path_names_it() -> None:
    assert str(Problem("p.yaml", 7, "spec.size", "bad")) == "p.yaml:7: spec.size: bad"
    assert str(Problem("p.yaml", 7, "kind", "w", warning=True)) == "p.yaml:7: warning: kind: w"
    both = InvalidObjects([Problem("a.yaml", 1, "", "m"), Problem("b.yaml", 2, "k", "n")])
    assert str(both) == "a.yaml:1: m\nb.yaml:2: k: n"
