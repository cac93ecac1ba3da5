//! The statistics page of a transfer (`GET /statistics?transfer_id=`): its
//! markup, drawn first from a snapshot and then redrawn by `statistics.js`
//! from each snapshot of the live feed (`GET /statistics/events`).

use serde_json::Value;

use super::layout::{Page, Shape, brand, escape};
use crate::transfer::Transfer;

/// The page of `t`, whose provider is `provider`, drawn from `snapshot`.
pub fn page(t: &Transfer, provider: &str, snapshot: &Value) -> Page<'static> {
    let initial = snapshot.to_string();
    let body = format!(
        "{brand}<div class=\"stats-head\"><div><p class=\"eyebrow\">{method} · {ty}</p><h1>Transfer progress</h1>\
         <p class=\"muted mono small\">{id}</p></div><span class=\"badge\" id=\"status\" data-status=\"{status}\">{status_label}</span></div>\
         <div class=\"progress-block\"><div class=\"progress-top\"><span id=\"percent\" class=\"big-number\">–</span><span id=\"progress-caption\" class=\"muted\"></span></div>\
         <div class=\"bar\" role=\"progressbar\" aria-label=\"Transfer progress\" aria-valuemin=\"0\" aria-valuemax=\"100\" id=\"bar\"><span class=\"bar-fill\" id=\"bar-fill\"></span></div></div>\
         <dl class=\"stat-grid\">\
         <div><dt>Records</dt><dd id=\"records\">–</dd></div>\
         <div><dt>Batches done</dt><dd id=\"batches-success\">–</dd></div>\
         <div><dt>Queued</dt><dd id=\"batches-queued\">–</dd></div>\
         <div><dt>Failed</dt><dd id=\"batches-fail\">–</dd></div></dl>\
         <dl class=\"facts\"><div><dt>Provider</dt><dd>{provider}</dd></div><div><dt>Started</dt><dd id=\"initiated\">–</dd></div><div><dt>Batch size</dt><dd id=\"batch-size\">–</dd></div></dl>\
         <section class=\"errors-block\" aria-labelledby=\"errors-title\"><h2 id=\"errors-title\">Errors <span class=\"count\" id=\"error-count\">0</span></h2>\
         <ul class=\"error-list\" id=\"errors\"></ul><p class=\"muted small\" id=\"no-errors\">No errors so far.</p></section>\
         <p class=\"live muted small\" id=\"live\" role=\"status\" aria-live=\"polite\"></p>\
         <script type=\"application/json\" id=\"initial\">{initial}</script>",
        brand = brand(),
        method = if t.method == crate::transfer::Method::Pull {
            "Pull"
        } else {
            "Push"
        },
        ty = escape(&super::selection::type_label(&t.endgrate_type)),
        id = escape(&t.id),
        status = escape(&format!("{:?}", t.status).to_lowercase()),
        status_label = escape(&format!("{:?}", t.status)),
        provider = escape(provider),
        initial = initial.replace("</", "<\\/"),
    );
    Page {
        title: "Transfer progress",
        shape: Shape::Card,
        scripts: &["statistics.js"],
        body,
    }
}
