"""``edgetune evaluate``: the loss of a fine-tuned (or base) model on a text, as one JSON line.

Prints ``{"loss": nats/token, "loss_per_char": ..., "perplexity": ..., "tokens": n, "chars": c}``.
``--model`` takes what ``edgetune generate --model`` takes, so the base and the fine-tuned model can be
compared on the same text; ``--data`` takes what ``edgetune finetune --data`` takes (``.txt``,
``.jsonl`` or a folder of them). At most ``--max-tokens`` tokens are evaluated.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any


def register(sub: Any) -> None:
    """Add ``evaluate``."""
    from edgetune.training.spec import MAX_EVAL_TOKENS

    p = sub.add_parser(
        "evaluate",
        help="loss per token and per character of a model on a text (one JSON line)",
        description="Evaluate a fine-tuned or base model on a text file or folder.",
    )
    p.add_argument(
        "--model",
        required=True,
        help="saved model folder, run folder with model/, preset, Hugging Face folder or .gguf file",
    )
    p.add_argument("--data", required=True, help='.txt (blank-line separated), .jsonl ("text" field) or a folder')
    p.add_argument(
        "--max-tokens",
        type=int,
        default=8192,
        help=f"evaluate at most this many tokens, 2..{MAX_EVAL_TOKENS} (default 8192)",
    )
    p.add_argument("--block-len", type=int, default=128, help="context window of each block (default 128)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from edgetune.cli.flags import check_limit
    from edgetune.errors import InputError
    from edgetune.training.spec import MAX_EVAL_TOKENS
    from edgetune.training.userdata import load_documents

    if not 2 <= args.max_tokens <= MAX_EVAL_TOKENS:
        raise InputError("--max-tokens", args.max_tokens, f"must be between 2 and {MAX_EVAL_TOKENS}")
    if not 2 <= args.block_len <= 8192:
        raise InputError("--block-len", args.block_len, "must be between 2 and 8192")
    check_limit("--threads", args.threads, "threads")
    docs = load_documents(args.data)
    import torch

    from edgetune.training.finetuned import load_finetuned
    from edgetune.training.textgen import evaluate_documents
    from edgetune.training.tokenizer import HFTokenizer

    torch.set_num_threads(args.threads)
    loaded = load_finetuned(args.model)
    tok = loaded.tokenizer
    assert isinstance(tok, HFTokenizer)
    res = evaluate_documents(loaded.model, tok, docs, args.max_tokens, args.block_len)
    print(json.dumps(res.to_json()))
    return 0
