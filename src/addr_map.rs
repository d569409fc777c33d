//! Hash maps keyed by addresses (of objects, types, heaps).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Hashes an address: addresses are 16-byte aligned and not chosen by an
/// adversary, so a multiplication spreads them well, several times faster than
/// the default SipHash.
#[derive(Default)]
pub(crate) struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = ((n as u64) >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A map from addresses to `V`.
pub(crate) type AddrMap<V> = HashMap<usize, V, BuildHasherDefault<AddressHasher>>;
