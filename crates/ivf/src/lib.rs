//! placeholder crate root; replaced by the crate's real code.
