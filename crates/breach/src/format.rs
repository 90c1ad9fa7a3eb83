//! The on-disk layout (all integers little-endian).
//!
//! ```text
//! offset  size  field
//! 0       8     magic "GHBREACH"
//! 8       4     format version (1)
//! 12      4     header length (512)
//! 16      8     key count (unique 64-bit keys)
//! 24      8     built at (Unix seconds)
//! 32      8     body length (bytes after the header)
//! 40      8     XXH3-64 of the body
//! 48      4     filter partition bits p (2^p filter partitions, chosen by the top p key bits)
//! 52      4     exact tier: high bits h (2^h buckets)
//! 56      4     exact tier: entry bits (64 - h low key bits + 4 count bits)
//! 60      4     reserved (0)
//! 64      80    five sections, (offset u64, length u64) each, offsets from file start:
//!               0 filter partition table (32 bytes per partition)
//!               1 filter fingerprints (u16)
//!               2 exact-tier bucket samples (u64 per 256 buckets, plus one)
//!               3 exact-tier bucket bits (u64 words, unary bucket sizes)
//!               4 exact-tier entries (bit-packed, 16 bytes of padding at the end)
//! 144     2     source description length (≤ 350)
//! 146     350   source description (UTF-8)
//! 496     8     reserved (0)
//! 504     8     XXH3-64 of bytes 0..504
//! ```
//!
//! Every section starts at a multiple of 64 bytes, so the mmapped file can be viewed
//! as `&[u16]` and `&[u64]` in place.

/// File magic.
pub const MAGIC: [u8; 8] = *b"GHBREACH";
/// Format version written and read by this crate.
pub const VERSION: u32 = 1;
/// Header length; the body starts here.
pub const HEADER_LEN: usize = 512;
/// Maximum source-description length in bytes.
pub const MAX_SOURCE_LEN: usize = 350;
/// Section alignment.
pub const ALIGN: u64 = 64;
/// Bytes per filter partition table entry.
pub const PARTITION_ENTRY_LEN: usize = 32;
/// Buckets per exact-tier sample.
pub const SAMPLE_EVERY: u64 = 256;
/// Padding after the entry section, so an unaligned 16-byte read never runs off.
pub const ENTRY_PAD: u64 = 16;

/// Section numbers.
pub mod section {
    /// Filter partition table.
    pub const PARTITIONS: usize = 0;
    /// Filter fingerprints.
    pub const FINGERPRINTS: usize = 1;
    /// Exact-tier samples.
    pub const SAMPLES: usize = 2;
    /// Exact-tier bucket bits.
    pub const UPPER: usize = 3;
    /// Exact-tier entries.
    pub const ENTRIES: usize = 4;
    /// How many.
    pub const COUNT: usize = 5;
}

/// The decoded header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Format version.
    pub version: u32,
    /// Unique keys.
    pub key_count: u64,
    /// Unix seconds.
    pub built_at: u64,
    /// Body length.
    pub body_len: u64,
    /// XXH3-64 of the body.
    pub body_hash: u64,
    /// Filter partition bits.
    pub partition_bits: u32,
    /// Exact-tier high bits.
    pub high_bits: u32,
    /// Exact-tier entry width in bits.
    pub entry_bits: u32,
    /// (offset, length) per section.
    pub sections: [(u64, u64); section::COUNT],
    /// Source description.
    pub source: String,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Cuts a description to at most [`MAX_SOURCE_LEN`] bytes on a character boundary.
pub fn clip_source(s: &str) -> &str {
    let mut end = s.len().min(MAX_SOURCE_LEN);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Header {
    /// Encodes the header.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..8].copy_from_slice(&MAGIC);
        b[8..12].copy_from_slice(&self.version.to_le_bytes());
        b[12..16].copy_from_slice(&(HEADER_LEN as u32).to_le_bytes());
        b[16..24].copy_from_slice(&self.key_count.to_le_bytes());
        b[24..32].copy_from_slice(&self.built_at.to_le_bytes());
        b[32..40].copy_from_slice(&self.body_len.to_le_bytes());
        b[40..48].copy_from_slice(&self.body_hash.to_le_bytes());
        b[48..52].copy_from_slice(&self.partition_bits.to_le_bytes());
        b[52..56].copy_from_slice(&self.high_bits.to_le_bytes());
        b[56..60].copy_from_slice(&self.entry_bits.to_le_bytes());
        for (i, (off, len)) in self.sections.iter().enumerate() {
            let at = 64 + 16 * i;
            b[at..at + 8].copy_from_slice(&off.to_le_bytes());
            b[at + 8..at + 16].copy_from_slice(&len.to_le_bytes());
        }
        let src = clip_source(&self.source).as_bytes();
        b[144..146].copy_from_slice(&(src.len() as u16).to_le_bytes());
        b[146..146 + src.len()].copy_from_slice(src);
        let h = xxhash_rust::xxh3::xxh3_64(&b[..504]);
        b[504..512].copy_from_slice(&h.to_le_bytes());
        b
    }

    /// Decodes and checks a header (magic, version, its own checksum).
    pub fn decode(b: &[u8]) -> Result<Header, String> {
        if b.len() < HEADER_LEN {
            return Err(format!("{} bytes: too short for a header", b.len()));
        }
        if b[0..8] != MAGIC {
            return Err("wrong magic (not a Gatehouse breach index)".into());
        }
        let version = u32_at(b, 8);
        if version != VERSION {
            return Err(format!(
                "format version {version}; this build reads version {VERSION} (re-import)"
            ));
        }
        if u32_at(b, 12) as usize != HEADER_LEN {
            return Err("unexpected header length".into());
        }
        if xxhash_rust::xxh3::xxh3_64(&b[..504]) != u64_at(b, 504) {
            return Err("header checksum mismatch".into());
        }
        let mut sections = [(0u64, 0u64); section::COUNT];
        for (i, s) in sections.iter_mut().enumerate() {
            *s = (u64_at(b, 64 + 16 * i), u64_at(b, 72 + 16 * i));
        }
        let src_len = usize::from(u16::from_le_bytes([b[144], b[145]]));
        if src_len > MAX_SOURCE_LEN {
            return Err("source description too long".into());
        }
        let source = std::str::from_utf8(&b[146..146 + src_len])
            .map_err(|_| "source description is not UTF-8".to_string())?
            .to_string();
        Ok(Header {
            version,
            key_count: u64_at(b, 16),
            built_at: u64_at(b, 24),
            body_len: u64_at(b, 32),
            body_hash: u64_at(b, 40),
            partition_bits: u32_at(b, 48),
            high_bits: u32_at(b, 52),
            entry_bits: u32_at(b, 56),
            sections,
            source,
        })
    }
}

/// One filter partition's parameters, as stored in the partition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PartitionEntry {
    /// Hash seed.
    pub seed: u64,
    /// Segment length (a power of two).
    pub segment_length: u32,
    /// `segment_length - 1`.
    pub segment_length_mask: u32,
    /// Segment count × segment length; 0 marks an empty partition.
    pub segment_count_length: u32,
    /// First fingerprint of this partition, as an index into the fingerprint section.
    pub fp_start: u64,
    /// Number of fingerprints.
    pub fp_len: u32,
}

impl PartitionEntry {
    /// Encodes the entry.
    pub fn encode(&self) -> [u8; PARTITION_ENTRY_LEN] {
        let mut b = [0u8; PARTITION_ENTRY_LEN];
        b[0..8].copy_from_slice(&self.seed.to_le_bytes());
        b[8..12].copy_from_slice(&self.segment_length.to_le_bytes());
        b[12..16].copy_from_slice(&self.segment_length_mask.to_le_bytes());
        b[16..20].copy_from_slice(&self.segment_count_length.to_le_bytes());
        b[20..24].copy_from_slice(&self.fp_len.to_le_bytes());
        b[24..32].copy_from_slice(&self.fp_start.to_le_bytes());
        b
    }

    /// Decodes an entry.
    pub fn decode(b: &[u8]) -> PartitionEntry {
        PartitionEntry {
            seed: u64_at(b, 0),
            segment_length: u32_at(b, 8),
            segment_length_mask: u32_at(b, 12),
            segment_count_length: u32_at(b, 16),
            fp_len: u32_at(b, 20),
            fp_start: u64_at(b, 24),
        }
    }
}

/// Rounds up to the section alignment.
pub fn align_up(x: u64) -> u64 {
    x.div_ceil(ALIGN) * ALIGN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_detects_damage() {
        let h = Header {
            version: VERSION,
            key_count: 42,
            built_at: 1_700_000_000,
            body_len: 4096,
            body_hash: 7,
            partition_bits: 2,
            high_bits: 5,
            entry_bits: 63,
            sections: [(512, 128), (640, 64), (704, 8), (768, 16), (832, 64)],
            source: "pwned-passwords-sha1 v9 ✓".into(),
        };
        let mut b = h.encode();
        assert_eq!(Header::decode(&b).unwrap(), h);
        b[20] ^= 1;
        assert!(Header::decode(&b).unwrap_err().contains("checksum"));
        let mut b = h.encode();
        b[8] = 9;
        assert!(Header::decode(&b).unwrap_err().contains("version"));
        assert!(Header::decode(b"GHBREACH").is_err());
    }

    #[test]
    fn source_is_clipped_on_a_char_boundary() {
        let s = "é".repeat(400);
        let c = clip_source(&s);
        assert!(c.len() <= MAX_SOURCE_LEN && c.len().is_multiple_of(2));
    }
}
