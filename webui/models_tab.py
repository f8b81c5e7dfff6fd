"""Models tab: every model with its paper, licence, hub file, size and whether its weights are here."""
from __future__ import annotations

import html

import gradio as gr

import restorers
from restorers.models import WEIGHTS_DIR_ENV, fetch, hub_endpoint, hub_offline, hub_retry_seconds, hub_unreachable
from restorers.models import specs

from .common import status_html, weights_label

HEADERS = ["model", "family", "weights", "hub file", "size (MB)", "licence", "paper"]


def models_table() -> list[list[str]]:
    rows = []
    for spec in specs():
        w = spec.weights
        rows.append([
            spec.title, spec.family, weights_label(spec),
            ("-" if not w else f"bring your own: {w.url}" if w.local_only else f"{w.repo_id}/{w.filename}"),
            f"{w.size / 1e6:.1f}" if w and w.size else "-",
            spec.licence, spec.paper or "-",
        ])
    return rows


def models_cards(rows: list[list[str]] | None = None) -> str:
    """The same rows as cards, one per model, for a phone (seven columns do not fit 390 px)."""
    cards = []
    for title, family, weights, hub_file, size, licence, paper in rows or models_table():
        lines = [f"{family} · weights: {weights}", f"{hub_file} ({size} MB)" if hub_file != "-" else "no weights file",
                 f"licence: {licence}", f"paper: {paper}"]
        cards.append(f'<div class="model-card"><strong>{html.escape(title)}</strong>'
                     + "".join(f"<span>{html.escape(line)}</span>" for line in lines) + "</div>")
    return f'<div class="model-cards">{"".join(cards)}</div>'


def hub_note() -> str:
    """Why weights that are not cached cannot be downloaded now, in one short line above the table ('' when
    they can); the long reason folded into Details."""
    if hub_offline():
        return status_html("Offline (HF_HUB_OFFLINE is set): weights that are not cached cannot be downloaded.",
                           kind="warn")
    down = hub_unreachable()
    if down:
        return status_html(f"The Hub at {hub_endpoint()} did not answer: weights that are not cached cannot be "
                           f"downloaded (it is tried again at most every {hub_retry_seconds() / 60:g} min).",
                           [down], "warn")
    return ""


def download_now(name: str | None, progress: gr.Progress = gr.Progress()):
    """Fetch and verify one model's weights now (instead of on first use)."""
    if not name:
        raise gr.Error("Pick a model to download.")
    spec = restorers.get_spec(name)
    if spec.weights is None:
        return *_views(), status_html(f"{spec.title} needs no weights.")
    progress(0.1, desc=f"downloading {spec.weights.filename}")
    try:
        path = fetch(spec.weights)
    except restorers.WeightsError as exc:
        # Not a gr.Error: that would blank the table (an output of this event) under an "Error" badge.
        return *_views(), status_html(f"{spec.title}: the download failed.", [str(exc)], "error")
    return *_views(), status_html(f"{spec.title}: downloaded and verified.", [f"at {path}"])


def _views() -> tuple[list[list[str]], str]:
    rows = models_table()
    return rows, models_cards(rows)


OFFLINE_HELP = f"""
**Weights** come from the Hugging Face Hub on first use, pinned by sha256, and are cached in the Hub cache
(`HF_HUB_CACHE`). Offline (`HF_HUB_OFFLINE=1`) a missing file is reported with its URL; put the file in the
folder named by `{WEIGHTS_DIR_ENV}` (or in a Hub cache) and press *Refresh*.
"""


def build_models_tab() -> dict:
    gr.Markdown(OFFLINE_HELP)
    note = gr.HTML(hub_note(), elem_id="models-hub-note")
    table = gr.Dataframe(models_table(), headers=HEADERS, interactive=False, wrap=True, elem_id="models-table",
                         column_widths=["14%", "8%", "14%", "26%", "7%", "16%", "15%"])
    cards = gr.HTML(models_cards(), elem_id="models-cards")
    with gr.Row():
        choice = gr.Dropdown([(s.title, s.name) for s in specs() if s.weights], label="Model", scale=3)
        download = gr.Button("Download now", scale=1)
        refresh = gr.Button("Refresh", scale=1)
    message = gr.HTML(elem_id="models-message")
    download.click(download_now, choice, [table, cards, message], api_visibility="private").then(
        hub_note, None, note, api_visibility="private", queue=False)
    refresh.click(refresh_models, None, [table, cards, note], api_visibility="private")
    return {"table": table, "cards": cards, "note": note}


def refresh_models() -> tuple[list[list[str]], str, str]:
    """The table, its cards and the note above them as they are now (no network): a click on Refresh, and each
    page opened."""
    return *_views(), hub_note()


def refresh_models_on_load(demo: gr.Blocks, tab: dict) -> None:
    """A page opened after the start-up probe found the Hub unreachable shows it, not the table built before."""
    demo.load(refresh_models, None, [tab["table"], tab["cards"], tab["note"]], api_visibility="private", queue=False)
