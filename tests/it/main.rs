//! The one integration-test binary: real processes profiled by the built
//! `wallprof`, every profile validated against `docs/profile.schema.json`.
//! Tests assert measured facts about the workloads in `workloads/`.

mod harness;

mod accounting;
mod bpf;
mod corpus;
mod exit;
mod fallback;
mod io;
mod report;
mod runtimes;
mod schema;
mod scope;
mod signals;
mod stacks;
mod tree;
mod waits;
