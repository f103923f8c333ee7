"""Reading checkpoint files without running code from them.

``torch.load(weights_only=True)`` refuses files that pickle anything but tensors and plain
containers; the official SimMIM file also pickles a yacs config object. For such files a
restricted unpickler rebuilds the tensors with torch's own functions and replaces every other
class or function the file names by an inert :class:`UnloadedObject`, so no code from the file
runs (:func:`read_checkpoint`).
"""

from __future__ import annotations

import _compat_pickle
import os
import pickle
import types
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from sslvit_lite.checkpoint import CheckpointError


class UnloadedObject(dict):
    """Inert stand-in for a class or function that a checkpoint names but that is never imported.

    ``pickled_name`` is the name in the file ("yacs.config.CfgNode"); the pickled arguments,
    state and items are kept as plain data (dict items in the dict itself) for inspection.
    """

    pickled_name = ""
    args: tuple = ()
    state: Any = None
    listitems: tuple = ()

    def __init__(self, *args: Any):  # called instead of the named class or function
        super().__init__()
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def append(self, item: Any) -> None:
        self.listitems = self.listitems + (item,)

    def extend(self, items: Any) -> None:
        self.listitems = self.listitems + tuple(items)

    def __repr__(self) -> str:
        return f"<unloaded {self.pickled_name} {dict(self)!r}>"


_TENSOR_GLOBALS = {
    f"{fn.__module__}.{fn.__name__}": fn
    for fn in (torch._utils._rebuild_tensor, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_tensor_v3,
               torch._utils._rebuild_parameter, torch._utils._rebuild_parameter_with_state)
} | {
    "collections.OrderedDict": OrderedDict, "torch.Size": torch.Size,
    "builtins.set": set, "builtins.frozenset": frozenset,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only tensor-rebuild functions and a few containers; everything else is inert."""

    def find_class(self, module: str, name: str) -> Any:
        # Protocol-2 pickles use Python 2 names (__builtin__.set): map them as pickle itself does.
        module, name = _compat_pickle.NAME_MAPPING.get(
            (module, name), (_compat_pickle.IMPORT_MAPPING.get(module, module), name))
        qualified = f"{module}.{name}"
        if qualified in _TENSOR_GLOBALS:
            return _TENSOR_GLOBALS[qualified]
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        return type(name, (UnloadedObject,), {"pickled_name": qualified})


def _restricted_load(file: Any, **kwargs: Any) -> Any:
    return _RestrictedUnpickler(file, **kwargs).load()


# A module-like namespace for torch.load(pickle_module=...): torch subclasses its Unpickler.
_RESTRICTED_PICKLE = types.ModuleType("sslvit_lite_restricted_pickle")
_RESTRICTED_PICKLE.Unpickler = _RestrictedUnpickler
_RESTRICTED_PICKLE.load = _restricted_load
_RESTRICTED_PICKLE.UnpicklingError = pickle.UnpicklingError


def read_checkpoint(path: str | os.PathLike) -> Any:
    """Everything stored in the checkpoint at ``path``, tensors on the CPU, without running its code.

    First ``torch.load(weights_only=True)``. When that refuses the file because it pickles
    other objects (SimMIM's yacs config), the file is read again with a restricted unpickler:
    tensors are rebuilt by torch's own functions and every other class or function named in
    the file becomes an inert :class:`UnloadedObject`. A truncated or foreign file raises a
    CheckpointError that says so.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as refused:
        first_error: Exception = refused
    except Exception as err:  # truncated zip, random bytes: torch raises RuntimeError & co.
        raise _unreadable(path, err) from err
    try:
        return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_RESTRICTED_PICKLE)
    except Exception as err:
        raise _unreadable(path, err, first_error) from err


def _unreadable(path: Path, err: Exception, first: Exception | None = None) -> CheckpointError:
    detail = f"{type(err).__name__}: {str(err).strip()[:300]}"
    if first is not None:
        detail = f"{type(first).__name__}: {str(first).strip()[:200]}; then {detail}"
    return CheckpointError(
        f"cannot read {path} ({path.stat().st_size:,} bytes) as a PyTorch checkpoint: the file is "
        f"truncated, corrupt or not a torch.save file. Delete it and download it again. ({detail})")


# ----------------------------------------------------------------------------------------------
# Downloads