//! Native unit tests: `cargo test --target x86_64-unknown-linux-gnu -p pipedrive`.
