"""The package layout's one rule: imports run one way, from the entry points down to the base.

The layers, lowest first, are those the README's layout section names; a package may import its
own modules, the base modules and the packages of lower layers, never a higher or a sibling one.
The in-tree GitHub server (`ghserver`) imports nothing of gitbot's.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Lowest first. Packages on one line are siblings: neither imports the other.
LAYERS: list[set[str]] = [
    {"base"},
    {"kratix"},
    {"platform"},
    {"source", "pipeline"},
    {"state"},
    {"reconcile"},
    {"github"},
    {"work"},
    {"web"},
    {"entry"},
]
ENTRY_MODULES = {"cli", "runtime", "wsgi", "__main__"}


def _unit(module: str) -> str:
    """`gitbot.state.publish` -> `state`; top-level modules are the base or an entry point."""
    parts = module.split(".")
    if len(parts) == 1:
        return "base"
    if parts[1] in ENTRY_MODULES or parts[1] == "commands":
        return "entry"
    path = ROOT / "gitbot" / parts[1]
    return parts[1] if path.is_dir() else "base"


def _level(unit: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if unit in layer)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def test_every_package_is_in_a_layer() -> None:
    packages = {p.name for p in (ROOT / "gitbot").iterdir() if (p / "__init__.py").exists()}
    placed = set().union(*LAYERS) | {"commands"}
    assert packages <= placed, f"packages missing from LAYERS: {sorted(packages - placed)}"


def test_imports_never_go_up_or_sideways() -> None:
    wrong = []
    for path in sorted((ROOT / "gitbot").rglob("*.py")):
        name = _module_name(path)
        unit = _unit(name)
        for target in _imports(path):
            if not target.startswith("gitbot.") or target.count(".") < 1:
                continue
            target_unit = _unit(target)
            if target_unit == unit or target_unit == "base":
                continue
            if _level(target_unit) >= _level(unit):
                wrong.append(f"{name} ({unit}) imports {target} ({target_unit})")
    assert wrong == []


def test_ghserver_imports_nothing_of_gitbot() -> None:
    wrong = [
        f"{_module_name(path)} imports {target}"
        for path in sorted((ROOT / "ghserver").rglob("*.py"))
        for target in _imports(path)
        if target == "gitbot" or target.startswith("gitbot.")
    ]
    assert wrong == []


def test_the_rule_catches_an_upward_import(tmp_path: Path) -> None:
    """The check itself: a kratix module importing the state package is found."""
    assert _level(_unit("gitbot.state.publish")) > _level(_unit("gitbot.kratix.objects"))
    assert _unit("gitbot.errors") == "base"
    assert _unit("gitbot.commands.run") == "entry"
    probe = tmp_path / "probe.py"
    probe.write_text("from gitbot.state.publish import publish_branch\n")
    assert "gitbot.state.publish" in _imports(probe)
