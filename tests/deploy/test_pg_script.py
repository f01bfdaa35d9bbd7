"""``scripts/pg.sh``: the throwaway PostgreSQL of ``make test`` starts wherever the checkout is.

Run for real, as a user would: the scripts copied into a directory of mode 0700 (a home directory,
a ``mktemp -d``), the cluster started, queried over psycopg2, stopped, and its directory checked
gone. As root the cluster runs as ``postgres``, which cannot enter the 0700 checkout; as a
non-root user (one is created for the test when it runs as root) it runs as that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IS_ROOT = os.geteuid() == 0
HAS_SERVER = any(Path("/usr/lib/postgresql").glob("*/bin/initdb"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not HAS_SERVER and not IS_ROOT,
        reason="PostgreSQL server binaries are not installed and only root may install them",
    ),
]


def private_checkout(parent: Path, owner: str | None = None) -> Path:
    """``parent/p`` (parent mode 0700) holding a copy of the repository's scripts."""
    parent.mkdir(parents=True, exist_ok=True)
    parent.chmod(0o700)
    checkout = parent / "p"
    shutil.copytree(ROOT / "scripts", checkout / "scripts")
    if owner:
        for path in [parent, *parent.rglob("*")]:
            shutil.chown(path, owner, owner)
    return checkout


def pg_sh(checkout: Path, *args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_script(checkout, "pg.sh", *args, user=user)


def run_script(
    checkout: Path, script: str, *args: str, user: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``bash scripts/<script> args…`` in ``checkout``, as ``user`` (with that user's HOME) when given."""
    cmd = ["bash", f"scripts/{script}", *args]
    env = dict(os.environ)
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
        env.update(HOME=pwd.getpwnam(user).pw_dir, USER=user, LOGNAME=user)
    return subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True, timeout=600)


def state_dir(state: Path) -> Path:
    fields = dict(line.split("=", 1) for line in state.read_text().splitlines())
    return Path(fields["dir"])


def start_query_stop(checkout: Path, state: Path, owner: str, user: str | None = None) -> None:
    started = pg_sh(checkout, "start", str(state), user=user)
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    cluster = state_dir(state)
    try:
        assert url.startswith("postgresql+psycopg2://postgres@127.0.0.1:")
        assert cluster.parent == Path(tempfile.gettempdir()) or cluster.parent == Path("/tmp")
        assert cluster.name.startswith("dataops-pg.")
        assert checkout not in cluster.parents
        st = cluster.stat()
        assert (pwd.getpwuid(st.st_uid).pw_name, oct(st.st_mode & 0o777)) == (owner, "0o700")
        assert (cluster / "data" / "PG_VERSION").exists()

        import psycopg2

        conn = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"), connect_timeout=10)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
                assert cur.fetchone() == (1,)
        finally:
            conn.close()
    finally:
        stopped = pg_sh(checkout, "stop", str(state), user=user)
    assert stopped.returncode == 0, stopped.stderr
    assert not cluster.exists()
    assert not state.exists()


def test_start_and_stop_from_a_0700_checkout(tmp_path: Path) -> None:
    """As root: the cluster runs as ``postgres`` in its own temp dir; the 0700 checkout never matters."""
    checkout = private_checkout(tmp_path / "home")
    me = pwd.getpwuid(os.geteuid()).pw_name
    start_query_stop(checkout, checkout / ".pgtest.state", owner="postgres" if IS_ROOT else me)


@pytest.fixture
def other_user() -> Iterator[str]:
    """A fresh non-root user with a 0700 home directory of its own (created and removed here)."""
    if not IS_ROOT:
        pytest.skip("not root, cannot create a user; the as-the-caller test already runs the script")
    if shutil.which("useradd") is None:
        pytest.skip("useradd is not installed, so no non-root user can be created")
    name = f"dataops-t{uuid.uuid4().hex[:8]}"
    home = Path(tempfile.mkdtemp(prefix="dataops-home-"))
    subprocess.run(
        ["useradd", "--no-create-home", "--home-dir", str(home), "--shell", "/bin/bash", name],
        check=True,
        capture_output=True,
        timeout=60,
    )
    try:
        shutil.chown(home, name, name)
        home.chmod(0o700)
        yield name
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True, timeout=60)
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.skipif(not HAS_SERVER, reason="a non-root user cannot install the PostgreSQL server binaries")
def test_start_and_stop_as_a_non_root_user(other_user: str) -> None:
    home = Path(pwd.getpwnam(other_user).pw_dir)
    checkout = private_checkout(home / "src", owner=other_user)
    start_query_stop(checkout, checkout / ".pgtest.state", owner=other_user, user=other_user)


def test_stop_without_a_state_file_does_nothing(tmp_path: Path) -> None:
    checkout = private_checkout(tmp_path / "home")
    assert pg_sh(checkout, "stop", str(tmp_path / "none.state")).returncode == 0


def test_stop_refuses_to_remove_a_directory_it_did_not_make(tmp_path: Path) -> None:
    checkout = private_checkout(tmp_path / "home")
    precious = tmp_path / "precious"
    precious.mkdir()
    state = tmp_path / "bad.state"
    state.write_text(f"dir={precious}\nbin=/nonexistent\nport=1\n")
    stopped = pg_sh(checkout, "stop", str(state))
    assert stopped.returncode == 1
    assert "does not name a cluster directory made by pg.sh" in stopped.stderr
    assert precious.is_dir()


def test_start_refuses_a_state_file_of_a_cluster_that_still_exists(tmp_path: Path) -> None:
    checkout = private_checkout(tmp_path / "home")
    cluster = Path(tempfile.mkdtemp(prefix="dataops-pg."))
    try:
        state = tmp_path / "live.state"
        state.write_text(f"dir={cluster}\nbin=/nonexistent\nport=1\n")
        started = pg_sh(checkout, "start", str(state))
        assert started.returncode == 1
        assert f"names a cluster that still exists ({cluster})" in started.stderr
        assert cluster.is_dir()
    finally:
        cluster.rmdir()
