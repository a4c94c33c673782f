"""The Hydra harness: one agent, one env, one seed, trained and evaluated per a composed config.

* :mod:`.loop`: :func:`run` (validation, the training loop, periodic and final evaluations);
* :mod:`.checkpoints`: run fingerprints, resume decisions and atomic checkpoints;
* :mod:`.references`: random and oracle episodes on the held-out days (cached) and the runner's
  batched evaluation on the same days;
* :mod:`.records`: :class:`EvalRow`, one row of ``results.csv``, written and read typed;
* :mod:`.run_logging`: W&B and TensorBoard, CodeCarbon's emissions tracker.

The entry points (``lowcarbon-train``, ``lowcarbon-benchmark``, ``lowcarbon-tune``) live in
:mod:`lowcarbon.scripts`.
"""

from .checkpoints import fingerprint
from .loop import ConfigError, run, validate
from .records import RESULT_FIELDS, EvalRow, read_rows, write_rows

__all__ = ["RESULT_FIELDS", "ConfigError", "EvalRow", "fingerprint", "read_rows", "run",
           "validate", "write_rows"]  # fmt: skip
