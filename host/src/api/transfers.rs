//! Transfer endpoints: trigger a pull or a push, read its data, its
//! statistics and the error log.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::page_meta;
use super::sessions::session_of;
use crate::cdm::{self, Validator, filter::Filter};
use crate::http::input::{Body, Caller, QueryParams};
use crate::http::{ApiError, AppState};
use crate::sessions::{Session, SessionSchema, Webhooks};
use crate::store::{encode, new_id, now_ms, seq_key};
use crate::transfer::push::ItemIn;
use crate::transfer::writes::{TreeId, Writes};
use crate::transfer::{Checkpoint, Method, Stats, Status, Transfer};

/// The most items one push takes (`413` past it).
pub const MAX_PUSH_ITEMS: usize = 10_000;

fn bad(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::field(StatusCode::BAD_REQUEST, field, message)
}

fn unprocessable(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, field, message)
}

/// The session schema a transfer names.
pub(super) fn schema_of<'a>(
    session: &'a Session,
    endgrate_type: &str,
) -> Result<&'a SessionSchema, ApiError> {
    let schema = session.schema(endgrate_type).ok_or_else(|| {
        unprocessable(
            "endgrate_type",
            format!(
                "This session has no schema {endgrate_type:?} (it has: {}).",
                session.schema_names().join(", ")
            ),
        )
    })?;
    if !schema.enabled {
        return Err(unprocessable(
            "endgrate_type",
            format!("The end user did not enable {endgrate_type:?} for this session."),
        ));
    }
    Ok(schema)
}

/// A new pull is refused (429, without `Retry-After`: waiting does not
/// help) while the account stores its limit of pulled records.
pub(super) fn admit_pull(state: &AppState, account: &str) -> Result<(), ApiError> {
    state
        .transfers
        .admits_pull(account)
        .map_err(|message| ApiError::new(StatusCode::TOO_MANY_REQUESTS, message))
}

/// A new transfer is refused (429) while the account has its limit waiting.
pub(super) fn admit(state: &AppState, account: &str) -> Result<(), ApiError> {
    state.transfers.admits(account).map_err(|limit| {
        let mut err = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("This account already has {limit} transfers waiting; trigger more once some have finished."),
        );
        err.retry_after = Some(std::time::Duration::from_secs(5));
        err
    })
}

fn transfer_webhooks(state: &AppState, body: &Body) -> Result<Webhooks, ApiError> {
    let policy = &state.config.webhook_policy;
    Ok(Webhooks {
        configuration: None,
        data: body.webhook("data_webhook", policy)?,
        completed: body.webhook("completed_webhook", policy)?,
        error: body.webhook("error_webhook", policy)?,
    })
}

fn new_transfer(
    session: &Session,
    method: Method,
    endgrate_type: String,
    webhooks: Webhooks,
) -> Transfer {
    Transfer {
        id: new_id(),
        account: session.account.clone(),
        session_id: session.id.clone(),
        method,
        endgrate_type,
        created_ms: now_ms(),
        started_ms: None,
        finished_ms: None,
        status: Status::Queued,
        error: None,
        params: Value::Null,
        associations: Vec::new(),
        include_remote_data: false,
        disable_upsert: false,
        sample_data: false,
        webhooks,
        continuous: false,
        not_before_ms: 0,
        checkpoint: Checkpoint::default(),
        stats: Stats::default(),
        attempts: 0,
        transfer_errors: false,
        records_expired_ms: None,
        read_ms: None,
        trace_parent: crate::telemetry::current_trace_parent(),
        cancelled_ms: None,
        retry_of: None,
    }
}

/// `POST /api/pull/transfer`.
pub async fn pull(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let session = session_of(&state, &caller, &body.required_string("session_id")?)?;
    admit(&state, &caller.account)?;
    admit_pull(&state, &caller.account)?;
    let endgrate_type = body.required_string("endgrate_type")?;
    let schema = schema_of(&session, &endgrate_type)?;
    let synchronous = body.flag("synchronous")?;
    let include_remote_data = body.flag("include_remote_data")?;
    let params = match body.object("params")? {
        Some(params) => {
            // The session's passthrough fields can be filtered on too.
            let mut fields = cdm::schema_fields(&schema.schema);
            fields.extend(schema.passthrough_fields.iter().map(|f| f.name.clone()));
            Filter::parse(params, &fields).map_err(|e| bad(&e.field, e.to_string()))?;
            Value::Object(params.clone())
        }
        None => Value::Null,
    };
    let mut associations: Vec<String> = Vec::new();
    if let Some(wanted) = body.object("associations")? {
        for (t, on) in wanted {
            let field = format!("associations.{t}");
            let Some(on) = on.as_bool() else {
                return Err(bad(&field, format!("`{field}` must be true or false.")));
            };
            let Some(other) = session.schema(t) else {
                return Err(unprocessable(
                    &field,
                    format!("This session has no schema {t:?} to associate."),
                ));
            };
            if on {
                associations.push(other.integration.clone().unwrap_or_else(|| t.clone()));
            }
        }
    } else if schema.associations {
        associations = session
            .schemas
            .iter()
            // Provider objects carry no links to common types.
            .filter(|s| s.name != endgrate_type && s.enabled && s.object_name().is_none())
            .map(|s| s.integration.clone().unwrap_or_else(|| s.name.clone()))
            .collect();
    }
    let mut transfer = new_transfer(
        &session,
        Method::Pull,
        endgrate_type,
        transfer_webhooks(&state, &body)?,
    );
    transfer.params = params;
    transfer.associations = associations;
    transfer.include_remote_data = include_remote_data;
    state
        .transfers
        .enqueue(&transfer, Writes::default())
        .await
        .map_err(ApiError::storage)?;
    answer(&state, &transfer.id, synchronous).await
}

/// The fields of a pushed provider-object record the provider computes
/// itself (discovery's read-only), each as a problem of the item.
fn read_only_fields(schema: &SessionSchema, data: &Value) -> Vec<String> {
    let properties = schema.schema.get("properties");
    data.as_object()
        .into_iter()
        .flatten()
        .filter(|(name, _)| {
            properties
                .and_then(|p| p.get(name.as_str()))
                .and_then(|p| p.get("readOnly"))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        })
        .map(|(name, _)| format!("data/{name}: {name:?} is read-only at the provider"))
        .collect()
}

/// `POST /api/push/transfer`.
pub async fn push(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let session = session_of(&state, &caller, &body.required_string("session_id")?)?;
    admit(&state, &caller.account)?;
    let endgrate_type = body.required_string("endgrate_type")?;
    let schema = schema_of(&session, &endgrate_type)?;
    let Some(items) = body.array("transfer_data")? else {
        return Err(bad(
            "transfer_data",
            "`transfer_data` is required: a list of items `{\"data\": {...}}`.",
        ));
    };
    if items.is_empty() {
        return Err(bad(
            "transfer_data",
            "`transfer_data` is empty: there is nothing to push.",
        ));
    }
    if items.len() > MAX_PUSH_ITEMS {
        return Err(ApiError::field(
            StatusCode::PAYLOAD_TOO_LARGE,
            "transfer_data",
            format!(
                "`transfer_data` has {} items; one push takes at most {MAX_PUSH_ITEMS}. Split it into several pushes.",
                items.len()
            ),
        ));
    }
    let synchronous = body.flag("synchronous")?;
    let mut transfer = new_transfer(
        &session,
        Method::Push,
        endgrate_type,
        transfer_webhooks(&state, &body)?,
    );
    transfer.disable_upsert = body.flag("disable_upsert")?;
    transfer.sample_data = body.flag("sample_data")?;
    transfer.stats.records = items.len() as u64;
    // Validation is CPU work that grows with the push: off the async threads.
    let (items, owner, schema, id) = (
        items.clone(),
        session.clone(),
        schema.clone(),
        transfer.id.clone(),
    );
    let writes = tokio::task::spawn_blocking(move || {
        let mut reader = ItemReader::new(&owner);
        let mut writes = Writes::default();
        for (index, raw) in items.iter().enumerate() {
            let item = reader.read(&schema, raw, &format!("transfer_data[{index}]"), true)?;
            writes.put(TreeId::PushItems, seq_key(&id, index as u64), encode(&item));
        }
        Ok::<_, ApiError>(writes)
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Validating the items failed: {e}"),
        )
    })??;
    state
        .transfers
        .enqueue(&transfer, writes)
        .await
        .map_err(ApiError::storage)?;
    answer(&state, &transfer.id, synchronous).await
}

/// Reads the pushed item at `at` (`transfer_data[3]`). A request that is not
/// shaped like items (not an object, no `data` object, ids that are not
/// strings, associations that are not lists of items of the session's
/// schemas) is refused whole, naming the place; an item whose `data` breaks
/// its schema is marked invalid and fails alone when the push runs.
/// Reads pushed items, compiling each schema's validator once per push.
struct ItemReader<'a> {
    session: &'a Session,
    validators: HashMap<String, Option<Validator>>,
}

impl<'a> ItemReader<'a> {
    fn new(session: &'a Session) -> Self {
        ItemReader {
            session,
            validators: HashMap::new(),
        }
    }

    fn validator(&mut self, schema: &SessionSchema) -> Option<Validator> {
        self.validators
            .entry(schema.name.clone())
            .or_insert_with(|| {
                if schema.object_name().is_some() {
                    // An item may update a record (by id or internal id)
                    // with some fields only: the provider itself refuses a
                    // create that lacks a required one.
                    let mut fields = schema.schema.clone();
                    if let Some(members) = fields.as_object_mut() {
                        members.remove("required");
                    }
                    Validator::compile(&fields).ok()
                } else if schema.custom {
                    Validator::compile(&schema.schema).ok()
                } else {
                    schema
                        .endgrate_type
                        .as_deref()
                        .and_then(Validator::for_default)
                }
            })
            .clone()
    }

    fn read(
        &mut self,
        schema: &SessionSchema,
        raw: &Value,
        at: &str,
        top: bool,
    ) -> Result<ItemIn, ApiError> {
        let session = self.session;
        let Some(fields) = raw.as_object() else {
            return Err(bad(
                at,
                format!("`{at}` must be an object `{{\"data\": {{...}}}}`."),
            ));
        };
        let id_text = |name: &str| match fields.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            None | Some(Value::Null) => Ok(None),
            Some(_) => Err(bad(
                &format!("{at}.{name}"),
                format!("`{at}.{name}` must be a non-empty string."),
            )),
        };
        let mut item = ItemIn {
            id: id_text("id")?,
            internal_id: id_text("internal_id")?,
            data: Value::Null,
            associations: Vec::new(),
            invalid: None,
        };
        let Some(Value::Object(_)) = fields.get("data") else {
            return Err(bad(
                &format!("{at}.data"),
                format!("`{at}.data` is required and must be an object of the schema's fields."),
            ));
        };
        let mut data = fields["data"].clone();
        if !schema.custom
            && let Some(t) = &schema.endgrate_type
        {
            cdm::normalize_push(t, &mut data);
        }
        let validator = self.validator(schema);
        let mut problems = Vec::new();
        if let Some(validator) = validator
            && let Err(violations) = validator.validate(&data)
        {
            for v in violations {
                problems.push(format!("data{}: {}", v.path, v.message));
            }
        }
        if schema.object_name().is_some() {
            problems.extend(read_only_fields(schema, &data));
        }
        item.data = data;
        match fields.get("associations") {
            None | Some(Value::Null) => {}
            Some(Value::Object(by_type)) if top => {
                for (t, children) in by_type {
                    let place = format!("{at}.associations.{t}");
                    let Some(child_schema) = session.schema(t) else {
                        return Err(bad(&place, format!("This session has no schema {t:?}.")));
                    };
                    let Some(children) = children.as_array() else {
                        return Err(bad(&place, format!("`{place}` must be a list of items.")));
                    };
                    let mut read = Vec::new();
                    for (j, child) in children.iter().enumerate() {
                        let c = self.read(child_schema, child, &format!("{place}[{j}]"), false)?;
                        if let Some(why) = &c.invalid {
                            problems.push(format!("associations.{t}[{j}]: {why}"));
                        }
                        read.push(c);
                    }
                    item.associations.push((t.clone(), read));
                }
            }
            Some(Value::Object(_)) => {
                return Err(bad(
                    &format!("{at}.associations"),
                    "Associated items cannot have associations of their own.",
                ));
            }
            Some(_) => {
                return Err(bad(
                    &format!("{at}.associations"),
                    format!("`{at}.associations` must be an object of lists of items."),
                ));
            }
        }
        if !problems.is_empty() {
            item.invalid = Some(problems.join("; "));
        }
        Ok(item)
    }
}

/// The trigger's answer, after waiting for the transfer with `synchronous`.
async fn answer(
    state: &AppState,
    transfer_id: &str,
    synchronous: bool,
) -> Result<Json<Value>, ApiError> {
    if synchronous {
        state
            .transfers
            .wait(transfer_id, state.config.synchronous_cap)
            .await
            .map_err(ApiError::storage)?;
    }
    Ok(Json(started(state, transfer_id)))
}

/// What a trigger answers: the new transfer's id and its statistics page.
pub(super) fn started(state: &AppState, transfer_id: &str) -> Value {
    json!({
        "success": true,
        "transfer_id": transfer_id,
        "statistics": format!("{}/statistics?transfer_id={transfer_id}", state.config.public_url),
    })
}

/// `GET /api/pull/data` and `GET /api/push/data`.
async fn data(
    state: AppState,
    caller: Caller,
    query: QueryParams,
    method: Method,
) -> Result<DataPage, ApiError> {
    let transfer_id = query.required("transfer_id")?;
    let endgrate_type = query.required("endgrate_type")?;
    let (limit, offset) = query.page(250, 10_000)?;
    let transfer = state
        .transfers
        .get(&caller.account, transfer_id)
        .map_err(ApiError::storage)?
        .filter(|t| t.method == method)
        .ok_or_else(|| {
            ApiError::field(
                StatusCode::NOT_FOUND,
                "transfer_id",
                format!("No {} transfer with this transfer_id.", method.as_str()),
            )
        })?;
    if transfer.endgrate_type != endgrate_type {
        return Err(bad(
            "endgrate_type",
            format!(
                "This transfer moved {:?}, not {endgrate_type:?}.",
                transfer.endgrate_type
            ),
        ));
    }
    if !transfer.is_finished() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "The transfer has not completed yet: poll again later, pass `synchronous: true`, or use a completed webhook.",
        ));
    }
    if transfer.records_expired_ms.is_some() {
        let why = if transfer.read_ms.is_some() {
            "This continuous pull's records were deleted a while after they were read to the end (--continuous-read-retention-hours): the later pulls of the session carry what changed since."
        } else {
            "This transfer's records were deleted at the end of the retention period (--records-retention-days): run the transfer again."
        };
        return Err(ApiError::field(StatusCode::GONE, "transfer_id", why));
    }
    let total = transfer.checkpoint.written as usize;
    let path = format!("/api/{}/data", method.as_str());
    let meta = page_meta(
        &state,
        &path,
        &[
            ("endgrate_type", endgrate_type),
            ("transfer_id", transfer_id),
        ],
        total,
        offset,
        limit,
    );
    // The stored rows go out as the bytes they are, never parsed.
    let mut body = Vec::with_capacity(256 + limit.min(total) * 512);
    body.extend_from_slice(b"{\"success\":true,\"meta\":");
    body.extend_from_slice(meta.to_string().as_bytes());
    body.extend_from_slice(b",\"transfer_data\":[");
    state
        .transfers
        .read_records(&transfer, offset as u64, limit as u64, &mut body)
        .map_err(ApiError::storage)?;
    if offset + limit >= total
        && let Err(err) = state.transfers.mark_read(&transfer)
    {
        // The records stay longer; the answer is whole all the same.
        tracing::warn!(%err, transfer = %transfer.id, "cannot note that a transfer was read");
    }
    let errors = transfer.transfer_errors || transfer.status == Status::Failed;
    body.extend_from_slice(format!("],\"transfer_errors\":{errors}}}").as_bytes());
    Ok(DataPage(body))
}

/// A page of `GET /api/{pull,push}/data`: `{"success", "meta",
/// "transfer_data", "transfer_errors"}`, its rows copied from storage.
pub struct DataPage(Vec<u8>);

impl axum::response::IntoResponse for DataPage {
    fn into_response(self) -> axum::response::Response {
        (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            self.0,
        )
            .into_response()
    }
}

pub async fn pull_data(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryParams,
) -> Result<DataPage, ApiError> {
    data(state, caller, query, Method::Pull).await
}

pub async fn push_data(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryParams,
) -> Result<DataPage, ApiError> {
    data(state, caller, query, Method::Push).await
}

/// `GET /api/statistics?transfer_id=` (or `session_id=`): no key needed; ids are unguessable.
pub async fn statistics(
    State(state): State<AppState>,
    query: QueryParams,
) -> Result<Json<Value>, ApiError> {
    if let Some(id) = query.optional("transfer_id") {
        let transfer: Transfer = state
            .transfers
            .get_any(id)
            .map_err(ApiError::storage)?
            .ok_or_else(|| {
                ApiError::field(
                    StatusCode::NOT_FOUND,
                    "transfer_id",
                    "No transfer with this transfer_id.",
                )
            })?;
        let mut answer = transfer.statistics_json();
        answer["success"] = json!(true);
        // Public (a transfer id is the only key): never hand out the session
        // id, which the session pages accept.
        if let Some(fields) = answer.as_object_mut() {
            fields.remove("session_id");
        }
        return Ok(Json(answer));
    }
    let session_id = query
        .optional("session_id")
        .ok_or_else(|| bad("transfer_id", "Give `transfer_id` or `session_id`."))?;
    let session = state
        .sessions
        .get_any(session_id)
        .map_err(ApiError::storage)?
        .ok_or_else(super::sessions::no_session)?;
    let transfers = state
        .transfers
        .of_session(&session.id)
        .map_err(ApiError::storage)?;
    let stats: Vec<Value> = transfers.iter().map(Transfer::statistics_json).collect();
    Ok(Json(
        json!({ "success": true, "session_id": session.id, "transfers": stats }),
    ))
}

/// `GET /api/errors`.
pub async fn errors(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryParams,
) -> Result<Json<Value>, ApiError> {
    let (limit, offset) = query.page(50, 1000)?;
    let session_id = query.optional("session_id");
    let transfer_id = query.optional("transfer_id");
    let (records, total) = crate::errors::list(
        &state.db,
        &caller.account,
        session_id,
        transfer_id,
        offset,
        limit,
    )
    .map_err(ApiError::storage)?;
    let filters = query.given(&["session_id", "transfer_id"]);
    Ok(Json(json!({
        "success": true,
        "meta": page_meta(&state, "/api/errors", &filters, total, offset, limit),
        "errors": records.iter().map(crate::errors::ErrorRecord::to_json).collect::<Vec<_>>(),
    })))
}

/// `POST /api/errors/resolve` (ours): `{"pk", "resolved"?: bool}`.
pub async fn resolve_error(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let pk = body.required_string("pk")?;
    let resolved = match body.get("resolved") {
        None => true,
        Some(_) => body.flag("resolved")?,
    };
    if !crate::errors::resolve(&state.db, &caller.account, &pk, resolved)
        .await
        .map_err(ApiError::storage)?
    {
        return Err(ApiError::field(
            StatusCode::NOT_FOUND,
            "pk",
            "No error with this pk.",
        ));
    }
    Ok(Json(
        json!({ "success": true, "pk": pk, "resolved": resolved }),
    ))
}
