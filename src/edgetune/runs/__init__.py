"""The runs layer: one run spec, one place that wires runs, and the runners built on it.

* :mod:`edgetune.runs.spec`: :class:`RunSpec`, the experiment file and its validation;
* :mod:`edgetune.runs.execute`: :func:`run` and :func:`resume` (the only code that builds a fleet,
  engine, network, monitor and policy and calls the orchestrator loop);
* :mod:`edgetune.runs.folder`: the run folder (``record.json``, ``spec.toml``, ``fleet.yaml``,
  ``epochs.jsonl``, checkpoints);
* runners: :mod:`edgetune.runs.sweep` (``compare``), :mod:`edgetune.runs.finetune` (the main job).
"""

from edgetune.runs.execute import RunFailed, resume, run
from edgetune.runs.spec import RunSpec, load_spec, spec_from_dict

__all__ = ["RunFailed", "RunSpec", "load_spec", "resume", "run", "spec_from_dict"]
