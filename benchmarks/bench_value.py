"""Benchmark of the value stage's BG/NBD + Gamma-Gamma fit and scoring at 1M and 10M customers.

Data: purchase summaries drawn from the models themselves (the CDNOW estimates: r = 0.243,
alpha = 4.414, a = 0.793, b = 2.426; p = 6.25, q = 3.74, gamma = 15.44), with first purchases
spread over 39 weeks and times on whole days (as real records are), so that the fitted
parameters can be checked against the truth too. Vectorised: the number of repeat purchases
while alive is ``min(Poisson(lambda T), Geometric(p))``, the time of the last one an order
statistic of uniforms (a beta draw), the mean spend a gamma draw.

Engines, each in its own child process (the parent reads its peak resident memory from
``os.wait4``):

* ``tiewise``: :class:`tiewise.value.bgnbd.BetaGeoModel` (customers with the same summary
  collapsed into weights), :class:`GammaGammaModel`, then scoring every customer: P(alive),
  expected purchases in 12 months, expected spend and 12-month discounted CLV, computed once
  per distinct summary (:func:`tiewise.value.clv.score_customers`).
* ``scipy-unweighted``: the same likelihoods and optimiser on every row, without collapsing --
  the plain scipy fit a project would write first; it scores every customer one by one
  (vectorised, but without collapsing).
* ``lifetimes`` (when ``--lifetimes-python`` points at an interpreter with lifetimes 0.11.3,
  which needs pandas < 3 -- a throwaway virtual environment): ``BetaGeoFitter`` and
  ``GammaGammaFitter`` fit, ``conditional_probability_alive``,
  ``conditional_expected_number_of_purchases_up_to_time`` and ``customer_lifetime_value``;
  only at the sizes given by ``--lifetimes-max`` (it holds several pandas copies of the data).

Usage::

    nice python benchmarks/bench_value.py                       # 1M and 10M
    nice python benchmarks/bench_value.py --sizes 1000000 --lifetimes-python /tmp/lt/bin/python

Prints a table and writes ``benchmarks/results/value.json`` (with the load average).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "value.json"
TRUE_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
TRUE_GG = {"p": 6.25, "q": 3.74, "v": 15.44}


def simulate(n: int, seed: int = 1) -> dict[str, np.ndarray]:
    """Summaries of ``n`` customers drawn from BG/NBD and Gamma-Gamma (weeks, whole days)."""
    rng = np.random.default_rng(seed)
    # first purchases over the first 12 weeks of a 39-week (273-day) calibration period
    T = (273 - rng.integers(0, 84, n)) / 7.0
    lam = rng.gamma(TRUE_BG["r"], 1.0 / TRUE_BG["alpha"], n)
    p = rng.beta(TRUE_BG["a"], TRUE_BG["b"], n)
    arrivals = rng.poisson(lam * T)
    alive_for = rng.geometric(p)  # repeat purchases until (and including) the last one
    x = np.minimum(arrivals, alive_for)
    frac = np.zeros(n)
    pos = x > 0
    frac[pos] = rng.beta(x[pos], arrivals[pos] - x[pos] + 1)
    t_x = np.floor(frac * T * 7.0) / 7.0
    nu = rng.gamma(TRUE_GG["q"], 1.0 / TRUE_GG["v"], n)
    m = np.zeros(n)
    m[pos] = rng.gamma(TRUE_GG["p"] * x[pos], 1.0 / (nu[pos] * x[pos]))
    m = np.round(m, 2)
    m[pos] = np.maximum(m[pos], 0.01)
    return {"x": x.astype(np.float64), "t_x": t_x, "T": T, "m": m}


def _tiewise(data: dict[str, np.ndarray], collapse: bool) -> dict[str, Any]:
    from tiewise.value.bgnbd import BetaGeoModel, GammaGammaModel
    from tiewise.value.clv import discounted_clv, score_customers

    x, t_x, T, m = data["x"], data["t_x"], data["T"], data["m"]
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    bg = BetaGeoModel().fit(x, t_x, T, collapse_rows=collapse)
    seconds["fit_bgnbd"] = time.perf_counter() - start
    start = time.perf_counter()
    gg = GammaGammaModel()
    if collapse:
        gg.fit(x, m)
    else:
        pos = x > 0
        gg.fit(x[pos], m[pos], weights=np.ones(int(pos.sum())))
    seconds["fit_gamma_gamma"] = time.perf_counter() - start
    start = time.perf_counter()
    spend = gg.expected_spend(x, m)
    if collapse:  # once per distinct summary
        scores = score_customers(bg, x, t_x, T, months=12, monthly_discount=0.01)
        alive, expected = scores.p_alive, scores.expected_purchases
        clv = spend * scores.discounted_purchases
    else:  # every customer
        alive = bg.p_alive(x, t_x, T)
        expected = bg.conditional_expected_purchases(12 * 30.4375 / 7, x, t_x, T)
        clv = discounted_clv(bg, x, t_x, T, spend, months=12, monthly_discount=0.01)
    seconds["score"] = time.perf_counter() - start
    seconds["total"] = sum(seconds.values())
    return {
        "seconds": seconds,
        "params": {**bg.params_, **gg.params_},
        "distinct_rows": bg.n_distinct_,
        "iterations": bg.iterations_,
        "log_likelihood": bg.log_likelihood_,
        "checks": {
            "mean_p_alive": float(alive.mean()),
            "sum_expected_12m": float(expected.sum()),
            "mean_clv": float(clv.mean()),
        },
    }


_LIFETIMES = r"""
import json, sys, time
import numpy as np, pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
d = np.load(sys.argv[1])
df = pd.DataFrame({k: d[k] for k in ("x", "t_x", "T", "m")})
s = {}
t = time.perf_counter()
bg = BetaGeoFitter(penalizer_coef=0.0).fit(df["x"], df["t_x"], df["T"])
s["fit_bgnbd"] = time.perf_counter() - t
t = time.perf_counter()
rep = df[df["x"] > 0]
gg = GammaGammaFitter(penalizer_coef=0.0).fit(rep["x"], rep["m"])
s["fit_gamma_gamma"] = time.perf_counter() - t
t = time.perf_counter()
alive = bg.conditional_probability_alive(df["x"], df["t_x"], df["T"])
exp = bg.conditional_expected_number_of_purchases_up_to_time(
    12 * 4.345, df["x"], df["t_x"], df["T"])
clv = gg.customer_lifetime_value(bg, df["x"], df["t_x"], df["T"], df["m"], time=12,
                                 discount_rate=0.01, freq="W")
s["score"] = time.perf_counter() - t
s["total"] = sum(s.values())
p = {**bg.params_.to_dict(), **gg.params_.to_dict()}
print(json.dumps({"seconds": s, "params": {k: float(v) for k, v in p.items()},
                  "log_likelihood": float(-bg._negative_log_likelihood_ * len(df)),
                  "checks": {"mean_p_alive": float(np.mean(alive)),
                             "sum_expected_12m": float(np.sum(exp)),
                             "mean_clv": float(np.mean(clv))}}))
"""


def _child(engine: str, path: str) -> None:
    data = dict(np.load(path))
    result = _tiewise(data, collapse=engine == "tiewise")
    print(json.dumps(result))


def _run_measured(cmd: list[str]) -> tuple[dict[str, Any] | None, float, str]:
    """Run ``cmd``; return its JSON result, its peak resident memory (MB) and its error."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        out.seek(0)
        err.seek(0)
        peak = usage.ru_maxrss / 1024.0
        if os.waitstatus_to_exitcode(status) != 0:
            return None, peak, err.read()[-2000:]
        return json.loads(out.read().strip().splitlines()[-1]), peak, ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--engines", nargs="+", default=["tiewise", "scipy-unweighted"])
    parser.add_argument("--lifetimes-python", type=str, default=None)
    parser.add_argument("--lifetimes-max", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "NPZ"), help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0
    load_before = os.getloadavg()
    rows: list[dict[str, Any]] = []
    failed = False
    with tempfile.TemporaryDirectory(prefix="bench_value_") as tmp:
        for n in args.sizes:
            start = time.perf_counter()
            data = simulate(n)
            path = os.path.join(tmp, f"rfm_{n}.npz")
            np.savez(path, **data)
            del data
            print(f"{n:,} customers simulated in {time.perf_counter() - start:.1f} s", flush=True)
            engines = list(args.engines)
            if args.lifetimes_python and n <= args.lifetimes_max:
                engines.append("lifetimes")
            for engine in engines:
                if engine == "lifetimes":
                    script = os.path.join(tmp, "lt.py")
                    Path(script).write_text(_LIFETIMES)
                    cmd = [args.lifetimes_python, script, path]
                else:
                    cmd = [sys.executable, __file__, "--child", engine, path]
                result, peak, error = _run_measured(cmd)
                row: dict[str, Any] = {"customers": n, "engine": engine, "peak_rss_mb": peak}
                if result is None:
                    failed = True
                    row["error"] = error
                    print(f"  {engine:18s} FAILED: {error.strip().splitlines()[-1:]}")
                else:
                    row.update(result)
                    s = result["seconds"]
                    print(
                        f"  {engine:18s} fit BG/NBD {s['fit_bgnbd']:7.2f} s  Gamma-Gamma "
                        f"{s['fit_gamma_gamma']:6.2f} s  score {s['score']:6.2f} s  total "
                        f"{s['total']:7.2f} s  peak {peak:7.0f} MB  "
                        + " ".join(f"{k}={v:.4g}" for k, v in result["params"].items()),
                        flush=True,
                    )
                rows.append(row)
    ratios = []
    for n in args.sizes:
        ours = next((r for r in rows if r["customers"] == n and r["engine"] == "tiewise"), None)
        for r in rows:
            if r["customers"] == n and r["engine"] != "tiewise" and ours and "seconds" in r:
                ratio = r["seconds"]["total"] / ours["seconds"]["total"]
                ratios.append({"customers": n, "baseline": r["engine"], "speedup": ratio})
                print(f"{n:,}: {r['engine']} / tiewise total time = {ratio:.1f}x")
    report = {
        "benchmark": "value",
        "truth": {**TRUE_BG, **TRUE_GG},
        "rows": rows,
        "speedups": ratios,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "command": " ".join(["python", "benchmarks/bench_value.py", *(argv or sys.argv[1:])]),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
