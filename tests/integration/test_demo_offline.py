"""``medledger demo`` runs offline, from what ``pip install -e .`` installs.

The demo runs in a subprocess whose network is cut and whose pydicom-data is
hidden: a ``sitecustomize`` makes every socket connection and every urlopen
fail loudly (and records the attempt in a file), and removes pydicom's external
data sources, as on a machine without the dev extras. A bogus proxy is set too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SITECUSTOMIZE = '''
import importlib.metadata, os, socket, urllib.request

_MARK = os.environ["DEMO_NETWORK_MARK"]

def _refuse(*args, **kwargs):
    with open(_MARK, "a") as mark:
        mark.write(repr(args[:2]) + "\\n")
    raise OSError("network blocked by the offline demo test")

_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex

def _connect_local_only(original):
    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):  # unix sockets stay usable
            return _refuse(address)
        return original(self, address)
    return connect

socket.socket.connect = _connect_local_only(_connect)
socket.socket.connect_ex = _connect_local_only(_connect_ex)
socket.create_connection = _refuse
socket.getaddrinfo = _refuse  # a lookup is the first step of any download
urllib.request.urlopen = _refuse

_entry_points = importlib.metadata.entry_points

def _no_external_data(**params):
    if params.get("group") == "pydicom.data.external_sources":
        return importlib.metadata.EntryPoints(())  # pydicom-data hidden
    return _entry_points(**params)

importlib.metadata.entry_points = _no_external_data
'''


@pytest.mark.slow
def test_demo_runs_offline(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    mark = tmp_path / "network-attempts.txt"
    (tmp_path / "home").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDLEDGER_")}
    env.update({
        "PYTHONPATH": str(site),
        "DEMO_NETWORK_MARK": str(mark),
        "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
        "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
        "HOME": str(tmp_path / "home"),  # no cached downloads from an earlier run
        "NO_COLOR": "1",
    })  # fmt: skip
    exe = Path(sys.executable).parent / "medledger"
    proc = subprocess.run([str(exe), "demo", "--json"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=900, check=False)  # fmt: skip
    assert not mark.exists(), mark.read_text()  # never tried the network
    assert proc.returncode == 0, proc.stderr
    assert "download" not in proc.stderr and "Traceback" not in proc.stderr
    steps = {s["step"]: s for s in json.loads(proc.stdout)["steps"]}
    assert steps["register"]["registered"] and steps["tamper"]["detected"]
    assert steps["offline audit"]["bytes"] > 0
    # the pinned release's copy: one file re-saved losslessly, one pixel of the other changed
    assert steps["dataset version, pin and a damaged copy"]["copy"] == {
        "ct_w.png": "modified", "ct_64.png": "reencoded"}


def test_the_guard_would_see_a_download(tmp_path: Path) -> None:
    """The same sitecustomize stops and records a download: the test above can fail."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    mark = tmp_path / "mark.txt"
    (tmp_path / "home").mkdir()
    code = ("from pydicom.data import get_testdata_file\n"
            "try:\n    get_testdata_file('SC_rgb.dcm')\nexcept Exception:\n    pass\n")
    env = {**os.environ, "PYTHONPATH": str(site), "DEMO_NETWORK_MARK": str(mark),
           "HOME": str(tmp_path / "home")}  # fmt: skip
    subprocess.run([sys.executable, "-c", code], env=env, check=False, timeout=300,
                   capture_output=True)  # fmt: skip
    assert mark.exists()
