"""Roll out the rule-based baselines and the oracle on every registered env and print the table.

python -m lowcarbon.scripts.baselines                 # 3 seeds, the default envs (a minute)
python -m lowcarbon.scripts.baselines --seeds 10 --out results.csv
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import logging
import time

from lowcarbon.agents import POLICIES
from lowcarbon.agents.evaluation import evaluate, format_table, summary_table
from lowcarbon.envs import DEFAULT_IDS


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="episodes per policy and env")
    parser.add_argument(
        "--envs",
        nargs="+",
        default=list(DEFAULT_IDS),
        help="env ids (default: the default instance of each family)",
    )
    parser.add_argument("--policies", nargs="+", default=list(POLICIES), choices=list(POLICIES))
    parser.add_argument("--out", help="write every episode to this CSV file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    policies = {name: POLICIES[name] for name in args.policies}
    for needed in ("random", "oracle"):
        if needed not in policies:
            logging.warning("without %r the normalised score is not defined", needed)
    start = time.perf_counter()
    results = evaluate(args.envs, policies, seeds=range(args.seeds))
    print(format_table(summary_table(results)))
    print(
        f"\n{len(results)} episodes in {time.perf_counter() - start:.1f} s; "
        "score = (return - random) / (oracle - random), per seed, averaged."
    )
    if args.out:
        with open(args.out, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=[f.name for f in dataclasses.fields(results[0])])
            writer.writeheader()
            writer.writerows(dataclasses.asdict(r) for r in results)
        print(f"episodes written to {args.out}")


if __name__ == "__main__":
    main()
