"""The paper's analyses as pure functions on tensors (Park et al., ICLR 2023, Sec. 2–4).

- :mod:`.attention`: attention maps, mean attention distance, NMI, query/head homogeneity.
- :mod:`.fourier`: relative log amplitude of token maps per depth.
- :mod:`.representation`: token t-SNE, image-ID silhouette, unison ratio, SVD views.
- :mod:`.robustness`: band-limited noise and a procedural cue-conflict set (ours, not the paper's).
- :mod:`.reference`: the paper's reference values with their tags and sources.
"""

from sslvit_lite.analysis.attention import (
    attention_entropy,
    attention_nmi,
    drop_prefix,
    head_jsd,
    head_map_jsd,
    mean_attention_distance,
    patch_index,
    query_jsd,
    query_map,
)
from sslvit_lite.analysis.fourier import (
    block_outputs,
    diagonal_profile,
    fourier_by_depth,
    fourier_log_amplitude,
    high_frequency_delta,
)
from sslvit_lite.analysis.representation import (
    effective_rank,
    image_silhouette,
    singular_spectrum,
    svd_projection_3d,
    token_tsne,
    unison_ratio,
)
from sslvit_lite.analysis.robustness import (
    accuracy_under_noise,
    band_limited_noise,
    cue_conflict_set,
    cue_consistent_set,
    shape_bias,
)

__all__ = [
    "accuracy_under_noise",
    "attention_entropy",
    "attention_nmi",
    "band_limited_noise",
    "block_outputs",
    "cue_conflict_set",
    "cue_consistent_set",
    "diagonal_profile",
    "drop_prefix",
    "effective_rank",
    "fourier_by_depth",
    "fourier_log_amplitude",
    "head_jsd",
    "head_map_jsd",
    "high_frequency_delta",
    "image_silhouette",
    "mean_attention_distance",
    "patch_index",
    "query_jsd",
    "query_map",
    "shape_bias",
    "singular_spectrum",
    "svd_projection_3d",
    "token_tsne",
    "unison_ratio",
]
