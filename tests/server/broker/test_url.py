"""One parser for every broker URL the project reads."""
import pytest

from sync_server.broker.url import BrokerUrl, parse_broker_url, parse_host_port


def test_server_url_with_an_account():
    assert parse_broker_url("mqtt://borne-ingest-1:p%40ss@broker.example:8883") == BrokerUrl(
        "broker.example", 8883, "borne-ingest-1", "p@ss")
    assert parse_broker_url("mqtt://10.0.0.2") == BrokerUrl("10.0.0.2", 1883, None, None)


@pytest.mark.parametrize("url", ["http://h:1883", "mqtt://", "mqtt://h:99999", "mqtt://h/x",
                                 "mqtt://h?q=1", "mqtt://bad_host:1883", "h:1883"])
def test_bad_urls_say_what_is_expected(url):
    with pytest.raises(ValueError, match="broker URL"):
        parse_broker_url(url)


def test_a_kiosk_url_carries_no_account():
    assert parse_broker_url("mqtt://h:1884/", credentials=False).port == 1884
    with pytest.raises(ValueError, match="without an account"):
        parse_broker_url("mqtt://u:p@h:1883", credentials=False)


def test_listening_addresses_take_a_default_host_and_a_port_from_0_to_65535():
    assert parse_host_port("8883", "0.0.0.0") == ("0.0.0.0", 8883)
    assert parse_host_port("127.0.0.1:0", "x") == ("127.0.0.1", 0)
    for bad in ("host:", "host:http", "host:65536", "host:-1"):
        with pytest.raises(ValueError):
            parse_host_port(bad, "0.0.0.0")
