// Mapbox Vector Tiles 2.1 in the browser: a protobuf reader for the three messages the format
// has (Tile, Layer, Feature, and Value), the geometry commands, and a Leaflet grid layer that
// draws one layer's tiles on canvas. The map draws the walkway network and the dark stretches
// from these tiles at low zoom, where GeoJSON of a whole region would take seconds to send and
// parse; from the detailed zooms on, the layers are GeoJSON again (clickable, with popups).
//
// Strings in a tile (ids, states, classes) are data: they are compared and passed on, never put
// into markup.

const L = window.L;

const utf8 = new TextDecoder('utf-8');

/** A protobuf reader over bytes: varints, fixed 32/64-bit numbers and length-delimited fields. */
class Pbf {
  constructor(bytes, start = 0, end = bytes.length) {
    this.buf = bytes;
    this.pos = start;
    this.end = end;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** A varint as a number (exact up to 2^53). */
  varint() {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error('vector tile: a varint runs past the end');
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw new Error('vector tile: a varint longer than 10 bytes');
  }

  /** A zigzag-encoded signed varint. */
  svarint() {
    return zigzag(this.varint());
  }

  /** The bounds [start, end) of a length-delimited field's bytes. */
  span() {
    const len = this.varint();
    const start = this.pos;
    const end = start + len;
    if (end > this.end) throw new Error('vector tile: a field runs past the end');
    this.pos = end;
    return [start, end];
  }

  string() {
    const [s, e] = this.span();
    return utf8.decode(this.buf.subarray(s, e));
  }

  double() {
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  float() {
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** Packed unsigned varints. */
  packed() {
    const [s, e] = this.span();
    const inner = new Pbf(this.buf, s, e);
    const out = [];
    while (inner.pos < inner.end) out.push(inner.varint());
    return out;
  }

  skip(wire) {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.span();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`vector tile: unknown wire type ${wire}`);
  }

  /** Calls `fn(field, wire)` for each field up to the end; `fn` reads or skips the value. */
  fields(fn) {
    while (this.pos < this.end) {
      const key = this.varint();
      fn(Math.floor(key / 8), key % 8);
    }
  }
}

function readValue(pbf, [s, e]) {
  const p = new Pbf(pbf.buf, s, e);
  let value = null;
  p.fields((field, wire) => {
    if (field === 1 && wire === 2) value = p.string();
    else if (field === 2 && wire === 5) value = p.float();
    else if (field === 3 && wire === 1) value = p.double();
    else if ((field === 4 || field === 5) && wire === 0) value = p.varint();
    else if (field === 6 && wire === 0) value = p.svarint();
    else if (field === 7 && wire === 0) value = p.varint() !== 0;
    else p.skip(wire);
  });
  return value;
}

/** Zigzag: 0, 1, 2, 3 … back to 0, −1, 1, −2 … (as a number, exact up to 2^53). */
const zigzag = (n) => (n % 2 === 1 ? -(n + 1) / 2 : n / 2);

/**
 * Walks a feature's geometry commands: `visit(1, x, y)` for each MoveTo position and
 * `visit(2, x, y)` for each LineTo position (tile units, the cursor carried across parts), and
 * `visit(7)` for each ClosePath. Malformed commands throw.
 */
export function walkCommands(commands, visit) {
  let x = 0;
  let y = 0;
  for (let i = 0; i < commands.length; ) {
    const id = commands[i] & 7;
    const count = commands[i++] >>> 3;
    if (id === 7) {
      visit(7);
      continue;
    }
    if (id !== 1 && id !== 2) throw new Error(`vector tile: unknown geometry command ${id}`);
    for (let k = 0; k < count; k++) {
      if (i + 1 >= commands.length) throw new Error('vector tile: a geometry command lacks its parameters');
      x += zigzag(commands[i++]);
      y += zigzag(commands[i++]);
      visit(id, x, y);
    }
  }
}

/**
 * The geometry commands of a feature as parts in tile units: `[[x, y], …]` per point
 * (type 1), per line (type 2) or per ring (type 3).
 */
export function decodeGeometry(type, commands) {
  const parts = [];
  let current = null;
  walkCommands(commands, (id, x, y) => {
    if (id === 1) {
      current = [[x, y]];
      parts.push(current);
    } else if (id === 2) {
      current?.push([x, y]);
    } else if (current && current.length) {
      current.push(current[0].slice());
    }
  });
  if (type === 1) return parts.flat().map((p) => [p]);
  return parts;
}

/**
 * A tile's layers by name: `{ name: { extent, version, features: [{ id, type, properties,
 * parts }] } }`.
 */
export function decodeTile(bytes) {
  const tile = new Pbf(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  const layers = {};
  tile.fields((field, wire) => {
    if (field !== 3 || wire !== 2) return tile.skip(wire);
    const [s, e] = tile.span();
    const p = new Pbf(tile.buf, s, e);
    const layer = { name: '', version: 1, extent: 4096, keys: [], values: [], raw: [] };
    p.fields((f, w) => {
      if (f === 1 && w === 2) layer.name = p.string();
      else if (f === 15 && w === 0) layer.version = p.varint();
      else if (f === 5 && w === 0) layer.extent = p.varint();
      else if (f === 3 && w === 2) layer.keys.push(p.string());
      else if (f === 4 && w === 2) layer.values.push(readValue(p, p.span()));
      else if (f === 2 && w === 2) layer.raw.push(p.span());
      else p.skip(w);
    });
    layer.features = layer.raw.map((span) => {
      const fp = new Pbf(tile.buf, span[0], span[1]);
      let id = null;
      let type = 0;
      let tags = [];
      let commands = [];
      fp.fields((f, w) => {
        if (f === 1 && w === 0) id = fp.varint();
        else if (f === 2 && w === 2) tags = fp.packed();
        else if (f === 3 && w === 0) type = fp.varint();
        else if (f === 4 && w === 2) commands = fp.packed();
        else fp.skip(w);
      });
      const properties = {};
      for (let k = 0; k + 1 < tags.length; k += 2) {
        const key = layer.keys[tags[k]];
        if (key !== undefined) properties[key] = layer.values[tags[k + 1]] ?? null;
      }
      // The commands as they came: drawn straight from them, turned into parts only when asked
      // (a tile of a dense network holds 10 000 lines, and arrays per point cost more than the
      // drawing).
      return {
        id,
        type,
        properties,
        commands,
        get parts() {
          return decodeGeometry(type, commands);
        },
      };
    });
    delete layer.raw;
    layers[layer.name] = layer;
  });
  return layers;
}

/**
 * One layer of the server's vector tiles (`/tiles/<layer>/{z}/{x}/{y}.mvt`) drawn on canvas.
 * opts: { layer, minNativeZoom, maxNativeZoom, fetchTile: (url, signal) => Promise<Response>,
 *         style: (properties) => { color, weight, opacity, dashArray } }.
 * Deeper zooms than the server's draw its deepest tiles larger. `features()` counts the lines
 * and points the tiles on screen draw; `featuresNear(latlng, px)` the line features within `px` pixels.
 */
export const VectorTileGrid = L.GridLayer.extend({
  initialize(opts) {
    L.GridLayer.prototype.initialize.call(this, { updateWhenZooming: false, keepBuffer: 1, ...opts });
    this._decoded = new Map();
    this._aborts = new Map();
    this.on('tileunload', (e) => {
      const key = this._tileCoordsToKey(e.coords);
      this._aborts.get(key)?.abort();
      this._aborts.delete(key);
      this._decoded.delete(key);
    });
  },

  createTile(coords, done) {
    const tile = L.DomUtil.create('canvas', 'lb-vector-tile');
    const size = this.getTileSize();
    const ratio = window.devicePixelRatio || 1;
    tile.width = size.x * ratio;
    tile.height = size.y * ratio;
    const key = this._tileCoordsToKey(coords);
    const { z, x, y, scale } = this._source(coords);
    const controller = new AbortController();
    this._aborts.set(key, controller);
    this.options
      .fetchTile(`/tiles/${this.options.layer}/${z}/${x}/${y}.mvt`, controller.signal)
      .then((res) => res.arrayBuffer())
      .then((buf) => {
        if (controller.signal.aborted) return;
        const layer = decodeTile(new Uint8Array(buf))[this.options.layer];
        const features = layer?.features || [];
        const unit = (size.x * scale) / (layer?.extent || 4096);
        const offset = { x: (coords.x - x * scale) * size.x, y: (coords.y - y * scale) * size.y };
        this._decoded.set(key, { features, unit, offset, coords });
        this._draw(tile, features, unit, offset, ratio);
        done(null, tile);
      })
      .catch((err) => {
        if (err?.name !== 'AbortError') done(err, tile);
      });
    return tile;
  },

  /** The server's tile behind a map tile, and how many map tiles one of its tiles spans. */
  _source(coords) {
    const max = this.options.maxNativeZoom ?? 16;
    if (coords.z <= max) return { z: coords.z, x: coords.x, y: coords.y, scale: 1 };
    const scale = 2 ** (coords.z - max);
    return { z: max, x: Math.floor(coords.x / scale), y: Math.floor(coords.y / scale), scale };
  },

  _draw(canvas, features, unit, offset, ratio) {
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    // Butt ends and mitred joins: round ones cost several times as much to rasterise, and at
    // these zooms a line is a few pixels long.
    ctx.lineJoin = 'miter';
    ctx.lineCap = 'butt';
    for (const f of features) {
      const s = this.options.style(f.properties);
      ctx.strokeStyle = s.color;
      ctx.globalAlpha = s.opacity ?? 1;
      ctx.lineWidth = s.weight ?? 2;
      ctx.setLineDash(s.dashArray ? s.dashArray.split(/[ ,]+/).map(Number) : []);
      ctx.beginPath();
      const r = s.weight ?? 3;
      let start = null;
      walkCommands(f.commands, (id, x, y) => {
        if (id === 7) {
          if (start) ctx.lineTo(start[0], start[1]);
          return;
        }
        const cx = x * unit - offset.x;
        const cy = y * unit - offset.y;
        if (id === 2) {
          ctx.lineTo(cx, cy);
          return;
        }
        if (f.type === 1) {
          ctx.moveTo(cx + r, cy);
          ctx.arc(cx, cy, r, 0, 2 * Math.PI);
        } else {
          ctx.moveTo(cx, cy);
        }
        start = [cx, cy];
      });
      ctx.stroke();
    }
  },

  /**
   * The lines and points drawn by the tiles on screen (below zoom 14 a tile's feature holds
   * every line of a kind; one crossing tiles counts in each): their MoveTo commands.
   */
  features() {
    let n = 0;
    for (const d of this._decoded.values()) {
      for (const f of d.features) {
        walkCommands(f.commands, (id) => {
          if (id === 1) n++;
        });
      }
    }
    return n;
  },

  /** Line features within `px` screen pixels of `latlng`, nearest first: `[{ properties, px }]`. */
  featuresNear(latlng, px = 6) {
    if (!this._map) return [];
    const z = this._tileZoom;
    const size = this.getTileSize();
    const p = this._map.project(latlng, z);
    const key = this._tileCoordsToKey({ x: Math.floor(p.x / size.x), y: Math.floor(p.y / size.y), z });
    const d = this._decoded.get(key);
    if (!d) return [];
    const local = { x: p.x - d.coords.x * size.x, y: p.y - d.coords.y * size.y };
    const found = [];
    for (const f of d.features) {
      let best = Infinity;
      for (const part of f.parts) {
        for (let i = 0; i + 1 < part.length; i++) {
          const a = { x: part[i][0] * d.unit - d.offset.x, y: part[i][1] * d.unit - d.offset.y };
          const b = { x: part[i + 1][0] * d.unit - d.offset.x, y: part[i + 1][1] * d.unit - d.offset.y };
          best = Math.min(best, L.LineUtil.pointToSegmentDistance(L.point(local.x, local.y), L.point(a.x, a.y), L.point(b.x, b.y)));
        }
      }
      if (best <= px) found.push({ properties: f.properties, px: best });
    }
    return found.sort((a, b) => a.px - b.px);
  },
});
