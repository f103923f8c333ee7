"""Official checkpoints → timm models, tested offline on stand-in files in each official key layout.

The stand-ins are built here from the key names and shapes of the official encoders, not from
timm, and a reference forward written from the official code (MoCo v3 / SimMIM
ViTs) checks the converted timm models: outputs, token states and attention
probabilities (with SimMIM's shared relative position bias) as ``capture`` records them.
"""

import dataclasses
import email.message
import hashlib
import io
import pickle
import re
import socket
import urllib.error

import pytest
import timm
import torch
import torch.nn.functional as F

from sslvit_lite import download as downloads
from sslvit_lite import pretrained
from sslvit_lite import safe_unpickle
from sslvit_lite.checkpoint import CheckpointError
from sslvit_lite.download import DownloadError, default_cache_dir, download, drive_confirm_url
from sslvit_lite.pretrained import (
    CHECKPOINTS,
    build_model,
    convert_state_dict,
    load_official,
    load_pretrained,
    load_state_dict_strict,
)
from sslvit_lite.safe_unpickle import UnloadedObject, read_checkpoint
from sslvit_lite.vit import capture

SMALL = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4)  # 4×4 patch grid
EPS = 1e-6  # LayerNorm eps of all four official ViTs


# ----------------------------------------------------------------------------------------------
# Stand-in files in the official layouts, and a reference forward written from the official code
# ----------------------------------------------------------------------------------------------

def reference_rpb_index(grid: int) -> torch.Tensor:
    """BEiT/SimMIM relative position index, written out pair by pair. (N+1, N+1), CLS first."""
    n, span = grid * grid, 2 * grid - 1
    table_rows = span * span + 3
    pairs = [[(r1 - r2 + grid - 1) * span + (c1 - c2 + grid - 1)
              for r2, c2 in map(lambda q: divmod(q, grid), range(n))]
             for r1, c1 in map(lambda p: divmod(p, grid), range(n))]
    index = torch.empty(n + 1, n + 1, dtype=torch.long)
    index[1:, 1:] = torch.tensor(pairs)  # query patch (r1, c1), key patch (r2, c2)
    index[0, :] = table_rows - 3  # CLS query → any key
    index[:, 0] = table_rows - 2  # any query → CLS key
    index[0, 0] = table_rows - 1
    return index


def official_encoder(simmim: bool, img_size, patch_size, embed_dim, depth, num_heads, seed=0, device="cpu"):
    """Random encoder weights named and shaped as in the official MoCo v3 / MAE / DINO ViT
    (``simmim=False``) or the SimMIM BEiT-style ViT (``simmim=True``)."""
    gen = torch.Generator().manual_seed(seed)
    C, p, grid = embed_dim, patch_size, img_size // patch_size

    def rand(*shape, scale=0.2, offset=0.0):
        if device == "meta":
            return torch.empty(*shape, device="meta")
        return offset + scale * torch.randn(*shape, generator=gen)

    sd = {"cls_token": rand(1, 1, C, scale=1.0), "patch_embed.proj.weight": rand(C, 3, p, p, scale=0.1),
          "patch_embed.proj.bias": rand(C)}
    if simmim:
        sd["rel_pos_bias.relative_position_bias_table"] = rand((2 * grid - 1) ** 2 + 3, num_heads, scale=2.0)
        sd["rel_pos_bias.relative_position_index"] = reference_rpb_index(grid)
    else:
        sd["pos_embed"] = rand(1, grid * grid + 1, C, scale=1.0)
    for i in range(depth):
        b = f"blocks.{i}."
        sd |= {b + "norm1.weight": rand(C, scale=0.1, offset=1.0), b + "norm1.bias": rand(C),
               b + "attn.qkv.weight": rand(3 * C, C, scale=0.5), b + "attn.proj.weight": rand(C, C),
               b + "attn.proj.bias": rand(C), b + "norm2.weight": rand(C, scale=0.1, offset=1.0),
               b + "norm2.bias": rand(C), b + "mlp.fc1.weight": rand(4 * C, C), b + "mlp.fc1.bias": rand(4 * C),
               b + "mlp.fc2.weight": rand(C, 4 * C), b + "mlp.fc2.bias": rand(C)}
        if simmim:
            sd |= {b + "attn.q_bias": rand(C), b + "attn.v_bias": rand(C),
                   b + "gamma_1": rand(C, scale=0.2, offset=0.5), b + "gamma_2": rand(C, scale=0.2, offset=0.5)}
        else:
            sd[b + "attn.qkv.bias"] = rand(3 * C)
    sd |= {"norm.weight": rand(C, scale=0.1, offset=1.0), "norm.bias": rand(C)}
    return sd


def official_file(fmt: str, enc: dict) -> object:
    """What the official file of each format stores around the encoder weights ``enc``."""
    C = enc["cls_token"].shape[-1]
    like = {"device": enc["cls_token"].device}
    if fmt == "mocov3":
        projector = {"head.0.weight": torch.ones(64, C, **like), "head.1.running_mean": torch.zeros(64, **like),
                     "head.3.weight": torch.ones(16, 64, **like)}
        state = {f"module.base_encoder.{k}": v for k, v in (enc | projector).items()}
        state |= {f"module.momentum_encoder.{k}": v + 1 for k, v in (enc | projector).items()}
        state |= {"module.predictor.0.weight": torch.ones(64, 16, **like)}
        return {"epoch": 300, "arch": "vit", "state_dict": state,
                "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4}]}, "scaler": {"scale": 65536.0}}
    if fmt == "simmim":
        p = enc["patch_embed.proj.weight"].shape[-1]
        state = {f"encoder.{k}": v for k, v in enc.items()}
        state |= {"encoder.mask_token": torch.zeros(1, 1, C, **like),
                  "decoder.0.weight": torch.ones(p * p * 3, C, 1, 1, **like),
                  "decoder.0.bias": torch.zeros(p * p * 3, **like)}
        config = FakeCfgNode(MODEL=FakeCfgNode(TYPE="vit", VIT=FakeCfgNode(EMBED_DIM=C)), TAG="simmim_pretrain")
        return {"model": state, "optimizer": {"state": {}}, "lr_scheduler": {"last_epoch": 799},
                "max_accuracy": 0.0, "epoch": 799, "config": config}
    if fmt == "mae":
        decoder = {"mask_token": torch.zeros(1, 1, 16, **like), "decoder_embed.weight": torch.ones(16, C, **like),
                   "decoder_blocks.0.norm1.weight": torch.ones(16, **like),
                   "decoder_pred.bias": torch.ones(12, **like)}
        return {"model": enc | decoder}
    return dict(enc)  # DINO: a flat state dict


def reference_forward(enc: dict, x: torch.Tensor, num_heads: int, simmim: bool, use_rpb: bool = True):
    """Pre-norm ViT forward as in the official ViTs (timm 0.5.4 / BEiT code in SimMIM).

    Returns the CLS feature after the final LayerNorm (B, C), ``zs`` (2·depth+1 tensors
    (B, N, C): embedding, then x + γ₁·Attn(LN1 x) and the block output per block) and the
    attention probabilities (B, H, N, N) per block, with the shared relative bias for SimMIM.
    """
    patch = enc["patch_embed.proj.weight"].shape[-1]
    B, C = x.shape[0], enc["cls_token"].shape[-1]
    depth = len({k.split(".")[1] for k in enc if k.startswith("blocks.")})
    t = F.conv2d(x, enc["patch_embed.proj.weight"], enc["patch_embed.proj.bias"], stride=patch)  # (B, C, g, g)
    t = torch.cat([enc["cls_token"].expand(B, -1, -1), t.flatten(2).transpose(1, 2)], dim=1)  # (B, N, C)
    N, d = t.shape[1], C // num_heads
    bias = 0.0
    if simmim:
        table = enc["rel_pos_bias.relative_position_bias_table"]  # ((2g-1)² + 3, H)
        index = enc["rel_pos_bias.relative_position_index"]  # (N, N)
        bias = table[index.reshape(-1)].reshape(N, N, num_heads).permute(2, 0, 1) * use_rpb  # (H, N, N)
    else:
        t = t + enc["pos_embed"]
    zs, attns = [t], []
    for i in range(depth):
        w = {k[len(f"blocks.{i}."):]: v for k, v in enc.items() if k.startswith(f"blocks.{i}.")}
        h = F.layer_norm(t, (C,), w["norm1.weight"], w["norm1.bias"], eps=EPS)
        if simmim:  # q and v biases only; k has none
            qkv_bias = torch.cat([w["attn.q_bias"], torch.zeros(C), w["attn.v_bias"]])  # (3C,)
        else:
            qkv_bias = w["attn.qkv.bias"]  # (3C,)
        qkv = F.linear(h, w["attn.qkv.weight"], qkv_bias)  # (B, N, 3C)
        q, k, v = qkv.reshape(B, N, 3, num_heads, d).permute(2, 0, 3, 1, 4)  # each (B, H, N, d)
        attn = ((q * d ** -0.5) @ k.transpose(-2, -1) + bias).softmax(dim=-1)  # (B, H, N, N)
        out = (attn @ v).transpose(1, 2).reshape(B, N, C)  # (B, N, C)
        out = F.linear(out, w["attn.proj.weight"], w["attn.proj.bias"])
        t = t + (w["gamma_1"] * out if simmim else out)
        zs.append(t)
        h = F.layer_norm(t, (C,), w["norm2.weight"], w["norm2.bias"], eps=EPS)
        out = F.linear(F.gelu(F.linear(h, w["mlp.fc1.weight"], w["mlp.fc1.bias"])), w["mlp.fc2.weight"],
                       w["mlp.fc2.bias"])
        t = t + (w["gamma_2"] * out if simmim else out)
        zs.append(t)
        attns.append(attn)
    feature = F.layer_norm(t, (C,), enc["norm.weight"], enc["norm.bias"], eps=EPS)[:, 0]  # (B, C)
    return feature, zs, attns


def save_stand_in(tmp_path, name, seed=0, **size):
    """(path, encoder weights) of a stand-in for the official file of ``name``."""
    size = {**SMALL, **size}
    fmt = CHECKPOINTS[name].format
    enc = official_encoder(fmt == "simmim", **size, seed=seed)
    path = tmp_path / f"{name}.pth"
    torch.save(official_file(fmt, enc), path)
    return path, enc


# Pickled inside the SimMIM stand-in like yacs' CfgNode: a dict subclass with attribute state.
# Any of its code running during loading leaves a mark in RAN.
RAN: list[str] = []


class FakeCfgNode(dict):
    def __init__(self, **items):
        super().__init__(**items)
        self.__dict__["__immutable__"] = True

    def __setitem__(self, key, value):
        RAN.append("FakeCfgNode.__setitem__")
        super().__setitem__(key, value)

    def __setstate__(self, state):
        RAN.append("FakeCfgNode.__setstate__")
        self.__dict__.update(state)


class WritesFileOnLoad:
    """The classic malicious pickle: unpickling calls exec() with attacker code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('ran')",)


# ----------------------------------------------------------------------------------------------
# Conversion and loading
# ----------------------------------------------------------------------------------------------

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
    assert model.pretrained_cfg["mean"] == pretrained.IMAGENET_MEAN


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


# ----------------------------------------------------------------------------------------------
# Reading pickles without running their code
# ----------------------------------------------------------------------------------------------

def test_pickled_objects_are_read_without_running_their_code(tmp_path):
    marker = tmp_path / "pwned"
    tensors = {"w": torch.randn(3, 4), "p": torch.nn.Parameter(torch.ones(2)), "h": torch.randn(5).half()}
    config = FakeCfgNode(MODEL=FakeCfgNode(TYPE="vit"), TAG="x")
    torch.save({"model": tensors, "config": config, "payload": WritesFileOnLoad(marker)}, tmp_path / "ckpt.pth")

    RAN.clear()
    raw = read_checkpoint(tmp_path / "ckpt.pth")
    assert RAN == [] and not marker.exists()  # neither the config's methods nor exec() ran
    assert set(raw["model"]) == {"w", "p", "h"}
    assert all(torch.equal(raw["model"][k], tensors[k]) for k in tensors)
    assert raw["model"]["h"].dtype == torch.float16
    assert isinstance(raw["config"], UnloadedObject) and raw["config"].pickled_name.endswith(".FakeCfgNode")
    assert raw["config"]["TAG"] == "x" and raw["config"]["MODEL"]["TYPE"] == "vit"  # data kept, inert
    assert raw["config"].state == {"__immutable__": True}
    assert raw["payload"].pickled_name == "builtins.exec" and "pwned" in raw["payload"].args[0]

    # Control: the same file, loaded the unsafe way, does run the code.
    torch.load(tmp_path / "ckpt.pth", weights_only=False)
    assert marker.exists() and "FakeCfgNode.__setstate__" in RAN


def test_plain_checkpoints_take_the_weights_only_path(tmp_path, monkeypatch):
    path, _ = save_stand_in(tmp_path, "mocov3_vit_base")
    monkeypatch.setattr(safe_unpickle, "_RESTRICTED_PICKLE", object())  # the fallback would fail
    assert read_checkpoint(path)["epoch"] == 300


def test_restricted_unpickler_resolves_nothing_outside_its_list():
    payload = pickle.dumps({"fn": print, "cls": socket.socket, "set": {1, 2}}, protocol=2)
    out = safe_unpickle._RestrictedUnpickler(io.BytesIO(payload)).load()
    assert out["set"] == {1, 2}
    assert isinstance(out["fn"], type) and issubclass(out["fn"], UnloadedObject)
    assert out["fn"].pickled_name == "builtins.print" and out["cls"].pickled_name == "socket.socket"


# ----------------------------------------------------------------------------------------------
# Downloads, against a fake web (nothing leaves this machine)
# ----------------------------------------------------------------------------------------------

class FakeResponse:
    def __init__(self, url, status, headers, body, drop_after=None):
        self.url, self.status, self.body, self.pos, self.drop_after = url, status, body, 0, drop_after
        self.headers = email.message.Message()
        for k, v in headers.items():
            self.headers[k] = v

    def read(self, n=-1):
        if self.drop_after is not None and self.pos >= self.drop_after:
            raise ConnectionResetError("connection reset by peer")
        end = len(self.body) if n < 0 else self.pos + n
        if self.drop_after is not None:
            end = min(end, self.drop_after)
        chunk, self.pos = self.body[self.pos:end], min(end, len(self.body))
        return chunk

    def geturl(self):
        return self.url

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class FakeWeb:
    """Serves ``files`` {url: (bytes, content type)} with HTTP Range support; records requests."""

    def __init__(self, files, drop_first_after=None):
        self.files, self.drop_first_after, self.requests = files, drop_first_after, []

    def __call__(self, request, timeout=None):
        url, byte_range = request.full_url, request.get_header("Range")
        self.requests.append((url, byte_range))
        if url not in self.files:
            raise urllib.error.HTTPError(url, 404, "Not Found", email.message.Message(), None)
        body, content_type = self.files[url]
        drop, self.drop_first_after = self.drop_first_after, None
        if byte_range is None:
            return FakeResponse(url, 200, {"Content-Type": content_type, "Content-Length": str(len(body))},
                                body, drop)
        start = int(re.fullmatch(r"bytes=(\d+)-", byte_range).group(1))
        if start >= len(body):
            headers = email.message.Message()
            headers["Content-Range"] = f"bytes */{len(body)}"
            raise urllib.error.HTTPError(url, 416, "Range Not Satisfiable", headers, None)
        return FakeResponse(url, 206, {"Content-Type": content_type, "Content-Length": str(len(body) - start),
                                       "Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"},
                            body[start:], drop)


def fake_entry(monkeypatch, name, body, **changes):
    """Point CHECKPOINTS[name] at a fake URL serving ``body``; returns (info, web)."""
    info = dataclasses.replace(CHECKPOINTS[name], url=f"https://example.invalid/{name}.pth", **changes)
    monkeypatch.setitem(CHECKPOINTS, name, info)
    web = FakeWeb({info.url: (body, "application/octet-stream")})
    monkeypatch.setattr(downloads, "_urlopen", web)
    return info, web


def test_download_resumes_after_an_interruption(tmp_path, monkeypatch):
    path, enc = save_stand_in(tmp_path, "mocov3_vit_small")
    body = path.read_bytes()
    info, web = fake_entry(monkeypatch, "mocov3_vit_small", body, sha256=hashlib.sha256(body).hexdigest())
    web.drop_first_after = len(body) // 3
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match=f"bytes received so far are kept in .*{info.filename}.part.*resume"):
        download("mocov3_vit_small", cache_dir=cache, progress=False)
    part = cache / (info.filename + ".part")
    assert part.stat().st_size == len(body) // 3 and not (cache / info.filename).exists()

    target = download("mocov3_vit_small", cache_dir=cache, progress=False)
    assert web.requests[-1] == (info.url, f"bytes={len(body) // 3}-")
    assert target == cache / info.filename and target.read_bytes() == body and not part.exists()
    model = load_official("mocov3_vit_small", target, **SMALL)
    torch.testing.assert_close(model.cls_token, enc["cls_token"])


def test_complete_part_file_is_finished_without_downloading_again(tmp_path, monkeypatch):
    body = b"PK\x03\x04" + b"x" * 1000
    info, web = fake_entry(monkeypatch, "dino_vit_base", body)
    (tmp_path / (info.filename + ".part")).write_bytes(body)
    assert download("dino_vit_base", cache_dir=tmp_path, progress=False).read_bytes() == body
    assert web.requests == [(info.url, f"bytes={len(body)}-")]  # answered 416: already complete


def test_wrong_sha256_is_refused_and_deleted(tmp_path, monkeypatch):
    info, _ = fake_entry(monkeypatch, "mae_vit_base", b"PK\x03\x04 corrupted", sha256="0" * 64)
    with pytest.raises(DownloadError, match="SHA-256 .* expected 0000"):
        download("mae_vit_base", cache_dir=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_html_page_instead_of_a_checkpoint_is_refused(tmp_path, monkeypatch):
    fake_entry(monkeypatch, "mae_vit_base", b"<!DOCTYPE html><html>Sign in</html>")
    with pytest.raises(DownloadError, match="not a torch checkpoint .*HTML page"):
        download("mae_vit_base", cache_dir=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_offline_download_says_which_url_and_how_to_place_the_file(tmp_path, monkeypatch):
    def offline(request, timeout=None):
        raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(downloads, "_urlopen", offline)
    info = CHECKPOINTS["mocov3_vit_base"]
    with pytest.raises(DownloadError) as err:
        load_pretrained("mocov3_vit_base", cache_dir=tmp_path, progress=False)
    message = str(err.value)
    for expected in (info.url, "seems to be offline", str(tmp_path / info.filename), "load_official("):
        assert expected in message
    assert list(tmp_path.iterdir()) == []


def test_http_error_is_reported_with_the_url(tmp_path, monkeypatch):
    monkeypatch.setattr(downloads, "_urlopen", FakeWeb({}))
    with pytest.raises(DownloadError, match="dino_vitbase16_pretrain.pth answered HTTP 404"):
        download("dino_vit_base", cache_dir=tmp_path, progress=False)


def test_cached_file_is_used_without_network(tmp_path, monkeypatch):
    def no_network(request, timeout=None):
        raise AssertionError("the network was used")

    monkeypatch.setattr(downloads, "_urlopen", no_network)
    monkeypatch.setenv("SSLVIT_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path / "checkpoints"
    target = tmp_path / "checkpoints" / CHECKPOINTS["mae_vit_base"].filename
    target.parent.mkdir()
    target.write_bytes(b"placed by hand")
    assert download("mae_vit_base") == target


DRIVE_WARNING_PAGE = """<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head><body>
<div class="uc-main"><div id="uc-text"><p class="uc-warning-caption">Google Drive can't scan this file for
viruses.</p><p class="uc-warning-subcaption"><span class="uc-name-size"><a href="/open?id={id}">simmim.pth</a>
(345M)</span> is too large for Google to scan for viruses. Would you still like to download this file?</p>
<form id="download-form" action="https://drive.usercontent.google.com/download" method="get">
<input type="submit" id="uc-download-link" class="goog-inline-block jfk-button" value="Download anyway"/>
<input type="hidden" name="id" value="{id}"><input type="hidden" name="export" value="download">
<input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="4d1c-&amp;-9f"></form>
</div></div></body></html>"""


def test_google_drive_virus_scan_page_is_answered(tmp_path, monkeypatch):
    drive_id = CHECKPOINTS["simmim_vit_base"].google_drive_id
    body = b"PK\x03\x04 simmim weights"
    confirm = ("https://drive.usercontent.google.com/download"
               f"?id={drive_id}&export=download&confirm=t&uuid=4d1c-%26-9f")
    web = FakeWeb({
        f"https://drive.google.com/uc?export=download&id={drive_id}":
            (DRIVE_WARNING_PAGE.replace("{id}", drive_id).encode(), "text/html; charset=utf-8"),
        confirm: (body, "application/octet-stream"),
    })
    monkeypatch.setattr(downloads, "_urlopen", web)
    target = download("simmim_vit_base", cache_dir=tmp_path, progress=False)
    assert target.read_bytes() == body and web.requests[-1] == (confirm, None)


def test_drive_confirm_url_old_link_and_quota_page():
    old = '<a id="uc-download-link" href="/uc?export=download&amp;confirm=AbCd&amp;id=XYZ">Download anyway</a>'
    assert drive_confirm_url(old, base="https://drive.google.com/uc?export=download&id=XYZ") == \
        "https://drive.google.com/uc?export=download&confirm=AbCd&id=XYZ"
    quota = ('<p class="uc-error-caption">Sorry, you can\'t view or download this file at this time.</p>'
             '<p class="uc-error-subcaption">Too many users have viewed or downloaded this file recently.</p>')
    with pytest.raises(DownloadError, match="Too many users have viewed or downloaded this file recently"):
        drive_confirm_url(quota)


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
    build = pretrained.build_model

    def build_like_this_timm(name, **overrides):
        model = build(name, **overrides)
        rpb = model.rel_pos_bias
        index = rpb.relative_position_index
        del rpb._buffers["relative_position_index"]
        rpb.register_buffer("relative_position_index", index, persistent=persistent)
        return model

    monkeypatch.setattr(pretrained, "build_model", build_like_this_timm)
    model = load_official("simmim_vit_base", path, **SMALL)
    assert ("rel_pos_bias.relative_position_index" in model.state_dict()) == persistent
    assert torch.equal(model.rel_pos_bias.relative_position_index,
                       reference_rpb_index(SMALL["img_size"] // SMALL["patch_size"]))


def test_mae_download_is_checked_against_its_published_md5_prefix(tmp_path, monkeypatch):
    assert CHECKPOINTS["mae_vit_base"].md5_prefix == "8cad7c"
    body = b"PK\x03\x04 not the published file"
    fake_entry(monkeypatch, "mae_vit_base", body)
    with pytest.raises(DownloadError, match="MD5 .* upstream publishes 8cad7c"):
        download("mae_vit_base", cache_dir=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []
    fake_entry(monkeypatch, "mae_vit_base", body, md5_prefix=hashlib.md5(body).hexdigest()[:6])
    assert download("mae_vit_base", cache_dir=tmp_path, progress=False).read_bytes() == body
