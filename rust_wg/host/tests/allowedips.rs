// SPDX-License-Identifier: GPL-2.0

//! The C driver's selftest/allowedips.c fixed cases and randomized test (same sizes, against a naive reference),
//! plus persistence, allocation failure and iteration checks of the path-copying trie.

mod common;

use common::{ArcPtr, Rng};
use rust_wg_proto::addr::IpAddr;
use rust_wg_proto::allowedips::{AllocError, AllowedIps, AllowedIpsError, SharedPtr};
use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

type Table = AllowedIps<u32, ArcPtr>;

const A: u32 = 1;
const B: u32 = 2;
const C: u32 = 3;
const D: u32 = 4;
const E: u32 = 5;
const F: u32 = 6;
const G: u32 = 7;
const H: u32 = 8;

fn ip4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4([a, b, c, d])
}

fn ip6(a: u32, b: u32, c: u32, d: u32) -> IpAddr {
    let mut o = [0; 16];
    o[..4].copy_from_slice(&a.to_be_bytes());
    o[4..8].copy_from_slice(&b.to_be_bytes());
    o[8..12].copy_from_slice(&c.to_be_bytes());
    o[12..].copy_from_slice(&d.to_be_bytes());
    IpAddr::V6(o)
}

fn ins(t: &mut Table, peer: u32, addr: IpAddr, cidr: u8) {
    *t = t.insert(&addr, cidr, peer).unwrap().0;
}

/// The table the C selftest builds.
fn fixed_table() -> Table {
    let mut t = Table::new();
    ins(&mut t, A, ip4(192, 168, 4, 0), 24);
    ins(&mut t, B, ip4(192, 168, 4, 4), 32);
    ins(&mut t, C, ip4(192, 168, 0, 0), 16);
    ins(&mut t, D, ip4(192, 95, 5, 64), 27);
    // Replaces the previous entry, and maskself is required.
    ins(&mut t, C, ip4(192, 95, 5, 65), 27);
    ins(&mut t, D, ip6(0x26075300, 0x60006b00, 0, 0xc05f0543), 128);
    ins(&mut t, C, ip6(0x26075300, 0x60006b00, 0, 0), 64);
    ins(&mut t, E, ip4(0, 0, 0, 0), 0);
    ins(&mut t, E, ip6(0, 0, 0, 0), 0);
    // Replaces the previous entry.
    ins(&mut t, F, ip6(0, 0, 0, 0), 0);
    ins(&mut t, G, ip6(0x24046800, 0, 0, 0), 32);
    // Maskself is required.
    ins(
        &mut t,
        H,
        ip6(0x24046800, 0x40040800, 0xdeadbeef, 0xdeadbeef),
        64,
    );
    ins(
        &mut t,
        A,
        ip6(0x24046800, 0x40040800, 0xdeadbeef, 0xdeadbeef),
        128,
    );
    ins(
        &mut t,
        C,
        ip6(0x24446800, 0x40e40800, 0xdeaebeef, 0xdefbeef),
        128,
    );
    ins(&mut t, B, ip6(0x24446800, 0xf0e40800, 0xeeaebeef, 0), 98);
    ins(&mut t, G, ip4(64, 15, 112, 0), 20);
    // Maskself is required.
    ins(&mut t, H, ip4(64, 15, 123, 211), 25);
    ins(&mut t, A, ip4(10, 0, 0, 0), 25);
    ins(&mut t, B, ip4(10, 0, 0, 128), 25);
    ins(&mut t, A, ip4(10, 1, 0, 0), 30);
    ins(&mut t, B, ip4(10, 1, 0, 4), 30);
    ins(&mut t, C, ip4(10, 1, 0, 8), 29);
    ins(&mut t, D, ip4(10, 1, 0, 16), 29);
    t
}

macro_rules! fixed_lookups {
    ($($name:ident: $peer:expr, $addr:expr;)*) => {$(
        #[test]
        fn $name() {
            let t = fixed_table();
            assert_eq!(t.lookup(&$addr).copied(), Some($peer));
        }
    )*};
}

fixed_lookups! {
    lookup_01: A, ip4(192, 168, 4, 20);
    lookup_02: A, ip4(192, 168, 4, 0);
    lookup_03: B, ip4(192, 168, 4, 4);
    lookup_04: C, ip4(192, 168, 200, 182);
    lookup_05: C, ip4(192, 95, 5, 68);
    lookup_06: E, ip4(192, 95, 5, 96);
    lookup_07: D, ip6(0x26075300, 0x60006b00, 0, 0xc05f0543);
    lookup_08: C, ip6(0x26075300, 0x60006b00, 0, 0xc02e01ee);
    lookup_09: F, ip6(0x26075300, 0x60006b01, 0, 0);
    lookup_10: G, ip6(0x24046800, 0x40040806, 0, 0x1006);
    lookup_11: G, ip6(0x24046800, 0x40040806, 0x1234, 0x5678);
    lookup_12: F, ip6(0x240467ff, 0x40040806, 0x1234, 0x5678);
    lookup_13: F, ip6(0x24046801, 0x40040806, 0x1234, 0x5678);
    lookup_14: H, ip6(0x24046800, 0x40040800, 0x1234, 0x5678);
    lookup_15: H, ip6(0x24046800, 0x40040800, 0, 0);
    lookup_16: H, ip6(0x24046800, 0x40040800, 0x10101010, 0x10101010);
    lookup_17: A, ip6(0x24046800, 0x40040800, 0xdeadbeef, 0xdeadbeef);
    lookup_18: G, ip4(64, 15, 116, 26);
    lookup_19: G, ip4(64, 15, 127, 3);
    lookup_20: G, ip4(64, 15, 123, 1);
    lookup_21: H, ip4(64, 15, 123, 128);
    lookup_22: H, ip4(64, 15, 123, 129);
    lookup_23: A, ip4(10, 0, 0, 52);
    lookup_24: B, ip4(10, 0, 0, 220);
    lookup_25: A, ip4(10, 1, 0, 2);
    lookup_26: B, ip4(10, 1, 0, 6);
    lookup_27: C, ip4(10, 1, 0, 10);
    lookup_28: D, ip4(10, 1, 0, 20);
}

#[test]
fn remove_by_peer_removes_all_its_hosts() {
    let mut t = fixed_table();
    for a in [1, 64, 128, 192, 255] {
        ins(&mut t, A, ip4(a, 0, 0, 0), 32);
    }
    t = t.remove_by_peer(&A).unwrap();
    for a in [1, 64, 128, 192, 255] {
        assert_ne!(t.lookup(&ip4(a, 0, 0, 0)).copied(), Some(A));
    }
    assert_eq!(t.count_peer(&A), 0);
}

#[test]
fn remove_by_peer_nested() {
    let mut t = Table::new();
    ins(&mut t, A, ip4(192, 168, 0, 0), 16);
    ins(&mut t, A, ip4(192, 168, 0, 0), 24);
    t = t.remove_by_peer(&A).unwrap();
    assert_eq!(t.lookup(&ip4(192, 168, 0, 1)), None);
    assert!(t.is_empty());
}

#[test]
fn deep_v6_chain_inserts_and_frees() {
    let mut t = Table::new();
    for i in 0..128u32 {
        let part = !(1u64 << (i % 64));
        let mut ip = [0xffu8; 16];
        let at = if i < 64 { 8 } else { 0 };
        ip[at..at + 8].copy_from_slice(&part.to_be_bytes());
        ins(&mut t, A, IpAddr::V6(ip), 128);
    }
    assert_eq!(t.len(), 128);
    t = t.remove_by_peer(&A).unwrap();
    assert!(t.is_empty());
}

#[test]
fn iteration_reports_masked_prefixes() {
    let mut t = Table::new();
    ins(&mut t, A, ip4(192, 95, 5, 93), 27);
    ins(&mut t, A, ip6(0x26075300, 0x60006b00, 0, 0xc05f0543), 128);
    ins(&mut t, A, ip4(10, 1, 0, 20), 29);
    ins(
        &mut t,
        A,
        ip6(0x26075300, 0x6d8a6bf8, 0xdab1f1df, 0xc05f1523),
        83,
    );
    ins(
        &mut t,
        A,
        ip6(0x26075300, 0x6d8a6bf8, 0xdab1f1df, 0xc05f1523),
        21,
    );
    let got: BTreeSet<(IpAddr, u8)> = t.iter_peer(&A).map(|e| (e.addr, e.cidr)).collect();
    let expect: BTreeSet<(IpAddr, u8)> = [
        (ip4(192, 95, 5, 64), 27),
        (ip6(0x26075300, 0x60006b00, 0, 0xc05f0543), 128),
        (ip4(10, 1, 0, 16), 29),
        (ip6(0x26075300, 0x6d8a6bf8, 0xdab1e000, 0), 83),
        (ip6(0x26075000, 0, 0, 0), 21),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, expect);
    assert_eq!(t.count_peer(&A), 5);
    assert_eq!(t.len(), 5);
}

#[test]
fn insert_reports_previous_owner_and_rejects_bad_cidr() {
    let t = Table::new();
    let (t, old) = t.insert(&ip4(10, 0, 0, 1), 8, A).unwrap();
    assert_eq!(old, None);
    let (t, old) = t.insert(&ip4(10, 9, 9, 9), 8, B).unwrap();
    assert_eq!(old, Some(A));
    assert_eq!(t.get_exact(&ip4(10, 0, 0, 0), 8), Some(&B));
    assert_eq!(t.get_exact(&ip4(10, 0, 0, 0), 9), None);
    assert_eq!(
        t.insert(&ip4(1, 1, 1, 1), 33, A).err(),
        Some(AllowedIpsError::Cidr)
    );
    assert_eq!(
        t.insert(&ip6(1, 1, 1, 1), 129, A).err(),
        Some(AllowedIpsError::Cidr)
    );
    assert!(t.insert(&ip6(1, 1, 1, 1), 128, A).is_ok());
}

#[test]
fn remove_exact_only_if_owned() {
    let t = fixed_table();
    let (t2, removed) = t.remove(&ip4(192, 168, 4, 0), 24, &B).unwrap();
    assert!(!removed);
    assert_eq!(t2.lookup(&ip4(192, 168, 4, 20)), Some(&A));
    let (t3, removed) = t.remove(&ip4(192, 168, 4, 77), 24, &A).unwrap();
    assert!(removed, "prefix is masked before matching");
    assert_eq!(
        t3.lookup(&ip4(192, 168, 4, 20)),
        Some(&C),
        "falls back to the /16"
    );
    assert_eq!(
        t3.lookup(&ip4(192, 168, 4, 4)),
        Some(&B),
        "the /32 below survives"
    );
    let (_, removed) = t3.remove(&ip4(192, 168, 4, 0), 24, &A).unwrap();
    assert!(!removed);
    let (_, removed) = t.remove(&ip4(192, 168, 4, 0), 23, &A).unwrap();
    assert!(!removed, "only the exact prefix length");
}

#[test]
fn old_versions_are_unchanged_by_mutation() {
    let t1 = fixed_table();
    let before: Vec<(IpAddr, u8, u32)> = t1.iter().map(|e| (e.addr, e.cidr, *e.peer)).collect();
    let t2 = t1.insert(&ip4(192, 168, 4, 20), 32, H).unwrap().0;
    let t3 = t2.remove_by_peer(&C).unwrap();
    let t4 = t3.replace_peer(&A, &[(ip4(1, 2, 3, 4), 32)]).unwrap();
    let after: Vec<(IpAddr, u8, u32)> = t1.iter().map(|e| (e.addr, e.cidr, *e.peer)).collect();
    assert_eq!(before, after);
    assert_eq!(t1.lookup(&ip4(192, 168, 4, 20)), Some(&A));
    assert_eq!(t2.lookup(&ip4(192, 168, 4, 20)), Some(&H));
    assert_eq!(t3.lookup(&ip4(192, 168, 200, 1)), Some(&E));
    assert_eq!(t4.count_peer(&A), 1);
    assert_eq!(t4.lookup(&ip4(1, 2, 3, 4)), Some(&A));
    assert_eq!(t4.lookup(&ip4(10, 0, 0, 52)), Some(&E));
}

#[test]
fn iteration_order_is_stable_and_preorder() {
    let t = fixed_table();
    let v1: Vec<_> = t.iter().map(|e| (e.addr, e.cidr)).collect();
    let v2: Vec<_> = t.clone().iter().map(|e| (e.addr, e.cidr)).collect();
    assert_eq!(v1, v2);
    let first_v6 = v1
        .iter()
        .position(|(a, _)| matches!(a, IpAddr::V6(_)))
        .unwrap();
    assert!(v1[first_v6..]
        .iter()
        .all(|(a, _)| matches!(a, IpAddr::V6(_))));
    assert_eq!(v1[0], (ip4(0, 0, 0, 0), 0), "the default route comes first");
}

thread_local! {
    static BUDGET: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// An `Arc` family whose allocations fail once a per-thread budget is spent.
struct Limited;

impl SharedPtr for Limited {
    type Ptr<T> = Arc<T>;
    type Unique<T> = Box<T>;
    fn try_new<T>(value: T) -> Result<Box<T>, AllocError> {
        BUDGET.with(|b| {
            if b.get() == 0 {
                return Err(AllocError);
            }
            b.set(b.get() - 1);
            Ok(Box::new(value))
        })
    }
    fn share<T>(value: Box<T>) -> Arc<T> {
        Arc::from(value)
    }
    fn drop_last<T: Unpin, R>(ptr: Arc<T>, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        Arc::into_inner(ptr).map(|mut v| f(&mut v))
    }
}

#[test]
fn allocation_failure_leaves_table_intact() {
    let mut rng = Rng(99);
    let mut t = AllowedIps::<u32, Limited>::new();
    for i in 0..500u32 {
        let (t2, _) = t
            .insert(&IpAddr::V4(rng.bytes()), (rng.below(33)) as u8, i % 7)
            .unwrap();
        t = t2;
    }
    let snapshot: Vec<_> = t.iter().map(|e| (e.addr, e.cidr, *e.peer)).collect();
    let mut failures = 0;
    for budget in 0..40 {
        BUDGET.with(|b| b.set(budget));
        let addr = IpAddr::V4(rng.bytes());
        match t.insert(&addr, 32, 99) {
            Ok((t2, _)) => assert_eq!(t2.lookup(&addr), Some(&99)),
            Err(e) => {
                assert_eq!(e, AllowedIpsError::Alloc);
                failures += 1;
            }
        }
        BUDGET.with(|b| b.set(budget));
        if t.remove_by_peer(&3).is_err() {
            failures += 1;
        }
        let now: Vec<_> = t.iter().map(|e| (e.addr, e.cidr, *e.peer)).collect();
        assert_eq!(now, snapshot);
    }
    BUDGET.with(|b| b.set(usize::MAX));
    assert!(failures > 10);
}

#[test]
fn mutation_cost_is_logarithmic_not_linear() {
    // Count allocations of one insert into a large table: bounded by the path length, not the size.
    let mut rng = Rng(5);
    let mut t = AllowedIps::<u32, Limited>::new();
    BUDGET.with(|b| b.set(usize::MAX));
    for i in 0..20_000u32 {
        t = t.insert(&IpAddr::V4(rng.bytes()), 32, i).unwrap().0;
    }
    BUDGET.with(|b| b.set(1_000_000));
    let _ = t.insert(&IpAddr::V4(rng.bytes()), 32, 1).unwrap();
    let used = 1_000_000 - BUDGET.with(|b| b.get());
    assert!(used <= 34, "insert allocated {used} nodes");
    BUDGET.with(|b| b.set(1_000_000));
    let e = t
        .iter()
        .nth(777)
        .map(|e| (e.addr, e.cidr, *e.peer))
        .unwrap();
    let _ = t.remove(&e.0, e.1, &e.2).unwrap();
    let used = 1_000_000 - BUDGET.with(|b| b.get());
    assert!(used <= 34, "remove allocated {used} nodes");
    BUDGET.with(|b| b.set(usize::MAX));
}

/// A naive reference: exact prefixes in a hash map, longest match by trying every length.
#[derive(Default)]
struct Horrible {
    map: HashMap<(bool, [u8; 16], u8), u32>,
}

fn mask(addr: &IpAddr, cidr: u8) -> (bool, [u8; 16]) {
    let (v6, bytes) = match addr {
        IpAddr::V4(a) => {
            let mut o = [0; 16];
            o[..4].copy_from_slice(a);
            (false, o)
        }
        IpAddr::V6(a) => (true, *a),
    };
    let mut m = [0u8; 16];
    for i in 0..16 {
        let bits = (cidr as i32 - 8 * i as i32).clamp(0, 8);
        let mk = if bits == 0 { 0 } else { 0xffu8 << (8 - bits) };
        m[i] = bytes[i] & mk;
    }
    (v6, m)
}

impl Horrible {
    fn insert(&mut self, addr: &IpAddr, cidr: u8, peer: u32) {
        let (v6, m) = mask(addr, cidr);
        self.map.insert((v6, m, cidr), peer);
    }
    fn lookup(&self, addr: &IpAddr) -> Option<u32> {
        for cidr in (0..=addr.bits()).rev() {
            let (v6, m) = mask(addr, cidr);
            if let Some(p) = self.map.get(&(v6, m, cidr)) {
                return Some(*p);
            }
        }
        None
    }
    fn remove_by_value(&mut self, peer: u32) {
        self.map.retain(|_, p| *p != peer);
    }
}

const NUM_PEERS: u64 = 2000;
const NUM_RAND_ROUTES: usize = 400;
const NUM_MUTATED_ROUTES: usize = 100;

fn mutate(rng: &mut Rng, ip: &[u8], bits: u64) -> Vec<u8> {
    let keep = rng.below(bits) as usize;
    ip.iter()
        .enumerate()
        .map(|(k, b)| {
            let kb = (keep as i64 - 8 * k as i64).clamp(0, 8) as u32;
            let mk = if kb == 0 { 0 } else { 0xffu8 << (8 - kb) };
            (b & mk) | (!mk & rng.next_u64() as u8)
        })
        .collect()
}

fn to_addr(v: &[u8]) -> IpAddr {
    match v.len() {
        4 => IpAddr::V4(v.try_into().unwrap()),
        _ => IpAddr::V6(v.try_into().unwrap()),
    }
}

fn randomized(seed: u64, queries_per_round: usize, by_list: bool) {
    let mut rng = Rng(seed);
    let mut t = Table::new();
    let mut h = Horrible::default();
    let mut probes: Vec<IpAddr> = Vec::new();
    for len in [4usize, 16] {
        let bits = (len * 8) as u64;
        for _ in 0..NUM_RAND_ROUTES {
            let mut ip = vec![0u8; len];
            rng.fill(&mut ip);
            let cidr = (rng.below(bits) + 1) as u8;
            let peer = rng.below(NUM_PEERS) as u32;
            t = t.insert(&to_addr(&ip), cidr, peer).unwrap().0;
            h.insert(&to_addr(&ip), cidr, peer);
            for _ in 0..NUM_MUTATED_ROUTES {
                let m = mutate(&mut rng, &ip, bits);
                let cidr = (rng.below(bits) + 1) as u8;
                let peer = rng.below(NUM_PEERS) as u32;
                t = t.insert(&to_addr(&m), cidr, peer).unwrap().0;
                h.insert(&to_addr(&m), cidr, peer);
                probes.push(to_addr(&mutate(&mut rng, &m, bits)));
            }
        }
    }
    assert_eq!(t.len(), h.map.len());
    let check = |t: &Table, h: &Horrible, rng: &mut Rng, n: usize| {
        for _ in 0..n {
            let a = IpAddr::V4(rng.bytes());
            assert_eq!(t.lookup(&a).copied(), h.lookup(&a), "v4 {a:?}");
            let a = IpAddr::V6(rng.bytes());
            assert_eq!(t.lookup(&a).copied(), h.lookup(&a), "v6 {a:?}");
            let a = probes[rng.below(probes.len() as u64) as usize];
            assert_eq!(t.lookup(&a).copied(), h.lookup(&a), "probe {a:?}");
        }
    };
    check(&t, &h, &mut rng, 20_000);
    for j in 0..NUM_PEERS as u32 {
        if by_list || j % 8 != 0 {
            // The kernel's way: remove the peer's own prefixes one by one, O(k * depth); every eighth peer goes
            // through the full-table remove_by_peer instead.
            let mine: Vec<_> = h
                .map
                .iter()
                .filter(|(_, p)| **p == j)
                .map(|(k, _)| *k)
                .collect();
            for (v6, m, cidr) in mine {
                let addr = if v6 {
                    IpAddr::V6(m)
                } else {
                    IpAddr::V4(m[..4].try_into().unwrap())
                };
                let (t2, removed) = t.remove(&addr, cidr, &j).unwrap();
                assert!(removed);
                t = t2;
            }
        } else {
            t = t.remove_by_peer(&j).unwrap();
        }
        h.remove_by_value(j);
        check(&t, &h, &mut rng, queries_per_round);
        if j % 500 == 0 {
            assert_eq!(t.len(), h.map.len());
        }
    }
    assert!(t.is_empty(), "removal of every peer must empty the trie");
}

#[test]
fn randomized_against_reference_seed1() {
    randomized(1, 10, false);
}

#[test]
fn randomized_against_reference_exact_removal() {
    randomized(2, 10, true);
}

#[test]
fn randomized_exact_removals() {
    let mut rng = Rng(77);
    let mut t = Table::new();
    let mut h = Horrible::default();
    let mut entries = Vec::new();
    for _ in 0..3000 {
        let addr = if rng.chance(50) {
            IpAddr::V4(rng.bytes())
        } else {
            IpAddr::V6(rng.bytes())
        };
        let cidr = rng.below(u64::from(addr.bits()) + 1) as u8;
        let peer = rng.below(20) as u32;
        t = t.insert(&addr, cidr, peer).unwrap().0;
        h.insert(&addr, cidr, peer);
        entries.push((addr, cidr));
    }
    for (i, (addr, cidr)) in entries.iter().enumerate() {
        if i % 2 == 0 {
            continue;
        }
        let owner = t.get_exact(addr, *cidr).copied();
        let who = if rng.chance(70) {
            owner.unwrap_or(0)
        } else {
            99
        };
        let (t2, removed) = t.remove(addr, *cidr, &who).unwrap();
        assert_eq!(removed, owner == Some(who));
        if removed {
            let (v6, m) = mask(addr, *cidr);
            h.map.remove(&(v6, m, *cidr));
        }
        t = t2;
    }
    assert_eq!(t.len(), h.map.len());
    for _ in 0..20_000 {
        let a = if rng.chance(50) {
            IpAddr::V4(rng.bytes())
        } else {
            entries[rng.below(3000) as usize].0
        };
        assert_eq!(t.lookup(&a).copied(), h.lookup(&a));
    }
}

/// Inserts one prefix of length `cidr` (plus a default route) and checks the addresses at its edges.
fn boundary(v6: bool, cidr: u8) {
    let bits: u32 = if v6 { 128 } else { 32 };
    let mut rng = Rng(u64::from(cidr) + if v6 { 1000 } else { 0 });
    let base: u128 =
        (u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64())) >> (128 - bits);
    let host_bits = bits - u32::from(cidr);
    let host_mask: u128 = if host_bits == 0 {
        0
    } else {
        u128::MAX >> (128 - host_bits)
    };
    let first = base & !host_mask;
    let last = first | host_mask;
    let full: u128 = if bits == 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    let addr = |x: u128| -> IpAddr {
        if v6 {
            IpAddr::V6(x.to_be_bytes())
        } else {
            IpAddr::V4((x as u32).to_be_bytes())
        }
    };
    let zero = addr(0);
    let mut t = Table::new();
    t = t.insert(&zero, 0, E).unwrap().0;
    t = t.insert(&addr(base), cidr, A).unwrap().0;
    assert_eq!(t.lookup(&addr(first)), Some(&A));
    assert_eq!(t.lookup(&addr(last)), Some(&A));
    assert_eq!(t.lookup(&addr(base)), Some(&A));
    if first > 0 {
        assert_eq!(t.lookup(&addr(first - 1)), Some(&E), "below the prefix");
    }
    if last < full {
        assert_eq!(t.lookup(&addr(last + 1)), Some(&E), "above the prefix");
    }
    // The stored prefix is masked, and exact removal by any address inside it works.
    let e: Vec<_> = t.iter_peer(&A).map(|e| (e.addr, e.cidr)).collect();
    assert_eq!(e, vec![(addr(first), cidr)]);
    let (t2, removed) = t.remove(&addr(last), cidr, &A).unwrap();
    assert!(removed);
    assert_eq!(
        t2.lookup(&addr(first)),
        if cidr == 0 { None } else { Some(&E) }
    );
}

macro_rules! boundaries {
    ($($name:ident: $v6:expr, $cidr:expr;)*) => {$(
        #[test]
        fn $name() {
            boundary($v6, $cidr);
        }
    )*};
}

boundaries! {
    v4_cidr_00: false, 0; v4_cidr_01: false, 1; v4_cidr_02: false, 2; v4_cidr_03: false, 3;
    v4_cidr_04: false, 4; v4_cidr_05: false, 5; v4_cidr_06: false, 6; v4_cidr_07: false, 7;
    v4_cidr_08: false, 8; v4_cidr_09: false, 9; v4_cidr_10: false, 10; v4_cidr_11: false, 11;
    v4_cidr_12: false, 12; v4_cidr_13: false, 13; v4_cidr_14: false, 14; v4_cidr_15: false, 15;
    v4_cidr_16: false, 16; v4_cidr_17: false, 17; v4_cidr_18: false, 18; v4_cidr_19: false, 19;
    v4_cidr_20: false, 20; v4_cidr_21: false, 21; v4_cidr_22: false, 22; v4_cidr_23: false, 23;
    v4_cidr_24: false, 24; v4_cidr_25: false, 25; v4_cidr_26: false, 26; v4_cidr_27: false, 27;
    v4_cidr_28: false, 28; v4_cidr_29: false, 29; v4_cidr_30: false, 30; v4_cidr_31: false, 31;
    v4_cidr_32: false, 32;
    v6_cidr_000: true, 0; v6_cidr_001: true, 1; v6_cidr_007: true, 7; v6_cidr_008: true, 8;
    v6_cidr_009: true, 9; v6_cidr_031: true, 31; v6_cidr_032: true, 32; v6_cidr_033: true, 33;
    v6_cidr_048: true, 48; v6_cidr_063: true, 63; v6_cidr_064: true, 64; v6_cidr_065: true, 65;
    v6_cidr_095: true, 95; v6_cidr_096: true, 96; v6_cidr_097: true, 97; v6_cidr_120: true, 120;
    v6_cidr_126: true, 126; v6_cidr_127: true, 127; v6_cidr_128: true, 128;
}

#[test]
fn batch_changes_in_place_and_leaves_the_base_version_alone() {
    let mut rng = Rng(31);
    let base = fixed_table();
    let before: Vec<_> = base.iter().map(|e| (e.addr, e.cidr, *e.peer)).collect();
    let mut b = base.edit();
    let mut h = Horrible::default();
    for e in base.iter() {
        h.insert(&e.addr, e.cidr, *e.peer);
    }
    let mut added = Vec::new();
    for i in 0..3000u32 {
        let addr = if i % 3 == 0 {
            IpAddr::V6(rng.bytes())
        } else {
            IpAddr::V4(rng.bytes())
        };
        let cidr = rng.below(u64::from(addr.bits()) + 1) as u8;
        let old = b.insert(&addr, cidr, i % 11).unwrap();
        assert_eq!(
            old,
            h.map
                .get(&{
                    let (v6, m) = mask(&addr, cidr);
                    (v6, m, cidr)
                })
                .copied()
        );
        h.insert(&addr, cidr, i % 11);
        added.push((addr, cidr, i % 11));
    }
    // Remove a third again, some by a peer that does not own them.
    for (i, (addr, cidr, peer)) in added.iter().enumerate().step_by(3) {
        let who = if i % 2 == 0 { *peer } else { 99 };
        let owned = b.get_exact(addr, *cidr) == Some(&who);
        assert_eq!(b.remove(addr, *cidr, &who).unwrap(), owned);
        if owned {
            let (v6, m) = mask(addr, *cidr);
            h.map.remove(&(v6, m, *cidr));
        }
    }
    for _ in 0..5000 {
        let a = IpAddr::V4(rng.bytes());
        assert_eq!(b.lookup(&a).copied(), h.lookup(&a));
    }
    let t = b.finish();
    assert_eq!(t.len(), h.map.len());
    for _ in 0..5000 {
        let a = IpAddr::V4(rng.bytes());
        assert_eq!(t.lookup(&a).copied(), h.lookup(&a));
        let a = added[rng.below(added.len() as u64) as usize].0;
        assert_eq!(t.lookup(&a).copied(), h.lookup(&a));
    }
    let after: Vec<_> = base.iter().map(|e| (e.addr, e.cidr, *e.peer)).collect();
    assert_eq!(before, after, "the base version must not change");
}

#[test]
fn batch_allocates_per_prefix_not_per_path() {
    // 10 000 /32s in one batch: a leaf and at most one join node each, plus the copied root path once.
    let mut rng = Rng(8);
    let mut t = AllowedIps::<u32, Limited>::new();
    for i in 0..2000u32 {
        t = t.insert(&IpAddr::V4(rng.bytes()), 32, i).unwrap().0;
    }
    BUDGET.with(|b| b.set(1_000_000));
    let mut b = t.edit();
    for i in 0..10_000u32 {
        b.insert(&IpAddr::V4(rng.bytes()), 32, i).unwrap();
    }
    let t2 = b.finish();
    let used = 1_000_000 - BUDGET.with(|b| b.get());
    BUDGET.with(|b| b.set(usize::MAX));
    assert!(
        used <= 2 * 10_000 + 2 * 2000,
        "batch allocated {used} nodes"
    );
    assert_eq!(t2.len(), t.len() + 10_000);
}

#[test]
fn batch_clear_and_masked() {
    let t = fixed_table();
    let mut b = t.edit();
    b.clear();
    assert!(b.finish().is_empty());
    assert!(!t.is_empty());
    assert_eq!(
        rust_wg_proto::allowedips::masked(&ip4(192, 168, 4, 77), 24),
        ip4(192, 168, 4, 0)
    );
    assert_eq!(
        rust_wg_proto::allowedips::masked(&ip6(0x26075300, 0x60006b00, 1, 2), 40),
        ip6(0x26075300, 0x60000000, 0, 0)
    );
}

/// The deepest table a peer can configure: every prefix length of one address, a path of 129 (IPv6) and 33 (IPv4)
/// nodes. Building it, changing it level by level, publishing and freeing versions must not recurse once per level:
/// in the kernel these run on a 16 KiB stack (freeing, in an RCU callback, on the softirq stack), and a recursive
/// insert overflowed it (session 10, VM test 83). Here everything runs on a 32 KiB thread stack, which the
/// recursive code overflowed.
#[test]
fn deepest_path_runs_on_a_small_stack() {
    let t = std::thread::Builder::new()
        .stack_size(32 * 1024)
        .spawn(|| {
            let a6 = ip6(0xfd990000, 0, 0, 2);
            let a4 = ip4(10, 99, 0, 2);
            let mut t = Table::new();
            let mut b = t.edit();
            for l in 0..=128u8 {
                b.insert(&a6, l, u32::from(l)).unwrap();
                if l <= 32 {
                    b.insert(&a4, l, 1000 + u32::from(l)).unwrap();
                }
            }
            t = b.finish();
            assert_eq!(t.len(), 162);
            assert_eq!(t.lookup(&a6), Some(&128));
            assert_eq!(t.lookup(&ip6(0xfd990000, 0, 0, 3)), Some(&127));
            assert_eq!(t.lookup(&a4), Some(&1032));
            // One version per change, each sharing the rest of the path with the one before, as netlink does.
            let first = t.clone();
            for l in (0..=128u8).step_by(3) {
                let (t2, removed) = t.remove(&a6, l, &u32::from(l)).unwrap();
                assert!(removed);
                t = t2;
            }
            assert_eq!(t.len(), 162 - 43);
            assert_eq!(t.lookup(&a6), Some(&128));
            for l in (1..=32u8).rev() {
                t = t.remove(&a4, l, &(1000 + u32::from(l))).unwrap().0;
            }
            assert_eq!(t.lookup(&a4), Some(&1000));
            let (t2, old) = t.insert(&a6, 64, 7).unwrap();
            assert_eq!(old, Some(64));
            assert_eq!(t2.get_exact(&a6, 64), Some(&7));
            // The first version is untouched, and all of them are freed here, on the small stack.
            assert_eq!(first.len(), 162);
            assert_eq!(first.get_exact(&a6, 64), Some(&64));
            drop(t2);
            drop(t);
            let mut b = first.edit();
            b.clear();
            drop(first);
            drop(b);
        })
        .unwrap();
    t.join().expect("the deep table needs no deep stack");
}

/// `Batch::replaced` counts the published nodes a batch stopped using (the kernel frees the previous version in
/// process context once it is large): nothing for a batch that only adds below fresh nodes, one per copied node on
/// a path, everything after `clear`.
#[test]
fn batch_counts_replaced_nodes() {
    let mut t = Table::new();
    let mut b = t.edit();
    assert_eq!(b.replaced(), 0);
    for i in 0..64u8 {
        b.insert(&ip4(10, 0, i, 1), 32, u32::from(i)).unwrap();
    }
    // Every node is the batch's own: nothing was shared.
    assert_eq!(b.replaced(), 0);
    t = b.finish();
    let mut b = t.edit();
    b.insert(&ip4(10, 0, 3, 2), 32, 99).unwrap();
    let one = b.replaced();
    // The path down to 10.0.3.1 is copied once: at least its root, at most the table's depth (7 levels of joins).
    assert!((1..=8).contains(&one), "replaced {one}");
    b.insert(&ip4(10, 0, 3, 3), 32, 98).unwrap();
    assert_eq!(
        b.replaced(),
        one,
        "a path the batch already copied is not copied again"
    );
    assert!(b.remove(&ip4(10, 0, 40, 1), 32, &40).unwrap());
    assert!(
        b.replaced() > one,
        "a removal copies the shared nodes on its path"
    );
    b.clear();
    assert_eq!(b.replaced(), usize::MAX);
}
