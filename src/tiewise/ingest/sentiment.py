"""Sentiment of short social text with VADER, offline.

VADER (Hutto & Gilbert 2014, "VADER: A Parsimonious Rule-based Model for Sentiment Analysis of
Social Media Text", ICWSM) is a lexicon of about 7,500 English words, emoticons, slang and emoji
with rules for negation, intensifiers ("very"), capitals ("GREAT") and punctuation ("!!!").  Its
compound score runs from -1 (most negative) to 1 (most positive); the authors call a text
negative at -0.05 or below.  It runs offline from the lexicon shipped in the ``vaderSentiment``
package.

Its limits, which the README repeats: English only (a text in another language is marked *not
covered* and gets no score — never a guess); no sarcasm; no domain words (a "sick" phone is
scored as negative); long texts average out.  A user's own sentiment column always wins.

Examples
--------
>>> scorer = SentimentScorer()
>>> scorer.score(["I love this phone!", "Worst service ever. Cancelling.", "ok"])
[0.6696, -0.7096, 0.296]
>>> covered("en-GB"), covered("fr"), covered(None)
(True, False, False)
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["COVERED_LANGUAGES", "MODEL", "SentimentScorer", "covered"]

MODEL = "VADER 3.3.2 (vaderSentiment, English lexicon)"
COVERED_LANGUAGES = ("en", "eng", "english")


def covered(language: str | None) -> bool:
    """Whether VADER covers ``language`` (an ISO code such as ``en`` or ``en-GB``, or a name)."""
    if language is None:
        return False
    base = language.strip().lower().replace("_", "-").split("-")[0]
    return base in COVERED_LANGUAGES


class SentimentScorer:
    """VADER's compound score for each text (the lexicon is loaded once)."""

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._analyzer = SentimentIntensityAnalyzer()

    def score(self, texts: Sequence[str]) -> list[float]:
        """The compound score, -1 to 1, of every text.

        VADER reads a text alone, so a text that comes again (a retweet, a template, "thanks")
        is scored once.
        """
        polarity = self._analyzer.polarity_scores
        scores: dict[str, float] = {}
        for text in texts:
            if text not in scores:
                scores[text] = float(polarity(text)["compound"])
        return [scores[t] for t in texts]
