"""README's "Running it for real" runs as written: its commands, read from
README.md, against a real Mosquitto laid out as Debian's (a main file that
includes /etc/mosquitto/conf.d/*.conf), a simulated kiosk (the real firmware
under MicroPython) on a pseudo-terminal for /dev/ttyUSB0 and a DNS server
that gives borne.example.fr the loopback address. Only what belongs to this
machine is replaced: the folder /etc/mosquitto/conf.d, the standard ports
(free ones here), the serial port, the public address and the Wi-Fi name.
Then a vote pressed on the kiosk must reach the screen link's page."""
import json
import os
import re
import shlex
import signal
import subprocess
import tempfile
import urllib.request

import pytest

from tests import realparts
from tests.firmware.net_support import DnsServer
from tests.server_support import BORNE

pytestmark = pytest.mark.timeout(300)
README = os.path.join(realparts.ROOT, "README.md")


def readme_commands():
    """The commands of the ```sh block of "Running it for real", one string
    each (continued lines joined, comments left to the shell parser)."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    section = text.split("## Running it for real", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def test_readme_commands_are_what_borne_accepts():
    from sync_server.commands.cli import build_parser
    commands = readme_commands()
    assert len(commands) >= 5
    for line in commands:
        argv = shlex.split(line.rstrip("&"), comments=True)
        if argv[0] == "borne":
            build_parser().parse_args(argv[1:])  # exits on an unknown option
        else:
            assert argv[0] == "systemctl" and argv[1] in ("reload", "restart"), line


@pytest.fixture
def place():
    """A folder Mosquitto (which drops to its own user) may read, as /etc is."""
    d = tempfile.mkdtemp(prefix="borne-readme-")
    os.chmod(d, 0o755)
    yield d
    subprocess.run(["rm", "-rf", d], check=False)


def test_running_it_for_real_as_written_brings_a_vote_to_the_screen(place):
    mosquitto_bin = realparts.need_binary("mosquitto")
    realparts.need_binary("micropython")
    from simulator.kiosk import Kiosk
    mqtt_port, mqtts_port, http_port = (realparts.free_port() for _ in range(3))
    conf_d = os.path.join(place, "mosquitto", "conf.d")
    os.makedirs(conf_d)
    os.chmod(os.path.dirname(conf_d), 0o755)
    main_conf = os.path.join(place, "mosquitto", "mosquitto.conf")
    data = os.path.join(place, "mosquitto-data")  # /var/lib/mosquitto, the broker's own
    os.makedirs(data)
    os.chmod(data, 0o777)
    with open(main_conf, "w") as f:  # Debian's /etc/mosquitto/mosquitto.conf
        f.write("persistence true\npersistence_location %s/\ninclude_dir %s\n" % (data, conf_d))
    os.chmod(main_conf, 0o644)
    work = os.path.join(place, "work")
    os.makedirs(work)
    os.chmod(work, 0o755)
    dns = DnsServer({"borne.example.fr": "127.0.0.1"})
    events = []
    kiosk = Kiosk(1, os.path.join(place, "kiosk"), {"dns": dns.addr}, events.append,
                  heapsize="128k")
    kiosk.power_on()
    realparts.poll(lambda: any(e["ev"] == "hello" for e in events), 30, "the kiosk's hello")

    def local(line):
        for a, b in (("/etc/mosquitto/conf.d", conf_d), (":1883", ":%d" % mqtt_port),
                     (":8883", ":%d" % mqtts_port), ("127.0.0.1:8080", "127.0.0.1:%d" % http_port),
                     ("https://avis.example.fr", "http://127.0.0.1:%d" % http_port),
                     ("/dev/ttyUSB0", kiosk.serial.path), ("SSID", "MairieWifi"),
                     ("PASS", "s3cret-wifi")):
            line = line.replace(a, b)
        return line

    env = {k: v for k, v in os.environ.items() if k not in ("BORNE_DB", "BORNE_CONFIG")}
    env["PATH"] = os.path.dirname(BORNE) + os.pathsep + env["PATH"]
    broker = server = None
    outputs = []
    try:
        for line in readme_commands():
            argv = shlex.split(local(line).rstrip().rstrip("&"), comments=True)
            if argv[0] == "systemctl":
                if broker is not None and argv[1] == "restart":
                    broker.terminate()
                    broker.wait(10)
                    broker = None
                if broker is None:
                    broker = subprocess.Popen([mosquitto_bin, "-c", main_conf],
                                              stdout=open(os.path.join(place, "mq.log"), "ab"),
                                              stderr=subprocess.STDOUT)
                else:
                    broker.send_signal(signal.SIGHUP)
                try:
                    realparts.wait_port(mqtt_port, proc=broker)
                    realparts.wait_port(mqtts_port, proc=broker)
                except (RuntimeError, TimeoutError):
                    with open(os.path.join(place, "mq.log")) as f:
                        raise AssertionError("Mosquitto did not start: %s\nconf.d: %s" % (
                            f.read(), sorted(os.listdir(conf_d)))) from None
                continue
            if line.rstrip().endswith("&"):
                server = subprocess.Popen(argv, cwd=work, env=env, stdout=subprocess.PIPE,
                                          stderr=open(os.path.join(place, "serve.log"), "ab"))
                ready = server.stdout.readline().decode()
                assert ready.startswith("borne: serving"), open(
                    os.path.join(place, "serve.log")).read()
                continue
            out = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True,
                                 timeout=120)
            assert out.returncode == 0, "%s\n%s%s" % (line, out.stdout, out.stderr)
            outputs.append((argv, out.stdout))
        links = [word for argv, stdout in outputs if argv[1:3] == ["screen", "link"]
                 for word in stdout.split() if "/screen/mairie-centre?key=" in word]
        assert links and links[0].startswith("http://127.0.0.1:%d/" % http_port)
        data_url = links[0].replace("/screen/mairie-centre?", "/screen/mairie-centre/data.json?")

        def votes_today():
            with urllib.request.urlopen(data_url, timeout=10) as r:
                return json.load(r)["figures"]["kiosk"]["n"]
        before = votes_today()
        assert kiosk.press(2)
        realparts.poll(lambda: votes_today() > before, 60, "the vote on the screen")
    finally:
        if server:
            server.terminate()
            server.wait(30)
        if broker:
            broker.terminate()
            broker.wait(10)
        kiosk.close()
        dns.close()


def test_every_bench_script_is_in_the_benchmarks_table():
    with open(README, encoding="utf-8") as f:
        table = f.read().split("## Benchmarks", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `bench/(\w+\.py)` \|", table, re.M))
    scripts = {n for n in os.listdir(os.path.join(realparts.ROOT, "bench")) if n.endswith(".py")}
    assert scripts and listed == scripts
