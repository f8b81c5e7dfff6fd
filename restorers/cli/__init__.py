"""cli: `python -m restorers ...` and the `restorers` console script (commands.py; the DCGAN commands are
dcgan.py). Prints progress and where each output went; never a traceback.

May import everything in restorers; nothing imports it.
"""
from .._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, __path__, {"main": "commands", "build_parser": "commands"},
                                    legacy="commands")
