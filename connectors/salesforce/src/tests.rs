//! Native unit tests.
