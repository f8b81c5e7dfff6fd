"""The app as an MCP server: start it on 127.0.0.1, list its tools and call them through the MCP endpoint."""
from __future__ import annotations

import asyncio
import base64
import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from webui.mcp_support import agent_outputs
from webui.serving import mcp_enabled

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "examples" / "astronaut_face_low.png"
TOOLS = {"restore", "degrade", "evaluate", "loop", "interpolate"}  # named after the API endpoints


def test_mcp_setting():
    assert mcp_enabled({}) is False  # a local run stays minimal
    assert mcp_enabled({"SPACE_ID": "someone/studio"}) is True
    assert mcp_enabled({"SPACE_ID": "someone/studio", "RESTORERS_MCP": "0"}) is False
    assert mcp_enabled({"RESTORERS_MCP": "1"}) is True
    assert mcp_enabled({"GRADIO_MCP_SERVER": "True"}) is True
    with pytest.raises(ValueError, match="RESTORERS_MCP must be 1 or 0"):
        mcp_enabled({"RESTORERS_MCP": "maybe"})


def test_agent_outputs_flatten_galleries_and_drop_page_values():
    def file(path):
        return {"path": path, "url": None, "meta": {"_type": "gradio.FileData"}}

    outputs = [[{"image": file("/a.png"), "caption": "Lanczos · 96x96"}], [file("/before.png"), file("/a.png")],
               {"__type__": "update", "choices": []}, {"headers": ["model", "s"], "data": [["Lanczos", 0.1]]}, [],
               '<div class="x"><p>The model ran.</p></div>', [file("/a.png")]]
    assert agent_outputs(outputs) == [file("/a.png"), "Lanczos · 96x96", file("/before.png"),
                                      "| model | s |\n|---|---|\n| Lanczos | 0.1 |", "The model ran."]


@pytest.fixture(scope="module")
def mcp_url(tmp_path_factory):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    folder = tmp_path_factory.mktemp("mcp")
    # Its own Gradio cache: an app deletes the (content-addressed) files it cached when it shuts down, and
    # the in-process test app may hold the same paths.
    env = dict(os.environ, RESTORERS_MCP="1", GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1",
               PYTHONUNBUFFERED="1", GRADIO_TEMP_DIR=str(folder / "gradio"))
    env.pop("SPACE_ID", None)
    log = folder / "app.log"
    with open(log, "w") as out:
        app = subprocess.Popen([sys.executable, "app.py"], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url + "gradio_api/mcp/schema", timeout=2).read()
                break
            except OSError:
                if app.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the app did not start as an MCP server:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield url + "gradio_api/mcp/"
    finally:
        app.terminate()
        app.wait(timeout=30)


async def _session_call(url: str, tool: str | None = None, arguments: dict | None = None):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with streamable_http_client(url) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            if tool is None:
                return (await session.list_tools()).tools
            return await session.call_tool(tool, arguments or {})


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def test_tools_are_listed_with_descriptions_and_file_inputs_as_urls(mcp_url):
    tools = {tool.name: tool for tool in asyncio.run(_session_call(mcp_url))}
    assert TOOLS <= set(tools)
    assert not [name for name in tools if "preview" in name or "check" in name]  # internal events are not tools
    restore = tools["restore"]
    assert restore.description.startswith("Restore a photo")
    properties = restore.inputSchema["properties"]
    assert properties["image"]["type"] == "string" and "url" in properties["image"]["format"]
    assert "lanczos" in properties["models"]["items"]["enum"] and "side by side" in properties["models"]["description"]
    assert restore.inputSchema["required"] == ["image"]
    assert tools["loop"].inputSchema["required"] == ["image"]  # the ground truth is optional
    # Every tool, including endpoints added later (video, DCGAN...): a handler docstring with an Args: line per input.
    for name, tool in tools.items():
        undocumented = [p for p, schema in tool.inputSchema["properties"].items() if not schema.get("description")]
        assert tool.description and not undocumented, f"{name}: document {undocumented} in the handler's Args:"


def test_restore_tool_returns_the_image(mcp_url):
    with Image.open(EXAMPLE) as img:
        width, height = img.size
    result = asyncio.run(_session_call(mcp_url, "restore",
                                       {"image": _data_uri(EXAMPLE), "models": ["lanczos"], "outscale": 2.0}))
    assert not result.isError, result.content
    pictures = [c for c in result.content if c.type == "image"]
    texts = [c.text for c in result.content if c.type == "text"]
    assert pictures and pictures[0].mimeType == "image/png"
    with Image.open(io.BytesIO(base64.b64decode(pictures[0].data))) as restored:
        assert restored.size == (2 * width, 2 * height)
    assert any(text.startswith("Image URL: http://127.0.0.1") for text in texts)
    assert any("| model |" in text and "Lanczos" in text for text in texts)


def test_tool_errors_come_back_as_errors(mcp_url):
    result = asyncio.run(_session_call(mcp_url, "restore", {"image": _data_uri(EXAMPLE), "models": []}))
    assert result.isError
    assert "model" in result.content[0].text.lower()
