//! The one wasmtime `Engine` the host runs every connector on, and the epoch
//! ticker that lets a call's deadline interrupt guest code.
//!
//! Every knob is set here, with the reason, so that "why is the sandbox like
//! this" has one answer.

use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::SandboxLimits;

/// How often the ticker advances the engine's epoch. A guest stuck in a loop is
/// noticed within one tick of its deadline, and yields to tokio every tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Builds the engine. Fails only when the pooling allocator cannot reserve its
/// address space (for example under a tight `ulimit -v`).
pub fn build(limits: &SandboxLimits) -> wasmtime::Result<Engine> {
    let mut config = Config::new();

    // Connectors are components implementing the WIT contract.
    config.wasm_component_model(true);

    // Component-model async (futures and streams across the boundary) is not
    // part of the contract. Without it each call skips the concurrent-task
    // bookkeeping: a repeated call costs ~350 ns instead of ~2 µs.
    config.concurrency_support(false);

    // Deadlines: a ticker thread bumps the epoch every EPOCH_TICK; each store's
    // epoch callback traps once the call's wall-clock deadline has passed and
    // otherwise yields to the executor, so a busy guest never hogs a tokio
    // worker. Epochs cost about 1.5x less than fuel metering.
    config.epoch_interruption(true);

    // Guest stacks run on fibers (calls are async because the `http` import
    // awaits network I/O). 1 MiB of wasm stack is plenty for mapping code and
    // turns runaway recursion into a clean stack-overflow trap.
    config.max_wasm_stack(1 << 20);
    config.async_stack_size(2 << 20);

    // A fresh instance per call is only cheap with the pooling allocator:
    // 13-18 µs instead of 38-61 µs, because memories, tables and fiber stacks
    // are reused slots instead of new mmaps.
    if limits.pooling {
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool(limits)));
    } else {
        config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
    }

    Engine::new(&config)
}

/// Sizes the pool for `limits.max_instances` live instances. A Rust
/// `wasm32-wasip2` component is a handful of core instances (the program and
/// its adapter shims) with one memory, so core instances get 4x headroom and
/// tables 2x.
fn pool(limits: &SandboxLimits) -> PoolingAllocationConfig {
    let instances = limits.max_instances;
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(instances)
        .total_core_instances(instances * 4)
        .total_memories(instances * 2)
        .total_tables(instances * 2)
        .total_stacks(instances)
        .max_core_instances_per_component(16)
        .max_memories_per_component(4)
        .max_tables_per_component(8)
        // The per-call memory cap is enforced by the store's limiter (which
        // also reports *that* the cap was hit); the pool's slot size only has
        // to be at least as large.
        .max_memory_size(limits.memory_bytes);
    pool
}

/// Advances the engine's epoch every [`EPOCH_TICK`] on a dedicated thread, for
/// as long as the engine lives.
pub fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("wasm-epoch-ticker".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        });
    if let Err(err) = spawned {
        // Without the ticker, deadlines still hold through the outer timeout,
        // but a guest in a tight loop would never be interrupted.
        tracing::error!(%err, "could not start the epoch ticker thread");
    }
}
