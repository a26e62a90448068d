"""The bottom layer: image I/O, tone mapping, errors, CLI helpers, devices, checkpoints (this folder's
modules), metrics (``utils.metrics``) and losses (``utils.losses``). None of them imports ``models``,
``datasets`` or ``utils.engine``; ``utils.engine``, the orchestration above ``models`` and ``datasets``,
is the one sub-package that does. Importing any module here has no side effect.
"""
