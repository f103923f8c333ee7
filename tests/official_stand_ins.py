"""Stand-ins for the official checkpoint files, a reference forward from the official code, and a fake
web, shared by test_official.py, test_safe_unpickle.py and test_download.py (nothing is downloaded).

The stand-ins are built from the key names and shapes of the official encoders, not from timm, and
the reference forward written from the official code (MoCo v3 / SimMIM ViTs) checks the converted
timm models: outputs, token states and attention probabilities (with SimMIM's shared relative
position bias) as ``capture`` records them.
"""

import dataclasses
import email.message
import re
import urllib.error

import torch
import torch.nn.functional as F

from sslvit_lite import download as downloads
from sslvit_lite.registry import CHECKPOINTS


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
