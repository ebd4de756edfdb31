// SPDX-License-Identifier: GPL-2.0

//! Cryptokey routing: a persistent longest-prefix-match trie from IPv4/IPv6 prefixes to peers.
//!
//! The trie is path-compressed and binary like the C driver's allowedips.c (each node holds a masked key and its
//! prefix length, and chooses a child by the first bit after its prefix), but it is *persistent*: nodes are never
//! modified after creation. A mutation copies the O(depth) nodes on the path to the change, shares every untouched
//! subtree through a reference-counted pointer, and returns a new [`AllowedIps`] value. The old value stays intact,
//! so:
//!
//! - readers never block and never see a half-done change: the kernel publishes the new root under RCU and readers
//!   traverse whichever immutable snapshot they loaded;
//! - a failed allocation leaves the published table untouched (every mutation is all-or-nothing);
//! - a netlink dump can hold a snapshot (a cheap clone) across messages and resume by position in its stable order.
//!
//! The caller must not free nodes readers may still hold: the kernel drops the previous root only after an RCU grace
//! period (`synchronize_rcu()` in the writer, or a deferred drop), which frees exactly the nodes the new version no
//! longer shares. Dropping recurses along a path, at most 129 levels deep.
//!
//! Memory comes from a [`SharedPtr`] family: the host uses `alloc::sync::Arc`, the kernel `kernel::sync::Arc` with
//! fallible allocation. The peer handle `P` is compared with `Eq`; the kernel should use a handle whose equality is
//! pointer identity.
//!
//! Costs: lookup, insert and exact remove are O(depth) (at most 33 or 129 nodes). [`AllowedIps::remove_by_peer`]
//! reads the whole table (it allocates only along changed paths); the kernel keeps each peer's prefix list for
//! netlink anyway and can instead call [`AllowedIps::remove`] per prefix, O(k·depth).

use core::ops::Deref;

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

/// A family of reference-counted shared pointers, abstracting `Arc` over host and kernel.
pub trait SharedPtr {
    /// The pointer to a `T`.
    type Ptr<T>: Clone + Deref<Target = T>;

    /// Allocates a new `T`, failing instead of panicking when memory is short.
    fn try_new<T>(value: T) -> Result<Self::Ptr<T>, AllocError>;
}

/// A trie node; nodes are immutable once shared.
pub struct Node<P, F: SharedPtr> {
    key: [u8; 16],
    cidr: u8,
    peer: Option<P>,
    children: [Option<F::Ptr<Node<P, F>>>; 2],
}

impl<P: Clone, F: SharedPtr> Clone for Node<P, F> {
    fn clone(&self) -> Self {
        Self {
            key: self.key,
            cidr: self.cidr,
            peer: self.peer.clone(),
            children: self.children.clone(),
        }
    }
}

type NodePtr<P, F> = <F as SharedPtr>::Ptr<Node<P, F>>;
type Link<P, F> = Option<NodePtr<P, F>>;

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

enum Change<T> {
    Same,
    New(Option<T>),
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

/// An immutable version of the routing table; mutations return a new version.
pub struct AllowedIps<P, F: SharedPtr> {
    root4: Link<P, F>,
    root6: Link<P, F>,
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

    fn root(&self, addr: &IpAddr) -> &Link<P, F> {
        match addr {
            IpAddr::V4(_) => &self.root4,
            IpAddr::V6(_) => &self.root6,
        }
    }

    fn with_root(&self, addr: &IpAddr, root: Link<P, F>) -> Self {
        match addr {
            IpAddr::V4(_) => Self {
                root4: root,
                root6: self.root6.clone(),
            },
            IpAddr::V6(_) => Self {
                root4: self.root4.clone(),
                root6: root,
            },
        }
    }

    /// Returns the peer owning the longest prefix that contains `addr`: the destination lookup for sending, and the
    /// source check for receiving.
    pub fn lookup(&self, addr: &IpAddr) -> Option<&P> {
        let (key, bits) = key_of(addr);
        let mut node = self.root(addr).as_deref();
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
                .and_then(|c| c.as_deref());
        }
        found
    }

    /// Returns the owner of exactly `addr/cidr`, if that prefix is in the table.
    pub fn get_exact(&self, addr: &IpAddr, cidr: u8) -> Option<&P> {
        let (key, bits) = key_of(addr);
        let cidr = cidr.min(bits);
        let key = mask(&key, cidr);
        let mut node = self.root(addr).as_deref();
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
                .and_then(|c| c.as_deref());
        }
        None
    }

    /// Returns a table where `addr/cidr` (masked) belongs to `peer`, and the previous owner of that exact prefix.
    pub fn insert(
        &self,
        addr: &IpAddr,
        cidr: u8,
        peer: P,
    ) -> Result<(Self, Option<P>), AllowedIpsError> {
        let (key, bits) = key_of(addr);
        if cidr > bits {
            return Err(AllowedIpsError::Cidr);
        }
        let key = mask(&key, cidr);
        let (root, old) = insert_at::<P, F>(self.root(addr).as_ref(), &key, cidr, peer)?;
        Ok((self.with_root(addr, Some(root)), old))
    }

    /// Returns a table without `addr/cidr` if `peer` owns it, and whether it did.
    pub fn remove(
        &self,
        addr: &IpAddr,
        cidr: u8,
        peer: &P,
    ) -> Result<(Self, bool), AllowedIpsError> {
        let (key, bits) = key_of(addr);
        if cidr > bits {
            return Err(AllowedIpsError::Cidr);
        }
        let key = mask(&key, cidr);
        let Some(root) = self.root(addr) else {
            return Ok((self.clone(), false));
        };
        match remove_at::<P, F>(root, &key, cidr, peer)? {
            Change::Same => Ok((self.clone(), false)),
            Change::New(r) => Ok((self.with_root(addr, r), true)),
        }
    }

    /// Returns a table without any prefix of `peer`.
    pub fn remove_by_peer(&self, peer: &P) -> Result<Self, AllowedIpsError> {
        let strip = |link: &Link<P, F>| -> Result<Link<P, F>, AllowedIpsError> {
            Ok(match link {
                None => None,
                Some(r) => match remove_peer_at::<P, F>(r, peer)? {
                    Change::Same => Some(r.clone()),
                    Change::New(n) => n,
                },
            })
        };
        Ok(Self {
            root4: strip(&self.root4)?,
            root6: strip(&self.root6)?,
        })
    }

    /// Returns a table where `peer` owns exactly `prefixes` (each replacing any other owner), as a netlink "replace
    /// allowed IPs" does. Nothing changes if any step fails.
    pub fn replace_peer<'a>(
        &self,
        peer: &P,
        prefixes: impl IntoIterator<Item = &'a (IpAddr, u8)>,
    ) -> Result<Self, AllowedIpsError> {
        let mut t = self.remove_by_peer(peer)?;
        for (addr, cidr) in prefixes {
            t = t.insert(addr, *cidr, peer.clone())?.0;
        }
        Ok(t)
    }

    /// Iterates over all entries: IPv4 before IPv6, each in pre-order (shorter prefixes before the longer ones they
    /// contain, lower addresses first). The order is stable for a given version.
    pub fn iter(&self) -> Iter<'_, P, F> {
        let mut it = Iter {
            stack: [None; STACK_DEPTH],
            len: 0,
            pending6: self.root6.as_deref(),
            v6: false,
        };
        if let Some(r) = self.root4.as_deref() {
            it.push(r);
        } else {
            it.next_family();
        }
        it
    }

    /// Iterates over the entries of one peer in [`AllowedIps::iter`] order; a netlink dump resumes by skipping the
    /// number it already sent from the same version.
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

fn new_node<P, F: SharedPtr>(node: Node<P, F>) -> Result<NodePtr<P, F>, AllocError> {
    F::try_new(node)
}

fn insert_at<P: Clone + Eq, F: SharedPtr>(
    node: Option<&NodePtr<P, F>>,
    key: &[u8; 16],
    cidr: u8,
    peer: P,
) -> Result<(NodePtr<P, F>, Option<P>), AllocError> {
    let Some(ptr) = node else {
        let leaf = Node::<P, F> {
            key: *key,
            cidr,
            peer: Some(peer),
            children: [None, None],
        };
        return Ok((new_node(leaf)?, None));
    };
    let n: &Node<P, F> = ptr;
    let common = common_bits(&n.key, key, n.cidr.min(cidr));
    if common == n.cidr && n.cidr == cidr {
        let mut copy = n.clone();
        let old = copy.peer.replace(peer);
        return Ok((new_node(copy)?, old));
    }
    if common == n.cidr {
        // `n` is a proper prefix of the new key: descend.
        let b = bit_at(key, n.cidr);
        let mut copy = n.clone();
        let slot = copy.children.get_mut(b).ok_or(AllocError)?;
        let (child, old) = insert_at::<P, F>(slot.as_ref(), key, cidr, peer)?;
        *slot = Some(child);
        return Ok((new_node(copy)?, old));
    }
    let mut children: [Link<P, F>; 2] = [None, None];
    if common == cidr {
        // The new prefix contains `n`: it becomes n's parent.
        if let Some(c) = children.get_mut(bit_at(&n.key, cidr)) {
            *c = Some(ptr.clone());
        }
        let parent = Node::<P, F> {
            key: *key,
            cidr,
            peer: Some(peer),
            children,
        };
        return Ok((new_node(parent)?, None));
    }
    // They diverge after `common` bits: join them under a peerless node.
    let leaf = new_node(Node::<P, F> {
        key: *key,
        cidr,
        peer: Some(peer),
        children: [None, None],
    })?;
    if let Some(c) = children.get_mut(bit_at(&n.key, common)) {
        *c = Some(ptr.clone());
    }
    if let Some(c) = children.get_mut(bit_at(key, common)) {
        *c = Some(leaf);
    }
    let join = Node::<P, F> {
        key: mask(key, common),
        cidr: common,
        peer: None,
        children,
    };
    Ok((new_node(join)?, None))
}

/// Builds the pointer for `node` after a change, dropping peerless nodes that no longer join two subtrees so the
/// trie stays canonical.
fn collapse<P, F: SharedPtr>(node: Node<P, F>) -> Result<Link<P, F>, AllocError> {
    if node.peer.is_some() {
        return Ok(Some(new_node(node)?));
    }
    match node.children {
        [None, None] => Ok(None),
        [Some(c), None] | [None, Some(c)] => Ok(Some(c)),
        children => Ok(Some(new_node(Node { children, ..node })?)),
    }
}

fn remove_at<P: Clone + Eq, F: SharedPtr>(
    ptr: &NodePtr<P, F>,
    key: &[u8; 16],
    cidr: u8,
    peer: &P,
) -> Result<Change<NodePtr<P, F>>, AllocError> {
    let n: &Node<P, F> = ptr;
    if n.cidr > cidr || common_bits(&n.key, key, n.cidr) < n.cidr {
        return Ok(Change::Same);
    }
    if n.cidr == cidr {
        if n.peer.as_ref() != Some(peer) {
            return Ok(Change::Same);
        }
        let mut copy = n.clone();
        copy.peer = None;
        return Ok(Change::New(collapse(copy)?));
    }
    let b = bit_at(key, n.cidr);
    let Some(Some(child)) = n.children.get(b) else {
        return Ok(Change::Same);
    };
    match remove_at::<P, F>(child, key, cidr, peer)? {
        Change::Same => Ok(Change::Same),
        Change::New(c) => {
            let mut copy = n.clone();
            if let Some(slot) = copy.children.get_mut(b) {
                *slot = c;
            }
            Ok(Change::New(collapse(copy)?))
        }
    }
}

fn remove_peer_at<P: Clone + Eq, F: SharedPtr>(
    ptr: &NodePtr<P, F>,
    peer: &P,
) -> Result<Change<NodePtr<P, F>>, AllocError> {
    let n: &Node<P, F> = ptr;
    let mut changed = n.peer.as_ref() == Some(peer);
    let mut children: [Link<P, F>; 2] = [None, None];
    for (out, child) in children.iter_mut().zip(&n.children) {
        *out = match child {
            None => None,
            Some(c) => match remove_peer_at::<P, F>(c, peer)? {
                Change::Same => Some(c.clone()),
                Change::New(x) => {
                    changed = true;
                    x
                }
            },
        };
    }
    if !changed {
        return Ok(Change::Same);
    }
    let peer = if n.peer.as_ref() == Some(peer) {
        None
    } else {
        n.peer.clone()
    };
    Ok(Change::New(collapse(Node::<P, F> {
        key: n.key,
        cidr: n.cidr,
        peer,
        children,
    })?))
}

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
                self.push(c);
            }
            if let Some(peer) = &n.peer {
                let addr = if self.v6 {
                    IpAddr::V6(n.key)
                } else {
                    let (a, _) = n
                        .key
                        .split_first_chunk::<4>()
                        .map_or(([0; 4], ()), |(a, _)| (*a, ()));
                    IpAddr::V4(a)
                };
                return Some(Entry {
                    addr,
                    cidr: n.cidr,
                    peer,
                });
            }
        }
    }
}
