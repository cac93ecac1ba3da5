//! Acting on a transfer the account already has (ours): run a finished one
//! again as a new transfer, or cancel one that has not finished.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::sessions::session_of;
use super::transfers::{admit, admit_pull, schema_of, started};
use crate::http::input::Caller;
use crate::http::{ApiError, AppState};
use crate::transfer::cancel::CancelError;
use crate::transfer::rerun::RerunError;
use crate::transfer::{Method, Transfer};

fn no_transfer() -> ApiError {
    ApiError::field(
        StatusCode::NOT_FOUND,
        "transfer_id",
        "No transfer with this transfer_id.",
    )
}

/// `POST /api/transfers/{id}/retry`: a new transfer that runs the finished
/// (completed or failed, cancelled included) transfer `id` again, with the
/// same session, type, direction, parameters and webhooks, and for a push
/// the same items. Answers `202` with the new transfer as a trigger does,
/// plus `retry_of`; `409` while `id` is still queued or running.
pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let old: Transfer = state
        .transfers
        .get(&caller.account, &id)
        .map_err(ApiError::storage)?
        .ok_or_else(no_transfer)?;
    if !old.is_finished() {
        return Err(ApiError::field(
            StatusCode::CONFLICT,
            "transfer_id",
            format!(
                "This transfer is still {}: wait until it finishes, or cancel it (POST /api/transfers/{}/cancel), then retry it.",
                old.status.as_str(),
                old.id
            ),
        ));
    }
    let session = session_of(&state, &caller, &old.session_id)?;
    schema_of(&session, &old.endgrate_type)?;
    admit(&state, &caller.account)?;
    if old.method == Method::Pull {
        admit_pull(&state, &caller.account)?;
    }
    let new = state.transfers.retry(&old).await.map_err(|e| match e {
        RerunError::ItemsExpired => ApiError::field(
            StatusCode::GONE,
            "transfer_id",
            "This push's items were deleted at the end of the retention period (--records-retention-days): push them again with POST /api/push/transfer.",
        ),
        RerunError::Unfinished(status) => ApiError::field(
            StatusCode::CONFLICT,
            "transfer_id",
            format!("This transfer is still {}.", status.as_str()),
        ),
        RerunError::Store(e) => ApiError::storage(e),
    })?;
    let mut answer = started(&state, &new.id);
    answer["retry_of"] = json!(old.id);
    Ok((StatusCode::ACCEPTED, Json(answer)))
}

/// `POST /api/transfers/{id}/cancel`: stops a queued or running transfer.
/// It ends `failed` with `cancelled: true` and an error saying so (the
/// statuses apps know have no cancelled one); a running one stops at its
/// next page or batch, and what it stored before stays readable. Answers the
/// transfer's statistics object; `409` if it has already finished.
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let ended = state
        .transfers
        .cancel(&caller.account, &id)
        .await
        .map_err(|e| match e {
            CancelError::NotFound => no_transfer(),
            CancelError::Finished(status) => ApiError::field(
                StatusCode::CONFLICT,
                "transfer_id",
                format!(
                    "This transfer already {}: there is nothing to cancel. Run it again with POST /api/transfers/{id}/retry.",
                    status.as_str()
                ),
            ),
            CancelError::Store(e) => ApiError::storage(e),
        })?;
    let mut answer = ended.statistics_json();
    answer["success"] = json!(true);
    Ok(Json(answer))
}
