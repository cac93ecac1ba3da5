//! Conformance: every real connector against the simulator of its provider,
//! through the host's [`Runtime`] (the calls the transfer engine makes), with
//! the same checks for all of them:
//!
//! - `connection`: finish-auth turns the end of the provider's OAuth flow into
//!   settings, `check` passes, and a credential the provider rejects (and that
//!   cannot be refreshed) is `unauthorized`.
//! - `full_pull`: both types, every page: the simulator's data set exactly,
//!   every id once, field by field, schema-valid, with associations.
//! - `incremental_pull`: after updates, a creation and (where the provider
//!   deletes that type) a deletion, a pull `since` just before, in pages of
//!   two, returns only those records, as they now are, and the deletion
//!   where the connector reports deletions.
//! - `incremental_pull_while_records_change`: a record already returned
//!   changes again between pages; no other record may be skipped for it.
//! - `full_pull_while_records_are_deleted`: likewise when a record already
//!   returned is deleted.
//! - `pull_through_429_storm`, `pull_through_5xx_burst`,
//!   `pull_through_token_expiry`: the fault strikes after the first page; the
//!   pull still ends with every record exactly once, field by field.
//! - `malformed_json_names_the_provider`: a page answered with broken JSON is
//!   a `fatal` error naming the provider; the same page read again works.
//! - `batched_lookups_find_every_record`: a batch of pulled records looked
//!   up by their upsert keys in one `find-matches` call: each is found, the
//!   answers agree with `find-match` key set by key set, and a record nobody
//!   has is not found.
//! - `push_create_update_upsert_associate`: parents, then children linked to
//!   one of them, an update, an upsert through `find-match` with the host's
//!   own upsert keys, and `associate`; the simulator holds exactly what was
//!   pushed, linked as pushed.
//! - `pull_through_cut_connections`: two answers cut mid-body, same outcome.
//! - `push_through_token_expiry_429s_and_5xx`: a batch written through an
//!   expired token, then 429s, then 5xx, ends with every record written
//!   exactly once.
//!
//! A failed page or push is retried as the transfer queue retries a step
//! (`rate-limited` and `transient` errors, from the same cursor, with
//! backoff). Expected values are computed here from the simulator's raw
//! records ([`TypeCase::expected`]), independently of the connectors' own
//! mapping code, and compared on a flat view of the common model ([`view`]).
//!
//! Each connector is one [`Case`], in its own file under `cases/`; the
//! `conformance!` list at the bottom stamps out every check for every case as
//! `<connector>::<check>`, so adding a connector means adding its file and one
//! line to that list.

#[path = "../expected/mod.rs"]
mod expected;
#[path = "../support/mod.rs"]
mod support;

/// One file per connector under test: its [`Case`] and what only it needs.
mod cases {
    pub mod hubspot;
    pub mod pipedrive;
    pub mod quickbooks;
    pub mod salesforce;
}

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};
use switchyard::cdm::{Validator, upsert_keys};
use switchyard::runtime::credentials::{
    CredentialError, CredentialSource, Secret, StaticCredential,
};
use switchyard::runtime::manifest::Manifest;
use switchyard::runtime::types::{
    Connection, ConnectorError, PullRequest, PulledRecord, PushItem, Pushed,
};
use switchyard::runtime::{CallError, ConnectorOverride, Runtime, RuntimeConfig, SandboxLimits};
use switchyard::transfer::{Decision, RetryPolicy, classify};
use switchyard_simulators::{Control, Provider, SimConfig, Simulator};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use expected::{
    at, hubspot_company, hubspot_contact, hubspot_contact_companies, pipedrive_organization,
    pipedrive_person, quickbooks_customer, quickbooks_invoice, salesforce_account,
    salesforce_contact, view,
};

/// People (HubSpot contacts, QuickBooks customers, ...) in each simulator:
/// several pages at [`PAGE_SIZE`].
const CONTACTS: usize = 450;
/// Organisations (HubSpot companies, Salesforce accounts, ...).
const COMPANIES: usize = 260;
/// QuickBooks invoices.
const INVOICES: usize = 300;
/// The page size of full pulls, unless the manifest's maximum is smaller.
const PAGE_SIZE: u32 = 200;
/// The page size of incremental pulls, so that a few changes take several
/// pages and the incremental cursors are followed.
const INCREMENTAL_PAGE_SIZE: u32 = 2;
/// Injected 429s or 5xx in a row: more than the host's attempts at one
/// request, so the page fails once and the queue-like retry takes it again.
const BURST: u32 = 8;
/// Consecutive failed attempts at one page or batch before a check gives up
/// (the transfer queue allows 8 retries).
const MAX_ATTEMPTS: u32 = 10;

/// The end of an OAuth flow: the callback's query parameters, and the token
/// endpoint's answer without its tokens.
type OAuthResult = (Vec<(String, String)>, Value);

/// One connector and the simulator of its provider.
struct Case {
    /// The connector's package name, which is also its manifest id.
    connector: &'static str,
    provider: Provider,
    /// The end of the provider's OAuth flow as the simulator's provider
    /// sends it: the callback's query parameters, and the token endpoint's
    /// answer without its tokens. The connector's finish-auth turns them
    /// into the connection settings.
    oauth_result: fn(&Simulator) -> OAuthResult,
    /// The fewest records the provider puts in a page whatever is asked
    /// (Salesforce's batch sizes start at 200); 1 for most.
    min_page_size: u32,
    /// The type upserts match by email (people) first, then the other one.
    types: [TypeCase; 2],
    /// Pushes create records of `types[parent]`, then records of
    /// `types[child]` linked to them (the child type has the [`Link`]).
    parent: usize,
    child: usize,
    /// The custom object the simulator seeds, for providers that have
    /// custom objects; `None`: the connector must list no objects.
    object: Option<ObjectCase>,
    /// The connector asks for its next page ahead itself (`http.prefetch`),
    /// its provider's answers not saying where the next page is.
    prefetches_itself: bool,
}

/// A provider object discovery lists (a custom object), pulled and pushed
/// with the provider's own fields.
struct ObjectCase {
    /// Its name, as `list-objects` gives it.
    name: &'static str,
    /// The simulator's name for its records (`Control::records`).
    kind: &'static str,
    /// The provider id of a raw record.
    id: fn(&Value) -> String,
    /// A field's value on a raw record, as the provider holds it.
    value: fn(&Value, &str) -> Option<Value>,
    /// A field the provider holds one record per value of.
    unique: &'static str,
    /// A new record's fields; `n` makes its unique value differ.
    new_record: fn(u32) -> Value,
    /// A field an update changes, and its new value.
    change: (&'static str, &'static str),
}

/// One common type of a case.
struct TypeCase {
    endgrate_type: &'static str,
    /// The simulator's name for these records (`Control::records`).
    kind: &'static str,
    /// The provider id of a raw record.
    id: fn(&Value) -> String,
    /// The [`view`] the connector's common-model record must have, computed
    /// from the raw record: only the fields the connector maps for this
    /// provider (a field it maps but the record lacks is `null`).
    expected: fn(&Value) -> Map<String, Value>,
    /// The records of another type a raw record links to; pulls ask for
    /// these associations.
    link: Option<Link>,
    /// Changes a raw record through the provider's API (mapped fields).
    /// The `n`-th change (each writes different values).
    update: fn(&Simulator, &Value, u32) -> ApiCall,
    /// Deletes a raw record through the provider's API, when the provider
    /// deletes records of this type at all.
    delete: Option<fn(&Simulator, &Value) -> ApiCall>,
    /// Whether the connector's incremental pulls report deletions (see each
    /// connector's README for the providers that cannot).
    reports_deletions: bool,
    /// A new record in the provider's create shape, for `Control::seed_record`.
    seed: fn() -> Value,
    /// How the provider describes this type's fields, when the connector
    /// discovers them; `None` for a connector without discovery (it must
    /// list no fields).
    discovery: Option<Discovery>,
}

/// A provider's field discovery, read straight from the simulator.
struct Discovery {
    /// The provider's discovery request.
    call: fn(&Simulator) -> ApiCall,
    /// Its answer's field definitions.
    definitions: fn(&Value) -> Vec<Value>,
    /// A definition's field name, and whether the field is the account's own.
    name: fn(&Value) -> String,
    custom: fn(&Value) -> bool,
    /// A field's value on a raw record, as the provider returned it.
    value: fn(&Value, &str) -> Option<Value>,
}

struct Link {
    endgrate_type: &'static str,
    /// The provider ids a raw record links to.
    ids: fn(&Value) -> Vec<String>,
}

/// The associations pulled records of one type must carry.
struct Links {
    /// The associated type.
    endgrate_type: &'static str,
    /// Sorted provider ids, by the id of the record that carries them.
    by_id: BTreeMap<String, Vec<String>>,
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// A request to the provider's API, made directly (not by the connector).
struct ApiCall {
    method: &'static str,
    /// Under the simulator's base URL, query included.
    path: String,
    body: Option<Value>,
}

impl ApiCall {
    fn new(method: &'static str, path: String, body: Option<Value>) -> Self {
        ApiCall { method, path, body }
    }
}

// ---------------------------------------------------------------------------
// The harness: a simulator, a runtime with the connector installed, and a
// connection made the way a session makes it.

/// Hands out tokens the simulator issued; a refresh mints a new one through
/// `Control`, once per rejected token (as the session store's single-flight
/// refresh does), and counts it.
struct Minting {
    control: Control,
    token: Mutex<String>,
    refreshes: AtomicU32,
}

impl Minting {
    fn new(control: Control) -> Self {
        let token = control.issue_access_token();
        Minting {
            control,
            token: Mutex::new(token),
            refreshes: AtomicU32::new(0),
        }
    }

    fn refreshes(&self) -> u32 {
        self.refreshes.load(Ordering::SeqCst)
    }
}

impl CredentialSource for Minting {
    fn current(&self) -> BoxFuture<'_, Result<Secret, CredentialError>> {
        Box::pin(async move {
            let token = self.token.lock().unwrap_or_else(PoisonError::into_inner);
            Ok(Secret::new(token.clone()))
        })
    }

    fn refresh<'a>(
        &'a self,
        rejected: &'a Secret,
    ) -> BoxFuture<'a, Result<Secret, CredentialError>> {
        Box::pin(async move {
            let mut token = self.token.lock().unwrap_or_else(PoisonError::into_inner);
            if token.as_str() == rejected.expose() {
                *token = self.control.issue_access_token();
                self.refreshes.fetch_add(1, Ordering::SeqCst);
            }
            Ok(Secret::new(token.clone()))
        })
    }
}

/// Compiled components are cached here across tests and runs.
fn compile_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance-compiled")
}

/// Installs happen one at a time in a test process, so the first compiles a
/// connector into the cache and the others read it back.
static INSTALLING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Harness {
    case: &'static Case,
    sim: Simulator,
    runtime: Arc<Runtime>,
    conn: Connection,
    credential: Arc<Minting>,
    manifest: Manifest,
    /// The provider as the manifest names it.
    display_name: String,
    page_size: u32,
    max_push_batch: usize,
}

/// One pull from the first page to the last.
struct Pulled {
    records: Vec<PulledRecord>,
    pages: usize,
}

impl Harness {
    async fn start(case: &'static Case) -> Harness {
        let sim = Simulator::start(
            case.provider,
            SimConfig {
                contacts: CONTACTS,
                companies: COMPANIES,
                invoices: INVOICES,
                seed: 7,
                ..SimConfig::default()
            },
        )
        .await
        .expect("the simulator starts");
        let mut overrides = HashMap::new();
        overrides.insert(
            case.connector.to_owned(),
            ConnectorOverride {
                api_base: Some(sim.base_url()),
                allowed_hosts: Vec::new(),
                rate: None,
            },
        );
        let runtime = Runtime::new(RuntimeConfig {
            limits: SandboxLimits {
                max_instances: 32,
                ..SandboxLimits::default()
            },
            cache_dir: compile_cache(),
            overrides,
            ..RuntimeConfig::default()
        })
        .expect("the runtime starts");
        let names: Vec<&str> = CASES.iter().map(|c| c.connector).collect();
        let bytes = tokio::task::block_in_place(|| support::connector(case.connector, &names));
        {
            let _one_at_a_time = INSTALLING.lock().await;
            runtime
                .install(bytes, None)
                .await
                .unwrap_or_else(|e| panic!("{} does not load: {e}", case.connector));
        }
        let manifest = runtime.manifest(case.connector).unwrap();
        assert_eq!(
            manifest.id, case.connector,
            "the manifest id is the package name"
        );
        let (params, token_answer) = (case.oauth_result)(&sim);
        let settings = runtime
            .finish_auth(case.connector, &params, &token_answer)
            .await
            .unwrap_or_else(|e| panic!("finish-auth failed: {e}"));
        let settings: Value = serde_json::from_str(&settings)
            .unwrap_or_else(|e| panic!("finish-auth returned {settings:?}, not JSON: {e}"));
        assert!(
            settings.is_object(),
            "settings must be an object: {settings}"
        );
        let credential = Arc::new(Minting::new(sim.control().clone()));
        Harness {
            case,
            conn: Connection {
                key: format!("conformance-{}", case.connector),
                api_base: None,
                settings,
                ..Connection::default()
            },
            credential,
            display_name: manifest.display_name.clone(),
            page_size: manifest.batch_limits.max_page_size.min(PAGE_SIZE),
            max_push_batch: manifest.batch_limits.max_push_batch as usize,
            manifest,
            runtime,
            sim,
        }
    }

    fn control(&self) -> &Control {
        self.sim.control()
    }

    fn id(&self) -> &'static str {
        self.case.connector
    }

    fn credential(&self) -> Option<Arc<dyn CredentialSource>> {
        Some(self.credential.clone())
    }

    /// The simulator's live records of `ty`, raw, in id order.
    fn raw(&self, ty: &TypeCase) -> Vec<Value> {
        self.control()
            .records(ty.kind)
            .unwrap_or_else(|| panic!("the simulator has no {} records", ty.kind))
    }

    /// The type whose associations pulls of `ty` ask for, and the
    /// associations every live record of `ty` must carry, from the
    /// simulator: its own links, or (when the manifest says `ty` carries
    /// associations) the records of the other type that link to it.
    fn links(&self, ty: &TypeCase) -> Option<Links> {
        if let Some(link) = &ty.link {
            let by_id = self
                .raw(ty)
                .iter()
                .map(|r| ((ty.id)(r), sorted((link.ids)(r))))
                .collect();
            return Some(Links {
                endgrate_type: link.endgrate_type,
                by_id,
            });
        }
        let other = self
            .case
            .types
            .iter()
            .find(|t| t.endgrate_type != ty.endgrate_type)?;
        let link = other
            .link
            .as_ref()
            .filter(|l| l.endgrate_type == ty.endgrate_type)?;
        let supported = self
            .manifest
            .integration(ty.endgrate_type)
            .is_some_and(|i| i.supports_associations);
        if !supported {
            return None;
        }
        let mut by_id: BTreeMap<String, Vec<String>> = self
            .raw(ty)
            .iter()
            .map(|r| ((ty.id)(r), Vec::new()))
            .collect();
        for record in self.raw(other) {
            for id in (link.ids)(&record) {
                by_id.entry(id).or_default().push((other.id)(&record));
            }
        }
        by_id.values_mut().for_each(|ids| ids.sort());
        Some(Links {
            endgrate_type: other.endgrate_type,
            by_id,
        })
    }

    /// One live raw record of `ty` by provider id (with the associations the
    /// simulator's listing adds).
    fn raw_record(&self, ty: &TypeCase, id: &str) -> Value {
        self.raw(ty)
            .into_iter()
            .find(|r| (ty.id)(r) == id)
            .unwrap_or_else(|| panic!("the simulator holds no live {} {id}", ty.kind))
    }

    /// Sends a request to the provider's API with a token of its own;
    /// returns the JSON answer (`null` for none). Fails unless 2xx.
    async fn api(&self, call: ApiCall) -> Value {
        let token = self.control().issue_access_token();
        let url = format!("{}{}", self.sim.base_url(), call.path);
        let method = reqwest::Method::from_bytes(call.method.as_bytes()).unwrap();
        let mut request = reqwest::Client::new()
            .request(method, &url)
            .bearer_auth(token);
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let response = request.send().await.expect("the simulator answers");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "{} {url} answered {status}: {text}",
            call.method
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Pulls every page of `ty` (asking for its associations), retrying a
    /// page from the same cursor as the transfer queue would. `between(n)`
    /// runs after the n-th page (1-based) and before the next is asked for.
    async fn pull_all(
        &self,
        ty: &TypeCase,
        since: Option<&str>,
        page_size: u32,
        between: impl AsyncFnMut(usize),
    ) -> Pulled {
        self.pull_all_with(ty, since, page_size, false, between)
            .await
    }

    /// [`Harness::pull_all`], asking for each record's provider record too
    /// when `include_remote`.
    async fn pull_all_with(
        &self,
        ty: &TypeCase,
        since: Option<&str>,
        page_size: u32,
        include_remote: bool,
        mut between: impl AsyncFnMut(usize),
    ) -> Pulled {
        let associations: Vec<String> = self
            .links(ty)
            .iter()
            .map(|l| l.endgrate_type.to_owned())
            .collect();
        let mut records = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let request = PullRequest {
                endgrate_type: ty.endgrate_type.to_owned(),
                cursor: cursor.clone(),
                since: since.map(str::to_owned),
                page_size,
                params: json!({}),
                associations: associations.clone(),
                include_remote,
                passthrough_fields: Vec::new(),
            };
            let page = retrying(|| {
                self.runtime
                    .pull(self.id(), &self.conn, self.credential(), &request)
            })
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "pulling {} failed on page {} (cursor {cursor:?}): {e}",
                    ty.endgrate_type,
                    pages + 1
                )
            });
            pages += 1;
            assert!(
                page.records.len() <= page_size.max(self.case.min_page_size) as usize,
                "page {pages} of {} holds {} records, more than the {page_size} asked for",
                ty.endgrate_type,
                page.records.len(),
            );
            records.extend(page.records);
            match page.next_cursor {
                Some(next) => {
                    assert_ne!(
                        Some(&next),
                        cursor.as_ref(),
                        "page {pages} of {} gave its own cursor back",
                        ty.endgrate_type
                    );
                    assert!(pages < 1000, "the pull of {} never ends", ty.endgrate_type);
                    cursor = Some(next);
                    between(pages).await;
                }
                None => return Pulled { records, pages },
            }
        }
    }

    /// Asserts that `pulled` is the simulator's data set of `ty` exactly:
    /// every live record once, none other, field by field, schema-valid,
    /// with its associations.
    fn assert_is_data_set(&self, ty: &TypeCase, pulled: &Pulled) {
        let by_id = once_each(ty, &pulled.records);
        let raw = self.raw(ty);
        let expected_ids: BTreeSet<String> = raw.iter().map(ty.id).collect();
        assert_eq!(
            expected_ids.len(),
            raw.len(),
            "the simulator's ids are unique"
        );
        let got: BTreeSet<String> = by_id.keys().cloned().collect();
        assert_same_ids(ty, "a full pull", &expected_ids, &got);
        let links = self.links(ty);
        let mut problems = Vec::new();
        for record in &raw {
            let id = (ty.id)(record);
            let pulled = by_id[&id];
            if pulled.deleted {
                problems.push(format!("{id}: reported deleted"));
            }
            problems.extend(
                record_problems(ty, record, pulled, links.as_ref())
                    .into_iter()
                    .map(|p| format!("{id}: {p}")),
            );
        }
        assert_no_problems(ty, "full pull", &problems);
    }

    /// Pushes `items` as the transfer engine would: a whole-call
    /// `rate-limited` or `transient` error retries the batch, such an error
    /// of one item retries that item; any other error fails the check.
    async fn push_all(&self, ty: &TypeCase, items: &[PushItem]) -> Vec<Pushed> {
        assert!(
            items.len() <= self.max_push_batch,
            "the manifest allows batches of {}",
            self.max_push_batch
        );
        let mut results: Vec<Option<Pushed>> = vec![None; items.len()];
        let mut pending: Vec<usize> = (0..items.len()).collect();
        let mut attempt = 0;
        while !pending.is_empty() {
            attempt += 1;
            let batch: Vec<PushItem> = pending.iter().map(|&i| items[i].clone()).collect();
            let outcome = self
                .runtime
                .push(
                    self.id(),
                    &self.conn,
                    self.credential(),
                    ty.endgrate_type,
                    &batch,
                )
                .await;
            let wait =
                match outcome {
                    Err(err) => retry_delay(&err, attempt)
                        .filter(|_| attempt < MAX_ATTEMPTS)
                        .unwrap_or_else(|| {
                            panic!(
                                "pushing {} failed (attempt {attempt}): {err}",
                                ty.endgrate_type
                            )
                        }),
                    Ok(out) => {
                        assert_eq!(out.len(), batch.len(), "push answers one result per item");
                        let mut again = Vec::new();
                        for (&index, result) in pending.iter().zip(out) {
                            match result {
                                Ok(pushed) => results[index] = Some(pushed),
                                Err(
                                    ConnectorError::RateLimited(_) | ConnectorError::Transient(_),
                                ) if attempt < MAX_ATTEMPTS => again.push(index),
                                Err(err) => panic!(
                                    "pushing {} item {index} failed (attempt {attempt}): {err}\n{}",
                                    ty.endgrate_type, items[index].data
                                ),
                            }
                        }
                        pending = again;
                        POLICY.backoff(attempt)
                    }
                };
            if !pending.is_empty() {
                tokio::time::sleep(wait).await;
            }
        }
        results.into_iter().map(Option::unwrap).collect()
    }

    /// Asserts that the simulator stores, under `id`, what `data` (a pushed
    /// common-model record) says, on every field the connector maps; and
    /// that `pushed.data` agrees with it.
    fn assert_stored(&self, ty: &TypeCase, id: &str, data: &Value, pushed: Option<&Pushed>) {
        let raw = self.raw_record(ty, id);
        let stored = (ty.expected)(&raw);
        let mut problems: Vec<String> = view(ty.endgrate_type, data)
            .into_iter()
            .filter(|(field, value)| !value.is_null() && stored.contains_key(field))
            .filter(|(field, value)| stored[field] != *value)
            .map(|(field, value)| format!("{field}: pushed {value}, stored {}", stored[&field]))
            .collect();
        if let Some(pushed) = pushed {
            let answered: Value = serde_json::from_str(&pushed.data)
                .unwrap_or_else(|e| panic!("pushed data {:?} is not JSON: {e}", pushed.data));
            assert!(
                answered.is_object(),
                "pushed data must be an object: {answered}"
            );
            problems.extend(schema_problems(ty, &answered));
            problems.extend(
                view(ty.endgrate_type, &answered)
                    .into_iter()
                    .filter(|(field, value)| {
                        field != "updated_at" && !value.is_null() && stored.contains_key(field)
                    })
                    .filter(|(field, value)| stored[field] != *value)
                    .map(|(field, value)| {
                        format!(
                            "{field}: the push answered {value}, stored {}",
                            stored[&field]
                        )
                    }),
            );
        }
        let problems: Vec<String> = problems.into_iter().map(|p| format!("{id}: {p}")).collect();
        assert_no_problems(ty, "push", &problems);
    }

    /// `find-match` of `keys` among the records of `ty`.
    async fn find_match(&self, ty: &TypeCase, keys: &Value) -> Option<String> {
        self.runtime
            .find_match(
                self.id(),
                &self.conn,
                self.credential(),
                ty.endgrate_type,
                keys,
            )
            .await
            .unwrap_or_else(|e| panic!("{}: find-match {keys} failed: {e}", ty.endgrate_type))
    }

    fn count(&self, ty: &TypeCase) -> usize {
        self.raw(ty).len()
    }
}

/// Runs `call` until it succeeds or fails for good, waiting between
/// attempts as the transfer queue does (scaled down).
async fn retrying<T, F, Fut>(mut call: F) -> Result<T, CallError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CallError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call().await {
            Err(err) if attempt < MAX_ATTEMPTS => match retry_delay(&err, attempt) {
                Some(wait) => tokio::time::sleep(wait).await,
                None => return Err(err),
            },
            outcome => return outcome,
        }
    }
}

/// The transfer queue's retry policy, with backoffs scaled down.
const POLICY: RetryPolicy = RetryPolicy {
    base: Duration::from_millis(25),
    max: Duration::from_secs(1),
    max_attempts: MAX_ATTEMPTS,
};

/// How long the transfer queue waits before retrying a step that failed with
/// `err`; `None` when it does not retry.
fn retry_delay(err: &CallError, attempt: u32) -> Option<Duration> {
    match POLICY.decide(&classify("", err.clone()), attempt.saturating_sub(1)) {
        Decision::Again { after, .. } => Some(after),
        Decision::AwaitReauth | Decision::GiveUp => None,
    }
}

fn once_each<'a>(ty: &TypeCase, records: &'a [PulledRecord]) -> BTreeMap<String, &'a PulledRecord> {
    let mut by_id = BTreeMap::new();
    let mut twice = BTreeSet::new();
    for record in records {
        if by_id.insert(record.id.clone(), record).is_some() {
            twice.insert(record.id.clone());
        }
    }
    assert!(
        twice.is_empty(),
        "{}: {} ids pulled more than once, e.g. {:?}",
        ty.endgrate_type,
        twice.len(),
        twice.iter().take(5).collect::<Vec<_>>()
    );
    by_id
}

fn assert_same_ids(ty: &TypeCase, what: &str, expected: &BTreeSet<String>, got: &BTreeSet<String>) {
    let missing: Vec<&String> = expected.difference(got).collect();
    let extra: Vec<&String> = got.difference(expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{}: {what} returned {} records for {} expected; missing {} (e.g. {:?}), unexpected {} (e.g. {:?})",
        ty.endgrate_type,
        got.len(),
        expected.len(),
        missing.len(),
        missing.iter().take(5).collect::<Vec<_>>(),
        extra.len(),
        extra.iter().take(5).collect::<Vec<_>>()
    );
}

fn assert_no_problems(ty: &TypeCase, what: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{}: {what}: {} differences from the simulator, e.g.\n  {}",
        ty.endgrate_type,
        problems.len(),
        problems
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ")
    );
}

/// What is wrong with one pulled record against its raw original: fields,
/// schema, associations.
fn record_problems(
    ty: &TypeCase,
    raw: &Value,
    pulled: &PulledRecord,
    links: Option<&Links>,
) -> Vec<String> {
    let data: Value = match serde_json::from_str(&pulled.data) {
        Ok(data @ Value::Object(_)) => data,
        Ok(other) => return vec![format!("data is not an object: {other}")],
        Err(e) => return vec![format!("data is not JSON ({e}): {:?}", pulled.data)],
    };
    let expected = (ty.expected)(raw);
    let actual = view(ty.endgrate_type, &data);
    let mut problems: Vec<String> = expected
        .iter()
        .filter(|(field, value)| actual.get(*field).unwrap_or(&Value::Null) != *value)
        .map(|(field, value)| {
            format!(
                "{field}: expected {value}, got {}",
                actual.get(field).unwrap_or(&Value::Null)
            )
        })
        .collect();
    problems.extend(schema_problems(ty, &data));
    if let Some(links) = links {
        let want = links.by_id.get(&pulled.id).cloned().unwrap_or_default();
        let got = sorted(
            pulled
                .associations
                .iter()
                .filter(|(t, _)| t == links.endgrate_type)
                .flat_map(|(_, ids)| ids.iter().cloned())
                .collect(),
        );
        if want != got {
            problems.push(format!(
                "{} associations: expected {want:?}, got {got:?}",
                links.endgrate_type
            ));
        }
    }
    problems
}

fn schema_problems(ty: &TypeCase, data: &Value) -> Vec<String> {
    let validator = Validator::for_default(ty.endgrate_type)
        .unwrap_or_else(|| panic!("{} has no default schema", ty.endgrate_type));
    match validator.validate(data) {
        Ok(()) => Vec::new(),
        Err(violations) => violations
            .into_iter()
            .map(|v| format!("schema: {} at {:?}", v.message, v.path))
            .collect(),
    }
}

/// An RFC 3339 instant, whole seconds, one second before now: an incremental
/// pull `since` it sees every later change and none of the generated history
/// (which is years older).
fn since_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    OffsetDateTime::from_unix_timestamp(now as i64 - 1)
        .unwrap()
        .format(&Rfc3339)
        .unwrap()
}

// ---------------------------------------------------------------------------
// The checks, each run for every case.

async fn connection(case: &'static Case) {
    let h = Harness::start(case).await;
    let manifest = h.runtime.manifest(h.id()).unwrap();
    for ty in &case.types {
        let integration = manifest
            .integration(ty.endgrate_type)
            .unwrap_or_else(|| panic!("the manifest does not list {}", ty.endgrate_type));
        assert!(
            integration.supports_pull && integration.supports_push,
            "{} must support pull and push",
            ty.endgrate_type
        );
    }
    h.runtime
        .check(h.id(), &h.conn, h.credential())
        .await
        .unwrap_or_else(|e| panic!("check failed with the simulator's token: {e}"));
    let rejected: Arc<dyn CredentialSource> = Arc::new(StaticCredential(Secret::new(
        "not-a-token-of-this-provider",
    )));
    match h.runtime.check(h.id(), &h.conn, Some(rejected)).await {
        Err(CallError::Connector {
            error: ConnectorError::Unauthorized(_),
            ..
        }) => {}
        other => panic!("check with a rejected credential must be unauthorized, got {other:?}"),
    }
}

async fn full_pull(case: &'static Case) {
    let h = Harness::start(case).await;
    for ty in &case.types {
        let before = h.runtime.prefetch_counts();
        let pulled = h.pull_all(ty, None, h.page_size, async |_| {}).await;
        assert!(
            pulled.pages >= 2,
            "{}: {} records came in one page of {}: no paging was exercised",
            ty.endgrate_type,
            pulled.records.len(),
            h.page_size
        );
        h.assert_is_data_set(ty, &pulled);
        // Where the connector declares its paging (or asks for the next page
        // itself), every page after the first was fetched ahead (while the
        // previous one was mapped), and no prefetched page went to waste.
        let declared = h
            .manifest
            .integration(ty.endgrate_type)
            .is_some_and(|i| !i.paging.is_empty());
        if declared || case.prefetches_itself {
            let after = h.runtime.prefetch_counts();
            let (started, served) = (after.started - before.started, after.served - before.served);
            assert!(
                served as usize >= pulled.pages - 1,
                "{}: {served} of {} pages came prefetched",
                ty.endgrate_type,
                pulled.pages
            );
            assert_eq!(started, served, "{}: prefetches wasted", ty.endgrate_type);
        }
    }
}

/// `include-remote`: each pulled record carries the provider's record as the
/// provider returned it, with the record's id and the simulator's values on
/// every field the connector maps; a pull that does not ask gets none.
async fn remote_records_are_the_providers(case: &'static Case) {
    let h = Harness::start(case).await;
    for ty in &case.types {
        let held: BTreeMap<String, Value> =
            h.raw(ty).into_iter().map(|r| ((ty.id)(&r), r)).collect();
        let pulled = h
            .pull_all_with(ty, None, h.page_size, true, async |_| {})
            .await;
        assert_eq!(pulled.records.len(), held.len(), "{}", ty.endgrate_type);
        let mut problems = Vec::new();
        for record in &pulled.records {
            let Some(text) = &record.remote else {
                problems.push(format!("{}: no remote record", record.id));
                continue;
            };
            let remote: Value = match serde_json::from_str(text) {
                Ok(v) => v,
                Err(e) => {
                    problems.push(format!("{}: remote record is not JSON: {e}", record.id));
                    continue;
                }
            };
            if (ty.id)(&remote) != record.id {
                problems.push(format!(
                    "{}: remote record of id {}",
                    record.id,
                    (ty.id)(&remote)
                ));
            }
            match held.get(&record.id) {
                Some(raw) if (ty.expected)(&remote) != (ty.expected)(raw) => {
                    problems.push(format!(
                        "{}: remote record {remote} differs from the simulator's {raw}",
                        record.id
                    ))
                }
                Some(_) => {}
                None => problems.push(format!("{}: not the simulator's record", record.id)),
            }
        }
        assert_no_problems(ty, "remote records", &problems);
        let plain = h.pull_all(ty, None, h.page_size, async |_| {}).await;
        assert!(
            plain.records.iter().all(|r| r.remote.is_none()),
            "{}: remote records nobody asked for",
            ty.endgrate_type
        );
    }
}

/// Discovery lists the provider's fields (custom ones marked), and a pull
/// asking for the custom ones carries their values as the provider holds
/// them. A connector without discovery lists nothing.
async fn discovery_lists_the_providers_fields(case: &'static Case) {
    let h = Harness::start(case).await;
    for ty in &case.types {
        let listed = h
            .runtime
            .list_fields(h.id(), &h.conn, h.credential(), ty.endgrate_type)
            .await
            .unwrap_or_else(|e| panic!("{}: listing fields failed: {e}", ty.endgrate_type));
        let Some(discovery) = &ty.discovery else {
            assert!(
                listed.is_empty(),
                "{}: fields listed without discovery",
                ty.endgrate_type
            );
            continue;
        };
        let definitions = (discovery.definitions)(&h.api((discovery.call)(&h.sim)).await);
        let expected: BTreeMap<String, bool> = definitions
            .iter()
            .map(|d| ((discovery.name)(d), (discovery.custom)(d)))
            .collect();
        let got: BTreeMap<String, bool> =
            listed.iter().map(|f| (f.name.clone(), f.custom)).collect();
        assert_eq!(
            got, expected,
            "{}: the fields and which are custom",
            ty.endgrate_type
        );
        let custom: Vec<String> = listed
            .iter()
            .filter(|f| f.custom)
            .map(|f| f.name.clone())
            .collect();
        assert!(
            !custom.is_empty(),
            "{}: the simulator seeds custom fields",
            ty.endgrate_type
        );
        assert!(
            listed.iter().filter(|f| f.custom).all(|f| !f.mapped),
            "{}: a custom field cannot be mapped",
            ty.endgrate_type
        );

        let held: BTreeMap<String, Value> =
            h.raw(ty).into_iter().map(|r| ((ty.id)(&r), r)).collect();
        let request = PullRequest {
            endgrate_type: ty.endgrate_type.to_owned(),
            cursor: None,
            since: None,
            page_size: h.page_size,
            params: json!({}),
            associations: Vec::new(),
            include_remote: false,
            passthrough_fields: custom.clone(),
        };
        let page = retrying(|| h.runtime.pull(h.id(), &h.conn, h.credential(), &request))
            .await
            .unwrap_or_else(|e| panic!("{}: pull failed: {e}", ty.endgrate_type));
        assert!(!page.records.is_empty());
        let mut problems = Vec::new();
        for record in &page.records {
            let raw = &held[&record.id];
            let values: Map<String, Value> = record
                .passthrough
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or_default();
            for name in &custom {
                let want = (discovery.value)(raw, name);
                if values.get(name) != want.as_ref() {
                    problems.push(format!(
                        "{}: {name}: expected {want:?}, got {:?}",
                        record.id,
                        values.get(name)
                    ));
                }
            }
        }
        assert_no_problems(ty, "passthrough values", &problems);

        // A pushed record sets a custom field: the value another record holds.
        let (name, value) = custom
            .iter()
            .find_map(|name| {
                let value = held.values().find_map(|raw| (discovery.value)(raw, name))?;
                Some((name, value))
            })
            .unwrap_or_else(|| panic!("{}: no record holds a custom field", ty.endgrate_type));
        // Linked to a record of the other type where the type links (an
        // invoice needs its customer).
        let associations: Vec<(String, Vec<String>)> = match &ty.link {
            Some(link) => {
                let other = case
                    .types
                    .iter()
                    .find(|t| t.endgrate_type == link.endgrate_type)
                    .expect("the linked type is a type of the case");
                let id = h
                    .raw(other)
                    .first()
                    .map(other.id)
                    .expect("a record to link to");
                vec![(link.endgrate_type.to_owned(), vec![id])]
            }
            None => Vec::new(),
        };
        let mut items = creates(&[new_record(ty.endgrate_type, 901)], &associations);
        items[0].passthrough = Some(json!({ name.clone(): value.clone() }));
        let results = h
            .runtime
            .push(h.id(), &h.conn, h.credential(), ty.endgrate_type, &items)
            .await
            .unwrap_or_else(|e| panic!("{}: push failed: {e}", ty.endgrate_type));
        let pushed = match &results[0] {
            Ok(pushed) => pushed.id.clone(),
            Err(e) => panic!("{}: the item failed: {e}", ty.endgrate_type),
        };
        let created = h
            .raw(ty)
            .into_iter()
            .find(|r| (ty.id)(r) == pushed)
            .unwrap_or_else(|| panic!("{}: {pushed} is not at the provider", ty.endgrate_type));
        assert_eq!(
            (discovery.value)(&created, name),
            Some(value),
            "{}: the pushed {name}",
            ty.endgrate_type
        );
    }
}

/// A custom object: listed by discovery with its fields (the unique one
/// marked), pulled page by page with every record exactly once and each
/// field's value as the provider holds it, created exactly once per pushed
/// record, found by its unique field, and updated in place.
async fn custom_object_pulls_and_pushes_exactly_once(case: &'static Case) {
    let h = Harness::start(case).await;
    let objects = h
        .runtime
        .list_objects(h.id(), &h.conn, h.credential())
        .await
        .unwrap_or_else(|e| panic!("listing objects failed: {e}"));
    let Some(oc) = &case.object else {
        assert!(
            objects.is_empty(),
            "objects listed without any: {objects:?}"
        );
        return;
    };
    let object = objects
        .iter()
        .find(|o| o.name == oc.name)
        .unwrap_or_else(|| panic!("{} is not listed: {objects:?}", oc.name));
    assert!(object.custom && object.supports_pull && object.supports_push);
    let subject = format!("object:{}", oc.name);
    let fields = h
        .runtime
        .list_fields(h.id(), &h.conn, h.credential(), &subject)
        .await
        .unwrap_or_else(|e| panic!("{subject}: listing fields failed: {e}"));
    assert!(
        fields.iter().any(|f| f.name == oc.unique && f.unique),
        "{subject}: {} is unique: {fields:?}",
        oc.unique
    );
    let names: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();

    // Every record once, with each field as the provider holds it.
    let held: BTreeMap<String, Value> = h
        .control()
        .records(oc.kind)
        .unwrap_or_else(|| panic!("the simulator has no {} records", oc.kind))
        .into_iter()
        .map(|r| ((oc.id)(&r), r))
        .collect();
    assert!(held.len() > h.page_size as usize, "more than one page");
    let mut pulled: Vec<String> = Vec::new();
    let mut problems = Vec::new();
    let mut cursor = None;
    loop {
        let request = PullRequest {
            endgrate_type: subject.clone(),
            cursor: cursor.clone(),
            since: None,
            page_size: h.page_size,
            params: json!({}),
            associations: Vec::new(),
            include_remote: false,
            passthrough_fields: names.clone(),
        };
        let page = retrying(|| h.runtime.pull(h.id(), &h.conn, h.credential(), &request))
            .await
            .unwrap_or_else(|e| panic!("{subject}: pull failed: {e}"));
        for record in &page.records {
            pulled.push(record.id.clone());
            let Some(raw) = held.get(&record.id) else {
                problems.push(format!("{}: not at the provider", record.id));
                continue;
            };
            let data: Map<String, Value> = serde_json::from_str(&record.data).unwrap_or_default();
            for name in &names {
                let want = (oc.value)(raw, name);
                if want.is_some() && data.get(name) != want.as_ref() {
                    problems.push(format!(
                        "{}: {name}: expected {want:?}, got {:?}",
                        record.id,
                        data.get(name)
                    ));
                }
            }
        }
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert!(problems.is_empty(), "{subject}: {problems:#?}");
    let unique: BTreeSet<&String> = pulled.iter().collect();
    assert_eq!(unique.len(), pulled.len(), "{subject}: a record came twice");
    assert_eq!(
        unique,
        held.keys().collect::<BTreeSet<_>>(),
        "{subject}: every record"
    );

    // Two creates make two records, each findable by its unique value.
    let before = held.len();
    let items = creates(&[(oc.new_record)(1), (oc.new_record)(2)], &[]);
    let results = h
        .runtime
        .push(h.id(), &h.conn, h.credential(), &subject, &items)
        .await
        .unwrap_or_else(|e| panic!("{subject}: push failed: {e}"));
    let ids: Vec<String> = results
        .iter()
        .map(|r| match r {
            Ok(pushed) if pushed.created => pushed.id.clone(),
            other => panic!("{subject}: a create failed: {other:?}"),
        })
        .collect();
    let after = h.control().records(oc.kind).unwrap_or_default();
    assert_eq!(after.len(), before + 2, "{subject}: created exactly once");
    let key = (oc.new_record)(1)[oc.unique].clone();
    let created = after
        .iter()
        .find(|r| (oc.id)(r) == ids[0])
        .unwrap_or_else(|| panic!("{subject}: {} is not at the provider", ids[0]));
    assert_eq!(
        (oc.value)(created, oc.unique).map(|v| v.as_str().map(str::to_owned)),
        Some(key.as_str().map(str::to_owned)),
        "{subject}: the pushed {}",
        oc.unique
    );
    let found = h
        .runtime
        .find_matches(
            h.id(),
            &h.conn,
            h.credential(),
            &subject,
            &[
                vec![json!({ oc.unique: key })],
                vec![json!({ oc.unique: "NOT-THERE-1" })],
            ],
        )
        .await
        .unwrap_or_else(|e| panic!("{subject}: lookup failed: {e}"));
    assert_eq!(found.len(), 2);
    assert_eq!(
        found[0],
        Ok(Some(ids[0].clone())),
        "{subject}: found by key"
    );
    assert_eq!(
        found[1],
        Ok(None),
        "{subject}: an unknown key finds nothing"
    );

    // An update changes the record in place.
    let (field, value) = oc.change;
    let mut update = creates(&[json!({ field: value })], &[]);
    update[0].id = Some(ids[0].clone());
    let results = h
        .runtime
        .push(h.id(), &h.conn, h.credential(), &subject, &update)
        .await
        .unwrap_or_else(|e| panic!("{subject}: update failed: {e}"));
    assert!(
        matches!(&results[0], Ok(p) if !p.created && p.id == ids[0]),
        "{subject}: {results:?}"
    );
    let after_update = h.control().records(oc.kind).unwrap_or_default();
    assert_eq!(after_update.len(), before + 2, "{subject}: no record added");
    let changed = after_update
        .iter()
        .find(|r| (oc.id)(r) == ids[0])
        .expect("still there");
    assert_eq!(
        (oc.value)(changed, field),
        Some(json!(value)),
        "{subject}: the updated {field}"
    );
}

async fn incremental_pull(case: &'static Case) {
    let h = Harness::start(case).await;
    let since = since_now();
    for ty in &case.types {
        let raw = h.raw(ty);
        let mut updated = BTreeSet::new();
        for (n, record) in [&raw[2], &raw[5], &raw[7]].into_iter().enumerate() {
            h.api((ty.update)(&h.sim, record, n as u32)).await;
            updated.insert((ty.id)(record));
        }
        let mut deleted = BTreeSet::new();
        if let Some(delete) = ty.delete {
            h.api(delete(&h.sim, &raw[8])).await;
            deleted.insert((ty.id)(&raw[8]));
        }
        let seeded = h
            .control()
            .seed_record(ty.kind, (ty.seed)())
            .unwrap_or_else(|e| panic!("seeding a {} failed: {e}", ty.kind));
        let created = (ty.id)(&seeded);
        assert_eq!(h.count(ty), raw.len() + 1 - deleted.len());

        let pulled = h
            .pull_all(ty, Some(&since), INCREMENTAL_PAGE_SIZE, async |_| {})
            .await;
        assert!(
            pulled.pages >= 2 || case.min_page_size > INCREMENTAL_PAGE_SIZE,
            "{}: {} changes came in one page of {INCREMENTAL_PAGE_SIZE}",
            ty.endgrate_type,
            pulled.records.len()
        );
        let by_id = once_each(ty, &pulled.records);
        let live: BTreeSet<String> = by_id
            .values()
            .filter(|r| !r.deleted)
            .map(|r| r.id.clone())
            .collect();
        let gone: BTreeSet<String> = by_id
            .values()
            .filter(|r| r.deleted)
            .map(|r| r.id.clone())
            .collect();
        let mut changed = updated.clone();
        changed.insert(created);
        assert_same_ids(ty, "an incremental pull (live records)", &changed, &live);
        if ty.reports_deletions {
            assert_eq!(gone, deleted, "{}: deletions reported", ty.endgrate_type);
        } else {
            assert!(
                gone.is_subset(&deleted),
                "{}: reported deleted but were not: {:?}",
                ty.endgrate_type,
                gone.difference(&deleted).collect::<Vec<_>>()
            );
        }
        let links = h.links(ty);
        let mut problems = Vec::new();
        for id in &changed {
            let raw = h.raw_record(ty, id);
            problems.extend(
                record_problems(ty, &raw, by_id[id], links.as_ref())
                    .into_iter()
                    .map(|p| format!("{id}: {p}")),
            );
        }
        assert_no_problems(ty, "incremental pull", &problems);
    }
}

/// Records change while an incremental pull runs: five change before it,
/// then the first of them changes again once the first page is read. The
/// pull still returns every record changed before it started, and only
/// those; a record comes twice only if it changed during the pull, and the
/// last version of each is the simulator's.
async fn incremental_pull_while_records_change(case: &'static Case) {
    let h = Harness::start(case).await;
    let since = since_now();
    for ty in &case.types {
        let raw = h.raw(ty);
        let targets = [&raw[2], &raw[5], &raw[7], &raw[9], &raw[11]];
        for (n, record) in targets.iter().enumerate() {
            h.api((ty.update)(&h.sim, record, n as u32)).await;
        }
        let changed: BTreeSet<String> = targets.iter().map(|r| (ty.id)(r)).collect();
        let moved = (ty.id)(targets[0]);
        let pulled = h
            .pull_all(ty, Some(&since), INCREMENTAL_PAGE_SIZE, async |page| {
                if page == 1 {
                    let current = h.raw_record(ty, &moved);
                    h.api((ty.update)(&h.sim, &current, 99)).await;
                }
            })
            .await;
        let mut last: BTreeMap<String, &PulledRecord> = BTreeMap::new();
        let mut twice = BTreeSet::new();
        for record in &pulled.records {
            if last.insert(record.id.clone(), record).is_some() {
                twice.insert(record.id.clone());
            }
        }
        let got: BTreeSet<String> = last.keys().cloned().collect();
        assert_same_ids(ty, "an incremental pull during changes", &changed, &got);
        assert!(
            twice.iter().all(|id| *id == moved),
            "{}: {twice:?} came twice, but only {moved} changed during the pull",
            ty.endgrate_type
        );
        let links = h.links(ty);
        let mut problems = Vec::new();
        for (id, record) in &last {
            let raw = h.raw_record(ty, id);
            if *id == moved && !twice.contains(id) {
                // Pulled once, before or after its second change.
                continue;
            }
            problems.extend(
                record_problems(ty, &raw, record, links.as_ref())
                    .into_iter()
                    .map(|p| format!("{id}: {p}")),
            );
        }
        assert_no_problems(ty, "incremental pull during changes", &problems);
    }
}

/// A record already returned is deleted while a full pull runs (for types
/// the provider deletes): every record that outlives the pull still comes,
/// exactly once and as the simulator holds it.
async fn full_pull_while_records_are_deleted(case: &'static Case) {
    let h = Harness::start(case).await;
    let mut deleted_any = false;
    for ty in &case.types {
        let Some(delete) = ty.delete else {
            continue;
        };
        let raw = h.raw(ty);
        let victim = raw[1].clone();
        let victim_id = (ty.id)(&victim);
        let mut struck = false;
        let pulled = h
            .pull_all(ty, None, h.page_size, async |page| {
                if page == 1 {
                    h.api(delete(&h.sim, &victim)).await;
                    struck = true;
                }
            })
            .await;
        assert!(struck, "{}: one page only", ty.endgrate_type);
        deleted_any = true;
        let mut records = pulled.records;
        records.retain(|r| r.id != victim_id);
        h.assert_is_data_set(
            ty,
            &Pulled {
                records,
                pages: pulled.pages,
            },
        );
    }
    assert!(
        deleted_any || case.types.iter().all(|t| t.delete.is_none()),
        "no type was checked"
    );
}

/// The faults a pull must survive.
#[derive(Debug, Clone, Copy)]
enum Fault {
    Throttled,
    ServerErrors,
    TokensExpired,
    /// Responses cut in the middle of the body.
    Cut,
}

async fn pull_through(case: &'static Case, fault: Fault) {
    let h = Harness::start(case).await;
    let ty = &case.types[0];
    let control = h.control().clone();
    let requests_before = control.total_requests();
    let mut struck = false;
    let pulled = h
        .pull_all(ty, None, h.page_size, async |page| {
            if page == 1 {
                struck = true;
                match fault {
                    Fault::Throttled => control.throttle_next(BURST),
                    Fault::ServerErrors => control.fail_next(BURST, 503),
                    Fault::TokensExpired => control.expire_tokens(),
                    Fault::Cut => control.cut_next(2),
                }
            }
        })
        .await;
    assert!(struck, "the pull ended before the fault was injected");
    h.assert_is_data_set(ty, &pulled);
    let requests = (control.total_requests() - requests_before) as usize;
    match fault {
        Fault::Throttled | Fault::ServerErrors => assert!(
            requests >= pulled.pages + BURST as usize,
            "{fault:?}: {requests} requests for {} pages: the burst of {BURST} did not happen",
            pulled.pages
        ),
        Fault::Cut => assert!(
            requests >= pulled.pages + 2,
            "{requests} requests for {} pages: the two cut answers were not read again",
            pulled.pages
        ),
        Fault::TokensExpired => {
            assert_eq!(
                h.credential.refreshes(),
                1,
                "the expired token is refreshed exactly once"
            );
            assert!(
                requests > pulled.pages,
                "the rejected request was not retried"
            );
        }
    }
}

async fn malformed_json_names_the_provider(case: &'static Case) {
    let h = Harness::start(case).await;
    let ty = &case.types[0];
    let request = |cursor: Option<String>| PullRequest {
        endgrate_type: ty.endgrate_type.to_owned(),
        cursor,
        since: None,
        page_size: h.page_size,
        params: json!({}),
        associations: Vec::new(),
        include_remote: false,
        passthrough_fields: Vec::new(),
    };
    let first_request = request(None);
    let first = retrying(|| {
        h.runtime
            .pull(h.id(), &h.conn, h.credential(), &first_request)
    })
    .await
    .unwrap_or_else(|e| panic!("the first page failed: {e}"));
    let cursor = first.next_cursor.expect("the data set has a second page");
    // The host may be prefetching the second page: let that request be
    // answered before the fault is armed.
    let settled = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let counts = h.runtime.prefetch_counts();
        if counts.finished == counts.started {
            break;
        }
        assert!(
            tokio::time::Instant::now() < settled,
            "a prefetch never ended"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    h.control().malform_next(1);
    let second = request(Some(cursor));
    // Under another connection key, so the page the host prefetched does not
    // answer it: the connector's own request must meet the malformed answer.
    let elsewhere = Connection {
        key: format!("{}-second", h.conn.key),
        ..h.conn.clone()
    };
    match h
        .runtime
        .pull(h.id(), &elsewhere, h.credential(), &second)
        .await
    {
        Err(CallError::Connector {
            error: ConnectorError::Fatal(message),
            ..
        }) => {
            assert!(
                message.contains(&h.display_name),
                "the error must name {}: {message}",
                h.display_name
            );
            assert!(
                message.to_ascii_lowercase().contains("json"),
                "the error must say the JSON was malformed: {message}"
            );
        }
        other => panic!("malformed JSON must be a fatal error naming the provider, got {other:?}"),
    }
    let again = h
        .runtime
        .pull(h.id(), &h.conn, h.credential(), &second)
        .await
        .unwrap_or_else(|e| panic!("the same page read again failed: {e}"));
    assert!(!again.records.is_empty(), "the second page is not empty");
}

/// Lookups of existing records, a batch at a time (`find-matches`, as every
/// push asks them): each record is found by its own upsert keys, the answer
/// agrees with asking `find-match` key set by key set, and a record nobody
/// has is not found.
async fn batched_lookups_find_every_record(case: &'static Case) {
    let h = Harness::start(case).await;
    for ty in &case.types {
        let pulled = h.pull_all(ty, None, h.page_size, async |_| {}).await;
        let mut asked: Vec<(String, Vec<Value>)> = pulled
            .records
            .iter()
            .filter_map(|r| {
                let data: Value = serde_json::from_str(&r.data).ok()?;
                let keys = upsert_keys(ty.endgrate_type, &data);
                (!keys.is_empty()).then(|| (r.id.clone(), keys))
            })
            .take(h.max_push_batch.min(25))
            .collect();
        if asked.is_empty() {
            continue;
        }
        let nobody = upsert_keys(ty.endgrate_type, &new_record(ty.endgrate_type, 987_654));
        asked.push(("nobody".into(), nobody));
        let items: Vec<Vec<Value>> = asked.iter().map(|(_, keys)| keys.clone()).collect();
        let answers = retrying(|| {
            h.runtime
                .find_matches(h.id(), &h.conn, h.credential(), ty.endgrate_type, &items)
        })
        .await
        .unwrap_or_else(|e| panic!("{}: find-matches failed: {e}", ty.endgrate_type));
        assert_eq!(answers.len(), items.len(), "one answer per item");
        for ((id, keys), answer) in asked.iter().zip(&answers) {
            let one_by_one = {
                let mut found = None;
                for key_set in keys {
                    match retrying(|| {
                        h.runtime.find_match(
                            h.id(),
                            &h.conn,
                            h.credential(),
                            ty.endgrate_type,
                            key_set,
                        )
                    })
                    .await
                    {
                        Ok(Some(hit)) => {
                            found = Some(hit);
                            break;
                        }
                        Ok(None)
                        | Err(CallError::Connector {
                            error: ConnectorError::Unsupported(_),
                            ..
                        }) => {}
                        Err(e) => panic!("{}: find-match failed: {e}", ty.endgrate_type),
                    }
                }
                found
            };
            let answer = answer
                .clone()
                .unwrap_or_else(|e| panic!("{}: the lookup of {id} failed: {e}", ty.endgrate_type));
            assert_eq!(answer, one_by_one, "{}: {id} by {keys:?}", ty.endgrate_type);
            if id == "nobody" {
                assert_eq!(
                    answer, None,
                    "{}: a record nobody has was found",
                    ty.endgrate_type
                );
            } else {
                // Another record may share the key (two contacts, one email);
                // then the lookup names one of them, the same as find-match.
                assert!(
                    answer.is_some(),
                    "{}: {id} not found by {keys:?}",
                    ty.endgrate_type
                );
            }
        }
    }
}

async fn push_create_update_upsert_associate(case: &'static Case) {
    let h = Harness::start(case).await;
    let parent = &case.types[case.parent];
    let child = &case.types[case.child];
    let link = child
        .link
        .as_ref()
        .expect("the child type of a case links to the parent type");
    assert_eq!(link.endgrate_type, parent.endgrate_type);
    let (parents_before, children_before) = (h.count(parent), h.count(child));

    // Two parents.
    let parent_data: Vec<Value> = (0..2)
        .map(|i| new_record(parent.endgrate_type, i))
        .collect();
    let parents = h.push_all(parent, &creates(&parent_data, &[])).await;
    // Three children of the first parent.
    let child_data: Vec<Value> = (0..3).map(|i| new_record(child.endgrate_type, i)).collect();
    let linked = [(parent.endgrate_type.to_owned(), vec![parents[0].id.clone()])];
    let children = h.push_all(child, &creates(&child_data, &linked)).await;

    for (ty, pushed) in [(parent, &parents), (child, &children)] {
        assert!(
            pushed.iter().all(|p| p.created && !p.id.is_empty()),
            "{}: every create reports created with an id: {pushed:?}",
            ty.endgrate_type
        );
        let ids: BTreeSet<&String> = pushed.iter().map(|p| &p.id).collect();
        assert_eq!(
            ids.len(),
            pushed.len(),
            "{}: distinct ids",
            ty.endgrate_type
        );
    }
    assert_eq!(
        h.count(parent),
        parents_before + 2,
        "{}: two created",
        parent.endgrate_type
    );
    assert_eq!(
        h.count(child),
        children_before + 3,
        "{}: three created",
        child.endgrate_type
    );
    for (pushed, data) in parents.iter().zip(&parent_data) {
        h.assert_stored(parent, &pushed.id, data, Some(pushed));
    }
    for (pushed, data) in children.iter().zip(&child_data) {
        h.assert_stored(child, &pushed.id, data, Some(pushed));
        let links = (link.ids)(&h.raw_record(child, &pushed.id));
        assert_eq!(
            links,
            vec![parents[0].id.clone()],
            "{} {} links to the parent pushed with it",
            child.endgrate_type,
            pushed.id
        );
    }

    // A parent pushed with a link to an existing child: the parent's side
    // of the association, where the parent type carries associations.
    let parent_side = h
        .manifest
        .integration(parent.endgrate_type)
        .is_some_and(|i| i.supports_associations);
    let mut parents_created = 2;
    if parent_side {
        let data = new_record(parent.endgrate_type, 2);
        let linked = [(child.endgrate_type.to_owned(), vec![children[1].id.clone()])];
        let third = h
            .push_all(parent, &creates(std::slice::from_ref(&data), &linked))
            .await
            .remove(0);
        assert!(third.created, "{}: created", parent.endgrate_type);
        parents_created = 3;
        assert_eq!(h.count(parent), parents_before + parents_created);
        h.assert_stored(parent, &third.id, &data, Some(&third));
        let links = (link.ids)(&h.raw_record(child, &children[1].id));
        assert!(
            links.contains(&third.id),
            "{} {} links to {} pushed with a link to it: {links:?}",
            child.endgrate_type,
            children[1].id,
            third.id
        );
    }

    // An update of the first child.
    let mut edited = child_data[0].clone();
    edit(child.endgrate_type, &mut edited);
    let update = PushItem {
        id: Some(children[0].id.clone()),
        idempotency_key: "conformance-update".into(),
        data: edited.clone(),
        associations: Vec::new(),
        passthrough: None,
    };
    let updated = h.push_all(child, &[update]).await;
    assert_eq!(updated[0].id, children[0].id, "an update keeps the id");
    assert!(!updated[0].created, "an update does not report created");
    assert_eq!(
        h.count(child),
        children_before + 3,
        "an update creates nothing"
    );
    h.assert_stored(child, &children[0].id, &edited, Some(&updated[0]));

    // Upserts. The host tries its upsert keys in order and updates the
    // first record found. For both types every key finds the record pushed
    // or nothing (a provider may be unable to match on a key, e.g. a
    // Pipedrive account without a website field on domains), never another
    // record; the host's order finds it; and people are found by email.
    for (ty, pushed, data) in [
        (parent, &parents[1], &parent_data[1]),
        (child, &children[1], &child_data[1]),
    ] {
        let keys = upsert_keys(ty.endgrate_type, data);
        let mut found = Vec::new();
        for key in &keys {
            let id = h.find_match(ty, key).await;
            assert!(
                id.is_none() || id.as_ref() == Some(&pushed.id),
                "{}: find-match {key} found {id:?}, not {}",
                ty.endgrate_type,
                pushed.id
            );
            found.push(id);
        }
        if !keys.is_empty() {
            assert_eq!(
                found.iter().flatten().next(),
                Some(&pushed.id),
                "{}: the host's upsert keys {keys:?} find nothing",
                ty.endgrate_type
            );
        }
        if ty.endgrate_type == case.types[0].endgrate_type {
            assert!(
                keys.first()
                    .is_some_and(|k| k.get("email_addresses").is_some()),
                "people are upserted by email first: {keys:?}"
            );
            assert_eq!(
                found[0].as_ref(),
                Some(&pushed.id),
                "find-match {}",
                keys[0]
            );
        }
    }
    let people = &case.types[0];
    let (person_id, person_data) = if case.parent == 0 {
        (&parents[1].id, &parent_data[1])
    } else {
        (&children[1].id, &child_data[1])
    };
    let unknown = json!({ "email_addresses": "nobody.conformance@example.org" });
    assert_eq!(
        h.find_match(people, &unknown).await,
        None,
        "find-match {unknown}"
    );
    let keys = &upsert_keys(people.endgrate_type, person_data)[0];
    let found = h.find_match(people, keys).await;
    let people_before = h.count(people);
    let mut changed = person_data.clone();
    edit(people.endgrate_type, &mut changed);
    let upsert = PushItem {
        id: found.clone(),
        idempotency_key: "conformance-upsert".into(),
        data: changed.clone(),
        associations: Vec::new(),
        passthrough: None,
    };
    let upserted = h.push_all(people, &[upsert]).await;
    assert_eq!(
        &upserted[0].id, person_id,
        "the upsert wrote the record found"
    );
    assert!(
        !upserted[0].created,
        "an upsert of a found record is an update"
    );
    assert_eq!(h.count(people), people_before, "the upsert creates nothing");
    h.assert_stored(people, person_id, &changed, Some(&upserted[0]));

    // The third child is linked to the second parent.
    h.runtime
        .associate(
            h.id(),
            &h.conn,
            h.credential(),
            (child.endgrate_type, &children[2].id),
            (parent.endgrate_type, &parents[1].id),
        )
        .await
        .unwrap_or_else(|e| panic!("associate failed: {e}"));
    let links = (link.ids)(&h.raw_record(child, &children[2].id));
    assert!(
        links.contains(&parents[1].id),
        "{} {} links to {} after associate: {links:?}",
        child.endgrate_type,
        children[2].id,
        parents[1].id
    );
    // The first child is linked to the second parent from the parent's side.
    h.runtime
        .associate(
            h.id(),
            &h.conn,
            h.credential(),
            (parent.endgrate_type, &parents[1].id),
            (child.endgrate_type, &children[0].id),
        )
        .await
        .unwrap_or_else(|e| panic!("associate from the parent's side failed: {e}"));
    let links = (link.ids)(&h.raw_record(child, &children[0].id));
    assert!(
        links.contains(&parents[1].id),
        "{} {} links to {} after associate from the parent: {links:?}",
        child.endgrate_type,
        children[0].id,
        parents[1].id
    );
    assert_eq!(h.count(parent), parents_before + parents_created);
    assert_eq!(h.count(child), children_before + 3);
}

async fn push_through_faults(case: &'static Case) {
    let h = Harness::start(case).await;
    let ty = &case.types[0];
    let before = h.count(ty);
    let data: Vec<Value> = (10..14).map(|i| new_record(ty.endgrate_type, i)).collect();
    // The token is rejected first, then come 429s (or the provider's limit
    // error), then 5xx: a request meets them in that order.
    h.control().expire_tokens();
    h.control().throttle_next(3);
    h.control().fail_next(2, 503);
    let pushed = h.push_all(ty, &creates(&data, &[])).await;
    assert_eq!(
        h.credential.refreshes(),
        1,
        "the expired token is refreshed once"
    );
    assert_eq!(
        h.count(ty),
        before + data.len(),
        "every record is written exactly once"
    );
    let ids: BTreeSet<&String> = pushed.iter().map(|p| &p.id).collect();
    assert_eq!(ids.len(), data.len(), "distinct ids: {pushed:?}");
    for (pushed, data) in pushed.iter().zip(&data) {
        assert!(pushed.created, "{}: created", pushed.id);
        h.assert_stored(ty, &pushed.id, data, Some(pushed));
    }
}

/// Items creating `data`, each linked to `associations`.
fn creates(data: &[Value], associations: &[(String, Vec<String>)]) -> Vec<PushItem> {
    data.iter()
        .map(|d| PushItem {
            id: None,
            idempotency_key: String::new(),
            data: d.clone(),
            associations: associations.to_vec(),
            passthrough: None,
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The common model: records pushed, and the flat view compared.

/// A new common-model record of `endgrate_type`, numbered `i`.
fn new_record(endgrate_type: &str, i: u32) -> Value {
    let address = |kind: &str| {
        json!([{
            "address_type": kind,
            "street_1": format!("{} Conformance St", 100 + i),
            "city": "Boston",
            "state": "MA",
            "postal_code": "02110",
            "country": "United States",
        }])
    };
    match endgrate_type {
        "crm-contact" => json!({
            "first_name": "Conformance",
            "last_name": format!("Person{i}"),
            "email_addresses": [{
                "email_address": format!("conformance.person{i}@example.org"),
                "email_address_type": "WORK",
            }],
            "phone_numbers": [{"phone_number": format!("+1 199 555 {:04}", 100 + i), "phone_number_type": "WORK"}],
            "title": "Tester",
            "addresses": address("PRIMARY"),
        }),
        "crm-company" => json!({
            "name": format!("Conformance Company {i}"),
            "domain": format!("conformance-{i}.example.org"),
            "website": format!("https://conformance-{i}.example.org"),
            "description": "Made by the conformance suite",
            "industry": "COMPUTER_SOFTWARE",
            "phone_numbers": [{"phone_number": format!("+1 199 555 {:04}", 200 + i), "phone_number_type": "WORK"}],
            "addresses": address("PRIMARY"),
        }),
        "accounting-customer" => json!({
            "customer_name": format!("Conformance Customer {i}"),
            "company_name": "Conformance Co",
            "email_addresses": [{
                "email_address": format!("conformance.customer{i}@example.org"),
                "email_address_type": "WORK",
            }],
            "phone_numbers": [{"phone_number": format!("+1 199 555 {:04}", 300 + i), "phone_number_type": "WORK"}],
            "addresses": address("BILLING"),
        }),
        "accounting-invoice" => json!({
            "number": format!("CONF-{i}"),
            "issue_date": "2030-01-15",
            "due_date": "2030-02-14",
            "currency": "USD",
            "line_items": [
                {"description": "Conformance hours", "quantity": 2, "unit_price": 125.5, "amount": 251},
                {"description": "Conformance kit", "quantity": 1, "unit_price": 40, "amount": 40},
            ],
        }),
        other => panic!("no new_record for {other}: teach the suite the new common type"),
    }
}

/// Changes a mapped field of a record made by [`new_record`].
fn edit(endgrate_type: &str, record: &mut Value) {
    let (field, value) = match endgrate_type {
        "crm-contact" => ("last_name", json!("Edited")),
        "crm-company" => (
            "name",
            json!(format!(
                "{} (edited)",
                record["name"].as_str().unwrap_or("")
            )),
        ),
        "accounting-customer" => ("company_name", json!("Edited Co")),
        "accounting-invoice" => ("due_date", json!("2030-03-31")),
        other => panic!("no edit for {other}: teach the suite the new common type"),
    };
    record[field] = value;
}

fn id_lower(raw: &Value) -> String {
    at(raw, "/id")
        .as_str()
        .expect("a record with an id")
        .to_owned()
}

fn id_upper(raw: &Value) -> String {
    at(raw, "/Id")
        .as_str()
        .expect("a record with an Id")
        .to_owned()
}

/// The texts of `pointers`, left out when missing.
fn ids_at(raw: &Value, pointers: &[&str]) -> Vec<String> {
    pointers
        .iter()
        .filter_map(|p| at(raw, p).as_str().map(str::to_owned))
        .collect()
}

// ---------------------------------------------------------------------------
// The list: one line per connector.

macro_rules! conformance {
    ($($name:ident => $case:ident),* $(,)?) => {
        /// Every connector under test.
        static CASES: &[&Case] = &[$(&$case),*];

        $(
            mod $name {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn connection() {
                    super::connection(&$case).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn full_pull() {
                    super::full_pull(&$case).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn remote_records_are_the_providers() {
                    super::remote_records_are_the_providers(&$case).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn discovery_lists_the_providers_fields() {
                    super::discovery_lists_the_providers_fields(&$case).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn custom_object_pulls_and_pushes_exactly_once() {
                    super::custom_object_pulls_and_pushes_exactly_once(&$case).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn incremental_pull() {
                    super::incremental_pull(&$case).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn incremental_pull_while_records_change() {
                    super::incremental_pull_while_records_change(&$case).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn full_pull_while_records_are_deleted() {
                    super::full_pull_while_records_are_deleted(&$case).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn pull_through_429_storm() {
                    pull_through(&$case, Fault::Throttled).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn pull_through_5xx_burst() {
                    pull_through(&$case, Fault::ServerErrors).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn pull_through_token_expiry() {
                    pull_through(&$case, Fault::TokensExpired).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn malformed_json_names_the_provider() {
                    super::malformed_json_names_the_provider(&$case).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn batched_lookups_find_every_record() {
                    super::batched_lookups_find_every_record(&$case).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn push_create_update_upsert_associate() {
                    super::push_create_update_upsert_associate(&$case).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn pull_through_cut_connections() {
                    pull_through(&$case, Fault::Cut).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn push_through_token_expiry_429s_and_5xx() {
                    push_through_faults(&$case).await
                }
            }
        )*
    };
}

use cases::hubspot::HUBSPOT;
use cases::pipedrive::PIPEDRIVE;
use cases::quickbooks::QUICKBOOKS;
use cases::salesforce::SALESFORCE;

conformance! {
    hubspot => HUBSPOT,
    quickbooks => QUICKBOOKS,
    salesforce => SALESFORCE,
    pipedrive => PIPEDRIVE,
}

/// Every connector in the connectors workspace has a case above, so a new
/// one cannot go untested.
#[test]
fn every_connector_has_a_case() {
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../connectors/Cargo.toml"),
    )
    .unwrap();
    let members = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("members"))
        .expect("the connectors workspace lists its members");
    let connectors: BTreeSet<&str> = members
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|m| *m != "sdk" && !m.starts_with("testing/"))
        .collect();
    let cased: BTreeSet<&str> = CASES.iter().map(|c| c.connector).collect();
    assert_eq!(
        connectors, cased,
        "connectors without a conformance case, or cases without a connector"
    );
    for case in CASES {
        assert_eq!(
            case.provider.name(),
            case.connector,
            "each case runs against its own provider's simulator"
        );
    }
}
