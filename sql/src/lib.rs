//! casefile's tables: what a capture says, shaped for SQL. The same rows feed two ends:
//! [`export`] writes them as Parquet any engine reads (DuckDB, Spark, Trino, Athena), and
//! [`provider`] answers SQL with DataFusion straight over capture files, or over an
//! export. Both build their rows with [`build`], which reads each event through the
//! replay's state engine (the context the rules see), so export, direct queries and
//! alerts agree. The tables are specified in `docs/TABLES.md`.

pub mod args;
pub mod build;
pub mod classify;
pub mod error;
pub mod events;
pub mod export;
pub mod provider;
pub mod schema;
pub mod summary;

pub use error::SqlError;
pub use schema::Table;
