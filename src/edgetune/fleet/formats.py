"""Fleet file formats, chosen by suffix: YAML (``.yaml``/``.yml``), JSON (``.json``) and columnar ``.npz``.

All three hold the same document (the :class:`~edgetune.fleet.schema.Fleet` model) and are checked by
the same rules; YAML and JSON by pydantic node by node, npz column by column with numpy
(:func:`~edgetune.fleet.columns.check_columns`, against the same ``BOUNDS``; the fleet is then built
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

from edgetune.errors import InputError
from edgetune.inputs import parse_json, parse_yaml, read_bytes, read_text
from edgetune.io import atomic_write_text, atomic_write_with

#: Largest fleet file read (a 1,000,000-node fleet is ~150 MB as npz, ~250 MB as JSON).
MAX_FLEET_BYTES = 512 * 1024 * 1024

#: Suffixes and their format.
FORMATS = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".npz": "npz"}

#: The arrays of an npz fleet besides ``meta`` (the fields of :class:`~edgetune.fleet.schema.FleetColumns`,
#: in its order; a test keeps the two equal). This module does not import the schema, which imports it.
NPZ_COLUMNS: tuple[str, ...] = (
    "node_id",
    "node_name",
    "node_gateway",
    "node_compute",
    "node_idle_power_w",
    "node_busy_power_w",
    "node_radio_j_per_mb",
    "node_link_bandwidth_mbps",
    "node_link_delay_ms",
    "node_link_loss_pct",
    "switch_id",
    "switch_kind",
    "switch_parent",
    "switch_has_parent",
    "switch_has_uplink",
    "switch_uplink_bandwidth_mbps",
    "switch_uplink_delay_ms",
    "switch_uplink_loss_pct",
)
_LINK = ("bandwidth_mbps", "delay_ms", "loss_pct")


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


def write_fleet(fleet: Any, path: str | Path) -> Path:
    """Write ``fleet`` (a :class:`~edgetune.fleet.schema.Fleet`) atomically in the format its suffix names
    (npz: straight from :meth:`~edgetune.fleet.schema.Fleet.columns`)."""
    fmt = fleet_format(path)
    if fmt == "npz":
        return atomic_write_with(path, lambda tmp: _write_npz(fleet, tmp))
    data = fleet.model_dump(mode="json", exclude_none=True)
    if fmt == "json":
        return atomic_write_text(path, json.dumps(data, indent=1, allow_nan=False) + "\n")
    return atomic_write_text(path, yaml.dump(data, Dumper=_yaml_dumper(), sort_keys=False))


# -- npz ---------------------------------------------------------------------------------------------
def _write_npz(fleet: Any, path: Path) -> None:
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


def _npz_arrays(raw: bytes, source: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The :data:`NPZ_COLUMNS` arrays and the parsed ``meta`` of an npz fleet; nothing validated yet."""
    try:
        _check_npz_sizes(raw, source)
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            cols = {k: z[k] for k in z.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(source, "<npz>", f"malformed npz: {exc}") from None
    missing = [k for k in ("meta", *NPZ_COLUMNS) if k not in cols]
    if missing:
        raise InputError(source, "<npz>", f"missing arrays: {', '.join(missing)}")
    try:
        meta = json.loads(str(cols["meta"]))
    except json.JSONDecodeError as exc:
        raise InputError(source, "meta", f"malformed JSON: {exc.msg}") from None
    if not isinstance(meta, dict):
        raise InputError(source, "meta", "must be a JSON object")
    return {k: cols[k] for k in NPZ_COLUMNS}, meta


def read_npz(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read an npz fleet through the bounded reader: its :data:`NPZ_COLUMNS` arrays and its ``meta``.

    Validation is the caller's (:func:`edgetune.fleet.schema.load_fleet` checks the columns with numpy).
    """
    return _npz_arrays(read_bytes(Path(path), "--fleet", MAX_FLEET_BYTES), Path(path).name)


def node_docs(cols: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """The ``nodes`` of the document that npz columns hold (plain Python values)."""
    gw_names = cols["switch_id"].tolist()
    rows = zip(*(cols[k].tolist() for k in NPZ_COLUMNS[:10]), strict=True)  # the node_* columns, in order
    return [
        {
            "id": i,
            "name": name,
            "compute": c,
            "idle_power_w": idle,
            "busy_power_w": busy,
            "radio_j_per_mb": radio,
            "gateway": gw_names[g],
            "link": {"bandwidth_mbps": bw, "delay_ms": d, "loss_pct": loss},
        }
        for i, name, g, c, idle, busy, radio, bw, d, loss in rows
    ]


def switch_docs(cols: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """The ``switches`` of the document that npz columns hold (only the keys a document would hold)."""
    docs: list[dict[str, Any]] = []
    rows = zip(*(cols[k].tolist() for k in NPZ_COLUMNS[10:]), strict=True)
    for sid, kind, parent, has_parent, has_uplink, bw, d, loss in rows:
        doc: dict[str, Any] = {"id": sid, "kind": kind}
        if has_parent:
            doc["parent"] = parent
        if has_uplink:
            doc["uplink"] = {"bandwidth_mbps": bw, "delay_ms": d, "loss_pct": loss}
        docs.append(doc)
    return docs


def _npz_document(raw: bytes, source: str) -> dict[str, Any]:
    """The document an npz fleet holds; its arrays must fit together (validation is the caller's)."""
    cols, meta = _npz_arrays(raw, source)
    n_nodes, n_switches = cols["node_id"].shape[0], cols["switch_id"].shape[0]
    for key in NPZ_COLUMNS:
        want = n_nodes if key.startswith("node_") else n_switches
        if cols[key].ndim != 1 or cols[key].shape[0] != want:
            raise InputError(source, key, f"must be a 1-D array of {want} entries")
    gw_row = cols["node_gateway"]
    if gw_row.size and (gw_row.dtype.kind not in "iu" or gw_row.min() < 0 or gw_row.max() >= n_switches):
        raise InputError(source, "node_gateway", f"must be rows of the switch arrays (0..{n_switches - 1})")
    return {**meta, "switches": switch_docs(cols), "nodes": node_docs(cols)}
