//! `GET /api/v2/{persons,organizations}/search?term=&fields=&exact_match=`:
//! Pipedrive's item search, used to find a person by email before writing.

use axum::Json;
use axum::extract::{Path, RawQuery};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::PdState;
use super::errors::PdError;
use super::model::Kind;
use crate::params::Params;

/// `GET /api/v2/{kind}/search`.
pub async fn search(state: PdState, Path(kind): Path<String>, RawQuery(raw): RawQuery) -> Response {
    let pd = state.0;
    let p = Params::parse(raw.as_deref());
    let result = (|| {
        let kind = Kind::parse(&kind).ok_or_else(|| PdError::not_found("Resource"))?;
        let term = p.get("term").unwrap_or_default().trim().to_string();
        let exact = p.get("exact_match") == Some("true");
        if term.chars().count() < if exact { 1 } else { 2 } {
            return Err(PdError::bad(
                "Validation failed: term: must be at least 2 characters long",
            ));
        }
        let fields = p
            .list("fields")
            .unwrap_or_else(|| vec!["name".into(), "email".into(), "phone".into()]);
        let limit = p
            .get("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(100)
            .min(500);
        let needle = term.to_lowercase();
        let mut store = pd.store();
        let candidates: Vec<u64> = if kind == Kind::Persons && exact && fields == ["email"] {
            store.persons_by_email(&needle)
        } else {
            store.table(kind).numbers_from(1).collect()
        };
        let table = store.table(kind);
        let hit = |text: &str| {
            if exact {
                text.to_lowercase() == needle
            } else {
                text.to_lowercase().contains(&needle)
            }
        };
        let items: Vec<Value> = candidates
            .into_iter()
            .filter_map(|n| {
                let row = table.live(n)?;
                let b = &row.body;
                let list = |f: &str| -> Vec<String> {
                    b[f].as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|e| e["value"].as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default()
                };
                let matched = fields.iter().any(|f| match f.as_str() {
                    "name" => b["name"].as_str().is_some_and(hit),
                    "email" => list("emails").iter().any(|e| hit(e)),
                    "phone" => list("phones").iter().any(|e| hit(e)),
                    "address" => b["address"]["value"].as_str().is_some_and(hit),
                    _ => false,
                });
                matched.then(|| {
                    let mut item = json!({
                        "id": n,
                        "type": if kind == Kind::Persons { "person" } else { "organization" },
                        "name": b["name"],
                        "visible_to": b["visible_to"],
                        "owner": {"id": b["owner_id"]},
                        "custom_fields": [],
                        "notes": [],
                    });
                    if kind == Kind::Persons {
                        item["emails"] = json!(list("emails"));
                        item["phones"] = json!(list("phones"));
                        item["organization"] = b["org_id"]
                            .as_u64()
                            .map_or(Value::Null, |o| json!({"id": o}));
                    } else {
                        item["address"] = b["address"]["value"].clone();
                    }
                    json!({"result_score": if exact { 1.0 } else { 0.5 }, "item": item})
                })
            })
            .take(limit)
            .collect();
        Ok(
            json!({"success": true, "data": {"items": items}, "additional_data": {"next_cursor": null}}),
        )
    })();
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.respond(),
    }
}
