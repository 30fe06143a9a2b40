//! A temporary directory standing for `/`, for code that reads `/proc`, `/sys` or `/etc`
//! under an injectable root: files are written into it, and it is removed on drop.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A temporary root directory, removed on drop.
#[derive(Debug)]
pub struct FakeRoot(PathBuf);

impl FakeRoot {
    /// An empty root under the system's temporary directory.
    ///
    /// # Panics
    /// When the directory cannot be created: a test cannot go on without it.
    #[allow(clippy::expect_used)]
    pub fn new() -> FakeRoot {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ferrotel-root-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("a temporary root");
        FakeRoot(dir)
    }

    /// Writes `contents` at `relative` (e.g. `proc/self/cgroup`), creating its directories.
    ///
    /// # Panics
    /// When the file cannot be written.
    #[allow(clippy::expect_used)]
    pub fn file(&self, relative: &str, contents: impl AsRef<[u8]>) -> &FakeRoot {
        let path = self.0.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("the file's directory");
        }
        std::fs::write(path, contents).expect("the file");
        self
    }

    /// The root's path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Default for FakeRoot {
    fn default() -> FakeRoot {
        FakeRoot::new()
    }
}

impl Drop for FakeRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
