//! Provider faults while transfers run: a 10% error rate, bursts of 429s,
//! latency spikes, and tokens revoked then re-authenticated. Nothing is lost
//! or duplicated, and every failure the app sees is one of the reference's
//! error types.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{TestHost, eventually, sim_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_survive_provider_faults_without_loss_or_duplicates() {
    let mut t = TestHost::start(sim_config(700, 30)).await;
    let key = t.key("acme").await;
    let session = t.signed_in_session(&key).await;
    let source: HashSet<String> = t
        .sim
        .control()
        .contacts()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();

    // Faults for the whole run: 10% of requests fail; bursts of 429s and
    // latency spikes come and go while the transfers run.
    t.sim.control().set_error_rate(0.10);
    let running = Arc::new(AtomicBool::new(true));
    let chaos = {
        let control = t.sim.control().clone();
        let running = running.clone();
        tokio::spawn(async move {
            let mut round = 0u32;
            while running.load(Ordering::Relaxed) {
                round += 1;
                // Now and then a burst of 429s (as when another app shares
                // the account's quota), and a latency spike.
                match round % 3 {
                    0 => control.throttle_next(3),
                    1 => control.set_latency(Duration::from_millis(50)),
                    _ => control.set_latency(Duration::ZERO),
                }
                tokio::time::sleep(Duration::from_millis(700)).await;
            }
        })
    };

    let pull = t
        .trigger(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;
    let items: Vec<Value> = (0..60)
        .map(|i| json!({
            "internal_id": format!("p{i}"),
            "data": { "first_name": "Fault", "last_name": format!("Tolerant{i}"), "email_addresses": [{ "email_address": format!("fault{i}@example.com") }] },
            "associations": { "crm-company": [{ "internal_id": format!("co{}", i % 6), "data": { "name": format!("Fault Co {}", i % 6), "domain": format!("faultco{}.example", i % 6) } }] }
        }))
        .collect();
    let push = t.trigger(&key, "/api/push/transfer", json!({ "session_id": session, "endgrate_type": "crm-contact", "transfer_data": items })).await;

    // Midway, the provider forgets every token and refresh token: the session
    // needs the end user again, who signs in again.
    eventually(Duration::from_secs(60), "some progress", || async {
        t.call(
            "GET",
            &format!("/api/statistics?transfer_id={pull}"),
            None,
            None,
        )
        .await
        .1["statistics"]["batches_success"]
            .as_u64()
            >= Some(2)
    })
    .await;
    t.sim.control().revoke_refresh_tokens();
    t.sim.control().expire_tokens();
    eventually(
        Duration::from_secs(60),
        "the session to need re-authentication",
        || async { t.get(&key, "/api/sessions").await.1["sessions"][0]["reauth_required"] == true },
    )
    .await;
    t.sign_in(&format!("/session/reauthenticate?session_id={session}"))
        .await;

    for transfer in [&pull, &push] {
        t.until_completed(
            transfer,
            Duration::from_secs(120),
            "the transfers to finish",
        )
        .await;
    }
    running.store(false, Ordering::Relaxed);
    chaos.await.unwrap();
    t.sim.control().set_error_rate(0.0);
    t.sim.control().set_latency(Duration::ZERO);

    let (_, stats) = t
        .call(
            "GET",
            &format!("/api/statistics?transfer_id={pull}"),
            None,
            None,
        )
        .await;
    assert_eq!(stats["status"], "completed", "{stats}");
    let rows = t.all_data(&key, "pull", "crm-contact", &pull).await;
    let pulled: Vec<String> = rows
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        pulled.iter().collect::<HashSet<_>>().len(),
        pulled.len(),
        "no record twice"
    );
    // Contacts the push created while the pull ran may be in it too.
    assert!(
        source.iter().all(|id| pulled.contains(id)),
        "every source record pulled"
    );

    let results = t.all_data(&key, "push", "crm-contact", &push).await;
    assert_eq!(results.len(), 60);
    assert!(
        results.iter().all(|r| r.get("error").is_none()),
        "{:?}",
        results.iter().find(|r| r.get("error").is_some())
    );
    let contacts = t.sim.control().contacts();
    for i in 0..60 {
        let email = format!("fault{i}@example.com");
        assert_eq!(
            contacts
                .iter()
                .filter(|c| c["properties"]["email"] == email.as_str())
                .count(),
            1,
            "{email}"
        );
    }
    let companies = t.sim.control().companies();
    for i in 0..6 {
        let name = format!("Fault Co {i}");
        assert_eq!(
            companies
                .iter()
                .filter(|c| c["properties"]["name"] == name.as_str())
                .count(),
            1,
            "{name}"
        );
    }

    let (_, errors) = t
        .get(&key, &format!("/api/errors?session_id={session}"))
        .await;
    for error in errors["errors"].as_array().unwrap() {
        assert!(
            ["internal", "transfer_data", "upstream", "authentication"]
                .contains(&error["error_type"].as_str().unwrap()),
            "{error}"
        );
    }
    assert!(
        errors["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["error_type"] == "authentication")
    );
    t.stop().await;
}

/// A step whose token is refused while the end user is signing in again
/// runs again with the new credentials: it does not ask them to sign in
/// once more (which parked the transfer until they did).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_refused_while_the_user_signs_in_again_does_not_ask_for_another_sign_in() {
    let t = TestHost::start(sim_config(150, 5)).await;
    let key = t.key("acme").await;
    let session = t.signed_in_session(&key).await;

    // The provider forgets the session's tokens; the host's refresh is held
    // on its way until the end user has signed in again.
    t.sim.control().revoke_refresh_tokens();
    t.sim.control().expire_tokens();
    t.sim.control().hold_next("POST /oauth/v1/token", 1);
    let pull = t
        .trigger(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;
    eventually(
        Duration::from_secs(30),
        "the refresh to be held",
        || async { t.sim.control().held() == 1 },
    )
    .await;
    // The end user signs in again through the app's change link.
    let (_, detail) = t.get(&key, &format!("/api/sessions/{session}")).await;
    let link = detail["session"]["links"]["reauthenticate"]
        .as_str()
        .unwrap();
    t.sign_in(link.strip_prefix(&t.url).unwrap()).await;
    // The old refresh token is refused now, after the new sign-in.
    t.sim.control().release();

    t.until_completed(&pull, Duration::from_secs(30), "the pull to finish")
        .await;
    let rows = t.all_data(&key, "pull", "crm-contact", &pull).await;
    assert_eq!(rows.len(), 150);
    let (_, sessions) = t.get(&key, "/api/sessions").await;
    assert_eq!(
        sessions["sessions"][0]["reauth_required"], false,
        "{sessions}"
    );
    let (_, errors) = t
        .get(&key, &format!("/api/errors?session_id={session}"))
        .await;
    assert_eq!(errors["errors"], json!([]), "{errors}");
}
