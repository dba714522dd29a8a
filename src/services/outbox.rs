//! The outbox's doorbell: whoever commits a message to send rings it, and the sender pool (connected when
//! it starts) looks for work at once instead of at its next poll.

use parking_lot::Mutex;

type Ring = Box<dyn Fn() + Send + Sync>;

#[derive(Default)]
pub struct Waker(Mutex<Option<Ring>>);

impl Waker {
    /// What ringing does from now on.
    pub fn connect(&self, ring: impl Fn() + Send + Sync + 'static) {
        *self.0.lock() = Some(Box::new(ring));
    }

    pub fn wake(&self) {
        if let Some(ring) = self.0.lock().as_ref() {
            ring();
        }
    }
}
