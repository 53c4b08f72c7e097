//! Searches over the item tree: the legacy searches ([`legacy`]) and AQL ([`aql`] parses,
//! [`aql_eval`] answers over every domain).

pub mod aql;
pub mod aql_eval;
pub mod legacy;
