//! Incident snapshots: an ingested store saved to one binary file, so that analyses run
//! many times over the same incidents do not parse, validate and transform the CSV each time.
//!
//! `hotspots ingest --incidents FILE... --out FILE.hsnap` writes one; every command that
//! takes `--incidents` reads it in place of CSV files. It holds exactly what the ingest
//! accepted (EPSG:27700 positions, districts, groups, times, weights, ages, ids, labels) and
//! its accounting, so outputs made from a snapshot equal those made from its CSV files.
//!
//! Layout (version 2), all integers little-endian:
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `HSNAP\0\0\x02` |
//! | 8 | header length H (u64) |
//! | H | header: JSON ([`SnapshotHeader`]), padded with spaces to a multiple of 8 |
//! | … | the columns, each padded with zeros to a multiple of 8 |
//! | 8 | CRC-32 (IEEE) of every byte before it, as a u64 |
//!
//! The columns, in order (element type; `n` = incidents): `x_m` (f64), `y_m` (f64),
//! `district` (u8), `group` (u8), `offence` (u16), `from_min` (i32), `to_min` (i32), `flags`
//! (u8), `harm_given` (f32), `victim_age` (u8), `suspect_age` (u8), `location_type` (u16),
//! `source` (u8), `id_ends` (u32), each `n` long, then `id_bytes` (u8, `id_bytes` of the header long).
//! [`write_snapshot`] and [`read_snapshot`] are the definition; a round-trip test holds them
//! together. Columns are copied as the machine holds them, so both refuse big-endian machines.
//!
//! A snapshot records the fingerprint of the boundary pack it was made with
//! ([`BoundaryPack::fingerprint`]): district numbers mean nothing under another pack, so
//! loading it with a different pack is an error, as is any truncated, corrupted or
//! out-of-range content. Files are written to a temporary name and renamed into place, so a
//! failed write never replaces a good snapshot.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use bytemuck::Pod;
use serde::{Deserialize, Serialize};

use super::offence::OffenceGroup;
use super::reject::IngestReport;
use super::store::{IdArena, IncidentStore, Labels};
use crate::boundaries::BoundaryPack;

/// The first eight bytes of every snapshot (the last byte is the format version).
pub const MAGIC: [u8; 8] = *b"HSNAP\0\0\x02";

/// Largest header accepted, bytes (a header holds labels and per-file counts, not rows).
const MAX_HEADER_BYTES: u64 = 64 << 20;

/// Errors reading or writing a snapshot; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Cannot open, read or write the file.
    #[error("{file}: {source}")]
    Io {
        /// Path.
        file: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Not a snapshot of this version, or damaged.
    #[error("{file}: not a readable incident snapshot: {message}")]
    Format {
        /// Path.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// Made with another boundary pack.
    #[error(
        "{file}: made with boundary pack {made_with} (fingerprint {made_fp:.12}…), but this run \
         uses {used} (fingerprint {used_fp:.12}…); run `hotspots ingest` again with this pack"
    )]
    OtherPack {
        /// Path.
        file: String,
        /// Pack the snapshot was made with.
        made_with: String,
        /// Its fingerprint.
        made_fp: String,
        /// Pack of this run.
        used: String,
        /// Its fingerprint.
        used_fp: String,
    },
}

/// The JSON header of a snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotHeader {
    /// Always `hotspots incident snapshot`.
    pub format: String,
    /// Format version (2: with sources).
    pub version: u32,
    /// The program that wrote it (`hotspots <version>`).
    pub written_by: String,
    /// Boundary pack origin (path or embedded name) at ingest.
    pub boundaries: String,
    /// [`BoundaryPack::fingerprint`] of that pack.
    pub boundaries_fingerprint: String,
    /// District codes in pack order (district column values index this list).
    pub district_codes: Vec<String>,
    /// Number of incidents (rows of every per-incident column).
    pub incidents: u64,
    /// Total bytes of all ids.
    pub id_bytes: u64,
    /// Offence labels, by label id.
    pub offences: Vec<String>,
    /// Location type labels, by label id (id 0 is the empty label).
    pub location_types: Vec<String>,
    /// Source labels, by source id.
    pub sources: Vec<String>,
    /// The ingest's accounting (rows read, accepted, rejected by reason, per-file hashes).
    pub report: IngestReport,
}

/// True when the file starts with the snapshot magic (false when it cannot be read).
pub fn is_snapshot(path: &Path) -> bool {
    let mut head = [0u8; 8];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && head[..5] == MAGIC[..5]
}

/// Writes `store` and its `report` (made with `pack`) to `path`, atomically.
pub fn write_snapshot(
    path: &Path,
    pack: &BoundaryPack,
    store: &IncidentStore,
    report: &IngestReport,
) -> Result<(), SnapshotError> {
    let name = path.display().to_string();
    little_endian(&name)?;
    let io = |source| SnapshotError::Io {
        file: name.clone(),
        source,
    };
    let header = SnapshotHeader {
        format: "hotspots incident snapshot".into(),
        version: MAGIC[7] as u32,
        written_by: format!("hotspots {}", env!("CARGO_PKG_VERSION")),
        boundaries: pack.origin.clone(),
        boundaries_fingerprint: pack.fingerprint(),
        district_codes: pack.districts.iter().map(|d| d.code.clone()).collect(),
        incidents: store.len() as u64,
        id_bytes: store.ids.total_bytes() as u64,
        offences: store.offences.names().to_vec(),
        location_types: store.location_types.names().to_vec(),
        sources: store.sources.names().to_vec(),
        report: report.clone(),
    };
    let mut json = serde_json::to_vec(&header).map_err(|e| SnapshotError::Format {
        file: name.clone(),
        message: e.to_string(),
    })?;
    json.resize(json.len().next_multiple_of(8), b' ');
    // A unique temporary beside the target, renamed over it when whole.
    let file = crate::output::AtomicFile::create(path).map_err(io)?;
    let mut w = CrcWriter {
        inner: BufWriter::with_capacity(1 << 20, file),
        crc: crc32fast::Hasher::new(),
    };
    let groups: Vec<u8> = store.group.iter().map(|&g| g as u8).collect();
    let written = (|| -> std::io::Result<()> {
        w.write_all(&MAGIC)?;
        w.write_all(&(json.len() as u64).to_le_bytes())?;
        w.write_all(&json)?;
        w.column(&store.x_m)?;
        w.column(&store.y_m)?;
        w.column(&store.district)?;
        w.column(&groups)?;
        w.column(&store.offence)?;
        w.column(&store.from_min)?;
        w.column(&store.to_min)?;
        w.column(&store.flags)?;
        w.column(&store.harm_given)?;
        w.column(&store.victim_age)?;
        w.column(&store.suspect_age)?;
        w.column(&store.location_type)?;
        w.column(&store.source)?;
        w.column(store.ids.ends())?;
        w.column(store.ids.bytes())?;
        let crc = w.crc.clone().finalize() as u64;
        w.inner.write_all(&crc.to_le_bytes())?;
        let file = w.inner.into_inner().map_err(|e| e.into_error())?;
        file.commit()
    })();
    // On error the temporary goes with the writer; the old snapshot is untouched.
    written.map_err(io)
}

/// Snapshots are little-endian and columns are copied as the machine holds them.
fn little_endian(file: &str) -> Result<(), SnapshotError> {
    if cfg!(target_endian = "big") {
        return Err(SnapshotError::Format {
            file: file.to_string(),
            message: "snapshots are little-endian and this machine is big-endian".into(),
        });
    }
    Ok(())
}

/// A writer that keeps the CRC of what went through it.
struct CrcWriter<W: Write> {
    inner: W,
    crc: crc32fast::Hasher,
}

impl<W: Write> Write for CrcWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> CrcWriter<W> {
    /// Writes a column's little-endian bytes and pads them to a multiple of 8.
    fn column<T: Pod>(&mut self, values: &[T]) -> std::io::Result<()> {
        let bytes: &[u8] = bytemuck::cast_slice(values);
        self.write_all(bytes)?;
        let pad = bytes.len().next_multiple_of(8) - bytes.len();
        self.write_all(&[0u8; 8][..pad])
    }
}

/// The number of incidents a snapshot file says it holds (its header only; `None` when the
/// file is missing or not a readable snapshot). What an ingest compares a new snapshot
/// with before replacing the file.
pub fn snapshot_incidents(path: &Path) -> Option<u64> {
    let name = path.display().to_string();
    let file = File::open(path).ok()?;
    let file_len = file.metadata().ok()?.len();
    let mut r = SnapshotReader {
        name: &name,
        inner: file,
        crc: crc32fast::Hasher::new(),
        left: file_len,
    };
    read_header(&mut r).ok().map(|h| h.incidents)
}

/// Reads and checks the magic, the header length and the JSON header.
fn read_header(r: &mut SnapshotReader<'_>) -> Result<SnapshotHeader, SnapshotError> {
    let mut magic = [0u8; 8];
    r.fill(&mut magic, "magic")?;
    if magic[..5] != MAGIC[..5] {
        return Err(r.bad("the file does not start with the snapshot magic".into()));
    }
    if magic != MAGIC {
        return Err(r.bad(format!(
            "format version {} (this program reads version {}): make it again with hotspots ingest",
            magic[7], MAGIC[7]
        )));
    }
    let mut len = [0u8; 8];
    r.fill(&mut len, "header length")?;
    let header_len = u64::from_le_bytes(len);
    if header_len > MAX_HEADER_BYTES {
        return Err(r.bad(format!("header length {header_len} bytes is impossible")));
    }
    if header_len > r.left {
        return Err(r.bad("the file ends inside the header".into()));
    }
    let mut json = vec![0u8; header_len as usize];
    r.fill(&mut json, "header")?;
    serde_json::from_slice(&json).map_err(|e| r.bad(format!("header: {e}")))
}

/// Reads a snapshot made with `pack`: the store and the accounting of the ingest that made it.
pub fn read_snapshot(
    path: &Path,
    pack: &BoundaryPack,
) -> Result<(IncidentStore, IngestReport), SnapshotError> {
    let name = path.display().to_string();
    little_endian(&name)?;
    let file = File::open(path).map_err(|source| SnapshotError::Io {
        file: name.clone(),
        source,
    })?;
    let file_len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut r = SnapshotReader {
        name: &name,
        inner: file,
        crc: crc32fast::Hasher::new(),
        left: file_len,
    };
    let h = read_header(&mut r)?;
    let fingerprint = pack.fingerprint();
    if h.boundaries_fingerprint != fingerprint {
        return Err(SnapshotError::OtherPack {
            file: name.clone(),
            made_with: h.boundaries,
            made_fp: h.boundaries_fingerprint,
            used: pack.origin.clone(),
            used_fp: fingerprint,
        });
    }
    // Per-incident columns together take at least 40 bytes a row; anything claiming more rows
    // than the file could hold is damaged (and must not be allocated).
    let n = h.incidents;
    if n.saturating_mul(40).saturating_add(h.id_bytes) > r.left {
        return Err(r.bad(format!(
            "the header promises {n} incidents, more than the file's {file_len} bytes hold"
        )));
    }
    let n = n as usize;
    let mut store = IncidentStore {
        x_m: r.column(n, "x_m")?,
        y_m: r.column(n, "y_m")?,
        district: r.column(n, "district")?,
        ..Default::default()
    };
    let groups: Vec<u8> = r.column(n, "group")?;
    store.offence = r.column(n, "offence")?;
    store.from_min = r.column(n, "from_min")?;
    store.to_min = r.column(n, "to_min")?;
    store.flags = r.column(n, "flags")?;
    store.harm_given = r.column(n, "harm_given")?;
    store.victim_age = r.column(n, "victim_age")?;
    store.suspect_age = r.column(n, "suspect_age")?;
    store.location_type = r.column(n, "location_type")?;
    store.source = r.column(n, "source")?;
    let ends: Vec<u32> = r.column(n, "id_ends")?;
    let id_bytes: Vec<u8> = r.column(h.id_bytes as usize, "id_bytes")?;
    let computed = r.crc.clone().finalize() as u64;
    let mut stored = [0u8; 8];
    r.fill(&mut stored, "checksum")?;
    if u64::from_le_bytes(stored) != computed {
        return Err(r.bad("the checksum does not match: the file is damaged".into()));
    }
    if r.left != 0 {
        return Err(r.bad(format!("{} bytes follow the checksum", r.left)));
    }
    // Values every analysis relies on are checked once here, with the row named.
    let check = |column: &str, bad: Option<usize>, what: &str| match bad {
        Some(row) => Err(SnapshotError::Format {
            file: name.clone(),
            message: format!("column {column}, incident {row}: {what}"),
        }),
        None => Ok(()),
    };
    let districts = pack.districts.len();
    check(
        "district",
        store.district.iter().position(|&d| d as usize >= districts),
        "not a district of the pack",
    )?;
    check(
        "group",
        groups
            .iter()
            .position(|&g| g as usize >= OffenceGroup::ALL.len()),
        "not an offence group",
    )?;
    check(
        "offence",
        store
            .offence
            .iter()
            .position(|&o| o as usize >= h.offences.len()),
        "not an offence label",
    )?;
    check(
        "location_type",
        store
            .location_type
            .iter()
            .position(|&o| o as usize >= h.location_types.len().max(1)),
        "not a location type label",
    )?;
    check(
        "source",
        store
            .source
            .iter()
            .position(|&o| o as usize >= h.sources.len()),
        "not a source label",
    )?;
    check(
        "x_m/y_m",
        (0..n).find(|&i| !(store.x_m[i].is_finite() && store.y_m[i].is_finite())),
        "position is not a finite number",
    )?;
    check(
        "to_min",
        (0..n).find(|&i| store.to_min[i] < store.from_min[i]),
        "ends before it starts",
    )?;
    let mut previous = 0u32;
    check(
        "id_ends",
        ends.iter().position(|&e| {
            let bad = e < previous || e as u64 > h.id_bytes;
            previous = e;
            bad
        }),
        "id offsets are not increasing within the id bytes",
    )?;
    if ends.last().map_or(0, |&e| e as u64) != h.id_bytes {
        return Err(r.bad("the ids do not use exactly the id bytes".into()));
    }
    store.group = groups.into_iter().map(OffenceGroup::from_u8).collect();
    store.ids = IdArena::from_parts(id_bytes, ends);
    store.offences = Labels::from_names(h.offences);
    store.sources = Labels::from_names(h.sources);
    store.location_types = Labels::from_names(if h.location_types.is_empty() {
        vec![String::new()]
    } else {
        h.location_types
    });
    let report = h.report;
    if report.accepted != n as u64 || !report.balances() {
        return Err(r.bad(format!(
            "the accounting ({} read, {} accepted, {} rejected) does not match {n} incidents",
            report.rows_read, report.accepted, report.rejected
        )));
    }
    Ok((store, report))
}

/// Reads a snapshot's parts in order, keeping the CRC and the bytes left.
struct SnapshotReader<'a> {
    name: &'a str,
    inner: File,
    crc: crc32fast::Hasher,
    left: u64,
}

impl SnapshotReader<'_> {
    fn bad(&self, message: String) -> SnapshotError {
        SnapshotError::Format {
            file: self.name.to_string(),
            message,
        }
    }

    /// Fills `buf` from the file, or says which part was cut short.
    fn fill(&mut self, buf: &mut [u8], part: &str) -> Result<(), SnapshotError> {
        if (buf.len() as u64) > self.left {
            return Err(self.bad(format!("the file ends inside the {part}")));
        }
        self.inner
            .read_exact(buf)
            .map_err(|source| SnapshotError::Io {
                file: self.name.to_string(),
                source,
            })?;
        self.left -= buf.len() as u64;
        self.crc.update(buf);
        Ok(())
    }

    /// Reads `n` values of a column straight into a vector, then its padding.
    fn column<T: Pod>(&mut self, n: usize, name: &str) -> Result<Vec<T>, SnapshotError> {
        let bytes = n.saturating_mul(size_of::<T>());
        if bytes as u64 > self.left {
            return Err(self.bad(format!("the file ends inside column {name}")));
        }
        let mut values = vec![T::zeroed(); n];
        self.fill(bytemuck::cast_slice_mut(&mut values), name)?;
        let mut pad = [0u8; 8];
        let pad_len = bytes.next_multiple_of(8) - bytes;
        self.fill(&mut pad[..pad_len], name)?;
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boundaries::DistrictIndex;
    use crate::incidents::{IngestOptions, Ingester};

    fn ingested() -> (BoundaryPack, IncidentStore, IngestReport) {
        let pack = BoundaryPack::kent_medway().unwrap();
        let index = DistrictIndex::new(&pack);
        let mut ing = Ingester::new(&index, IngestOptions::default()).unwrap();
        let csv = "id,offence,occurred_from,occurred_to,longitude,latitude,harm_weight,victim_age,suspect_age,location_type\n\
                   A1,Wounding with intent,2024-03-31T00:30:00,2024-03-31T03:10:00,1.0830,51.2798,,17,19,street\n\
                   A2,Robbery of personal property,2024-07-01T18:05:00+01:00,,0.5210,51.2720,365.5,,,\n\
                   A2,Robbery of personal property,2024-07-01T18:05:00+01:00,,0.5210,51.2720,,,,\n\
                   A3,Possession of a knife,2024-11-05T23:59:00,,0.8720,51.1450,,30,,park\n\
                   A4,Assault,not a date,,0.8720,51.1450,,,,\n";
        ing.ingest_bytes("t.csv", csv.as_bytes()).unwrap();
        let (store, report) = ing.finish().unwrap();
        (pack, store, report)
    }

    /// The ingested test rows written to `s.hsnap` in a fresh directory (kept alive by the
    /// returned guard).
    fn written() -> (
        tempfile::TempDir,
        std::path::PathBuf,
        BoundaryPack,
        IncidentStore,
        IngestReport,
    ) {
        let (pack, store, report) = ingested();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.hsnap");
        write_snapshot(&path, &pack, &store, &report).unwrap();
        (dir, path, pack, store, report)
    }

    fn assert_same(a: &IncidentStore, b: &IncidentStore) {
        assert_eq!(a.len(), b.len());
        assert_eq!(a.x_m, b.x_m);
        assert_eq!(a.y_m, b.y_m);
        assert_eq!(a.district, b.district);
        assert_eq!(a.group, b.group);
        assert_eq!(a.offence, b.offence);
        assert_eq!(a.from_min, b.from_min);
        assert_eq!(a.to_min, b.to_min);
        assert_eq!(a.flags, b.flags);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.harm_given), bits(&b.harm_given));
        assert_eq!(a.victim_age, b.victim_age);
        assert_eq!(a.suspect_age, b.suspect_age);
        assert_eq!(a.location_type, b.location_type);
        for i in 0..a.len() {
            assert_eq!(a.ids.get(i), b.ids.get(i));
            assert_eq!(a.offences.name(a.offence[i]), b.offences.name(b.offence[i]));
            assert_eq!(
                a.location_types.name(a.location_type[i]),
                b.location_types.name(b.location_type[i])
            );
        }
    }

    #[test]
    fn round_trips_every_column_and_the_accounting() {
        let (dir, path, pack, store, report) = written();
        assert_eq!((report.accepted, report.rejected), (3, 2));
        assert!(is_snapshot(&path));
        assert_eq!(
            std::fs::read_dir(dir.path())
                .unwrap()
                .filter(|e| e
                    .as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".part"))
                .count(),
            0,
            "no temporary left"
        );
        let (back, rep) = read_snapshot(&path, &pack).unwrap();
        assert_same(&store, &back);
        assert_eq!(snapshot_incidents(&path), Some(store.len() as u64));
        assert_eq!(snapshot_incidents(&dir.path().join("none.hsnap")), None);
        assert_eq!(rep.rows_read, 5);
        assert_eq!(rep.rejected_by_reason, report.rejected_by_reason);
        assert_eq!(rep.files[0].sha256, report.files[0].sha256);
        // Labels looked up after loading intern to the same ids.
        let mut labels = back.offences.clone();
        assert_eq!(labels.intern(store.offences.name(0)), 0);
    }

    #[test]
    fn every_damaged_byte_or_cut_is_an_error_naming_the_file() {
        let (dir, path, pack, ..) = written();
        let good = std::fs::read(&path).unwrap();
        let bad_path = dir.path().join("bad.hsnap");
        // Flip one bit at every position: each is caught (magic, header, column, checksum).
        for pos in 0..good.len() {
            let mut b = good.clone();
            b[pos] ^= 0x10;
            std::fs::write(&bad_path, &b).unwrap();
            let e = read_snapshot(&bad_path, &pack).expect_err(&format!("byte {pos}"));
            assert!(e.to_string().contains("bad.hsnap"), "{e}");
        }
        for cut in [0, 7, 12, good.len() / 2, good.len() - 1] {
            std::fs::write(&bad_path, &good[..cut]).unwrap();
            let e = read_snapshot(&bad_path, &pack).unwrap_err().to_string();
            assert!(e.contains("bad.hsnap") && e.contains("ends inside"), "{e}");
        }
        let mut longer = good.clone();
        longer.extend_from_slice(b"x");
        std::fs::write(&bad_path, &longer).unwrap();
        assert!(read_snapshot(&bad_path, &pack).is_err());
    }

    #[test]
    fn another_pack_is_refused() {
        let (_dir, path, pack, ..) = written();
        let mut other = pack.clone();
        other.districts.pop();
        let e = read_snapshot(&path, &other).unwrap_err().to_string();
        assert!(e.contains("made with boundary pack"), "{e}");
    }
}
