#!/usr/bin/python3
"""Page through every collection of the hotspots server with OWSLib, following `next` links.

Usage (the system python has python3-owslib 0.27):

    /usr/bin/python3 tests/clients/owslib_paging.py BASE [LIMIT]

BASE is the server root, e.g. http://127.0.0.1:18555. With LIMIT the first page of each
collection is asked for with limit=LIMIT; without it, with no parameters at all (the
server's default page size).

For each collection listed by /collections (owslib.ogcapi.features.Features.collections()):
the first page comes from Features.collection_items(); then every `next` link is fetched
with a plain HTTP GET of its href exactly as given (no URL joining). Checks per collection:
every next href is an absolute http(s) URL; every page's numberReturned (if present)
equals its number of features; the features summed over all pages equal numberMatched;
every feature has an id and the ids are unique.

One line per check (PASS/FAIL), then `N passed, M failed`; the exit status is 1 on any
failure.
"""
import sys

from client_checks import Checks, is_absolute  # beside this script
import urllib.parse
from collections import Counter

try:
    import requests
    from owslib.ogcapi.features import Features
except ImportError:
    sys.exit("OWSLib not importable: run this with the system python (/usr/bin/python3)")

TIMEOUT = 120





def next_hrefs(page):
    return [lnk.get("href") for lnk in page.get("links", []) if lnk.get("rel") == "next"]


def page_collection(c, api, cid, limit):
    coll = f"collection '{cid}'"
    try:
        page = api.collection_items(cid, **({"limit": limit} if limit else {}))
    except Exception as e:  # OWSLib raises RuntimeError with the body on non-200
        c.check(False, f"{coll}: first page via OWSLib collection_items", f"{api.request}: {e}")
        return
    matched = page.get("numberMatched")
    if not c.check(isinstance(matched, int),
                   f"{coll}: first page ({api.request}) has numberMatched={matched}",
                   "numberMatched missing or not an integer"):
        return

    total = 0
    pages = 0
    ids = []
    missing_id = 0
    bad_hrefs = []
    bad_counts = []
    error = None
    seen = set()
    url = api.request
    while True:
        pages += 1
        feats = page.get("features", [])
        total += len(feats)
        for f in feats:
            if f.get("id") is None:
                missing_id += 1
            else:
                ids.append(f["id"])
        nr = page.get("numberReturned")
        if nr is not None and nr != len(feats):
            bad_counts.append(f"{url}: numberReturned={nr} but {len(feats)} features")
        nexts = next_hrefs(page)
        if not nexts:
            break
        if len(nexts) > 1:
            error = f"{url} has {len(nexts)} next links"
            break
        href = nexts[0]
        if not is_absolute(href):
            bad_hrefs.append(href)
            error = f"next href {href!r} (on {url}) is not an absolute http(s) URL"
            break
        if href in seen or pages > matched + 1:
            error = f"paging does not end: {href} again after {pages} pages"
            break
        if not feats:
            error = f"{url} has no features but a next link"
            break
        seen.add(href)
        url = href
        try:
            r = requests.get(href, headers={"Accept": "application/geo+json"}, timeout=TIMEOUT)
        except requests.RequestException as e:
            error = f"GET {href}: {e}"
            break
        if r.status_code != 200:
            error = f"GET {href}: HTTP {r.status_code} {r.text[:300]}"
            break
        try:
            page = r.json()
        except ValueError as e:
            error = f"GET {href}: not JSON ({e})"
            break

    c.check(not bad_hrefs and error is None,
            f"{coll}: {pages} pages, every next href absolute and fetched as given", error or "")
    c.check(not bad_counts, f"{coll}: numberReturned matches the features on every page",
            "; ".join(bad_counts[:3]))
    c.check(total == matched, f"{coll}: {total} features over all pages, numberMatched={matched}",
            f"{total} != {matched}")
    dups = [i for i, k in Counter(map(str, ids)).items() if k > 1]
    c.check(missing_id == 0 and not dups, f"{coll}: {len(ids)} feature ids, all present and unique",
            f"{missing_id} features without id, {len(dups)} ids repeated (e.g. {dups[:5]})")


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: /usr/bin/python3 owslib_paging.py BASE [LIMIT]")
    base = sys.argv[1].rstrip("/")
    limit = int(sys.argv[2]) if len(sys.argv) == 3 else None
    c = Checks()
    try:
        api = Features(base)  # GETs the landing page
        ids = [col["id"] for col in api.collections()["collections"]]
    except Exception as e:
        c.check(False, "landing page and /collections via OWSLib", str(e))
        return finish(c)
    c.check(bool(ids), f"/collections lists {len(ids)} collections: {', '.join(ids)}", "none listed")
    for cid in ids:
        page_collection(c, api, cid, limit)
    return finish(c)


def finish(c):
    print(c.summary(), flush=True)
    sys.exit(1 if c.failed else 0)


if __name__ == "__main__":
    main()
