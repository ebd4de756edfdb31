// SPDX-License-Identifier: GPL-2.0

//! Known-answer tests for every primitive as the protocol uses it, through the `Crypto` trait, plus the proto
//! HMAC-BLAKE2s and HKDF code against the `hmac` crate and independently computed values.

mod common;

use common::{hex, hex32, Rng, C};
use rust_wg_proto::crypto::{hmac, kdf, Crypto};

const SUNSCREEN: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";

// RFC 7748 section 5.2.
#[test]
fn x25519_rfc7748_vector1() {
    let mut out = [0; 32];
    C::curve25519(
        &mut out,
        &hex32("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
        &hex32("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"),
    )
    .unwrap();
    assert_eq!(
        out,
        hex32("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552")
    );
}

#[test]
fn x25519_rfc7748_vector2() {
    let mut out = [0; 32];
    C::curve25519(
        &mut out,
        &hex32("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
        &hex32("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"),
    )
    .unwrap();
    assert_eq!(
        out,
        hex32("95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957")
    );
}

// RFC 7748 section 5.2, iterated: after 1 and 1000 iterations.
#[test]
fn x25519_rfc7748_iterated() {
    let mut k = [0u8; 32];
    k[0] = 9;
    let mut u = k;
    for i in 1..=1000 {
        let mut r = [0; 32];
        C::curve25519(&mut r, &k, &u).unwrap();
        u = k;
        k = r;
        if i == 1 {
            assert_eq!(
                k,
                hex32("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079")
            );
        }
    }
    assert_eq!(
        k,
        hex32("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51")
    );
}

// RFC 7748 section 6.1.
#[test]
fn x25519_rfc7748_diffie_hellman() {
    let a = hex32("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    let b = hex32("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    let (mut pa, mut pb, mut s1, mut s2) = ([0; 32], [0; 32], [0; 32], [0; 32]);
    C::curve25519_generate_public(&mut pa, &a).unwrap();
    C::curve25519_generate_public(&mut pb, &b).unwrap();
    assert_eq!(
        pa,
        hex32("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    );
    assert_eq!(
        pb,
        hex32("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    );
    C::curve25519(&mut s1, &a, &pb).unwrap();
    C::curve25519(&mut s2, &b, &pa).unwrap();
    let shared = hex32("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    assert_eq!(s1, shared);
    assert_eq!(s2, shared);
}

// Points of small order (and their non-canonical encodings) give an all-zero result, which must be refused.
const LOW_ORDER: [&str; 7] = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
];

macro_rules! low_order_tests {
    ($($name:ident: $i:expr,)*) => {$(
        #[test]
        fn $name() {
            let mut rng = Rng($i as u64);
            for _ in 0..4 {
                let mut out = [0xaa; 32];
                let secret = rng.bytes::<32>();
                assert!(C::curve25519(&mut out, &secret, &hex32(LOW_ORDER[$i])).is_err());
                assert_eq!(out, [0; 32]);
            }
        }
    )*};
}

low_order_tests! {
    x25519_low_order_0: 0,
    x25519_low_order_1: 1,
    x25519_low_order_2: 2,
    x25519_low_order_3: 3,
    x25519_low_order_4: 4,
    x25519_low_order_5: 5,
    x25519_low_order_6: 6,
}

// RFC 8439 appendix A.5 (its nonce has four zero bytes first, the shape WireGuard uses).
#[test]
fn chacha20poly1305_rfc8439_a5() {
    let key = hex32("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0");
    let ad = hex("f33388860000000000004e91");
    let nonce = u64::from_le_bytes([1, 2, 3, 4, 5, 6, 7, 8]);
    let ct = hex(
        "64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb24c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c8559797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523eaf4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a1049e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29a6ad5cb4022b02709b\
         eead9d67890cbb22392336fea1851f38",
    );
    let mut pt = vec![0; ct.len() - 16];
    C::chacha20poly1305_decrypt(&mut pt, &ct, &ad, nonce, &key).unwrap();
    assert!(
        pt.starts_with(b"Internet-Drafts are draft documents valid for a maximum of six months")
    );
    let mut again = vec![0; ct.len()];
    C::chacha20poly1305_encrypt(&mut again, &pt, &ad, nonce, &key).unwrap();
    assert_eq!(again, ct);
    // Any flipped bit must fail authentication.
    for bit in [0usize, 7, 100, 8 * (ct.len() - 1)] {
        let mut bad = ct.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert!(C::chacha20poly1305_decrypt(&mut pt, &bad, &ad, nonce, &key).is_err());
    }
    assert!(C::chacha20poly1305_decrypt(&mut pt, &ct, &ad, nonce + 1, &key).is_err());
    assert!(C::chacha20poly1305_decrypt(&mut pt, &ct, b"", nonce, &key).is_err());
}

// RFC 8439 section 2.8.2 through the underlying AEAD (its nonce prefix is not zero, so not reachable via the u64
// nonce API): checks the host dependency is the right primitive.
#[test]
fn chacha20poly1305_rfc8439_282_underlying() {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    let key = hex32("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    let nonce = hex("070000004041424344454647");
    let ad = hex("50515253c0c1c2c3c4c5c6c7");
    let ct = chacha20poly1305::ChaCha20Poly1305::new(&key.into())
        .encrypt(
            nonce.as_slice().into(),
            Payload {
                msg: SUNSCREEN,
                aad: &ad,
            },
        )
        .unwrap();
    assert_eq!(
        ct,
        hex("d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b61161ae10b594f09e26a7e902ecbd0600691")
    );
}

#[test]
fn chacha20poly1305_empty_and_lengths() {
    let key = [7; 32];
    let mut tag = [0; 16];
    C::chacha20poly1305_encrypt(&mut tag, &[], &[1, 2, 3], 0, &key).unwrap();
    C::chacha20poly1305_decrypt(&mut [], &tag, &[1, 2, 3], 0, &key).unwrap();
    assert!(C::chacha20poly1305_encrypt(&mut [0; 15], &[], &[], 0, &key).is_err());
    assert!(C::chacha20poly1305_decrypt(&mut [], &[0; 15], &[], 0, &key).is_err());
    assert!(C::chacha20poly1305_decrypt(&mut [0; 2], &tag, &[], 0, &key).is_err());
}

// draft-irtf-cfrg-xchacha-03 appendix A.3.1.
#[test]
fn xchacha20poly1305_draft_a31() {
    let key = hex32("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    let nonce: [u8; 24] = hex("404142434445464748494a4b4c4d4e4f5051525354555657")
        .try_into()
        .unwrap();
    let ad = hex("50515253c0c1c2c3c4c5c6c7");
    let expect = hex(
        "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e\
         c0875924c1c7987947deafd8780acf49",
    );
    let mut ct = vec![0; SUNSCREEN.len() + 16];
    C::xchacha20poly1305_encrypt(&mut ct, SUNSCREEN, &ad, &nonce, &key).unwrap();
    assert_eq!(ct, expect);
    let mut pt = vec![0; SUNSCREEN.len()];
    C::xchacha20poly1305_decrypt(&mut pt, &ct, &ad, &nonce, &key).unwrap();
    assert_eq!(pt, SUNSCREEN);
    ct[3] ^= 0x80;
    assert!(C::xchacha20poly1305_decrypt(&mut pt, &ct, &ad, &nonce, &key).is_err());
}

fn b2(out_len: usize, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![0; out_len];
    C::blake2s(&mut out, key, parts).unwrap();
    out
}

// BLAKE2s known answers (RFC 7693 appendix B for "abc"; the reference blake2s-kat.txt for keyed ones).
#[test]
fn blake2s_unkeyed_32() {
    assert_eq!(
        b2(32, &[], &[b"abc"]),
        hex("508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982")
    );
    assert_eq!(
        b2(32, &[], &[]),
        hex("69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9")
    );
    // Several input slices hash as their concatenation.
    assert_eq!(b2(32, &[], &[b"a", b"", b"bc"]), b2(32, &[], &[b"abc"]));
}

#[test]
fn blake2s_unkeyed_16() {
    assert_eq!(
        b2(16, &[], &[b"abc"]),
        hex("aa4938119b1dc7b87cbad0ffd200d0ae")
    );
}

#[test]
fn blake2s_keyed_32() {
    let key: Vec<u8> = (0..32).collect();
    assert_eq!(
        b2(32, &key, &[]),
        hex("48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49")
    );
    assert_eq!(
        b2(32, &key, &[&[0]]),
        hex("40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1")
    );
    let input: Vec<u8> = (0..64).collect();
    assert_eq!(
        b2(32, &key, &[&input[..10], &input[10..]]),
        hex("8975b0577fd35566d750b362b0897a26c399136df07bababbde6203ff2954ed4")
    );
}

#[test]
fn blake2s_keyed_16() {
    let key: Vec<u8> = (0..32).collect();
    assert_eq!(
        b2(16, &key, &[b"abc"]),
        hex("61ba5f165c194692e09d12520cc4c74a")
    );
}

#[test]
fn blake2s_bad_lengths() {
    assert!(C::blake2s(&mut [], &[], &[]).is_err());
    assert!(C::blake2s(&mut [0; 33], &[], &[]).is_err());
    assert!(C::blake2s(&mut [0; 32], &[0; 33], &[]).is_err());
}

// HMAC-BLAKE2s values computed with an independent implementation (CPython's hmac over hashlib.blake2s).
#[test]
fn hmac_blake2s_known_answers() {
    let cases: [(&[u8], &[u8], &str); 4] = [
        (
            &[0; 32],
            b"",
            "eaf4bb25938f4d20e72656bbbc7a9bf63c0c18537333c35bdb67db1402661acd",
        ),
        (
            &hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
            b"WireGuard",
            "5415924543576b3f5ee867c94e1aab70586d33b32fae3fccd2c635b3e1d7198d",
        ),
        (
            &[0x0b; 20],
            b"Hi There",
            "65a8b7c5cc9136d424e82c37e2707e74e913c0655b99c75f40edf387453a3260",
        ),
        (
            b"Jefe",
            b"what do ya want for nothing?",
            "90b6281e2f3038c9056af0b4a7e763cae6fe5d9eb4386a0ec95237890c104ff0",
        ),
    ];
    for (key, msg, expect) in cases {
        assert_eq!(
            hmac::<C>(key, &[msg]).unwrap().as_bytes().to_vec(),
            hex(expect)
        );
    }
}

fn reference_hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    use hmac::{Mac, SimpleHmac};
    let mut m = SimpleHmac::<blake2::Blake2s256>::new_from_slice(key).unwrap();
    m.update(msg);
    m.finalize().into_bytes().into()
}

#[test]
fn hmac_blake2s_matches_hmac_crate() {
    let mut rng = Rng(42);
    for len in 0..200 {
        let key = rng.bytes::<32>();
        let klen = rng.below(65) as usize;
        let mut msg = vec![0; len];
        rng.fill(&mut msg);
        let split = rng.below(len as u64 + 1) as usize;
        let ours = hmac::<C>(&key[..klen.min(32)], &[&msg[..split], &msg[split..]]).unwrap();
        assert_eq!(*ours.as_bytes(), reference_hmac(&key[..klen.min(32)], &msg));
    }
}

#[test]
fn hmac_refuses_long_keys() {
    assert!(hmac::<C>(&[0; 65], &[]).is_err());
    assert!(hmac::<C>(&[0; 64], &[]).is_ok());
}

// HKDF as Noise defines it: T1 = HMAC(secret, 1), Ti = HMAC(secret, T(i-1) || i), secret = HMAC(ck, input).
#[test]
fn kdf_matches_reference_hkdf() {
    let mut rng = Rng(7);
    for _ in 0..50 {
        let ck = rng.bytes::<32>();
        let input = rng.bytes::<32>();
        let secret = reference_hmac(&ck, &input);
        let t1 = reference_hmac(&secret, &[1]);
        let t2 = reference_hmac(&secret, &[&t1[..], &[2]].concat());
        let t3 = reference_hmac(&secret, &[&t2[..], &[3]].concat());
        let out = kdf::<C>(&ck, &input, 3).unwrap();
        assert_eq!(*out.t1.as_bytes(), t1);
        assert_eq!(*out.t2.as_bytes(), t2);
        assert_eq!(*out.t3.as_bytes(), t3);
        let one = kdf::<C>(&ck, &input, 1).unwrap();
        assert_eq!(*one.t1.as_bytes(), t1);
        assert_eq!(*one.t2.as_bytes(), [0; 32]);
    }
}

#[test]
fn kdf_against_independent_hkdf() {
    // HKDF-Expand with HMAC-BLAKE2s over empty info equals the Noise KDF's outputs: check with the hkdf-less
    // construction from the hmac crate for an empty input, as begin_session uses it.
    let ck = [0x42; 32];
    let secret = reference_hmac(&ck, &[]);
    let out = kdf::<C>(&ck, &[], 2).unwrap();
    assert_eq!(*out.t1.as_bytes(), reference_hmac(&secret, &[1]));
}

#[test]
fn memneq_and_memzero() {
    assert!(!C::memneq(b"abc", b"abc"));
    assert!(C::memneq(b"abc", b"abd"));
    assert!(C::memneq(b"abc", b"ab"));
    let mut buf = [9u8; 40];
    C::memzero_explicit(&mut buf);
    assert_eq!(buf, [0; 40]);
}

#[test]
fn secret_zeroes_and_compares() {
    use rust_wg_proto::crypto::Secret;
    let mut s = Secret::<C, 32>::new([1; 32]);
    assert!(!s.is_zero());
    let d = s.duplicate();
    s.clear();
    assert!(s.is_zero());
    assert_eq!(*d.as_bytes(), [1; 32]);
}
