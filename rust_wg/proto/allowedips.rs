// SPDX-License-Identifier: GPL-2.0

//! Cryptokey routing: a persistent longest-prefix-match trie from IPv4/IPv6 prefixes to peers.
//!
//! The trie is path-compressed and binary like the C driver's allowedips.c (each node holds a masked key and its
//! prefix length, and chooses a child by the first bit after its prefix), but published versions are *persistent*:
//! a node reachable from an [`AllowedIps`] is never modified. Changes go through a [`Batch`]:
//! [`AllowedIps::edit`] starts one that shares the whole table, the batch's first change on a path copies the
//! O(depth) shared nodes on it into nodes the batch owns alone, later changes on the same path modify those in
//! place, and [`Batch::finish`] freezes the batch into a new [`AllowedIps`] that still shares every untouched
//! subtree with the old one. So:
//!
//! - readers never block and never see a half-done change: the kernel publishes the new root under RCU and readers
//!   traverse whichever immutable version they loaded;
//! - a configuration message with thousands of prefixes costs about one node per changed prefix and one published
//!   version, not a path copy and a publication per prefix;
//! - a failed allocation leaves the table as it was before that one change (the batch stays usable, and the
//!   published version is untouched until the caller publishes the batch);
//! - a netlink dump can hold a version (a cheap clone) across messages.
//!
//! The caller must not free nodes readers may still hold: the kernel drops the previous version only after an RCU
//! grace period, which frees exactly the nodes the new version no longer shares. Dropping does not recurse: a
//! node's drop takes the subtrees it alone holds apart with an explicit stack (a path is at most 129 nodes long,
//! and any peer may configure such a path: every prefix length of one address), so freeing a version costs a fixed
//! ~2 KiB of stack wherever it runs (in the kernel, an RCU callback on the softirq stack).
//!
//! Memory comes from a [`SharedPtr`] family: the host uses `Box` and `alloc::sync::Arc`, the kernel `UniqueArc` and
//! `Arc` with fallible allocation (turning a batch's node into a shared one never allocates there). The peer handle
//! `P` is compared with `Eq`; the kernel uses a handle whose equality is pointer identity.
//!
//! Costs: lookup, insert and exact remove are O(depth) (at most 33 or 129 nodes). [`Batch::remove_by_peer`] reads
//! the whole table, and recurses along paths; the kernel keeps each peer's prefix list (which netlink needs for the
//! C driver's dump order) and calls [`Batch::remove`] per prefix instead, O(k·depth), so it never runs there.

use core::ops::{Deref, DerefMut};

use super::addr::IpAddr;

/// Memory for a trie node could not be allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocError;

/// Why a table operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowedIpsError {
    /// Allocation failed; the table is unchanged.
    Alloc,
    /// The prefix length exceeds the address family's bits.
    Cidr,
}

impl From<AllocError> for AllowedIpsError {
    fn from(_: AllocError) -> Self {
        AllowedIpsError::Alloc
    }
}

/// A family of pointers: uniquely owned ones that a batch mutates, and reference-counted shared ones that
/// published versions are made of. This abstracts `Box`/`Arc` on the host and `UniqueArc`/`Arc` in the kernel.
pub trait SharedPtr {
    /// The shared pointer to a `T`.
    type Ptr<T>: Clone + Deref<Target = T>;
    /// The uniquely owned pointer to a `T`.
    type Unique<T>: DerefMut<Target = T>;

    /// Allocates a new uniquely owned `T`, failing instead of panicking when memory is short.
    fn try_new<T>(value: T) -> Result<Self::Unique<T>, AllocError>;

    /// Turns a uniquely owned pointer into a shared one (in the kernel, without allocating).
    fn share<T>(value: Self::Unique<T>) -> Self::Ptr<T>;

    /// Drops `ptr`. If it was the last reference, first calls `f` on the value (which is freed right after) and
    /// returns what `f` returned.
    fn drop_last<T: Unpin, R>(ptr: Self::Ptr<T>, f: impl FnOnce(&mut T) -> R) -> Option<R>;
}

type NodePtr<P, F> = <F as SharedPtr>::Ptr<Node<P, F>>;
type NodeBox<P, F> = <F as SharedPtr>::Unique<Node<P, F>>;

/// A child pointer: shared with published versions, or owned by the batch that created it.
///
/// Invariant: a node reachable through a `Shared` link only has `Shared` children (only [`freeze`] makes shared
/// nodes, and it freezes the children first).
enum Link<P, F: SharedPtr> {
    Shared(NodePtr<P, F>),
    Fresh(NodeBox<P, F>),
}

impl<P, F: SharedPtr> Link<P, F> {
    fn node(&self) -> &Node<P, F> {
        match self {
            Link::Shared(p) => p,
            Link::Fresh(b) => b,
        }
    }
}

/// A trie node.
pub struct Node<P, F: SharedPtr> {
    key: [u8; 16],
    cidr: u8,
    peer: Option<P>,
    children: [Option<Link<P, F>>; 2],
}

impl<P, F: SharedPtr> Node<P, F> {
    // Array initializers of the explicit stacks below, built in place (`core::array::from_fn` built the array
    // elsewhere and copied it: twice the stack).
    const NO_LINK: Option<Link<P, F>> = None;
    const NO_WAITING: Option<(NodeBox<P, F>, usize)> = None;
}

// Nothing points into a node, so it never needs pinning (the kernel's `Arc` is `!Unpin`, which would otherwise
// make the node so too and hide it behind `Pin` when its last reference is dropped).
impl<P, F: SharedPtr> Unpin for Node<P, F> {}

impl<P, F: SharedPtr> Drop for Node<P, F> {
    fn drop(&mut self) {
        if self.children.iter().any(Option::is_some) {
            dismantle(core::mem::replace(&mut self.children, [None, None]));
        }
    }
}

/// Frees the nodes of `subtrees` that nothing else holds, without recursion: each node's children are taken out
/// before it is freed (so its own drop has nothing left to do), one goes on, the other waits on a stack. The stack
/// holds at most one waiting subtree per level of the current path, so a path of 129 nodes fits; should a deeper one
/// ever exist, its excess subtrees are dropped recursively rather than leaked.
fn dismantle<P, F: SharedPtr>(subtrees: [Option<Link<P, F>>; 2]) {
    let mut stack = [Node::<P, F>::NO_LINK; STACK_DEPTH];
    let [mut next, waiting] = subtrees;
    let mut len = 0;
    if let Some(l) = waiting {
        if let Some(s) = stack.get_mut(len) {
            *s = Some(l);
            len += 1;
        }
    }
    loop {
        let link = match next.take() {
            Some(l) => l,
            None => {
                let Some(l) = len.checked_sub(1).and_then(|i| stack.get_mut(i)).and_then(Option::take) else {
                    return;
                };
                len -= 1;
                l
            }
        };
        let children = match link {
            Link::Fresh(mut b) => core::mem::replace(&mut b.children, [None, None]),
            // A node still in another version only loses a reference here.
            Link::Shared(p) => {
                F::drop_last(p, |n| core::mem::replace(&mut n.children, [None, None])).unwrap_or([None, None])
            }
        };
        let [a, b] = children;
        next = a;
        if let Some(b) = b {
            match stack.get_mut(len) {
                Some(s) => {
                    *s = Some(b);
                    len += 1;
                }
                None => drop(b),
            }
        }
    }
}

fn bit_at(key: &[u8; 16], i: u8) -> usize {
    let byte = key.get(usize::from(i / 8)).copied().unwrap_or(0);
    usize::from((byte >> (7 - i % 8)) & 1)
}

/// Counts the leading bits `a` and `b` share, up to `max`.
fn common_bits(a: &[u8; 16], b: &[u8; 16], max: u8) -> u8 {
    let mut n: u32 = 0;
    for (x, y) in a.iter().zip(b) {
        let d = x ^ y;
        if d != 0 {
            n += d.leading_zeros();
            break;
        }
        n += 8;
    }
    (n.min(u32::from(max))) as u8
}

fn mask(key: &[u8; 16], cidr: u8) -> [u8; 16] {
    let mut out = [0; 16];
    for (i, (o, k)) in out.iter_mut().zip(key).enumerate() {
        let start = (i * 8) as u32;
        let c = u32::from(cidr);
        if c >= start + 8 {
            *o = *k;
        } else if c > start {
            *o = *k & (0xffu8 << (8 - (c - start)));
        }
    }
    out
}

fn key_of(addr: &IpAddr) -> ([u8; 16], u8) {
    let mut key = [0; 16];
    for (d, s) in key.iter_mut().zip(addr.octets()) {
        *d = *s;
    }
    (key, addr.bits())
}

fn addr_of(key: &[u8; 16], v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(*key)
    } else {
        let mut a = [0; 4];
        a.copy_from_slice(&key[..4]);
        IpAddr::V4(a)
    }
}

/// Returns `addr` with the bits after the first `cidr` cleared (`cidr` is capped at the family's bits): the form
/// in which the table stores and lists a prefix.
pub fn masked(addr: &IpAddr, cidr: u8) -> IpAddr {
    let (key, bits) = key_of(addr);
    addr_of(&mask(&key, cidr.min(bits)), bits == 128)
}

/// One entry of a table: a prefix and its peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a, P> {
    /// The prefix, masked to its length.
    pub addr: IpAddr,
    /// The prefix length.
    pub cidr: u8,
    /// The owning peer.
    pub peer: &'a P,
}

// ---- Reading (published versions and batches alike) ----

fn lookup_in<'a, P, F: SharedPtr>(root: Option<&'a Node<P, F>>, addr: &IpAddr) -> Option<&'a P> {
    let (key, bits) = key_of(addr);
    let mut node = root;
    let mut found = None;
    while let Some(n) = node {
        if common_bits(&n.key, &key, n.cidr) < n.cidr {
            break;
        }
        if n.peer.is_some() {
            found = n.peer.as_ref();
        }
        if n.cidr >= bits {
            break;
        }
        node = n
            .children
            .get(bit_at(&key, n.cidr))
            .and_then(|c| c.as_ref())
            .map(Link::node);
    }
    found
}

fn get_exact_in<'a, P, F: SharedPtr>(root: Option<&'a Node<P, F>>, addr: &IpAddr, cidr: u8) -> Option<&'a P> {
    let (key, bits) = key_of(addr);
    let cidr = cidr.min(bits);
    let key = mask(&key, cidr);
    let mut node = root;
    while let Some(n) = node {
        if n.cidr > cidr || common_bits(&n.key, &key, n.cidr) < n.cidr {
            return None;
        }
        if n.cidr == cidr {
            return n.peer.as_ref();
        }
        node = n
            .children
            .get(bit_at(&key, n.cidr))
            .and_then(|c| c.as_ref())
            .map(Link::node);
    }
    None
}

/// An immutable version of the routing table: what readers see. [`AllowedIps::edit`] starts a change.
pub struct AllowedIps<P, F: SharedPtr> {
    root4: Option<NodePtr<P, F>>,
    root6: Option<NodePtr<P, F>>,
}

impl<P, F: SharedPtr> Clone for AllowedIps<P, F> {
    fn clone(&self) -> Self {
        Self {
            root4: self.root4.clone(),
            root6: self.root6.clone(),
        }
    }
}

impl<P: Clone + Eq, F: SharedPtr> Default for AllowedIps<P, F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Clone + Eq, F: SharedPtr> AllowedIps<P, F> {
    /// Returns an empty table.
    pub const fn new() -> Self {
        Self {
            root4: None,
            root6: None,
        }
    }

    /// Tells whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.root4.is_none() && self.root6.is_none()
    }

    fn root(&self, addr: &IpAddr) -> Option<&Node<P, F>> {
        match addr {
            IpAddr::V4(_) => self.root4.as_deref(),
            IpAddr::V6(_) => self.root6.as_deref(),
        }
    }

    /// Returns the peer owning the longest prefix that contains `addr`: the destination lookup for sending, and the
    /// source check for receiving.
    pub fn lookup(&self, addr: &IpAddr) -> Option<&P> {
        lookup_in(self.root(addr), addr)
    }

    /// Returns the owner of exactly `addr/cidr`, if that prefix is in the table.
    pub fn get_exact(&self, addr: &IpAddr, cidr: u8) -> Option<&P> {
        get_exact_in(self.root(addr), addr, cidr)
    }

    /// Starts a batch of changes on top of this version; the version itself never changes.
    pub fn edit(&self) -> Batch<P, F> {
        Batch {
            root4: self.root4.clone().map(Link::Shared),
            root6: self.root6.clone().map(Link::Shared),
            replaced: 0,
        }
    }

    /// Returns a table where `addr/cidr` (masked) belongs to `peer`, and the previous owner of that exact prefix.
    pub fn insert(&self, addr: &IpAddr, cidr: u8, peer: P) -> Result<(Self, Option<P>), AllowedIpsError> {
        let mut b = self.edit();
        let old = b.insert(addr, cidr, peer)?;
        Ok((b.finish(), old))
    }

    /// Returns a table without `addr/cidr` if `peer` owns it, and whether it did.
    pub fn remove(&self, addr: &IpAddr, cidr: u8, peer: &P) -> Result<(Self, bool), AllowedIpsError> {
        let mut b = self.edit();
        let removed = b.remove(addr, cidr, peer)?;
        Ok((b.finish(), removed))
    }

    /// Returns a table without any prefix of `peer`.
    pub fn remove_by_peer(&self, peer: &P) -> Result<Self, AllowedIpsError> {
        let mut b = self.edit();
        b.remove_by_peer(peer)?;
        Ok(b.finish())
    }

    /// Returns a table where `peer` owns exactly `prefixes` (each replacing any other owner), as a netlink "replace
    /// allowed IPs" does. Nothing changes if any step fails.
    pub fn replace_peer<'a>(
        &self,
        peer: &P,
        prefixes: impl IntoIterator<Item = &'a (IpAddr, u8)>,
    ) -> Result<Self, AllowedIpsError> {
        let mut b = self.edit();
        b.remove_by_peer(peer)?;
        for (addr, cidr) in prefixes {
            b.insert(addr, *cidr, peer.clone())?;
        }
        Ok(b.finish())
    }

    /// Iterates over all entries: IPv4 before IPv6, each in pre-order (shorter prefixes before the longer ones they
    /// contain, lower addresses first). The order is stable for a given version.
    pub fn iter(&self) -> Iter<'_, P, F> {
        Iter::new(self.root4.as_deref(), self.root6.as_deref())
    }

    /// Iterates over the entries of one peer in [`AllowedIps::iter`] order.
    pub fn iter_peer<'a>(&'a self, peer: &'a P) -> impl Iterator<Item = Entry<'a, P>> + 'a {
        self.iter().filter(move |e| e.peer == peer)
    }

    /// Counts all entries.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Counts the entries of `peer`.
    pub fn count_peer(&self, peer: &P) -> usize {
        self.iter_peer(peer).count()
    }
}

// ---- Changing: batches ----

/// A table being changed: nodes it created are its own and change in place, nodes shared with published versions
/// are copied on their first change. Not `Clone`, so its own nodes are never reachable from anywhere else.
pub struct Batch<P, F: SharedPtr> {
    root4: Option<Link<P, F>>,
    root6: Option<Link<P, F>>,
    /// Shared nodes replaced by copies (see [`Batch::replaced`]).
    replaced: usize,
}

impl<P: Clone + Eq, F: SharedPtr> Batch<P, F> {
    /// The root for `addr`'s family, and the count of replaced nodes.
    fn root_mut(&mut self, addr: &IpAddr) -> (&mut Option<Link<P, F>>, &mut usize) {
        match addr {
            IpAddr::V4(_) => (&mut self.root4, &mut self.replaced),
            IpAddr::V6(_) => (&mut self.root6, &mut self.replaced),
        }
    }

    /// How many nodes of the version this batch started from it no longer uses (`usize::MAX` after
    /// [`Batch::clear`]): at most this many nodes are freed with that version once nothing else holds it. A node
    /// leaves the new version only through a copy (a removed prefix's node is copied, then dropped), so this counts
    /// copies.
    pub fn replaced(&self) -> usize {
        self.replaced
    }

    fn root(&self, addr: &IpAddr) -> Option<&Node<P, F>> {
        match addr {
            IpAddr::V4(_) => self.root4.as_ref().map(Link::node),
            IpAddr::V6(_) => self.root6.as_ref().map(Link::node),
        }
    }

    /// Returns the peer owning the longest prefix that contains `addr`, as of this batch.
    pub fn lookup(&self, addr: &IpAddr) -> Option<&P> {
        lookup_in(self.root(addr), addr)
    }

    /// Returns the owner of exactly `addr/cidr` as of this batch.
    pub fn get_exact(&self, addr: &IpAddr, cidr: u8) -> Option<&P> {
        get_exact_in(self.root(addr), addr, cidr)
    }

    /// Removes every entry (both families).
    pub fn clear(&mut self) {
        self.root4 = None;
        self.root6 = None;
        self.replaced = usize::MAX;
    }

    /// Makes `addr/cidr` (masked) belong to `peer`; returns the previous owner of that exact prefix.
    pub fn insert(&mut self, addr: &IpAddr, cidr: u8, peer: P) -> Result<Option<P>, AllowedIpsError> {
        let (key, bits) = key_of(addr);
        if cidr > bits {
            return Err(AllowedIpsError::Cidr);
        }
        let key = mask(&key, cidr);
        let (root, copies) = self.root_mut(addr);
        Ok(insert_at(root, &key, cidr, peer, copies)?)
    }

    /// Removes `addr/cidr` if `peer` owns it; returns whether it did.
    pub fn remove(&mut self, addr: &IpAddr, cidr: u8, peer: &P) -> Result<bool, AllowedIpsError> {
        let bits = addr.bits();
        if cidr > bits {
            return Err(AllowedIpsError::Cidr);
        }
        if self.get_exact(addr, cidr) != Some(peer) {
            // Checked first so that a miss copies nothing; below, the prefix is known to be on the path.
            return Ok(false);
        }
        let (key, _) = key_of(addr);
        let key = mask(&key, cidr);
        let (root, copies) = self.root_mut(addr);
        remove_at(root, &key, cidr, copies)?;
        Ok(true)
    }

    /// Removes every prefix of `peer`, reading the whole table.
    pub fn remove_by_peer(&mut self, peer: &P) -> Result<(), AllowedIpsError> {
        strip(&mut self.root4, peer, &mut self.replaced)?;
        strip(&mut self.root6, peer, &mut self.replaced)?;
        Ok(())
    }

    /// Ends the batch: its nodes become shared, and the result is a version readers may use.
    pub fn finish(self) -> AllowedIps<P, F> {
        AllowedIps {
            root4: self.root4.map(freeze),
            root6: self.root6.map(freeze),
        }
    }
}

fn leaf<P, F: SharedPtr>(key: &[u8; 16], cidr: u8, peer: P) -> Node<P, F> {
    Node {
        key: *key,
        cidr,
        peer: Some(peer),
        children: [None, None],
    }
}

/// Returns `link`'s node for changing, first copying it into the batch if it is shared (counted in `copies`).
fn make_mut<'a, P: Clone, F: SharedPtr>(
    link: &'a mut Link<P, F>,
    copies: &mut usize,
) -> Result<&'a mut Node<P, F>, AllocError> {
    if let Link::Shared(p) = link {
        let mut children: [Option<Link<P, F>>; 2] = [None, None];
        for (out, c) in children.iter_mut().zip(&p.children) {
            *out = match c {
                None => None,
                Some(Link::Shared(s)) => Some(Link::Shared(s.clone())),
                // Shared nodes have shared children only (see `Link`).
                Some(Link::Fresh(_)) => return Err(AllocError),
            };
        }
        let copy = Node {
            key: p.key,
            cidr: p.cidr,
            peer: p.peer.clone(),
            children,
        };
        *link = Link::Fresh(F::try_new(copy)?);
        *copies = copies.saturating_add(1);
    }
    match link {
        Link::Fresh(b) => Ok(b),
        Link::Shared(_) => Err(AllocError),
    }
}

fn insert_at<P: Clone + Eq, F: SharedPtr>(
    mut slot: &mut Option<Link<P, F>>,
    key: &[u8; 16],
    cidr: u8,
    peer: P,
    copies: &mut usize,
) -> Result<Option<P>, AllocError> {
    // A loop, not recursion: a path may be 129 nodes long (see the module docs).
    loop {
        let (ncidr, nkey) = match slot.as_ref() {
            None => {
                *slot = Some(Link::Fresh(F::try_new(leaf(key, cidr, peer))?));
                return Ok(None);
            }
            Some(link) => {
                let n = link.node();
                (n.cidr, n.key)
            }
        };
        let common = common_bits(&nkey, key, ncidr.min(cidr));
        if common == ncidr {
            let n = make_mut(slot.as_mut().ok_or(AllocError)?, copies)?;
            if ncidr == cidr {
                return Ok(n.peer.replace(peer));
            }
            // The node is a proper prefix of the new key: descend.
            slot = n.children.get_mut(bit_at(key, ncidr)).ok_or(AllocError)?;
            continue;
        }
        // Allocate before moving the existing subtree, so a failure changes nothing.
        let mut new = if common == cidr {
            // The new prefix contains the node: it becomes the node's parent.
            F::try_new(leaf(key, cidr, peer))?
        } else {
            // They diverge after `common` bits: join them under a peerless node.
            let l = F::try_new(leaf(key, cidr, peer))?;
            let mut join = F::try_new(Node {
                key: mask(key, common),
                cidr: common,
                peer: None,
                children: [None, None],
            })?;
            if let Some(c) = join.children.get_mut(bit_at(key, common)) {
                *c = Some(Link::Fresh(l));
            }
            join
        };
        let old = slot.take();
        if let Some(c) = new.children.get_mut(bit_at(&nkey, common)) {
            *c = old;
        }
        *slot = Some(Link::Fresh(new));
        return Ok(None);
    }
}

/// Drops the batch-owned node at `slot` if it lost its peer and no longer joins two subtrees, keeping the trie
/// canonical.
fn collapse<P, F: SharedPtr>(slot: &mut Option<Link<P, F>>) {
    let Some(Link::Fresh(n)) = slot else {
        return;
    };
    if n.peer.is_some() {
        return;
    }
    let [a, b] = &mut n.children;
    let only = match (a.is_some(), b.is_some()) {
        (true, true) => return,
        (true, false) => a.take(),
        (false, true) => b.take(),
        (false, false) => None,
    };
    *slot = only;
}

/// Removes the prefix `key/cidr`, known to be on the path from `slot`.
///
/// Only the prefix's node and its parent can become collapsible (a peerless node always joins two subtrees, so
/// removing the prefix's node takes one side from at most its parent), so the path is walked down once, without
/// recursion.
fn remove_at<P: Clone + Eq, F: SharedPtr>(
    slot: &mut Option<Link<P, F>>,
    key: &[u8; 16],
    cidr: u8,
    copies: &mut usize,
) -> Result<(), AllocError> {
    // How many nodes lie above the prefix's node.
    let mut depth = 0usize;
    let mut n = slot.as_ref().map(Link::node);
    while let Some(node) = n {
        if node.cidr >= cidr {
            break;
        }
        n = node
            .children
            .get(bit_at(key, node.cidr))
            .and_then(Option::as_ref)
            .map(Link::node);
        depth += 1;
    }
    let Some(above) = depth.checked_sub(1) else {
        let Some(link) = slot.as_mut() else {
            return Ok(());
        };
        make_mut(link, copies)?.peer = None;
        collapse(slot);
        return Ok(());
    };
    // Down to the parent's slot, copying the path into the batch.
    let mut parent = slot;
    for _ in 0..above {
        let Some(link) = parent.as_mut() else {
            return Ok(());
        };
        let n = make_mut(link, copies)?;
        parent = n.children.get_mut(bit_at(key, n.cidr)).ok_or(AllocError)?;
    }
    {
        let Some(link) = parent.as_mut() else {
            return Ok(());
        };
        let p = make_mut(link, copies)?;
        let child = p.children.get_mut(bit_at(key, p.cidr)).ok_or(AllocError)?;
        let Some(c) = child.as_mut() else {
            return Ok(());
        };
        make_mut(c, copies)?.peer = None;
        collapse(child);
    }
    collapse(parent);
    Ok(())
}

fn contains_peer<P: Eq, F: SharedPtr>(n: &Node<P, F>, peer: &P) -> bool {
    n.peer.as_ref() == Some(peer) || n.children.iter().flatten().any(|c| contains_peer(c.node(), peer))
}

/// Removes every prefix of `peer` below `slot`, copying only the subtrees that hold one.
fn strip<P: Clone + Eq, F: SharedPtr>(
    slot: &mut Option<Link<P, F>>,
    peer: &P,
    copies: &mut usize,
) -> Result<(), AllocError> {
    let Some(link) = slot else {
        return Ok(());
    };
    if !contains_peer(link.node(), peer) {
        return Ok(());
    }
    let n = make_mut(link, copies)?;
    if n.peer.as_ref() == Some(peer) {
        n.peer = None;
    }
    for c in n.children.iter_mut() {
        strip(c, peer, copies)?;
    }
    collapse(slot);
    Ok(())
}

/// Turns a batch's subtree into a shared one; only the batch's own nodes are visited, children before their parent
/// (a shared node is immutable). Without recursion: the batch's nodes above the current one wait on a stack, each
/// with the index of the child it waits for.
fn freeze<P, F: SharedPtr>(link: Link<P, F>) -> NodePtr<P, F> {
    let mut cur = match link {
        Link::Shared(p) => return p,
        Link::Fresh(b) => b,
    };
    let mut stack = [Node::<P, F>::NO_WAITING; STACK_DEPTH];
    let mut len = 0;
    loop {
        // Descend into the first child the batch still owns.
        if let Some(i) = cur.children.iter().position(|c| matches!(c, Some(Link::Fresh(_)))) {
            let Some(c) = cur.children.get_mut(i) else {
                continue;
            };
            match stack.get_mut(len) {
                Some(waiting) => {
                    if let Some(Link::Fresh(child)) = c.take() {
                        *waiting = Some((cur, i));
                        len += 1;
                        cur = child;
                    }
                }
                // Deeper than any path can be (see `dismantle`): this subtree recursively.
                None => {
                    if let Some(l) = c.take() {
                        *c = Some(Link::Shared(freeze(l)));
                    }
                }
            }
            continue;
        }
        let shared = F::share(cur);
        let Some((mut parent, i)) = len.checked_sub(1).and_then(|j| stack.get_mut(j)).and_then(Option::take) else {
            return shared;
        };
        len -= 1;
        if let Some(c) = parent.children.get_mut(i) {
            *c = Some(Link::Shared(shared));
        }
        cur = parent;
    }
}

// ---- Iteration ----

/// Deepest possible path (prefix lengths 0..=128) plus slack.
const STACK_DEPTH: usize = 132;

/// Pre-order iterator over a table version; it needs no allocation.
pub struct Iter<'a, P, F: SharedPtr> {
    stack: [Option<&'a Node<P, F>>; STACK_DEPTH],
    len: usize,
    pending6: Option<&'a Node<P, F>>,
    v6: bool,
}

impl<'a, P, F: SharedPtr> Iter<'a, P, F> {
    fn new(root4: Option<&'a Node<P, F>>, root6: Option<&'a Node<P, F>>) -> Self {
        let mut it = Iter {
            stack: [None; STACK_DEPTH],
            len: 0,
            pending6: root6,
            v6: false,
        };
        if let Some(r) = root4 {
            it.push(r);
        } else {
            it.next_family();
        }
        it
    }

    fn push(&mut self, n: &'a Node<P, F>) {
        if let Some(s) = self.stack.get_mut(self.len) {
            *s = Some(n);
            self.len += 1;
        }
    }

    fn pop(&mut self) -> Option<&'a Node<P, F>> {
        self.len = self.len.checked_sub(1)?;
        self.stack.get_mut(self.len).and_then(Option::take)
    }

    fn next_family(&mut self) {
        self.v6 = true;
        if let Some(r) = self.pending6.take() {
            self.push(r);
        }
    }
}

impl<'a, P, F: SharedPtr> Iterator for Iter<'a, P, F> {
    type Item = Entry<'a, P>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some(n) = self.pop() else {
                if self.v6 {
                    return None;
                }
                self.next_family();
                continue;
            };
            // Right child below left so the left subtree comes out first.
            for c in n.children.iter().rev().flatten() {
                self.push(c.node());
            }
            if let Some(peer) = &n.peer {
                return Some(Entry {
                    addr: addr_of(&n.key, self.v6),
                    cidr: n.cidr,
                    peer,
                });
            }
        }
    }
}
