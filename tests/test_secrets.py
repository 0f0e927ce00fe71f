"""Redaction against the ways secrets really arrive: files with newlines, several lines, blanks.

A secret file usually ends in a newline (`echo pw > file`), certificates have many lines, and
hand-written values carry spaces: every form a pipeline or an error message may print must be
redacted, wherever it appears in a text.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gitbot.errors import UserError
from gitbot.secrets import MIN_REDACTED_LENGTH, REDACTED, Redactor, Secret, secret_store


def redactor(*values: str) -> Redactor:
    found = Redactor()
    for value in values:
        found.add(value)
    return found


@pytest.mark.parametrize(
    ("secret", "text", "expected"),
    [
        ("hunter2", "pw=hunter2", "pw=****"),
        # a file written with echo: the value a program prints has no newline
        ("hunter2\n", "pw=hunter2…", "pw=****…"),
        ("hunter2\r\n", "pw=hunter2;", "pw=****;"),
        # and a program that prints the file as is
        ("hunter2\n", "pw=hunter2\nnext", "pw=****next"),
        # blanks around the value, in the file or in the output
        ("  hunter2\t\n", "pw=hunter2 ok", "pw=**** ok"),
        ("  hunter2\t\n", "[  hunter2\t\n]", "[****]"),
        # several lines: each line alone, and all of them together
        ("line-one\nline-two\n", "a line-one b", "a **** b"),
        ("line-one\nline-two\n", "x line-two", "x ****"),
        ("line-one\nline-two\n", "line-one\nline-two\n", "****"),
        ("line-one\r\nline-two", "got line-two", "got ****"),
        # regular expression characters are literal
        ("a.b*c+(d)", "a.b*c+(d) axbbbc", "**** axbbbc"),
        ("p@ss|word", "p@ss or word: p@ss|word", "p@ss or word: ****"),
        # anywhere in a text, several times
        ("hunter2", "hunter2hunter2 hunter2", "******** ****"),
    ],
)
def test_every_form_of_a_secret_is_redacted(secret: str, text: str, expected: str) -> None:
    assert redactor(secret)(text) == expected


def test_the_longest_secret_wins_when_one_contains_another() -> None:
    found = redactor("secret", "secret-and-more")
    assert found("x secret-and-more y secret") == "x **** y ****"


def test_the_longest_secret_wins_whatever_the_alphabet_says() -> None:
    # "word" sorts after "a-word-b": redacting it first would leave "a-****-b" behind.
    found = redactor("word", "a-word-b")
    assert found("x a-word-b y word") == "x **** y ****"


def test_values_too_short_to_be_secrets_are_left_alone() -> None:
    short = "x" * (MIN_REDACTED_LENGTH - 1)
    exact = "y" * MIN_REDACTED_LENGTH
    found = redactor(f"{short}\n{exact}\n")
    assert found(f"{short} {exact}") == f"{short} {REDACTED}"
    assert redactor("\n\n  \n")("text stays") == "text stays"


def test_a_redactor_with_nothing_registered_returns_the_text() -> None:
    assert Redactor()("pw=hunter2") == "pw=hunter2"


def test_a_value_added_later_is_redacted_too() -> None:
    found = redactor("first-secret")
    assert found("first-secret second-secret") == "**** second-secret"
    found.add("second-secret")
    assert found("first-secret second-secret") == "**** ****"


def test_secret_prints_as_stars() -> None:
    token = Secret("ghs_token-value")
    assert repr(token) == "Secret('****')"
    assert "ghs_token-value" not in repr({"token": token})
    assert token == "ghs_token-value"  # still the value for the code that needs it


def test_reading_a_secret_file_registers_every_form_of_it(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "password").write_text("  hunter2-pw\n")
    (tmp_path / "db" / "cert").write_text("-----BEGIN-----\nAAAA-line\nBBBB-line\n")
    found = Redactor()
    store = secret_store(tmp_path, found)
    assert store.value("db", "password") == "  hunter2-pw\n"  # the container gets it unchanged
    assert found("pw=hunter2-pw") == "pw=****"
    assert store.keys("db") == {
        "cert": "-----BEGIN-----\nAAAA-line\nBBBB-line\n",
        "password": "  hunter2-pw\n",
    }
    assert found("AAAA-line / BBBB-line") == "**** / ****"


def test_config_maps_are_not_secrets(tmp_path: Path) -> None:
    from gitbot.secrets import config_map_store

    (tmp_path / "cm").mkdir()
    (tmp_path / "cm" / "region").write_text("eu-west-1\n")
    found = Redactor()
    assert config_map_store(tmp_path, found).value("cm", "region") == "eu-west-1\n"
    assert found("eu-west-1") == "eu-west-1"


@pytest.mark.parametrize("name", ["..", ".", "../etc", "a/b", ""])
def test_object_names_cannot_leave_the_secrets_folder(tmp_path: Path, name: str) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "passwd").write_text("root:x\n")
    store = secret_store(tmp_path / "secrets", Redactor())
    with pytest.raises(UserError, match="not found"):
        store.keys(name)
    assert store.value(name, "passwd", optional=True) is None


@pytest.mark.parametrize("key", ["..", "../passwd", "a/b", ".hidden/x"])
def test_keys_cannot_leave_the_object_folder(tmp_path: Path, key: str) -> None:
    (tmp_path / "db").mkdir()
    (tmp_path / "passwd").write_text("root:x\n")
    store = secret_store(tmp_path, Redactor())
    with pytest.raises(UserError) as raised:
        store.value("db", key)
    assert str(raised.value) == f"secret 'db' has no key '{key}' in {tmp_path}"


def test_a_secret_file_that_is_not_text_names_object_and_key(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "blob").write_bytes(b"\xff\xfe binary")
    store = secret_store(tmp_path, Redactor())
    for read in (lambda: store.value("db", "blob"), lambda: store.keys("db")):
        with pytest.raises(UserError) as raised:
            read()
        assert str(raised.value).startswith("cannot read secret 'db' key 'blob': ")


def test_keys_skip_hidden_entries_and_folders_as_a_mounted_secret_has_them(
    tmp_path: Path,
) -> None:
    # A Kubernetes secret volume holds `..data` (a folder link) and `..2024_...` folders.
    (tmp_path / "db" / "..2024_01_01").mkdir(parents=True)
    (tmp_path / "db" / "..2024_01_01" / "password").write_text("pw-value")
    (tmp_path / "db" / ".hidden").write_text("not a key")
    (tmp_path / "db" / "sub").mkdir()
    (tmp_path / "db" / "password").write_text("pw-value")
    assert secret_store(tmp_path, Redactor()).keys("db") == {"password": "pw-value"}


def test_missing_objects_say_where_gitbot_looked(tmp_path: Path) -> None:
    from gitbot.secrets import config_map_store

    cases = [
        (
            lambda: secret_store(None, Redactor()).value("db", "pw"),
            "secret 'db' not found (no secrets folder given; use --secrets-dir)",
        ),
        (
            lambda: config_map_store(None, Redactor()).keys("cm"),
            "config map 'cm' not found (no config maps folder given; use --config-maps-dir)",
        ),
        (
            lambda: secret_store(tmp_path, Redactor()).value("db", "pw"),
            f"secret 'db' not found in {tmp_path}",
        ),
        (
            lambda: config_map_store(tmp_path, Redactor()).value("cm", "k"),
            f"config map 'cm' not found in {tmp_path}",
        ),
    ]
    for read, message in cases:
        with pytest.raises(UserError) as raised:
            read()
        assert str(raised.value) == message
