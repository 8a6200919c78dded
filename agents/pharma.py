"""Pharma: the patent holder of branded esketamine.

It sets a list price per session, spends a share of revenue on detailing (which raises
prescribers' preference for the drug-only REMS model), and loses both price and the reason to
detail when its patent expires and generics enter. Racemic ketamine is generic, cheap and
off-label: nobody markets it.
"""

from __future__ import annotations

import math
from typing import Annotated

import mesa
from pydantic import BaseModel, ConfigDict, Field

Usd = Annotated[float, Field(ge=0.0, le=1_000_000.0, allow_inf_nan=False)]
Prob = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


class PharmaParams(BaseModel):
    """The manufacturer's prices and promotion (the scenario's ``[pharma]`` table)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    # STAT 2019: $590 (56 mg) - $885 (84 mg) per session at launch; a mix of the two doses.
    usd_list_price_per_session: Usd = Field(
        700.0, description="Esketamine list price per treatment session, USD (STAT 2019)."
    )
    p_detailing_share: Prob = Field(
        0.15,
        description=(
            "Share of quarterly revenue spent on detailing prescribers (assumption; "
            "industry promotion spending is 10-25 % of sales)."
        ),
    )
    p_generic_price_cut: Prob = Field(
        0.8, description="Price cut after generic entry, share (assumption from generic markets)."
    )
    usd_detailing_reference: Annotated[float, Field(gt=0.0, le=1e7)] = Field(
        10_000.0,
        description=(
            "Detailing per prescriber per quarter at which its pull on the REMS model is "
            "usd_detailing_value_per_hour, USD (DeJong 2016's payments; assumption)."
        ),
    )
    usd_detailing_value_per_hour: Annotated[float, Field(ge=0.0, le=1000.0)] = Field(
        30.0,
        description=(
            "Preference for the REMS model that detailing buys, USD-equivalent per clinical hour "
            "at $10k detailing per prescriber per quarter (Rhee & Wilkinson 2020: payments "
            "raise brand prescribing; DeJong 2016; assumption on the size)."
        ),
    )


class Pharma(mesa.Agent):
    """The esketamine manufacturer.

    Attributes:
        price_per_session: Current price per session, USD.
        detailing_per_prescriber: Detailing spent per prescriber in the last quarter, USD.
        quarter_revenue: Drug revenue so far this quarter, USD.
        total_detailing: Detailing spent over the run, USD.
    """

    def __init__(self, model: mesa.Model) -> None:
        super().__init__(model)
        self.price_per_session = model.scenario.pharma.usd_list_price_per_session
        self.quarter_revenue = 0.0
        self.total_detailing = 0.0
        self.detailing_per_prescriber = 0.0
        self.patent_expired = False

    def expire_patent(self) -> None:
        """Generic entry: the price falls and detailing stops."""
        if self.patent_expired:
            return
        self.patent_expired = True
        self.price_per_session *= 1.0 - self.model.scenario.pharma.p_generic_price_cut
        self.detailing_per_prescriber = 0.0

    def review_quarter(self) -> None:
        """Set next quarter's detailing budget as a share of this quarter's revenue."""
        if self.patent_expired:
            budget = 0.0
        else:
            budget = self.model.scenario.pharma.p_detailing_share * self.quarter_revenue
        n_prescribers = max(len(self.model.prescribers), 1)
        self.detailing_per_prescriber = budget / n_prescribers
        self.total_detailing += budget
        self.quarter_revenue = 0.0

    def detailing_bonus_per_hour(self) -> float:
        """Preference detailing adds to the REMS model, USD per clinical hour.

        Concave in spending (a first meal matters most: DeJong 2016):
        ``usd_detailing_value_per_hour x log2(1 + detailing / usd_detailing_reference)``.
        """
        pp = self.model.scenario.pharma
        spent = self.detailing_per_prescriber / pp.usd_detailing_reference
        return pp.usd_detailing_value_per_hour * math.log1p(spent) / math.log(2.0)
