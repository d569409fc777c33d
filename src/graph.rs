//! A picture of the heap: the object graph as Graphviz DOT or JSON
//! (rcgc_export_graph), and "why is this object alive?" (rcgc_why_alive,
//! rcgc_why_alive_text): a shortest chain of references from an object held
//! from outside the heap to it.
//!
//! # How
//!
//! Every call first takes a snapshot of the whole heap: every live object
//! (tracked or not, of any type) with a copy of its type's name, its refcount,
//! state, finalized mark and block size, and every reference the traverse
//! callbacks report (a slots object's are read from its slots, with their
//! index). Traverse callbacks run in phase Traversing, as in a collection, so
//! they can neither allocate, collect nor change tracking. Then, from the
//! snapshot alone:
//!
//! - external(o) = refcount(o) minus the references to o that traverse reports
//!   from objects of the heap. Above zero, something the traverse callbacks do
//!   not see (a C variable, a payload whose traverse does not report it) holds
//!   o; below zero, some traverse reports a reference it does not own (a bug).
//! - A breadth-first search from every object with external > 0 (in address
//!   order) marks what a chain of references from outside reaches, and records
//!   for each object the reference it was first reached by: the last link of a
//!   shortest chain. What it does not reach is garbage waiting for a collection.
//!
//! User callbacks (write, the object function) run only after the snapshot is
//! complete and never invalidate it: output is made from the snapshot, never
//! from the heap, so a write callback may allocate, decref or collect. The
//! objects of a chain handed to an object function are held by a reference
//! for the duration of the calls.
//!
//! Scratch memory is O(objects + references), allocated fallibly.

use std::ffi::{c_char, c_int, c_void};
use std::fmt::{self, Write as _};
use std::ptr;

use serde::{Serialize, Serializer};

use crate::error::Error;
use crate::header::{Header, State};
use crate::heap::{Heap, Phase};
use crate::types::{Type, rcgc_visit_fn};

/// Receives `len` bytes of output at `data` (not NUL-terminated, valid only
/// during the call); returns 0 to go on, anything else to stop the call,
/// which then fails with RCGC_ERR_ABORTED. Text is UTF-8.
#[allow(non_camel_case_types)]
pub type rcgc_write_fn = Option<unsafe extern "C" fn(data: *const c_char, len: usize, ctx: *mut c_void) -> c_int>;

/// The formats of rcgc_export_graph (passed as an int).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum rcgc_graph_format {
    /// Graphviz DOT: `dot -Tpng heap.dot -o heap.png` draws it.
    RCGC_GRAPH_DOT = 0,
    /// JSON: {"version": 1, "roots": [...] or null, "nodes": [...], "edges": [...]}
    /// (README, "A picture of the heap", gives the schema).
    RCGC_GRAPH_JSON = 1,
}

impl rcgc_graph_format {
    /// Converts a format received from C; unknown values give an error.
    pub fn from_raw(format: c_int) -> Result<Self, Error> {
        match format {
            0 => Ok(rcgc_graph_format::RCGC_GRAPH_DOT),
            1 => Ok(rcgc_graph_format::RCGC_GRAPH_JSON),
            other => Err(Error::GraphFormat(other.into())),
        }
    }
}

/// How the search from the objects held from outside reached a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reach {
    /// Not reached: garbage waiting for a collection.
    No,
    /// Held from outside the heap (external > 0).
    Outside,
    /// First reached through edge `edge` of node `source`.
    From { source: usize, edge: usize },
}

/// One object of the snapshot.
struct Node {
    /// The object's address (its payload, as C sees it).
    addr: usize,
    /// The object itself, for the callers that get objects back.
    header: *const Header,
    /// Index of its type's name in `Snapshot::names`.
    name: usize,
    refcount: u32,
    external: i64,
    /// Where the collector keeps it: gen0..gen2, permanent or untracked.
    place: &'static str,
    finalized: bool,
    /// Bytes its block occupies (what it adds to rcgc_heap_stats.bytes_in_use).
    size: usize,
    /// Reference positions: visit calls of its traverse (NULL ones included),
    /// or slots of a slots object.
    positions: usize,
    reach: Reach,
    /// Part of the exported graph.
    shown: bool,
    /// One of the roots of the export.
    root: bool,
}

/// One reference; its source is the node whose range of `Snapshot::first` holds it.
struct Edge {
    target: usize,
    /// Its position in the source's traverse order (NULL visits count: for a
    /// type with declared references, its field's rank), or slot index.
    index: usize,
}

/// The heap as it was at one moment, analysed.
struct Snapshot {
    /// Sorted by address.
    nodes: Vec<Node>,
    /// Node i's references are `edges[first[i]..first[i + 1]]`, in traverse order.
    first: Vec<usize>,
    edges: Vec<Edge>,
    /// Type names, copied as UTF-8 (invalid bytes become U+FFFD).
    names: Vec<String>,
}

/// A vector with room for `n` elements, or NoMemory.
fn with_capacity<T>(n: usize) -> Result<Vec<T>, Error> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| Error::NoMemory)?;
    Ok(v)
}

/// Appends `item`, or fails with NoMemory.
fn try_push<T>(v: &mut Vec<T>, item: T) -> Result<(), Error> {
    v.try_reserve(1).map_err(|_| Error::NoMemory)?;
    v.push(item);
    Ok(())
}

/// A type's name as UTF-8 (invalid bytes become U+FFFD), copied fallibly.
fn copy_name(ty: &Type) -> Result<String, Error> {
    let mut name = String::new();
    for chunk in ty.name().to_bytes().utf8_chunks() {
        let invalid = if chunk.invalid().is_empty() { "" } else { "\u{FFFD}" };
        name.try_reserve(chunk.valid().len() + invalid.len())
            .map_err(|_| Error::NoMemory)?;
        name.push_str(chunk.valid());
        name.push_str(invalid);
    }
    Ok(name)
}

/// The traverse of one object is reporting into this.
struct Visit<'a> {
    nodes: &'a [Node],
    edges: &'a mut Vec<Edge>,
    position: usize,
    out_of_memory: bool,
}

/// Records the reference at position `index` to `referent` if it is an object
/// of the snapshot (anything else, which would be a bug of the program, is left out).
fn add_edge(nodes: &[Node], edges: &mut Vec<Edge>, referent: *mut c_void, index: usize) -> Result<(), Error> {
    match nodes.binary_search_by_key(&(referent as usize), |n| n.addr) {
        Ok(target) => try_push(edges, Edge { target, index }),
        Err(_) => Ok(()),
    }
}

unsafe extern "C" fn visit_edge(referent: *mut c_void, ctx: *mut c_void) {
    // SAFETY: ctx is the Visit of the running traverse (Snapshot::take).
    let visit = unsafe { &mut *ctx.cast::<Visit>() };
    let index = visit.position;
    visit.position += 1;
    if !referent.is_null() && add_edge(visit.nodes, visit.edges, referent, index).is_err() {
        visit.out_of_memory = true;
    }
}

impl Snapshot {
    /// Every live object of `heap` and the references between them. Runs
    /// traverse callbacks: call it in phase Traversing.
    fn take(heap: &Heap) -> Result<Snapshot, Error> {
        let mut objects = heap.live_objects(|_| true)?;
        objects.sort_unstable();
        let mut snapshot = Snapshot {
            nodes: with_capacity(objects.len())?,
            first: with_capacity(objects.len() + 1)?,
            edges: Vec::new(),
            names: Vec::new(),
        };
        // The distinct types met so far, sorted by address, with their name's index.
        let mut types: Vec<(*const Type, usize)> = Vec::new();
        for &p in &objects {
            // SAFETY: a snapshot of live objects; no user code has run since.
            let h = unsafe { &*p };
            let ty: *const Type = h.ty();
            let name = match types.binary_search_by_key(&ty, |&(t, _)| t) {
                Ok(i) => types[i].1,
                Err(at) => {
                    try_push(&mut snapshot.names, copy_name(h.ty())?)?;
                    types.try_reserve(1).map_err(|_| Error::NoMemory)?;
                    types.insert(at, (ty, snapshot.names.len() - 1));
                    snapshot.names.len() - 1
                }
            };
            snapshot.nodes.push(Node {
                addr: h.addr(),
                header: h,
                name,
                refcount: h.refcnt(),
                external: 0,
                place: place_name(heap, h.state()),
                finalized: h.finalized(),
                size: heap.pool().block_bytes(h),
                positions: 0,
                reach: Reach::No,
                shown: false,
                root: false,
            });
        }
        for (i, &p) in objects.iter().enumerate() {
            snapshot.first.push(snapshot.edges.len());
            // SAFETY: as above; traverse callbacks cannot free anything in phase Traversing.
            let h = unsafe { &*p };
            let positions = if ptr::eq(h.ty(), heap.slots_type_ptr()) {
                // SAFETY: a live slots object.
                let slots = unsafe { crate::slots::slots(h) };
                for (index, &referent) in slots.iter().enumerate() {
                    if !referent.is_null() {
                        add_edge(&snapshot.nodes, &mut snapshot.edges, referent, index)?;
                    }
                }
                slots.len()
            } else if let Some(traverse) = h.ty().traverse {
                let mut visit = Visit {
                    nodes: &snapshot.nodes,
                    edges: &mut snapshot.edges,
                    position: 0,
                    out_of_memory: false,
                };
                let callback: rcgc_visit_fn = Some(visit_edge);
                // SAFETY: a live object; its traverse only calls visit, with our context.
                unsafe { traverse(h.payload(), callback, (&mut visit as *mut Visit).cast()) };
                if visit.out_of_memory {
                    return Err(Error::NoMemory);
                }
                visit.position
            } else {
                0
            };
            snapshot.nodes[i].positions = positions;
        }
        snapshot.first.push(snapshot.edges.len());
        Ok(snapshot)
    }

    /// Computes every node's external count and how a chain from outside reaches it.
    fn analyse(&mut self) -> Result<(), Error> {
        for node in &mut self.nodes {
            node.external = node.refcount.into();
        }
        for edge in &self.edges {
            self.nodes[edge.target].external -= 1;
        }
        let mut queue = with_capacity(self.nodes.len())?;
        for (i, node) in self.nodes.iter_mut().enumerate() {
            if node.external > 0 {
                node.reach = Reach::Outside;
                queue.push(i);
            }
        }
        self.spread(&mut queue, |node, source, edge| {
            if node.reach != Reach::No {
                return false;
            }
            node.reach = Reach::From { source, edge };
            true
        });
        Ok(())
    }

    /// Breadth-first search along references from the nodes in `queue`, which
    /// has room for every node and holds the marked start nodes; `mark(node,
    /// source, edge)` marks a node reached through `edge` of `source` and says
    /// whether it was not marked before.
    fn spread(&mut self, queue: &mut Vec<usize>, mark: impl Fn(&mut Node, usize, usize) -> bool) {
        let mut head = 0;
        while let Some(&source) = queue.get(head) {
            head += 1;
            for edge in self.first[source]..self.first[source + 1] {
                let target = self.edges[edge].target;
                if mark(&mut self.nodes[target], source, edge) {
                    // Within the capacity: each node is marked, so pushed, once.
                    queue.push(target);
                }
            }
        }
    }

    /// The node of a live object of the heap.
    fn find(&self, h: &Header) -> Result<usize, Error> {
        self.nodes
            .binary_search_by_key(&h.addr(), |n| n.addr)
            .map_err(|_| Error::NotAnObject {
                addr: h.addr(),
                what: "not a live object of this heap",
            })
    }

    /// Marks what `roots` reach (or every node, for None) as part of the
    /// export, and the roots as such.
    fn show(&mut self, roots: Option<&[usize]>) -> Result<(), Error> {
        let Some(roots) = roots else {
            for node in &mut self.nodes {
                node.shown = true;
            }
            return Ok(());
        };
        let mut queue = with_capacity(self.nodes.len())?;
        for &root in roots {
            self.nodes[root].root = true;
            if !self.nodes[root].shown {
                self.nodes[root].shown = true;
                queue.push(root);
            }
        }
        self.spread(&mut queue, |node, _, _| !std::mem::replace(&mut node.shown, true));
        Ok(())
    }

    /// The nodes of a shortest chain from an object held from outside to
    /// `target`, root first; None when no such chain exists.
    fn chain(&self, target: usize) -> Result<Option<Vec<usize>>, Error> {
        let mut chain = Vec::new();
        let mut at = target;
        loop {
            try_push(&mut chain, at)?;
            match self.nodes[at].reach {
                Reach::Outside => break,
                Reach::From { source, .. } => at = source,
                Reach::No => return Ok(None),
            }
        }
        chain.reverse();
        Ok(Some(chain))
    }

    /// The edges of node `i`.
    fn edges_of(&self, i: usize) -> &[Edge] {
        &self.edges[self.first[i]..self.first[i + 1]]
    }

    /// The DOT of the shown nodes; `roots`: how many, None for the whole heap.
    fn write_dot(&self, sink: &mut Sink, roots: Option<usize>) {
        let objects = self.nodes.iter().filter(|n| n.shown).count();
        let references: usize = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].shown)
            .map(|i| self.edges_of(i).len())
            .sum();
        let from = Reached(roots);
        sink.put(format_args!(
            "digraph rcgc {{\n  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=10, labeljust=l, \
             label=\"{from}{objects} objects, {references} references\\l\
             gold: held from outside the heap (external > 0)\\l\
             grey, dashed: garbage (no chain of references from outside reaches it)\\l\"];\n  \
             node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", fontname=\"Helvetica\", fontsize=10];\n  \
             edge [fontname=\"Helvetica\", fontsize=9];\n"
        ));
        for node in self.nodes.iter().filter(|n| n.shown) {
            if sink.failed.is_some() {
                break;
            }
            let finalized = if node.finalized { ", finalized" } else { "" };
            sink.put(format_args!(
                "  \"{addr:#x}\" [label=\"{name}\\n{addr:#x}\\nrefcount {refcount}, external {external}\\n{state}{finalized}, {size} bytes\"",
                addr = node.addr,
                name = Dot(&self.names[node.name]),
                refcount = node.refcount,
                external = node.external,
                state = node.place,
                size = node.size,
            ));
            if node.external > 0 {
                sink.put(format_args!(", fillcolor=\"#ffd966\", penwidth=2"));
            } else if node.reach == Reach::No {
                sink.put(format_args!(
                    ", style=\"rounded,filled,dashed\", fillcolor=\"#eeeeee\", fontcolor=\"#555555\""
                ));
            }
            if node.external < 0 {
                sink.put(format_args!(", color=\"#cc0000\""));
            }
            if node.root {
                sink.put(format_args!(", peripheries=2"));
            }
            sink.put(format_args!("];\n"));
        }
        for (i, node) in self.nodes.iter().enumerate() {
            if !node.shown || sink.failed.is_some() {
                continue;
            }
            for edge in self.edges_of(i) {
                sink.put(format_args!(
                    "  \"{:#x}\" -> \"{:#x}\"",
                    node.addr, self.nodes[edge.target].addr
                ));
                if node.positions > 1 {
                    sink.put(format_args!(" [label=\"[{}]\"]", edge.index));
                }
                sink.put(format_args!(";\n"));
            }
        }
        sink.put(format_args!("}}\n"));
    }

    /// The JSON of the shown nodes; `roots` as given, None for the whole heap.
    fn write_json(&self, sink: &mut Sink, roots: Option<&[usize]>) {
        sink.put(format_args!("{{\"version\":1,\"roots\":"));
        match roots {
            None => sink.put(format_args!("null")),
            Some(roots) => {
                sink.put(format_args!("["));
                for (k, &root) in roots.iter().enumerate() {
                    sink.put(format_args!("{}", if k == 0 { "" } else { "," }));
                    sink.json(&Addr(self.nodes[root].addr));
                }
                sink.put(format_args!("]"));
            }
        }
        sink.put(format_args!(",\n\"nodes\":["));
        let mut separator = "\n";
        for node in self.nodes.iter().filter(|n| n.shown) {
            if sink.failed.is_some() {
                break;
            }
            sink.put(format_args!("{separator}"));
            sink.json(&JsonNode {
                id: Addr(node.addr),
                ty: &self.names[node.name],
                refcount: node.refcount,
                external: node.external,
                reachable: node.reach != Reach::No,
                state: node.place,
                finalized: node.finalized,
                size: node.size,
            });
            separator = ",\n";
        }
        sink.put(format_args!("\n],\n\"edges\":["));
        separator = "\n";
        for (i, node) in self.nodes.iter().enumerate() {
            if !node.shown || sink.failed.is_some() {
                continue;
            }
            for edge in self.edges_of(i) {
                sink.put(format_args!("{separator}"));
                sink.json(&JsonEdge {
                    source: Addr(node.addr),
                    target: Addr(self.nodes[edge.target].addr),
                    index: edge.index,
                });
                separator = ",\n";
            }
        }
        sink.put(format_args!("\n]}}\n"));
    }

    /// One line of rcgc_why_alive_text: `0x... 'name': refcount r, external e`.
    fn describe(&self, sink: &mut Sink, i: usize) {
        let node = &self.nodes[i];
        sink.put(format_args!(
            "{:#x} '{}': refcount {}, external {}",
            node.addr,
            Text(&self.names[node.name]),
            node.refcount,
            node.external
        ));
    }
}

/// The legend's opening words for an export from N roots (None: the whole heap).
struct Reached(Option<usize>);

impl fmt::Display for Reached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => Ok(()),
            Some(1) => f.write_str("reachable from 1 root: "),
            Some(n) => write!(f, "reachable from {n} roots: "),
        }
    }
}

/// The words for where the collector keeps an object in state `state`.
fn place_name(heap: &Heap, state: State) -> &'static str {
    match (heap.gc.generation_of(state), state) {
        (Some(0), _) => "gen0",
        (Some(1), _) => "gen1",
        (Some(_), _) => "gen2",
        (None, State::Permanent) => "permanent",
        (None, _) => "untracked",
    }
}

/// A type name for a human: control characters are escaped as Rust escapes them.
struct Text<'a>(&'a str);

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// A type name inside a quoted DOT string: `Text` with `"` and `\` escaped.
struct Dot<'a>(&'a str);

impl fmt::Display for Dot<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                c if c.is_control() => {
                    for e in c.escape_default() {
                        if e == '\\' {
                            f.write_str("\\\\")?;
                        } else {
                            f.write_char(e)?;
                        }
                    }
                }
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// An object's address as JSON: the string "0x..." (a JSON number could not
/// hold every 64-bit address exactly in every reader).
struct Addr(usize);

impl Serialize for Addr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 2 + 2 * size_of::<usize>()];
        let mut cursor = std::io::Cursor::new(&mut buf[..]);
        // 0x and at most 16 hex digits fit.
        let _ = std::io::Write::write_fmt(&mut cursor, format_args!("{:#x}", self.0));
        let len = cursor.position() as usize;
        serializer.serialize_str(std::str::from_utf8(&buf[..len]).unwrap_or_default())
    }
}

/// One element of "nodes" (README, "A picture of the heap").
#[derive(Serialize)]
struct JsonNode<'a> {
    id: Addr,
    #[serde(rename = "type")]
    ty: &'a str,
    refcount: u32,
    external: i64,
    reachable: bool,
    state: &'static str,
    finalized: bool,
    size: usize,
}

/// One element of "edges".
#[derive(Serialize)]
struct JsonEdge {
    source: Addr,
    target: Addr,
    index: usize,
}

/// Buffers output for a write callback. Writing to it never fails: once the
/// callback returns non-zero, the rest of the output is dropped and `failed`
/// keeps the value for the error.
struct Sink {
    write: unsafe extern "C" fn(*const c_char, usize, *mut c_void) -> c_int,
    ctx: *mut c_void,
    buf: [u8; 4096],
    len: usize,
    failed: Option<c_int>,
}

impl Sink {
    fn new(write: unsafe extern "C" fn(*const c_char, usize, *mut c_void) -> c_int, ctx: *mut c_void) -> Sink {
        Sink {
            write,
            ctx,
            buf: [0; 4096],
            len: 0,
            failed: None,
        }
    }

    fn bytes(&mut self, mut data: &[u8]) {
        while !data.is_empty() && self.failed.is_none() {
            if self.len == self.buf.len() {
                self.flush();
            }
            let n = data.len().min(self.buf.len() - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&data[..n]);
            self.len += n;
            data = &data[n..];
        }
    }

    fn flush(&mut self) {
        if self.len > 0 && self.failed.is_none() {
            // SAFETY: the user's callback, given `len` initialised bytes valid during the call.
            let rc = unsafe { (self.write)(self.buf.as_ptr().cast(), self.len, self.ctx) };
            if rc != 0 {
                self.failed = Some(rc);
            }
        }
        self.len = 0;
    }

    /// Formatted text.
    fn put(&mut self, args: fmt::Arguments<'_>) {
        // write_str below never fails, and the arguments only format numbers and strings.
        let _ = self.write_fmt(args);
    }

    /// A value as JSON.
    fn json(&mut self, value: &impl Serialize) {
        // The writer never fails, and the values hold no maps and no floats,
        // the only other things serde_json can fail on.
        let _ = serde_json::to_writer(SinkWriter(self), value);
    }

    /// Sends what is buffered; the call's result.
    fn finish(mut self) -> Result<(), Error> {
        self.flush();
        match self.failed {
            Some(rc) => Err(Error::WriteFailed(rc.into())),
            None => Ok(()),
        }
    }
}

impl fmt::Write for Sink {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.bytes(s.as_bytes());
        Ok(())
    }
}

/// The Sink as an io::Write, for serde_json.
struct SinkWriter<'a>(&'a mut Sink);

impl std::io::Write for SinkWriter<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.bytes(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Heap {
    /// A snapshot of the whole heap, analysed (see the module comment).
    fn graph(&self) -> Result<Snapshot, Error> {
        let mut snapshot = self.in_phase(Phase::Traversing, || Snapshot::take(self))??;
        snapshot.analyse()?;
        Ok(snapshot)
    }

    /// The node of `h` in `snapshot`, checking that it is an object of this heap.
    fn node_of(&self, snapshot: &Snapshot, h: &Header) -> Result<usize, Error> {
        if !ptr::eq(h.ty().heap_ptr(), self) {
            return Err(Error::WrongHeap {
                addr: h.addr(),
                ty: h.ty().display_name(),
            });
        }
        snapshot.find(h)
    }

    /// rcgc_export_graph: the objects `roots` reach (None: every live object)
    /// and their references, written in `format` through `write`.
    pub fn export_graph(
        &self,
        format: rcgc_graph_format,
        roots: Option<&[&Header]>,
        write: unsafe extern "C" fn(*const c_char, usize, *mut c_void) -> c_int,
        ctx: *mut c_void,
    ) -> Result<(), Error> {
        let mut snapshot = self.graph()?;
        let roots = match roots {
            Some(roots) => {
                let mut nodes = with_capacity(roots.len())?;
                for root in roots {
                    nodes.push(self.node_of(&snapshot, root)?);
                }
                Some(nodes)
            }
            None => None,
        };
        snapshot.show(roots.as_deref())?;
        let mut sink = Sink::new(write, ctx);
        match format {
            rcgc_graph_format::RCGC_GRAPH_DOT => snapshot.write_dot(&mut sink, roots.as_ref().map(Vec::len)),
            rcgc_graph_format::RCGC_GRAPH_JSON => snapshot.write_json(&mut sink, roots.as_deref()),
        }
        sink.finish()
    }

    /// rcgc_why_alive: the objects of a shortest chain of references from an
    /// object held from outside the heap to `target`, root first.
    pub fn why_alive(&self, target: &Header) -> Result<Vec<*const Header>, Error> {
        let snapshot = self.graph()?;
        let chain = snapshot
            .chain(self.node_of(&snapshot, target)?)?
            .ok_or_else(|| not_reachable(target))?;
        let mut objects = with_capacity(chain.len())?;
        for i in chain {
            objects.push(snapshot.nodes[i].header);
        }
        Ok(objects)
    }

    /// rcgc_why_alive_text: the chain of why_alive as text, one object a line;
    /// when there is none, one line saying so, and NotReachable.
    pub fn why_alive_text(
        &self,
        target: &Header,
        write: unsafe extern "C" fn(*const c_char, usize, *mut c_void) -> c_int,
        ctx: *mut c_void,
    ) -> Result<(), Error> {
        let snapshot = self.graph()?;
        let node = self.node_of(&snapshot, target)?;
        let chain = snapshot.chain(node)?;
        let error = chain.is_none().then(|| not_reachable(target));
        let mut sink = Sink::new(write, ctx);
        match chain {
            Some(chain) => {
                for i in chain {
                    if let Reach::From { edge, .. } = snapshot.nodes[i].reach {
                        sink.put(format_args!("  [{}] -> ", snapshot.edges[edge].index));
                        snapshot.describe(&mut sink, i);
                        sink.put(format_args!("\n"));
                    } else {
                        snapshot.describe(&mut sink, i);
                        sink.put(format_args!(": held from outside the heap\n"));
                    }
                }
            }
            None => {
                snapshot.describe(&mut sink, node);
                sink.put(format_args!(
                    ": no chain of references from outside the heap reaches it; it is garbage waiting for a collection\n"
                ));
            }
        }
        sink.finish()?;
        error.map_or(Ok(()), Err)
    }
}

/// The error for an object no chain from outside reaches.
fn not_reachable(h: &Header) -> Error {
    Error::NotReachable {
        addr: h.addr(),
        ty: h.ty().display_name(),
    }
}
