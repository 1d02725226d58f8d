"""Link strength on real data: the Copenhagen Networks Study (calls, SMS, Facebook friendships).

For each score -- call count only, SMS count only, all records, and tiewise's link strength --
the ROC AUC of telling Facebook friends from other pairs: over every pair of participants (pairs
that never interacted score 0), and over the pairs that interacted.  Saves
benchmarks/results/copenhagen.json.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from tiewise.config import load_config
from tiewise.datasets import copenhagen_config, copenhagen_friends
from tiewise.ingest.load import ingest
from tiewise.links.evaluate import auc, pair_auc
from tiewise.links.strength import build_links
from tiewise.store import Workspace

SCORES = ("n_voice", "n_sms", "records", "strength")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "tiewise.toml").write_text(copenhagen_config(folder / "ws"))
        config = load_config(folder / "tiewise.toml")
        start = time.perf_counter()
        with Workspace.open(config.workspace_path, create=True) as ws, ws.run(command="b") as run:
            ingest(run, config, None)
            build_links(run, config)
            links = ws.table("links").df()
        seconds = time.perf_counter() - start
    friends = copenhagen_friends()
    friend_set = set(friends)
    participants = {p for pair in friends for p in pair} & (set(links.a) | set(links.b))
    labels = np.array([(a, b) in friend_set for a, b in zip(links.a, links.b, strict=True)])
    rows = []
    for column in SCORES:
        score = {(a, b): float(v) for a, b, v in zip(links.a, links.b, links[column], strict=True)}
        rows.append(
            {
                "score": column,
                "auc_all_pairs": round(pair_auc(score, friends, participants), 4),
                "auc_interacting_pairs": round(auc(links[column].to_numpy(), labels), 4),
            }
        )
    print(
        f"{len(participants)} participants, {len(links)} interacting pairs "
        f"({labels.mean():.0%} of them friends), built in {seconds:.2f} s"
    )
    print(f"{'score':<10} {'AUC, all pairs':>15} {'AUC, interacting pairs':>23}")
    for r in rows:
        print(f"{r['score']:<10} {r['auc_all_pairs']:>15.4f} {r['auc_interacting_pairs']:>23.4f}")
    out = Path(__file__).parent / "results" / "copenhagen.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "participants": len(participants),
                "pairs": len(links),
                "seconds": seconds,
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
