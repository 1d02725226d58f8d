"""Non-contractual purchasing: the BG/NBD model and the Gamma-Gamma model of spend.

Both are fitted by maximum likelihood on scipy: L-BFGS-B on the logarithms of the parameters,
with customers who share the same summary collapsed into one weighted row (on a million
customers there are a few tens of thousands of distinct ``(frequency, recency, T)``), so a fit
costs about as much as the number of distinct summaries.

Notation (Fader, Hardie & Lee 2005): ``x`` repeat purchases (frequency), ``t_x`` the time of the
last purchase since the first (recency), ``T`` the time since the first purchase (age), all in one
time unit (weeks for CDNOW).

Examples
--------
>>> import numpy as np
>>> x, t_x, T = np.array([0, 2, 5]), np.array([0.0, 10.0, 30.0]), np.array([38.0, 38.0, 38.0])
>>> model = BetaGeoModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
>>> np.round(model.p_alive(x, t_x, T), 3)
array([1.   , 0.277, 0.73 ])

References
----------
P. S. Fader, B. G. S. Hardie, K. L. Lee (2005), "Counting your customers" the easy way: an
alternative to the Pareto/NBD model, Marketing Science 24(2), 275-284; and (2005) RFM and CLV:
using iso-value curves for customer base analysis, Journal of Marketing Research 42(4), 415-430.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, digamma, gammaln, hyp2f1
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from tiewise.exceptions import ConvergenceError, InputError
from tiewise.shared import FloatArray

__all__ = [
    "BetaGeoModel",
    "GammaGammaModel",
    "bgnbd_gradient",
    "bgnbd_log_likelihood",
    "check_rfm",
    "collapse",
    "gamma_gamma_gradient",
    "gamma_gamma_log_likelihood",
]


def check_rfm(
    frequency: FloatArray, recency: FloatArray, T: FloatArray, *, source: str = "summary"
) -> None:
    """Check the business rules of a purchase summary; raise :class:`InputError` naming them.

    Frequencies are whole numbers ``>= 0``; ``0 <= recency <= T``; recency is 0 when frequency is
    0 (a customer with no repeat purchase has no time of last repeat purchase).
    """
    problems = []
    n_bad = int(np.sum((frequency < 0) | (frequency != np.round(frequency))))
    if n_bad:
        problems.append(f"frequency negative or not a whole number for {n_bad} customers")
    n_bad = int(np.sum(recency < 0))
    if n_bad:
        problems.append(f"recency negative for {n_bad} customers")
    n_bad = int(np.sum(recency > T + 1e-9))
    if n_bad:
        problems.append(f"recency larger than T (age) for {n_bad} customers")
    n_bad = int(np.sum((frequency == 0) & (recency > 0)))
    if n_bad:
        problems.append(f"recency > 0 with frequency 0 for {n_bad} customers")
    n_bad = int(np.sum(~np.isfinite(frequency) | ~np.isfinite(recency) | ~np.isfinite(T)))
    if n_bad:
        problems.append(f"missing or infinite values for {n_bad} customers")
    if problems:
        raise InputError(
            f"{source}: " + "; ".join(problems) + ". Frequency counts repeat purchases, recency is "
            "the time from the first to the last purchase and T the time from the first purchase "
            "to the end of the calibration period, all in the same unit."
        )


def collapse(*columns: FloatArray) -> tuple[list[FloatArray], FloatArray, npt.NDArray[np.int64]]:
    """Distinct rows of ``columns`` (sorted) with their counts, and each row's index into them.

    A hash group-by (pandas): on a million rows about ten times faster than
    ``np.unique(axis=0)``.
    """
    frame = pd.DataFrame({i: np.asarray(c) for i, c in enumerate(columns)})
    inverse: npt.NDArray[np.int64] = np.asarray(
        frame.groupby(list(frame.columns), sort=True, dropna=False).ngroup(), dtype=np.int64
    )
    counts = np.bincount(inverse)
    first = np.empty(len(counts), dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(inverse) - 1, -1, -1)
    return [np.asarray(c)[first] for c in columns], counts.astype(np.float64), inverse


def _hyp2f1(a: npt.ArrayLike, b: npt.ArrayLike, c: npt.ArrayLike, z: npt.ArrayLike) -> FloatArray:
    """Gauss's 2F1 by scipy, with its power series where scipy gives no finite answer.

    scipy's ``hyp2f1`` fails for very large parameters, which a nearly homogeneous fit (huge
    ``r`` and ``alpha``) produces; for ``0 <= z < 1`` the series still converges.
    """
    aa, bb_, cc, zz = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c, z)))
    result: FloatArray = np.asarray(hyp2f1(aa, bb_, cc, zz), dtype=np.float64).copy()
    bad = ~np.isfinite(result)
    if bad.any():
        ab, bb, cb, zb = aa[bad], bb_[bad], cc[bad], zz[bad]
        term = np.ones_like(zb)
        total = np.ones_like(zb)
        for k in range(100_000):
            term = term * (ab + k) * (bb + k) / ((cb + k) * (k + 1)) * zb
            total += term
            if np.all(np.abs(term) <= 1e-14 * np.abs(total)):
                break
        result[bad] = total
    return result


def bgnbd_log_likelihood(
    params: FloatArray | tuple[float, float, float, float],
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
) -> FloatArray:
    """Per-customer BG/NBD log-likelihood (Fader, Hardie & Lee 2005, equation 6)."""
    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    result: FloatArray = a1 + a2 + np.logaddexp(a3, a4)
    return result


def bgnbd_gradient(
    params: FloatArray | tuple[float, float, float, float],
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
) -> FloatArray:
    """Per-customer gradient of :func:`bgnbd_log_likelihood`, shape ``(4, n)``."""
    r, alpha, a, b = params
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    total = np.logaddexp(a3, a4)
    w3, w4 = np.exp(a3 - total), np.exp(a4 - total)
    inv_b = np.where(x > 0, 1.0 / np.maximum(b + x - 1, 1e-300), 0.0)
    d_r = digamma(r + x) - digamma(r) + np.log(alpha) - w3 * np.log(alpha + T)
    d_r -= w4 * np.log(alpha + t_x)
    d_alpha = r / alpha - (r + x) * (w3 / (alpha + T) + w4 / (alpha + t_x))
    d_a = digamma(a + b) - digamma(a + b + x) + w4 / a
    d_b = digamma(b + x) - digamma(a + b + x) - digamma(b) + digamma(a + b) - w4 * inv_b
    return np.vstack([d_r, d_alpha, d_a, d_b])


def gamma_gamma_gradient(
    params: FloatArray | tuple[float, float, float], x: FloatArray, m: FloatArray
) -> FloatArray:
    """Per-customer gradient of :func:`gamma_gamma_log_likelihood`, shape ``(3, n)``."""
    p, q, v = params
    px = p * x
    common = digamma(px + q)
    log_total = np.log(v + x * m)
    d_p = x * (common - digamma(px) + np.log(m) + np.log(x) - log_total)
    d_q = common - digamma(q) + np.log(v) - log_total
    d_v = q / v - (px + q) / (v + x * m)
    return np.vstack([d_p, d_q, d_v])


def gamma_gamma_log_likelihood(
    params: FloatArray | tuple[float, float, float], x: FloatArray, m: FloatArray
) -> FloatArray:
    """Per-customer Gamma-Gamma log-likelihood of the mean spend ``m`` over ``x`` purchases."""
    p, q, v = params
    px = p * x
    result: FloatArray = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(v + x * m)
    )
    return result


def _objective(
    ll: Callable[[FloatArray], FloatArray], grad: Callable[[FloatArray], FloatArray], w: FloatArray
) -> Callable[[FloatArray], tuple[float, FloatArray]]:
    """Mean negative log-likelihood over log-parameters, and its gradient (chain rule)."""
    total = float(w.sum())

    def f(log_params: FloatArray) -> tuple[float, FloatArray]:
        params = np.exp(log_params)
        value = -float(np.dot(w, ll(params))) / total
        g = -(grad(params) @ w) / total * params
        if not np.isfinite(value) or not np.all(np.isfinite(g)):
            return 1e300, np.zeros_like(log_params)
        return value, g

    return f


def _fit(
    negative_ll: Callable[[FloatArray], tuple[float, FloatArray]],
    start: FloatArray,
    names: tuple[str, ...],
    what: str,
) -> tuple[FloatArray, float, int]:
    """Minimise over log-parameters with L-BFGS-B; return parameters, minimum and iterations."""
    result = minimize(
        negative_ll,
        np.log(start),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-12.0, 12.0)] * len(start),
        options={"maxiter": 2000, "ftol": 1e-12, "gtol": 1e-8},
    )
    params = np.exp(result.x)
    if not result.success and not np.isfinite(result.fun):
        raise ConvergenceError(
            f"{what} fit did not converge ({result.message}); parameters reached "
            + ", ".join(f"{n}={v:.4g}" for n, v in zip(names, params, strict=True))
            + ". Check that the summary has enough repeat purchases."
        )
    return params, float(result.fun), int(result.nit)


class BetaGeoModel(BaseEstimator):
    """The BG/NBD model: Poisson purchases while alive, dropout after each purchase.

    Purchase rates are gamma(r, alpha) distributed over customers, dropout probabilities
    beta(a, b).  A scikit-learn estimator (``get_params``, ``clone``); scoring before
    :meth:`fit` raises scikit-learn's ``NotFittedError``.

    Parameters
    ----------
    start
        Starting values of ``(r, alpha, a, b)`` for the optimiser.

    Attributes
    ----------
    params_
        ``{"r", "alpha", "a", "b"}`` after :meth:`fit` (or :meth:`from_params`).
    log_likelihood_
        Total log-likelihood at the fitted parameters.
    n_customers_, n_distinct_
        Customers fitted and distinct summaries they collapsed to.
    """

    def __init__(self, *, start: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)) -> None:
        self.start = start

    @classmethod
    def from_params(cls, *, r: float, alpha: float, a: float, b: float) -> BetaGeoModel:
        """A model with given parameters (no fit)."""
        model = cls()
        model.params_ = {"r": r, "alpha": alpha, "a": a, "b": b}
        return model

    def fit(
        self,
        frequency: FloatArray,
        recency: FloatArray,
        T: FloatArray,
        *,
        weights: FloatArray | None = None,
        collapse_rows: bool = True,
    ) -> BetaGeoModel:
        """Fit by maximum likelihood.

        Parameters
        ----------
        frequency, recency, T
            Repeat purchases, time of the last purchase since the first, time since the first.
        weights
            Customers each row stands for (default 1).
        collapse_rows
            Collapse identical rows into weights first (same result, much faster on big data).
        """
        x, t_x, age = (np.asarray(c, dtype=np.float64) for c in (frequency, recency, T))
        check_rfm(x, t_x, age)
        if x.size == 0:
            raise InputError("summary: no customers to fit the BG/NBD model to.")
        w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
        if collapse_rows and weights is None:
            (x, t_x, age), w, _ = collapse(x, t_x, age)
        total = float(w.sum())
        scale = max(float(np.mean(age)), 1e-9)
        start = np.asarray(self.start, dtype=np.float64) * np.array([1.0, scale, 1.0, 1.0])

        nll = _objective(
            lambda p: bgnbd_log_likelihood(p, x, t_x, age),
            lambda p: bgnbd_gradient(p, x, t_x, age),
            w,
        )
        params, fun, iterations = _fit(nll, start, ("r", "alpha", "a", "b"), "BG/NBD")
        self.params_ = dict(zip(("r", "alpha", "a", "b"), map(float, params), strict=True))
        self.iterations_ = iterations
        self.log_likelihood_ = -fun * total
        self.n_customers_ = int(total)
        self.n_distinct_ = len(x)
        return self

    def _p(self) -> tuple[float, float, float, float]:
        check_is_fitted(self, "params_")
        p = self.params_
        return p["r"], p["alpha"], p["a"], p["b"]

    def p_alive(self, frequency: FloatArray, recency: FloatArray, T: FloatArray) -> FloatArray:
        """Probability that each customer is still alive at ``T`` (equation 13)."""
        r, alpha, a, b = self._p()
        x, t_x, age = (np.asarray(c, dtype=np.float64) for c in (frequency, recency, T))
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = (
                np.log(a)
                - np.log(np.maximum(b + x - 1, 1e-300))
                + (r + x) * (np.log(alpha + age) - np.log(alpha + t_x))
            )
        result: FloatArray = np.where(x > 0, 1.0 / (1.0 + np.exp(log_ratio)), 1.0)
        return result

    def expected_purchases(self, t: float | FloatArray) -> FloatArray:
        """Expected purchases of a new customer in ``(0, t]`` (equation 9)."""
        r, alpha, a, b = self._p()
        t = np.asarray(t, dtype=np.float64)
        term = (alpha / (alpha + t)) ** r * _hyp2f1(r, b, a + b - 1, t / (alpha + t))
        result: FloatArray = (a + b - 1) / (a - 1) * (1 - term)
        return result

    def conditional_expected_purchases(
        self, t: float | FloatArray, frequency: FloatArray, recency: FloatArray, T: FloatArray
    ) -> FloatArray:
        """Expected purchases in ``(T, T + t]`` given each customer's history (equation 10)."""
        r, alpha, a, b = self._p()
        x, t_x, age = (np.asarray(c, dtype=np.float64) for c in (frequency, recency, T))
        t = np.asarray(t, dtype=np.float64)
        z = t / (alpha + age + t)
        hyp = _hyp2f1(r + x, b + x, a + b + x - 1, z)
        first = (a + b + x - 1) / (a - 1)
        second = 1 - ((alpha + age) / (alpha + age + t)) ** (r + x) * hyp
        result: FloatArray = first * second * self.p_alive(x, t_x, age)
        return result


class GammaGammaModel(BaseEstimator):
    """The Gamma-Gamma model of spend per purchase, fitted on customers with repeat purchases.

    A scikit-learn estimator, as :class:`BetaGeoModel`.

    Parameters
    ----------
    start
        Starting values of ``(p, q, v)`` for the optimiser (``v`` scaled by the mean spend).

    Attributes
    ----------
    params_
        ``{"p", "q", "v"}`` (``v`` is the paper's gamma).
    log_likelihood_
        Total log-likelihood at the fitted parameters.
    """

    def __init__(self, *, start: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> None:
        self.start = start

    @classmethod
    def from_params(cls, *, p: float, q: float, v: float) -> GammaGammaModel:
        """A model with given parameters (no fit)."""
        model = cls()
        model.params_ = {"p": p, "q": q, "v": v}
        return model

    def fit(
        self, frequency: FloatArray, monetary: FloatArray, *, weights: FloatArray | None = None
    ) -> GammaGammaModel:
        """Fit on customers with ``frequency > 0`` and their mean spend per repeat purchase."""
        x = np.asarray(frequency, dtype=np.float64)
        m = np.asarray(monetary, dtype=np.float64)
        keep = x > 0
        x, m = x[keep], m[keep]
        if np.any(~(m > 0)):
            raise InputError(
                f"summary: mean spend per purchase is not positive for {int(np.sum(~(m > 0)))} "
                "customers with repeat purchases; the Gamma-Gamma model needs positive spend "
                "(drop zero-value orders or net refunds first)."
            )
        if x.size < 3:
            raise InputError(
                f"summary: {x.size} customers with repeat purchases; the Gamma-Gamma model "
                "needs at least 3."
            )
        if weights is None:
            (x, m), w, _ = collapse(x, m)
        else:
            w = np.asarray(weights, dtype=np.float64)[keep]
        total = float(w.sum())
        start = np.asarray(self.start) * np.array([1.0, 1.0, max(float(np.mean(m)), 1e-9)])

        nll = _objective(
            lambda p: gamma_gamma_log_likelihood(p, x, m),
            lambda p: gamma_gamma_gradient(p, x, m),
            w,
        )
        params, fun, _ = _fit(nll, start, ("p", "q", "v"), "Gamma-Gamma")
        self.params_ = dict(zip(("p", "q", "v"), map(float, params), strict=True))
        self.log_likelihood_ = -fun * total
        self.n_customers_ = int(total)
        return self

    def expected_spend(self, frequency: FloatArray, monetary: FloatArray) -> FloatArray:
        """Expected spend per purchase given ``x`` repeat purchases of mean ``m`` (equation 5).

        A customer with no repeat purchase gets the population mean ``p v / (q - 1)``.
        """
        check_is_fitted(self, "params_")
        p, q, v = self.params_["p"], self.params_["q"], self.params_["v"]
        x = np.asarray(frequency, dtype=np.float64)
        m = np.where(x > 0, np.asarray(monetary, dtype=np.float64), 0.0)
        result: FloatArray = p * (v + x * m) / (p * x + q - 1)
        return result
