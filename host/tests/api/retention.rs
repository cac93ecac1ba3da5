//! Records retention (`--records-retention-days`): the records of a
//! transfer that finished longer ago than the retention period are deleted
//! by the sweeper; reading them answers 410 naming the transfer, while the
//! transfer itself (its status and statistics) stays listed, and a new pull
//! works as before.

use std::time::Duration;

use serde_json::json;
use switchyard::sessions::sweeper;

use crate::harness::{TestHost, sim_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_past_the_retention_period_are_deleted_and_say_so() {
    let t = TestHost::start(sim_config(7, 2)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    let pull = || async {
        t.transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await
    };
    let old = pull().await;
    assert_eq!(t.all_data(&key, "pull", "crm-contact", &old).await.len(), 7);
    let sessions = &t.host.as_ref().expect("running").state.sessions;

    // Within the retention period nothing goes.
    sweeper::sweep(sessions, Some(Duration::from_secs(3600)))
        .await
        .unwrap();
    assert_eq!(t.all_data(&key, "pull", "crm-contact", &old).await.len(), 7);

    // Past it, the records go and reading them says why.
    sweeper::sweep(sessions, Some(Duration::ZERO))
        .await
        .unwrap();
    let (status, answer) = t
        .get(
            &key,
            &format!("/api/pull/data?endgrate_type=crm-contact&transfer_id={old}"),
        )
        .await;
    assert_eq!(status, 410, "{answer}");
    assert!(answer["errors"].get("transfer_id").is_some(), "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("retention")),
        "{answer}"
    );
    // The transfer itself stays, with its statistics.
    let (status, listed) = t
        .get(&key, &format!("/api/transfers?session_id={session}"))
        .await;
    assert_eq!(status, 200, "{listed}");
    let entry = listed["transfers"]
        .as_array()
        .and_then(|all| all.iter().find(|x| x["transfer_id"] == old.as_str()))
        .unwrap_or_else(|| panic!("{listed}"))
        .clone();
    assert_eq!(entry["statistics"]["records"], 7, "{entry}");

    // A new pull stores and serves its records as before.
    let new = pull().await;
    assert_eq!(t.all_data(&key, "pull", "crm-contact", &new).await.len(), 7);
}
