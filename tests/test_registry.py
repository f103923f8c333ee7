"""The registry of the official checkpoints: every entry complete, unknown names named."""

import pytest

from sslvit_lite.registry import CHECKPOINTS, FORMATS, checkpoint_info


def test_every_checkpoint_has_a_source_a_layout_and_a_file_name():
    assert {"mocov3_vit_base", "simmim_vit_base", "mae_vit_base", "dino_vit_base"} <= set(CHECKPOINTS)
    for name, info in CHECKPOINTS.items():
        assert info.name == name and info.format in FORMATS and info.url.startswith("https://") and info.filename


def test_unknown_checkpoint_lists_the_valid_names():
    with pytest.raises(ValueError, match="valid: mocov3_vit_base"):
        checkpoint_info("mocov4")
