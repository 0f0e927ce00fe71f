"""Which state branch gitbot's branches start from: `baseBranch`, else the state repository's
default branch; an empty repository is started, a missing branch beside others is an error."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from gitfixtures import branches, commit_all, git, init_source, init_state

from gitbot.errors import UserError
from gitbot.gitrepo import RepoCache
from gitbot.state.publish import FIRST_BRANCH, StateBase, base_branch


def bare_with(path: Path, tmp: Path, branch_names: list[str], head: str) -> Path:
    """A bare repository holding one commit on each of `branch_names`, HEAD naming `head`."""
    subprocess.run(["git", "init", "-q", "--bare", "-b", head, str(path)], check=True, timeout=60)
    work = init_source(tmp / f"work-{path.name}", with_examples=False)
    (work / "README.md").write_text("state\n")
    commit_all(work, "start")
    for name in branch_names:
        git(work, "push", "-q", str(path), f"HEAD:refs/heads/{name}")
    return path


def test_a_master_only_repository_is_based_on_master(tmp_path: Path) -> None:
    bare = bare_with(tmp_path / "state.git", tmp_path, ["master"], head="master")
    repo = RepoCache(tmp_path / "cache").open(str(bare))
    assert base_branch(repo, None) == "master"
    base = StateBase(repo, base_branch(repo, None))
    assert base.sha == git(bare, "rev-parse", "master")
    assert branches(bare) == ["master"]  # no unrelated root branch `main`


def test_the_default_branch_wins_over_other_branches(tmp_path: Path) -> None:
    bare = bare_with(tmp_path / "state.git", tmp_path, ["main", "trunk"], head="trunk")
    repo = RepoCache(tmp_path / "cache").open(str(bare))
    assert base_branch(repo, None) == "trunk"
    assert base_branch(repo, "main") == "main"  # baseBranch, when set, wins


def test_an_empty_repository_gets_its_first_commit_on_main(tmp_path: Path) -> None:
    bare = init_state(tmp_path / "state.git")
    repo = RepoCache(tmp_path / "cache").open(str(bare))
    assert base_branch(repo, None) == FIRST_BRANCH == "main"
    base = StateBase(repo, "main")
    assert branches(bare) == ["main"] and base.sha == git(bare, "rev-parse", "main")


def test_a_missing_base_branch_names_the_branches_that_exist(tmp_path: Path) -> None:
    bare = bare_with(tmp_path / "state.git", tmp_path, ["master", "release"], head="master")
    repo = RepoCache(tmp_path / "cache").open(str(bare))
    with pytest.raises(UserError) as caught:
        StateBase(repo, "main")
    assert str(caught.value) == (
        f"the state repository {repo.url} has no branch 'main'; its branches: master, release "
        "(set baseBranch in .gitbot.yaml)"
    )
    assert branches(bare) == ["master", "release"]  # nothing was pushed


def test_a_head_naming_no_branch_is_an_error_naming_the_branches(tmp_path: Path) -> None:
    bare = bare_with(tmp_path / "state.git", tmp_path, ["master"], head="main")
    repo = RepoCache(tmp_path / "cache").open(str(bare))
    with pytest.raises(UserError) as caught:
        base_branch(repo, None)
    assert str(caught.value) == (
        f"the state repository {repo.url} has no default branch to use as base (its HEAD names "
        "nothing); its branches: master (set baseBranch in .gitbot.yaml)"
    )
