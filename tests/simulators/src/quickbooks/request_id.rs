//! QuickBooks' `requestid`: a write (`POST /{entity}`, `POST /batch`) that
//! carries `?requestid=<id>` is processed once per realm; the same id again
//! gets the original answer back, error or not, and changes nothing. Ids are
//! at most 50 characters (36 for a batch, whose `bId`s may then have at most
//! 10). Requests without a `requestid` are processed every time.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde_json::Value;

use super::QuickBooks;
use super::errors::Fault;
use crate::context::lock;
use crate::params::Params;

/// Longest `requestid` of an entity write.
pub const MAX_LEN: usize = 50;
/// Longest `requestid` of a batch.
pub const MAX_BATCH_LEN: usize = 36;
/// Longest `bId` in a batch that carries a `requestid`.
pub const MAX_BID_LEN: usize = 10;
/// Answers kept; the oldest are forgotten first (a long sandbox session
/// must not grow without bound).
const KEPT: usize = 100_000;

/// The answers given to requests with a `requestid`, by realm and id.
#[derive(Default)]
pub struct Answered {
    answers: Mutex<Answers>,
}

#[derive(Default)]
struct Answers {
    by_id: HashMap<(String, String), Result<Value, Fault>>,
    order: VecDeque<(String, String)>,
}

impl Answered {
    /// Runs `process` unless this realm already answered the request's
    /// `requestid`, in which case that answer comes back again. Requests
    /// with the same id are processed one at a time, so two at once still
    /// make one write.
    pub fn once(
        &self,
        qb: &QuickBooks,
        realm: &str,
        params: &Params,
        max_len: usize,
        process: impl FnOnce() -> Result<Value, Fault>,
    ) -> Result<Value, Fault> {
        let Some(id) = params.get("requestid").filter(|id| !id.is_empty()) else {
            return process();
        };
        if id.chars().count() > max_len {
            return Err(Fault::validation(
                "2010",
                "Invalid request parameter",
                format!("requestid {id} is longer than {max_len} characters"),
            ));
        }
        let key = (realm.to_owned(), id.to_owned());
        let mut answers = lock(&self.answers);
        if let Some(answer) = answers.by_id.get(&key) {
            qb.ctx.count("quickbooks: answered again by requestid");
            return answer.clone();
        }
        let answer = process();
        if answers.order.len() >= KEPT
            && let Some(oldest) = answers.order.pop_front()
        {
            answers.by_id.remove(&oldest);
        }
        answers.order.push_back(key.clone());
        answers.by_id.insert(key, answer.clone());
        answer
    }
}
