//! Records retention (`--records-retention-days`): the records of a
//! transfer that finished longer ago than the retention period are deleted
//! by the sweeper; reading them answers 410 naming the transfer, while the
//! transfer itself (its status and statistics) stays listed, and a new pull
//! works as before. Continuous re-pulls the app has read to the end go
//! sooner (`--continuous-read-retention-hours`); unread ones stay.

use std::time::Duration;

use serde_json::json;
use switchyard::sessions::sweeper::{self, Retention};

use crate::harness::{TestHost, eventually, receiver, sim_config};

/// Records kept for `records`, read continuous re-pulls for a day.
fn retention(records: Duration) -> Retention {
    Retention {
        records: Some(records),
        read_continuous: Some(Duration::from_secs(24 * 3600)),
    }
}

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
    sweeper::sweep(sessions, retention(Duration::from_secs(3600)))
        .await
        .unwrap();
    assert_eq!(t.all_data(&key, "pull", "crm-contact", &old).await.len(), 7);

    // Past it, the records go and reading them says why.
    sweeper::sweep(sessions, retention(Duration::ZERO))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continuous_re_pulls_read_to_the_end_go_sooner_and_unread_ones_stay() {
    let t = TestHost::start_with(sim_config(6, 2), |c| {
        c.transfers.continuous_interval = Duration::from_millis(100)
    })
    .await;
    let key = t.key("acme").await;
    let hooks = receiver().await;
    let session = t
        .connected_session(
            &key,
            json!({ "data_webhook": { "endpoint": hooks.url, "continuous": true } }),
        )
        .await;
    let first = t
        .transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;
    // The host re-pulls on its own; wait for two finished re-pulls.
    let finished_re_pulls = || async {
        let (_, listed) = t
            .get(
                &key,
                &format!("/api/transfers?session_id={session}&limit=100"),
            )
            .await;
        listed["transfers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["transfer_id"] != first.as_str() && x["completed"] == true)
            .map(|x| x["transfer_id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    eventually(Duration::from_secs(20), "two finished re-pulls", || async {
        finished_re_pulls().await.len() >= 2
    })
    .await;
    let re_pulls = finished_re_pulls().await;
    let (read, unread) = (&re_pulls[0], &re_pulls[1]);
    t.all_data(&key, "pull", "crm-contact", read).await;
    assert_eq!(
        t.all_data(&key, "pull", "crm-contact", &first).await.len(),
        6
    );
    let (t, key) = (&t, &key);
    let data_status = |transfer: String| async move {
        t.get(
            key,
            &format!("/api/pull/data?endgrate_type=crm-contact&transfer_id={transfer}"),
        )
        .await
    };
    let sessions = &t.host.as_ref().expect("running").state.sessions;

    // Within the read re-pull's period, nothing goes.
    sweeper::sweep(sessions, retention(Duration::from_secs(3600)))
        .await
        .unwrap();
    assert_eq!(data_status(read.clone()).await.0, 200);

    // Past it, the read re-pull's records go; the unread one's and the
    // app's own pull's stay for the records retention period.
    let soon = Retention {
        records: Some(Duration::from_secs(3600)),
        read_continuous: Some(Duration::ZERO),
    };
    sweeper::sweep(sessions, soon).await.unwrap();
    let (status, answer) = data_status(read.clone()).await;
    assert_eq!(status, 410, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("--continuous-read-retention-hours")),
        "{answer}"
    );
    let (status, answer) = data_status(unread.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        t.all_data(key, "pull", "crm-contact", &first).await.len(),
        6
    );
}
