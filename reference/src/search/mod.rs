//! Searches over the item tree: the legacy searches ([`legacy`]) and AQL ([`aql`]: the parser so far;
//! the evaluator and `POST /api/search/aql` are still to come).

pub mod aql;
pub mod aql_items;
pub mod legacy;
