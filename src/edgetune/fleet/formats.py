"""Fleet file formats, chosen by suffix: YAML (``.yaml``/``.yml``), JSON (``.json``) and columnar ``.npz``.

All three hold the same document (the :class:`~edgetune.fleet.schema.Fleet` model) and are checked by
the same rules; YAML and JSON by pydantic node by node, npz column by column with numpy
(:func:`~edgetune.fleet.schema.check_columns`, against the same ``BOUNDS``; the fleet is then built
without per-node objects, see :class:`~edgetune.fleet.schema.Fleet`):

* **YAML** (also any other suffix, as before formats existed) is parsed with libyaml
  (``yaml.CSafeLoader``) when PyYAML was built with it, else with the pure-Python ``SafeLoader``
  (about 2.5x slower). Written with ``CSafeDumper`` likewise.
* **JSON** is parsed with :func:`json.loads` (about 100x faster than pure-Python YAML on a 10k fleet).
* **npz** (numpy's zip of arrays, issue 17's columnar form for large fleets) holds one array per node
  field (``node_id``, ``node_name``, ``node_compute``, ..., ``node_link_bandwidth_mbps``), one per switch
  field (``switch_id``, ``switch_kind``, ``switch_parent``, ``switch_has_uplink``, ``switch_uplink_*``),
  ``node_gateway`` as a row of the switch arrays, and ``meta``: a JSON string with ``version``, ``setup``,
  ``seed`` and ``orchestrator`` (:class:`~edgetune.fleet.schema.FleetColumns` names the arrays). It is
  read with ``allow_pickle=False`` (no code runs on load), and a user inspects it with
  ``numpy.load("fleet.npz")`` or ``edgetune fleet show``. Parquet would need pyarrow, which edgetune
  does not depend on; a million-node npz loads in well under a second, so it would not be faster.

Floats are float64 and ids int64 in every format, so a fleet round-trips exactly through all three.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import ValidationError

from edgetune.errors import InputError, from_pydantic
from edgetune.fleet.schema import Fleet, FleetColumns, FleetHeader, fleet_from_columns
from edgetune.inputs import parse_json, parse_yaml, read_bytes, read_text
from edgetune.io import atomic_write_text, atomic_write_with

#: Largest fleet file read (a 1,000,000-node fleet is ~150 MB as npz, ~250 MB as JSON).
MAX_FLEET_BYTES = 512 * 1024 * 1024

#: Suffixes and their format.
FORMATS = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".npz": "npz"}


def fleet_format(path: str | Path) -> str:
    """The format of a fleet file named ``path``, by suffix; any other suffix is YAML (as before)."""
    return FORMATS.get(Path(path).suffix.lower(), "yaml")


def _yaml_loader() -> type:
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML was built with it


def _yaml_dumper() -> type:
    return getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def read_document(path: str | Path) -> Any:
    """Parse a fleet file into its document (a mapping for well-formed files), by suffix.

    Every format goes through the bounded reader (:func:`edgetune.inputs.read_bytes`: regular files
    only, at most :data:`MAX_FLEET_BYTES`); YAML through :class:`edgetune.inputs.BoundedSafeLoader`
    (libyaml's parser, aliases refused, bounded depth), JSON with non-finite numbers refused.
    Raises :class:`InputError` when the file cannot be read or parsed; validation is the caller's.
    """
    p = Path(path)
    fmt = fleet_format(p)
    if fmt == "npz":
        return _npz_document(read_bytes(p, "--fleet", MAX_FLEET_BYTES), str(path))
    text = read_text(p, "--fleet", MAX_FLEET_BYTES)
    if fmt == "json":
        return parse_json(text, "--fleet", str(path))
    return parse_yaml(text, "--fleet", str(path))


def write_fleet(fleet: Fleet, path: str | Path) -> Path:
    """Write ``fleet`` atomically in the format its suffix names (npz: straight from its columns)."""
    fmt = fleet_format(path)
    if fmt == "npz":
        return atomic_write_with(path, lambda tmp: _write_npz(fleet, tmp))
    data = fleet.model_dump(mode="json", exclude_none=True)
    if fmt == "json":
        return atomic_write_text(path, json.dumps(data, indent=1, allow_nan=False) + "\n")
    return atomic_write_text(path, yaml.dump(data, Dumper=_yaml_dumper(), sort_keys=False))


# -- npz ---------------------------------------------------------------------------------------------
def _write_npz(fleet: Fleet, path: Path) -> None:
    """Stream the columns into ``path`` (no second copy of the file in memory, ~130 MB at 1M nodes)."""
    cols: dict[str, np.ndarray] = dict(fleet.columns().as_dict())
    meta = {
        "version": fleet.version,
        "setup": fleet.setup,
        "seed": fleet.seed,
        "orchestrator": fleet.orchestrator.model_dump(mode="json", exclude_none=True),
    }
    cols["meta"] = np.asarray(json.dumps(meta))
    with path.open("wb") as fh:  # a file object: np.savez would add ".npz" to a path
        np.savez(fh, **cols)  # type: ignore[arg-type]


def _check_npz_sizes(raw: bytes, source: str) -> None:
    """Refuse an npz whose members would unpack to more than :data:`MAX_FLEET_BYTES` (a zip bomb, or an
    array header declaring a huge shape, which numpy would allocate before reading a byte)."""
    total = 0
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        for info in zf.infolist():
            total += info.file_size
            with zf.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                read_header = (
                    np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                )
                shape, _, dtype = read_header(fh)
            total += int(np.prod(shape, dtype=np.float64) * dtype.itemsize)
            if total > 2 * MAX_FLEET_BYTES:
                raise InputError(source, "<npz>", f"unpacks to more than the limit of {MAX_FLEET_BYTES} bytes")


def _npz_columns(raw: bytes, source: str) -> tuple[FleetColumns, FleetHeader]:
    """The columns and header of an npz fleet; the header validated by pydantic, the columns not yet."""
    try:
        _check_npz_sizes(raw, source)
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            cols = {k: z[k] for k in z.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(source, "<npz>", f"malformed npz: {exc}") from None
    names = FleetColumns.names()
    missing = [k for k in ("meta", *names) if k not in cols]
    if missing:
        raise InputError(source, "<npz>", f"missing arrays: {', '.join(missing)}")
    try:
        meta = json.loads(str(cols["meta"]))
    except json.JSONDecodeError as exc:
        raise InputError(source, "meta", f"malformed JSON: {exc.msg}") from None
    if not isinstance(meta, dict):
        raise InputError(source, "meta", "must be a JSON object")
    try:
        header = FleetHeader.model_validate(meta)
    except ValidationError as exc:
        raise from_pydantic(exc, source) from None
    return FleetColumns(**{k: cols[k] for k in names}), header


def load_npz(path: str | Path) -> Fleet:
    """Read a columnar ``.npz`` fleet: bounded read, header validated by pydantic, columns by numpy
    (:func:`~edgetune.fleet.schema.fleet_from_columns`); no per-node objects are built."""
    source = Path(path).name
    columns, header = _npz_columns(read_bytes(Path(path), "--fleet", MAX_FLEET_BYTES), source)
    return fleet_from_columns(columns, header, source)


def _npz_document(raw: bytes, source: str) -> dict[str, Any]:
    """The document an npz fleet holds (validated: the columns carry no per-node structure to parse)."""
    fleet = fleet_from_columns(*_npz_columns(raw, source), source=source)
    return fleet.model_dump(mode="json", exclude_none=True)
