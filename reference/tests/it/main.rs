//! Integration tests: every test talks to a real server over HTTP, as a client would.

mod aql;
mod bad_input;
mod builds;
mod common;
mod deploy;
mod docker;
mod durability;
mod escalation;
mod fuzz_corpus;
mod helm;
mod limits;
mod logs;
mod negotiation;
mod permissions;
mod properties;
mod races;
mod remote;
mod replay;
mod repositories;
mod retrieve;
mod search;
mod security;
mod storage;
mod system;
mod tokens;
mod users;
