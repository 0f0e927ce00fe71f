"""YAML loading with line numbers and strict errors; dumping as Kubernetes writes YAML."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from gitbot import yamlio
from gitbot.errors import InvalidObjects


def problems(text: str) -> list[str]:
    with pytest.raises(InvalidObjects) as info:
        yamlio.load_text(textwrap.dedent(text), "f.yaml")
    return [str(p) for p in info.value.problems]


# --- loading ----------------------------------------------------------------------------------


def test_documents_lines_and_empty_documents_skipped() -> None:
    text = textwrap.dedent(
        """\
        # a comment
        a: 1
        ---
        ---
        # only a comment
        ---

        b:
          - c: 2
            d: [x, z]
        """
    )
    docs = yamlio.load_text(text, "f.yaml")
    assert [(d.data, d.line, d.file) for d in docs] == [
        ({"a": 1}, 2, "f.yaml"),
        ({"b": [{"c": 2, "d": ["x", "z"]}]}, 8, "f.yaml"),
    ]


def test_line_of_a_path_or_its_nearest_ancestor() -> None:
    text = textwrap.dedent(
        """\
        apiVersion: v1
        spec:
          containers:
          - name: a
            image: busybox
          - name: b

            command:
              - sh
        """
    )
    (doc,) = yamlio.load_text(text, "f.yaml")
    assert doc.line_of([]) == 1
    assert doc.line_of(["spec"]) == 2
    assert doc.line_of(["spec", "containers", 0, "image"]) == 5
    assert doc.line_of(["spec", "containers", 1]) == 6
    assert doc.line_of(["spec", "containers", 1, "command", 1]) == 8
    assert doc.line_of(["spec", "containers", 1, "image"]) == 6
    assert doc.line_of(["spec", "containers", 7, "image"]) == 3
    assert doc.line_of(["spec", "nope", "deeper"]) == 2
    assert doc.line_of(["apiVersion", "x"]) == 1
    assert doc.scalar_text(["spec", "containers", 0, "name"]) == "a"
    assert doc.scalar_text(["spec", "containers"]) is None
    assert doc.scalar_text(["spec", "nope"]) is None
    assert yamlio.YamlDocument({"a": 1}, "built.yaml", 7).line_of(["a"]) == 7


def test_scalars_are_read_as_kubernetes_reads_them() -> None:
    text = """\
        a: yes
        b: y
        c: "true"
        d: 1:30
        e: 0644
        f: 2024-01-02
        g: 1e3
        h: 0o17
        i: ~
        j: .5
        k: !!str 12
        l: =
        m: 0x1F
        nn: 1_000
        o: .inf
        """
    (doc,) = yamlio.load_text(textwrap.dedent(text), "f.yaml")
    assert doc.data == {
        "a": True,
        "b": True,
        "c": "true",
        "d": "1:30",
        "e": 420,
        "f": "2024-01-02",
        "g": 1000.0,
        "h": 15,
        "i": None,
        "j": 0.5,
        "k": "12",
        "l": "=",
        "m": 31,
        "nn": 1000,
        "o": float("inf"),
    }


def test_keys_become_strings_as_in_json() -> None:
    (doc,) = yamlio.load_text("1: a\ntrue: b\nnull: c\n1.5: d\nn: e\n", "f.yaml")
    # go-yaml v2 reads a plain `n` as false, and Kubernetes then writes the key as "false".
    assert doc.data == {"1": "a", "true": "b", "null": "c", "1.5": "d", "false": "e"}


def test_merge_keys_and_aliases() -> None:
    text = """\
        base: &base {image: x, name: a}
        one:
          <<: *base
          name: b
        list: [*base, *base]
        """
    (doc,) = yamlio.load_text(textwrap.dedent(text), "f.yaml")
    assert doc.data["one"] == {"name": "b", "image": "x"}
    assert doc.data["list"] == [{"image": "x", "name": "a"}] * 2
    assert doc.data["list"][0] is not doc.data["list"][1]
    assert doc.line_of(["one", "name"]) == 4
    assert doc.line_of(["one", "image"]) == 1


def test_duplicate_keys_are_errors_at_their_line() -> None:
    text = """\
        metadata:
          name: a
        spec:
          containers:
            - name: x
              image: y
              name: z
        """
    assert problems(text) == ["f.yaml:7: spec.containers[0]: duplicate key 'name'"]
    assert problems("a: 1\nb: 2\na: 3\n") == ["f.yaml:3: duplicate key 'a'"]
    assert problems("labels:\n  1: a\n  '1': b\n") == ["f.yaml:3: labels: duplicate key '1'"]


def test_syntax_errors_have_the_real_line() -> None:
    assert problems("a: 1\nb: [1, 2\nc: 3\n") == [
        "f.yaml:3: invalid YAML: did not find expected ',' or ']' "
        "(while parsing a flow sequence at line 2)"
    ]
    assert problems("a:\n  b: 1\n c: 2\n") == [
        "f.yaml:3: invalid YAML: did not find expected key "
        "(while parsing a block mapping at line 1)"
    ]
    assert problems("a: b: c\n") == [
        "f.yaml:1: invalid YAML: mapping values are not allowed in this context"
    ]
    assert problems("ok: 1\nbad: \x01\n") == [
        "f.yaml:2: invalid YAML: unacceptable character #x0001"
    ]
    assert problems("a: !custom x\n") == [
        "f.yaml:1: invalid YAML: could not determine a constructor for the tag '!custom'"
    ]


def test_bad_structures() -> None:
    assert problems("a: &x [*x]\n") == ["f.yaml:1: a[0]: recursive alias"]
    assert problems("a: &x {k: 1, <<: *x}\n") == ["f.yaml:1: a: recursive alias"]
    assert problems("? [a]\n: 1\n") == [
        "f.yaml:1: a mapping key must be a string, not a collection"
    ]
    assert problems("a:\n  <<: 1\n") == ["f.yaml:2: a: a merge key ('<<') needs a mapping"]
    assert problems("a: !!int x\n") == ["f.yaml:1: a: invalid int 'x'"]
    assert problems("a: " + "[" * 2000 + "]" * 2000) == [
        "f.yaml:1: invalid YAML: nested too deeply"
    ]


def test_aliases_cannot_blow_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlio, "MAX_VALUES", 50)
    text = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    assert problems(text) == ["f.yaml:1: b[3][7]: document has more than 50 values"]


def test_load_file(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes("\ufeffname: é\n".encode())
    (doc,) = yamlio.load_file(path)
    assert (doc.data, doc.file, doc.line) == ({"name": "é"}, str(path), 1)


def test_load_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"a: 1\nb: \xff\n")
    with pytest.raises(InvalidObjects) as info:
        yamlio.load_file(bad)
    assert [str(p) for p in info.value.problems] == [
        f"{bad}:2: not valid UTF-8 (byte 0xff at offset 8)"
    ]
    with pytest.raises(InvalidObjects) as info:
        yamlio.load_file(tmp_path / "missing.yaml")
    assert [str(p) for p in info.value.problems] == [
        f"{tmp_path / 'missing.yaml'}:1: cannot read file: No such file or directory"
    ]


def test_safe_load() -> None:
    assert yamlio.safe_load("message: hi\n", "status.yaml") == {"message": "hi"}
    assert yamlio.safe_load("", "status.yaml") is None
    assert yamlio.safe_load("# nothing\n", "status.yaml") is None
    with pytest.raises(InvalidObjects) as info:
        yamlio.safe_load("a: 1\n---\nb: 2\n", "status.yaml")
    assert str(info.value) == "status.yaml:3: expected one YAML document, found 2"
    with pytest.raises(InvalidObjects) as info:
        yamlio.safe_load("a: [\n", "status.yaml")
    assert str(info.value).startswith("status.yaml:2: invalid YAML: ")


def test_format_path() -> None:
    path = ["spec", "containers", 1, "env", 0, "name"]
    assert yamlio.format_path(path) == "spec.containers[1].env[0].name"
    assert yamlio.format_path(["metadata", "labels", "kratix.io/paused"]) == (
        'metadata.labels["kratix.io/paused"]'
    )
    assert yamlio.format_path([]) == ""
    assert yamlio.format_path([0, "a b"]) == '[0]["a b"]'


# --- dumping ----------------------------------------------------------------------------------


def test_dump_sorted_writes_like_sigs_k8s_io_yaml() -> None:
    obj: dict[str, Any] = {
        "spec": {"containers": [{"name": "a", "args": ["-c", "echo hi"]}], "empty": {}},
        "apiVersion": "v1",
        "data": {
            "item10": "x",
            "item9": "x",
            "bool": "true",
            "yes": "y",
            "num": "1",
            "date": "2024-01-01",
            "time": "1:30",
            "blank": "",
            "colon": "a: b",
            "script": "#!/bin/sh\necho hi\n",
            "unicode": "日本",
            "merge": "<<",
        },
        "numbers": [1, 1.0, 2.5, 1e21, 0.00001, 1234567.5, True, None],
        "list": [],
    }
    assert yamlio.dump_sorted(obj) == textwrap.dedent(
        """\
        apiVersion: v1
        data:
          blank: ""
          bool: "true"
          colon: 'a: b'
          date: "2024-01-01"
          item9: x
          item10: x
          merge: "<<"
          num: "1"
          script: |
            #!/bin/sh
            echo hi
          time: "1:30"
          unicode: 日本
          "yes": "y"
        list: []
        numbers:
        - 1
        - 1
        - 2.5
        - 1e+21
        - 1e-05
        - 1.2345675e+06
        - true
        - null
        spec:
          containers:
          - args:
            - -c
            - echo hi
            name: a
          empty: {}
        """
    )


def test_dump_sorted_key_order_is_go_yaml_v2s() -> None:
    keys = ["b", "a_b", "aZ", "a10", "a9", "a-b", "ab", "A", "a"]
    text = yamlio.dump_sorted(dict.fromkeys(keys, 1))
    assert [line.split(":")[0] for line in text.splitlines()] == [
        "A",
        "a",
        "a-b",
        "a_b",
        "a9",
        "a10",
        "aZ",
        "ab",
        "b",
    ]


def test_dump_sorted_never_writes_aliases_and_long_lines_fold() -> None:
    shared = {"x": 1}
    assert yamlio.dump_sorted({"a": shared, "b": shared}) == "a:\n  x: 1\nb:\n  x: 1\n"
    long = "word " * 20
    assert yamlio.dump_sorted({"d": long.strip()}) == (
        "d: word word word word word word word word word word word word word word word word\n"
        "  word word word word\n"
    )


def test_dump_round_trips() -> None:
    obj = {
        "a": ["y", "n", "on", "0x10", "010", "1e3", "1_000", ".5", "~", "null", "- x", "#c"],
        "b": {"k": "trailing space ", "l": "  lead\nline\n", "m": "tab\there", "n": "\u2028"},
        "c": [{"d": None}, [], {}],
    }
    assert yamlio.load_text(yamlio.dump_sorted(obj), "f.yaml")[0].data == obj


def test_dump_all() -> None:
    assert yamlio.dump_all([{"b": 1, "a": 2}, {"c": [1]}]) == "a: 2\nb: 1\n---\nc:\n- 1\n"
    assert yamlio.dump_all([]) == ""
