//! A small pool of reader connections. SQLite pool crates do not build against our rusqlite, and a
//! mutex-guarded stack with a condition variable is all a handful of connections needs.

use crate::config::Synchronous;
use crate::error::Result;
use parking_lot::{Condvar, Mutex};
use rusqlite::Connection;
use std::ops::Deref;
use std::path::PathBuf;

pub struct ReaderPool {
    path: PathBuf,
    synchronous: Synchronous,
    max: usize,
    state: Mutex<State>,
    returned: Condvar,
}

struct State {
    idle: Vec<Connection>,
    open: usize,
}

pub struct Reader<'a> {
    pool: &'a ReaderPool,
    conn: Option<Connection>,
}

impl ReaderPool {
    pub fn new(path: PathBuf, synchronous: Synchronous, max: usize) -> ReaderPool {
        ReaderPool {
            path,
            synchronous,
            max: max.max(1),
            state: Mutex::new(State {
                idle: Vec::new(),
                open: 0,
            }),
            returned: Condvar::new(),
        }
    }

    pub fn get(&self) -> Result<Reader<'_>> {
        let mut state = self.state.lock();
        loop {
            if let Some(conn) = state.idle.pop() {
                return Ok(Reader {
                    pool: self,
                    conn: Some(conn),
                });
            }
            if state.open < self.max {
                state.open += 1;
                drop(state);
                return match self.open_one() {
                    Ok(conn) => Ok(Reader {
                        pool: self,
                        conn: Some(conn),
                    }),
                    Err(e) => {
                        self.state.lock().open -= 1;
                        Err(e.into())
                    }
                };
            }
            self.returned.wait(&mut state);
        }
    }

    fn open_one(&self) -> rusqlite::Result<Connection> {
        let conn = super::connect(&self.path, self.synchronous, false)?;
        // Read-write open (WAL readers need the shared-memory file) but refusing writes: writes go through the writer.
        conn.execute_batch("PRAGMA query_only = ON;")?;
        Ok(conn)
    }
}

impl Deref for Reader<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
            .as_ref()
            .expect("a reader holds its connection until dropped")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut state = self.pool.state.lock();
            state.idle.push(conn);
            self.pool.returned.notify_one();
        }
    }
}
