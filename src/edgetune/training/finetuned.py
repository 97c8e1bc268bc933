"""What the user keeps: a fine-tuned model saved into a folder, and loading it back.

:func:`save_finetuned` writes into one folder (``OUT/<policy>/model/`` for the main job):

* LoRA: the ``peft`` adapter (``adapter_config.json``, ``adapter_model.safetensors`` via
  ``save_pretrained``); full fine-tuning: the whole model (``config.json``, ``model.safetensors``;
  written with ``safetensors`` directly, because ``transformers`` refuses ``save_pretrained`` for a
  GGUF-loaded model);
* the tokenizer (``save_pretrained``), so the folder tokenizes and decodes on its own;
* ``edgetune-model.json``, the manifest: format, ``kind`` (``lora`` | ``full``), the base model's
  description (:func:`edgetune.training.sources.resolve_model`'s ``info["source"]``: preset name and
  pre-training config, Hugging Face folder or GGUF path, sha256 of the base file) and free-form
  ``training`` notes (policy, epochs, losses).

:func:`load_finetuned` takes that folder, a run folder whose ``model/`` sub-folder holds one, or a
base model (anything ``--model`` takes), and returns a ready model and tokenizer. Loading an
adapter rebuilds its base from the manifest and refuses one whose recorded sha256 no longer matches.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from edgetune.errors import InputError
from edgetune.training.pretrain import PretrainConfig, Pretrained, pretrain
from edgetune.training.sources import (
    FIELD,
    file_sha256,
    hf_tokenizer_of_bpe,
    load_hf_folder,
    quiet_transformers,
    resolve_model,
    save_plain_model,
)
from edgetune.training.tokenizer import HFTokenizer

MANIFEST = "edgetune-model.json"
FORMAT = "edgetune-model/1"
#: Sub-folder of a run folder that holds its fine-tuned model (RUNFOLDER contract).
MODEL_SUBDIR = "model"


def is_peft(model: Any) -> bool:
    """Whether ``model`` is a ``peft`` wrapper (LoRA)."""
    from peft import PeftModel

    return isinstance(model, PeftModel)


def save_finetuned(
    model: Any,
    tokenizer: HFTokenizer,
    folder: str | Path,
    source: dict[str, Any],
    training: dict[str, Any] | None = None,
) -> Path:
    """Save ``model`` (LoRA adapter or whole model), its tokenizer and the manifest into ``folder``.

    Written into a temporary sibling folder first and moved into place, so a failure leaves no half
    folder; an existing ``folder`` is replaced.

    Parameters
    ----------
    model : transformers or peft model
    tokenizer : HFTokenizer
    folder : path
    source : dict
        The base model's description (``Pretrained.info["source"]``).
    training : dict, optional
        Anything worth keeping about the fine-tuning (JSON-serialisable).

    Returns
    -------
    Path
        ``folder``.
    """
    target = Path(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    kind = "lora" if is_peft(model) else "full"
    try:
        with quiet_transformers():
            if kind == "lora":
                model.save_pretrained(str(tmp), safe_serialization=True)
            else:
                save_plain_model(model, tmp)
            tokenizer.tok.save_pretrained(str(tmp))
        manifest = {"format": FORMAT, "kind": kind, "base": source, "training": training or {}}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a saved model folder (:class:`InputError` naming ``--model`` if unreadable)."""
    try:
        doc = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(FIELD, str(folder), f"unreadable {MANIFEST} ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("kind") not in ("lora", "full"):
        raise InputError(FIELD, str(folder), f"{MANIFEST} is not an {FORMAT} manifest")
    return doc


def _base_of(source: dict[str, Any], folder: Path, cache_dir: Path | None) -> Pretrained:
    kind, name = source.get("kind"), source.get("name")
    if kind == "preset" and isinstance(source.get("pretrain"), dict):
        cfg = PretrainConfig(**source["pretrain"])
        pre = pretrain(cfg, cache_dir)
        return Pretrained(pre.model, HFTokenizer(hf_tokenizer_of_bpe(pre.tokenizer)), {**pre.info, "source": source})
    if kind == "preset" and isinstance(name, str):
        base = resolve_model(name, cache_dir)
    elif kind in ("gguf", "hf-folder") and isinstance(source.get("path"), str):
        base = resolve_model(source["path"], cache_dir)
    else:
        raise InputError(FIELD, str(folder), f"{MANIFEST} names no base model")
    want, got = source.get("sha256"), base.info["source"].get("sha256")
    if want and got and want != got:
        raise InputError(FIELD, str(folder), "the base model's file changed since fine-tuning (sha256 differs)")
    return base


def load_finetuned(path: str | Path, cache_dir: Path | None = None) -> Pretrained:
    """A saved fine-tuned model (or a base model) ready to generate or evaluate.

    Parameters
    ----------
    path : str or Path
        A folder written by :func:`save_finetuned`, a run folder whose ``model/`` holds one, or any
        base model ``--model`` takes (preset, Hugging Face folder, ``.gguf`` file).
    cache_dir : Path, optional

    Returns
    -------
    Pretrained
        ``info["source"]`` is the base's description, ``info["finetuned"]`` the manifest (absent for a
        base model).
    """
    folder = Path(path)
    if folder.is_dir() and not (folder / MANIFEST).is_file() and (folder / MODEL_SUBDIR / MANIFEST).is_file():
        folder = folder / MODEL_SUBDIR
    if not (folder.is_dir() and (folder / MANIFEST).is_file()):
        return resolve_model(str(path), cache_dir)
    manifest = read_manifest(folder)
    if manifest["kind"] == "full":
        model, tok = load_hf_folder(folder)
        info = {"source": manifest["base"], "finetuned": manifest, "path": str(folder), "cached": True}
        return Pretrained(model, HFTokenizer(tok), info)
    base = _base_of(manifest["base"], folder, cache_dir)
    from peft import PeftModel
    from transformers import AutoTokenizer

    try:
        with quiet_transformers():
            model = PeftModel.from_pretrained(base.model, str(folder), is_trainable=False)
            tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise InputError(FIELD, str(folder), f"adapter does not load onto its base ({first})") from None
    from edgetune.training.local import precision_of, set_precision

    set_precision(model, precision_of(base.model))
    info = {**base.info, "finetuned": manifest, "path": str(folder)}
    return Pretrained(model, HFTokenizer(tok), info)


__all__ = ["MANIFEST", "file_sha256", "load_finetuned", "read_manifest", "save_finetuned"]
