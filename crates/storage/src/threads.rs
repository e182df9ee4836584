//! Worker threads a database backend can own: a pool scoped to one build
//! whose threads block asynchronous signals and are all gone when it is
//! dropped, and a guard that blocks signals in the calling thread while it
//! spawns threads it does not control.
//!
//! A backend handles signals (query cancel, termination, latch wake-ups)
//! on its own thread only: a handler that ran on a worker would not wake
//! the backend, and a worker must never run backend code. Threads inherit
//! the signal mask of the thread that spawns them, so both tools make the
//! workers start with every asynchronous signal blocked.

use std::sync::{Arc, Condvar, Mutex};

/// The asynchronous signals: all but those the CPU raises for the faulting
/// thread itself (which must stay deliverable wherever they happen).
fn async_signals() -> libc::sigset_t {
    // SAFETY: `sigfillset`/`sigdelset` only write the set passed to them,
    // which lives on this stack frame and is initialised by `sigfillset`.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        for signal in [
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGFPE,
            libc::SIGILL,
            libc::SIGTRAP,
            libc::SIGABRT,
        ] {
            libc::sigdelset(&mut set, signal);
        }
        set
    }
}

/// Blocks the asynchronous signals in the calling thread; returns the
/// previous mask.
fn block_async_signals() -> libc::sigset_t {
    let set = async_signals();
    // SAFETY: both pointers are valid sigsets; `pthread_sigmask` only
    // changes the calling thread's mask.
    unsafe {
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        old
    }
}

fn set_mask(mask: &libc::sigset_t) {
    // SAFETY: `mask` is a valid sigset; only this thread's mask changes.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, mask, std::ptr::null_mut());
    }
}

thread_local! {
    /// The mask the outermost live [`SignalsBlocked`] of this thread saved.
    static SAVED_MASK: std::cell::Cell<Option<libc::sigset_t>> = const { std::cell::Cell::new(None) };
}

/// Blocks asynchronous signals in the calling thread until dropped, so
/// that threads spawned meanwhile (by code that does not block them
/// itself) start with them blocked. Signals that arrive meanwhile stay
/// pending until [`SignalsBlocked::deliver`] or the drop; call it
/// regularly (a progress callback) so a cancel is served promptly.
/// Guards nest: only the outermost one changes the mask.
pub struct SignalsBlocked {
    outermost: bool,
}

impl SignalsBlocked {
    /// Blocks the signals.
    pub fn new() -> Self {
        let outermost = SAVED_MASK.with(|saved| saved.get().is_none());
        if outermost {
            let old = block_async_signals();
            SAVED_MASK.with(|saved| saved.set(Some(old)));
        }
        SignalsBlocked { outermost }
    }

    /// If a guard is live in this thread: lets pending signals be delivered
    /// (their handlers run here), then blocks them again.
    pub fn deliver() {
        if let Some(old) = SAVED_MASK.with(|saved| saved.get()) {
            set_mask(&old);
            block_async_signals();
        }
    }
}

impl Default for SignalsBlocked {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        if self.outermost {
            if let Some(old) = SAVED_MASK.with(|saved| saved.take()) {
                set_mask(&old);
            }
        }
    }
}

/// A rayon pool of `threads` workers for one build. Its workers block
/// asynchronous signals; dropping it waits until every worker has exited.
pub struct WorkerPool {
    pool: Option<rayon::ThreadPool>,
    live: Arc<(Mutex<usize>, Condvar)>,
}

impl WorkerPool {
    /// Starts `threads` workers (at least one).
    pub fn new(threads: usize) -> Result<Self, String> {
        let threads = threads.max(1);
        // Counts down as workers exit: every worker rayon spawns runs the
        // exit handler once, whenever it started.
        let live = Arc::new((Mutex::new(threads), Condvar::new()));
        let on_exit = live.clone();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("pgvector_rs build worker {i}"))
            .start_handler(|_| {
                block_async_signals();
            })
            .exit_handler(move |_| {
                let mut live = on_exit.0.lock().unwrap_or_else(|e| e.into_inner());
                *live -= 1;
                on_exit.1.notify_all();
            })
            .build()
            .map_err(|e| e.to_string())?;
        Ok(WorkerPool {
            pool: Some(pool),
            live,
        })
    }

    /// Threads of the pool.
    pub fn threads(&self) -> usize {
        self.pool.as_ref().map_or(1, |p| p.current_num_threads())
    }

    /// Runs `f` on a worker: rayon's parallel iterators inside it use this
    /// pool's threads only.
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        // Dropping a rayon pool only asks its workers to exit; wait until
        // each has run its exit handler, so none outlives the build.
        drop(self.pool.take());
        let (count, exited) = &*self.live;
        let mut live = count.lock().unwrap_or_else(|e| e.into_inner());
        while *live > 0 {
            live = exited.wait(live).unwrap_or_else(|e| e.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    fn blocked_in_this_thread(signal: i32) -> bool {
        // SAFETY: reads this thread's mask into a local sigset.
        unsafe {
            let mut current: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut current);
            libc::sigismember(&current, signal) == 1
        }
    }

    #[test]
    fn workers_block_signals_and_use_the_pool() {
        let pool = WorkerPool::new(3).unwrap();
        assert_eq!(pool.threads(), 3);
        let (blocked, threads) = pool.install(|| {
            let blocked: Vec<bool> = (0..64)
                .into_par_iter()
                .map(|_| blocked_in_this_thread(libc::SIGINT))
                .collect();
            (blocked, rayon::current_num_threads())
        });
        assert!(blocked.iter().all(|&b| b));
        assert_eq!(threads, 3);
        assert!(!blocked_in_this_thread(libc::SIGINT));
        let live = pool.live.clone();
        drop(pool);
        assert_eq!(*live.0.lock().unwrap(), 0);
    }

    #[test]
    fn the_guard_blocks_and_restores() {
        assert!(!blocked_in_this_thread(libc::SIGTERM));
        {
            let guard = SignalsBlocked::new();
            assert!(blocked_in_this_thread(libc::SIGTERM));
            assert!(!blocked_in_this_thread(libc::SIGSEGV));
            let spawned = std::thread::spawn(|| blocked_in_this_thread(libc::SIGTERM))
                .join()
                .unwrap();
            assert!(spawned);
            let inner = SignalsBlocked::new();
            drop(inner);
            assert!(blocked_in_this_thread(libc::SIGTERM));
            SignalsBlocked::deliver();
            assert!(blocked_in_this_thread(libc::SIGTERM));
            drop(guard);
        }
        SignalsBlocked::deliver();
        assert!(!blocked_in_this_thread(libc::SIGTERM));
    }
}
