"""Optimizers by name or as Keras-style specs that build a ``torch.optim`` optimizer.

Defaults are Keras's (e.g. Adam ``epsilon=1e-7``, RMSprop ``rho=0.9``), since that is what the
seed's recipes were tuned with. Gradient clipping is an optimizer option, as in Keras:
``clipnorm`` (each weight's gradient on its own), ``global_clipnorm`` (all of them together) and
``clipvalue`` (element-wise).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import torch

from .. import _validation as V
from .. import runtime


def _fused_ok(params: list[torch.nn.Parameter]) -> bool:
    """Whether PyTorch's single-pass (fused) optimizer kernel can take these parameters."""
    return (
        runtime.settings.fused_optimizer
        and bool(params)
        and all(
            p.dtype in (torch.float32, torch.float16, torch.bfloat16, torch.float64)
            and p.device.type in ("cpu", "cuda")
            and not p.is_sparse
            for p in params
        )
    )


@dataclass
class Optimizer:
    learning_rate: float = 0.001
    clipnorm: float | None = None
    global_clipnorm: float | None = None
    clipvalue: float | None = None

    def __post_init__(self):
        owner = type(self).__name__
        if not isinstance(self.learning_rate, (int, float)) or self.learning_rate <= 0:
            V.fail(owner, "learning_rate", "a positive number", self.learning_rate)
        for name in ("clipnorm", "global_clipnorm", "clipvalue"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, (int, float)) or value <= 0):
                V.fail(owner, name, "a positive number or None", value)

    def build(self, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
        raise NotImplementedError  # pragma: no cover

    def clip(self, params: list[torch.nn.Parameter]) -> None:
        """Clip gradients in place, before the step."""
        grads = [p for p in params if p.grad is not None]
        if self.clipvalue is not None:
            for p in grads:
                p.grad.clamp_(-self.clipvalue, self.clipvalue)
        if self.clipnorm is not None:
            for p in grads:
                torch.nn.utils.clip_grad_norm_([p], self.clipnorm)
        if self.global_clipnorm is not None:
            torch.nn.utils.clip_grad_norm_(grads, self.global_clipnorm)

    def get_config(self) -> dict:
        return {"class_name": type(self).__name__, "config": asdict(self)}


@dataclass
class Adam(Optimizer):
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7

    def build(self, params):
        params = list(params)
        return torch.optim.Adam(
            params,
            lr=self.learning_rate,
            betas=(self.beta_1, self.beta_2),
            eps=self.epsilon,
            fused=_fused_ok(params) or None,
        )


@dataclass
class RMSprop(Optimizer):
    rho: float = 0.9
    momentum: float = 0.0
    epsilon: float = 1e-7

    def build(self, params):
        return torch.optim.RMSprop(
            params, lr=self.learning_rate, alpha=self.rho, momentum=self.momentum, eps=self.epsilon
        )


@dataclass
class SGD(Optimizer):
    learning_rate: float = 0.01
    momentum: float = 0.0
    nesterov: bool = False

    def build(self, params):
        return torch.optim.SGD(
            params, lr=self.learning_rate, momentum=self.momentum, nesterov=self.nesterov
        )


OPTIMIZERS = {"adam": Adam, "rmsprop": RMSprop, "sgd": SGD}


def get(optimizer) -> Optimizer | torch.optim.Optimizer:
    """An optimizer spec from a name, a spec, or a ready ``torch.optim.Optimizer``."""
    if isinstance(optimizer, (Optimizer, torch.optim.Optimizer)):
        return optimizer
    if not isinstance(optimizer, str):
        V.fail(
            "compile",
            "optimizer",
            "'adam', 'sgd', 'rmsprop', an rnnkit optimizer or a torch.optim.Optimizer",
            optimizer,
            TypeError,
        )
    V.choice("compile", "optimizer", optimizer.lower(), OPTIMIZERS)
    return OPTIMIZERS[optimizer.lower()]()


def from_config(config: dict) -> Optimizer:
    classes = {cls.__name__: cls for cls in OPTIMIZERS.values()}
    return classes[config["class_name"]](**config["config"])
