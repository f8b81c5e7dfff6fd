"""Where the app listens, and whether it serves MCP (pure functions of the environment)."""
from __future__ import annotations

from webui.serving import server_name


def test_local_runs_listen_on_loopback_only():
    assert server_name({}) == "127.0.0.1"
    assert server_name({"GRADIO_SERVER_NAME": ""}) == "127.0.0.1"


def test_a_space_listens_on_every_interface():
    assert server_name({"SPACE_ID": "someone/face-studio"}) == "0.0.0.0"


def test_an_explicit_address_wins():
    assert server_name({"GRADIO_SERVER_NAME": "0.0.0.0"}) == "0.0.0.0"
    assert server_name({"GRADIO_SERVER_NAME": "192.168.1.5", "SPACE_ID": "a/b"}) == "192.168.1.5"
