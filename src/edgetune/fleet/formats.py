"""Fleet file formats, chosen by suffix: YAML (``.yaml``/``.yml``), JSON (``.json``) and columnar ``.npz``.

All three hold the same document (the :class:`~edgetune.fleet.schema.Fleet` model) and go through the
same pydantic validation; only the parsing differs:

* **YAML** (also any other suffix, as before formats existed) is parsed with libyaml
  (``yaml.CSafeLoader``) when PyYAML was built with it, else with the pure-Python ``SafeLoader``
  (about 2.5x slower). Written with ``CSafeDumper`` likewise.
* **JSON** is parsed with :func:`json.loads` (about 100x faster than pure-Python YAML on a 10k fleet).
* **npz** (numpy's zip of arrays, issue 17's columnar form for large fleets) holds one array per node
  field (``node_id``, ``node_name``, ``node_compute``, ..., ``node_link_bandwidth_mbps``), one per switch
  field (``switch_id``, ``switch_kind``, ``switch_parent``, ``switch_has_uplink``, ``switch_uplink_*``),
  ``node_gateway`` as a row of the switch arrays, and ``meta``: a JSON string with ``version``, ``setup``,
  ``seed`` and ``orchestrator``. It is read with ``allow_pickle=False`` (no code runs on load), and a user
  inspects it with ``numpy.load("fleet.npz")`` or ``edgetune fleet show``. Parquet would need pyarrow,
  which edgetune does not depend on; npz loads in a fraction of the validation's time, so it would not
  be faster.

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
from edgetune.io import atomic_write_bytes, atomic_write_text

#: Largest fleet file read (a 1,000,000-node fleet is ~150 MB as npz, ~250 MB as JSON).
MAX_FLEET_BYTES = 512 * 1024 * 1024

#: Suffixes and their format.
FORMATS = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".npz": "npz"}

_NODE_FLOATS = ("compute", "idle_power_w", "busy_power_w", "radio_j_per_mb")
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
    """Write ``fleet`` (a :class:`~edgetune.fleet.schema.Fleet`; this module does not import the schema,
    which imports it) atomically in the format its suffix names."""
    fmt = fleet_format(path)
    if fmt == "npz":
        return atomic_write_bytes(path, _npz_bytes(fleet))
    data = fleet.model_dump(mode="json", exclude_none=True)
    if fmt == "json":
        return atomic_write_text(path, json.dumps(data, indent=1, allow_nan=False) + "\n")
    return atomic_write_text(path, yaml.dump(data, Dumper=_yaml_dumper(), sort_keys=False))


# -- npz ---------------------------------------------------------------------------------------------
def _npz_bytes(fleet: Any) -> bytes:
    nodes, switches = fleet.nodes, fleet.switches
    row = {s.id: k for k, s in enumerate(switches)}
    cols: dict[str, np.ndarray] = {
        "node_id": np.fromiter((n.id for n in nodes), dtype=np.int64, count=len(nodes)),
        "node_name": np.asarray([n.name for n in nodes], dtype=np.str_),
        "node_gateway": np.fromiter((row[n.gateway] for n in nodes), dtype=np.int64, count=len(nodes)),
    }
    for name in _NODE_FLOATS:
        cols[f"node_{name}"] = np.fromiter((getattr(n, name) for n in nodes), dtype=np.float64, count=len(nodes))
    for name in _LINK:
        cols[f"node_link_{name}"] = np.fromiter(
            (getattr(n.link, name) for n in nodes), dtype=np.float64, count=len(nodes)
        )
    cols["switch_id"] = np.asarray([s.id for s in switches], dtype=np.str_)
    cols["switch_kind"] = np.asarray([s.kind for s in switches], dtype=np.str_)
    cols["switch_parent"] = np.asarray([s.parent or "" for s in switches], dtype=np.str_)
    cols["switch_has_parent"] = np.asarray([s.parent is not None for s in switches], dtype=bool)
    cols["switch_has_uplink"] = np.asarray([s.uplink is not None for s in switches], dtype=bool)
    for name in _LINK:
        cols[f"switch_uplink_{name}"] = np.asarray(
            [getattr(s.uplink, name) if s.uplink else 0.0 for s in switches], dtype=np.float64
        )
    meta = {
        "version": fleet.version,
        "setup": fleet.setup,
        "seed": fleet.seed,
        "orchestrator": fleet.orchestrator.model_dump(mode="json", exclude_none=True),
    }
    cols["meta"] = np.asarray(json.dumps(meta))
    buf = io.BytesIO()
    np.savez(buf, **cols)  # type: ignore[arg-type]
    return buf.getvalue()


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


def _npz_document(raw: bytes, source: str) -> dict[str, Any]:
    try:
        _check_npz_sizes(raw, source)
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            cols = {k: z[k] for k in z.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(source, "<npz>", f"malformed npz: {exc}") from None
    need = [
        "meta",
        "node_id",
        "node_name",
        "node_gateway",
        *(f"node_{n}" for n in _NODE_FLOATS),
        *(f"node_link_{n}" for n in _LINK),
        "switch_id",
        "switch_kind",
        "switch_parent",
        "switch_has_parent",
        "switch_has_uplink",
        *(f"switch_uplink_{n}" for n in _LINK),
    ]
    missing = [k for k in need if k not in cols]
    if missing:
        raise InputError(source, "<npz>", f"missing arrays: {', '.join(missing)}")
    try:
        meta = json.loads(str(cols["meta"]))
    except json.JSONDecodeError as exc:
        raise InputError(source, "meta", f"malformed JSON: {exc.msg}") from None
    if not isinstance(meta, dict):
        raise InputError(source, "meta", "must be a JSON object")
    n_nodes, n_switches = cols["node_id"].shape[0], cols["switch_id"].shape[0]
    for key in need[1:]:
        want = n_nodes if key.startswith("node_") else n_switches
        if cols[key].ndim != 1 or cols[key].shape[0] != want:
            raise InputError(source, key, f"must be a 1-D array of {want} entries")
    gw_row = cols["node_gateway"]
    if gw_row.size and (gw_row.dtype.kind not in "iu" or gw_row.min() < 0 or gw_row.max() >= n_switches):
        raise InputError(source, "node_gateway", f"must be rows of the switch arrays (0..{n_switches - 1})")
    switch_ids = cols["switch_id"].tolist()
    switches: list[dict[str, Any]] = []
    for k, sid in enumerate(switch_ids):
        s: dict[str, Any] = {"id": sid, "kind": str(cols["switch_kind"][k])}
        if bool(cols["switch_has_parent"][k]):
            s["parent"] = str(cols["switch_parent"][k])
        if bool(cols["switch_has_uplink"][k]):
            s["uplink"] = {n: float(cols[f"switch_uplink_{n}"][k]) for n in _LINK}
        switches.append(s)
    floats = {n: cols[f"node_{n}"].tolist() for n in _NODE_FLOATS}
    links = {n: cols[f"node_link_{n}"].tolist() for n in _LINK}
    gw_names = [switch_ids[g] for g in gw_row.tolist()]
    nodes = [
        {
            "id": nid,
            "name": name,
            **{n: floats[n][k] for n in _NODE_FLOATS},
            "gateway": gw_names[k],
            "link": {n: links[n][k] for n in _LINK},
        }
        for k, (nid, name) in enumerate(zip(cols["node_id"].tolist(), cols["node_name"].tolist(), strict=True))
    ]
    return {**meta, "switches": switches, "nodes": nodes}
