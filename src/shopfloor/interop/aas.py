"""The asset model as Asset Administration Shells (AAS v3, via basyx-python-sdk), and back.

One shell per asset of the plant (sites, areas and lines too, so the ISA-95 tree survives),
identified by ``urn:shopfloor:<enterprise>:aas:<asset path>`` for the asset
``urn:shopfloor:<enterprise>:asset:<asset path>``. Each shell has two submodels:

* **TechnicalData** (semantic id of IDTA 02003 Technical Data): ``Path``, ``Name``, ``Level``,
  ``Kind``, ``Description``, ``Enterprise``, ``PlantName`` and a collection ``Attributes`` with
  the asset's attributes (typed: xs:long, xs:double, xs:boolean, xs:string; other values as
  JSON text with the qualifier ``shopfloor:json``).
* **TimeSeries** (semantic id of IDTA 02008 Time Series Data): one collection per tag with its
  ``Name``, ``Unit``, ``Type``, ``Low``, ``High``, ``Description``, ``Writable`` and a
  ``LinkedSegment`` (``Endpoint``: the platform's history API, ``Query``: the asset and tag),
  which is where a client reads the series.

Files are AAS JSON (``.json``) or XML (``.xml``), as the AAS specification part 1 lays out.
:func:`import_plant` rebuilds a :class:`~shopfloor.core.assets.Plant` that equals the exported
one (``to_dict``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..core.assets import Asset, Plant, Tag
from ..core.errors import PlantModelError

SEM_TECHNICAL = "https://admin-shell.io/ZVEI/TechnicalData/Submodel/1/2"
SEM_TIMESERIES = "https://admin-shell.io/idta/TimeSeries/1/1"
SEM_LINKED = "https://admin-shell.io/idta/TimeSeries/Segments/LinkedSegment/1/1"
DEFAULT_ENDPOINT = "http://127.0.0.1:8080/api/v1/history"
_ID_SHORT = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]*$")


def _short(text: str, prefix: str) -> str:
    """A valid idShort for ``text`` (kept when valid)."""
    if _ID_SHORT.match(text):
        return text
    return prefix + re.sub(r"[^a-zA-Z0-9_]", "_", text)


def _prop(model: Any, id_short: str, value: Any) -> Any:
    dt = model.datatypes
    qualifiers: tuple[Any, ...] = ()
    if isinstance(value, bool):
        vt, v = dt.Boolean, value
    elif isinstance(value, int):
        vt, v = dt.Long, value
    elif isinstance(value, float):
        vt, v = dt.Double, value
    elif isinstance(value, str):
        vt, v = dt.String, value
    else:
        vt, v = dt.String, json.dumps(value)
        qualifiers = (model.Qualifier("shopfloor:json", dt.Boolean, True),)
    return model.Property(id_short=id_short, value_type=vt, value=v, qualifier=qualifiers)


def _sem(model: Any, iri: str) -> Any:
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, iri),))


def to_object_store(plant: Plant, endpoint: str = DEFAULT_ENDPOINT) -> Any:
    """The plant as a basyx ``DictIdentifiableStore`` of shells and submodels."""
    from basyx.aas import model

    store = model.DictIdentifiableStore()
    base = f"urn:shopfloor:{plant.enterprise}"
    for asset in plant.assets():
        tech = model.Submodel(
            id_=f"{base}:sm:{asset.path}:technicaldata",
            id_short="TechnicalData",
            semantic_id=_sem(model, SEM_TECHNICAL),
        )
        for key, value in (
            ("Path", asset.path),
            ("Name", asset.name),
            ("Level", asset.level.value if asset.level else ""),
            ("Kind", asset.kind),
            ("Description", asset.description),
            ("Enterprise", plant.enterprise),
            ("PlantName", plant.name),
        ):
            tech.submodel_element.add(_prop(model, key, value))
        attrs = model.SubmodelElementCollection(id_short="Attributes")
        for key, value in asset.attributes.items():
            if not _ID_SHORT.match(key):
                raise PlantModelError(
                    f"asset {asset.path!r}: attribute name {key!r} is not a valid AAS idShort"
                )
            attrs.value.add(_prop(model, key, value))
        tech.submodel_element.add(attrs)
        series = model.Submodel(
            id_=f"{base}:sm:{asset.path}:timeseries",
            id_short="TimeSeries",
            semantic_id=_sem(model, SEM_TIMESERIES),
        )
        for tag in asset.tags:
            smc = model.SubmodelElementCollection(id_short=_short(tag.name, "tag_"))
            for key, value in (
                ("Name", tag.name),
                ("Unit", tag.unit),
                ("Type", tag.type),
                ("Description", tag.description),
                ("Writable", tag.writable),
            ):
                smc.value.add(_prop(model, key, value))
            for key, limit in (("Low", tag.low), ("High", tag.high)):
                if limit is not None:
                    smc.value.add(_prop(model, key, float(limit)))
            link = model.SubmodelElementCollection(
                id_short="LinkedSegment", semantic_id=_sem(model, SEM_LINKED)
            )
            link.value.add(_prop(model, "Endpoint", endpoint))
            link.value.add(_prop(model, "Query", f"asset={asset.path}&tag={tag.name}"))
            smc.value.add(link)
            series.submodel_element.add(smc)
        shell = model.AssetAdministrationShell(
            id_=f"{base}:aas:{asset.path}",
            id_short=_short(asset.path.replace("/", "__"), "a_"),
            asset_information=model.AssetInformation(
                asset_kind=model.AssetKind.INSTANCE, global_asset_id=f"{base}:asset:{asset.path}"
            ),
            submodel={model.ModelReference.from_referable(tech), model.ModelReference.from_referable(series)},
        )
        store.add(tech)
        store.add(series)
        store.add(shell)
    return store


def export_plant(plant: Plant, path: str | Path, endpoint: str = DEFAULT_ENDPOINT) -> int:
    """Write the plant as an AAS JSON or XML file; returns the number of shells."""
    p = Path(path)
    store = to_object_store(plant, endpoint)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix.lower() == ".xml":
        from basyx.aas.adapter.xml import write_aas_xml_file

        write_aas_xml_file(str(p), store)
    elif p.suffix.lower() == ".json":
        from basyx.aas.adapter.json import write_aas_json_file

        write_aas_json_file(str(p), store, indent=1)
    else:
        raise PlantModelError(f"AAS file {str(p)!r} must end in .json or .xml")
    return len(plant)


def _values(elements: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for el in elements:
        if hasattr(el, "value_type"):
            value = el.value
            if any(q.type == "shopfloor:json" for q in getattr(el, "qualifier", ())):
                value = json.loads(value)
            out[el.id_short] = _plain(value)  # xs:long etc. are subclasses of int, ...
        else:
            out[el.id_short] = el
    return out


def _plain(value: Any) -> Any:
    for base in (bool, int, float, str):
        if isinstance(value, base):
            return base(value)
    return value


def from_object_store(store: Any) -> Plant:
    """Rebuild the plant from shells made by :func:`to_object_store` (other shells are skipped)."""
    from basyx.aas import model

    assets: list[Asset] = []
    enterprise, name = "enterprise", ""
    by_id = {obj.id: obj for obj in store}
    for shell in store:
        if not isinstance(shell, model.AssetAdministrationShell):
            continue
        subs = {}
        for ref in shell.submodel:
            sm = by_id.get(ref.key[0].value)
            if sm is not None:
                subs[sm.id_short] = sm
        if "TechnicalData" not in subs:
            continue
        tech = _values(subs["TechnicalData"].submodel_element)
        attrs = _values(tech["Attributes"].value) if "Attributes" in tech else {}
        tags = []
        for smc in subs["TimeSeries"].submodel_element if "TimeSeries" in subs else ():
            t = _values(smc.value)
            tags.append(
                Tag(
                    name=t["Name"],
                    unit=t.get("Unit", ""),
                    type=t.get("Type", "float"),
                    low=t.get("Low"),
                    high=t.get("High"),
                    description=t.get("Description", ""),
                    writable=bool(t.get("Writable", False)),
                )
            )
        enterprise, name = tech.get("Enterprise", enterprise), tech.get("PlantName", name)
        assets.append(
            Asset.model_validate(
                {
                    "path": tech["Path"],
                    "name": tech.get("Name", ""),
                    "level": tech.get("Level") or None,
                    "kind": tech.get("Kind", ""),
                    "description": tech.get("Description", ""),
                    "attributes": attrs,
                    "tag": [t.model_dump() for t in tags],
                }
            )
        )
    if not assets:
        raise PlantModelError("no shopfloor asset shells found (shells need a TechnicalData submodel)")
    assets.sort(key=lambda a: (a.path.count("/"), a.path))
    return Plant(enterprise, name, assets)


def import_plant(path: str | Path) -> Plant:
    """Read an AAS JSON or XML file (from :func:`export_plant` or a tool following its layout)."""
    p = Path(path)
    if not p.exists():
        raise PlantModelError(f"AAS file {str(p)!r} does not exist")
    try:
        if p.suffix.lower() == ".xml":
            from basyx.aas.adapter.xml import read_aas_xml_file

            store = read_aas_xml_file(str(p), failsafe=False)
        else:
            from basyx.aas.adapter.json import read_aas_json_file

            store = read_aas_json_file(str(p), failsafe=False)
    except (KeyError, ValueError, TypeError) as err:
        raise PlantModelError(f"AAS file {str(p)!r} is not valid: {err}") from err
    return from_object_store(store)
