"""hls4ml availability and model preparation: a static torch.fx graph of the model, adapters for
the layers hls4ml's PyTorch front end reads differently, and the unsupported operations."""

from __future__ import annotations

import copy
import shutil
from typing import Any

__all__ = ["hls4ml_available"]


# --------------------------------------------------------------------------- availability


def hls4ml_available() -> tuple[bool, str]:
    """(True, "") when hls4ml imports and g++ is on PATH; else (False, the reason)."""
    try:
        import hls4ml  # noqa: F401
    except Exception as err:  # ImportError or a broken install
        return False, f"hls4ml is not importable ({err}); pip install hls4ml"
    if shutil.which("g++") is None:
        return False, "g++ is not on PATH; hls4ml compiles its C++ emulation with g++"
    return True, ""


def _require_hls4ml() -> Any:
    try:
        import hls4ml
    except ImportError as err:
        raise ImportError(
            "colliderlab.export.hls needs hls4ml (pip install hls4ml); it converts PyTorch models "
            "and compiles their bit-accurate C++ emulation"
        ) from err
    return hls4ml


def _pytorch_frontend() -> Any:
    import importlib

    # ``hls4ml.converters.pytorch_to_hls`` as an attribute is a function of the same name
    return importlib.import_module("hls4ml.converters.pytorch_to_hls")


# --------------------------------------------------------------------------- model preparation


def _input_shape(input_shape: Any) -> tuple[int, ...] | list[tuple[int, ...]]:
    if isinstance(input_shape, int):
        return (int(input_shape),)
    if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (tuple, list)):
        return [tuple(int(s) for s in shp) for shp in input_shape]
    return tuple(int(s) for s in input_shape)


def _swap_zero_pads(module: Any) -> None:
    """Replace every nn.ZeroPad1d/2d by the identical ConstantPad (which hls4ml converts)."""
    from torch import nn

    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.ZeroPad2d:
                setattr(parent, name, nn.ConstantPad2d(child.padding, 0.0))
            elif type(child).__name__ == "ZeroPad1d":
                setattr(parent, name, nn.ConstantPad1d(child.padding, 0.0))


def _cnn_adapter(model: Any) -> Any:
    """The registry CNN as ``features -> Flatten -> head`` (same module names, no shape checks)."""
    from torch import nn

    class CNNGraph(nn.Module):
        def __init__(self, features: nn.Module, head: nn.Module) -> None:
            super().__init__()
            self.features = features
            self.flatten = nn.Flatten()
            self.head = head

        def forward(self, image: Any) -> Any:
            return self.head(self.flatten(self.features(image)))

    return CNNGraph(model.features, model.head)


def _tracer_class() -> type:
    import torch

    from colliderlab.nn.layers import check_input

    class Tracer(torch.fx.Tracer):
        """hls4ml's leaf rule (torch.nn modules but Sequential); ``check_input`` kept opaque."""

        def __init__(self) -> None:
            super().__init__(autowrap_functions=(check_input,))

        def is_leaf_module(self, m: Any, module_qualified_name: str) -> bool:
            mod = type(m).__module__
            leaf = mod.startswith(("torch.nn", "torch.ao.nn", "brevitas.nn"))
            return leaf and not isinstance(m, torch.nn.Sequential)

    return Tracer


def _static_graph(model: Any) -> Any:
    """A CPU float copy of ``model`` that torch.fx (and so hls4ml) can trace.

    Raises ValueError when ``forward`` has data-dependent Python control flow.
    """
    import torch

    from colliderlab.nn.layers import check_input

    m = copy.deepcopy(model).cpu().float().eval()
    if getattr(m, "model_name", None) == "cnn" and hasattr(m, "features") and hasattr(m, "head"):
        m = _cnn_adapter(m)
    _swap_zero_pads(m)
    try:
        graph = _tracer_class()().trace(m)
    except Exception as err:  # torch.fx.proxy.TraceError and friends
        raise ValueError(
            f"torch.fx cannot trace {type(model).__name__}.forward, which hls4ml's PyTorch "
            f"frontend needs: {err}. Remove data-dependent Python control flow (e.g. input "
            "checks) in a thin wrapper module or pass the plain sub-module (e.g. model.net)"
        ) from err
    gm = torch.fx.GraphModule(m, graph, class_name=type(m).__name__)
    for node in list(gm.graph.nodes):
        if node.op == "call_function" and node.target is check_input:
            gm.graph.erase_node(node)
    gm.graph.eliminate_dead_code()  # the shape reads that only fed the checks
    gm.recompile()
    gm.eval()
    return gm


def _unsupported_ops(gm: Any) -> list[str]:
    """Graph nodes hls4ml's PyTorch frontend has no handler for, grouped by operation."""
    front = _pytorch_frontend()
    supported = set(front.get_supported_pytorch_layers()) | {"Dropout", "Sequential"}
    name_map = front.layer_name_map
    modules = dict(gm.named_modules())
    found: dict[str, list[str]] = {}
    for node in gm.graph.nodes:
        if node.op == "call_module":
            cls = type(modules[node.target]).__name__
            if cls not in supported:
                found.setdefault(f"module {cls}", []).append(str(node.target))
        elif node.op in ("call_function", "call_method"):
            op = node.name
            if op.split("_")[-1].isdigit():
                op = "_".join(op.split("_")[:-1])
            op = name_map.get(op, op)
            if op == "getitem" or op in supported:
                continue
            if node.op == "call_method":
                what = f"Tensor.{node.target}"
            else:
                fn = node.target
                what = f"{getattr(fn, '__module__', '') or ''}.{getattr(fn, '__name__', fn)}"
                what = what.replace("_operator.", "operator.").lstrip(".")
                if what == "builtins.getattr" and len(node.args) > 1:
                    what = f"tensor attribute .{node.args[1]}"
            found.setdefault(what, []).append(node.name)
    return [f"{what} (at {', '.join(where)})" for what, where in found.items()]
