//! Unit tests of the analysis: the classifier on real kernel-stack fixtures
//! ([`kstacks`]) and accounting, critical path and verdict on small synthetic
//! traces built by hand ([`synthetic`], with the [`build`] helper).

mod build;
mod commits;
mod kstacks;
mod synthetic;
