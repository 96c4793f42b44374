//! Certificate serial numbers.

use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};

use crate::PkiError;

/// Length of generated serials. RFC 5280 allows up to 20 octets; 16 random octets make collisions irrelevant.
const GENERATED_LEN: usize = 16;
/// The longest serial RFC 5280 allows.
const MAX_LEN: usize = 20;

/// A certificate serial number: the big-endian bytes of a positive integer.
///
/// Displayed (and parsed) as lowercase hex without separators, e.g. `4f0a…`; [`Serial::from_hex`] also accepts
/// the colon-separated form that `openssl` and x509-parser print.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Serial(Vec<u8>);

impl Serial {
    /// A fresh random serial: 16 bytes, positive (top bit clear) and without a leading zero byte, so its DER
    /// encoding is exactly 16 bytes long.
    pub fn random() -> Result<Self, PkiError> {
        let mut bytes = [0u8; GENERATED_LEN];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| PkiError::Random)?;
        bytes[0] = (bytes[0] & 0x7f) | 0x01;
        Ok(Self(bytes.to_vec()))
    }

    /// Parses lowercase or uppercase hex, with or without `:` separators.
    pub fn from_hex(text: &str) -> Result<Self, PkiError> {
        let bad = || PkiError::BadSerial(text.to_owned());
        let digits: Vec<u8> = text.bytes().filter(|b| *b != b':').collect();
        if digits.is_empty() || !digits.len().is_multiple_of(2) || digits.len() / 2 > MAX_LEN {
            return Err(bad());
        }
        let mut bytes = Vec::with_capacity(digits.len() / 2);
        for pair in digits.chunks(2) {
            let high = hex_value(pair[0]).ok_or_else(bad)?;
            let low = hex_value(pair[1]).ok_or_else(bad)?;
            bytes.push(high << 4 | low);
        }
        Ok(Self(bytes))
    }

    /// A serial from the big-endian bytes a certificate carries (a leading zero byte, which DER adds to keep a
    /// number positive, is dropped so that the same number always compares equal).
    pub fn from_be_bytes(bytes: &[u8]) -> Result<Self, PkiError> {
        let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        if trimmed.is_empty() || trimmed.len() > MAX_LEN {
            return Err(PkiError::BadSerial(format!("{bytes:02x?}")));
        }
        Ok(Self(trimmed))
    }

    /// The big-endian bytes, as they appear in the certificate.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Lowercase hex without separators (the same text as `Display`).
    pub fn to_hex(&self) -> String {
        self.to_string()
    }

    pub(crate) fn to_rcgen(&self) -> rcgen::SerialNumber {
        rcgen::SerialNumber::from_slice(&self.0)
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|v| u8::try_from(v).ok())
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in &self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Serial({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_serials_differ_and_are_positive() {
        let a = Serial::random().unwrap();
        let b = Serial::random().unwrap();
        assert_ne!(a, b);
        for s in [&a, &b] {
            assert_eq!(s.as_bytes().len(), GENERATED_LEN);
            assert!(s.as_bytes()[0] & 0x80 == 0 && s.as_bytes()[0] != 0);
        }
    }

    #[test]
    fn hex_round_trips_and_accepts_colons_and_uppercase() {
        let s = Serial::random().unwrap();
        assert_eq!(Serial::from_hex(&s.to_hex()).unwrap(), s);
        assert_eq!(Serial::from_hex("0A:1b").unwrap().to_hex(), "0a1b");
    }

    #[test]
    fn malformed_hex_is_refused() {
        for text in ["", "abc", "zz", "0x12", &"00".repeat(21)] {
            assert!(
                matches!(Serial::from_hex(text), Err(PkiError::BadSerial(_))),
                "{text}"
            );
        }
    }
}
