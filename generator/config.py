"""Rates of every pattern the generator injects; each one is documented in generator/README.md."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rates:
    """Configurable injection rates (shares of records of the channel unless said otherwise)."""

    # Declarations (general cargo)
    decl_under_valuation: float = 0.05      # declared price 20-55% of the true price
    decl_origin_misdeclaration: float = 0.03  # FTA origin claimed for goods really from elsewhere
    decl_watchlisted_goods: float = 0.015   # watch-listed HS code shipped by a risky seller, undeclared licence
    decl_drugs: float = 0.002               # concealed drugs (critical)
    # Express cargo
    express_under_valuation: float = 0.06   # declared value 15-50% of the platform's paid amount
    express_pccc_shared: float = 0.025      # a real PCCC used with another name and phone
    express_pccc_unregistered: float = 0.008  # a well-formed PCCC that is not in the registry
    express_pccc_suspended: float = 0.008   # a PCCC suspended for misuse
    express_split_buyers: float = 0.02      # share of buyers splitting one purchase into 2-4 parcels
    express_drugs: float = 0.0015
    express_watchlisted_seller: float = 0.02  # parcels from watch-listed sellers (regulated goods)
    # International mail
    mail_supplements_as_gift: float = 0.05  # supplements/medicines sent as "gift" without declaration
    mail_drugs: float = 0.003
    # A world that is not too easy: innocents that look guilty, parties that change, a new pattern
    decl_lookalike_cheap: float = 0.03      # genuinely cheap goods: true price 25-50 % of the HS norm, clear
    decl_lookalike_origin: float = 0.03     # genuine transshipment: departs elsewhere with a true FTA origin, clear
    mail_lookalike_vitamins: float = 0.03   # real vitamin gifts from family abroad, clear
    risk_drift_share: float = 0.1           # importers and sellers whose risk changes on the drift day
    risk_drift_day: int = 28                # days after the first generated day
    decl_misclassification: float = 0.02    # new pattern from `new_pattern_day`: declared under a lower-duty HS6
    new_pattern_day: int = 21               # days after the first generated day
    # Inspection (simulated legacy selection; only inspected records get a result)
    inspection_sensitivity: float = 0.85     # an inspection of a fraud finds it; a missed one is reported clear
    random_inspection: float = 0.02          # random/exploratory share
    rule_hit_inspection: float = 0.55        # probability a legacy rule hit is inspected
    max_result_lag_days: int = 7             # results arrive 1..this many days after the record
    # Bad rows (quarantine demo)
    bad_rows: float = 0.01


@dataclass(frozen=True)
class Events:
    """Market events with ground truth: weekly price surges and supply shocks."""

    price_surge_items: int = 12       # surge-check items whose unit price jumps
    surge_multiplier: tuple[float, float] = (1.4, 2.0)
    supply_shock_items: int = 8       # key import items whose volume drops / origin concentrates
    volume_drop: tuple[float, float] = (0.2, 0.5)   # share of volume left after the shock
    concentration_share: float = 0.9  # share of the shocked item's imports from one country
    start_days: tuple[int, int] = (14, 70)  # events start this many days after the first generated day


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything that decides what is generated; the same config and seed give the same files."""

    seed: int = 42
    scale: float = 1.0
    rates: Rates = field(default_factory=Rates)
    events: Events = field(default_factory=Events)
    declarations_per_day: int = 200
    express_per_day: int = 600
    mail_per_day: int = 150
