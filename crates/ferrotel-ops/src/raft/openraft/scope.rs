//! The current context of a state machine's apply, switched entry by entry: each entry's
//! context is current from the moment the inner state machine takes the entry from its
//! iterator until it takes the next one; after the last, the caller's context is back.
//!
//! OpenTelemetry's current context is a thread-local stack, and an async apply runs in
//! polls. [`run`] attaches the current entry's context around every poll of the inner apply;
//! [`ScopedEntries`] switches it within a poll too, as the inner takes an entry, by attaching
//! the new context on top, and the poll detaches what was attached when it returns.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use opentelemetry::{Context, ContextGuard};

static NEXT_SCOPE: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The scope whose apply is being polled on this thread (0: none).
    static POLLING: Cell<u64> = const { Cell::new(0) };
    /// Contexts attached by [`ScopedEntries::next`] during a poll, with their scope's id;
    /// detached when that poll returns.
    static ATTACHED: RefCell<Vec<(u64, ContextGuard)>> = const { RefCell::new(Vec::new()) };
}

/// What the entries iterator and the poll of the apply share.
#[derive(Debug)]
pub(crate) struct Scope {
    id: u64,
    /// The caller's context: current before the first entry and after the last.
    base: Context,
    current: Mutex<Option<Context>>,
}

impl Scope {
    /// A scope under the current context.
    pub(crate) fn new() -> Self {
        Scope {
            id: NEXT_SCOPE.fetch_add(1, Ordering::Relaxed),
            base: Context::current(),
            current: Mutex::new(None),
        }
    }

    fn current(&self) -> Context {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| self.base.clone())
    }

    fn set(&self, cx: Option<Context>) {
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = cx;
    }
}

/// The entries of a batch; taking one makes `scope_of(entry)` the current context.
pub(crate) struct ScopedEntries<'a, I, F> {
    inner: I,
    scope: &'a Scope,
    scope_of: F,
}

impl<'a, I, F> ScopedEntries<'a, I, F> {
    pub(crate) fn new(inner: I, scope: &'a Scope, scope_of: F) -> Self {
        ScopedEntries {
            inner,
            scope,
            scope_of,
        }
    }
}

impl<I, F> Iterator for ScopedEntries<'_, I, F>
where
    I: Iterator,
    F: FnMut(&I::Item) -> Context,
{
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        let entry = self.inner.next();
        let cx = entry.as_ref().map(|e| (self.scope_of)(e));
        self.scope.set(cx);
        let id = self.scope.id;
        // Taken within a poll of this scope's apply: switch now, not at the next poll.
        if POLLING.with(Cell::get) == id {
            let guard = self.scope.current().attach();
            let replaced = ATTACHED.with(|a| {
                let mut a = a.borrow_mut();
                // The previous entry's context goes, so the stack does not grow with the batch.
                let replaced = match a.last() {
                    Some((top, _)) if *top == id => a.pop(),
                    _ => None,
                };
                a.push((id, guard));
                replaced
            });
            drop(replaced);
        }
        entry
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// Restores the thread's state when a poll ends, also when it unwinds.
struct Polling {
    previous: u64,
    depth: usize,
    _base: Option<ContextGuard>,
}

impl Drop for Polling {
    fn drop(&mut self) {
        let attached = ATTACHED.with(|a| {
            let mut a = a.borrow_mut();
            let depth = self.depth.min(a.len());
            a.split_off(depth)
        });
        // Newest first; `_base` is detached after them.
        for guard in attached.into_iter().rev() {
            drop(guard);
        }
        POLLING.with(|p| p.set(self.previous));
    }
}

/// Runs `apply` (which takes its entries through a [`ScopedEntries`] of `scope`) with the
/// current entry's context current.
pub(crate) async fn run<F: Future>(scope: &Scope, mut apply: Pin<&mut F>) -> F::Output {
    std::future::poll_fn(move |task| {
        let _polling = Polling {
            previous: POLLING.with(|p| p.replace(scope.id)),
            depth: ATTACHED.with(|a| a.borrow().len()),
            _base: Some(scope.current().attach()),
        };
        apply.as_mut().poll(task)
    })
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use std::task::Poll;

    #[derive(Debug, PartialEq, Clone, Copy)]
    struct Mark(u64);

    fn mark() -> Option<u64> {
        Context::map_current(|cx| cx.get::<Mark>().map(|m| m.0))
    }

    /// Yields once (pending, then ready), as a real apply awaiting IO does.
    struct YieldOnce(bool);

    impl Future for YieldOnce {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, task: &mut std::task::Context<'_>) -> Poll<()> {
            if self.0 {
                Poll::Ready(())
            } else {
                self.0 = true;
                task.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let waker = std::task::Waker::noop();
        let mut task = std::task::Context::from_waker(waker);
        loop {
            if let Poll::Ready(out) = f.as_mut().poll(&mut task) {
                return out;
            }
        }
    }

    #[test]
    fn each_entry_is_current_while_it_is_worked_on_and_the_caller_after() {
        let _caller = Context::new().with_value(Mark(0)).attach();
        let scope = Scope::new();
        let entries = ScopedEntries::new(1..=3u64, &scope, |i: &u64| {
            Context::new().with_value(Mark(*i * 10))
        });
        let seen = block_on(async {
            let apply = std::pin::pin!(async move {
                let mut seen = Vec::new();
                for i in entries {
                    seen.push((i, mark()));
                    YieldOnce(false).await;
                    seen.push((i, mark()));
                }
                seen.push((0, mark()));
                seen
            });
            run(&scope, apply).await
        });
        assert_eq!(
            seen,
            vec![
                (1, Some(10)),
                (1, Some(10)),
                (2, Some(20)),
                (2, Some(20)),
                (3, Some(30)),
                (3, Some(30)),
                (0, Some(0)),
            ]
        );
        // Nothing is left attached on this thread.
        assert_eq!(mark(), Some(0));
        assert!(ATTACHED.with(|a| a.borrow().is_empty()));
    }
}
