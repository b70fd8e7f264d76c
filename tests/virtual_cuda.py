"""Virtual CUDA for CPU-only machines: run the CUDA code paths, catch device mixing.

Inside ``virtual_cuda()``, torch reports one CUDA device, and every tensor that
the code places on ``cuda`` (a ``device=`` argument, ``.to``/``.cuda``, a module
moved there, or the output of an op that reads such a tensor) is a CPU tensor
marked as being on ``cuda:0``: its ``.device`` and ``.is_cuda`` say so, so each
``device.type == "cuda"`` branch of the library is taken, and the numbers are
the CPU's. A ``torch.overrides.TorchFunctionMode`` sees every torch call and
raises ``DeviceMixError`` where real CUDA would refuse the call:

* tensors on both devices in one op (a CPU tensor with at least one dimension
  meeting a CUDA one; 0-d CPU tensors are scalars, which CUDA ops accept; CPU
  index tensors into a CUDA tensor are allowed, as torch allows them),
* ``.numpy()``, ``np.asarray`` or ``pin_memory`` on a CUDA tensor,
* a CUDA index tensor into a CPU tensor, CUDA values written into a CPU tensor,
* a (CPU) ``torch.Generator`` passed to an op that draws on CUDA.

What it cannot show: anything numeric (TF32, bf16 kernels, reduction order),
asynchrony (non-blocking copies read too early), memory, speed, and misuse of
CUDA-only APIs the CPU build lacks (those raise their own errors here).
Cross-device calls that torch allows are exempt: ``copy_``, ``.to``, the
packed-sequence lengths (``batch_sizes`` must be on the CPU) and the RNN ops
that take them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

CUDA = torch.device("cuda", 0)
_MARK = "_virtual_cuda"
_DESCRIPTORS = {
    name: getattr(torch._C.TensorBase, name)
    for name in ("device", "is_cuda", "data", "grad")
}
# calls that may take tensors on both devices (torch allows these)
_CROSS_NAMES = {
    "copy_",
    "_has_compatible_shallow_copy_type",
    "__set__",
    "__get__",
    "_pack_padded_sequence",
    "lstm",
    "gru",
    "rnn_tanh",
    "rnn_relu",
}


class DeviceMixError(RuntimeError):
    """A call that real CUDA would refuse (see the module docstring)."""


def on_cuda(t: Any) -> bool:
    """Whether ``t`` is a tensor marked as living on the virtual CUDA device."""
    return isinstance(t, torch.Tensor) and bool(getattr(t, _MARK, False))


def _mark(t: Any, cuda: bool = True) -> Any:
    if isinstance(t, torch.Tensor):
        setattr(t, _MARK, cuda)
    return t


def _tensors(x: Any, out: list[torch.Tensor]) -> list[torch.Tensor]:
    if isinstance(x, torch.Tensor):
        out.append(x)
    elif isinstance(x, list | tuple):
        for y in x:
            _tensors(y, out)
    elif isinstance(x, dict):
        for y in x.values():
            _tensors(y, out)
    return out


def _is_cuda(device: Any) -> bool:
    if isinstance(device, torch.device):
        return device.type == "cuda"
    if isinstance(device, str):
        return device.startswith("cuda")
    return isinstance(device, int) and not isinstance(device, bool)


def _getter(func: Any, name: str) -> bool:
    return (
        getattr(func, "__name__", "") == "__get__"
        and getattr(func, "__self__", None) is _DESCRIPTORS[name]
    )


class _Mode(TorchFunctionMode):
    def __torch_function__(
        self, func: Any, types: Any, args: Any = (), kwargs: Any = None
    ) -> Any:
        kwargs = dict(kwargs or {})
        name = getattr(func, "__name__", str(func))
        special = self._special(func, name, args, kwargs)
        if special is not NotImplemented:
            return special
        to_cuda = "device" in kwargs and _is_cuda(kwargs["device"])
        if to_cuda:
            kwargs["device"] = "cpu"
        inputs = _tensors(list(args), []) + _tensors(kwargs, [])
        cuda = [t for t in inputs if on_cuda(t)]
        host = [t for t in inputs if not on_cuda(t) and t.dim() > 0]
        if kwargs.get("generator") is not None and (to_cuda or cuda):
            raise DeviceMixError(f"{name}: a CPU generator draws on CUDA")
        if func in (torch.Tensor.__getitem__, torch.Tensor.__setitem__):
            self._check_indexing(func, name, args)
        elif cuda and host and name not in _CROSS_NAMES:
            raise DeviceMixError(
                f"{name}: CUDA tensors {[tuple(t.shape) for t in cuda][:3]} with "
                f"CPU tensors {[tuple(t.shape) for t in host][:3]}"
            )
        out = func(*args, **kwargs)
        if name == "_pack_padded_sequence":  # batch_sizes stay on the CPU
            return (_mark(out[0], on_cuda(args[0])), out[1])
        indexes_cpu = func is torch.Tensor.__getitem__ and not on_cuda(args[0])
        if (to_cuda or cuda) and func is not torch.Tensor.__setitem__:
            if not indexes_cpu:
                for t in _tensors(out if isinstance(out, list | tuple) else [out], []):
                    _mark(t)
        return out

    def _special(self, func: Any, name: str, args: Any, kwargs: Any) -> Any:
        x = args[0] if args else None
        if _getter(func, "device"):
            return CUDA if on_cuda(x) else func(*args)
        if _getter(func, "is_cuda"):
            return on_cuda(x)
        if _getter(func, "data") or _getter(func, "grad"):
            out = func(*args)
            return _mark(out) if on_cuda(x) and out is not None else out
        if func is torch.Tensor.get_device:
            return 0 if on_cuda(x) else -1
        if func in (
            torch.Tensor.numpy,
            torch.Tensor.__array__,
            torch.Tensor.pin_memory,
        ):
            if on_cuda(x):
                raise DeviceMixError(f"{name} of a CUDA tensor")
            return (
                x.clone() if func is torch.Tensor.pin_memory else func(*args, **kwargs)
            )
        if func is torch.Tensor.is_pinned:
            return False
        if func is torch.Tensor.cpu:
            out = func(*args, **kwargs)
            return _mark(out.clone() if out is x else out, False)
        if func is torch.Tensor.cuda:
            return x if on_cuda(x) else _mark(x.clone())
        if func is torch.Tensor.to:
            return self._to(func, args, kwargs)
        return NotImplemented

    @staticmethod
    def _check_indexing(func: Any, name: str, args: Any) -> None:
        base = args[0]
        index = _tensors([args[1]], [])
        if not on_cuda(base) and any(on_cuda(t) for t in index):
            raise DeviceMixError(f"{name}: a CUDA index into a CPU tensor")
        if func is torch.Tensor.__setitem__ and len(args) > 2:
            value = args[2]
            if not on_cuda(base) and on_cuda(value):
                raise DeviceMixError(f"{name}: CUDA values into a CPU tensor")

    @staticmethod
    def _to(func: Any, args: Any, kwargs: Any) -> Any:
        x, rest = args[0], list(args[1:])
        target: bool | None = None
        for i, a in enumerate(rest):
            if isinstance(a, torch.Tensor):
                target, rest[i] = on_cuda(a), a.dtype
            elif isinstance(a, torch.device | str) or (
                isinstance(a, int) and not isinstance(a, bool)
            ):
                target, rest[i] = _is_cuda(a), "cpu"
        if "device" in kwargs:
            target, kwargs["device"] = _is_cuda(kwargs["device"]), "cpu"
        out = func(x, *rest, **kwargs)
        cuda = on_cuda(x) if target is None else target
        if out is x and cuda != on_cuda(x):
            out = x.clone()
        return _mark(out, cuda)


def _module_to(original: Any) -> Any:
    def to(self: nn.Module, *args: Any, **kwargs: Any) -> nn.Module:
        device = torch._C._nn._parse_to(*args, **kwargs)[0]
        out = original(self, *args, **kwargs)
        if device is not None:  # parameters keep their identity: mark them
            for t in [*self.parameters(), *self.buffers()]:
                _mark(t, device.type == "cuda")
                _mark(t.data, device.type == "cuda")
        return out

    return to


def _marked_copy(original: Any) -> Any:
    def deepcopy(self: torch.Tensor, memo: dict[int, Any]) -> torch.Tensor:
        return _mark(original(self, memo), on_cuda(self))

    return deepcopy


@contextlib.contextmanager
def virtual_cuda() -> Iterator[None]:
    """Run the block with one virtual CUDA device (see the module docstring)."""
    cuda = torch.cuda
    fakes: dict[str, Any] = {
        "is_available": lambda: True,
        "device_count": lambda: 1,
        "current_device": lambda: 0,
        "get_rng_state": lambda device="cuda": torch.get_rng_state(),
        "set_rng_state": lambda state, device="cuda": None,
        "manual_seed": lambda seed: None,
        "manual_seed_all": lambda seed: None,
        "synchronize": lambda device=None: None,
        "is_bf16_supported": lambda *a, **k: True,
        "empty_cache": lambda: None,
        # (free, total) bytes, as an 80 GiB device with 64 GiB free
        "mem_get_info": lambda device=None: (64 * 2**30, 80 * 2**30),
    }
    saved = {name: getattr(cuda, name) for name in fakes}
    patched = [
        (nn.Module, "to", _module_to(nn.Module.to)),
        (nn.Module, "cuda", lambda self, device=None: self.to(CUDA)),
        (nn.Parameter, "__deepcopy__", _marked_copy(nn.Parameter.__deepcopy__)),
        (torch.Tensor, "__deepcopy__", _marked_copy(torch.Tensor.__deepcopy__)),
    ]
    originals = [(owner, attr, owner.__dict__[attr]) for owner, attr, _ in patched]
    try:
        for name, fake in fakes.items():
            setattr(cuda, name, fake)
        for owner, attr, new in patched:
            setattr(owner, attr, new)
        with _Mode():
            yield
    finally:
        for name, old in saved.items():
            setattr(cuda, name, old)
        for owner, attr, old in originals:
            setattr(owner, attr, old)
