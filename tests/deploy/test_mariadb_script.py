"""``scripts/mariadb.sh``: the throwaway MariaDB of ``make test`` (the MySQL/MariaDB warehouse, #18).

Run for real, as ``test_pg_script`` runs ``pg.sh``: the scripts copied into a directory of mode 0700,
the server started on a free loopback port, queried over mysqlclient (utf8mb4, the binary NO PAD
collation the dialect tests rely on), stopped, its process and directory checked gone. As root the
server runs as ``mysql``; as a non-root user (one is created for the test when it runs as root) it
runs as that user.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import tempfile
from pathlib import Path

import pytest
from test_pg_script import IS_ROOT, other_user, private_checkout, run_script, state_dir  # noqa: F401 (fixture)

HAS_SERVER = Path("/usr/sbin/mariadbd").exists()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not HAS_SERVER and not IS_ROOT,
        reason="MariaDB server binaries are not installed and only root may install them",
    ),
]


def mariadb_sh(checkout: Path, *args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_script(checkout, "mariadb.sh", *args, user=user)


def start_query_stop(checkout: Path, state: Path, owner: str, user: str | None = None) -> None:
    import sqlalchemy as sa

    started = mariadb_sh(checkout, "start", str(state), user=user)
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    server = state_dir(state)
    pid = int(dict(line.split("=", 1) for line in state.read_text().splitlines())["pid"])
    try:
        assert url.startswith("mysql+mysqldb://dataops@127.0.0.1:") and url.endswith("charset=utf8mb4")
        assert server.parent in (Path(tempfile.gettempdir()), Path("/tmp"))
        assert server.name.startswith("dataops-mariadb.") and checkout not in server.parents
        st = server.stat()
        assert (pwd.getpwuid(st.st_uid).pw_name, oct(st.st_mode & 0o777)) == (owner, "0o700")
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT @@collation_server, @@bind_address").one() == (
                "utf8mb4_nopad_bin",
                "127.0.0.1",
            )
        engine.dispose()
    finally:
        stopped = mariadb_sh(checkout, "stop", str(state), user=user)
    assert stopped.returncode == 0, stopped.stderr
    assert not server.exists() and not state.exists()
    assert not Path(f"/proc/{pid}").exists()


def test_start_and_stop_from_a_0700_checkout(tmp_path: Path) -> None:
    checkout = private_checkout(tmp_path / "home")
    me = pwd.getpwuid(os.geteuid()).pw_name
    start_query_stop(checkout, checkout / ".mysqltest.state", owner="mysql" if IS_ROOT else me)


@pytest.mark.skipif(not HAS_SERVER, reason="a non-root user cannot install the MariaDB server binaries")
def test_start_and_stop_as_a_non_root_user(other_user: str) -> None:  # noqa: F811
    home = Path(pwd.getpwnam(other_user).pw_dir)
    checkout = private_checkout(home / "src", owner=other_user)
    start_query_stop(checkout, checkout / ".mysqltest.state", owner=other_user, user=other_user)


def test_stop_refuses_to_remove_a_directory_it_did_not_make(tmp_path: Path) -> None:
    checkout = private_checkout(tmp_path / "home")
    precious = tmp_path / "precious"
    precious.mkdir()
    state = tmp_path / "bad.state"
    state.write_text(f"dir={precious}\npid=1\nport=1\n")
    stopped = mariadb_sh(checkout, "stop", str(state))
    assert stopped.returncode == 1
    assert "does not name a server directory made by mariadb.sh" in stopped.stderr
    assert precious.is_dir()
