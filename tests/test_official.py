"""Official checkpoints → timm models (sslvit_lite.official), tested offline on stand-in files in each
official key layout (tests/official_stand_ins.py)."""

import io

import pytest
import timm
import torch

from official_stand_ins import (SMALL, fake_entry, official_encoder, official_file, reference_forward,
                                reference_rpb_index, save_stand_in)
from sslvit_lite import official
from sslvit_lite.checkpoint import CheckpointError, load_state_dict_strict
from sslvit_lite.official import CHECKPOINTS, build_model, convert_state_dict, load_official, load_pretrained
from sslvit_lite.safe_unpickle import read_checkpoint
from sslvit_lite.vit import capture


@pytest.mark.parametrize("name", list(CHECKPOINTS))
def test_stand_in_loads_and_matches_the_official_forward(name, tmp_path):
    simmim = CHECKPOINTS[name].format == "simmim"
    path, enc = save_stand_in(tmp_path, name)
    model = load_official(name, path, **SMALL)
    assert not model.training
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    ref_feature, ref_zs, ref_attns = reference_forward(enc, x, SMALL["num_heads"], simmim)
    with torch.no_grad():
        feature = model(x)  # fused attention (SDPA with the bias as mask for SimMIM)
        with capture(model) as cap:
            assert torch.allclose(model(x), feature, atol=1e-5)
    torch.testing.assert_close(feature, ref_feature, atol=1e-5, rtol=1e-4)
    assert len(cap.tokens) == len(ref_zs) == 2 * SMALL["depth"] + 1
    for got, want in zip(cap.tokens, ref_zs):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    for got, want in zip(cap.attentions, ref_attns):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-4)


def test_simmim_attention_includes_the_shared_relative_position_bias(tmp_path):
    path, enc = save_stand_in(tmp_path, "simmim_vit_base")
    model = load_official("simmim_vit_base", path, **SMALL)
    assert model.pos_embed is None and model.rel_pos_bias is not None
    assert all(blk.attn.relative_position_bias_table is None for blk in model.blocks)  # shared, not per block
    torch.testing.assert_close(model.rel_pos_bias.relative_position_bias_table,
                               enc["rel_pos_bias.relative_position_bias_table"])
    assert torch.equal(model.rel_pos_bias.relative_position_index, reference_rpb_index(4))
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad(), capture(model) as cap:
        model(x)
    _, _, with_bias = reference_forward(enc, x, SMALL["num_heads"], simmim=True)
    _, _, without_bias = reference_forward(enc, x, SMALL["num_heads"], simmim=True, use_rpb=False)
    torch.testing.assert_close(cap.attentions[0], with_bias[0], atol=1e-6, rtol=1e-4)
    assert (cap.attentions[0] - without_bias[0]).abs().max() > 0.1  # the bias changes the probabilities


def test_fixed_sincos_pos_embed_is_loaded_and_frozen(tmp_path):
    for name, frozen in [("mocov3_vit_base", True), ("mocov3_vit_small", True), ("mae_vit_base", True),
                         ("dino_vit_base", False)]:
        path, enc = save_stand_in(tmp_path, name)
        model = load_official(name, path, **SMALL)
        assert torch.equal(model.pos_embed, enc["pos_embed"])
        assert model.pos_embed.requires_grad is not frozen, name


def test_conversion_drops_projector_momentum_predictor_decoder_and_mask_token():
    enc = official_encoder(False, **SMALL)
    moco = convert_state_dict("mocov3_vit_base", official_file("mocov3", enc))
    assert set(moco) == set(enc) and all(torch.equal(moco[k], enc[k]) for k in enc)
    mae = convert_state_dict("mae_vit_base", official_file("mae", enc))
    assert set(mae) == set(enc)
    simmim_enc = official_encoder(True, **SMALL)
    simmim = convert_state_dict("simmim_vit_base", official_file("simmim", simmim_enc))
    assert set(simmim) == set(simmim_enc) - {"rel_pos_bias.relative_position_index"}


@pytest.mark.parametrize("name", list(CHECKPOINTS))
def test_real_size_models_fit_the_official_layout(name):
    """The full ViT-B (ViT-S) builds, on the meta device: every official key, with its shape."""
    simmim = CHECKPOINTS[name].format == "simmim"
    embed_dim = 384 if name == "mocov3_vit_small" else 768
    device = "meta"
    try:
        with torch.device(device):
            model = build_model(name)
    except RuntimeError:  # timm < 1.0.23 calls .item() while building, which a meta tensor refuses
        device = "cpu"
        model = build_model(name)
    enc = official_encoder(simmim, 224, 16, embed_dim, 12, 12, device=device)  # RPB index on the CPU
    if simmim:
        assert tuple(model.rel_pos_bias.relative_position_bias_table.shape) == (27 * 27 + 3, 12)
    load_state_dict_strict(model, convert_state_dict(name, official_file(CHECKPOINTS[name].format, enc)))
    assert model.embed_dim == embed_dim and len(model.blocks) == 12
    assert {blk.attn.num_heads for blk in model.blocks} == {12}  # ViT-S too: 12 heads of 32 dims
    assert model.pretrained_cfg["mean"] == official.IMAGENET_MEAN


def test_missing_and_unexpected_keys_are_named(tmp_path):
    enc = official_encoder(False, **SMALL)
    raw = official_file("mocov3", enc)
    del raw["state_dict"]["module.base_encoder.blocks.1.mlp.fc2.bias"]
    raw["state_dict"]["module.queue"] = torch.zeros(3)
    raw["state_dict"]["module.base_encoder.blocks.0.attn.extra"] = torch.zeros(3)
    torch.save(raw, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError) as err:
        load_official("mocov3_vit_base", tmp_path / "bad.pth", **SMALL)
    message = str(err.value)
    assert "missing (1): blocks.1.mlp.fc2.bias" in message
    assert "unexpected (2): blocks.0.attn.extra, module.queue" in message


def test_checkpoint_of_another_size_names_the_mismatched_shapes(tmp_path):
    path, _ = save_stand_in(tmp_path, "mocov3_vit_small")
    with pytest.raises(CheckpointError, match=r"cls_token: file \(1, 1, 32\) vs model \(1, 1, 48\)"):
        load_official("mocov3_vit_small", path, **{**SMALL, "embed_dim": 48})


def test_checkpoint_of_another_model_is_refused_clearly(tmp_path):
    dino, _ = save_stand_in(tmp_path, "dino_vit_base")
    moco, _ = save_stand_in(tmp_path, "mocov3_vit_base")
    with pytest.raises(CheckpointError, match="under 'state_dict'.*right file for mocov3_vit_base"):
        load_official("mocov3_vit_base", dino, **SMALL)
    with pytest.raises(CheckpointError, match="under 'model'.*right file for simmim_vit_base"):
        load_official("simmim_vit_base", moco, **SMALL)
    with pytest.raises(CheckpointError, match=r"\['arch', 'epoch'.*not tensors"):
        load_official("dino_vit_base", moco, **SMALL)


def test_simmim_relative_position_index_is_checked(tmp_path):
    enc = official_encoder(True, **SMALL)
    enc["rel_pos_bias.relative_position_index"] = enc["rel_pos_bias.relative_position_index"].T.contiguous()
    torch.save(official_file("simmim", enc), tmp_path / "bad_index.pth")
    with pytest.raises(CheckpointError, match="relative_position_index .*differs from timm's"):
        load_official("simmim_vit_base", tmp_path / "bad_index.pth", **SMALL)


@pytest.mark.parametrize("name", ["mocov3_vit_base", "simmim_vit_base"])
def test_truncated_file_gives_a_clear_error(name, tmp_path):
    path, _ = save_stand_in(tmp_path, name)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated, corrupt or not a torch.save file"):
        load_official(name, path, **SMALL)


def test_random_bytes_and_missing_files(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(torch.randint(0, 256, (5000,), generator=torch.Generator().manual_seed(0),
                                   dtype=torch.uint8).numpy().tobytes())
    with pytest.raises(CheckpointError, match="junk.pth .*not a torch.save file"):
        read_checkpoint(junk)
    with pytest.raises(FileNotFoundError, match="no checkpoint file at"):
        read_checkpoint(tmp_path / "absent.pth")


def test_bad_names_and_options_raise_value_errors():
    with pytest.raises(ValueError, match="valid: mocov3_vit_base, mocov3_vit_small, simmim_vit_base"):
        build_model("mocov3_vit_huge")
    with pytest.raises(ValueError, match="valid overrides: img_size, patch_size"):
        build_model("mae_vit_base", drop_path_rate=0.1)
    with pytest.raises(ValueError, match="source='timm' works for: mae_vit_base, dino_vit_base"):
        load_pretrained("mocov3_vit_base", source="timm")
    with pytest.raises(ValueError, match="valid: official, timm"):
        load_pretrained("mae_vit_base", source="hub")


def test_load_pretrained_downloads_then_loads_the_real_size_vit_s(tmp_path, monkeypatch):
    """End to end at full size: 224 px, ViT-S/16 with 12 heads (22 M parameters)."""
    enc = official_encoder(False, 224, 16, 384, 12, 12)
    buffer = io.BytesIO()
    torch.save(official_file("mocov3", enc), buffer)
    fake_entry(monkeypatch, "mocov3_vit_small", buffer.getvalue())
    model = load_pretrained("mocov3_vit_small", cache_dir=tmp_path, progress=False)
    assert model.blocks[0].attn.num_heads == 12 and not model.pos_embed.requires_grad
    torch.testing.assert_close(model.blocks[11].mlp.fc2.weight, enc["blocks.11.mlp.fc2.weight"])


def test_timm_source_asks_timm_for_the_same_tag(monkeypatch):
    calls = []
    create = timm.create_model

    def recording_create(tag, pretrained=False, **kwargs):
        calls.append((tag, pretrained))
        return create(tag, pretrained=False, **{**kwargs, **SMALL})

    monkeypatch.setattr(timm, "create_model", recording_create)
    model = load_pretrained("mae_vit_base", source="timm")
    assert calls == [("vit_base_patch16_224.mae", True)]
    assert not model.training and not model.pos_embed.requires_grad


@pytest.mark.parametrize("persistent", [False, True], ids=["timm>=1.0.23", "timm<=1.0.22"])
def test_simmim_loads_whether_timm_saves_the_index_buffer_or_not(tmp_path, monkeypatch, persistent):
    """timm up to 1.0.22 keeps BEiT's relative_position_index in the state dict; later versions do not."""
    path, _ = save_stand_in(tmp_path, "simmim_vit_base")
    build = official.build_model

    def build_like_this_timm(name, **overrides):
        model = build(name, **overrides)
        rpb = model.rel_pos_bias
        index = rpb.relative_position_index
        del rpb._buffers["relative_position_index"]
        rpb.register_buffer("relative_position_index", index, persistent=persistent)
        return model

    monkeypatch.setattr(official, "build_model", build_like_this_timm)
    model = load_official("simmim_vit_base", path, **SMALL)
    assert ("rel_pos_bias.relative_position_index" in model.state_dict()) == persistent
    assert torch.equal(model.rel_pos_bias.relative_position_index,
                       reference_rpb_index(SMALL["img_size"] // SMALL["patch_size"]))
