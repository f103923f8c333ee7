"""The paper's claims as executable checks (paper-spec §5, 19 rows).

Each claim of Park et al. (ICLR 2023) becomes a function of a *results* dict and returns a
:class:`ClaimResult` whose ``status`` is ``"holds"``, ``"fails"`` or ``"not measured"``
(a metric it needs is missing, NaN, or the models' depths differ). CL is the model under
``roles["cl"]`` (MoCo v3), MIM the one under ``roles["mim"]`` (SimMIM).

Results schema (every key optional; a missing key makes only its claims "not measured")::

    {
      "models": {
        "<name>": {                                   # e.g. "mocov3", "simmim", "hybrid", "mae"
          "attention_distance": [[px per head] per block 1..L],
          "nmi":               [[per head] per block 1..L],
          "query_jsd":         [[bits per head] per block 1..L],
          "head_jsd":          [bits per block 1..L],
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
      "roles": {"cl": "mocov3", "mim": "simmim", "hybrid": "hybrid", "mae": "mae"},
      "hybrid_sweep": [{"lambda": λ, "linear_probe": %, "fine_tune": %}, ...],
      "provenance": {...},
    }

The per-model dicts are exactly the ``"metrics"`` written by ``python -m sslvit_lite analyze``
(:mod:`sslvit_lite.analyze`) plus what probes and fine-tuning add.

Depth windows. The paper's statements refer to ViT-B's 12 blocks ("blocks 9–12"); for a
model with L blocks the window starts at block ceil(first · L / 12), e.g. blocks 5–6 of 6.
"At most blocks" statements hold when ≥ 3/4 of the window agrees (the spec's "≥ 3 of blocks
9–12"); the Fourier ordering needs ≥ 10/12 of depths 1..L as the spec suggests.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

STATUSES = ("holds", "fails", "not measured")
DEFAULT_ROLES = {"cl": "mocov3", "mim": "simmim", "hybrid": "hybrid", "mae": "mae"}
SIZE_ORDER = ("vit_tiny", "vit_small", "vit_base", "vit_large", "vit_huge")
MOST = 0.75  # share of a depth window that must agree


@dataclass
class ClaimResult:
    """One row of the scoreboard."""

    id: int
    claim: str
    status: str  # one of STATUSES
    values: dict = field(default_factory=dict)  # JSON-serialisable numbers behind the verdict
    detail: str = ""

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


def _metric(results: dict, role: str, key: str):
    model = _model(results, role)
    if key not in model or model[key] is None:
        raise NotMeasured(f"{_role(results, role)!r} has no {key!r}")
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


def _window_order(
    higher: list[float], lower: list[float], window: list[int], offset: int, share: float = MOST
) -> tuple[bool, dict, int, int]:
    """Does ``higher`` > ``lower`` at ≥ share of the 1-based window? offset = index of depth 1 in the lists."""
    idx = [d - 1 + offset for d in window]
    wins = sum(higher[i] > lower[i] for i in idx)
    need = _needed(len(window), share)
    values = {"window": window, "higher": _rounded([higher[i] for i in idx]), "lower": _rounded([lower[i] for i in idx])}
    return wins >= need, values, wins, need


def _span(window: list[int]) -> str:
    return f"{window[0]}–{window[-1]}" if len(window) > 1 else f"{window[0]}"


def _result(ok: bool) -> str:
    return "holds" if ok else "fails"


# --------------------------------------------------------------------------- the 19 checks


def _c1_attention_distance(r):
    cl, mim = _pair(r, "attention_distance")
    window = late_blocks(len(cl), 9)
    ok, v, wins, need = _window_order(cl, mim, window, offset=0)
    values = {"blocks": window, "cl_px": v["higher"], "mim_px": v["lower"], "wins": wins, "needed": need}
    return ok, values, f"AD(CL) > AD(MIM) at {wins}/{len(window)} of blocks {_span(window)} (need {need})"


def _c2_local_heads(r):
    cl, mim = _pair(r, "attention_distance", _head_min)
    window = late_blocks(len(cl), 8)
    ok, v, wins, need = _window_order(cl, mim, window, offset=0)
    values = {"blocks": window, "cl_min_head_px": v["higher"], "mim_min_head_px": v["lower"], "wins": wins, "needed": need}
    return ok, values, f"min-head AD(MIM) < min-head AD(CL) at {wins}/{len(window)} of blocks {_span(window)} (need {need})"


def _c3_nmi(r):
    cl, mim = _pair(r, "nmi")
    window = late_blocks(len(cl), 9)
    ok, v, wins, need = _window_order(mim, cl, window, offset=0)
    values = {"blocks": window, "cl_nmi": v["lower"], "mim_nmi": v["higher"], "wins": wins, "needed": need}
    return ok, values, f"NMI(CL) < NMI(MIM) at {wins}/{len(window)} of blocks {_span(window)} (need {need})"


def _c4_collapse_grows(r):
    cl, mim = _pair(r, "nmi")
    peak = max(range(len(cl)), key=cl.__getitem__)
    cl_ratio = cl[-1] / cl[peak] if cl[peak] > 0 else 1.0
    mim_ratio = mim[-1] / max(mim) if max(mim) > 0 else 1.0
    ok = peak < len(cl) - 1 and cl_ratio <= 0.5 and mim_ratio > cl_ratio
    values = {
        "cl_peak_block": peak + 1,
        "cl_peak": round(cl[peak], 4),
        "cl_last": round(cl[-1], 4),
        "cl_last_over_peak": round(cl_ratio, 4),
        "mim_last_over_peak": round(mim_ratio, 4),
    }
    detail = (
        f"CL NMI peaks at block {peak + 1} and falls to {cl_ratio:.2f}× its peak by block {len(cl)} "
        f"(need ≤ 0.5 and below MIM's {mim_ratio:.2f}×)"
    )
    return ok, values, detail


def _c5_homogeneity(r):
    cl, mim = _pair(r, "query_jsd")
    window = late_blocks(len(cl), 9)
    ok, v, wins, need = _window_order(mim, cl, window, offset=0)
    values = {"blocks": window, "cl_query_jsd": v["lower"], "mim_query_jsd": v["higher"], "wins": wins, "needed": need}
    detail = f"query JSD(CL) < JSD(MIM) at {wins}/{len(window)} of blocks {_span(window)} (need {need})"
    try:
        cl_h, mim_h = _pair(r, "head_jsd")
    except NotMeasured:
        return ok, values, detail + "; head JSD not measured"
    ok_h, v_h, wins_h, need_h = _window_order(mim_h, cl_h, window, offset=0)
    values.update({"cl_head_jsd": v_h["lower"], "mim_head_jsd": v_h["higher"], "head_wins": wins_h})
    return ok and ok_h, values, detail + f"; head JSD(CL) < JSD(MIM) at {wins_h}/{len(window)} (need {need_h})"


def _c6_low_frequency(r):
    cl, mim = _pair(r, "fourier_delta")
    depths = list(range(1, len(cl)))
    if not depths:
        raise NotMeasured("fourier_delta needs depths 0..L with L ≥ 1")
    ok, v, wins, need = _window_order(mim, cl, depths, offset=1, share=10 / 12)
    early = depths[: max(1, math.ceil(len(depths) / 4))]
    gap = sum(mim[d] - cl[d] for d in early) / len(early)
    values = {"depths": depths, "cl_delta": v["lower"], "mim_delta": v["higher"], "wins": wins, "needed": need,
              "early_gap": round(gap, 4)}
    detail = (
        f"Δ(CL) < Δ(MIM) at {wins}/{len(depths)} of depths 1–{depths[-1]} (need {need}); "
        f"mean gap at depths {_span(early)}: {gap:.2f} (paper ≈ 1.0)"
    )
    return ok, values, detail


def _c7_mim_decoder_layers(r):
    mim = _curve(r, "mim", "fourier_delta")
    if len(mim) < 3:
        raise NotMeasured("need at least two blocks of fourier_delta for MIM")
    drop = mim[-1] - mim[-2]
    values = {"mim_last_step": round(drop, 4)}
    detail = f"Δ_MIM(L) − Δ_MIM(L−1) = {drop:+.3f} (paper ≈ −0.2)"
    try:
        cl = _curve(r, "cl", "fourier_delta")
        values["cl_last_step"] = round(cl[-1] - cl[-2], 4)
        detail += f"; CL: {cl[-1] - cl[-2]:+.3f}"
    except NotMeasured:
        pass
    return drop < 0, values, detail


def _c8_image_clusters(r):
    cl, mim = _pair(r, "silhouette")
    if len(cl) < 2:
        raise NotMeasured("silhouette needs depths 0..L with L ≥ 1")
    window = late_blocks(len(cl) - 1, 9)
    ok, v, wins, need = _window_order(cl, mim, window, offset=1)
    values = {"depths": window, "cl_silhouette": v["higher"], "mim_silhouette": v["lower"], "wins": wins, "needed": need}
    return ok, values, f"image-ID silhouette CL > MIM at {wins}/{len(window)} of depths {_span(window)} (need {need})"


def _c9_linear_probe(r):
    cl, mim = _pair(r, "linear_probe")
    values = {"cl_last": round(cl[-1], 2), "mim_last": round(mim[-1], 2), "mim_best": round(max(mim), 2)}
    return cl[-1] > mim[-1], values, f"last-block LP: CL {cl[-1]:.1f} vs MIM {mim[-1]:.1f} (MIM best block {max(mim):.1f})"


def _c10_which_layers(r):
    cl, mim = _pair(r, "linear_probe")
    num = len(cl)
    if num < 2:
        raise NotMeasured("per-block linear probes need at least 2 blocks")
    cl_best = max(range(num), key=lambda i: (cl[i], i)) + 1
    mim_best = max(range(num), key=lambda i: (mim[i], -i)) + 1
    early = list(range(1, num // 2 + 1))
    ok_early, _, wins, need = _window_order(mim, cl, early, offset=0)
    ok = cl_best == num and mim_best < num and ok_early
    values = {"cl_best_block": cl_best, "mim_best_block": mim_best, "mim_peak_to_last": round(max(mim) - mim[-1], 2),
              "early_blocks": early, "early_wins": wins, "needed": need}
    detail = (
        f"best block: CL {cl_best}, MIM {mim_best} of {num} (need CL = {num}, MIM < {num}); "
        f"LP(MIM) > LP(CL) at {wins}/{len(early)} of blocks {_span(early)} (need {need})"
    )
    return ok, values, detail


def _c11_mae_decoder(r):
    encoder = _curve(r, "mae", "fourier_delta")[1:]
    decoder = _curve(r, "mae", "decoder_fourier_delta")
    if not encoder:
        raise NotMeasured("MAE fourier_delta needs depths 0..L with L ≥ 1")
    enc, dec = sum(encoder) / len(encoder), sum(decoder) / len(decoder)
    values = {"encoder_mean": round(enc, 4), "decoder_mean": round(dec, 4)}
    return dec < enc, values, f"mean Δ: decoder {dec:.2f} vs encoder depths ≥ 1 {enc:.2f} (paper ≈ −3.2 vs −2.3)"


def _c12_ft_vs_lp(r):
    ft_cl = _number(_metric(r, "cl", "fine_tune"), "CL fine_tune")
    ft_mim = _number(_metric(r, "mim", "fine_tune"), "MIM fine_tune")
    cl, mim = _pair(r, "linear_probe")
    ok = ft_mim >= ft_cl and cl[-1] > mim[-1]
    values = {"ft_cl": ft_cl, "ft_mim": ft_mim, "lp_cl": round(cl[-1], 2), "lp_mim": round(mim[-1], 2)}
    return ok, values, f"FT: MIM {ft_mim:.1f} vs CL {ft_cl:.1f} (need MIM ≥ CL); LP: CL {cl[-1]:.1f} vs MIM {mim[-1]:.1f}"


def _c13_scaling(r):
    cl, mim = _metric(r, "cl", "fine_tune_by_size"), _metric(r, "mim", "fine_tune_by_size")
    unknown = sorted((set(cl) | set(mim)) - set(SIZE_ORDER))
    if unknown:
        raise ValueError(f"fine_tune_by_size keys {unknown} unknown; valid: {', '.join(SIZE_ORDER)}")
    sizes = [s for s in SIZE_ORDER if s in cl and s in mim]
    if len(sizes) < 2:
        raise NotMeasured("fine_tune_by_size needs at least two sizes measured for both CL and MIM")
    small, large = sizes[0], sizes[-1]
    gain_cl = _number(cl[large], "CL FT") - _number(cl[small], "CL FT")
    gain_mim = _number(mim[large], "MIM FT") - _number(mim[small], "MIM FT")
    values = {"sizes": sizes, "cl": [cl[s] for s in sizes], "mim": [mim[s] for s in sizes],
              "gain_cl": round(gain_cl, 2), "gain_mim": round(gain_mim, 2)}
    return gain_mim > gain_cl, values, f"FT gain {small} → {large}: MIM {gain_mim:+.1f} vs CL {gain_cl:+.1f}"


def _c14_dense(r):
    cl = _number(_metric(r, "cl", "coco_ap_box"), "CL coco_ap_box")
    mim = _number(_metric(r, "mim", "coco_ap_box"), "MIM coco_ap_box")
    return mim > cl, {"cl": cl, "mim": mim}, f"COCO AP^box: MIM {mim:.1f} vs CL {cl:.1f}"


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
    winners = [
        lam for lam, p in sorted(by_lambda.items())
        if 0 < lam < 1 and all(p[m] > by_lambda[0.0][m] and p[m] > by_lambda[1.0][m] for m in metrics)
    ]
    values = {"metrics": metrics, "winning_lambdas": winners,
              "points": [{k: p.get(k) for k in ("lambda", *metrics)} for _, p in sorted(by_lambda.items())]}
    missing = {"linear_probe", "fine_tune"} - set(metrics)
    detail = f"λ in (0, 1) beating both λ = 0 and λ = 1 in {' and '.join(metrics)}: {winners or 'none'}"
    if missing:
        detail += f"; {missing.pop()} not measured"
    return bool(winners), values, detail


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

    nmi_ok = mean(nmi_h, late, 0) < mean(nmi_mim, late, 0)
    early_ok = mean(fd_h, early, 1) > mean(fd_cl, early, 1)
    late_ok = mean(fd_h, late_fd, 1) < mean(fd_mim, late_fd, 1)
    values = {
        "late_blocks": late, "nmi_hybrid_late": round(mean(nmi_h, late, 0), 4), "nmi_mim_late": round(mean(nmi_mim, late, 0), 4),
        "early_depths": early, "delta_hybrid_early": round(mean(fd_h, early, 1), 4), "delta_cl_early": round(mean(fd_cl, early, 1), 4),
        "late_depths": late_fd, "delta_hybrid_late": round(mean(fd_h, late_fd, 1), 4), "delta_mim_late": round(mean(fd_mim, late_fd, 1), 4),
    }
    detail = (
        f"late NMI hybrid < MIM: {nmi_ok}; early Δ hybrid > CL (MIM-like): {early_ok}; "
        f"late Δ hybrid < MIM (CL-like): {late_ok}"
    )
    return nmi_ok and early_ok and late_ok, values, detail


def _c17_shape_bias(r):
    cl = _number(_metric(r, "cl", "shape_bias"), "CL shape_bias")
    mim = _number(_metric(r, "mim", "shape_bias"), "MIM shape_bias")
    return cl > mim, {"cl": cl, "mim": mim}, f"cue-conflict shape bias (our set): CL {cl:.2f} vs MIM {mim:.2f}"


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
    return drop_cl > drop_mim, values, detail


def _c19_unison(r):
    cl, mim = _pair(r, "unison")
    window = late_blocks(len(cl), 9)
    ok, v, wins, need = _window_order(cl, mim, window, offset=0)
    values = {"blocks": window, "cl_unison": v["higher"], "mim_unison": v["lower"], "wins": wins, "needed": need}
    return ok, values, f"U(CL) > U(MIM) at {wins}/{len(window)} of blocks {_span(window)} (need {need})"


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Claim:
    """A row of paper-spec §5: the claim, how we measure it, and what the paper expects."""

    id: int
    claim: str
    metric: str
    expected: str
    figure: str
    check: Callable[[dict], tuple[bool, dict, str]]


CLAIMS: tuple[Claim, ...] = (
    Claim(1, "CL attends globally, MIM locally, especially in later layers",
          "mean attention distance, mean over heads, blocks 9–12", "AD(CL) > AD(MIM); MoCo ≈ 96–114 px", "≈Fig 3", _c1_attention_distance),
    Claim(2, "MIM keeps some local heads in every layer; CL heads are all global late",
          "min-head attention distance, blocks 8–12", "min-head AD(MIM) ≪ min-head AD(CL)", "≈Fig 3 (inferred)", _c2_local_heads),
    Claim(3, "CL self-attention collapses into homogeneity across queries",
          "NMI(query; key), blocks 9–12", "NMI(CL) < NMI(MIM); MoCo ≈ 0.09 → 0.01", "≈Fig 4/5", _c3_nmi),
    Claim(4, "Collapse grows with depth in CL",
          "NMI profile over depth", "MoCo peaks early (≈0.32, block 3), decays to ≈0.01; MIM does not", "≈Fig 4/5", _c4_collapse_grows),
    Claim(5, "CL maps are the same for different queries and heads",
          "mean pairwise JSD between query rows (and heads) [SUGGESTED]", "JSD(CL) < JSD(MIM) in later blocks", "Fig 2", _c5_homogeneity),
    Claim(6, "CL uses low frequencies, MIM high frequencies",
          "Δ log amplitude at the last bin, depths 1..L", "Δ(CL) < Δ(MIM); gap ≈ 1.0 at depths 1–3", "Fig 8/9", _c6_low_frequency),
    Claim(7, "MIM's last layers act like a decoder (low-pass)",
          "Δ(L) − Δ(L−1) for MIM", "negative, ≈ −0.2", "Fig 8/9, 11", _c7_mim_decoder_layers),
    Claim(8, "CL tokens cluster per image, MIM tokens intermingle",
          "image-ID silhouette of tokens [SUGGESTED], later depths", "silhouette(CL) > silhouette(MIM)", "Fig E.2", _c8_image_clusters),
    Claim(9, "CL is linearly separable at image level",
          "linear probe, last block", "LP(CL) > LP(MIM): 76.7 vs ≈45 (last) / 56.7 (best)", "Fig 1, 10", _c9_linear_probe),
    Claim(10, "Later layers matter for CL, early layers for MIM",
           "per-block linear probe", "best block: CL last, MIM ≈7–8; LP(MIM) > LP(CL) early", "Fig 10", _c10_which_layers),
    Claim(11, "MAE's explicit decoder takes over the low-pass decoder role",
           "Δ log amplitude over MAE encoder and decoder", "decoder ≈ −3.0…−3.45 ≪ encoder ≈ −2.1…−2.4", "Fig 11", _c11_mae_decoder),
    Claim(12, "MIM fine-tunes better, CL probes better",
           "fine-tuning vs linear probing", "FT: MIM ≥ CL (83.8 vs 83.2); LP: CL ≫ MIM", "Fig 1", _c12_ft_vs_lp),
    Claim(13, "MIM scales better with model size",
           "fine-tuning vs model size", "CL > MIM at Ti/S, MIM ≥ CL at B and above", "Fig 1", _c13_scaling),
    Claim(14, "MIM is better for dense prediction",
           "COCO AP^box (Mask R-CNN)", "MIM > CL: 50.3 / 49.8 vs 47.9", "Fig 1", _c14_dense),
    Claim(15, "CL and MIM are complementary",
           "hybrid λ sweep, LP and FT", "λ = 0.2 beats λ = 0 and λ = 1 in both", "Fig 12", _c15_hybrid_sweep),
    Claim(16, "Hybrid: early layers MIM-like, late layers CL-like",
           "NMI and Δ log amplitude per depth for the hybrid", "late NMI drops; Δ higher early, lower late", "Fig 12", _c16_hybrid_layers),
    Claim(17, "CL is more shape-biased (derived from frequency)",
           "cue-conflict shape bias [SUGGESTED, our set]", "shape bias(CL) > shape bias(MIM); not verified in the paper", "abstract", _c17_shape_bias),
    Claim(18, "CL is robust to high-frequency perturbations",
           "Δacc under band-limited noise [SUGGESTED]", "Δacc at high f: CL less negative than MIM; not verified", "README", _c18_noise),
    Claim(19, "CL transforms tokens in unison, MIM individually",
           "unison ratio per block [SUGGESTED]", "U(CL) > U(MIM), especially late", "Sec. 3 SVD figure", _c19_unison),
)


def evaluate(claim: Claim, results: dict) -> ClaimResult:
    """Run one claim's check; missing or unusable metrics give "not measured"."""
    try:
        ok, values, detail = claim.check(results)
    except NotMeasured as missing:
        return ClaimResult(claim.id, claim.claim, "not measured", {}, str(missing))
    return ClaimResult(claim.id, claim.claim, _result(ok), values, detail)


def scoreboard(results: dict) -> list[ClaimResult]:
    """All 19 claims of paper-spec §5 checked against ``results`` (schema in the module doc)."""
    if not isinstance(results, dict):
        raise ValueError(f"results must be a dict (see sslvit_lite.claims), got {type(results).__name__}")
    unknown_roles = set(results.get("roles", {})) - set(DEFAULT_ROLES)
    if unknown_roles:
        raise ValueError(f"unknown roles {sorted(unknown_roles)}; valid: {', '.join(DEFAULT_ROLES)}")
    return [evaluate(claim, results) for claim in CLAIMS]


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def scoreboard_markdown(results_or_rows: dict | Sequence[ClaimResult]) -> str:
    """The scoreboard as a Markdown table: claim, paper expectation, our status and numbers."""
    rows = scoreboard(results_or_rows) if isinstance(results_or_rows, dict) else list(results_or_rows)
    by_id = {c.id: c for c in CLAIMS}
    lines = ["| # | Claim | Paper expects | Status | Measured |", "|---|---|---|---|---|"]
    for row in rows:
        expected = by_id[row.id].expected if row.id in by_id else ""
        lines.append(f"| {row.id} | {_cell(row.claim)} | {_cell(expected)} | **{row.status}** | {_cell(row.detail)} |")
    counts = {s: sum(r.status == s for r in rows) for s in STATUSES}
    lines.append("")
    lines.append(f"{counts['holds']} hold, {counts['fails']} fail, {counts['not measured']} not measured.")
    return "\n".join(lines)
