"""The method interface: what every GAN method implements, and nothing else.

The training loop (:mod:`ucgan.training`) owns seeding, data sampling, step counting, EMA, grids,
logging, checkpoints and divergence checks. A method owns its networks, optimisers and one
``train_step``. Evaluation (:mod:`ucgan.metrics`) only uses ``sample``, ``assign`` and ``mixing``.
Adding a method = one file in this package defining a subclass decorated with ``@register``, plus a
config block in params.yaml.

The networks and optimisers are declarative: a method registers each one where it builds it
(:meth:`Method.network`, :meth:`Method.optimizer`) and the base derives ``modules`` /
``optimizers`` / ``ema_modules`` / ``state_dict`` / ``train`` from what was registered, so a method
file holds only what its paper specifies. The helpers below (:func:`update`, :func:`frozen`,
:meth:`Method.components`, :meth:`Method.code_latent`, ...) are the blocks every method repeated.
They draw random numbers in exactly the order the hand-written code did, so a seeded run gives the
same numbers with or without them.
"""
from __future__ import annotations

import abc
import contextlib
import contextvars
import dataclasses
from typing import Any, ClassVar, Iterator, Mapping, Sequence, TypeVar

import numpy as np
import torch
from torch import nn

from ..data.info import DataInfo as DataInfo  # part of the method interface; defined with the data
from ..nets import Discriminator, build_discriminator, build_generator

ModuleT = TypeVar("ModuleT", bound=nn.Module)
#: What :meth:`Method.optimizer` optimises: a network, several networks as one parameter group (in
#: that order), or param-group dicts whose ``"params"`` are a network or a sequence of networks.
Params = nn.Module | Sequence[nn.Module] | Sequence[Mapping[str, Any]]
#: ``representation_name`` of methods whose NMI representation is D's penultimate pre-activation
#: (SLOGAN appendix A, methods without an encoder): :meth:`Method.representation` then returns it.
D_PREACTIVATION = "D penultimate pre-activation"


def _parameters(nets: nn.Module | Sequence[nn.Module]) -> list[nn.Parameter]:
    mods = [nets] if isinstance(nets, nn.Module) else list(nets)
    return [p for m in mods for p in m.parameters()]


def param_groups(params: Params) -> list[Any]:
    """``params`` as torch optimisers take them: the parameters of the networks in order, or the
    param-group dicts with their networks replaced by their parameters (per-group options kept)."""
    if isinstance(params, nn.Module):
        return _parameters(params)
    items = list(params)
    if items and isinstance(items[0], Mapping):
        return [{**g, "params": _parameters(g["params"])} for g in items if isinstance(g, Mapping)]
    return _parameters([m for m in items if isinstance(m, nn.Module)])


def update(loss: torch.Tensor, *optimizers: torch.optim.Optimizer) -> None:
    """One gradient step of ``optimizers`` on ``loss``: clear their gradients, backpropagate once, step
    each. Several optimisers share one backward pass when their parameters are disjoint (CGPGAN's D
    and Q) or are updated simultaneously from one forward pass (SLOGAN's G and E)."""
    for opt in optimizers:
        opt.zero_grad(set_to_none=True)
    torch.autograd.backward(loss)  # = loss.backward(), which torch's stubs leave untyped
    for opt in optimizers:
        opt.step()


#: Set while a method is built only to sample, assign and score (:func:`for_inference`).
_INFERENCE: contextvars.ContextVar[bool] = contextvars.ContextVar("ucgan_method_inference", default=False)


@contextlib.contextmanager
def for_inference() -> Iterator[None]:
    """Methods built inside this block get no optimisers (:meth:`Method.optimizer` returns a stand-in).

    Why: the first ``torch.optim`` constructor of a process imports ``torch._dynamo``, about a
    sixth of an evaluate stage's import time (6.1 of 35.8 s in one profile), and a run rebuilt from ``model.pt`` to be scored,
    sampled or served never takes a step. Its checkpoint's optimiser states are left unread.
    """
    token = _INFERENCE.set(True)
    try:
        yield
    finally:
        _INFERENCE.reset(token)


class InferenceOnlyOptimizer:
    """What :meth:`Method.optimizer` gives a method built :func:`for_inference`: any use says why it
    cannot step instead of failing somewhere inside torch."""

    def __init__(self, method: str, name: str) -> None:
        self._what = f"optimizer {name!r} of {method}"

    def __getattr__(self, attr: str) -> Any:
        raise RuntimeError(f"{self._what} was not built: the method was loaded for evaluation "
                           f"(`ucgan.experiment.load_trained`); build it with `build_method` to train it")


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """No parameter gradients for ``modules`` inside the block (the critic during G's step: only G's
    gradients are needed, and D's would only cost time); their previous flags are restored after."""
    params = [p for m in modules for p in m.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


def component_ids(n: int, k: int, device: torch.device, component: int | None = None,
                  generator: torch.Generator | None = None, probs: torch.Tensor | None = None) -> torch.Tensor:
    """Component of each of ``n`` samples (long, (n,)): all ``component`` when given (checked to be one
    of the ``k``), else drawn from ``probs`` (learned prior or data shares) or uniformly. One function,
    so every method draws with the same calls (same RNG use) and rejects the same bad ids."""
    if component is not None:
        if not 0 <= component < k:
            raise ValueError(f"component {component} out of range 0..{k - 1}")
        return torch.full((n,), int(component), dtype=torch.long, device=device)
    if probs is not None:
        return torch.multinomial(probs, n, replacement=True, generator=generator)
    return torch.randint(0, k, (n,), device=device, generator=generator)


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

    Subclasses set ``name`` and ``Config``, implement ``train_step`` and ``sample``, and register
    their networks and optimisers with :meth:`network` / :meth:`optimizer` as they build them.
    ``state_dict`` is built generically from :meth:`modules`, :meth:`optimizers` and
    :meth:`extra_state` (keyed by the registered names, which are therefore the checkpoint format);
    everything returned must be tensors or plain Python data so checkpoints load with
    ``weights_only=True``.
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
        self._networks: dict[str, nn.Module] = {}
        self._optimizers: dict[str, torch.optim.Optimizer] = {}
        self._ema: list[str] = []
        self._frozen: set[str] = set()

    # ------------------------------------------------------------------ declaring networks and optimisers
    def network(self, name: str, module: ModuleT, *, ema: bool = False, frozen: bool = False) -> ModuleT:
        """Register ``module`` as network ``name`` (its key in checkpoints), on the method's device.

        Call it where the network is built: building draws its initial weights from the global RNG,
        so the order of construction is part of a seeded run's result. ``ema``: the loop may keep
        its moving average (the generator). ``frozen``: a fixed feature extractor (SCGAN's D
        snapshot), without gradients and in eval mode whatever :meth:`train` is asked.
        """
        if name in self._networks:
            raise ValueError(f"{self.name}: network {name!r} registered twice")
        self._networks[name] = module.to(self.device)
        if ema:
            self._ema.append(name)
        if frozen:
            module.requires_grad_(False).eval()
            self._frozen.add(name)
        return module

    def optimizer(self, name: str, params: Params, cls: type[torch.optim.Optimizer] = torch.optim.Adam,
                  **hyper: Any) -> torch.optim.Optimizer:
        """Build ``cls(params, **hyper)`` (Adam unless told) and register it as optimiser ``name``.

        ``hyper`` goes to torch unchanged (only what the method passes, no defaults added), so the
        hyperparameters and the parameter-group order are exactly the method's. Inside
        :func:`for_inference` nothing is built or registered and a stand-in that refuses to step
        is returned.
        """
        if name in self._optimizers:
            raise ValueError(f"{self.name}: optimizer {name!r} registered twice")
        if _INFERENCE.get():
            return InferenceOnlyOptimizer(self.name, name)  # type: ignore[return-value]
        opt = cls(param_groups(params), **hyper)
        self._optimizers[name] = opt
        return opt

    def generator_and_critic(self, g_in: int, d_out: int = 1) -> tuple[nn.Module, Discriminator]:
        """The appendix-E generator (``g_in`` inputs) and critic (``d_out`` outputs) of :mod:`ucgan.nets`,
        built in that order and registered as "G" (with EMA) and "D": the pair most methods share."""
        G = self.network("G", build_generator(self.info, g_in, self.cfg.width), ema=True)
        D = self.network("D", build_discriminator(self.info, d_out, self.cfg.width))
        return G, D

    def _ensure_built(self) -> None:
        """Raise when a network that is built after the constructor (LSC-GAN's G, sized by the encoder
        it is attached to) is still missing, so no state is saved or trained without it."""

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

    def components(self, n: int, component: int | None = None, generator: torch.Generator | None = None,
                   probs: torch.Tensor | None = None) -> torch.Tensor:
        """:func:`component_ids` over this method's components, on its device."""
        return component_ids(n, self.num_components, self.device, component, generator, probs)

    def one_hot(self, c: torch.Tensor) -> torch.Tensor:
        """Float one-hot codes (n, K) of component ids."""
        return nn.functional.one_hot(c, self.num_components).float()

    def coded_noise(self, c: torch.Tensor, generator: torch.Generator | None = None,
                    scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """``(z, [z, onehot(c)])`` with z ~ N(0, scale^2 I) of size ``latent_dim``: the InfoGAN-style G
        input of a code (ClusterGAN, CD-GAN, Elastic-InfoGAN, PGMGAN's parts)."""
        z = scale * torch.randn(c.shape[0], self.cfg.latent_dim, device=self.device, generator=generator)
        return z, torch.cat([z, self.one_hot(c)], dim=1)

    def code_latent(self, n: int, component: int | None = None, generator: torch.Generator | None = None,
                    probs: torch.Tensor | None = None, scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(z, c, G input [z, onehot(c)])``: codes by :meth:`components`, then the noise (that order)."""
        c = self.components(n, component, generator, probs)
        z, g_in = self.coded_noise(c, generator, scale)
        return z, c, g_in

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
        k-means with k = K on it gives ``nmi``. Default: D's penultimate pre-activation for methods that
        declare ``representation_name = D_PREACTIVATION`` (no encoder), else :meth:`features`."""
        if self.representation_name == D_PREACTIVATION:
            from ..metrics.protocol import penultimate_preactivation

            return penultimate_preactivation(self.modules()["D"], x)
        return self.features(x)

    def mixing(self) -> np.ndarray | None:
        """Learned share of each component (sums to 1), or None if the method assumes uniform."""
        return None

    # ------------------------------------------------------------------ state
    def modules(self) -> dict[str, nn.Module]:
        """Named networks (G, D, E, ...), as registered by :meth:`network` (in that order)."""
        self._ensure_built()
        return dict(self._networks)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Named optimisers, as registered by :meth:`optimizer`."""
        self._ensure_built()
        return dict(self._optimizers)

    def ema_modules(self) -> dict[str, nn.Module]:
        """Networks whose exponential moving average the loop keeps when ``train.ema_decay > 0``
        (those registered with ``ema=True``: the generator). ``sample`` under
        :func:`ucgan.training.use_ema` uses the averages."""
        self._ensure_built()
        return {k: self._networks[k] for k in self._ema}

    def extra_state(self) -> dict[str, Any]:
        """Non-module state (prior parameters, cluster tables, schedules): tensors/plain data only."""
        return {}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        """Inverse of :meth:`extra_state`."""

    def train(self, mode: bool = True) -> "Method":
        for k, m in self.modules().items():
            m.train(mode and k not in self._frozen)
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
