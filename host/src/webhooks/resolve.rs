//! Name resolution for webhook deliveries, filtered through the
//! [`AddressPolicy`]: the webhook client connects only to addresses this
//! resolver returned, so checking here is checking the address actually
//! connected to. A name that resolves to a public address when the session
//! is created and to 127.0.0.1 at delivery time (DNS rebinding) fails at
//! delivery. IP-literal URLs never reach a resolver; the deliverer checks
//! those itself ([`AddressPolicy::check_url`]).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::net_policy::{AddressPolicy, Forbidden};

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("could not resolve {name}: {source}")]
    Lookup {
        name: String,
        source: std::io::Error,
    },
    #[error("{name} resolves only to addresses webhooks may not reach: {refused}")]
    NotAllowed { name: String, refused: Forbidden },
    #[error("{name} resolves to no address")]
    Empty { name: String },
}

/// Resolves with the system resolver (or `hosts`), then drops every
/// address the policy refuses; fails when none remains.
#[derive(Debug, Clone)]
pub struct PolicyResolver {
    policy: AddressPolicy,
    hosts: Arc<HashMap<String, Vec<IpAddr>>>,
}

impl PolicyResolver {
    /// `hosts` answers for the names it lists instead of the system
    /// resolver, as `/etc/hosts` would.
    pub fn new(policy: AddressPolicy, hosts: HashMap<String, Vec<IpAddr>>) -> Self {
        PolicyResolver {
            policy,
            hosts: Arc::new(hosts),
        }
    }

    /// The permitted addresses of `name` (with port 0: the client sets the
    /// URL's port).
    pub async fn lookup(&self, name: &str) -> Result<Vec<SocketAddr>, ResolveError> {
        let found: Vec<IpAddr> = match self.hosts.get(name) {
            Some(listed) => listed.clone(),
            None => tokio::net::lookup_host((name, 0))
                .await
                .map_err(|source| ResolveError::Lookup {
                    name: name.to_owned(),
                    source,
                })?
                .map(|a| a.ip())
                .collect(),
        };
        let mut refused = None;
        let mut permitted = Vec::new();
        for ip in found {
            match self.policy.check(ip) {
                Ok(()) => permitted.push(SocketAddr::new(ip, 0)),
                Err(why) => refused = refused.or(Some(why)),
            }
        }
        match (permitted.is_empty(), refused) {
            (false, _) => Ok(permitted),
            (true, Some(refused)) => Err(ResolveError::NotAllowed {
                name: name.to_owned(),
                refused,
            }),
            (true, None) => Err(ResolveError::Empty {
                name: name.to_owned(),
            }),
        }
    }
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = self.clone();
        Box::pin(async move {
            let addrs = resolver.lookup(name.as_str()).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_system_resolvers_loopback_answer_is_dropped() {
        let strict = PolicyResolver::new(AddressPolicy::public_only(), HashMap::new());
        let err = strict.lookup("localhost").await.unwrap_err();
        assert!(
            matches!(&err, ResolveError::NotAllowed { refused, .. } if refused.what == "a loopback address"),
            "{err}"
        );
        let loose = PolicyResolver::new(AddressPolicy::allow_loopback(), HashMap::new());
        let addrs = loose.lookup("localhost").await.unwrap();
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()));
    }

    #[tokio::test]
    async fn only_permitted_addresses_of_a_name_remain() {
        let hosts = HashMap::from([
            (
                "mixed.test".to_owned(),
                vec![
                    "10.1.2.3".parse().unwrap(),
                    "93.184.215.14".parse().unwrap(),
                ],
            ),
            (
                "inside.test".to_owned(),
                vec!["169.254.169.254".parse().unwrap()],
            ),
        ]);
        let resolver = PolicyResolver::new(AddressPolicy::public_only(), hosts);
        assert_eq!(
            resolver.lookup("mixed.test").await.unwrap(),
            ["93.184.215.14:0".parse().unwrap()]
        );
        let err = resolver
            .lookup("inside.test")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("inside.test") && err.contains("metadata") && err.contains("not allowed"),
            "{err}"
        );
    }
}
