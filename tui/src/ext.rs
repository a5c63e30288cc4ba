//! Where views that need other crates plug in: the SQL console (`:`) and the per-process
//! Connections and Files views, which read the Parquet tables of the `sql` crate. The
//! binary passes implementations in [`Extensions`]; this crate knows only these traits,
//! so it builds and tests without DataFusion. Without an implementation the keys say
//! plainly that the view is not in this build.

/// A result set: column names and rows of cell text. Cells are raw text from the
/// capture; the interface escapes them when it draws them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Runs SQL over the open capture (a DataFusion `SessionContext` in the `sql` crate).
pub trait SqlConsole: Send {
    /// The query's result, or the error to show in place.
    fn query(&mut self, sql: &str) -> Result<Table, String>;
}

/// Per-process summaries from the same data as the Parquet tables.
pub trait ProcessActivity: Send {
    /// Connections of process `pid` that started at `start_ts` (event clock): peer,
    /// ports, protocol, bytes, first and last time.
    fn connections(&mut self, pid: u32, start_ts: u64) -> Result<Table, String>;
    /// Files process `pid` opened: path, access, count, bytes.
    fn files(&mut self, pid: u32, start_ts: u64) -> Result<Table, String>;
}

/// Optional views, given by the binary.
#[derive(Default)]
pub struct Extensions {
    pub sql: Option<Box<dyn SqlConsole>>,
    pub activity: Option<Box<dyn ProcessActivity>>,
}
