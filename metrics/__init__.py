"""Metrics; importing this package registers them all.

``base``: the ``Metric`` base class and its records; ``removal``: the perturbation builder shared by
the removal-based metrics; ``faithfulness``: comprehensiveness, sufficiency, deletion_auc,
insertion_auc; ``loo``: loo_correlation. The engine that runs them is ``xaibench.scoring``.
"""
from .base import ExampleScore, Metric, MetricResult, Request  # noqa: F401
from . import faithfulness, loo  # noqa: F401  (registration side effects)
from . import stability, sanity, sensitivity  # noqa: F401,E402  (registration: stability and sanity metrics)
from . import cost  # noqa: F401,E402  (registration: runtime, pass counts, peak memory)
from . import ground_truth, plausibility, contrast  # noqa: F401,E402  (registration: ground truth, plausibility, contrast)
