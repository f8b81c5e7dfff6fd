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
