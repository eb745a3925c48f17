//! wallprof: what bounds this program, and which concurrency strategy would
//! make it faster?
//!
//! The pipeline runs one way: [`launch`] starts the target held until the
//! collectors are attached, [`collect`] records a [`model::trace::Trace`] from
//! perf events and /proc, [`analyze`] turns it into a [`model::profile::Profile`]
//! (accounting, critical path, verdict), and [`render`] writes it out.

pub mod analyze;
pub mod collect;
pub mod launch;
pub mod model;
pub mod render;
pub mod run;
pub mod stacks;
