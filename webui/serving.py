"""How the app is served: which address it listens on and whether it is also an MCP server.

No gradio import here, so these choices are cheap to test."""
from __future__ import annotations

import os
from typing import Mapping

MCP_ENV = "RESTORERS_MCP"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def on_space(environ: Mapping[str, str] = os.environ) -> bool:
    """True on a Hugging Face Space (the platform sets SPACE_ID)."""
    return bool(environ.get("SPACE_ID"))


def server_name(environ: Mapping[str, str] = os.environ) -> str:
    """The address to listen on: GRADIO_SERVER_NAME when set; 0.0.0.0 on a Space (its proxy must reach the
    app); otherwise 127.0.0.1, so a local run is not open to the whole network by default."""
    asked = environ.get("GRADIO_SERVER_NAME", "").strip()
    if asked:
        return asked
    return "0.0.0.0" if on_space(environ) else "127.0.0.1"


def mcp_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether `python app.py` also serves its named endpoints as MCP tools (at /gradio_api/mcp/).

    RESTORERS_MCP=1/0 decides; unset, Gradio's own GRADIO_MCP_SERVER=true/false is honoured; otherwise it is
    on for a Space and off for a local run. On by default on a Space because it adds no new way in: the MCP
    tools are the same public endpoints gradio_client can already call, through the same queue, the same
    input checks and the same limits (pixels, frames, per-request cost); a local run stays minimal."""
    raw = environ.get(MCP_ENV, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    if raw:
        raise ValueError(f"${MCP_ENV} must be 1 or 0, got {raw!r}")
    gradio_flag = environ.get("GRADIO_MCP_SERVER", "").strip().lower()
    if gradio_flag:
        return gradio_flag == "true"
    return on_space(environ)
