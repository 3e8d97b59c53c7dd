//! The spatial core: R-trees over everything the analyses need, in EPSG:3006.
//!
//! A [`Snapshot`] is immutable. Each layer sits behind its own `Arc`, so a new snapshot after a
//! citizen report shares the incident, walkway and lamp layers with the old one and rebuilds only
//! the report layer. [`Spatial`] holds the current snapshot in an `ArcSwap`: readers take an
//! `Arc<Snapshot>` without waiting on any lock, writers publish a whole new snapshot atomically.
//!
//! Everything here is in memory. Reading a snapshot from the store (`Snapshot::load`,
//! `Spatial::reload`, `Spatial::reload_reports`) is in `crate::store::snapshot`, beside the store.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use geo::{BoundingRect, Closest, ClosestPoint, Contains, Line, Point};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

use crate::analysis::filter::{FilterRow, LocalTimes};
use crate::category::CategoryGroup;
use crate::model::{
    Area, BraStat, CitizenReport, Incident, Lamp, LocationPrecision, TimePrecision, Walkway,
};

/// A point in an R-tree with the index of its item in the layer's vector.
pub type IndexedPoint = GeomWithData<[f64; 2], usize>;
/// One straight segment of a walkway: `(walkway index, segment index)`.
pub type IndexedSegment = GeomWithData<rstar::primitives::Line<[f64; 2]>, (usize, usize)>;
/// An area's bounding box.
pub type IndexedRect = GeomWithData<Rectangle<[f64; 2]>, usize>;

fn point_tree<T>(items: &[T], at: impl Fn(&T) -> Point<f64>) -> RTree<IndexedPoint> {
    RTree::bulk_load(
        items
            .iter()
            .enumerate()
            .map(|(i, it)| {
                let p = at(it);
                IndexedPoint::new([p.x(), p.y()], i)
            })
            .collect(),
    )
}

/// An incident id as the source wrote it, held inline when it is short (as Polisen's and most
/// registers' are), so that a million of them are no million small allocations.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum SourceId {
    Inline {
        len: u8,
        bytes: [u8; SourceId::INLINE],
    },
    Heap(Box<str>),
}

impl SourceId {
    const INLINE: usize = 22;

    pub fn new(s: &str) -> Self {
        if s.len() <= Self::INLINE {
            let mut bytes = [0; Self::INLINE];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            Self::Inline {
                len: s.len() as u8,
                bytes,
            }
        } else {
            Self::Heap(s.into())
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            // Copied from a `&str` whole: always UTF-8.
            Self::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            Self::Heap(s) => s,
        }
    }
}

impl From<&str> for SourceId {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl std::ops::Deref for SourceId {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for SourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for SourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for SourceId {
    fn eq(&self, o: &str) -> bool {
        self.as_str() == o
    }
}

impl PartialEq<&str> for SourceId {
    fn eq(&self, o: &&str) -> bool {
        self.as_str() == *o
    }
}

/// One incident as the snapshot holds it: what the analyses and answers read, and no more.
/// The strings that repeat (source, category, label) are shared between incidents; the place
/// and the free text stay in the store, since no answer from the snapshot shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapIncident {
    pub source: Arc<str>,
    pub source_id: SourceId,
    pub occurred_at: DateTime<FixedOffset>,
    pub occurred_to: Option<DateTime<FixedOffset>>,
    pub category: Arc<str>,
    pub label: Arc<str>,
    pub location: Point<f64>,
    pub time_precision: TimePrecision,
    pub group: CategoryGroup,
    pub precision: LocationPrecision,
    /// The local dates and hour of `occurred_at`, `time_precision` and `occurred_to`, worked
    /// out once when the incident is made (the time zone conversion is the dearest part of a
    /// filter or a time profile); [`Self::retime`] after changing those.
    pub(crate) times: LocalTimes,
    /// The incident's place (from 1) among its layer's incidents in the order of their
    /// `source:source_id` keys, given when the layer is built; 0 outside a layer. Cluster ids
    /// sort their members by it instead of comparing the strings.
    pub(crate) key_rank: u32,
}

/// The order of incidents' `source:source_id` keys as strings, without building them.
pub(crate) fn key_order(a: &SnapIncident, b: &SnapIncident) -> std::cmp::Ordering {
    // Members mostly share one source: then the ids decide, compared as bytes like the strings.
    if a.source == b.source {
        return a.source_id.as_bytes().cmp(b.source_id.as_bytes());
    }
    fn key(i: &SnapIncident) -> impl Iterator<Item = u8> + '_ {
        i.source
            .bytes()
            .chain(std::iter::once(b':'))
            .chain(i.source_id.bytes())
    }
    key(a).cmp(key(b))
}

impl SnapIncident {
    /// `inc` with its repeated strings taken from (or added to) `strings`.
    pub fn new(inc: &Incident, strings: &mut Strings) -> Self {
        Self {
            times: LocalTimes::compute(&inc.occurred_at, inc.time_precision, inc.occurred_to),
            key_rank: 0,
            source: strings.get(&inc.source),
            source_id: SourceId::new(&inc.source_id),
            occurred_at: inc.occurred_at,
            occurred_to: inc.occurred_to,
            category: strings.get(&inc.category),
            label: strings.get(&inc.label),
            location: inc.location,
            time_precision: inc.time_precision,
            group: inc.group,
            precision: inc.precision,
        }
    }

    /// One incident alone (tests, small callers); a layer shares strings between them.
    pub fn of(inc: &Incident) -> Self {
        Self::new(inc, &mut Strings::default())
    }

    pub fn occurred_utc(&self) -> DateTime<Utc> {
        self.occurred_at.with_timezone(&Utc)
    }

    /// Works the local times out again after `occurred_at`, `time_precision` or
    /// `occurred_to` changed.
    pub fn retime(&mut self) {
        self.times = LocalTimes::compute(&self.occurred_at, self.time_precision, self.occurred_to);
    }

    /// The local dates and hour, as worked out when the incident was made.
    pub fn times(&self) -> LocalTimes {
        self.times
    }

    /// [`Incident::weekday_hour`].
    pub fn weekday_hour(&self) -> Option<(usize, usize)> {
        self.times
            .weekday_hour
            .map(|(d, h)| (usize::from(d), usize::from(h)))
    }

    /// [`Incident::local_days`].
    pub fn local_days(&self) -> (NaiveDate, NaiveDate) {
        (self.times.first, self.times.last)
    }

    /// [`Incident::local_day`].
    pub fn local_day(&self) -> Option<NaiveDate> {
        let (a, b) = self.local_days();
        (a == b).then_some(a)
    }
}

/// Strings held once however many incidents carry them.
#[derive(Debug, Default)]
pub struct Strings(std::collections::HashSet<Arc<str>>);

impl Strings {
    pub fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.0.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.0.insert(a.clone());
        a
    }
}

pub struct IncidentLayer {
    pub items: Vec<SnapIncident>,
    /// All incidents, whatever their precision: point methods must filter on precision.
    pub tree: RTree<IndexedPoint>,
    /// What the filters read of each of `items`, in the same order (see [`FilterRow`]).
    rows: Vec<FilterRow>,
}

impl IncidentLayer {
    /// The layer over `items`, each dropped as soon as it is converted so that the loaded
    /// incidents and the layer are not both whole in memory.
    pub fn new(items: Vec<Incident>) -> Self {
        let mut b = Self::builder(items.len());
        for i in items {
            b.push(&i);
        }
        b.build()
    }

    /// A layer built from incidents pushed one at a time (as a store streams them), room made
    /// for `expected` of them.
    pub fn builder(expected: usize) -> IncidentLayerBuilder {
        IncidentLayerBuilder {
            items: Vec::with_capacity(expected),
            strings: Strings::default(),
        }
    }

    pub fn empty() -> Self {
        Self::of_items(Vec::new())
    }

    fn of_items(mut items: Vec<SnapIncident>) -> Self {
        use rayon::prelude::*;
        let (tree, order) = rayon::join(
            || point_tree(&items, |i| i.location),
            || {
                let mut order: Vec<u32> = (0..items.len() as u32).collect();
                order.par_sort_unstable_by(|&a, &b| {
                    key_order(&items[a as usize], &items[b as usize])
                });
                order
            },
        );
        for (rank, i) in order.into_iter().enumerate() {
            items[i as usize].key_rank = rank as u32 + 1;
        }
        let rows = items.par_iter().map(FilterRow::of).collect();
        Self { items, tree, rows }
    }

    /// What the filters read of each incident, in the order of [`Self::items`].
    pub fn rows(&self) -> &[FilterRow] {
        &self.rows
    }
}

/// See [`IncidentLayer::builder`].
pub struct IncidentLayerBuilder {
    items: Vec<SnapIncident>,
    strings: Strings,
}

impl IncidentLayerBuilder {
    pub fn push(&mut self, inc: &Incident) {
        self.items.push(SnapIncident::new(inc, &mut self.strings));
    }

    pub fn build(self) -> IncidentLayer {
        IncidentLayer::of_items(self.items)
    }
}

pub struct WalkwayLayer {
    pub items: Vec<Walkway>,
    pub tree: RTree<IndexedSegment>,
}

impl WalkwayLayer {
    pub fn new(items: Vec<Walkway>) -> Self {
        let mut segs = Vec::new();
        for (wi, w) in items.iter().enumerate() {
            for (si, l) in w.geometry.lines().enumerate() {
                segs.push(IndexedSegment::new(
                    rstar::primitives::Line::new([l.start.x, l.start.y], [l.end.x, l.end.y]),
                    (wi, si),
                ));
            }
        }
        Self {
            items,
            tree: RTree::bulk_load(segs),
        }
    }

    /// The walkway nearest to `p` within `max_m` metres, with the closest point on it.
    pub fn nearest(&self, p: Point<f64>, max_m: f64) -> Option<(usize, Point<f64>, f64)> {
        let q = [p.x(), p.y()];
        let seg = self
            .tree
            .nearest_neighbor_iter_with_distance_2(&q)
            .next()
            .filter(|(_, d2)| *d2 <= max_m * max_m)?;
        let (wi, _) = seg.0.data;
        let g = seg.0.geom();
        let line = Line::new(
            geo::coord! { x: g.from[0], y: g.from[1] },
            geo::coord! { x: g.to[0], y: g.to[1] },
        );
        let on = match line.closest_point(&p) {
            Closest::Intersection(c) | Closest::SinglePoint(c) => c,
            Closest::Indeterminate => line.start_point(),
        };
        Some((wi, on, seg.1.sqrt()))
    }
}

pub struct LampLayer {
    pub items: Vec<Lamp>,
    pub tree: RTree<IndexedPoint>,
}

impl LampLayer {
    pub fn new(items: Vec<Lamp>) -> Self {
        let tree = point_tree(&items, |l| l.location);
        Self { items, tree }
    }

    /// The lamp nearest to `p` within `max_m` metres.
    pub fn nearest(&self, p: Point<f64>, max_m: f64) -> Option<(usize, f64)> {
        self.tree
            .nearest_neighbor_iter_with_distance_2(&[p.x(), p.y()])
            .next()
            .filter(|(_, d2)| *d2 <= max_m * max_m)
            .map(|(e, d2)| (e.data, d2.sqrt()))
    }

    pub fn by_id(&self, id: &str) -> Option<&Lamp> {
        self.items.iter().find(|l| l.id == id)
    }
}

pub struct ReportLayer {
    pub items: Vec<CitizenReport>,
    pub tree: RTree<IndexedPoint>,
}

impl ReportLayer {
    pub fn new(items: Vec<CitizenReport>) -> Self {
        let tree = point_tree(&items, |r| r.location);
        Self { items, tree }
    }
}

pub struct AreaLayer {
    pub items: Vec<Area>,
    pub tree: RTree<IndexedRect>,
}

impl AreaLayer {
    pub fn new(items: Vec<Area>) -> Self {
        let rects = items
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                let r = a.geometry.bounding_rect()?;
                Some(IndexedRect::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    i,
                ))
            })
            .collect();
        Self {
            items,
            tree: RTree::bulk_load(rects),
        }
    }

    /// The first area containing `p`.
    pub fn containing(&self, p: Point<f64>) -> Option<&Area> {
        self.tree
            .locate_all_at_point(&[p.x(), p.y()])
            .map(|e| &self.items[e.data])
            .find(|a| a.geometry.contains(&p))
    }

    /// An area by name, compared without regard to case.
    pub fn by_name(&self, name: &str) -> Option<&Area> {
        let n = name.trim().to_lowercase();
        self.items.iter().find(|a| a.name.to_lowercase() == n)
    }
}

/// Everything the analyses read, at one moment.
pub struct Snapshot {
    /// Increases with every published snapshot in this process; analysis caches key on it.
    pub version: u64,
    pub incidents: Arc<IncidentLayer>,
    pub walkways: Arc<WalkwayLayer>,
    pub lamps: Arc<LampLayer>,
    pub reports: Arc<ReportLayer>,
    pub areas: Arc<AreaLayer>,
    pub bra: Arc<Vec<BraStat>>,
    /// The data is the fictitious demo dataset.
    pub demo: bool,
}

impl Snapshot {
    pub fn empty() -> Self {
        Self {
            version: 0,
            incidents: Arc::new(IncidentLayer::empty()),
            walkways: Arc::new(WalkwayLayer::new(Vec::new())),
            lamps: Arc::new(LampLayer::new(Vec::new())),
            reports: Arc::new(ReportLayer::new(Vec::new())),
            areas: Arc::new(AreaLayer::new(Vec::new())),
            bra: Arc::new(Vec::new()),
            demo: false,
        }
    }

    /// Builds every tree over the given items (CPU work: a million points take a few hundred
    /// milliseconds; call it off the async workers).
    pub fn build(
        incidents: Vec<Incident>,
        walkways: Vec<Walkway>,
        lamps: Vec<Lamp>,
        reports: Vec<CitizenReport>,
        areas: Vec<Area>,
        bra: Vec<BraStat>,
        demo: bool,
    ) -> Self {
        let (inc, snap) = rayon::join(
            || IncidentLayer::new(incidents),
            || {
                Self::build_with(
                    IncidentLayer::empty(),
                    walkways,
                    lamps,
                    reports,
                    areas,
                    bra,
                    demo,
                )
            },
        );
        Snapshot {
            incidents: Arc::new(inc),
            ..snap
        }
    }

    /// [`Self::build`] around an incident layer built already.
    pub fn build_with(
        incidents: IncidentLayer,
        walkways: Vec<Walkway>,
        lamps: Vec<Lamp>,
        reports: Vec<CitizenReport>,
        areas: Vec<Area>,
        bra: Vec<BraStat>,
        demo: bool,
    ) -> Self {
        let (walkways, (lamps, (reports, areas))) = rayon::join(
            || WalkwayLayer::new(walkways),
            || {
                rayon::join(
                    || LampLayer::new(lamps),
                    || rayon::join(|| ReportLayer::new(reports), || AreaLayer::new(areas)),
                )
            },
        );
        Snapshot {
            version: 0,
            incidents: Arc::new(incidents),
            walkways: Arc::new(walkways),
            lamps: Arc::new(lamps),
            reports: Arc::new(reports),
            areas: Arc::new(areas),
            bra: Arc::new(bra),
            demo,
        }
    }

    /// This snapshot with another report layer; every other layer is shared.
    pub fn with_reports(&self, reports: Arc<ReportLayer>) -> Self {
        Snapshot {
            version: 0,
            incidents: self.incidents.clone(),
            walkways: self.walkways.clone(),
            lamps: self.lamps.clone(),
            reports,
            areas: self.areas.clone(),
            bra: self.bra.clone(),
            demo: self.demo,
        }
    }

    /// This snapshot with other lamp and report layers; every other layer is shared.
    pub fn with_lamps(&self, lamps: Arc<LampLayer>, reports: Arc<ReportLayer>) -> Self {
        Snapshot {
            lamps,
            ..self.with_reports(reports)
        }
    }

    /// Incidents within `radius` metres of `p` (indices into `incidents.items`).
    pub fn incidents_within(&self, p: Point<f64>, radius: f64) -> impl Iterator<Item = usize> + '_ {
        self.incidents
            .tree
            .locate_within_distance([p.x(), p.y()], radius * radius)
            .map(|e| e.data)
    }

    /// Incidents whose point falls in the box.
    pub fn incidents_in_box(
        &self,
        min: [f64; 2],
        max: [f64; 2],
    ) -> impl Iterator<Item = usize> + '_ {
        self.incidents
            .tree
            .locate_in_envelope(&AABB::from_corners(min, max))
            .map(|e| e.data)
    }
}

/// The current snapshot, swapped atomically.
pub struct Spatial {
    current: ArcSwap<Snapshot>,
    counter: AtomicU64,
    /// Serialises writers so that two reloads cannot publish out of order; readers never take it.
    writer: tokio::sync::Mutex<()>,
}

impl Spatial {
    pub fn new(snapshot: Snapshot) -> Self {
        let s = Self {
            current: ArcSwap::from_pointee(Snapshot::empty()),
            counter: AtomicU64::new(0),
            writer: tokio::sync::Mutex::new(()),
        };
        s.publish(snapshot);
        s
    }

    /// The snapshot readers work on; never blocks.
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Publishes a new snapshot with the next version number, and returns that number.
    ///
    /// Writers that build the new snapshot from the current one (or from the store) hold
    /// [`Self::writer`] from reading to publishing, so that no two of them publish out of order or
    /// lose each other's layers.
    pub fn publish(&self, mut snapshot: Snapshot) -> u64 {
        let version = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        snapshot.version = version;
        self.current.store(Arc::new(snapshot));
        version
    }

    /// The writers' lock (see [`Self::publish`]); readers never take it.
    pub async fn writer(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.writer.lock().await
    }
}
