"""A paper's claims as data: the claims ledger.

Every number a paper prints about its results, and every finding of its abstract and
conclusion, is one typed claim in its config (`ExperimentConfig.claims`), with the paper's
words and their place. A few general kinds cover all five papers; `fer_keras.claims.judge`
judges each kind with one two-sided rule (docs/claims.md) from the run folders alone.

Kinds:
    Value       a cell's metric is this number (accuracy 57.843 %, the AUC of fear 0.785)
    Order       one cell beats another on accuracy or on one class's recall
                (optionally by `size` points: an ablation's "4-6 % drop")
    Best        a cell beats every other cell of a set
    Effect      a factor's main effect, a simple effect within one model, or the
                interaction, is significant (optionally: this sign and size)
    Extremes    these classes have the highest / lowest recall
    Bound       a cell's accuracy is above a number
    Consistent  a cell's claimed macro precision, recall and F1 can be true together
    Robust      a cell loses less accuracy to added noise than another

A claim that no run here can judge (another data set) carries `scope`: why not; it is listed,
never judged. `readings` judge the same claim again with cells replaced by another reading of
the paper (e.g. {"no-dropout reading": {"csv/ashok_cnn": "csv/ashok_cnn_nodropout"}}); the
claim's own verdict is that of the cells it names. `origin` names the claim of another
experiment that a claim judges again (a common protocol re-judging each paper's architectural
claims on its own cells).

Light on purpose (no NumPy, no TensorFlow): configs import it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..core.errors import FerKerasError
from ..core.labels import CLASS_NAMES

# Metrics a Value claim may name: percent as printed; roc_auc.<class> on the 0-1 scale.
PERCENT_METRICS = ("accuracy", "precision_macro", "recall_macro", "f1_macro")
AUC_PREFIX = "roc_auc."
RECALL_PREFIX = "recall."  # Order and Best: one class's recall, on that class's test images
INTERACTION = "interaction"  # Effect.factor of the two factors' interaction


class ClaimError(FerKerasError, ValueError):
    pass


@dataclass(frozen=True, kw_only=True)
class Claim:
    quote: str  # the paper's words, short
    where: str  # section, table or figure
    central: bool = False  # a finding of the abstract or the conclusion
    readings: dict = field(default_factory=dict)  # {label: {cell: other reading's cell}}
    scope: str = ""  # non-empty: why no run here can judge it (listed, never judged)
    # non-empty: the claim of another experiment this one judges again under its own protocol,
    # as "<experiment>: <that claim's short label>" (claims.judge.short_text); the README and
    # the scoreboard set the two verdicts side by side
    origin: str = ""
    kind: str = field(default="", init=False)
    KIND = ""  # set by @_kind: the name stored in JSON

    def __post_init__(self):
        object.__setattr__(self, "kind", type(self).KIND)

    def cells(self) -> tuple[str, ...]:
        """The "format/arm" cells the claim is about."""
        return ()

    def validate(self) -> None:
        if not self.quote.strip() or not self.where.strip():
            raise ClaimError(f"{self.kind} claim: expected the paper's words (quote) and their "
                             "place (where)")
        for label, mapping in self.readings.items():
            if not isinstance(mapping, dict) or not mapping:
                raise ClaimError(f"{self.kind} claim {self.quote[:40]!r}: readings[{label!r}]: "
                                 "expected {cell: other cell}")

    def reading(self, label: str) -> Claim:
        """The same claim with the cells of another reading substituted."""
        mapping = self.readings[label]
        changes = {}
        for f in dataclasses.fields(self):
            if f.name in ("readings", "kind") or not f.init:
                continue
            value = getattr(self, f.name)
            if isinstance(value, str) and value in mapping:
                changes[f.name] = mapping[value]
            elif isinstance(value, tuple) and any(v in mapping for v in value):
                changes[f.name] = tuple(mapping.get(v, v) for v in value)
        return dataclasses.replace(self, readings={}, **changes)


def _kind(name: str):
    def decorate(cls):
        cls.KIND = name
        cls = dataclass(frozen=True, kw_only=True)(cls)
        KINDS[name] = cls
        return cls
    return decorate


KINDS: dict[str, type] = {}


def _check_cell(cell: str, what: str) -> None:
    if not isinstance(cell, str) or cell.count("/") != 1:
        raise ClaimError(f"{what}={cell!r}: expected a cell 'format/model' (e.g. csv/ozer_cnn)")


def _check_metric(metric: str, allowed: tuple[str, ...], prefixes: tuple[str, ...]) -> None:
    for p in prefixes:
        if metric.startswith(p) and metric[len(p):] in CLASS_NAMES:
            return
    if metric not in allowed:
        raise ClaimError(f"metric={metric!r}: expected one of {', '.join(allowed)} or "
                         f"{' / '.join(p + '<class>' for p in prefixes)}")


@_kind("value")
class Value(Claim):
    cell: str
    metric: str  # accuracy, precision_macro, recall_macro, f1_macro, roc_auc.<class>
    value: float  # as printed: percent, or 0-1 for an AUC

    def cells(self):
        return (self.cell,)

    def validate(self):
        super().validate()
        _check_cell(self.cell, "cell")
        _check_metric(self.metric, PERCENT_METRICS, (AUC_PREFIX,))


@_kind("order")
class Order(Claim):
    better: str
    worse: str
    metric: str = "accuracy"  # or recall.<class>
    alpha: float = 0.05  # the level the paper claims (or 0.05 where it names none)
    size: tuple = ()  # (low, high) points: "4-6 % below"; () claims no size

    def cells(self):
        return (self.better, self.worse)

    def validate(self):
        super().validate()
        _check_cell(self.better, "better")
        _check_cell(self.worse, "worse")
        _check_metric(self.metric, ("accuracy",), (RECALL_PREFIX,))
        _check_alpha(self.alpha)
        _check_size(self.size)


@_kind("best")
class Best(Claim):
    cell: str
    among: tuple  # the other cells it is said to beat
    alpha: float = 0.05

    def cells(self):
        return (self.cell, *self.among)

    def validate(self):
        super().validate()
        _check_cell(self.cell, "cell")
        if not self.among:
            raise ClaimError("best: expected the cells it beats (among)")
        for c in self.among:
            _check_cell(c, "among")
        _check_alpha(self.alpha)


@_kind("effect")
class Effect(Claim):
    factor: str  # "format", "model" or INTERACTION
    high: str = ""  # the level said to score higher ("csv"); "" claims no sign
    low: str = ""
    within: str = ""  # a model: the simple effect of `factor` within it (its two cells)
    size: float | None = None  # claimed difference in points (high minus low)
    alpha: float = 0.05

    def validate(self):
        super().validate()
        if self.factor not in ("format", "model", INTERACTION):
            raise ClaimError(f"effect factor={self.factor!r}: expected format, model or "
                             f"{INTERACTION}")
        if bool(self.high) != bool(self.low):
            raise ClaimError("effect: expected both high and low levels, or neither")
        if self.within and (self.factor != "format" or not self.high):
            raise ClaimError("effect within a model: expected factor='format' with high and low")
        if self.factor == INTERACTION and (self.high or self.size is not None):
            raise ClaimError("effect interaction: no sign or size (expected high = low = '')")
        _check_alpha(self.alpha)

    def cells(self):
        if self.within:
            return (f"{self.high}/{self.within}", f"{self.low}/{self.within}")
        return ()


@_kind("extremes")
class Extremes(Claim):
    cell: str
    highest: tuple = ()  # classes of the highest recall
    lowest: tuple = ()

    def cells(self):
        return (self.cell,)

    def validate(self):
        super().validate()
        _check_cell(self.cell, "cell")
        if not (self.highest or self.lowest):
            raise ClaimError("extremes: expected classes of the highest or lowest recall")
        for c in (*self.highest, *self.lowest):
            if c not in CLASS_NAMES:
                raise ClaimError(f"extremes: {c!r}: expected one of {', '.join(CLASS_NAMES)}")


@_kind("bound")
class Bound(Claim):
    cell: str
    above: float  # accuracy, percent
    alpha: float = 0.05

    def cells(self):
        return (self.cell,)

    def validate(self):
        super().validate()
        _check_cell(self.cell, "cell")
        _check_alpha(self.alpha)


@_kind("consistent")
class Consistent(Claim):
    """The cell's claimed macro precision, recall and F1 (its Value claims) can hold together:
    each class's F1 is the harmonic mean of its precision and recall, at most their arithmetic
    mean, so macro F1 <= (macro precision + macro recall) / 2 for any predictions."""
    cell: str

    def cells(self):
        return (self.cell,)

    def validate(self):
        super().validate()
        _check_cell(self.cell, "cell")


@_kind("robust")
class Robust(Claim):
    cell: str
    than: str  # the cell it is said to lose less accuracy to noise than

    def cells(self):
        return (self.cell, self.than)

    def validate(self):
        super().validate()
        _check_cell(self.cell, "cell")
        _check_cell(self.than, "than")


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ClaimError(f"alpha={alpha}: expected a level 0 < alpha < 1 (e.g. 0.01)")


def _check_size(size: tuple) -> None:
    if size and not (len(size) == 2 and all(isinstance(v, (int, float)) for v in size)
                     and size[0] <= size[1]):
        raise ClaimError(f"size={size!r}: expected (low, high) points, low <= high")


def validate_claims(claims: tuple, cells: set[str] | None = None) -> None:
    """Every claim well formed; with `cells` (the config's "format/arm" cells), every cell a
    judged claim names is one of them."""
    for c in claims:
        if not isinstance(c, Claim):
            raise ClaimError(f"claims: {c!r}: expected fer_keras.claims.ledger claims "
                             "(Value, Order, ...)")
        c.validate()
        if cells is None or c.scope:
            continue
        for cell in c.cells() + tuple(v for m in c.readings.values() for v in m.values()):
            if cell not in cells:
                raise ClaimError(f"{c.kind} claim {c.quote[:50]!r}: cell {cell!r} is not a cell "
                                 f"of the config; expected one of {', '.join(sorted(cells))}")


def to_json(claims: tuple) -> list[dict]:
    return [dataclasses.asdict(c) for c in claims]


def from_json(items: list[dict]) -> tuple:
    """Claims from their JSON (experiment.json); tuples restored."""
    out = []
    for d in items or []:
        d = dict(d)
        cls = KINDS.get(d.pop("kind", None))
        if cls is None:
            raise ClaimError(f"claims: unknown kind in {d!r}; expected one of {', '.join(KINDS)}")
        names = {f.name: f for f in dataclasses.fields(cls) if f.init}
        args = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in names}
        out.append(cls(**args))
    return tuple(out)


def claimed_values(claims) -> dict[str, dict[str, float]]:
    """{cell: {metric: value}} of the judged Value claims (and their readings' cells): what
    tables print in their "paper" column. The first claim of a cell and metric wins."""
    out: dict[str, dict[str, float]] = {}
    for c in claims:
        if isinstance(c, dict):
            c = from_json([c])[0]
        if not isinstance(c, Value) or c.scope:
            continue
        for cell in (c.cell, *(m.get(c.cell) for m in c.readings.values())):
            if cell:
                out.setdefault(cell, {}).setdefault(c.metric, c.value)
    return out


def values_of(experiment: dict) -> dict[str, dict[str, float]]:
    """The claimed values of a run folder's experiment.json: its claims' (claimed_values), and
    those of a folder written before the claims ledger (`claimed_metrics`, `claimed_auc`)."""
    out = claimed_values(experiment.get("claims") or [])
    for cell, metrics in (experiment.get("claimed_metrics") or {}).items():
        for metric, value in metrics.items():
            out.setdefault(cell, {}).setdefault(metric, value)
    for cell, aucs in (experiment.get("claimed_auc") or {}).items():
        for name, value in aucs.items():
            out.setdefault(cell, {}).setdefault(f"{AUC_PREFIX}{name}", value)
    return out
