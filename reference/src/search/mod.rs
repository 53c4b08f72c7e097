//! Searches over the item tree. The legacy searches live in [`legacy`]; AQL comes next (issue 6).

pub mod legacy;
