//! Locks that a panic cannot poison.
//!
//! A thread that panics while it holds a `std` lock poisons it, and every later `lock()`
//! returns an error: with `expect` there, one panic in one request would make every later
//! request panic too. What these locks guard (caches, counters, a connection) stays usable
//! after a panic, so every lock in tidings is taken through these helpers, which ignore the
//! poison.

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Locks `mutex`, poisoned or not.
pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Reads `lock`, poisoned or not.
pub fn read<T: ?Sized>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes `lock`, poisoned or not.
pub fn write<T: ?Sized>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_locked_leaves_the_lock_usable() {
        let counter = std::sync::Arc::new(Mutex::new(1));
        let inside = counter.clone();
        let _ = std::thread::spawn(move || {
            let _held = inside.lock().unwrap();
            panic!("while holding the lock");
        })
        .join();
        assert!(counter.is_poisoned());
        *lock(&counter) += 1;
        assert_eq!(*lock(&counter), 2);
    }
}
