//! Session metadata shared by id between the host and the export worker.
//!
//! Events of a [`crate::Session`] carry its id, not a reference-counted
//! pointer: threads emitting on one session at once then share no counter.
//! A session's metadata stays registered until its last handle is dropped
//! *and* the worker has encoded every event queued before that.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::event::SessionMetadata;

#[derive(Debug, Default)]
pub(crate) struct SessionRegistry {
    next: AtomicU64,
    sessions: Mutex<HashMap<u64, Arc<SessionMetadata>>>,
}

impl SessionRegistry {
    fn map(&self) -> MutexGuard<'_, HashMap<u64, Arc<SessionMetadata>>> {
        // Every update is one insert or remove: a panic elsewhere cannot
        // leave the map inconsistent.
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers `metadata` and returns its id.
    pub(crate) fn register(&self, metadata: Arc<SessionMetadata>) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.map().insert(id, metadata);
        id
    }

    /// The metadata of session `id`, if registered.
    pub(crate) fn get(&self, id: u64) -> Option<Arc<SessionMetadata>> {
        self.map().get(&id).cloned()
    }

    /// Forgets the sessions in `ids`.
    pub(crate) fn remove(&self, ids: &[u64]) {
        if ids.is_empty() {
            return;
        }
        let mut map = self.map();
        for id in ids {
            map.remove(id);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map().len()
    }
}
