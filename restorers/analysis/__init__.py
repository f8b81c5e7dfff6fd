"""analysis: the study's tools, built on the pipelines.

Owns degradations (degrade.py), scores (metrics.py), scoring many models on many images (evaluate.py),
feeding a model its own output (loop.py), latent walks and repeated-run timelines (animate.py,
generate.py: StyleGAN2-ADA) and the cost estimate of any request (budget.py: it needs the registry's
models and the degradation chain, so it sits here rather than in guards, which must stay a leaf).

May import: restorers.guards, restorers.media, restorers.models, restorers.pipelines. Never dcgan, cli or
gradio.
"""
from .._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, __path__, {
    "parse_degradation": "degrade", "METRICS": "metrics", "MIN_SCORED_SIDE": "metrics", "DEFAULT_METRICS": "evaluate",
    "metric_problem": "metrics", "PERCEPTUAL_METRICS": "evaluate", "suggested_metrics": "evaluate",
    "MAX_RUNS": "loop", "run_loop": "loop", "LOOP_METRICS": "loop", "LOOP_NO_REFERENCE": "loop",
    "loop_metrics": "loop",
    "path_length": "animate", "timeline_frames": "animate", "frame_strip": "animate",
    "MAX_FRAMES": "generate", "parse_seeds": "generate", "check_walk": "generate", "latent_walk": "generate",
    "load_generator": "generate",
})

