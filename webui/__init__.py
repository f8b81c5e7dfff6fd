"""The Gradio front end: one module per tab, each with a ``build_*_tab()`` that only wires components to
handlers. Handlers call the ``restorers`` public API and turn its errors into gr.Error / gr.Warning."""
