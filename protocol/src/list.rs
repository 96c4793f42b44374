//! Sequences decoded without trusting their announced length.
//!
//! A bincode sequence starts with its length, and serde's `Vec` decoding reserves room for that many
//! elements up front (capped at 1 MiB). In a frame from a less trusted peer the length is attacker-chosen:
//! a 24-byte request could make the broker, or the launcher, reserve 1 MiB — sixteen times the request frame
//! limit. Every list in a request type is therefore decoded with [`deserialize`] (or [`optional`]), which
//! grows the vector only as elements actually arrive: memory follows the bytes that are really in the frame,
//! and a length that the frame cannot back fails at its end, having cost nothing.

use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};
use std::fmt;
use std::marker::PhantomData;

struct ListVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        // No `with_capacity(seq.size_hint())`: the hint is the peer's claim, not the frame's content.
        let mut out = Vec::new();
        while let Some(item) = seq.next_element()? {
            out.push(item);
        }
        Ok(out)
    }
}

/// A `Vec<T>` (`#[serde(deserialize_with = "crate::list::deserialize")]`).
pub fn deserialize<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    d.deserialize_seq(ListVisitor(PhantomData))
}

struct OptionVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for OptionVisitor<T> {
    type Value = Option<Vec<T>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an optional sequence")
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        deserialize(d).map(Some)
    }
}

/// An `Option<Vec<T>>` (`#[serde(default, deserialize_with = "crate::list::optional")]`).
pub fn optional<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    d.deserialize_option(OptionVisitor(PhantomData))
}

#[cfg(test)]
mod tests {
    use crate::frame;
    use crate::launcher::{Invocation, LauncherRequest};
    use crate::{PackageName, frame::MAX_REQUEST_FRAME};

    #[test]
    fn lists_round_trip_and_a_length_the_frame_cannot_back_is_refused() {
        let req = LauncherRequest::Exec {
            id: 7,
            invocation: Invocation::DnfUpgrade {
                names: vec![PackageName::new("hello").unwrap()],
            },
        };
        let bytes = frame::encode(&req, MAX_REQUEST_FRAME).unwrap();
        let back: LauncherRequest = frame::decode(&bytes, MAX_REQUEST_FRAME).unwrap();
        assert_eq!(back, req);
        // The list's length (1, a u64 right before the name's own length) claims 2^40 elements.
        let at = bytes
            .windows(8)
            .position(|w| w == 1u64.to_le_bytes())
            .expect("the list length");
        let mut hostile = bytes.clone();
        hostile[at..at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(frame::decode::<LauncherRequest>(&hostile, MAX_REQUEST_FRAME).is_err());
    }
}
