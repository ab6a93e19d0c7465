"""Device and dtype plumbing shared by every torch-using stage (a leaf: imports nothing from kernelreg but leaves)."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from kernelreg._log import logger, outside_stacklevel
from kernelreg.exceptions import DeviceError, DeviceWarning

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(device: str | torch.device | None) -> torch.device:
    """Turn the user's ``device`` parameter into a torch.device, failing loudly for unavailable CUDA."""
    if device is None:
        device = "cpu"
    if isinstance(device, torch.device):
        device_str = str(device)
    elif isinstance(device, str):
        device_str = device.strip().lower()
    else:
        raise DeviceError(
            f"device must be 'cpu', 'cuda', 'cuda:<index>', 'auto' or a torch.device; got {device!r}."
        )
    if device_str == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        logger.info("device='auto': no CUDA device visible to torch, using the CPU.")
        return torch.device("cpu")
    try:
        resolved = torch.device(device_str)
    except (RuntimeError, ValueError) as exc:
        raise DeviceError(
            f"device={device!r} is not a torch device; use 'cpu', 'cuda', 'cuda:<index>' or 'auto'."
        ) from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device={device!r} was requested but torch sees no CUDA GPU on this machine "
                f"(torch {torch.__version__}); use device='cpu' or device='auto'."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise DeviceError(
                f"device={device!r} was requested but only {torch.cuda.device_count()} CUDA "
                "device(s) are visible."
            )
    elif resolved.type != "cpu":
        raise DeviceError(f"device={device!r} is not supported; use 'cpu', 'cuda' or 'auto'.")
    return resolved


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """Map 'float32' / 'float64' (or a torch dtype) to a torch floating dtype."""
    if isinstance(dtype, torch.dtype):
        if dtype in (torch.float32, torch.float64):
            return dtype
    elif isinstance(dtype, str) and dtype in _DTYPES:
        return _DTYPES[dtype]
    raise ValueError(f"dtype must be 'float32' or 'float64'; got {dtype!r}.")


def loadable_device(device: torch.device | None, owner: str) -> torch.device | None:
    """The device an unpickled object fitted on ``device`` lives on here: the same one, or the CPU with a warning.

    Objects fitted on a GPU pickle their tensors on the CPU (see the ``__getstate__`` of the feature
    maps and estimators); on load they go back to that GPU when this machine has it, as skorch does.
    """
    if device is None or device.type == "cpu":
        return device
    if device.type == "cuda" and torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count():
        return device
    warnings.warn(
        f"{owner} was fitted on device {str(device)!r}, which this machine does not have (torch "
        f"{torch.__version__} sees {torch.cuda.device_count() if torch.cuda.is_available() else 'no'} CUDA "
        "device(s)); it is loaded on the CPU instead, with the same parameters. Refit or predict here with "
        "device='cpu' (or device='auto').",
        DeviceWarning,
        stacklevel=outside_stacklevel(),
    )
    return torch.device("cpu")


def module_to_cpu(module: torch.nn.Module) -> torch.nn.Module:
    """The module itself when every tensor is on the CPU, else a CPU copy (for pickling; the original stays put)."""
    tensors = [*module.parameters(), *module.buffers()]
    if all(t.device.type == "cpu" for t in tensors):
        return module
    import copy

    return copy.deepcopy(module).to("cpu")


def to_numpy64(tensor: torch.Tensor) -> np.ndarray:
    """The one place a tensor leaves torch: detached, on the CPU, float64."""
    return tensor.detach().to("cpu", dtype=torch.float64).numpy()


def as_tensor(array, device: torch.device, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Bring a numpy array (or tensor) onto ``device`` with ``dtype``, copying only when it must.

    A tensor already on ``device`` in ``dtype`` is returned as it is (same storage: no host round
    trip, no copy); a CPU numpy array of ``dtype`` is viewed, not copied (read-only arrays too:
    the callers only read). Anything else is converted once, on ``device``.
    """
    if isinstance(array, torch.Tensor):
        return array if (array.device == device and array.dtype == dtype) else array.to(device=device, dtype=dtype)
    array = np.asarray(array)
    if any(stride < 0 for stride in array.strides):  # torch cannot view negative strides
        array = np.ascontiguousarray(array)
    with warnings.catch_warnings():  # read-only arrays: torch warns that writes would be undefined
        warnings.simplefilter("ignore", UserWarning)
        tensor = torch.from_numpy(array) if array.dtype.kind in "fiub" else torch.as_tensor(array)
    return tensor if (tensor.device == device and tensor.dtype == dtype) else tensor.to(device=device, dtype=dtype)


def seed_generator(rng: np.random.RandomState) -> torch.Generator:
    """A local CPU torch.Generator seeded from a numpy RandomState: no global torch seed is touched."""
    return torch.Generator().manual_seed(int(rng.randint(2**31 - 1)))
