"""Serving the app's named endpoints as Model Context Protocol tools (Gradio's `launch(mcp_server=True)`).

Gradio turns every public named endpoint into a tool: the handler's docstring (first paragraph and its
``Args:`` section) becomes the tool and parameter descriptions, the input components give the JSON types,
and file inputs become strings that take an http(s) URL or a ``data:<mime>;base64,...`` URI. Internal
events (previews, pickers, the Models tab buttons) are ``api_visibility="private"`` and so never tools.
"""
from __future__ import annotations

import html
import importlib.util
import re
import sys


def mcp_available() -> bool:
    """True when the `mcp` package (the gradio[mcp] extra) is installed."""
    return importlib.util.find_spec("mcp") is not None


def patch_gradio_mcp() -> None:
    """Adapt Gradio 6.31's MCP server: every output of a multi-output tool, agent-friendly outputs (see
    agent_outputs), and tools named after their API endpoints (restore, degrade, ...).

    When an MCP client sends no progress token (most do not), Gradio's queued tool path wraps the whole
    result tuple in one more list: an endpoint with several outputs came back as one text blob, and one with
    a gr.State output (Restore) failed with "pop index out of range". The streaming path that Gradio uses with
    a progress token returns the outputs as a list; this makes the other path do the same. Idempotent; a
    Gradio without these methods is left alone.
    """
    try:
        from gradio.mcp import GradioMCPServer
    except ImportError:
        return
    needed = ("_execute_tool_without_progress", "postprocess_output_data", "get_tool_to_endpoint",
              "valid_and_unique_tool_name", "get_block_fn_from_endpoint_name")
    if getattr(GradioMCPServer, "_restorers_outputs_fixed", False) or not all(hasattr(GradioMCPServer, n) for n in needed):
        return
    from anyio.to_thread import run_sync

    async def _execute_tool_without_progress(self, job):  # noqa: ANN001 - Gradio's signature
        result = await run_sync(job.result)
        # gradio_client returns a tuple exactly when the endpoint has several outputs.
        return list(result) if isinstance(result, tuple) else [result]

    postprocess = GradioMCPServer.postprocess_output_data

    def postprocess_output_data(self, data, root_url):  # noqa: ANN001 - Gradio's signature
        return postprocess(self, agent_outputs(list(data)), root_url)

    def get_tool_to_endpoint(self) -> dict[str, str]:
        # Gradio 6.31 names a tool after the handler function ("run_restore", "preview_degradation") and ignores
        # gr.tool(name=...); an agent is better served by the endpoint's name, the one the API docs use.
        tools: dict[str, str] = {}
        for endpoint in self.api_info["named_endpoints"]:
            block_fn = self.get_block_fn_from_endpoint_name(endpoint)
            if block_fn is not None and block_fn.fn is not None:
                tools[self.valid_and_unique_tool_name(self.tool_prefix + endpoint.lstrip("/"), set(tools))] = endpoint
        return tools

    GradioMCPServer._execute_tool_without_progress = _execute_tool_without_progress
    GradioMCPServer.postprocess_output_data = postprocess_output_data
    GradioMCPServer.get_tool_to_endpoint = get_tool_to_endpoint
    GradioMCPServer._restorers_outputs_fixed = True


def _is_file(value: object) -> bool:
    return isinstance(value, dict) and isinstance(value.get("meta"), dict) and \
        value["meta"].get("_type") == "gradio.FileData" and bool(value.get("path"))


def _is_gallery_item(value: object) -> bool:
    return isinstance(value, dict) and (_is_file(value.get("image")) or _is_file(value.get("video")))


def _markdown_table(columns: list, rows: list) -> str:
    lines = ["| " + " | ".join(str(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def agent_outputs(outputs: list) -> list:
    """The endpoint's outputs as an agent wants them: one entry per file, so Gradio sends every image as an
    MCP image (a gallery, a file list or a before/after pair otherwise arrives as one Python repr), each file
    once (Restore shows its result in the gallery, the slider and the downloads), gallery captions as text,
    tables and plot data as Markdown tables, HTML status lines as plain text, and page-only values (picker updates, empty lists) left out."""
    flat: list = []
    seen: set[str] = set()

    def add_file(file: dict) -> None:
        if file["path"] not in seen:
            seen.add(file["path"])
            flat.append(file)

    for output in outputs:
        if output is None or output == "" or output == [] or (isinstance(output, dict) and "__type__" in output):
            continue
        if _is_file(output):
            add_file(output)
        elif isinstance(output, (list, tuple)) and all(_is_file(x) or _is_gallery_item(x) for x in output):
            for item in output:
                if _is_file(item):
                    add_file(item)
                    continue
                add_file(item.get("image") if _is_file(item.get("image")) else item["video"])
                if item.get("caption"):
                    flat.append(str(item["caption"]))
        elif isinstance(output, dict) and isinstance(output.get("data"), list) and (
            isinstance(output.get("headers"), list) or isinstance(output.get("columns"), list)
        ):
            flat.append(_markdown_table(output.get("headers") or output["columns"], output["data"]))
        elif isinstance(output, str) and output.lstrip().startswith("<"):
            flat.append(html.unescape(re.sub(r"<[^>]+>", " ", output)).strip())  # a status line styled for the page
        else:
            flat.append(output)
    return flat


def mcp_launch_option(wanted: bool) -> bool:
    """The value for launch(mcp_server=...): ``wanted`` if the mcp package is there, else False with a note."""
    if not wanted:
        return False
    if not mcp_available():
        print("MCP server not started: the `mcp` package is missing (pip install 'gradio[mcp]').", file=sys.stderr)
        return False
    patch_gradio_mcp()
    return True
