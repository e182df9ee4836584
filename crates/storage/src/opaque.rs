//! The per-page special area shared by all index kinds of the extension.

use bytemuck::{Pod, Zeroable};

use crate::{BlockNumber, INVALID_BLOCK};

/// Contents of a page's special ("opaque") area: 16 bytes, placed by the
/// pgrx layer with `PageInit(page, BLCKSZ, SPECIAL_SIZE)`.
///
/// Fields are native-endian, like every Postgres on-disk structure.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct PageOpaque {
    /// Next page of a chain (e.g. IVF posting lists), or [`INVALID_BLOCK`].
    pub next: BlockNumber,
    /// Index-kind specific page flags.
    pub flags: u16,
    /// Magic identifying the index kind (and page role) owning this page;
    /// lets tools such as pageinspect / amcheck recognise pages.
    pub page_id: u16,
    /// Reserved for future formats; written as zero.
    pub reserved: [u32; 2],
}

impl PageOpaque {
    /// Opaque of a freshly initialised page: no next page, no flags, no owner.
    pub const EMPTY: PageOpaque = PageOpaque {
        next: INVALID_BLOCK,
        flags: 0,
        page_id: 0,
        reserved: [0; 2],
    };

    /// Opaque with the given owner magic and no chain link.
    pub const fn with_page_id(page_id: u16) -> Self {
        PageOpaque {
            page_id,
            ..Self::EMPTY
        }
    }
}

impl Default for PageOpaque {
    fn default() -> Self {
        Self::EMPTY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_is_16_bytes_and_defaults_to_no_link() {
        assert_eq!(std::mem::size_of::<PageOpaque>(), 16);
        let o = PageOpaque::default();
        assert_eq!(o.next, INVALID_BLOCK);
        assert_eq!(PageOpaque::with_page_id(0xFF90).page_id, 0xFF90);
        let bytes = bytemuck::bytes_of(&o);
        assert_eq!(&bytes[..4], &u32::MAX.to_ne_bytes());
    }
}
