"""``edgetune generate``: a seeded completion from a fine-tuned (or base) model.

``--model`` takes a saved fine-tuned model folder (``OUT/ne/model``), a run folder holding one
(``OUT/ne``), or any base model (``smollm2-135m``, ``small``, ``tiny``, a Hugging Face folder, a
``.gguf`` file). The same ``--seed`` gives the same text; ``--temperature 0`` is greedy.
"""

from __future__ import annotations

import argparse
import os
from typing import Any


def register(sub: Any) -> None:
    """Add ``generate``."""
    from edgetune.training.spec import MAX_NEW_TOKENS

    p = sub.add_parser(
        "generate",
        help="print a completion from a fine-tuned or base model",
        description="Print a seeded completion of --prompt from a fine-tuned or base model.",
    )
    p.add_argument(
        "--model",
        required=True,
        help="saved model folder, run folder with model/, preset, Hugging Face folder or .gguf file",
    )
    p.add_argument("--prompt", default="", help="text to continue (default: empty, a fresh document)")
    p.add_argument("--max-new-tokens", type=int, default=64, help=f"tokens to add, 1..{MAX_NEW_TOKENS} (default 64)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--temperature", type=float, default=0.8, help="0 = greedy; default 0.8 with top-k 50")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from edgetune.cli.flags import check_limit
    from edgetune.training.textgen import check_generation

    check_generation(args.max_new_tokens, args.temperature, args.prompt)
    check_limit("--threads", args.threads, "threads")
    check_limit("--seed", args.seed, "seed")
    import torch

    from edgetune.training.finetuned import load_finetuned
    from edgetune.training.textgen import generate_text
    from edgetune.training.tokenizer import HFTokenizer

    torch.set_num_threads(args.threads)
    loaded = load_finetuned(args.model)
    tok = loaded.tokenizer
    assert isinstance(tok, HFTokenizer)
    text = generate_text(loaded.model, tok, args.prompt, args.max_new_tokens, args.seed, args.temperature)
    print(args.prompt + text)
    return 0
