"""The fixed cast of a generated world: parties with a latent risk, the HS catalogue, PCCC
holders, watch lists and monitored items. Built once from the seed; every day draws from it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from generator.config import GeneratorConfig

SURNAMES = list("김이박최정강조윤장임한오서신권황안송류홍")
GIVEN = list("민서지현준우영수진하은도윤성호주연예원태경")
COUNTRIES = np.array(["CN", "US", "VN", "JP", "DE", "TW", "TH", "IT", "ID", "MY", "IN", "FR", "GB", "AU",
                      "HK", "SG", "PH", "MX", "CA", "NL"])
COUNTRY_WEIGHTS = np.array([30, 14, 9, 9, 5, 4, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 1, 1, 2, 2], dtype=float)
FTA_TAX_TYPE = {"CN": "FCN1", "US": "FUS1", "VN": "FVN1", "DE": "FEU1", "IT": "FEU1", "FR": "FEU1", "NL": "FEU1",
                "GB": "FGB1", "AU": "FAU1", "CA": "FCA1", "IN": "FIN1", "TH": "FAS1", "ID": "FAS1", "MY": "FAS1",
                "SG": "FSG1", "PH": "FAS1", "JP": "FRC1", "TW": "A", "HK": "A", "MX": "A"}
# (HS2 chapter, Korean, English) for monitored-item names; HS6 codes are drawn inside the chapter.
PRODUCTS = [
    ("02", "쇠고기", "beef"), ("03", "연어", "salmon"), ("04", "치즈", "cheese"), ("07", "양파", "onion"),
    ("08", "바나나", "banana"), ("09", "커피", "coffee"), ("10", "밀", "wheat"), ("12", "대두", "soybean"),
    ("15", "팜유", "palm oil"), ("17", "설탕", "sugar"), ("21", "건강기능식품", "health supplement"),
    ("22", "와인", "wine"), ("25", "시멘트", "cement"), ("27", "원유", "crude oil"), ("28", "요소", "urea"),
    ("29", "리튬화합물", "lithium compound"), ("30", "의약품", "medicine"), ("31", "비료", "fertilizer"),
    ("33", "화장품", "cosmetics"), ("38", "화학제품", "chemical product"), ("39", "플라스틱", "plastic"),
    ("40", "고무", "rubber"), ("44", "목재", "timber"), ("48", "종이", "paper"), ("52", "면사", "cotton yarn"),
    ("61", "의류", "apparel"), ("64", "신발", "footwear"), ("68", "석면제품", "asbestos product"),
    ("72", "철강", "steel"), ("74", "구리", "copper"), ("76", "알루미늄", "aluminium"), ("81", "희토류", "rare earth"),
    ("84", "기계", "machinery"), ("85", "반도체", "semiconductor"), ("87", "자동차부품", "auto parts"),
    ("90", "의료기기", "medical device"), ("94", "가구", "furniture"), ("95", "완구", "toys"),
]
GRADES = [("", ""), ("냉동 ", "frozen "), ("가공 ", "processed "), ("고급 ", "premium "), ("산업용 ", "industrial ")]
ALNUM = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


def codes(rng: np.random.Generator, n: int, length: int = 7, prefix: str = "") -> np.ndarray:
    """`n` distinct-looking alphanumeric ids."""
    chars = np.ascontiguousarray(ALNUM[rng.integers(0, len(ALNUM), size=(n, length))])
    return np.char.add(prefix, chars.view(f"<U{length}").ravel())


def korean_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` Korean personal names (surname + two syllables)."""
    s = np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)]
    g1 = np.array(GIVEN)[rng.integers(0, len(GIVEN), n)]
    g2 = np.array(GIVEN)[rng.integers(0, len(GIVEN), n)]
    return np.char.add(np.char.add(s, g1), g2)


DIGITS = np.array(list("0123456789"))


def digit_strings(rng: np.random.Generator, n: int, width: int, prefix: str = "") -> np.ndarray:
    """`n` random zero-padded digit strings of `width` (built as a character matrix: no Python loop)."""
    chars = np.empty((n, len(prefix) + width), dtype="<U1")
    chars[:, : len(prefix)] = list(prefix)
    chars[:, len(prefix):] = DIGITS[rng.integers(0, 10, (n, width))]
    return np.ascontiguousarray(chars).view(f"<U{len(prefix) + width}").ravel()


def zero_padded(values: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers as zero-padded digit strings of `width`, without a Python loop."""
    digits = (values[:, None] // (10 ** np.arange(width - 1, -1, -1, dtype=np.int64))) % 10
    return np.ascontiguousarray(DIGITS[digits]).view(f"<U{width}").ravel()


def phones(rng: np.random.Generator, n: int) -> np.ndarray:
    """Korean mobile numbers 010-XXXX-XXXX."""
    chars = np.empty((n, 13), dtype="<U1")
    chars[:, :4] = list("010-")
    chars[:, 4:8] = DIGITS[rng.integers(0, 10, (n, 4))]
    chars[:, 4] = DIGITS[rng.integers(1, 10, n)]
    chars[:, 8] = "-"
    chars[:, 9:] = DIGITS[rng.integers(0, 10, (n, 4))]
    return np.ascontiguousarray(chars).view("<U13").ravel()


class World:
    """Parties, catalogue and reference lists for one seed and scale."""

    def __init__(self, config: GeneratorConfig, start: dt.date) -> None:
        self.config = config
        self.start = start
        rng = np.random.default_rng([config.seed, 1])
        s = max(config.scale, 0.05)
        # HS catalogue: 6-digit codes inside the chapters above plus others; a typical unit price per kg.
        chapters = np.array([p[0] for p in PRODUCTS])
        n_hs = 1500
        chapter = np.where(rng.random(n_hs) < 0.7, rng.choice(chapters, n_hs),
                           np.char.zfill(rng.integers(1, 98, n_hs).astype(str), 2))
        self.hs6 = np.unique(np.char.add(chapter, np.char.zfill(rng.integers(0, 10000, n_hs).astype(str), 4)))
        n_hs = len(self.hs6)
        self.hs_unit_price = np.exp(rng.normal(9.5, 1.4, n_hs))   # KRW per kg
        self.hs_tax = rng.choice([0, 3, 5, 6.5, 8, 13, 30], n_hs, p=[.2, .1, .15, .1, .3, .1, .05])
        self.hs_weight = rng.pareto(1.1, n_hs) + 1
        self.hs_weight /= self.hs_weight.sum()
        self.hs_risk = rng.beta(1, 12, n_hs)  # chance that goods of this code hide something
        # Parties with a latent propensity to commit fraud (most honest, a few not).
        self.importers = codes(rng, max(60, int(2000 * s)))
        self.importer_risk = rng.beta(0.6, 10, len(self.importers))
        self.declarants = codes(rng, max(15, int(300 * s)))
        self.declarant_risk = rng.beta(0.8, 14, len(self.declarants))
        self.sellers = codes(rng, max(80, int(3000 * s)))
        self.seller_risk = rng.beta(0.6, 10, len(self.sellers))
        self.couriers = codes(rng, 12, 5)
        self.platforms = np.array(["ALIEXPRESS", "TEMU", "AMAZON", "IHERB", "TAOBAO", "EBAY"])
        self.platform_weights = np.array([30, 25, 15, 15, 10, 5], dtype=float) / 100
        # Risky sellers on the watch list (express): known harmful-goods shippers.
        n_watch = max(5, int(0.02 * len(self.sellers)))
        self.watch_sellers = self.sellers[np.argsort(-self.seller_risk)[:n_watch]]
        # PCCC holders = the registry; a few suspended for misuse.
        n_holders = max(500, int(20000 * s))
        # Distinct numbers drawn as integers (hashing a million strings is slow), then formatted.
        self.pccc = rng.permutation(np.unique(rng.integers(0, 10**12, n_holders)))
        self.pccc = np.char.add("P", zero_padded(self.pccc, 12))
        n_holders = len(self.pccc)
        self.holder_name = korean_names(rng, n_holders)
        self.holder_phone = phones(rng, n_holders)
        self.holder_issue = (np.datetime64(start) - rng.integers(30, 3000, n_holders).astype("timedelta64[D]")
                             ).astype(str)
        self.holder_status = np.where(rng.random(n_holders) < 0.01, "suspended", "active")
        self.pccc_index = pd.Index(self.pccc)  # hashed once: membership tests stay fast at scale
        self.postcodes = digit_strings(rng, n_holders, 5)
        self._items(np.random.default_rng([config.seed, 4]))
        self.watch = self.watch_lists()
        self.watch_hs = self.watch.loc[self.watch["key_type"] == "hs6", "key_value"].to_numpy()
        self.events = self._events(np.random.default_rng([config.seed, 2]))
        self._drift(np.random.default_rng([config.seed, 3]))

    def _drift(self, rng: np.random.Generator) -> None:
        """Parties whose risk changes on the drift day: of a share of importers and sellers, half
        turn risky (new offenders the legacy lists do not know), half reform."""
        rates = self.config.rates
        self.drift_day = self.start + dt.timedelta(days=rates.risk_drift_day)
        self.importer_risk_later = self.importer_risk.copy()
        self.seller_risk_later = self.seller_risk.copy()
        for later in (self.importer_risk_later, self.seller_risk_later):
            moved = rng.random(len(later)) < rates.risk_drift_share
            turn = moved & (rng.random(len(later)) < 0.5)
            later[turn] = rng.beta(3, 6, int(turn.sum()))
            later[moved & ~turn] = rng.beta(0.5, 40, int((moved & ~turn).sum()))

    def importer_risk_on(self, day: dt.date) -> np.ndarray:
        """Each importer's latent risk on `day` (after the drift day, the drifted one)."""
        return self.importer_risk_later if day >= self.drift_day else self.importer_risk

    def seller_risk_on(self, day: dt.date) -> np.ndarray:
        """Each seller's latent risk on `day`."""
        return self.seller_risk_later if day >= self.drift_day else self.seller_risk

    def _items(self, rng: np.random.Generator) -> None:
        """Monitored items: 86 price-disclosure, 831 surge-check, 333 key import, 450 key export.
        Each maps to 1-3 HS6 codes of its product's chapter, drawn by how much the codes are
        imported (the lists watch goods that are actually traded, so their weekly figures rest on
        declarations); codes are shared between items, as real item lists overlap."""
        rows = []
        in_chapter = {ch: np.flatnonzero(np.char.startswith(self.hs6, ch)) for ch, _, _ in PRODUCTS}
        for list_type, count, prefix in (("price_disclosure", 86, "PD"), ("surge_check", 831, "SC"),
                                         ("supply_import", 333, "SI"), ("supply_export", 450, "SE")):
            for i in range(count):
                ch, ko, en = PRODUCTS[rng.integers(0, len(PRODUCTS))]
                grade_ko, grade_en = GRADES[rng.integers(0, len(GRADES))]
                pool = in_chapter[ch] if len(in_chapter[ch]) else np.arange(len(self.hs6))
                weight = self.hs_weight[pool] / self.hs_weight[pool].sum()
                k = min(len(pool), int(rng.integers(1, 4)))
                picked = sorted(self.hs6[rng.choice(pool, k, replace=False, p=weight)])
                rows.append({"item_code": f"{prefix}{i + 1:04d}", "list_type": list_type,
                             "name_ko": f"{grade_ko}{ko} {i + 1}", "name_en": f"{grade_en}{en} {i + 1}",
                             "hs6_codes": ";".join(picked)})
        self.items = pd.DataFrame(rows)

    def _events(self, rng: np.random.Generator) -> list[dict]:
        """Price surges on surge-check items and supply shocks on key import items, starting 2-10
        weeks after the first day; the ground truth of each is written beside the landing files."""
        ev = self.config.events
        events = []
        surge = self.items[self.items["list_type"] == "surge_check"].sample(
            ev.price_surge_items, random_state=int(rng.integers(1 << 31)))
        for _, item in surge.iterrows():
            events.append({"kind": "price_surge", "item_code": item["item_code"], "hs6": item["hs6_codes"].split(";"),
                           "start": self.start + dt.timedelta(days=int(rng.integers(*ev.start_days))),
                           "magnitude": float(np.round(rng.uniform(*ev.surge_multiplier), 2))})
        shock = self.items[self.items["list_type"] == "supply_import"].sample(
            ev.supply_shock_items, random_state=int(rng.integers(1 << 31)))
        for _, item in shock.iterrows():
            events.append({"kind": "supply_shock", "item_code": item["item_code"], "hs6": item["hs6_codes"].split(";"),
                           "start": self.start + dt.timedelta(days=int(rng.integers(*ev.start_days))),
                           "magnitude": float(np.round(rng.uniform(*ev.volume_drop), 2)),
                           "country": str(rng.choice(["CN", "VN", "ID"])), "concentration": ev.concentration_share})
        return events

    def registry(self, holders: np.ndarray | None = None) -> pd.DataFrame:
        """The PCCC registry as delivered on the first day, or the rows of some `holders`."""
        pick = slice(None) if holders is None else holders
        return pd.DataFrame({"pccc": self.pccc[pick], "holder_name": self.holder_name[pick],
                             "phone": self.holder_phone[pick], "issue_date": self.holder_issue[pick],
                             "status": self.holder_status[pick]})

    def watch_lists(self) -> pd.DataFrame:
        """Border-agency watch lists: MFDS (foods, medicines), ME (chemicals), MOEL (asbestos),
        NSSC (radioactive), KCS (sellers)."""
        start = self.start.isoformat()
        rows = []
        by_prefix = {"MFDS": ("21", "30"), "ME": ("28", "29", "38"), "MOEL": ("68",), "NSSC": ("2844",)}
        reasons = {"MFDS": "harmful food / unapproved medicine", "ME": "hazardous chemical",
                   "MOEL": "asbestos", "NSSC": "radioactive material"}
        for agency, prefixes in by_prefix.items():
            hit = np.zeros(len(self.hs6), dtype=bool)
            for prefix in prefixes:
                hit |= np.char.startswith(self.hs6, prefix)
            for hs in self.hs6[hit][:25]:
                rows.append({"agency": agency, "key_type": "hs6", "key_value": hs, "risk_level": "2",
                             "reason": reasons[agency], "valid_from": start, "valid_to": ""})
        for kw in ("sibutramine", "melatonin", "finasteride", "sildenafil", "시부트라민", "멜라토닌", "diet pill"):
            rows.append({"agency": "MFDS", "key_type": "keyword", "key_value": kw, "risk_level": "3",
                         "reason": "ingredient banned or prescription-only", "valid_from": start, "valid_to": ""})
        for seller in self.watch_sellers:
            rows.append({"agency": "KCS", "key_type": "seller", "key_value": seller, "risk_level": "3",
                         "reason": "repeated regulated-goods shipments", "valid_from": start, "valid_to": ""})
        return pd.DataFrame(rows)
