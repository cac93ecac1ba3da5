//! The bookkeeping of `find_matches`: each item's key sets are asked in
//! priority order (usually in rounds, one key set of every open item per
//! round, so a round can be one batch request), and [`Lookups`] keeps what
//! each item has learnt so far and turns it into the contract's answers.

use crate::ConnectorError;

/// What a batch of items learnt from their key sets so far.
#[derive(Debug)]
pub struct Lookups {
    items: Vec<Item>,
}

#[derive(Debug, Default)]
struct Item {
    /// A match or an error: the item is done.
    answer: Option<Result<Option<String>, ConnectorError>>,
    /// At least one key set was asked and matched nothing.
    asked: bool,
    /// A key set the connector cannot match on.
    unsupported: Option<ConnectorError>,
}

impl Lookups {
    /// `items` items, none asked yet.
    pub fn new(items: usize) -> Self {
        Lookups {
            items: (0..items).map(|_| Item::default()).collect(),
        }
    }

    /// Whether item `i` still waits for an answer (its next key set should
    /// be asked).
    pub fn is_open(&self, i: usize) -> bool {
        self.items[i].answer.is_none()
    }

    /// What asking one key set of item `i` gave. A match or an error ends
    /// the item; no match lets its next key set be asked; `unsupported` is
    /// remembered and the next key set asked.
    pub fn record(&mut self, i: usize, outcome: Result<Option<String>, ConnectorError>) {
        let item = &mut self.items[i];
        match outcome {
            Ok(None) => item.asked = true,
            Err(e @ ConnectorError::Unsupported(_)) => item.unsupported = Some(e),
            other => item.answer = Some(other),
        }
    }

    /// One answer per item, in order: its match or error; no match when a
    /// key set was asked; `unsupported` when the connector could match on
    /// none of its key sets.
    pub fn finish(self) -> Vec<Result<Option<String>, ConnectorError>> {
        self.items
            .into_iter()
            .map(|item| match item.answer {
                Some(answer) => answer,
                None => match item.unsupported {
                    Some(e) if !item.asked => Err(e),
                    _ => Ok(None),
                },
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_item_ends_with_its_first_match_or_error() {
        let mut lookups = Lookups::new(4);
        lookups.record(0, Ok(None));
        lookups.record(0, Ok(Some("7".into())));
        lookups.record(1, Err(ConnectorError::unsupported("no phone")));
        lookups.record(1, Ok(None));
        lookups.record(2, Err(ConnectorError::unsupported("no phone")));
        lookups.record(3, Err(ConnectorError::transient("down")));
        assert!(!lookups.is_open(0) && lookups.is_open(1) && !lookups.is_open(3));
        assert_eq!(
            lookups.finish(),
            [
                Ok(Some("7".to_owned())),
                Ok(None),
                Err(ConnectorError::unsupported("no phone")),
                Err(ConnectorError::transient("down")),
            ]
        );
    }
}
