"""The pytest plugin's former module path, kept so that an environment installed before the move
(its ``pytest11`` entry point still names ``xaibench.plugin``) and ``-p xaibench.plugin`` keep
working. The plugin lives in ``xaibench.harness.plugin``; reinstalling (``pip install -e .``)
points the entry point there."""
from xaibench.harness.plugin import *  # noqa: F401,F403  (pytest finds the hooks and fixtures by name)
