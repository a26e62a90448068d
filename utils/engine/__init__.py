"""The orchestration layer, the only part of ``utils`` that imports ``models`` and ``datasets``: inference
protocols, the evaluation loop and its reports, test.py's, train.py's and merge.py's work (training loop,
recipes, schedule, stopping, torchrun/DDP, logs and TensorBoard; merging own photos)."""
