// The map and its data layers. Each data layer knows how to fetch its data, draw it and
// describe itself (title and legend); the layer panel lists them with a checkbox and a legend.
// The base map is the only thing that needs the internet: when its tiles fail, the walkway
// network (always drawn in light grey) is the base, and the data layers draw all the same.

import { h, replaceChildren, debounce } from './util.js';
import { t, onLanguageChange } from './i18n.js';

const L = window.L;

/** Timings the browser tests (and curious people) can read. */
export const metrics = (window.__lagesbild = window.__lagesbild || { layers: {}, firstLayerMs: null });

export function createMap(el, config) {
  const [w, s, e, n] = config.service_area_wgs84 || [10.0, 55.0, 24.2, 69.1];
  const bounds = L.latLngBounds([s, w], [n, e]);
  const map = L.map(el, {
    zoomControl: true,
    keyboard: true,
    preferCanvas: false,
    maxBounds: bounds.pad(0.5),
    minZoom: 5,
    maxZoom: 19,
    attributionControl: false,
  });
  attribution(config.tile_attribution).addTo(map);
  // Start on the districts when there are any (the data), else on the service area.
  const districts = (config.districts || []).filter((d) => Array.isArray(d.bbox));
  if (districts.length) {
    const home = L.latLngBounds(districts.map((d) => [[d.bbox[1], d.bbox[0]], [d.bbox[3], d.bbox[2]]]).flat());
    map.fitBounds(home.pad(0.05));
  } else {
    map.fitBounds(bounds.pad(-0.15));
  }
  map.createPane('walkwayPane').style.zIndex = 350;
  map.createPane('cellPane').style.zIndex = 360;
  map.createPane('stretchPane').style.zIndex = 420;
  map.createPane('pointPane').style.zIndex = 450;

  const tiles = L.tileLayer(config.tile_url, {
    maxZoom: 19,
    crossOrigin: true,
  });
  let failed = 0;
  let loaded = 0;
  tiles.on('tileload', () => {
    loaded++;
    document.body.classList.remove('tiles-offline');
  });
  tiles.on('tileerror', () => {
    failed++;
    if (failed >= 4 && loaded === 0) document.body.classList.add('tiles-offline');
  });
  tiles.addTo(map);
  map.getContainer().setAttribute('aria-label', t('map.aria'));
  onLanguageChange(() => map.getContainer().setAttribute('aria-label', t('map.aria')));
  return map;
}

/**
 * The map's attribution control, built from DOM nodes. Leaflet's own control joins its prefix
 * and the layers' attributions into innerHTML, and the base map's attribution comes from the
 * configuration through the API: here it is text, whatever it holds.
 */
export function attribution(text, { prefix = true } = {}) {
  const Control = L.Control.extend({
    options: { position: 'bottomright' },
    onAdd() {
      const el = h(
        'div',
        { class: 'leaflet-control-attribution' },
        prefix ? h('a', { href: 'https://leafletjs.com', title: 'Leaflet' }, 'Leaflet') : null,
        prefix && text ? h('span', { 'aria-hidden': 'true' }, ' | ') : null,
        text || null,
      );
      L.DomEvent.disableClickPropagation(el);
      return el;
    },
  });
  return new Control();
}

/** bbox=w,s,e,n of the map's view, padded so small pans need no new request. */
export function viewBbox(map, pad = 0.25) {
  const b = map.getBounds().pad(pad);
  const r = (v) => v.toFixed(5);
  return [r(b.getWest()), r(b.getSouth()), r(b.getEast()), r(b.getNorth())].join(',');
}

/**
 * A layer of data on the map.
 * opts: { id, title: () => string, legend: () => Node, pane, minZoom, followsView,
 *         tiles: { below, minZoom, create: () => grid layer } — drawn from vector tiles from
 *           `tiles.minZoom` up to below `tiles.below`, from GeoJSON (fetch and draw) above,
 *         fetch: (ctx) => Promise<data>, draw: (data, group) => count, visible,
 *         features: (data) => the GeoJSON features drawn (for the export; default data.features),
 *         clearOnError: an error takes the layer's old drawing off the map }
 * A failed load keeps its message (`message`, shown under the layer's name) and HTTP status
 * (`errorStatus`).
 */
export class DataLayer {
  constructor(map, opts) {
    this.map = map;
    this.opts = opts;
    this.id = opts.id;
    this.group = L.featureGroup();
    this.visible = opts.visible !== false;
    this.state = 'idle';
    this.count = 0;
    this.message = '';
    this.errorStatus = null;
    this.controller = null;
    this.listeners = new Set();
    this.data = null;
    if (opts.followsView) {
      map.on('moveend', debounce(() => this.visible && this.reload(), 250));
    }
  }

  onChange(fn) {
    this.listeners.add(fn);
  }

  emit() {
    metrics.layers[this.id] = { state: this.state, count: this.count };
    for (const fn of this.listeners) fn(this);
  }

  setVisible(v) {
    this.visible = v;
    if (v) {
      this.group.addTo(this.map);
      this.reload();
    } else {
      this.group.remove();
      this.controller?.abort();
      this.state = 'hidden';
      this.emit();
    }
  }

  tooFar() {
    const min = this.opts.tiles ? this.opts.tiles.minZoom : this.opts.minZoom;
    return min && this.map.getZoom() < min;
  }

  /** Drawn from vector tiles at this zoom (below `opts.tiles.below`), not from GeoJSON. */
  tiled() {
    return Boolean(this.opts.tiles) && this.map.getZoom() < this.opts.tiles.below;
  }

  /**
   * Puts the layer's vector tiles on the map (once; the grid follows the view by itself) and
   * tells the panel what they hold each time the tiles on screen have loaded.
   */
  showTiles() {
    if (!this.grid) {
      this.grid = this.opts.tiles.create();
      this.grid.on('loading', () => {
        if (!this.tiled()) return;
        this.state = 'loading';
        this.emit();
      });
      this.grid.on('load', () => {
        if (!this.tiled() || !this.visible) return;
        this.count = this.grid.features();
        this.state = 'ready';
        this.message = '';
        this.errorStatus = null;
        this.firstDrawn();
        this.emit();
      });
      this.grid.on('tileerror', (e) => {
        if (!this.tiled()) return;
        this.state = 'error';
        this.message = e.error?.message || String(e.error || '');
        this.errorStatus = e.error?.status ?? null;
        this.emit();
      });
    }
    this.data = null;
    if (!this.group.hasLayer(this.grid)) {
      this.group.clearLayers();
      this.group.addLayer(this.grid);
      this.state = 'loading';
      this.emit();
    }
    if (!this.map.hasLayer(this.group)) this.group.addTo(this.map);
  }

  /** The first layer with something in it marks the page's first-layer time. */
  firstDrawn() {
    if (metrics.firstLayerMs === null && this.count > 0) {
      metrics.firstLayerMs = performance.now();
      metrics.firstLayerId = this.id;
      performance.mark('lagesbild:first-layer');
    }
  }

  async reload() {
    if (!this.visible) return;
    this.controller?.abort();
    if (this.tooFar()) {
      this.group.clearLayers();
      this.count = 0;
      this.state = 'zoom';
      this.emit();
      return;
    }
    if (this.tiled()) {
      this.showTiles();
      return;
    }
    const controller = new AbortController();
    this.controller = controller;
    this.state = 'loading';
    this.emit();
    try {
      const data = await this.opts.fetch({ map: this.map, signal: controller.signal, layer: this });
      if (controller.signal.aborted) return;
      this.data = data;
      if (this.tiled()) return;
      this.group.clearLayers();
      this.count = this.opts.draw(data, this.group, this) ?? 0;
      if (!this.map.hasLayer(this.group)) this.group.addTo(this.map);
      this.state = 'ready';
      this.message = '';
      this.errorStatus = null;
      this.firstDrawn();
    } catch (err) {
      if (err.name === 'AbortError' || this.tiled()) return;
      this.state = err.status === 401 || err.status === 403 ? 'denied' : 'error';
      this.message = err.message;
      this.errorStatus = err.status ?? null;
      if (this.opts.clearOnError) {
        this.group.clearLayers();
        this.data = null;
        this.count = 0;
      }
      console.warn(`layer ${this.id}:`, err);
    }
    this.emit();
  }
}

/** The list of layers with a checkbox, a status line and a legend each. */
export class LayerPanel {
  constructor(container) {
    this.container = container;
    this.layers = [];
    onLanguageChange(() => this.render());
  }

  add(layer) {
    this.layers.push(layer);
    layer.onChange(() => this.update(layer));
    this.render();
    if (layer.visible) layer.group.addTo(layer.map);
    return layer;
  }

  remove(layer) {
    this.layers = this.layers.filter((l) => l !== layer);
    layer.controller?.abort();
    layer.group.remove();
    this.render();
  }

  render() {
    replaceChildren(
      this.container,
      this.layers.map((layer) => {
        const id = `layer-${layer.id}`;
        const box = h('input', {
          type: 'checkbox',
          id,
          checked: layer.visible,
          onchange: (e) => layer.setVisible(e.target.checked),
        });
        const status = h('span', { class: 'layer-status', 'aria-live': 'polite' });
        const message = h('p', { class: 'layer-message', 'aria-live': 'polite' });
        const item = h(
          'section',
          { class: 'layer', dataset: { layer: layer.id }, 'aria-labelledby': `${id}-title` },
          h('div', { class: 'layer-head' }, box, h('label', { for: id, id: `${id}-title` }, layer.opts.title()), status),
          message,
          h('div', { class: 'legend' }, layer.opts.legend()),
        );
        layer._item = item;
        layer._status = status;
        layer._message = message;
        this.update(layer);
        return item;
      }),
    );
  }

  update(layer) {
    if (!layer._item) return;
    layer._item.dataset.state = layer.state;
    layer._item.dataset.count = String(layer.count);
    const text = {
      idle: '',
      hidden: '',
      loading: t('layer.loading'),
      ready: t('layer.count', { n: layer.count.toLocaleString(document.documentElement.lang) }),
      zoom: t('layer.zoomIn'),
      denied: t('layer.denied'),
      error: t('layer.error'),
    }[layer.state];
    layer._status.textContent = text || '';
    layer._status.title = layer.message || '';
    // What went wrong, in the server's words (a too short period, a bad parameter), for everyone
    // to read, not only in a hover title.
    layer._message.textContent = layer.state === 'error' ? layer.message || '' : '';
    if (layer.opts.legendUpdate) layer.opts.legendUpdate(layer._item.querySelector('.legend'), layer);
  }
}

/** A legend row: a swatch (fill, line, dashed line or point) and its text. */
export function swatch(kind, style, label) {
  const s = h('span', { class: `swatch swatch-${kind}`, 'aria-hidden': 'true' });
  if (kind === 'fill') {
    s.style.background = style.fill;
    s.style.borderColor = style.stroke || style.fill;
  } else if (kind === 'line' || kind === 'dash') {
    s.style.borderTopColor = style.stroke;
    s.style.borderTopWidth = `${style.width || 4}px`;
  } else if (kind === 'point') {
    s.style.background = style.fill;
    s.style.borderColor = style.stroke || '#000';
  } else if (kind === 'text') {
    s.textContent = style.text;
    s.style.background = style.fill;
    s.style.color = style.color || '#fff';
  }
  return h('div', { class: 'legend-row' }, s, h('span', {}, label));
}
