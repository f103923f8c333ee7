"""The paper's claims as executable checks (19 rows, scored in chapter 9 of the book).

Each claim of Park et al. (ICLR 2023) becomes a function of a *results* dict and returns a
:class:`ClaimResult` whose ``status`` is one of :data:`STATUSES`. CL is the model under
``roles["cl"]`` (MoCo v3), MIM the one under ``roles["mim"]`` (SimMIM).

A claim that an untrained model, a lucky seed or a loose margin could pass proves nothing, so every
verdict is controlled:

- **margins** (:func:`margins`): one model beats another only by more than the margin of the metric:
  the floor in :data:`MARGINS`, raised to the largest spread measured between random initialisations
  and between seeds of the models the claim compares (:func:`spreads`). A tie is never "holds";
- **learned, on the compared metric, in the claim's window**: ``roles["random"]`` names random-init
  encoders of the same architecture (at least three, each with its own seed), measured the same way.
  Each claim lists the quantities it compares (:attr:`Claim.compared`: role, metric, head reduction,
  depth window). A model whose quantity is within the margin of *any* random-init encoder of its own
  initialisation (``"init"`` in its metrics), as the mean absolute gap over the window, has not learned
  what the claim compares: the claim is ``"inconclusive"`` with that reason (e.g. "CL's attention
  distance ≈ random init"). Without a random-init measurement the claim is ``"not measured"``;
- **seeds**: a role may name several models (seeds). Each claim is checked on every pairing of them and
  holds only if it holds for all; a mixed result is ``"inconclusive (seed-dependent)"`` with the outcome
  of each pairing in :attr:`ClaimResult.pairs`. With fewer than :data:`MIN_SEEDS` seeds of a role a
  claim can neither hold nor fail;
- **smoke runs**: results whose ``provenance["preset"]`` is ``"smoke"`` read ``"n/a (smoke run)"``.

"not measured" means a metric it needs is missing, NaN, or the models' depths differ.

Results schema (every key optional; a missing key makes only its claims "not measured")::

    {
      "models": {
        "<name>": {                                   # e.g. "mocov3", "simmim", "hybrid", "mae"
          "attention_distance": [[px per head] per block 1..L],
          "attention_entropy": [[per head] per block 1..L],  # 1 = uniform attention
          "nmi":               [[per head] per block 1..L],
          "query_jsd":         [[bits per head] per block 1..L],
          "head_jsd":          [bits per block 1..L],        # heads compared query by query
          "init":              "mocov3" | "mae" | "timm",   # the encoder's initialisation
          "fourier_delta":     [Δ log amplitude at the last bin, per depth 0..L],
          "decoder_fourier_delta": [per decoder block]          (MAE),
          "silhouette":        [image-ID silhouette, per depth 0..L],
          "unison":            [unison ratio, per block 1..L],
          "linear_probe":      [top-1 %, per block 1..L],
          "fine_tune":         top-1 %,
          "fine_tune_by_size": {"vit_tiny": %, "vit_small": %, ...},
          "coco_ap_box":       AP,
          "shape_bias":        fraction in [0, 1],
          "noise_accuracy":    {"freqs": [rad/px], "clean": acc, "accuracy": [acc per f]},
        },
      },
      "roles": {"cl": ["mocov3-seed0", "mocov3-seed1"], "mim": [...], "hybrid": "hybrid", "mae": [...],
                "random": ["random-mocov3-0", "random-mocov3-1", "random-mocov3-2", ...]},
      "margins": {metric: (absolute, relative)},           # optional: else computed by margins()
      "hybrid_sweep": [{"lambda": λ, "linear_probe": %, "fine_tune": %}, ...],
      "provenance": {...},
    }

The per-model dicts are exactly the ``"metrics"`` written by ``python -m sslvit_lite analyze``
(:mod:`sslvit_lite.measure`) plus what probes and fine-tuning add.

Depth windows. The paper's statements refer to ViT-B's 12 blocks ("blocks 9–12"); for a
model with L blocks the window starts at block ceil(first · L / 12), e.g. blocks 5–6 of 6.
"At most blocks" statements hold when ≥ 3/4 of the window agrees ("≥ 3 of blocks
9–12"); the Fourier ordering needs ≥ 10/12 of depths 1..L.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

SEED_DEPENDENT = "inconclusive (seed-dependent)"
SMOKE = "n/a (smoke run)"
STATUSES = ("holds", "fails", "inconclusive", SEED_DEPENDENT, "not measured", SMOKE)
DEFAULT_ROLES = {"cl": "mocov3", "mim": "simmim", "hybrid": "hybrid", "mae": "mae", "random": "random_init"}
SIZE_ORDER = ("vit_tiny", "vit_small", "vit_base", "vit_large", "vit_huge")
MOST = 0.75  # share of a depth window that must agree
MIN_SEEDS = 2  # a verdict needs at least this many seeds of every model it compares

# The smallest differences that count, as floors: (absolute, relative to the larger magnitude).
# Attention distance scales with the image, hence relative; probes are top-1 %; Fourier Δ is in log
# amplitude; our own shape/noise tests score a probe on ~100-400 images (a standard error of 3-5 points).
# The margin actually used is the larger of the floor and two measured spreads (:func:`margins`): how far
# apart random initialisations of one architecture are, and how far apart seeds of one recipe are.
MARGINS: dict[str, tuple[float, float]] = {
    "attention_distance": (0.0, 0.05), "attention_entropy": (0.02, 0.0), "nmi": (0.02, 0.0),
    "query_jsd": (0.01, 0.0), "head_jsd": (0.01, 0.0), "fourier_delta": (0.05, 0.0),
    "decoder_fourier_delta": (0.05, 0.0), "silhouette": (0.02, 0.0), "unison": (0.02, 0.0),
    "linear_probe": (2.0, 0.0), "fine_tune": (0.3, 0.0), "fine_tune_by_size": (0.3, 0.0),
    "coco_ap_box": (0.5, 0.0), "shape_bias": (0.05, 0.0), "noise_accuracy": (0.03, 0.0),
}


def margin(key: str, a: float, b: float, table: dict | None = None) -> float:
    """The smallest difference between ``a`` and ``b`` that counts for metric ``key`` (``table``: the
    margins in use, :func:`margins`; the floors :data:`MARGINS` by default)."""
    absolute, relative = (table or MARGINS)[key]
    return absolute + relative * max(abs(a), abs(b))


def beats(key: str, higher: float, lower: float, table: dict | None = None) -> bool:
    """``higher`` > ``lower`` by more than the margin of ``key`` (a tie never counts)."""
    return higher - lower > margin(key, higher, lower, table)


@dataclass
class ClaimResult:
    """One row of the scoreboard."""

    id: int
    claim: str
    status: str  # one of STATUSES
    values: dict = field(default_factory=dict)  # JSON-serialisable numbers behind the verdict
    detail: str = ""
    pairs: list = field(default_factory=list)  # the verdict of each pairing of seeds

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    def to_dict(self) -> dict:
        return asdict(self)


class NotMeasured(Exception):
    """Raised inside a check when a metric it needs is missing or unusable."""


# --------------------------------------------------------------------------- helpers


def _role(results: dict, role: str) -> str:
    return {**DEFAULT_ROLES, **results.get("roles", {})}[role]


def _model(results: dict, role: str) -> dict:
    name = _role(results, role)
    models = results.get("models", {})
    if name not in models:
        raise NotMeasured(f"no results for the {role.upper()} model {name!r}")
    return models[name]


# What a missing metric is, in words, and where it would come from (the "not measured" rows say it).
MISSING = {
    "fine_tune": "fine-tuning accuracy (chapter 5 measures it; reproduce does not)",
    "fine_tune_by_size": "fine-tuning accuracy at several model sizes (needs ViT-S/B runs, a GPU)",
    "coco_ap_box": "COCO detection AP (outside this book's scope)",
    "shape_bias": "cue-conflict shape bias (chapter 6 measures it; reproduce does not)",
    "noise_accuracy": "accuracy under band-limited noise (chapter 6 measures it; reproduce does not)",
}


def _metric(results: dict, role: str, key: str):
    model = _model(results, role)
    if key not in model or model[key] is None:
        raise NotMeasured(f"{_role(results, role)}: no {MISSING.get(key, repr(key))}")
    return model[key]


def _number(x, what: str) -> float:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        raise NotMeasured(f"{what} is missing or NaN")
    return float(x)


def _curve(results: dict, role: str, key: str) -> list[float]:
    """A per-depth curve; per-head lists are averaged over heads."""
    raw = _metric(results, role, key)
    if len(raw) == 0:
        raise NotMeasured(f"{_role(results, role)!r} has an empty {key!r}")
    curve = [sum(v) / len(v) if isinstance(v, (list, tuple)) else v for v in raw]
    return [_number(v, f"{_role(results, role)}.{key}") for v in curve]


def _head_min(results: dict, role: str, key: str) -> list[float]:
    raw = _metric(results, role, key)
    if not raw or not all(isinstance(v, (list, tuple)) and v for v in raw):
        raise NotMeasured(f"{_role(results, role)!r} {key!r} is not per head")
    return [min(_number(x, key) for x in v) for v in raw]


def _pair(results: dict, key: str, reduce: Callable = _curve) -> tuple[list[float], list[float]]:
    cl, mim = reduce(results, "cl", key), reduce(results, "mim", key)
    if len(cl) != len(mim):
        raise NotMeasured(f"{key!r}: CL has {len(cl)} depths but MIM has {len(mim)}; compare equal-depth models")
    return cl, mim


def late_blocks(num_blocks: int, first_of_12: int) -> list[int]:
    """1-based blocks first..L of an L-block model matching the paper's blocks first..12."""
    if num_blocks < 1:
        raise ValueError(f"num_blocks must be ≥ 1, got {num_blocks}")
    first = max(1, min(num_blocks, math.ceil(first_of_12 * num_blocks / 12)))
    return list(range(first, num_blocks + 1))


def _needed(n: int, share: float = MOST) -> int:
    return math.ceil(share * n - 1e-9)


def _rounded(xs: Sequence[float]) -> list[float]:
    return [round(x, 4) for x in xs]


def _margins(r: dict) -> dict:
    return r.get("margins") or MARGINS


def _beats(r: dict, key: str, higher: float, lower: float) -> bool:
    return beats(key, higher, lower, _margins(r))


def _mtext(r: dict, key: str) -> str:
    """The margin of ``key`` in use, as text ("5 %", "0.031")."""
    absolute, relative = _margins(r)[key]
    return f"{relative:.0%}" if relative else f"{absolute:.3g}"


def _window_order(
    r: dict, key: str, higher: list[float], lower: list[float], window: list[int], offset: int, share: float = MOST
) -> tuple[bool | None, dict, int, int]:
    """Does ``higher`` beat ``lower`` (by the margin of ``key``) at ≥ share of the 1-based window?

    True when it does, False when ``lower`` wins or ties at so many depths that it cannot, None
    (inconclusive) when the depths it misses are ties. offset = index of depth 1 in the lists.
    """
    idx = [d - 1 + offset for d in window]
    wins = sum(_beats(r, key, higher[i], lower[i]) for i in idx)
    losses = sum(_beats(r, key, lower[i], higher[i]) for i in idx)
    need = _needed(len(window), share)
    values = {"window": window, "higher": _rounded([higher[i] for i in idx]), "lower": _rounded([lower[i] for i in idx])}
    ok = True if wins >= need else (False if len(window) - losses < need else None)
    return ok, values, wins, need


def _span(window: list[int]) -> str:
    return f"{window[0]}–{window[-1]}" if len(window) > 1 else f"{window[0]}"


def _result(ok: bool | None) -> str:
    return "inconclusive" if ok is None else ("holds" if ok else "fails")


def _compare(r: dict, key: str, higher: float, lower: float) -> bool | None:
    """True if ``higher`` beats ``lower``, False if ``lower`` beats it, None for a tie within the margin."""
    return True if _beats(r, key, higher, lower) else (False if _beats(r, key, lower, higher) else None)


def _all(*oks: bool | None) -> bool | None:
    """Conjunction of three-valued outcomes: False if any fails, else None if any is a tie."""
    return False if False in oks else (None if None in oks else True)


# --------------------------------------------------------------------------- the 19 checks


def _c1_attention_distance(r):
    cl, mim = _pair(r, "attention_distance")
    window = late_blocks(len(cl), 9)
    ok, v, wins, need = _window_order(r, "attention_distance", cl, mim, window, offset=0)
    values = {"blocks": window, "cl_px": v["higher"], "mim_px": v["lower"], "wins": wins, "needed": need}
    return ok, values, f"AD(CL) > AD(MIM) + {_mtext(r, 'attention_distance')} at {wins}/{len(window)} of blocks {_span(window)} (need {need})"


def _c2_local_heads(r):
    cl, mim = _pair(r, "attention_distance", _head_min)
    window = late_blocks(len(cl), 8)
    ok, v, wins, need = _window_order(r, "attention_distance", cl, mim, window, offset=0)
    values = {"blocks": window, "cl_min_head_px": v["higher"], "mim_min_head_px": v["lower"], "wins": wins, "needed": need}
    return ok, values, (f"min-head AD(MIM) < min-head AD(CL) − {_mtext(r, 'attention_distance')} at {wins}/{len(window)} of blocks {_span(window)} "
                        f"(need {need})")


def _c3_nmi(r):
    cl, mim = _pair(r, "nmi")
    window = late_blocks(len(cl), 9)
    ok, v, wins, need = _window_order(r, "nmi", mim, cl, window, offset=0)
    values = {"blocks": window, "cl_nmi": v["lower"], "mim_nmi": v["higher"], "wins": wins, "needed": need}
    return ok, values, f"NMI(CL) < NMI(MIM) − {_mtext(r, 'nmi')} at {wins}/{len(window)} of blocks {_span(window)} (need {need})"


def _c4_collapse_grows(r):
    cl, mim = _pair(r, "nmi")
    peak = max(range(len(cl)), key=cl.__getitem__)
    cl_ratio = cl[-1] / cl[peak] if cl[peak] > 0 else 1.0
    mim_ratio = mim[-1] / max(mim) if max(mim) > 0 else 1.0
    # a real fall (beyond the noise floor, so the peak is real and before the last block) to at most
    # half the peak, and a larger relative fall than MIM's
    falls = cl_ratio <= 0.5 and _beats(r, "nmi", cl[peak], cl[-1])
    ok = falls and mim_ratio > cl_ratio
    values = {
        "cl_peak_block": peak + 1,
        "cl_peak": round(cl[peak], 4),
        "cl_last": round(cl[-1], 4),
        "cl_last_over_peak": round(cl_ratio, 4),
        "mim_last_over_peak": round(mim_ratio, 4),
    }
    detail = (
        f"CL NMI peaks at block {peak + 1} ({cl[peak]:.3f}) and falls to {cl_ratio:.2f}× its peak by block {len(cl)} "
        f"(need a fall > {_mtext(r, 'nmi')} to ≤ 0.5× and below MIM's {mim_ratio:.2f}×)"
    )
    return ok, values, detail


def _c5_homogeneity(r):
    cl, mim = _pair(r, "query_jsd")
    cl_h, mim_h = _pair(r, "head_jsd")
    window = late_blocks(len(cl), 9)
    ok, v, wins, need = _window_order(r, "query_jsd", mim, cl, window, offset=0)
    ok_h, v_h, wins_h, need_h = _window_order(r, "head_jsd", mim_h, cl_h, window, offset=0)
    values = {"blocks": window, "cl_query_jsd": v["lower"], "mim_query_jsd": v["higher"], "wins": wins, "needed": need,
              "cl_head_jsd": v_h["lower"], "mim_head_jsd": v_h["higher"], "head_wins": wins_h}
    detail = (f"query JSD(CL) < JSD(MIM) − {_mtext(r, 'query_jsd')} at {wins}/{len(window)} of blocks {_span(window)} "
              f"(need {need}); per-query head JSD(CL) < JSD(MIM) − {_mtext(r, 'head_jsd')} at {wins_h}/{len(window)} "
              f"(need {need_h})")
    return _all(ok, ok_h), values, detail


def _c6_low_frequency(r):
    cl, mim = _pair(r, "fourier_delta")
    depths = list(range(1, len(cl)))
    if not depths:
        raise NotMeasured("fourier_delta needs depths 0..L with L ≥ 1")
    ok, v, wins, need = _window_order(r, "fourier_delta", mim, cl, depths, offset=1, share=10 / 12)
    early = depths[: max(1, math.ceil(len(depths) / 4))]
    gap = sum(mim[d] - cl[d] for d in early) / len(early)
    values = {"depths": depths, "cl_delta": v["lower"], "mim_delta": v["higher"], "wins": wins, "needed": need,
              "early_gap": round(gap, 4)}
    detail = (
        f"Δ(CL) < Δ(MIM) − {_mtext(r, 'fourier_delta')} at {wins}/{len(depths)} of depths 1–{depths[-1]} (need {need}); "
        f"mean gap at depths {_span(early)}: {gap:.2f} (paper ≈ 1.0)"
    )
    return ok, values, detail


def _c7_mim_decoder_layers(r):
    mim = _curve(r, "mim", "fourier_delta")
    cl = _curve(r, "cl", "fourier_delta")
    if len(mim) < 3 or len(cl) < 3:
        raise NotMeasured("need at least two blocks of fourier_delta for MIM and CL")
    drop, cl_drop = mim[-1] - mim[-2], cl[-1] - cl[-2]
    # MIM's last block lowers Δ (low-pass), and more than CL's last block does: a drop both share is
    # not a decoder-like role of MIM's last layers
    ok = _all(_compare(r, "fourier_delta", 0.0, drop), _compare(r, "fourier_delta", cl_drop, drop))
    values = {"mim_last_step": round(drop, 4), "cl_last_step": round(cl_drop, 4)}
    detail = f"Δ_MIM(L) − Δ_MIM(L−1) = {drop:+.3f} (paper ≈ −0.2; need < −{_mtext(r, 'fourier_delta')} and below CL's {cl_drop:+.3f} by as much)"
    return ok, values, detail


def _c8_image_clusters(r):
    cl, mim = _pair(r, "silhouette")
    if len(cl) < 2:
        raise NotMeasured("silhouette needs depths 0..L with L ≥ 1")
    window = late_blocks(len(cl) - 1, 9)
    ok, v, wins, need = _window_order(r, "silhouette", cl, mim, window, offset=1)
    values = {"depths": window, "cl_silhouette": v["higher"], "mim_silhouette": v["lower"], "wins": wins, "needed": need}
    return ok, values, (f"image-ID silhouette CL > MIM + {_mtext(r, 'silhouette')} at {wins}/{len(window)} of depths {_span(window)} "
                        f"(need {need})")


def _c9_linear_probe(r):
    cl, mim = _pair(r, "linear_probe")
    values = {"cl_last": round(cl[-1], 2), "mim_last": round(mim[-1], 2), "mim_best": round(max(mim), 2)}
    return (_compare(r, "linear_probe", cl[-1], mim[-1]), values,
            f"last-block LP: CL {cl[-1]:.1f} vs MIM {mim[-1]:.1f} (need CL ahead by > {_mtext(r, 'linear_probe')} points; MIM best block {max(mim):.1f})")


def _c10_which_layers(r):
    cl, mim = _pair(r, "linear_probe")
    num = len(cl)
    if num < 2:
        raise NotMeasured("per-block linear probes need at least 2 blocks")
    cl_best = max(range(num), key=lambda i: (cl[i], i)) + 1
    mim_best = max(range(num), key=lambda i: (mim[i], -i)) + 1
    early = list(range(1, num // 2 + 1))
    ok_early, _, wins, need = _window_order(r, "linear_probe", mim, cl, early, offset=0)
    # CL: the last block is best (no earlier block beats it by the margin); MIM: a real peak before the
    # last block and a real loss of accuracy after it
    lp = _mtext(r, "linear_probe")
    cl_last_best = not any(_beats(r, "linear_probe", x, cl[-1]) for x in cl[:-1])
    mim_peak = _compare(r, "linear_probe", max(mim[:-1]), mim[-1])
    ok = _all(cl_last_best, mim_peak, ok_early)
    values = {"cl_best_block": cl_best, "mim_best_block": mim_best, "mim_peak_to_last": round(max(mim) - mim[-1], 2),
              "early_blocks": early, "early_wins": wins, "needed": need}
    detail = (
        f"best block: CL {cl_best}, MIM {mim_best} of {num} (need no block before CL's last to beat it by > {lp} "
        f"points, and MIM's best before its last to beat the last by > {lp}: {max(mim[:-1]) - mim[-1]:+.1f}); "
        f"LP(MIM) > LP(CL) + {lp} at {wins}/{len(early)} of blocks {_span(early)} (need {need})"
    )
    return ok, values, detail


def _c11_mae_decoder(r):
    encoder = _curve(r, "mae", "fourier_delta")[1:]
    decoder = _curve(r, "mae", "decoder_fourier_delta")
    if not encoder:
        raise NotMeasured("MAE fourier_delta needs depths 0..L with L ≥ 1")
    enc, dec = sum(encoder) / len(encoder), sum(decoder) / len(decoder)
    values = {"encoder_mean": round(enc, 4), "decoder_mean": round(dec, 4)}
    return (_compare(r, "fourier_delta", enc, dec), values,
            f"mean Δ: decoder {dec:.2f} vs encoder depths ≥ 1 {enc:.2f} (need lower by {_mtext(r, 'fourier_delta')}; paper ≈ −3.2 vs −2.3)")


def _c12_ft_vs_lp(r):
    ft_cl = _number(_metric(r, "cl", "fine_tune"), "CL fine_tune")
    ft_mim = _number(_metric(r, "mim", "fine_tune"), "MIM fine_tune")
    cl, mim = _pair(r, "linear_probe")
    ft = True if not _beats(r, "fine_tune", ft_cl, ft_mim) else False  # MIM ≥ CL: CL may not lead by the margin
    ok = _all(ft, _compare(r, "linear_probe", cl[-1], mim[-1]))
    values = {"ft_cl": ft_cl, "ft_mim": ft_mim, "lp_cl": round(cl[-1], 2), "lp_mim": round(mim[-1], 2)}
    return ok, values, (f"FT: MIM {ft_mim:.1f} vs CL {ft_cl:.1f} (need MIM ≥ CL − {_mtext(r, 'fine_tune')}); "
                        f"LP: CL {cl[-1]:.1f} vs MIM {mim[-1]:.1f} (need CL ahead by > {_mtext(r, 'linear_probe')})")


def _c13_scaling(r):
    cl, mim = _metric(r, "cl", "fine_tune_by_size"), _metric(r, "mim", "fine_tune_by_size")
    unknown = sorted((set(cl) | set(mim)) - set(SIZE_ORDER))
    if unknown:
        raise NotMeasured(f"fine_tune_by_size keys {unknown} are unknown; valid: {', '.join(SIZE_ORDER)}")
    sizes = [s for s in SIZE_ORDER if s in cl and s in mim]
    if len(sizes) < 2:
        raise NotMeasured("fine_tune_by_size needs at least two sizes measured for both CL and MIM")
    small, large = sizes[0], sizes[-1]
    ft = {s: (_number(cl[s], "CL FT"), _number(mim[s], "MIM FT")) for s in sizes}
    # the crossing: CL ahead at the smallest size, MIM at least level at the largest
    ok = _all(_compare(r, "fine_tune", *ft[small]), not _beats(r, "fine_tune", *ft[large]))
    values = {"sizes": sizes, "cl": [cl[s] for s in sizes], "mim": [mim[s] for s in sizes],
              "gap_small": round(ft[small][0] - ft[small][1], 2), "gap_large": round(ft[large][0] - ft[large][1], 2)}
    return ok, values, (f"FT CL − MIM: {values['gap_small']:+.1f} at {small} (need > {_mtext(r, 'fine_tune')}), "
                        f"{values['gap_large']:+.1f} at {large} (need ≤ {_mtext(r, 'fine_tune')})")


def _c14_dense(r):
    cl = _number(_metric(r, "cl", "coco_ap_box"), "CL coco_ap_box")
    mim = _number(_metric(r, "mim", "coco_ap_box"), "MIM coco_ap_box")
    return _compare(r, "coco_ap_box", mim, cl), {"cl": cl, "mim": mim}, f"COCO AP^box: MIM {mim:.1f} vs CL {cl:.1f}"


def _c15_hybrid_sweep(r):
    sweep = r.get("hybrid_sweep")
    if not sweep:
        raise NotMeasured("no hybrid_sweep")
    by_lambda = {float(p["lambda"]): p for p in sweep}
    if 0.0 not in by_lambda or 1.0 not in by_lambda or not any(0 < lam < 1 for lam in by_lambda):
        raise NotMeasured("hybrid_sweep needs λ = 0, λ = 1 and at least one λ in between")
    metrics = [m for m in ("linear_probe", "fine_tune") if all(p.get(m) is not None for p in sweep)]
    if not metrics:
        raise NotMeasured("hybrid_sweep has neither linear_probe nor fine_tune at every λ")
    outcome = {
        lam: _all(*(_compare(r, m, p[m], by_lambda[end][m]) for m in metrics for end in (0.0, 1.0)))
        for lam, p in sorted(by_lambda.items()) if 0 < lam < 1
    }
    winners = [lam for lam, ok in outcome.items() if ok]
    ok = True if winners else (None if None in outcome.values() else False)
    values = {"metrics": metrics, "winning_lambdas": winners,
              "points": [{k: p.get(k) for k in ("lambda", *metrics)} for _, p in sorted(by_lambda.items())]}
    missing = {"linear_probe", "fine_tune"} - set(metrics)
    detail = f"λ in (0, 1) beating both λ = 0 and λ = 1 in {' and '.join(metrics)} by the margin: {winners or 'none'}"
    if missing:
        detail += f"; {missing.pop()} not measured"
    return ok, values, detail


def _c16_hybrid_layers(r):
    nmi_h, nmi_mim = _curve(r, "hybrid", "nmi"), _curve(r, "mim", "nmi")
    fd_h, fd_cl, fd_mim = (_curve(r, role, "fourier_delta") for role in ("hybrid", "cl", "mim"))
    if len(nmi_h) != len(nmi_mim) or not len(fd_h) == len(fd_cl) == len(fd_mim):
        raise NotMeasured("hybrid, CL and MIM have different depths")
    if len(fd_h) < 2:
        raise NotMeasured("fourier_delta needs depths 0..L with L ≥ 1")
    late = late_blocks(len(nmi_h), 9)
    num = len(fd_h) - 1
    early = list(range(1, max(1, math.ceil(num / 3)) + 1))
    late_fd = late_blocks(num, 9)

    def mean(xs, depths, offset):
        return sum(xs[d - 1 + offset] for d in depths) / len(depths)

    nmi_ok = _compare(r, "nmi", mean(nmi_mim, late, 0), mean(nmi_h, late, 0))
    early_ok = _compare(r, "fourier_delta", mean(fd_h, early, 1), mean(fd_cl, early, 1))
    late_ok = _compare(r, "fourier_delta", mean(fd_mim, late_fd, 1), mean(fd_h, late_fd, 1))
    values = {
        "late_blocks": late, "nmi_hybrid_late": round(mean(nmi_h, late, 0), 4), "nmi_mim_late": round(mean(nmi_mim, late, 0), 4),
        "early_depths": early, "delta_hybrid_early": round(mean(fd_h, early, 1), 4), "delta_cl_early": round(mean(fd_cl, early, 1), 4),
        "late_depths": late_fd, "delta_hybrid_late": round(mean(fd_h, late_fd, 1), 4), "delta_mim_late": round(mean(fd_mim, late_fd, 1), 4),
    }
    word = {True: "yes", False: "no", None: "within the margin"}
    detail = (f"late NMI hybrid < MIM: {word[nmi_ok]}; early Δ hybrid > CL (MIM-like): {word[early_ok]}; "
              f"late Δ hybrid < MIM (CL-like): {word[late_ok]}")
    return _all(nmi_ok, early_ok, late_ok), values, detail


def _c17_shape_bias(r):
    cl = _number(_metric(r, "cl", "shape_bias"), "CL shape_bias")
    mim = _number(_metric(r, "mim", "shape_bias"), "MIM shape_bias")
    return (_compare(r, "shape_bias", cl, mim), {"cl": cl, "mim": mim},
            f"cue-conflict shape bias (our set): CL {cl:.2f} vs MIM {mim:.2f} (need ahead by > {_mtext(r, 'shape_bias')})")


def _high_f_drop(result: dict, high: list[float]) -> float:
    freqs = [float(f) for f in result["freqs"]]
    drops = [result["accuracy"][freqs.index(f)] - result["clean"] for f in high]
    return sum(drops) / len(drops)


def _c18_noise(r):
    cl, mim = _metric(r, "cl", "noise_accuracy"), _metric(r, "mim", "noise_accuracy")
    for name, res in (("CL", cl), ("MIM", mim)):
        if not {"freqs", "clean", "accuracy"} <= set(res) or len(res["freqs"]) != len(res["accuracy"]):
            raise NotMeasured(f"{name} noise_accuracy needs freqs, clean and one accuracy per freq")
    high = sorted(set(float(f) for f in cl["freqs"]) & set(float(f) for f in mim["freqs"]))
    high = [f for f in high if f > math.pi / 2]
    if not high:
        raise NotMeasured("no common frequency above π/2 rad/px in noise_accuracy")
    drop_cl, drop_mim = _high_f_drop(cl, high), _high_f_drop(mim, high)
    values = {"freqs": high, "cl_delta_acc": round(drop_cl, 4), "mim_delta_acc": round(drop_mim, 4)}
    detail = f"mean Δacc for f > π/2 (our test): CL {drop_cl:+.3f} vs MIM {drop_mim:+.3f}"
    if not _beats(r, "noise_accuracy", 0.0, drop_cl) and not _beats(r, "noise_accuracy", 0.0, drop_mim):
        return None, values, detail + f" (neither model loses more than {_mtext(r, 'noise_accuracy')}: the noise does not affect them)"
    return _compare(r, "noise_accuracy", drop_cl, drop_mim), values, detail + f" (need CL's loss smaller by > {_mtext(r, 'noise_accuracy')})"


def _c19_unison(r):
    cl, mim = _pair(r, "unison")
    window = late_blocks(len(cl), 9)
    ok, v, wins, need = _window_order(r, "unison", cl, mim, window, offset=0)
    values = {"blocks": window, "cl_unison": v["higher"], "mim_unison": v["lower"], "wins": wins, "needed": need}
    return ok, values, f"U(CL) > U(MIM) + {_mtext(r, 'unison')} at {wins}/{len(window)} of blocks {_span(window)} (need {need})"


# --------------------------------------------------------------------------- registry


# Depth windows of a metric list of length n, as list indices: per-block lists hold blocks 1..L at
# indices 0..L−1, per-depth lists (Fourier Δ, silhouette) depths 0..L at indices 0..L.
def _blocks(first_of_12: int) -> Callable[[int], list[int]]:
    return lambda n: [d - 1 for d in late_blocks(n, first_of_12)]


def _depths(first_of_12: int) -> Callable[[int], list[int]]:
    return lambda n: late_blocks(n - 1, first_of_12)


def _every_depth_after_0(n: int) -> list[int]:
    return list(range(1, n))


def _last_two(n: int) -> list[int]:
    return list(range(max(0, n - 2), n))


def _last(n: int) -> list[int]:
    return [n - 1]


def _whole(n: int) -> list[int]:
    return list(range(n))


@dataclass(frozen=True)
class Compared:
    """What a claim compares for one model: metric ``key`` of the ``role`` model, per depth reduced over
    heads by ``heads`` ("mean" or "min"), in the depth ``window`` (list indices, given the list's length)."""

    role: str
    key: str
    window: Callable[[int], list[int]] = _whole
    heads: str = "mean"


@dataclass(frozen=True)
class Claim:
    """One claim of the paper: the claim, how we measure it, and what the paper expects.

    ``compared`` lists the quantities the check compares; each must differ from every random-init
    encoder in its window (:func:`untrained`), or the claim is "inconclusive".
    """

    id: int
    claim: str
    metric: str
    expected: str
    figure: str
    check: Callable[[dict], tuple[bool | None, dict, str]]
    compared: tuple[Compared, ...] = ()

    @property
    def roles(self) -> tuple[str, ...]:
        """The models the claim is about (in the order of ``compared``)."""
        return tuple(dict.fromkeys(c.role for c in self.compared))


def _both(key: str, window: Callable[[int], list[int]] = _whole, heads: str = "mean") -> tuple[Compared, ...]:
    return Compared("cl", key, window, heads), Compared("mim", key, window, heads)


CLAIMS: tuple[Claim, ...] = (
    Claim(1, "CL attends globally, MIM locally, especially in later layers",
          "mean attention distance, mean over heads, blocks 9–12", "AD(CL) > AD(MIM); MoCo ≈ 96–114 px", "≈Fig 3",
          _c1_attention_distance, _both("attention_distance", _blocks(9))),
    Claim(2, "MIM keeps some local heads in every layer; CL heads are all global late",
          "min-head attention distance, blocks 8–12", "min-head AD(MIM) ≪ min-head AD(CL)", "≈Fig 3 (inferred)",
          _c2_local_heads, _both("attention_distance", _blocks(8), "min")),
    Claim(3, "CL self-attention collapses into homogeneity across queries",
          "NMI(query; key), blocks 9–12", "NMI(CL) < NMI(MIM); MoCo ≈ 0.09 → 0.01", "≈Fig 4/5", _c3_nmi,
          _both("nmi", _blocks(9))),
    Claim(4, "Collapse grows with depth in CL",
          "NMI profile over depth", "MoCo peaks early (≈0.32, block 3), decays to ≈0.01; MIM does not", "≈Fig 4/5",
          _c4_collapse_grows, _both("nmi")),
    Claim(5, "CL maps are the same for different queries and heads",
          "mean pairwise JSD between query rows, and between heads query by query [ours]",
          "JSD(CL) < JSD(MIM) in later blocks", "Fig 2", _c5_homogeneity,
          _both("query_jsd", _blocks(9)) + _both("head_jsd", _blocks(9))),
    Claim(6, "CL uses low frequencies, MIM high frequencies",
          "Δ log amplitude at the last bin, depths 1..L", "Δ(CL) < Δ(MIM); gap ≈ 1.0 at depths 1–3", "Fig 8/9",
          _c6_low_frequency, _both("fourier_delta", _every_depth_after_0)),
    Claim(7, "MIM's last layers act like a decoder (low-pass)",
          "Δ(L) − Δ(L−1) for MIM", "negative, ≈ −0.2", "Fig 8/9, 11", _c7_mim_decoder_layers,
          (Compared("mim", "fourier_delta", _last_two), Compared("cl", "fourier_delta", _last_two))),
    Claim(8, "CL tokens cluster per image, MIM tokens intermingle",
          "image-ID silhouette of tokens [ours], later depths", "silhouette(CL) > silhouette(MIM)", "Fig E.2",
          _c8_image_clusters, _both("silhouette", _depths(9))),
    Claim(9, "CL is linearly separable at image level",
          "linear probe, last block", "LP(CL) > LP(MIM): 76.7 vs ≈45 (last) / 56.7 (best)", "Fig 1, 10",
          _c9_linear_probe, _both("linear_probe", _last)),
    Claim(10, "Later layers matter for CL, early layers for MIM",
          "per-block linear probe", "best block: CL last, MIM ≈7–8; LP(MIM) > LP(CL) early", "Fig 10",
          _c10_which_layers, _both("linear_probe")),
    Claim(11, "MAE's explicit decoder takes over the low-pass decoder role",
          "Δ log amplitude over MAE encoder and decoder", "decoder ≈ −3.0…−3.45 ≪ encoder ≈ −2.1…−2.4", "Fig 11",
          _c11_mae_decoder, (Compared("mae", "fourier_delta", _every_depth_after_0),)),
    Claim(12, "MIM fine-tunes better, CL probes better",
          "fine-tuning vs linear probing", "FT: MIM ≥ CL (83.8 vs 83.2); LP: CL ≫ MIM", "Fig 1", _c12_ft_vs_lp,
          _both("linear_probe", _last) + _both("fine_tune")),
    Claim(13, "MIM scales better with model size",
          "fine-tuning vs model size", "CL > MIM at Ti/S, MIM ≥ CL at B and above", "Fig 1", _c13_scaling,
          _both("fine_tune_by_size")),
    Claim(14, "MIM is better for dense prediction",
          "COCO AP^box (Mask R-CNN)", "MIM > CL: 50.3 / 49.8 vs 47.9", "Fig 1", _c14_dense, _both("coco_ap_box")),
    Claim(15, "CL and MIM are complementary",
          "hybrid λ sweep, LP and FT", "λ = 0.2 beats λ = 0 and λ = 1 in both", "Fig 12", _c15_hybrid_sweep,
          (Compared("hybrid", "linear_probe", _last),)),
    Claim(16, "Hybrid: early layers MIM-like, late layers CL-like",
          "NMI and Δ log amplitude per depth for the hybrid", "late NMI drops; Δ higher early, lower late", "Fig 12",
          _c16_hybrid_layers,
          (Compared("hybrid", "nmi", _blocks(9)), Compared("hybrid", "fourier_delta", _every_depth_after_0),
           Compared("mim", "nmi", _blocks(9)), Compared("cl", "fourier_delta", _every_depth_after_0),
           Compared("mim", "fourier_delta", _every_depth_after_0))),
    Claim(17, "CL is more shape-biased (derived from frequency)",
          "cue-conflict shape bias [ours, our set]", "shape bias(CL) > shape bias(MIM); not verified in the paper",
          "abstract", _c17_shape_bias, _both("shape_bias")),
    Claim(18, "CL is robust to high-frequency perturbations",
          "Δacc under band-limited noise [ours]", "Δacc at high f: CL less negative than MIM; not verified", "README",
          _c18_noise, _both("noise_accuracy")),
    Claim(19, "CL transforms tokens in unison, MIM individually",
          "unison ratio per block [ours]; not independent of claim 3",
          "U(CL) > U(MIM), especially late", "Sec. 3 SVD figure", _c19_unison, _both("unison", _blocks(9))),
)


# --------------------------------------------------------------------------- controls, margins, seeds


def _summary(value, heads: str = "mean") -> list[float]:
    """The numbers of a metric that controls and spreads compare: a per-depth curve (per-head lists reduced
    by ``heads``: "mean" or "min"), a scalar, a size table's values or a noise result's accuracies."""
    if isinstance(value, dict):
        value = [value["clean"], *value["accuracy"]] if "accuracy" in value else [value[k] for k in sorted(value)]
    if not isinstance(value, (list, tuple)):
        value = [value]
    reduce = min if heads == "min" else (lambda v: sum(v) / len(v))
    return [_number(reduce(v) if isinstance(v, (list, tuple)) else v, "a control metric") for v in value]


def _names(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _init_of(results: dict, name: str) -> str | None:
    return results.get("models", {}).get(name, {}).get("init")


def _controls(results: dict, name: str) -> list[str]:
    """The random-init encoders model ``name`` is compared with: those of its initialisation (all when
    the models do not say which), never a model that plays another role."""
    roles = {**DEFAULT_ROLES, **results.get("roles", {})}
    playing = {n for role, v in roles.items() if role != "random" for n in _names(v)}
    controls = [n for n in _names(roles["random"]) if n in results.get("models", {}) and n not in playing]
    init = _init_of(results, name)
    same = [n for n in controls if _init_of(results, n) in (init, None)] if init else controls
    return same


def _gap(a: list[float], b: list[float], window: list[int]) -> float:
    """Mean absolute difference of two curves over the window (list indices)."""
    return sum(abs(a[i] - b[i]) for i in window) / len(window)


def _scale(a: list[float], b: list[float], window: list[int]) -> float:
    return sum(max(abs(a[i]), abs(b[i])) for i in window) / len(window)


def untrained(results: dict, compared: Compared) -> str | None:
    """Why the compared quantity of the ``compared.role`` model is indistinguishable from a random-init
    encoder's (None if it is not): within the margin of any one of the controls, as the mean absolute
    difference over the claim's window. Every control must be told apart, not just one."""
    role, key = compared.role, compared.key
    name = _role(results, role)
    model = _summary(_metric(results, role, key), compared.heads)
    controls = _controls(results, name)
    if not controls:
        raise NotMeasured(f"no random-init control for {key!r} (roles['random'] = {_role(results, 'random')!r})")
    window = compared.window(len(model))
    if not window:
        raise NotMeasured(f"{key!r} has no depth in the claim's window")
    absolute, relative = _margins(results)[key]
    for control in controls:
        values = results["models"][control].get(key)
        if values is None:
            raise NotMeasured(f"the random-init control {control!r} has no {key!r}")
        reference = _summary(values, compared.heads)
        if len(reference) != len(model):
            raise NotMeasured(f"{key!r}: the random-init control has {len(reference)} depths, {role.upper()} {len(model)}")
        gap = _gap(model, reference, window)
        allowed = absolute + relative * _scale(model, reference, window)
        if gap <= allowed:
            where = "" if len(window) == len(model) else f" at list positions {window[0]}–{window[-1]}"
            what = f"{'min-head ' if compared.heads == 'min' else ''}{key.replace('_', ' ')}"
            return (f"{role.upper()}'s {what} ≈ random init ({name} vs {control}: mean gap {gap:.3g} ≤ margin "
                    f"{allowed:.3g}{where})")
    return None


def _pairs(items: list[str]) -> list[tuple[str, str]]:
    return [(a, b) for i, a in enumerate(items) for b in items[i + 1:]]


def spreads(results: dict, roles: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
    """Per metric, the largest init-to-init spread (between random-init encoders of one initialisation) and
    seed-to-seed spread (between seeds of one role's model), each the mean absolute difference over depths
    of the head-mean and of the min-head curves, whichever is larger; relative to the values' magnitude for
    metrics with a relative margin. Metrics with fewer than two measurements read None.

    ``roles`` restricts both to the models a claim compares: the seeds of those roles, and the random inits
    of their initialisations (all roles and all random inits when None)."""
    models = results.get("models", {})
    all_roles = {**DEFAULT_ROLES, **results.get("roles", {})}
    chosen = [r for r in all_roles if r != "random" and (roles is None or r in roles)]
    inits = {_init_of(results, n) for r in chosen for n in _names(all_roles[r]) if n in models}
    randoms = [n for n in _names(all_roles["random"]) if n in models
               and (roles is None or _init_of(results, n) in inits or None in inits)]
    groups: dict = {}
    for n in randoms:
        groups.setdefault(_init_of(results, n), []).append(n)
    init_pairs = [p for group in groups.values() for p in _pairs(group)]
    seed_pairs = [p for r in chosen for p in _pairs([n for n in _names(all_roles[r]) if n in models])]
    out = {}
    for key, (_, relative) in MARGINS.items():
        def spread(pairs):
            found = []
            for a, b in pairs:
                if key not in models[a] or key not in models[b]:
                    continue
                for heads in ("mean", "min"):
                    x, y = _summary(models[a][key], heads), _summary(models[b][key], heads)
                    if len(x) != len(y):
                        continue
                    everything = list(range(len(x)))
                    gap = _gap(x, y, everything)
                    found.append(gap / max(_scale(x, y, everything), 1e-12) if relative else gap)
            return round(max(found), 6) if found else None
        out[key] = {"init_to_init": spread(init_pairs), "seed_to_seed": spread(seed_pairs)}
    return out


def margins(results: dict, roles: Sequence[str] | None = None) -> dict[str, tuple[float, float]]:
    """The margins in use: per metric the floor of :data:`MARGINS`, raised to the larger measured spread
    (:func:`spreads`, of the models of ``roles``) so that no margin is smaller than the noise between random
    inits or between seeds of the models compared."""
    table = {}
    for key, measured in spreads(results, roles).items():
        absolute, relative = MARGINS[key]
        noise = max([v for v in measured.values() if v is not None], default=0.0)
        table[key] = (absolute, max(relative, noise)) if relative else (max(absolute, noise), relative)
    return table


def evaluate(claim: Claim, results: dict) -> ClaimResult:
    """One claim on one model per role (``results["roles"]`` names one model each): its check and its
    random-init controls; missing or unusable metrics give "not measured".

    A claim whose models did not learn what it compares (:attr:`Claim.compared`) is "inconclusive",
    whatever the comparison says; a smoke run's verdicts read "n/a (smoke run)".
    """
    try:
        ok, values, detail = claim.check(results)
        reasons = [why for c in claim.compared if (why := untrained(results, c))]
    except NotMeasured as missing:
        return ClaimResult(claim.id, claim.claim, "not measured", {}, str(missing))
    status = "inconclusive" if reasons else _result(ok)
    if reasons:
        detail += "; inconclusive: " + "; ".join(reasons)
    if claim.id == 19:
        detail += ("; not independent of claim 3: attention that ignores the query moves every token by the "
                   "same vector (U = 1)")
    if str(results.get("provenance", {}).get("preset", "")) == "smoke":
        status, detail = SMOKE, detail + "; smoke-size models say nothing about the paper"
    return ClaimResult(claim.id, claim.claim, status, values, detail)


def _combine(claim: Claim, rows: list[tuple[dict, ClaimResult]], seeds: dict[str, list[str]], min_seeds: int) -> ClaimResult:
    """One verdict from the verdicts of every pairing of seeds."""
    first = rows[0][1]
    statuses = [row.status for _, row in rows]
    pairs = [{**pairing, "status": row.status, "detail": row.detail} for pairing, row in rows]
    few = [role for role, names in seeds.items() if len(names) < min_seeds]
    if "not measured" in statuses:
        bad = rows[statuses.index("not measured")][1]
        return ClaimResult(claim.id, claim.claim, "not measured", {}, bad.detail, pairs)
    if SMOKE in statuses:
        return ClaimResult(claim.id, claim.claim, SMOKE, first.values, first.detail, pairs)
    if len(set(statuses)) == 1:
        status, detail = statuses[0], first.detail
    elif "holds" in statuses:
        status = SEED_DEPENDENT
        detail = "holds for " + ", ".join(_pairing_text(p) for p in pairs if p["status"] == "holds") + "; not for " + \
            ", ".join(f"{_pairing_text(p)} ({p['status']})" for p in pairs if p["status"] != "holds")
    else:
        status = "fails" if set(statuses) == {"fails"} else "inconclusive"
        detail = first.detail
    if len(pairs) > 1 and len(set(statuses)) == 1:
        detail += f" (the same for all {len(pairs)} pairings of seeds)"
    if few and status in ("holds", "fails"):
        status = "inconclusive"
        detail += "; inconclusive: " + ", ".join(f"{seeds[role]!r} is one seed of {role.upper()}" for role in few) + \
            f" (a verdict needs {min_seeds})"
    return ClaimResult(claim.id, claim.claim, status, first.values, detail, pairs)


def _pairing_text(pairing: dict) -> str:
    return " × ".join(v for k, v in pairing.items() if k not in ("status", "detail"))


def scoreboard(results: dict, min_seeds: int = MIN_SEEDS) -> list[ClaimResult]:
    """All 19 claims checked against ``results`` (schema in the module doc).

    A role may name several models (seeds): each claim is checked on every pairing of them, with the margins
    of :func:`margins` for the models it compares (unless ``results["margins"]`` gives them), and holds only
    if it holds for every pairing; a claim whose roles have fewer than ``min_seeds`` seeds cannot hold or
    fail ("inconclusive").
    """
    if not isinstance(results, dict):
        raise ValueError(f"results must be a dict (see sslvit_lite.claims), got {type(results).__name__}")
    roles = {**DEFAULT_ROLES, **results.get("roles", {})}
    unknown_roles = set(roles) - set(DEFAULT_ROLES)
    if unknown_roles:
        raise ValueError(f"unknown roles {sorted(unknown_roles)}; valid: {', '.join(DEFAULT_ROLES)}")
    if min_seeds < 1:
        raise ValueError(f"min_seeds must be ≥ 1, got {min_seeds}")
    out = []
    for claim in CLAIMS:
        table = results.get("margins") or margins(results, claim.roles)
        seeds = {role: _names(roles[role]) for role in claim.roles}
        rows = []
        for combo in itertools.product(*seeds.values()):
            pairing = dict(zip(seeds, combo))
            view = {**results, "roles": {**roles, **pairing}, "margins": table}
            rows.append((pairing, evaluate(claim, view)))
        row = _combine(claim, rows, seeds, min_seeds)
        if row.values:
            row.values["margins"] = {c.key: list(table[c.key]) for c in claim.compared}
        out.append(row)
    return out


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def counts(rows: Sequence[ClaimResult]) -> dict[str, int]:
    """How many claims have each status."""
    return {s: sum(r.status == s for r in rows) for s in STATUSES}


def scoreboard_markdown(results_or_rows: dict | Sequence[ClaimResult]) -> str:
    """The scoreboard as a Markdown table: claim, paper expectation, our status and numbers."""
    rows = scoreboard(results_or_rows) if isinstance(results_or_rows, dict) else list(results_or_rows)
    by_id = {c.id: c for c in CLAIMS}
    lines = ["| # | Claim | Paper expects | Status | Measured |", "|---|---|---|---|---|"]
    for row in rows:
        expected = by_id[row.id].expected if row.id in by_id else ""
        lines.append(f"| {row.id} | {_cell(row.claim)} | {_cell(expected)} | **{row.status}** | {_cell(row.detail)} |")
    n = counts(rows)
    lines.append("")
    lines.append(f"{n['holds']} hold, {n['fails']} fail, {n['inconclusive'] + n[SEED_DEPENDENT]} inconclusive "
                 f"({n[SEED_DEPENDENT]} of them seed-dependent), {n['not measured']} not measured"
                 + (f", {n[SMOKE]} n/a (smoke run)." if n[SMOKE] else "."))
    return "\n".join(lines)
