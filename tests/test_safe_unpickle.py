"""Reading checkpoints without running their code (sslvit_lite.safe_unpickle)."""

import io
import pickle
import socket

import torch

from official_stand_ins import RAN, FakeCfgNode, WritesFileOnLoad, save_stand_in
from sslvit_lite import safe_unpickle
from sslvit_lite.safe_unpickle import UnloadedObject, read_checkpoint


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
