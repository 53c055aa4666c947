//! Hex, as tokens, digests and signatures are written in text: two lower-case digits a
//! byte. Ten lines, not a crate.

/// `bytes` in lower-case hex.
pub fn encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes `text` spells in hex (either case); `None` for an odd length or a character
/// that is not a hex digit.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u32> = text
        .chars()
        .map(|c| c.to_digit(16))
        .collect::<Option<_>>()?;
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| u8::try_from(pair[0] * 16 + pair[1]).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_reads_what_encode_writes_and_nothing_else() {
        let bytes = [0u8, 1, 0x7f, 0x80, 0xff];
        assert_eq!(encode(&bytes), "00017f80ff");
        assert_eq!(decode("00017f80FF"), Some(bytes.to_vec()));
        assert_eq!(decode(""), Some(Vec::new()));
        for bad in ["0", "0g", "+f", "é0", "0 1"] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }
}
