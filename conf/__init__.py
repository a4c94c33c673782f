"""Hydra configuration of the lowcarbon harness (``config_path="pkg://lowcarbon.conf"``).

Importing it registers the OmegaConf resolvers the configs use (Hydra imports it first).
"""

import re

from omegaconf import OmegaConf

OmegaConf.register_new_resolver(
    "sanitize", lambda s: re.sub(r"[^A-Za-z0-9_.-]+", "_", str(s)), replace=True
)
