//! WireGuard keys: base64 text form, generation and public-key derivation.
//!
//! The base64 codec works on whole 32-byte keys only (44 characters ending in a single
//! `=`) and avoids branches and table lookups on key material, like wireguard-tools.

use std::fmt;

use crate::uapi::WG_KEY_LEN;

/// Length of the base64 text of a key.
pub const KEY_BASE64_LEN: usize = 44;

/// A 32-byte key (private, public or preshared).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Key(pub [u8; WG_KEY_LEN]);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({})", self.to_base64())
    }
}

/// Maps a 6-bit value to its base64 character without data-dependent branches.
fn encode6(v: u8) -> u8 {
    let v = i32::from(v);
    // Start at 'A' and shift by the distance between alphabet ranges once `v` passes
    // each boundary; `(x - v) >> 8` is all ones exactly when v > x.
    let c = v + i32::from(b'A') + (((25 - v) >> 8) & 6)
        - (((51 - v) >> 8) & 75)
        - (((61 - v) >> 8) & 15)
        + (((62 - v) >> 8) & 3);
    c as u8
}

/// Maps a base64 character to its 6-bit value, or -1, without data-dependent branches.
fn decode6(c: u8) -> i32 {
    let c = i32::from(c);
    // Each term is the value of `c` if it lies in the range, else zero; `in_range` is
    // all ones when lo <= c <= hi.
    let in_range = |lo: i32, hi: i32| (((lo - 1) - c) & (c - (hi + 1))) >> 8;
    -1 + (in_range(b'A'.into(), b'Z'.into()) & (c - 64))
        + (in_range(b'a'.into(), b'z'.into()) & (c - 70))
        + (in_range(b'0'.into(), b'9'.into()) & (c + 5))
        + (in_range(b'+'.into(), b'+'.into()) & 63)
        + (in_range(b'/'.into(), b'/'.into()) & 64)
}

impl Key {
    /// The all-zero key, which the kernel treats as "no key".
    pub const ZERO: Key = Key([0; WG_KEY_LEN]);

    /// Returns true if all bytes are zero, in constant time.
    pub fn is_zero(&self) -> bool {
        let acc = self.0.iter().fold(0u8, |acc, b| acc | b);
        std::hint::black_box(acc) == 0
    }

    /// Encodes the key as 44 characters of standard padded base64.
    pub fn to_base64(&self) -> String {
        let mut out = Vec::with_capacity(KEY_BASE64_LEN);
        for chunk in self.0.chunks(3) {
            let b0 = chunk[0];
            let b1 = chunk.get(1).copied().unwrap_or(0);
            let b2 = chunk.get(2).copied().unwrap_or(0);
            out.push(encode6(b0 >> 2));
            out.push(encode6(((b0 << 4) | (b1 >> 4)) & 63));
            out.push(encode6(((b1 << 2) | (b2 >> 6)) & 63));
            out.push(encode6(b2 & 63));
        }
        // 32 = 10 * 3 + 2: the last group carries two bytes, so one '=' of padding.
        out[KEY_BASE64_LEN - 1] = b'=';
        // Every byte pushed is ASCII from the base64 alphabet.
        out.into_iter().map(char::from).collect()
    }

    /// Decodes 44 characters of canonical base64 (the unused low bits must be zero).
    pub fn from_base64(s: &str) -> Option<Key> {
        let b = s.as_bytes();
        if b.len() != KEY_BASE64_LEN || b[KEY_BASE64_LEN - 1] != b'=' {
            return None;
        }
        let mut key = [0u8; WG_KEY_LEN];
        let mut bad: u32 = 0;
        for i in 0..11 {
            let quad = [
                b[i * 4],
                b[i * 4 + 1],
                b[i * 4 + 2],
                if i == 10 { b'A' } else { b[i * 4 + 3] },
            ];
            let mut val: i32 = 0;
            for (j, &c) in quad.iter().enumerate() {
                val |= decode6(c) << (18 - 6 * j as i32);
            }
            bad |= (val as u32) >> 31;
            let bytes = [(val >> 16) as u8, (val >> 8) as u8, val as u8];
            if i == 10 {
                // Canonical form: the bits below the second byte must be zero.
                bad |= u32::from(bytes[2]);
                key[30] = bytes[0];
                key[31] = bytes[1];
            } else {
                key[i * 3..i * 3 + 3].copy_from_slice(&bytes);
            }
        }
        if std::hint::black_box(bad) == 0 {
            Some(Key(key))
        } else {
            None
        }
    }

    /// Applies the Curve25519 scalar clamping to a private key.
    pub fn clamp(mut self) -> Key {
        self.0[0] &= 248;
        self.0[31] = (self.0[31] & 127) | 64;
        self
    }

    /// Derives the public key of a private key.
    pub fn public(&self) -> Key {
        Key(x25519_dalek::x25519(
            self.0,
            x25519_dalek::X25519_BASEPOINT_BYTES,
        ))
    }

    /// Generates 32 random bytes from the kernel's CSPRNG.
    pub fn random() -> std::io::Result<Key> {
        let mut key = [0u8; WG_KEY_LEN];
        let mut filled = 0;
        while filled < WG_KEY_LEN {
            // SAFETY: the pointer and length describe the unfilled tail of `key`.
            let n = unsafe {
                libc::getrandom(key[filled..].as_mut_ptr().cast(), WG_KEY_LEN - filled, 0)
            };
            if n < 0 {
                let err = std::io::Error::last_os_error();
                if err.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err);
            }
            filled += n as usize;
        }
        Ok(Key(key))
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

/// Whitespace as wireguard-tools' `char_is_space`: space, \t, \n, \v, \f, \r.
pub fn is_space(c: u8) -> bool {
    c == b' ' || (9..=13).contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip_all_byte_values() {
        for seed in 0u8..=255 {
            let mut k = [0u8; 32];
            for (i, b) in k.iter_mut().enumerate() {
                *b = seed.wrapping_mul(31).wrapping_add(i as u8 * 7);
            }
            let key = Key(k);
            let text = key.to_base64();
            assert_eq!(text.len(), 44);
            assert_eq!(Key::from_base64(&text), Some(key));
        }
    }

    #[test]
    fn base64_known_vectors() {
        assert_eq!(
            Key::ZERO.to_base64(),
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        );
        assert_eq!(
            Key([0xff; 32]).to_base64(),
            "//////////////////////////////////////////8="
        );
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            *b = i as u8;
        }
        assert_eq!(
            Key(k).to_base64(),
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
        );
    }

    #[test]
    fn base64_rejects_bad_input() {
        let good = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        assert!(Key::from_base64(good).is_some());
        for bad in [
            "",
            "xyz",
            &good[..43],
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8==",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=", // non-canonical low bits
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd*h8=",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd h8=",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\u{e9}8=",
        ] {
            assert_eq!(Key::from_base64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn public_key_rfc7748_vector() {
        // RFC 7748 section 6.1, Alice's key pair.
        let mut sk = [0u8; 32];
        let hex = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
        for (i, b) in sk.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).unwrap();
        }
        let pk = Key(sk).public();
        let want = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
        let got: String = pk.0.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn public_key_matches_wg_pubkey() {
        // Pair produced by /usr/bin/wg genkey | wg pubkey.
        let sk = Key::from_base64("yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=").unwrap();
        assert_eq!(
            sk.public().to_base64(),
            "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw="
        );
    }

    #[test]
    fn clamp_and_random() {
        let k = Key::random().unwrap().clamp();
        assert_eq!(k.0[0] & 7, 0);
        assert_eq!(k.0[31] & 0xc0, 0x40);
        assert!(!Key::random().unwrap().is_zero());
        assert!(Key::ZERO.is_zero());
    }
}
