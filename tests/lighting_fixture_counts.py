#!/usr/bin/env python3
"""Independent counts of walkways and street lamps in the OSM fixtures, for tests/lighting.rs.

Reads the .osm XML with Python's xml parser and the .osm.pbf with a minimal protobuf decoder
written here (no OSM library), applying the importer's documented walkway rule: highway in
footway/path/cycleway/pedestrian/steps/living_street/bridleway, or a street with
sidewalk=both|left|right|yes; not access=private|no; at least two of its nodes in the file.

    python3 tests/lighting_fixture_counts.py
"""
import struct
import sys
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

WALK = {"footway", "path", "cycleway", "pedestrian", "steps", "living_street", "bridleway"}
STREETS = {"residential", "service", "unclassified", "tertiary", "secondary", "primary",
           "living_street", "road", "trunk"}


def is_walkway(tags):
    h = tags.get("highway")
    if h is None or tags.get("access") in ("private", "no"):
        return False
    side = tags.get("sidewalk") or tags.get("sidewalk:both")
    return h in WALK or (h in STREETS and side in ("both", "left", "right", "yes"))


def count(ways, node_ids, lamps):
    walkways = [refs for tags, refs in ways if is_walkway(tags)]
    ok = sum(1 for refs in walkways if sum(r in node_ids for r in refs) >= 2)
    return ok, lamps


def xml_counts(path):
    root = ET.parse(path).getroot()
    node_ids, lamps = set(), 0
    for n in root.iter("node"):
        node_ids.add(int(n.get("id")))
        if any(t.get("k") == "highway" and t.get("v") == "street_lamp" for t in n.iter("tag")):
            lamps += 1
    ways = [({t.get("k"): t.get("v") for t in w.iter("tag")}, [int(nd.get("ref")) for nd in w.iter("nd")])
            for w in root.iter("way")]
    return count(ways, node_ids, lamps)


# --- a minimal protobuf reader -----------------------------------------------------------------

def varint(b, i):
    shift = result = 0
    while True:
        c = b[i]
        i += 1
        result |= (c & 0x7F) << shift
        if c < 0x80:
            return result, i
        shift += 7


def fields(b):
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wt}")
        yield num, v


def packed(b):
    out, i = [], 0
    while i < len(b):
        v, i = varint(b, i)
        out.append(v)
    return out


def zigzag(v):
    return (v >> 1) ^ -(v & 1)


def delta(vals):
    acc, out = 0, []
    for v in vals:
        acc += zigzag(v)
        out.append(acc)
    return out


def pbf_counts(path):
    data = Path(path).read_bytes()
    i, node_ids, lamps, ways = 0, set(), 0, []
    while i < len(data):
        (hlen,) = struct.unpack(">I", data[i:i + 4])
        i += 4
        header = dict(fields(data[i:i + hlen]))
        i += hlen
        size = header[3]
        blob = dict(fields(data[i:i + size]))
        i += size
        raw = blob.get(1) or zlib.decompress(blob[3])
        if header[1] != b"OSMData":
            continue
        block = list(fields(raw))
        strings = [s for num, st in block if num == 1 for n2, s in fields(st) if n2 == 1]
        for num, group in block:
            if num != 2:
                continue
            for gnum, el in fields(group):
                if gnum == 2:  # DenseNodes
                    d = {}
                    for n2, v in fields(el):
                        d.setdefault(n2, b"")
                        d[n2] += v if isinstance(v, bytes) else b""
                    ids = delta(packed(d.get(1, b"")))
                    node_ids.update(ids)
                    kv = packed(d.get(10, b""))
                    k = 0
                    for _ in ids:
                        tags = {}
                        while k < len(kv) and kv[k] != 0:
                            tags[strings[kv[k]].decode()] = strings[kv[k + 1]].decode()
                            k += 2
                        k += 1
                        if tags.get("highway") == "street_lamp":
                            lamps += 1
                elif gnum == 1:  # Node
                    f = list(fields(el))
                    nid = zigzag(next(v for n2, v in f if n2 == 1))
                    node_ids.add(nid)
                    keys = [x for n2, v in f if n2 == 2 for x in packed(v)]
                    vals = [x for n2, v in f if n2 == 3 for x in packed(v)]
                    tags = {strings[a].decode(): strings[b].decode() for a, b in zip(keys, vals)}
                    if tags.get("highway") == "street_lamp":
                        lamps += 1
                elif gnum == 3:  # Way
                    f = list(fields(el))
                    keys = [x for n2, v in f if n2 == 2 for x in packed(v)]
                    vals = [x for n2, v in f if n2 == 3 for x in packed(v)]
                    refs = delta([x for n2, v in f if n2 == 8 for x in packed(v)])
                    tags = {strings[a].decode(): strings[b].decode() for a, b in zip(keys, vals)}
                    ways.append((tags, refs))
    return count(ways, node_ids, lamps)


if __name__ == "__main__":
    here = Path(__file__).parent / "fixtures"
    for name, f in [("ostermalm_slice.osm", xml_counts), ("helsinki_center.osm.pbf", pbf_counts)]:
        w, l = f(here / name)
        print(f"{name}: {w} walkways, {l} street lamps")
    sys.exit(0)
