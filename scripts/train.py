"""``lowcarbon-train``: one agent on one env with one seed, configured by Hydra.

    lowcarbon-train agent=gdm env=metaverse seed=0 budget=20000
    lowcarbon-train agent=sb3_sac env=energy env.kwargs.n_prosumers=8 logger=none
    lowcarbon-train -m agent=gdm,sb3_ppo seed=0,1 hydra/launcher=parallel
    lowcarbon-train -m hydra/sweeper=gdm_optuna agent=gdm env=datacenter budget=5000

Configuration: ``conf/train.yaml`` and the groups ``conf/env``, ``conf/agent``, ``conf/logger``
(``--cfg job`` prints the composed config). The run directory is
``runs/<name>/<env>/<agent>/seed<seed>`` (in a multirun ``.../seed<seed>/job<n>``); rerunning
the same command resumes from its checkpoint.
Returns the final oracle-normalised score (or the return where there is no oracle), which is what
sweepers maximise. A bad configuration value stops the job with one line naming the key (exit code
2); ``HYDRA_FULL_ERROR=1`` shows the traceback instead.
"""

from __future__ import annotations

import math
import os
import sys

import hydra
from omegaconf import DictConfig

import lowcarbon.conf  # noqa: F401  (registers the configs' resolvers)


def train_job(cfg: DictConfig) -> float:
    """Run one Hydra job in its output directory; the score for sweepers."""
    from hydra.core.hydra_config import HydraConfig

    from lowcarbon.harness import ConfigError, run

    try:
        metrics = run(cfg, HydraConfig.get().runtime.output_dir)
    except ConfigError as err:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"Error in the configuration: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    score = metrics["eval/normalised"]
    return float(score if math.isfinite(score) else metrics["eval/return"])


@hydra.main(version_base="1.3", config_path="pkg://lowcarbon.conf", config_name="train")
def main(cfg: DictConfig) -> float:
    return train_job(cfg)


if __name__ == "__main__":
    main()
