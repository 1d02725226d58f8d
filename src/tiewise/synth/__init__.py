"""Synthetic data generators with hidden ground truth: the project's test bed.

:func:`generate_telco` writes a telecom operator's call and SMS logs, customers, bills,
product adoptions and churn; :func:`generate_b2b` writes a business-to-business vendor's
contacts, e-mails, meetings, referrals, engagement events and orders.  Both also write the
hidden truth (communities, tie strengths, influence and advocacy traits, causes of every
adoption and churn) under ``out/truth`` so later stages can be tested against it.  The same
parameters and seed always give byte-identical files.
"""

from __future__ import annotations

from tiewise.synth.b2b import generate_b2b
from tiewise.synth.params import B2BParams, SynthResult, TelcoParams
from tiewise.synth.telco import generate_telco

__all__ = ["B2BParams", "SynthResult", "TelcoParams", "generate_b2b", "generate_telco"]
