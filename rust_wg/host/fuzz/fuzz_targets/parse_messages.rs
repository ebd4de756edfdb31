// SPDX-License-Identifier: GPL-2.0

//! Every parser on arbitrary bytes: no panics, and parse-then-emit reproduces the input exactly.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rust_wg_proto::messages::*;

fuzz_target!(|data: &[u8]| {
    let ty = classify(data);
    let mut out = vec![0u8; data.len().max(16)];
    if let Ok(m) = Initiation::parse(data) {
        assert_eq!(ty, Some(MESSAGE_HANDSHAKE_INITIATION));
        m.emit(&mut out).unwrap();
        assert_eq!(&out[..INITIATION_LEN], data);
    }
    if let Ok(m) = Response::parse(data) {
        assert_eq!(ty, Some(MESSAGE_HANDSHAKE_RESPONSE));
        m.emit(&mut out).unwrap();
        assert_eq!(&out[..RESPONSE_LEN], data);
    }
    if let Ok(m) = CookieReply::parse(data) {
        assert_eq!(ty, Some(MESSAGE_HANDSHAKE_COOKIE));
        m.emit(&mut out).unwrap();
        assert_eq!(&out[..COOKIE_REPLY_LEN], data);
    }
    if let Ok((h, rest)) = DataHeader::parse(data) {
        assert_eq!(ty, Some(MESSAGE_DATA));
        assert_eq!(rest.len() + DATA_HEADER_LEN, data.len());
        h.emit(&mut out).unwrap();
        assert_eq!(&out[..DATA_HEADER_LEN], &data[..DATA_HEADER_LEN]);
    }
    let _ = mac1_parts(data);
    let _ = mac2_parts(data);
    if data.len() >= 4 {
        let n = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
        let p = padding_len(n, data.len());
        assert!(p < MESSAGE_PADDING_MULTIPLE);
    }
});
