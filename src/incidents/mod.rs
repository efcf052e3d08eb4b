//! Incidents: the two CSV formats, validation with reasons, the compact store and its index.

pub mod decimal;
pub mod duplicates;
mod index;
mod ingest;
pub mod offence;
mod reject;
pub mod schema;
pub mod seen_ids;
pub mod snapshot;
mod store;
pub mod time;

pub use duplicates::{DuplicateReport, DuplicateRule};
pub use index::IncidentIndex;
pub use ingest::{
    default_date_window, ingest_lattice, IngestError, IngestOptions, Ingester, InputFormat,
};
pub use offence::{HarmTable, OffenceGroup, OffenceMap};
pub use reject::{FileReport, IngestReport, RejectReason, Rejection};
pub use schema::{InputSchema, SchemaError};
pub use snapshot::{is_snapshot, read_snapshot, snapshot_incidents, write_snapshot, SnapshotError};
pub use store::{
    IncidentStore, NewIncident, AGE_UNKNOWN, FLAG_CROSS_SOURCE_DUPLICATE, FLAG_MONTH_ONLY,
    FLAG_NO_END, MAX_SOURCES,
};

use std::path::Path;

use crate::boundaries::DistrictIndex;

/// Ingests every file into one store (see [`Ingester`]).
pub fn ingest_files(
    index: &DistrictIndex,
    paths: &[impl AsRef<Path>],
    opts: IngestOptions,
) -> Result<(IncidentStore, IngestReport), IngestError> {
    let mut ing = Ingester::new(index, opts)?;
    for p in paths {
        ing.ingest_path(p.as_ref())?;
    }
    ing.finish()
}
