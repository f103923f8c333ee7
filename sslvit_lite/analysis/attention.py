"""How do self-attentions behave? (Park et al., ICLR 2023, Sec. 2, Fig 2–4).

Pure functions on post-softmax attention probabilities as recorded by
:func:`sslvit_lite.vit.capture`: ``attn`` is (B, H, N, N) with the prefix tokens (CLS, and
registers if any) first. The patch-to-patch block ``attn[:, :, p:, p:]`` is (B, H, P, P)
with P = R·C patches in row-major order (patch q sits at row q // C, column q % C).

Every metric drops the prefix tokens and renormalises the rows, as the official code
(naver-ai/cl-vs-mim) does, each with its own epsilon:

- mean attention distance (Fig 3): eps 1e-32, distance in pixels;
- normalised mutual information between query and key positions (Fig 4): eps 1e-8, natural log;
- homogeneity (Fig 2; ours, not the paper's code): mean pairwise
  Jensen–Shannon divergence between query rows, and between heads' mean maps, in bits.

Depth convention (the book's depth convention): attention metrics are reported per block, "depth" 1..L.
All functions work on CPU and CUDA, are batched and vectorised over tokens, and compute in
at least float32 (half-precision inputs are upcast: 1e-32 underflows in float16).
"""

from __future__ import annotations

import math

import torch

DISTANCE_EPS = 1e-32  # official attention-distance code: A[:, :, 1:, 1:] + 1e-32
NMI_EPS = 1e-8  # official NMI code: A[:, :, 1:, 1:] + 1e-8
JSD_EPS = 1e-8  # our homogeneity metric: same guard as NMI against all-zero rows

# Upper bound on the number of elements of the (chunk, M, M, K) tensor built by
# the pairwise Jensen–Shannon divergence; chunks run one after the other.
_JSD_CHUNK_ELEMENTS = 2**24


def _as_float(x: torch.Tensor) -> torch.Tensor:
    """Upcast half/bfloat16 to float32; keep float32/float64 as they are."""
    if not torch.is_floating_point(x):
        raise ValueError(f"expected a floating-point tensor, got dtype {x.dtype}")
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _check_attention(attn: torch.Tensor, name: str = "attn") -> None:
    if attn.dim() != 4 or attn.shape[-1] != attn.shape[-2]:
        raise ValueError(f"{name} must have shape (B, H, N, N), got {tuple(attn.shape)}")


def _check_grid(num_patches: int, grid: tuple[int, int]) -> tuple[int, int]:
    rows, cols = (int(g) for g in grid)
    if rows <= 0 or cols <= 0 or rows * cols != num_patches:
        raise ValueError(f"grid {tuple(grid)} does not hold {num_patches} patches (need rows·cols = {num_patches})")
    return rows, cols


def renormalise(attn_patches: torch.Tensor, eps: float) -> torch.Tensor:
    """Add ``eps`` to every probability and rescale each row (last dim) to sum to 1.

    attn_patches: (..., P, P). Returns the same shape, at least float32.
    """
    a = _as_float(attn_patches) + eps  # (..., P, P)
    return a / a.sum(dim=-1, keepdim=True)


def drop_prefix(attn: torch.Tensor, num_prefix: int = 1, eps: float = 0.0) -> torch.Tensor:
    """Patch-to-patch attention: drop the prefix rows and columns, add ``eps``, renormalise rows.

    attn: (B, H, N, N) post-softmax probabilities, prefix tokens first.
    Returns (B, H, P, P) with P = N − num_prefix; each row is p(key | query) over patches.
    """
    _check_attention(attn)
    n = attn.shape[-1]
    if not 0 <= num_prefix < n:
        raise ValueError(f"num_prefix must be in [0, {n - 1}] for {n} tokens, got {num_prefix}")
    return renormalise(attn[:, :, num_prefix:, num_prefix:], eps)  # (B, H, P, P)


def patch_distances(grid: tuple[int, int], patch_size_px: float = 1.0, device=None, dtype=torch.float32) -> torch.Tensor:
    """Euclidean distance between patch centres, in pixels: (P, P) with P = rows·cols.

    d(q, k) = patch_size_px · ‖(r_q − r_k, c_q − c_k)‖₂, r = q // cols, c = q % cols (Fig 3).
    """
    rows, cols = (int(g) for g in grid)
    if rows <= 0 or cols <= 0:
        raise ValueError(f"grid must be two positive ints (rows, cols), got {tuple(grid)}")
    if patch_size_px <= 0:
        raise ValueError(f"patch_size_px must be positive, got {patch_size_px}")
    index = torch.arange(rows * cols, device=device)
    pos = torch.stack([index // cols, index % cols], dim=-1).to(dtype)  # (P, 2)
    return patch_size_px * torch.cdist(pos, pos)  # (P, P)


def mean_attention_distance(
    attn_patches: torch.Tensor,
    grid: tuple[int, int],
    patch_size_px: float,
    eps: float = DISTANCE_EPS,
) -> torch.Tensor:
    """Mean attention distance in pixels per image and head (Fig 3, official code).

    D_{b,h} = (1/P) Σ_q Σ_k Ã[b,h,q,k] · d(q,k), with Ã = rows of ``attn_patches + eps``
    renormalised, and d the patch-centre distance in pixels. Uniform attention on a 14×14
    grid of 16 px patches gives 116.49 px; attending only to oneself gives 0.

    attn_patches: (B, H, P, P), the patch block ``attn[:, :, p:, p:]`` (raw, or already
    renormalised by :func:`drop_prefix`; renormalising twice changes nothing but eps).
    Returns (B, H).
    """
    _check_attention(attn_patches, "attn_patches")
    _check_grid(attn_patches.shape[-1], grid)
    a = renormalise(attn_patches, eps)  # (B, H, P, P)
    dist = patch_distances(grid, patch_size_px, device=a.device, dtype=a.dtype)  # (P, P)
    return (a * dist).sum(dim=-1).mean(dim=-1)  # (B, H)


def attention_nmi(attn_patches: torch.Tensor, eps: float = NMI_EPS) -> torch.Tensor:
    """Normalised mutual information between query and key positions (Fig 4, official code).

    With p(k|q) = rows of ``attn_patches + eps`` renormalised, p(q) = 1/P uniform and
    p(k) = Σ_q p(q) p(k|q): I = Σ_q Σ_k p(q) p(k|q) log(p(k|q) / p(k)) (natural log) and
    NMI = I / sqrt(H(q) · H(k)) with H(q) = log P. Identity attention gives 1, uniform
    attention (or any attention where all queries share one distribution) gives 0.

    attn_patches: (B, H, P, P). Returns (B, H).
    """
    _check_attention(attn_patches, "attn_patches")
    p_k_given_q = renormalise(attn_patches, eps)  # (B, H, P, P)
    num = p_k_given_q.shape[-1]
    if num < 2:
        raise ValueError("attention NMI needs at least 2 patches")
    p_k = p_k_given_q.mean(dim=-2)  # (B, H, P)
    ratio = p_k_given_q / p_k.unsqueeze(-2)  # (B, H, P, P)
    mutual_info = (p_k_given_q * torch.log(ratio)).sum(dim=(-2, -1)) / num  # (B, H)
    h_q = math.log(num)
    h_k = -(p_k * torch.log(p_k)).sum(dim=-1)  # (B, H)
    return mutual_info / torch.sqrt(h_q * h_k)  # (B, H)


def attention_entropy(attn_patches: torch.Tensor, eps: float = NMI_EPS) -> torch.Tensor:
    """Mean entropy of the query rows relative to uniform attention, in [0, 1].

    H(k|q) / log P averaged over queries: 1 for uniform attention, 0 for one-hot rows. It tells
    *collapse* from *no training*: collapsed attention (NMI ≈ 0, all queries alike) that is also
    concentrated on a few keys has entropy well below 1, while an untrained ViT's attention is
    near-uniform (entropy ≈ 1) and also has NMI ≈ 0. Not from the paper's code: a companion to
    its NMI (Sec. 2.2), since NMI alone cannot separate the two.

    attn_patches: (B, H, P, P), rows renormalised after adding ``eps``. Returns (B, H).
    """
    _check_attention(attn_patches, "attn_patches")
    p = renormalise(attn_patches, eps)  # (B, H, P, P)
    num = p.shape[-1]
    if num < 2:
        raise ValueError("attention entropy needs at least 2 patches")
    return -torch.special.xlogy(p, p).sum(dim=-1).mean(dim=-1) / math.log(num)  # (B, H)


def patch_index(row: int, col: int, grid: tuple[int, int]) -> int:
    """Row-major index of the patch at (row, col) of a (rows, cols) grid.

    The official notebook's query "i=3, j=8" on 14×14 is ``patch_index(8, 3, (14, 14)) == 115``.
    """
    rows, cols = (int(g) for g in grid)
    if not (0 <= row < rows and 0 <= col < cols):
        raise ValueError(f"(row, col) = ({row}, {col}) is outside the grid {rows}×{cols}")
    return row * cols + col


def query_map(
    attn: torch.Tensor,
    query_index: int,
    grid: tuple[int, int],
    num_prefix: int = 1,
    eps: float = 0.0,
) -> torch.Tensor:
    """Attention map of one query patch over the patch grid (Fig 2, the Fig. 2 visualisation).

    Drops the prefix rows/columns, renormalises the rows, takes the row of patch
    ``query_index`` (row-major, see :func:`patch_index`) and reshapes it to the grid.
    ``eps`` = 0 as in the notebook; pass e.g. 1e-32 if a query may attend only to CLS.

    attn: (B, H, N, N). Returns (B, H, rows, cols); each map sums to 1.
    """
    patches = drop_prefix(attn, num_prefix, eps)  # (B, H, P, P)
    rows, cols = _check_grid(patches.shape[-1], grid)
    if not 0 <= query_index < rows * cols:
        raise ValueError(f"query_index must be in [0, {rows * cols - 1}], got {query_index}")
    return patches[:, :, query_index, :].reshape(*patches.shape[:2], rows, cols)  # (B, H, R, C)


def _entropy_bits(p: torch.Tensor) -> torch.Tensor:
    """Shannon entropy in bits along the last dim (0 · log 0 = 0)."""
    return -torch.special.xlogy(p, p).sum(dim=-1) / math.log(2.0)


def mean_pairwise_jsd(dists: torch.Tensor) -> torch.Tensor:
    """Mean Jensen–Shannon divergence (bits, in [0, 1]) over all pairs of distinct rows.

    dists: (..., M, K), M ≥ 2 probability distributions over K outcomes each.
    JSD(p, q) = H((p + q)/2) − (H(p) + H(q))/2. Returns (...), the mean over the
    M·(M − 1) ordered pairs i ≠ j. Computed in chunks over the leading dims so that the
    (M, M, K) mixture never exceeds a fixed memory budget.
    """
    if dists.dim() < 2 or dists.shape[-2] < 2:
        raise ValueError(f"need (..., M, K) with M ≥ 2 distributions, got shape {tuple(dists.shape)}")
    lead = dists.shape[:-2]
    m, k = dists.shape[-2:]
    flat = _as_float(dists).reshape(-1, m, k)  # (L, M, K)
    h_rows = _entropy_bits(flat)  # (L, M)
    chunk = max(1, _JSD_CHUNK_ELEMENTS // (m * m * k))
    out = []
    for part, h_part in zip(flat.split(chunk), h_rows.split(chunk)):
        mix = 0.5 * (part.unsqueeze(-2) + part.unsqueeze(-3))  # (l, M, M, K)
        jsd = _entropy_bits(mix) - 0.5 * (h_part.unsqueeze(-1) + h_part.unsqueeze(-2))  # (l, M, M)
        out.append(jsd.clamp_min(0.0).sum(dim=(-2, -1)) / (m * (m - 1)))  # (l,)
    return torch.cat(out).reshape(lead)


def query_jsd(attn_patches: torch.Tensor, eps: float = JSD_EPS) -> torch.Tensor:
    """Homogeneity across queries: mean pairwise JSD between query rows (Fig 2, ours).

    Low values mean all queries attend alike ("attention collapse", expected for CL in
    later blocks); identity attention gives 1 bit (distinct one-hot rows), uniform gives 0.
    Not from the paper's code: our operationalisation of the Fig. 2 observation.

    attn_patches: (B, H, P, P), rows renormalised after adding ``eps``. Returns (B, H).
    """
    _check_attention(attn_patches, "attn_patches")
    return mean_pairwise_jsd(renormalise(attn_patches, eps))  # (B, H)


def head_jsd(attn_patches: torch.Tensor, eps: float = JSD_EPS) -> torch.Tensor:
    """Homogeneity across heads, query by query: for each query, the mean pairwise JSD between the heads'
    attention rows, averaged over queries (Fig 2, ours; the metric of claim 5).

    Low values mean every head looks at the same places *from the same query*. Heads that each attend
    locally around their query agree with each other here only as far as their local patterns agree
    (compare :func:`head_map_jsd`). Not from the paper's code.

    attn_patches: (B, H, P, P) with H ≥ 2. Returns (B,).
    """
    _check_attention(attn_patches, "attn_patches")
    if attn_patches.shape[1] < 2:
        raise ValueError("head_jsd needs at least 2 heads")
    rows = renormalise(attn_patches, eps).transpose(1, 2)  # (B, P, H, P): per query, one row per head
    return mean_pairwise_jsd(rows).mean(dim=1)  # (B,)


def head_map_jsd(attn_patches: torch.Tensor, eps: float = JSD_EPS) -> torch.Tensor:
    """The mean pairwise JSD between the heads' *query-averaged* maps (a labelled extra, not a claim's metric).

    Averaging over queries first turns local attention into a near-uniform map (each query attends around
    itself, and the queries tile the image), so heads that are all local look alike here by construction;
    :func:`head_jsd` compares heads query by query instead.

    attn_patches: (B, H, P, P) with H ≥ 2. Returns (B,).
    """
    _check_attention(attn_patches, "attn_patches")
    if attn_patches.shape[1] < 2:
        raise ValueError("head_map_jsd needs at least 2 heads")
    mean_maps = renormalise(attn_patches, eps).mean(dim=-2)  # (B, H, P)
    return mean_pairwise_jsd(mean_maps)  # (B,)
