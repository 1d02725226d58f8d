"""Turn the generator's telco files into files with a real operator's own column names.

Calls and texts in two files, A_NUMBER/B_NUMBER and day/month/year times, ``msisdn`` for the
customer, capitalised categories: what `tiewise init --data` has to read without help.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["unusual_files"]


def unusual_files(raw: Path, out: Path) -> dict[str, Path]:
    """Write the unusual files into ``out`` from the generator's CSVs in ``raw``."""
    out.mkdir(parents=True, exist_ok=True)
    read = lambda name: pd.read_csv(raw / f"{name}.csv", dtype=str, keep_default_na=False)  # noqa: E731
    inter = read("interactions")
    when = pd.to_datetime(inter["timestamp"])
    voice = inter[inter["channel"] == "voice"]
    calls = pd.DataFrame(
        {
            "A_NUMBER": voice["from_id"],
            "B_NUMBER": voice["to_id"],
            "CALL_START": when[voice.index].dt.strftime("%d/%m/%Y %H:%M"),
            "DURATION": voice["duration_s"],
        }
    )
    texts = inter[inter["channel"] == "sms"]
    sms = pd.DataFrame({"src": texts["from_id"], "dst": texts["to_id"], "ts": texts["timestamp"]})
    customers = read("customers").rename(
        columns={
            "customer_id": "msisdn",
            "plan": "Tariff",
            "monthly_fee": "fee",
            "signup_date": "signup",
            "segment": "Segment",
        }
    )
    purchases = read("transactions").rename(
        columns={
            "customer_id": "cust_id",
            "timestamp": "date",
            "amount": "value",
            "category": "Category",
        }
    )
    uptake = read("adoptions")
    uptake = pd.DataFrame(
        {
            "MSISDN": uptake["customer_id"],
            "Product": uptake["item"],
            "Category": uptake["category"].str.capitalize(),
            "adopted_at": uptake["timestamp"],
        }
    )
    churners = read("churn").rename(columns={"customer_id": "msisdn", "timestamp": "churn_date"})
    files = {
        "calls.csv": calls,
        "sms.csv": sms,
        "subscribers.csv": customers,
        "purchases.csv": purchases,
        "product_uptake.csv": uptake,
        "churners.csv": churners,
    }
    written = {}
    for name, frame in files.items():
        frame.to_csv(out / name, index=False)
        written[name] = out / name
    return written
