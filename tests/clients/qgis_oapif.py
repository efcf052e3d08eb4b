#!/usr/bin/python3
"""Drive QGIS's OGC API - Features provider (PyQGIS, headless) against the hotspots server.

Usage (the SYSTEM python, which has PyQGIS; not a pyenv/venv python):

    /usr/bin/python3 tests/clients/qgis_oapif.py BASE OUTDIR [RASTER.tif]

BASE is the server root, e.g. http://127.0.0.1:18555. OUTDIR receives the exported files.
RASTER, if given, is an EPSG:27700 GeoTIFF; zonal statistics are then run on the hotspots
layer into OUTDIR/zonal.gpkg.

For every collection listed by /collections this script:
  * adds it as an OAPIF layer straight from the server and asserts it is valid;
  * iterates all features (QGIS follows the server's `next` links) and asserts the count
    equals numberMatched of /collections/{id}/items?limit=1;
  * asserts every field of /collections/{id}/schema is a layer field of the matching type
    (integer -> Int/LongLong, number -> Double, string -> String, or Date/Time/DateTime if
    the schema gives format date/time/date-time); the Part 5 geometry entry is skipped;
  * writes the layer to GeoPackage, ESRI Shapefile and CSV (with a .csvt) and reopens each
    with the "ogr" provider, asserting the feature count and every schema field and type.

One line per check (PASS/FAIL), then `N passed, M failed`; the exit status is 1 on any
failure. Environment: QGIS_OAPIF_PAGE_SIZE=N adds pageSize='N' to the layer uri (by default
none is given, so QGIS picks the page size itself, as it does for a user's connection).

Facts about QGIS 3.22's OAPIF provider this relies on (checked against a logging server):
  * requests, in order: GET BASE (the landing page, no query), GET the `service-desc` link
    (/api), GET <`data` link>/{id}, GET .../{id}/items?limit=10 (always 10: field names and
    types come from these 10 features only), then .../items?limit=PAGE and every `next`
    href exactly as given. It sends no f=, crs=, bbox-crs=; bbox= only for a filter
    rectangle with restrictToRequestBBOX='1'. It never asks for /conformance, /collections,
    /queryables or the schema.
  * the `service-desc` and `data` links of the landing page are used as given: a relative
    href makes the layer invalid ('Download of API page failed: Protocol "" is unknown'),
    a trailing slash on `data` gives .../collections//{id}; the plain-HTTP preflight below
    names such problems directly.
  * PyQGIS 3.22 segfaults on layer.error().summary() when the error is empty (always so for
    an OAPIF layer); the reasons are in the message log, which is collected and printed.
  * responses are cached on disk by Qt (the server sends Cache-Control: max-age=300), so
    a private cache directory is used for every run (XDG_CACHE_HOME).
"""
import json
import os
import shutil
import sys

from client_checks import Checks, http_json, is_absolute  # beside this script
import tempfile
import urllib.error
import urllib.parse
import urllib.request

# Must be set before Qt starts.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_CACHE = tempfile.mkdtemp(prefix="qgis_oapif_cache_")
os.environ["XDG_CACHE_HOME"] = _CACHE
os.environ.setdefault("XDG_RUNTIME_DIR", _CACHE)

try:
    from qgis.core import (
        QgsApplication,
        QgsCoordinateTransformContext,
        QgsFeatureRequest,
        QgsVectorFileWriter,
        QgsVectorLayer,
        QgsWkbTypes,
    )
    from qgis.PyQt.QtCore import QVariant
except ImportError:
    sys.exit("PyQGIS not importable: run this with the system python (/usr/bin/python3)")

# JSON Schema type -> accepted QVariant types of a QGIS field.
TYPES = {
    "integer": (QVariant.Int, QVariant.LongLong),
    "number": (QVariant.Double,),
    "string": (QVariant.String,),
}
TYPE_NAMES = {QVariant.Int: "Int", QVariant.LongLong: "LongLong", QVariant.Double: "Double",
              QVariant.String: "String", QVariant.Bool: "Bool", QVariant.Date: "Date",
              QVariant.Time: "Time", QVariant.DateTime: "DateTime", QVariant.Map: "Map",
              QVariant.List: "List", QVariant.StringList: "StringList"}
# A string field with one of these JSON Schema formats may come out as the matching type.
DATE_FORMATS = {"date": QVariant.Date, "time": QVariant.Time, "date-time": QVariant.DateTime}
# How many features QGIS 3.22 reads to decide the fields (hard-coded `?limit=10`).
QGIS_SAMPLE = 10







def layer_error(layer):
    """The layer's error text. QgsError.summary() segfaults in PyQGIS 3.22 when the error is
    empty (always so for OAPIF: its reasons go to the message log), so test isEmpty first."""
    err = layer.error()
    return "" if err.isEmpty() else err.summary()


def type_name(t):
    return TYPE_NAMES.get(t, f"QVariant({int(t)})")


def sample_hint(sample, field, want):
    """Why QGIS may have typed `field` wrongly, judged from the first 10 features."""
    vals = [f.get("properties", {}).get(field) for f in sample]
    if vals and all(v is None for v in vals):
        return (f" (QGIS types fields from the first {QGIS_SAMPLE} features only, and '{field}'"
                f" is null or absent in all {len(vals)} of them, so it becomes String)")
    if want == "number" and all(isinstance(v, int) for v in vals if v is not None):
        return (f" (all non-null values of '{field}' in the first {QGIS_SAMPLE} features are JSON"
                f" integers without a decimal point, so QGIS types it as integer)")
    if want == "integer" and any(isinstance(v, float) for v in vals):
        return f" (a value of '{field}' in the first {QGIS_SAMPLE} features has a decimal point)"
    if any(isinstance(v, str) for v in vals) and want != "string":
        return f" (a value of '{field}' in the first {QGIS_SAMPLE} features is a JSON string)"
    return ""


def check_fields(c, label, layer, schema, sample=None):
    """Every schema field is a layer field of the matching type."""
    fields = layer.fields()
    problems = []
    wrong = {}  # (layer type, schema type, hint) -> field names
    for name, spec in schema.items():
        want = spec.get("type")
        if isinstance(want, list):  # e.g. ["number", "null"]
            want = next((t for t in want if t != "null"), None)
        idx = fields.indexFromName(name)
        if idx < 0:
            problems.append(f"field '{name}' missing (layer has {[f.name() for f in fields]})")
            continue
        got = fields.at(idx).type()
        ok = TYPES.get(want, ())
        if want == "string" and spec.get("format") in DATE_FORMATS:
            ok = ok + (DATE_FORMATS[spec["format"]],)
        if want not in TYPES:
            problems.append(f"field '{name}' has schema type {want!r}, not integer/number/string")
        elif got not in ok:
            hint = sample_hint(sample, name, want) if sample is not None else ""
            if want == "string" and got in DATE_FORMATS.values():
                hint += (" (OGR's GeoJSON reader, used by QGIS and GDAL, turns strings that look"
                         " like HH:MM[:SS], YYYY-MM-DD or ISO date-times into Time/Date/DateTime"
                         " fields)")
            wrong.setdefault((f"{type_name(got)} ({fields.at(idx).typeName()})", want, hint),
                             []).append(name)
    for (got, want, hint), names in wrong.items():
        which = f"field '{names[0]}' is" if len(names) == 1 else \
            f"fields {', '.join(repr(n) for n in names)} are"
        problems.append(f"{which} {got}, schema says {want}{hint}")
    c.check(not problems, f"{label}: {len(schema)} schema fields present with matching types",
            "; ".join(problems))


def attribute_schema(schema):
    """The attribute fields of a /schema document: OGC API - Features Part 5 also lists the
    geometry (x-ogc-role primary-geometry, format geometry-*), which is no attribute."""
    props = schema.get("properties", {}) if isinstance(schema, dict) else {}
    return {k: v for k, v in props.items()
            if isinstance(v, dict)
            and not str(v.get("x-ogc-role", "")).endswith("geometry")
            and not str(v.get("format", "")).startswith("geometry")}


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: /usr/bin/python3 qgis_oapif.py BASE OUTDIR [RASTER.tif]")
    base = sys.argv[1].rstrip("/")
    outdir = os.path.abspath(sys.argv[2])
    raster = os.path.abspath(sys.argv[3]) if len(sys.argv) == 4 else None
    os.makedirs(outdir, exist_ok=True)
    page_size = os.environ.get("QGIS_OAPIF_PAGE_SIZE", "").strip()
    c = Checks()

    # ---- plain-HTTP preflight: what QGIS will need, and the reference numbers ----
    try:
        landing = http_json(base + "/")
    except (urllib.error.URLError, ValueError) as e:
        c.check(False, "landing page", f"GET {base}/ failed: {e}")
        return finish(c)
    links = {lnk.get("rel"): lnk.get("href") for lnk in landing.get("links", [])}
    bad = [f"{rel}={links.get(rel)!r}" for rel in ("service-desc", "data")
           if not is_absolute(links.get(rel))]
    if (links.get("data") or "").endswith("/"):
        bad.append(f"data={links['data']!r} ends with '/' (QGIS asks for .../collections//ID)")
    if not c.check(not bad, "landing page: service-desc and data links are absolute http(s) URLs",
                   "QGIS 3.22 uses them as given and its layers will be invalid: "
                   + ", ".join(bad)):
        links["service-desc"] = urllib.parse.urljoin(base + "/", links.get("service-desc") or "api")
    try:
        api = http_json(links["service-desc"], "application/vnd.oai.openapi+json;version=3.0")
        lim = api.get("components", {}).get("parameters", {}).get("limit", {}).get("schema", {})
        dflt, mx = lim.get("default", 0), lim.get("maximum", 0)
        if page_size:
            qpage = f"{page_size} (uri pageSize)"
        elif dflt and mx:
            qpage = min(max(1000, dflt), mx)
        elif dflt:
            qpage = max(1000, dflt)
        elif mx:
            qpage = mx
        else:
            qpage = "100 (no components.parameters.limit in /api)"
        print(f"info: QGIS 3.22 will page with limit={qpage}", flush=True)
    except (urllib.error.URLError, ValueError, AttributeError) as e:
        print(f"info: could not read {links['service-desc']}: {e}", flush=True)

    try:
        ids = [col["id"] for col in http_json(base + "/collections")["collections"]]
    except (urllib.error.URLError, ValueError, KeyError) as e:
        c.check(False, "collections", f"GET {base}/collections failed: {e}")
        return finish(c)
    c.check(bool(ids), f"/collections lists {len(ids)} collections: {', '.join(ids)}", "none listed")

    app = QgsApplication([], False)
    app.initQgis()
    log = []
    QgsApplication.messageLog().messageReceived.connect(
        lambda msg, tag, level: log.append(f"[{tag}] {msg}"))

    def drain_log():
        app.processEvents()
        text = " | ".join(log[-5:])
        log.clear()
        return f" -- QGIS log: {text}" if text else ""

    layers = {}
    expected = {}
    schemas = {}
    for cid in ids:
        coll = f"collection '{cid}'"
        try:
            first = http_json(f"{base}/collections/{cid}/items?limit=1", "application/geo+json")
            matched = first.get("numberMatched")
            schema = attribute_schema(http_json(f"{base}/collections/{cid}/schema",
                                                "application/schema+json"))
            sample = http_json(f"{base}/collections/{cid}/items?limit={QGIS_SAMPLE}",
                               "application/geo+json").get("features", [])
        except (urllib.error.URLError, ValueError) as e:
            c.check(False, f"{coll}: numberMatched and /schema over plain HTTP", str(e))
            continue
        if not c.check(isinstance(matched, int) and isinstance(schema, dict) and schema,
                       f"{coll}: numberMatched={matched}, schema has {len(schema)} fields",
                       "items?limit=1 needs an integer numberMatched and /schema non-empty"
                       " properties"):
            continue
        expected[cid], schemas[cid] = matched, schema

        uri = f"url='{base}' typename='{cid}'" + (f" pageSize='{page_size}'" if page_size else "")
        layer = QgsVectorLayer(uri, cid, "OAPIF")
        if not c.check(layer.isValid(), f"{coll}: OAPIF layer is valid ({uri})",
                       f"invalid layer: {layer_error(layer)}{drain_log()}"):
            continue
        layers[cid] = layer

        n = 0
        no_geom = 0
        other_types = {}
        layer_type = layer.wkbType()
        for f in layer.getFeatures(QgsFeatureRequest()):
            n += 1
            if not f.hasGeometry() or f.geometry().isEmpty():
                no_geom += 1
            elif f.geometry().wkbType() != layer_type:
                t = QgsWkbTypes.displayString(f.geometry().wkbType())
                other_types[t] = other_types.get(t, 0) + 1
        c.check(n == matched, f"{coll}: iterated {n} features through QGIS, numberMatched={matched}",
                f"QGIS read {n}, server says {matched}{drain_log()}")
        c.check(no_geom == 0, f"{coll}: every feature has a geometry in QGIS",
                f"{no_geom} of {n} features without geometry")
        if other_types:
            # Not counted: QGIS takes the layer's geometry type from the first 10 features.
            print(f"WARN {coll}: QGIS typed the layer {QgsWkbTypes.displayString(layer_type)}"
                  f" from the first {QGIS_SAMPLE} features, but later features are {other_types};"
                  " GeoPackage exports get mixed types (non-conformant). Emit one geometry type"
                  " per collection (e.g. always MultiPolygon).", flush=True)
        check_fields(c, f"{coll} OAPIF layer", layer, schema, sample)

        # ---- exports ----
        ctx = QgsCoordinateTransformContext()
        safe = cid.replace("-", "_")
        for driver, ext, lopts, files in (
                ("GPKG", "gpkg", [], ("gpkg", "gpkg-wal", "gpkg-shm")),
                ("ESRI Shapefile", "shp", [], ("shp", "shx", "dbf", "prj", "cpg", "qpj")),
                ("CSV", "csv", ["CREATE_CSVT=YES", "GEOMETRY=AS_WKT"], ("csv", "csvt"))):
            path = os.path.join(outdir, f"{safe}.{ext}")
            for e in files:  # a previous run's files: the writer would not replace all of them
                old = os.path.join(outdir, f"{safe}.{e}")
                if os.path.exists(old):
                    os.remove(old)
            opts = QgsVectorFileWriter.SaveVectorOptions()
            opts.driverName = driver
            opts.fileEncoding = "UTF-8"
            opts.layerName = safe
            opts.layerOptions = lopts
            res = QgsVectorFileWriter.writeAsVectorFormatV3(layer, path, ctx, opts)
            err, msg = res[0], res[1]
            if not c.check(err == QgsVectorFileWriter.NoError, f"{coll}: written as {driver} to {path}",
                           f"writer error {err}: {msg}"):
                continue
            src = f"{path}|layername={safe}" if driver == "GPKG" else path
            back = QgsVectorLayer(src, f"{cid}_{ext}", "ogr")
            if not c.check(back.isValid(), f"{coll}: {driver} file reopens with the ogr provider",
                           layer_error(back) + drain_log()):
                continue
            nb = back.featureCount()
            c.check(nb == matched, f"{coll}: {driver} file has {nb} features, numberMatched={matched}",
                    f"{nb} != {matched}")
            check_fields(c, f"{coll} {driver} file", back, schema)
            del back

    # ---- paging was exercised: at least one layer is larger than QGIS's page ----
    largest = max((v for v in expected.values() if isinstance(v, int)), default=0)
    c.check(largest > 1000, f"largest layer iterated through QGIS has {largest} features",
            "no layer is larger than 1,000 features, so paging was not exercised")

    # ---- zonal statistics on the hotspots layer ----
    if raster:
        run_zonal(c, layers.get("hotspots"), expected.get("hotspots"), schemas.get("hotspots"),
                  raster, outdir, drain_log)

    layers.clear()
    return finish(c)


def run_zonal(c, layer, matched, schema, raster, outdir, drain_log):
    what = "zonal statistics (native:zonalstatisticsfb) on the hotspots OAPIF layer"
    if layer is None:
        c.check(False, what, "no valid 'hotspots' OAPIF layer (see above)")
        return
    sys.path.append("/usr/share/qgis/python/plugins")
    from processing.core.Processing import Processing
    from qgis.analysis import QgsNativeAlgorithms
    Processing.initialize()
    if QgsApplication.processingRegistry().providerById("native") is None:
        QgsApplication.processingRegistry().addProvider(QgsNativeAlgorithms())
    import processing

    out = os.path.join(outdir, "zonal.gpkg")
    if os.path.exists(out):
        os.remove(out)
    stats = {0: "count", 1: "sum", 2: "mean"}
    prefix = "zs_"
    try:
        res = processing.run("native:zonalstatisticsfb", {
            "INPUT": layer, "INPUT_RASTER": raster, "RASTER_BAND": 1,
            "COLUMN_PREFIX": prefix, "STATISTICS": list(stats), "OUTPUT": out})
    except Exception as e:  # QgsProcessingException and friends
        c.check(False, what, f"{e}{drain_log()}")
        return
    c.check(os.path.exists(out), f"{what}: wrote {out}", f"no output file ({res}){drain_log()}")
    if not os.path.exists(out):
        return
    zl = QgsVectorLayer(out, "zonal", "ogr")
    if not c.check(zl.isValid(), "zonal.gpkg reopens with the ogr provider",
                   layer_error(zl) + drain_log()):
        return
    n = zl.featureCount()
    c.check(n == matched, f"zonal.gpkg has {n} features, hotspots numberMatched={matched}",
            f"{n} != {matched}")
    names = zl.fields().names()
    new = [prefix + s for s in stats.values()]
    missing = [f for f in list(schema) + new if f not in names]
    c.check(not missing, f"zonal.gpkg has the {len(schema)} hotspots fields plus {', '.join(new)}",
            f"missing {missing}; has {names}")
    idx = zl.fields().indexFromName(prefix + "count")
    if idx >= 0:
        covered = sum(1 for f in zl.getFeatures() if (f.attribute(idx) or 0) > 0)
        c.check(covered > 0, f"zonal.gpkg: {covered} of {n} hotspots cover raster cells",
                "every zs_count is 0 or null: the EPSG:4326 features and the EPSG:27700 raster"
                " did not line up (or the raster does not cover the hotspots)")
    del zl


def finish(c):
    print(c.summary(), flush=True)
    shutil.rmtree(_CACHE, ignore_errors=True)
    # Skip QGIS/Qt teardown, which can crash at interpreter exit and mask the result.
    os._exit(1 if c.failed else 0)


if __name__ == "__main__":
    main()
