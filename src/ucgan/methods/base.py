"""The method interface: what every GAN method implements, and nothing else.

The training loop (:mod:`ucgan.training`) owns seeding, data sampling, step counting, EMA, grids,
logging, checkpoints and divergence checks. A method owns its networks, optimisers and one
``train_step``. Evaluation (:mod:`ucgan.metrics`) only uses ``sample``, ``assign`` and ``mixing``.
Adding a method = one file in this package defining a subclass decorated with ``@register``, plus a
config block in params.yaml.
"""
from __future__ import annotations

import abc
import dataclasses
from typing import Any, ClassVar, Mapping

import numpy as np
import torch
from torch import nn

from ..data.info import DataInfo as DataInfo  # part of the method interface; defined with the data


@dataclasses.dataclass(frozen=True)
class MethodConfig:
    """Fields every method has; methods subclass this with their own hyperparameters."""

    batch_size: int = 64
    latent_dim: int = 64
    width: float = 1.0        # channel/width multiplier of the appendix-E networks (CPU profile < 1)
    num_components: int = 0   # 0 = number of classes of the dataset (the papers' protocol)

    def validate(self, where: str) -> None:
        from ..config import require

        require(self.batch_size > 0, f"{where}.batch_size", "must be positive")
        require(self.latent_dim > 0, f"{where}.latent_dim", "must be positive")
        require(self.width > 0, f"{where}.width", "must be positive")
        require(self.num_components >= 0, f"{where}.num_components", "must be >= 0 (0 = number of classes)")


class Method(abc.ABC):
    """Base class of all GAN methods.

    Subclasses set ``name`` and ``Config`` and implement the abstract methods. ``state_dict`` is
    built generically from :meth:`modules`, :meth:`optimizers` and :meth:`extra_state`; everything
    returned must be tensors or plain Python data so checkpoints load with ``weights_only=True``.
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type[MethodConfig]] = MethodConfig
    #: True for methods that need the pretrain/cluster stage outputs (InfoSCC-GAN, LSC-GAN).
    needs_encoder: ClassVar[bool] = False
    #: Pipeline artifacts the method trains through or conditions on ("encoder" = the pretrain
    #: stage's SimCLR encoder, "clusters"/"classifier" = the cluster stage's outputs). Evaluation
    #: refuses to score a method with a feature extractor it consumed: a generator optimised against
    #: a network looks good to that network (see :mod:`ucgan.metrics.protocol`).
    consumes: ClassVar[tuple[str, ...]] = ()
    #: Where the method's attributes come from: "learned" (its own assignment rule) or
    #: "cluster-stage" (k-means inner attributes it was given); the report does not present the
    #: NMI of the latter as learned.
    attributes_from: ClassVar[str] = "learned"
    #: False for unconditional generators (WGAN): no components, so ICFID, mixing error and attribute
    #: accuracy are undefined (null with a reason) and such a run is never the registry champion.
    conditional: ClassVar[bool] = True
    #: Which network output :meth:`representation` returns (recorded as ``protocol.nmi_representation``).
    representation_name: ClassVar[str] = "features(x)"
    #: True when the method has its own classifier of generated samples (InfoSCC-GAN's Cla(Enc(x)),
    #: CGPGAN's Q): evaluation then adds the paper's attribute control accuracy with it.
    own_classifier: ClassVar[bool] = False
    #: Components whose learned share is below this are left out of ICFID's matching (CGPGAN: 1%, the
    #: categories its paper drops because the dynamic prior killed them).
    min_component_share: ClassVar[float] = 0.0

    def __init__(self, cfg: MethodConfig, info: DataInfo, device: torch.device) -> None:
        self.cfg = cfg
        self.info = info
        self.device = device

    def attach(self, resources: Mapping[str, Any]) -> None:
        """Receive pipeline artifacts before training/evaluation. Keys the stages pass:
        ``encoder_path`` (pretrain stage ``encoder.pt``), ``clusters_path`` (cluster stage
        ``clusters.npz``), ``classifier_path`` (``classifier.pt``), ``train_x`` (np.ndarray of the
        training split). Methods with ``needs_encoder`` use them; others ignore them."""

    # ------------------------------------------------------------------ components
    @property
    def num_components(self) -> int:
        """Number of mixture components / discrete codes / clusters the method generates from."""
        return self.cfg.num_components or self.info.num_classes

    # ------------------------------------------------------------------ training
    @abc.abstractmethod
    def train_step(self, real: torch.Tensor, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        """One optimisation step on a real batch (already on ``self.device``).

        Returns scalar losses/diagnostics (0-d tensors) keyed by name; the loop checks them for
        NaN/Inf and logs them. ``step`` counts from 0; ``total_steps`` lets schedules decay.
        """

    # ------------------------------------------------------------------ generation / inference
    @abc.abstractmethod
    def sample(
        self, n: int, component: int | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``n`` samples in the data's value range; from one component when ``component`` is given,
        else from the learned mixture. A seeded ``generator`` gives fixed noise (sample grids)."""

    def assign(self, x: torch.Tensor) -> torch.Tensor | None:
        """Component id of each real sample (the method's own rule), or None when it has none
        (evaluation then uses k-means on :meth:`features`)."""
        return None

    def features(self, x: torch.Tensor) -> torch.Tensor | None:
        """Features of real data for the k-means NMI protocol (e.g. D's penultimate layer)."""
        return None

    def representation(self, x: torch.Tensor) -> torch.Tensor | None:
        """The method's own representation of real data for SLOGAN's NMI protocol (§4.3, appendix A):
        k-means with k = K on it gives ``nmi``. Default: :meth:`features`."""
        return self.features(x)

    def mixing(self) -> np.ndarray | None:
        """Learned share of each component (sums to 1), or None if the method assumes uniform."""
        return None

    # ------------------------------------------------------------------ state
    @abc.abstractmethod
    def modules(self) -> dict[str, nn.Module]:
        """Named networks (G, D, E, ...) including EMA copies."""

    @abc.abstractmethod
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Named optimisers."""

    def ema_modules(self) -> dict[str, nn.Module]:
        """Networks whose exponential moving average the loop keeps when ``train.ema_decay > 0``
        (normally the generator). ``sample`` under :func:`ucgan.training.use_ema` uses the averages."""
        return {}

    def extra_state(self) -> dict[str, Any]:
        """Non-module state (prior parameters, cluster tables, schedules): tensors/plain data only."""
        return {}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        """Inverse of :meth:`extra_state`."""

    def train(self, mode: bool = True) -> "Method":
        for m in self.modules().values():
            m.train(mode)
        return self

    def eval(self) -> "Method":
        return self.train(False)

    def state_dict(self) -> dict[str, Any]:
        return {
            "modules": {k: m.state_dict() for k, m in self.modules().items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers().items()},
            "extra": self.extra_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for k, m in self.modules().items():
            m.load_state_dict(state["modules"][k])
        for k, o in self.optimizers().items():
            o.load_state_dict(state["optimizers"][k])
        self.load_extra_state(state.get("extra", {}))
