//! What a transfer holds: the request as the app made it, its progress (the
//! checkpoint a restart resumes from) and its statistics.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::sessions::Webhooks;
use crate::wire::Direction;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Pull,
    Push,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Pull => "pull",
            Method::Push => "push",
        }
    }

    /// `IMPORT` or `EXPORT`, as Endgrate's answers name it.
    pub fn direction(self) -> Direction {
        match self {
            Method::Pull => Direction::Import,
            Method::Push => Direction::Export,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    Running,
    Completed,
    Failed,
}

impl Status {
    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Transfer {
    pub id: String,
    pub account: String,
    pub session_id: String,
    pub method: Method,
    /// The session schema's name (its `endgrate_type` or custom title).
    pub endgrate_type: String,
    pub created_ms: u64,
    pub started_ms: Option<u64>,
    pub finished_ms: Option<u64>,
    pub status: Status,
    /// Why it failed.
    pub error: Option<String>,

    pub params: Value,
    /// Pull: the types whose associated ids each record carries.
    pub associations: Vec<String>,
    /// Pull: each record carries the provider's record as `remote_data`.
    #[serde(default)]
    pub include_remote_data: bool,
    pub disable_upsert: bool,
    pub sample_data: bool,
    /// This transfer's own webhooks (they win over the session's).
    pub webhooks: Webhooks,
    /// A re-pull scheduled by a continuous data webhook: sends only changes.
    pub continuous: bool,
    /// Not to start before this time (continuous re-pulls).
    pub not_before_ms: u64,

    pub checkpoint: Checkpoint,
    pub stats: Stats,
    /// Consecutive failed attempts at the current step.
    pub attempts: u32,
    /// Some record or item failed.
    pub transfer_errors: bool,
    /// When its records (pulled records, push results) were deleted, kept
    /// for the retention period after it finished (`--records-retention-days`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_expired_ms: Option<u64>,
    /// Continuous re-pulls: when the app first read its records to the
    /// end; once that is longer ago than `--continuous-read-retention-hours`
    /// the sweeper deletes them (see [`crate::sessions::sweeper`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_ms: Option<u64>,
    /// The trace of the API request that created it (a W3C `traceparent`),
    /// which its steps continue; none when traces are not exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_parent: Option<String>,
    /// When it was cancelled (it ended `failed` then; see [`super::cancel`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_ms: Option<u64>,
    /// The transfer this one runs again (see [`super::rerun`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<String>,
}

/// Where a transfer stands; written with the data of each step, so a restart
/// resumes from the last one that was stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Pull: the connector's cursor for the next page.
    pub cursor: Option<String>,
    /// Pull: the first page was fetched (so `cursor: None` means done).
    pub started: bool,
    /// Sync pulls: changes since this time, and the time the next one starts from.
    pub since: Option<String>,
    pub next_since: Option<String>,
    /// Sync pulls: this pull lists every record, so a record the session
    /// saw before and this pull does not return was deleted.
    #[serde(default)]
    pub full_listing: bool,
    /// Records (pull) or results (push) stored so far.
    pub written: u64,
    /// Push: the next item to push.
    pub next_index: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Stats {
    pub provider: String,
    pub integration: String,
    pub batch_size: u32,
    /// Records known so far (pull) or items given (push).
    pub records: u64,
    pub batches: u64,
    pub batches_queued: u64,
    pub batches_success: u64,
    pub batches_fail: u64,
    pub records_transferred: u64,
}

impl Transfer {
    pub fn is_finished(&self) -> bool {
        matches!(self.status, Status::Completed | Status::Failed)
    }

    /// The statistics object of `GET /api/statistics` (with `cancelled` and
    /// `retry_of`, ours, only when they apply).
    pub fn statistics_json(&self) -> Value {
        let mut v = self.endgrate_statistics();
        if self.cancelled_ms.is_some() {
            v["cancelled"] = json!(true);
        }
        if let Some(original) = &self.retry_of {
            v["retry_of"] = json!(original);
        }
        v
    }

    fn endgrate_statistics(&self) -> Value {
        let s = &self.stats;
        json!({
            "method": self.method.direction().as_str(),
            "completed": self.is_finished(),
            "initiated": crate::time::rfc3339_ms(self.created_ms),
            "transfer_id": self.id,
            "session_id": self.session_id,
            "endgrate_type": self.endgrate_type,
            "status": self.status,
            "error": self.error,
            "statistics": {
                "provider": s.provider,
                "integration": if s.integration.is_empty() {
                    String::new()
                } else {
                    crate::wire::integration_name(&s.integration, self.method.direction())
                },
                "batch_size": s.batch_size,
                "records": s.records,
                "batches": s.batches,
                "batches_queued": s.batches_queued,
                "batches_success": s.batches_success,
                "batches_fail": s.batches_fail,
                "records_transferred": s.records_transferred,
                "completed": self.is_finished(),
            },
        })
    }
}
